// docs/getting-started.md, step 8: the same store on PostgreSQL with node-postgres (`pg`). Run by
// the docs package's test with DATABASE_URL naming a scratch schema of PUP_TEST_POSTGRES_URL's
// server.

// #region open
import { createPgEventStore } from '@pup/postgres';
import pg from 'pg';
import type { BankEvent } from './events.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const store = createPgEventStore<BankEvent, pg.Pool>(pool);
await store.migrate();

// #endregion open

import {
  ExpectedVersion,
  type Projection,
  ProjectionProcessor,
  waitForProjection,
} from '@pup/core';
import { account } from './events.js';

// #region projection
await pool.query(`CREATE TABLE IF NOT EXISTS balances (
  account text PRIMARY KEY,
  balance bigint NOT NULL
)`);

const balances: Projection<pg.PoolClient, BankEvent> = {
  name: 'balances',
  aggregateTypes: ['Account'],
  async handle(event, { tx }) {
    // `tx` is the batch's pg.PoolClient, inside its transaction.
    let change = 0;
    if (event.eventType === 'MoneyDeposited') change = event.payload.amount;
    if (event.eventType === 'MoneyWithdrawn') change = -event.payload.amount;
    await tx.query(
      `INSERT INTO balances AS b (account, balance) VALUES ($1, $2)
       ON CONFLICT (account) DO UPDATE SET balance = b.balance + excluded.balance`,
      [event.aggregateId, change],
    );
  },
};
// #endregion projection

const controller = new AbortController();
const running = new ProjectionProcessor(store).run(balances, { signal: controller.signal });
await store.appendToStream(ExpectedVersion.noStream(), [
  { ...account('alice'), eventType: 'AccountOpened', payload: { owner: 'Alice' } },
  { ...account('alice'), eventType: 'MoneyDeposited', payload: { amount: 100 } },
]);
const last = await store.appendToStream(ExpectedVersion.exact(2), [
  { ...account('alice'), eventType: 'MoneyWithdrawn', payload: { amount: 30 } },
]);
await waitForProjection(store, balances, last, { timeoutMs: 10_000 });
const { rows } = await pool.query('SELECT account, balance::int AS balance FROM balances');
console.log(rows);
expectEqual(rows, [{ account: 'alice', balance: 70 }], 'balances');

// #region close
controller.abort();
await running;
await store.close(); // releases the store's own LISTEN connection, never your pool
await pool.end();

// #endregion close

// Imported last, so that no excerpt above shows it (imports are hoisted).
import { expectEqual } from './events.js';
