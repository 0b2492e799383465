// docs/getting-started.md, step 9: the same store on MySQL or MariaDB. Run by the docs package's
// test with DATABASE_URL naming a scratch database of PUP_TEST_MYSQL_URL's server.

// #region open
import { createMysqlEventStore } from '@pup/mysql';
import mysql from 'mysql2/promise';
import type { BankEvent } from './events.js';

const pool = mysql.createPool(process.env.DATABASE_URL!); // mysql://user:password@host/database
const store = createMysqlEventStore<BankEvent>(pool);
await store.migrate(); // also refuses a server without SKIP LOCKED (MysqlServerVersionError)

// #endregion open

import {
  ExpectedVersion,
  type Projection,
  ProjectionProcessor,
  waitForProjection,
} from '@pup/core';
import type { PoolConnection } from 'mysql2/promise';
import { account } from './events.js';

// #region projection
await pool.query(`CREATE TABLE IF NOT EXISTS balances (
  account VARCHAR(255) PRIMARY KEY,
  balance BIGINT NOT NULL
)`);

const balances: Projection<PoolConnection, BankEvent> = {
  name: 'balances',
  aggregateTypes: ['Account'],
  async handle(event, { tx }) {
    // `tx` is the batch's mysql2 PoolConnection, inside its transaction.
    let change = 0;
    if (event.eventType === 'MoneyDeposited') change = event.payload.amount;
    if (event.eventType === 'MoneyWithdrawn') change = -event.payload.amount;
    await tx.query(
      `INSERT INTO balances (account, balance) VALUES (?, ?)
       ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance)`,
      [event.aggregateId, change],
    );
  },
};
// #endregion projection

const controller = new AbortController();
const running = new ProjectionProcessor(store).run(balances, { signal: controller.signal });
const first = await store.appendToStream(ExpectedVersion.noStream(), [
  { ...account('alice'), eventType: 'AccountOpened', payload: { owner: 'Alice' } },
  { ...account('alice'), eventType: 'MoneyDeposited', payload: { amount: 100 } },
]);
const last = await store.appendToStream(ExpectedVersion.exact(2), [
  { ...account('alice'), eventType: 'MoneyWithdrawn', payload: { amount: 30 } },
]);
await waitForProjection(store, balances, last, { timeoutMs: 10_000 });
const [rows] = await pool.query('SELECT account, CAST(balance AS SIGNED) AS balance FROM balances');
console.log(rows);
expectEqual(rows, [{ account: 'alice', balance: 70 }], 'balances');
// #region positions
// Positions are unique and increasing, never dense: two transactions, two blocks of positions.
console.log(first.globalPositions, last.globalPositions); // e.g. [ 16384, 16385 ] [ 32768 ]
// #endregion positions
if (last.globalPositions[0]! - first.globalPositions[1]! < 2) {
  throw new Error('expected the second transaction in another position block');
}

controller.abort();
await running;
await store.close();
await pool.end();

// Imported last, so that no excerpt above shows it (imports are hoisted).
import { expectEqual } from './events.js';
