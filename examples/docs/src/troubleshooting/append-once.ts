// docs/troubleshooting.md, "ConnectionLostError / OperationAbortedError with commitUnknown": an
// append that is safe to retry after a cut COMMIT. Runs on every database; the lost answer is
// simulated by a store that commits, then throws.
// #region append-once
import { randomUUID } from 'node:crypto';
import {
  type EventStore,
  ExpectedVersion,
  isTransientError,
  type NewEvent,
  type StreamRef,
} from '@pup/core';

/**
 * Appends `events` (all to `stream`) once, also when the answer to COMMIT was lost: every event
 * gets its id up front, and after an error that says `commitUnknown` the stream is read back to
 * see whether the first id is there before trying again.
 */
export async function appendOnce(
  store: EventStore<any>,
  stream: StreamRef,
  expected: ExpectedVersion,
  events: NewEvent[],
  attempts = 3,
): Promise<'appended' | 'was already appended'> {
  const withIds = events.map((event) => ({ ...event, eventId: event.eventId ?? randomUUID() }));
  for (let attempt = 1; ; attempt++) {
    try {
      await store.appendToStream(expected, withIds);
      return 'appended';
    } catch (error) {
      const commitUnknown = (error as { commitUnknown?: unknown }).commitUnknown === true;
      if (commitUnknown) {
        const read = await store.transaction((tx) => store.readAggregateStream(tx, stream));
        if (read.events.some((event) => event.eventId === withIds[0]!.eventId)) {
          return 'was already appended';
        }
      } else if (!isTransientError(error)) {
        throw error; // OptimisticConcurrencyError, InvalidEventError, …: retrying will not help
      }
      if (attempt >= attempts) throw error;
    }
  }
}

// #endregion append-once

import { ConnectionLostError } from '@pup/core';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

const { store, kind, close } = await openStore<BankEvent>();

// A store whose first appendToStream commits and then loses the answer.
let cut = true;
const flaky: EventStore<any> = Object.assign(Object.create(store), {
  async appendToStream(...args: Parameters<typeof store.appendToStream>) {
    const result = await store.appendToStream(...args);
    if (!cut) return result;
    cut = false;
    throw new ConnectionLostError(kind, 'connection reset during COMMIT', { commitUnknown: true });
  },
});

const opened = { ...account('kim'), eventType: 'AccountOpened', payload: { owner: 'Kim' } };
expectEqual(
  await appendOnce(flaky, account('kim'), ExpectedVersion.noStream(), [opened]),
  'was already appended',
  'after a cut COMMIT that committed',
);
const deposit = { ...account('kim'), eventType: 'MoneyDeposited', payload: { amount: 1 } };
expectEqual(
  await appendOnce(flaky, account('kim'), ExpectedVersion.exact(1), [deposit]),
  'appended',
  'a normal append',
);
const kimStream = await store.transaction((tx) => store.readAggregateStream(tx, account('kim')));
expectEqual(kimStream.version, 2, 'version of kim: each event once');
await close();
