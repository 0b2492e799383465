// pup quick start: an embedded SQLite event store, one aggregate stream read back, and a small
// read model caught up from the log with a saved checkpoint. Run: `npx -y pnpm@10.34.8 quickstart`.
import { ExpectedVersion, type PersistedEvent } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

type AccountEvent =
  | { type: 'AccountOpened'; owner: string }
  | { type: 'MoneyDeposited'; amount: number }
  | { type: 'MoneyWithdrawn'; amount: number };

// 1. Open the store. `:memory:` keeps nothing; pass a file name to keep the log between runs.
const db = new Database(process.env.QUICKSTART_DB ?? ':memory:');
const store = createSqliteEventStore(db);
await store.migrate();

// 2. Append events: each call writes to one stream, atomically, with an expected version.
const account = (aggregateId: string) => ({
  boundedContext: 'banking',
  aggregateType: 'Account',
  aggregateId,
});
const event = (aggregateId: string, payload: AccountEvent) => ({
  ...account(aggregateId),
  eventType: payload.type,
  payload,
});

await store.transaction(async (tx) => {
  await store.append(tx, ExpectedVersion.noStream(), [
    event('alice', { type: 'AccountOpened', owner: 'Alice' }),
    event('alice', { type: 'MoneyDeposited', amount: 100 }),
  ]);
  await store.append(tx, ExpectedVersion.noStream(), [
    event('bob', { type: 'AccountOpened', owner: 'Bob' }),
    event('bob', { type: 'MoneyDeposited', amount: 40 }),
  ]);
});

// 3. Rebuild an aggregate from its stream, then append with optimistic concurrency.
const alice = await store.transaction((tx) => store.readAggregateStream(tx, account('alice')));
const balance = alice.events.reduce((sum, e) => sum + amountOf(e), 0);
console.log(`alice: ${alice.events.length} events, version ${alice.version}, balance ${balance}`);

const withdrawal = await store.transaction((tx) =>
  store.append(tx, ExpectedVersion.exact(alice.version), [
    event('alice', { type: 'MoneyWithdrawn', amount: 30 }),
  ]),
);
console.log(`alice: withdrawal stored at version ${withdrawal.toVersion}`);

// 4. Catch a read model up from the log. The balances and the checkpoint are written in the same
//    transaction, so a crash can never apply an event twice or skip one.
db.exec('CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, amount INTEGER NOT NULL)');
const upsertBalance = db.prepare(
  `INSERT INTO balances (account, amount) VALUES (?, ?)
   ON CONFLICT (account) DO UPDATE SET amount = amount + excluded.amount`,
);

let applied = 0;
for (;;) {
  const handled = await store.transaction(async (tx) => {
    const after = await store.getCheckpoint(tx, 'balances');
    const page = await store.readEvents(tx, { after, limit: 2 });
    for (const e of page) upsertBalance.run(e.aggregateId, amountOf(e));
    const last = page.at(-1);
    if (last) await store.saveCheckpoint(tx, 'balances', last.checkpoint);
    return page.length;
  });
  if (handled === 0) break;
  applied += handled;
}
console.log(`read model: applied ${applied} events`);
for (const row of db.prepare('SELECT account, amount FROM balances ORDER BY account').all()) {
  console.log(`  ${JSON.stringify(row)}`);
}

await store.close();
db.close();

function amountOf(e: PersistedEvent): number {
  const payload = e.payload as AccountEvent;
  if (payload.type === 'MoneyDeposited') return payload.amount;
  if (payload.type === 'MoneyWithdrawn') return -payload.amount;
  return 0;
}
