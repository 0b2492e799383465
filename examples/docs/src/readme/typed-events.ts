// README.md, "Typed events and commands": the event type parameter of a store checks appends at
// compile time and narrows reads. The type-check proves that the compile error shown is one (an
// expected error that does not occur fails tsc); the run checks what the narrowed read adds up.
// Runs on SQLite in memory.
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { expectEqual } from '../getting-started/events.js';

const db = new Database(':memory:');
const stream = { boundedContext: 'banking', aggregateType: 'Account', aggregateId: 'acc-1' };
let total = 0;

// #region typed-events
import { type DomainEvent, ExpectedVersion, type NewEventOf } from '@pup/core';

type BankEvent =
  | DomainEvent<'AccountOpened', { owner: string }>
  | DomainEvent<'MoneyDeposited', { amount: number }>;
// or: interface BankEvents { AccountOpened: { owner: string }; MoneyDeposited: { amount: number } }

const store = createSqliteEventStore<BankEvent>(db); // createPgEventStore<BankEvent>(pool), …
await store.migrate();
await store.appendToStream(ExpectedVersion.noStream(), [
  { ...stream, eventType: 'MoneyDeposited', payload: { amount: 5 } }, // ok
]);
const wrong = { ...stream, eventType: 'MoneyDeposited', payload: { owner: 'x' } } as const;
// @ts-expect-error: a compile error, a MoneyDeposited payload is { amount: number }
wrong satisfies NewEventOf<BankEvent>; // so is store.appendToStream(…, [wrong])

const read = await store.transaction((tx) => store.readAggregateStream(tx, stream));
for (const event of read.events) {
  if (event.eventType === 'MoneyDeposited') total += event.payload.amount; // { amount: number }
}
// #endregion typed-events

// The append of `wrong` itself does not compile either (type-checked here, never run).
if (total < 0) {
  // @ts-expect-error: a MoneyDeposited payload is { amount: number }
  await store.appendToStream(ExpectedVersion.any(), [wrong]);
}

expectEqual(total, 5, 'the deposits read back');
expectEqual(
  read.events.map((event) => [event.eventType, event.payload]),
  [['MoneyDeposited', { amount: 5 }]],
  'the events of the stream',
);
await store.close();
db.close();
