// README.md, "Typed events and commands", validation: a Standard Schema per event type checks
// every appended payload before any SQL; an append with one invalid payload writes nothing.
// Runs on SQLite in memory.
import { ExpectedVersion, InvalidEventError, type StandardSchemaV1 } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';

const db = new Database(':memory:');

// pup depends on no schema library, and neither does this program: a Standard Schema is any object
// with `~standard.validate`, here written by hand. zod's
// `z.object({ amount: z.number().positive() })` is one that does the same.
const positiveAmount: StandardSchemaV1<unknown, { amount: number }> = {
  '~standard': {
    version: 1,
    vendor: 'pup-docs',
    validate(value) {
      const amount = (value as { amount?: unknown } | null)?.amount;
      return typeof amount === 'number' && amount > 0
        ? { value: { amount } }
        : { issues: [{ message: 'must be a positive number', path: ['amount'] }] };
    },
  },
};

// #region schemas
const store = createSqliteEventStore<BankEvent>(db, {
  // positiveAmount: any Standard Schema, such as zod's z.object({ amount: z.number().positive() })
  events: { schemas: { MoneyDeposited: positiveAmount } },
});
// #endregion schemas
await store.migrate();

const ann = account('ann');
await store.appendToStream(ExpectedVersion.noStream(), [
  { ...ann, eventType: 'AccountOpened', payload: { owner: 'Ann' } },
  { ...ann, eventType: 'MoneyDeposited', payload: { amount: 20 } },
]);

// The second event fails its schema: the whole append is refused, the first event included.
let refused: unknown;
try {
  await store.appendToStream(ExpectedVersion.exact(2), [
    { ...ann, eventType: 'MoneyDeposited', payload: { amount: 5 } },
    { ...ann, eventType: 'MoneyDeposited', payload: { amount: -5 } },
  ]);
} catch (error) {
  refused = error;
}
if (!(refused instanceof InvalidEventError)) throw new Error(`expected an InvalidEventError`);
expectEqual(
  [refused.index, refused.field, refused.eventType, refused.issues?.map((i) => i.message)],
  [1, 'payload', 'MoneyDeposited', ['must be a positive number']],
  'the InvalidEventError of the append',
);
const read = await store.transaction((tx) => store.readAggregateStream(tx, ann));
expectEqual(read.version, 2, 'the version of the stream: nothing of the refused append written');
console.log(`refused: ${refused.message}`);

await store.close();
db.close();
