// Writer process of the fault tests: appends to the MySQL / MariaDB tables it is given until it
// is killed.
import mysql from 'mysql2/promise';
import { runWriterWorker } from '../../core/test/support/writer-kill.js';
import { createMysqlEventStore } from '../src/index.js';

const url = process.env.PUP_WRITER_MYSQL_URL;
const tables = process.env.PUP_WRITER_MYSQL_TABLES;
if (!url || !tables)
  throw new Error('PUP_WRITER_MYSQL_URL and PUP_WRITER_MYSQL_TABLES must be set');
const pool = mysql.createPool({ uri: url, connectionLimit: 4 });
await runWriterWorker(createMysqlEventStore(pool as never, { tables: JSON.parse(tables) }));
