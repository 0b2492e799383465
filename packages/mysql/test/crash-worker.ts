// Worker of the crash test: runs the scenario's projection on the MySQL tables it is given.
import { runProjectionCrashWorker } from '@pup/core/conformance';
import mysql from 'mysql2/promise';
import { createMysqlEventStore } from '../src/index.js';

const url = process.env.PUP_CRASH_MYSQL_URL;
const tables = process.env.PUP_CRASH_MYSQL_TABLES;
if (!url || !tables) throw new Error('PUP_CRASH_MYSQL_URL and PUP_CRASH_MYSQL_TABLES must be set');

const pool = mysql.createPool({ uri: url, connectionLimit: 4 });
const store = createMysqlEventStore(pool, { tables: JSON.parse(tables) });
await runProjectionCrashWorker(store);
await store.close();
await pool.end();
