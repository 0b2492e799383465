import { type Decider, type DomainEvent, ExpectedVersion, handleCommand } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

// The events of a bank account: each event type with the shape of its payload.
type BankEvent =
  | DomainEvent<'AccountOpened', { owner: string }>
  | DomainEvent<'MoneyDeposited', { amount: number }>
  | DomainEvent<'MoneyWithdrawn', { amount: number }>;

// An embedded SQLite event store: ':memory:' keeps nothing, a file name keeps the log.
const db = new Database(process.env.QUICKSTART_DB ?? ':memory:');
const store = createSqliteEventStore<BankEvent>(db);
await store.migrate();

const account = (aggregateId: string) => ({
  boundedContext: 'banking',
  aggregateType: 'Account',
  aggregateId,
});

// `payload` is narrowed by `eventType`: no casts.
const amountOf = (event: BankEvent) => {
  switch (event.eventType) {
    case 'MoneyDeposited':
      return event.payload.amount;
    case 'MoneyWithdrawn':
      return -event.payload.amount;
    default:
      return 0;
  }
};

// 1. Append: each call writes to one stream, atomically, checking the expected version. Only
//    known eventType/payload pairs compile.
await store.transaction(async (tx) => {
  for (const { id, amount } of [
    { id: 'alice', amount: 100 },
    { id: 'bob', amount: 40 },
  ]) {
    await store.append(tx, ExpectedVersion.noStream(), [
      { ...account(id), eventType: 'AccountOpened', payload: { owner: id } },
      { ...account(id), eventType: 'MoneyDeposited', payload: { amount } },
    ]);
  }
});

// 2. Rebuild an aggregate from its stream.
const alice = await store.transaction((tx) => store.readAggregateStream(tx, account('alice')));
const balance = alice.events.reduce((sum, e) => sum + amountOf(e), 0);
console.log(`alice: version ${alice.version}, balance ${balance}`);

// 3. Handle a command: load the stream, fold it into state, decide, and append only if nobody
//    wrote in between (handleCommand runs the command again when somebody did).
const withdrawals: Decider<{ balance: number }, { amount: number }, BankEvent> = {
  initialState: () => ({ balance: 0 }),
  evolve: (state, event) => ({ balance: state.balance + amountOf(event) }),
  decide: (command, state) => {
    if (command.amount > state.balance) throw new Error(`balance too low: ${state.balance}`);
    return [{ eventType: 'MoneyWithdrawn', payload: { amount: command.amount } }];
  },
};
const withdrawal = await handleCommand(
  store,
  { ...withdrawals, stream: account('alice') },
  { amount: 30 },
);
console.log(`alice: withdrawal stored as version ${withdrawal.version}`, withdrawal.state);

// 4. Catch a read model up from the log. `tx` is the better-sqlite3 Database, so the balances
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
