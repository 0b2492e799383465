// Worker of the crash test: runs the scenario's projection on the PostgreSQL schema it is given.
import { runProjectionCrashWorker } from '@pup/core/conformance';
import pg from 'pg';
import { createPgEventStore } from '../src/index.js';

const url = process.env.PUP_CRASH_PG_URL;
const schema = process.env.PUP_CRASH_PG_SCHEMA;
if (!url || !schema) throw new Error('PUP_CRASH_PG_URL and PUP_CRASH_PG_SCHEMA must be set');
const pool = new pg.Pool({ connectionString: url, max: 4 });
const store = createPgEventStore(pool, {
  tables: {
    events: `${schema}.events`,
    aggregateHeads: `${schema}.aggregate_heads`,
    checkpoints: `${schema}.projection_checkpoints`,
  },
});
await runProjectionCrashWorker(store);
await store.close();
await pool.end();
