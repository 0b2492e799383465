// Worker of the crash test: runs the scenario's projection on the PostgreSQL tables it is given,
// through `pg` or postgres.js (PUP_CRASH_PG_DRIVER).
import { runProjectionCrashWorker } from '@pup/core/conformance';
import pg from 'pg';
import postgres from 'postgres';
import { createPgEventStore, createPostgresJsEventStore } from '../src/index.js';

const url = process.env.PUP_CRASH_PG_URL;
const schema = process.env.PUP_CRASH_PG_SCHEMA;
if (!url || !schema) throw new Error('PUP_CRASH_PG_URL and PUP_CRASH_PG_SCHEMA must be set');
const tables = process.env.PUP_CRASH_PG_TABLES
  ? JSON.parse(process.env.PUP_CRASH_PG_TABLES)
  : {
      events: `${schema}.events`,
      aggregateHeads: `${schema}.aggregate_heads`,
      checkpoints: `${schema}.projection_checkpoints`,
    };

if (process.env.PUP_CRASH_PG_DRIVER === 'postgres.js') {
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  const store = createPostgresJsEventStore(sql, { tables });
  await runProjectionCrashWorker(store);
  await store.close();
  await sql.end({ timeout: 5 });
} else {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const store = createPgEventStore(pool, { tables });
  await runProjectionCrashWorker(store);
  await store.close();
  await pool.end();
}
