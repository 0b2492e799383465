// docs/adapters.md, "Transaction handles": a transaction you open yourself with `pg`.
import { ExpectedVersion } from '@pup/core';
import { createPgEventStore } from '@pup/postgres';
import pg from 'pg';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const store = createPgEventStore<BankEvent, pg.Pool>(pool);
await store.migrate();
await pool.query('CREATE TABLE IF NOT EXISTS accounts (id text PRIMARY KEY, owner text NOT NULL)');

// #region own-transaction
const client = await pool.connect();
try {
  await client.query('BEGIN');
  await client.query('INSERT INTO accounts (id, owner) VALUES ($1, $2)', ['dave', 'Dave']);
  await store.append(client, ExpectedVersion.noStream(), [
    { ...account('dave'), eventType: 'AccountOpened', payload: { owner: 'Dave' } },
  ]);
  await client.query('COMMIT');
} catch (error) {
  await client.query('ROLLBACK');
  throw error;
} finally {
  client.release();
}
// #endregion own-transaction

const dave = await store.transaction((tx) => store.readAggregateStream(tx, account('dave')));
expectEqual(dave.version, 1, 'version of dave');
await store.close();
await pool.end();
