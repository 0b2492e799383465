// docs/concepts.md, "Transactions": your own SQL in the append's transaction, nested
// transactions as savepoints, and deadlines. Runs on SQLite in memory.
import { ExpectedVersion, OperationAbortedError } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';

const db = new Database(':memory:');
const store = createSqliteEventStore<BankEvent, Database.Database>(db);
await store.migrate();
db.exec('CREATE TABLE outbox (topic TEXT NOT NULL, body TEXT NOT NULL)');

// #region own-sql
// The append and the outbox row commit together, or neither does.
await store.transaction(async (tx) => {
  const result = await store.append(tx, ExpectedVersion.noStream(), [
    { ...account('carol'), eventType: 'AccountOpened', payload: { owner: 'Carol' } },
  ]);
  tx.prepare('INSERT INTO outbox (topic, body) VALUES (?, ?)').run(
    'account-opened',
    JSON.stringify({ accountId: 'carol', position: result.globalPositions[0] }),
  );
});
// #endregion own-sql

// #region nested
await store.transaction(async (tx) => {
  await store.append(tx, ExpectedVersion.exact(1), [
    { ...account('carol'), eventType: 'MoneyDeposited', payload: { amount: 50 } },
  ]);
  try {
    // A savepoint of the outer transaction: its failure undoes only its own work.
    await store.transaction(async (inner) => {
      await store.append(inner, ExpectedVersion.exact(2), [
        { ...account('carol'), eventType: 'MoneyWithdrawn', payload: { amount: 80 } },
      ]);
      throw new Error('limit exceeded'); // rolls back the withdrawal only
    });
  } catch {
    // The deposit is still part of the outer transaction, which commits.
  }
});
// #endregion nested

const carol = await store.transaction((tx) => store.readAggregateStream(tx, account('carol')));
expectEqual(
  carol.events.map((event) => event.eventType),
  ['AccountOpened', 'MoneyDeposited'],
  'carol after the nested transaction',
);
expectEqual(db.prepare('SELECT COUNT(*) AS n FROM outbox').get(), { n: 1 }, 'outbox rows');

let gaveUp = false;
// #region deadline
try {
  await store.transaction(
    async (tx) => {
      await new Promise((resolve) => setTimeout(resolve, 200)); // slow work inside the transaction
      return store.readAggregateStream(tx, account('carol'));
    },
    { timeoutMs: 50 },
  );
} catch (error) {
  if (!(error instanceof OperationAbortedError)) throw error;
  console.log(error.timedOut, error.commitUnknown); // true false: rolled back
  gaveUp = true;
}
// #endregion deadline
if (!gaveUp) throw new Error('the transaction did not time out');

await store.close();
db.close();
