// docs/operations.md, "PostgreSQL: held-back readers": a transaction left open holds every reader
// back; getLogStatus says which one. Runs on PostgreSQL (DATABASE_URL).
import { ExpectedVersion } from '@pup/core';
import { createPgEventStore } from '@pup/postgres';
import pg from 'pg';
import { account, type BankEvent } from '../getting-started/events.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const store = createPgEventStore<BankEvent, pg.Pool>(pool);
await store.migrate();
const readAll = () => store.transaction((tx) => store.readEvents(tx, { after: null, limit: 10 }));

// Someone opens a transaction that gets a transaction id, and leaves it open.
const forgotten = await pool.connect();
await forgotten.query('BEGIN');
await forgotten.query("SET LOCAL application_name = 'forgotten-report'");
await forgotten.query('SELECT pg_current_xact_id()'); // any write does this too
const { rows } = await forgotten.query('SELECT pg_backend_pid() AS pid');

// An append committed after it started is not readable while it runs.
await store.appendToStream(ExpectedVersion.noStream(), [
  { ...account('jo'), eventType: 'AccountOpened', payload: { owner: 'Jo' } },
]);
if ((await readAll()).length !== 0) throw new Error('the event was readable');

// #region hold-back
const status = await store.transaction((tx) => store.getLogStatus(tx));
const oldest = status.oldestRunningTransaction; // null when no transaction holds readers back
if (oldest !== null) {
  console.log(
    `${status.eventsAfter} committed events; readers wait for transaction ${oldest.transactionId}` +
      ` (pid ${oldest.pid}, ${oldest.state}, ${oldest.applicationName}, ${oldest.ageMs} ms old)`,
  );
}
// #endregion hold-back
if (oldest === null || (oldest.pid !== rows[0].pid && oldest.ageMs === null)) {
  throw new Error(`expected the forgotten transaction, got ${JSON.stringify(oldest)}`);
}

await forgotten.query('ROLLBACK');
forgotten.release();
// Other transactions on the server (other tests) may still be running: wait for them.
const deadline = Date.now() + 20_000;
while ((await readAll()).length === 0) {
  if (Date.now() > deadline) throw new Error('the event did not become readable');
  await new Promise((resolve) => setTimeout(resolve, 50));
}
await store.close();
await pool.end();
