// docs/getting-started.md, steps 3 to 7: an event store on embedded SQLite. Run by the docs
// package's test (`tsx src/getting-started/sqlite.ts`); it throws when a result is not the one the
// guide shows.

// #region open
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import type { BankEvent } from './events.js';

const db = new Database(':memory:'); // or a file name, such as 'bank.db', to keep the log
const store = createSqliteEventStore<BankEvent, Database.Database>(db);
await store.migrate(); // creates the tables when they are missing; safe on every start

// #endregion open

// #region append
import { ExpectedVersion } from '@pup/core';
import { account } from './events.js';

await store.transaction(async (tx) => {
  await store.append(tx, ExpectedVersion.noStream(), [
    { ...account('alice'), eventType: 'AccountOpened', payload: { owner: 'Alice' } },
    { ...account('alice'), eventType: 'MoneyDeposited', payload: { amount: 100 } },
  ]);
});

// #endregion append

// #region conflict
import { OptimisticConcurrencyError } from '@pup/core';

let refused = false;
try {
  // The same stream again, still expecting it not to exist: refused, nothing written.
  await store.appendToStream(ExpectedVersion.noStream(), [
    { ...account('alice'), eventType: 'AccountOpened', payload: { owner: 'Mallory' } },
  ]);
} catch (error) {
  if (!(error instanceof OptimisticConcurrencyError)) throw error;
  console.log(`refused: the stream is at version ${error.actualVersion}`); // … at version 2
  refused = true;
}
// #endregion conflict
if (!refused) throw new Error('the second noStream() append was not refused');

// #region read
const alice = await store.transaction((tx) => store.readAggregateStream(tx, account('alice')));
console.log(alice.version); // 2
console.log(alice.events.map((event) => event.eventType)); // [ 'AccountOpened', 'MoneyDeposited' ]
// #endregion read
expectEqual(alice.version, 2, 'version of alice');

// #region command
import { handleCommand } from '@pup/core';
import { withdrawals } from './events.js';

const withdrawal = await handleCommand(
  store,
  { ...withdrawals, stream: (command) => account(command.accountId) },
  { accountId: 'alice', amount: 30 },
);
console.log(withdrawal.version, withdrawal.state); // 3 { balance: 70 }
// #endregion command
expectEqual([withdrawal.version, withdrawal.state], [3, { balance: 70 }], 'withdrawal');

// #region projection
import type { Projection } from '@pup/core';

db.exec(`CREATE TABLE IF NOT EXISTS balances (
  account TEXT PRIMARY KEY,
  balance INTEGER NOT NULL
)`);

const balances: Projection<Database.Database, BankEvent> = {
  name: 'balances', // the key of its checkpoint: keep it stable
  aggregateTypes: ['Account'],
  handle(event, { tx }) {
    // `tx` is the batch's transaction (here the better-sqlite3 Database): this write commits
    // together with the projection's checkpoint, so each event counts exactly once.
    let change = 0;
    if (event.eventType === 'MoneyDeposited') change = event.payload.amount;
    if (event.eventType === 'MoneyWithdrawn') change = -event.payload.amount;
    tx.prepare(
      `INSERT INTO balances (account, balance) VALUES (?, ?)
       ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance`,
    ).run(event.aggregateId, change);
  },
};

// #endregion projection

// #region run
import { ProjectionProcessor, waitForProjection } from '@pup/core';

const controller = new AbortController();
const running = new ProjectionProcessor(store).run(balances, { signal: controller.signal });
// In a service, stop on shutdown: process.once('SIGTERM', () => controller.abort());

const deposit = await store.appendToStream(ExpectedVersion.exact(3), [
  { ...account('alice'), eventType: 'MoneyDeposited', payload: { amount: 5 } },
]);
// Resolves once the projection has committed past that append.
await waitForProjection(store, balances, deposit, { timeoutMs: 5_000 });
const rows = db.prepare('SELECT account, balance FROM balances').all();
console.log(rows); // [ { account: 'alice', balance: 75 } ]

controller.abort(); // run() resolves once the batch in flight is rolled back or committed
await running;
await store.close(); // never closes your Database: that is yours
db.close();
// #endregion run

expectEqual(rows, [{ account: 'alice', balance: 75 }], 'balances');

// Imported last, so that no excerpt above shows it (imports are hoisted).
import { expectEqual } from './events.js';
