// README.md, "Failures and what pup guarantees" (and docs/concepts.md, "Errors"): what a retry
// with the same event ids gets when the first attempt committed. The version check comes before
// the event id check, so only `any()` and `streamExists()` reach DuplicateEventIdError; with
// `exact(n)` and `noStream()` the retry fails with OptimisticConcurrencyError. Either way nothing
// of the retry is written. Runs on every database.
import { randomUUID } from 'node:crypto';
import {
  DuplicateEventIdError,
  ExpectedVersion,
  type NewEvent,
  OptimisticConcurrencyError,
} from '@pup/core';
import { expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

const { store, kind, close } = await openStore();

const cases = [
  { expected: ExpectedVersion.any(), error: DuplicateEventIdError },
  { expected: ExpectedVersion.streamExists(), error: DuplicateEventIdError },
  { expected: ExpectedVersion.exact(1), error: OptimisticConcurrencyError },
  { expected: ExpectedVersion.noStream(), error: OptimisticConcurrencyError },
];
for (const [i, { expected, error }] of cases.entries()) {
  const stream = { boundedContext: 'docs', aggregateType: 'Retry', aggregateId: `retry-${i}` };
  if (expected.kind !== 'noStream') {
    await store.appendToStream(ExpectedVersion.noStream(), [
      { ...stream, eventType: 'Opened', payload: {} },
    ]);
  }
  const events: NewEvent[] = [
    { ...stream, eventType: 'Noted', payload: {}, eventId: randomUUID() },
  ];
  const first = await store.appendToStream(expected, events); // committed; say its answer was lost
  let retried: unknown;
  try {
    await store.appendToStream(expected, events);
  } catch (caught) {
    retried = caught;
  }
  if (!(retried instanceof error)) {
    throw new Error(`${expected.kind}: expected ${error.name}, got ${String(retried)}`);
  }
  const read = await store.transaction((tx) => store.readAggregateStream(tx, stream));
  expectEqual(read.version, first.toVersion, `${expected.kind}: the retry wrote nothing`);
}
console.log(`${kind}: a retry with the same ids fails as documented for each ExpectedVersion`);
await close();
