// Worker process of the projection crash test (sqlite.test.mjs): opens the SQLite file the suite
// names and runs the crash scenario's projection until it is killed or stopped.
import { runProjectionCrashWorker } from '@pup/core/conformance';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

const file = process.env.PUP_CRASH_SQLITE_FILE;
if (!file) throw new Error('PUP_CRASH_SQLITE_FILE is not set');
const db = new Database(file);
const store = createSqliteEventStore(db);
await runProjectionCrashWorker(store);
await store.close();
db.close();
