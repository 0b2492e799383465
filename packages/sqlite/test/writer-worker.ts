// Writer process of the fault tests: appends to the SQLite file it is given until it is killed.
import Database from 'better-sqlite3';
import { runWriterWorker } from '../../core/test/support/writer-kill.js';
import { createSqliteEventStore } from '../src/index.js';

const file = process.env.PUP_WRITER_SQLITE_FILE;
if (!file) throw new Error('PUP_WRITER_SQLITE_FILE is not set');
await runWriterWorker(createSqliteEventStore(new Database(file)));
