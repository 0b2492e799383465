// Worker of the crash test: runs the scenario's projection on the SQLite file it is given.
import { runProjectionCrashWorker } from '@pup/core/conformance';
import Database from 'better-sqlite3';
import { createSqliteEventStore } from '../src/index.js';

const file = process.env.PUP_CRASH_SQLITE_FILE;
if (!file) throw new Error('PUP_CRASH_SQLITE_FILE is not set');
const tables = JSON.parse(process.env.PUP_CRASH_SQLITE_TABLES ?? '{}');
const db = new Database(file);
const store = createSqliteEventStore(db, { tables });
await runProjectionCrashWorker(store);
await store.close();
db.close();
