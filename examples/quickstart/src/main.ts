import { ExpectedVersion, type PersistedEvent } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

// An embedded SQLite event store: ':memory:' keeps nothing, a file name keeps the log.
const db = new Database(process.env.QUICKSTART_DB ?? ':memory:');
const store = createSqliteEventStore(db);
await store.migrate();

const account = (aggregateId: string) => ({
  boundedContext: 'banking',
  aggregateType: 'Account',
  aggregateId,
});
const amountOf = (e: PersistedEvent) =>
  (e.eventType === 'MoneyWithdrawn' ? -1 : 1) * ((e.payload as { amount?: number }).amount ?? 0);

// 1. Append: each call writes to one stream, atomically, checking the expected version.
await store.transaction(async (tx) => {
  for (const [id, amount] of [
    ['alice', 100],
    ['bob', 40],
  ] as const) {
    await store.append(tx, ExpectedVersion.noStream(), [
      { ...account(id), eventType: 'AccountOpened', payload: { owner: id } },
      { ...account(id), eventType: 'MoneyDeposited', payload: { amount } },
    ]);
  }
});

// 2. Rebuild an aggregate from its stream, then append only if nobody wrote in between.
const alice = await store.transaction((tx) => store.readAggregateStream(tx, account('alice')));
const balance = alice.events.reduce((sum, e) => sum + amountOf(e), 0);
console.log(`alice: version ${alice.version}, balance ${balance}`);
const withdrawal = await store.transaction((tx) =>
  store.append(tx, ExpectedVersion.exact(alice.version), [
    { ...account('alice'), eventType: 'MoneyWithdrawn', payload: { amount: 30 } },
  ]),
);
console.log(`alice: withdrawal stored as version ${withdrawal.toVersion}`);

// 3. Catch a read model up from the log. `tx` is the better-sqlite3 Database, so the balances
//    and the checkpoint commit together: no event is ever applied twice or skipped.
db.exec('CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, amount INTEGER)');
let applied = 0;
for (;;) {
  const page = await store.transaction(async (tx) => {
    const after = await store.getCheckpoint(tx, 'balances');
    const events = await store.readEvents(tx, { after, limit: 2 });
    const upsert = tx.prepare(
      `INSERT INTO balances VALUES (?, ?)
       ON CONFLICT (account) DO UPDATE SET amount = amount + excluded.amount`,
    );
    for (const e of events) upsert.run(e.aggregateId, amountOf(e));
    const last = events.at(-1);
    if (last) await store.saveCheckpoint(tx, 'balances', last.checkpoint);
    return events;
  });
  if (page.length === 0) break;
  applied += page.length;
}
console.log(`read model: applied ${applied} events`, db.prepare('SELECT * FROM balances').all());

await store.close();
db.close();
