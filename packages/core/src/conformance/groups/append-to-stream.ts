import assert from 'node:assert/strict';
import { DuplicateEventIdError, OptimisticConcurrencyError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import {
  assertNothingWritten,
  assertRejectsWith,
  makeEvent,
  makeEvents,
  readStream,
  uniqueStream,
  useGroupStore,
  waitForLog,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/**
 * Registers the appendToStream group: an append in a transaction of its own keeps every
 * guarantee of `append` (versions, the expected-version check with its typed error, duplicate
 * ids, nothing written on failure), its result matches what is read back, and concurrent calls on
 * one stream never both pass the same expectation.
 */
export function describeAppendToStreamConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('appendToStream', () => {
    const subject = useGroupStore(api, harness);

    api.it('appends in its own transaction; the result matches what is read back', async () => {
      const { store } = subject();
      const stream = uniqueStream('ats-basic');
      const first = await store.appendToStream(ExpectedVersion.noStream(), makeEvents(stream, 3));
      assert.equal(first.fromVersion, 0);
      assert.equal(first.toVersion, 3);
      const second = await store.appendToStream(ExpectedVersion.exact(3), [makeEvent(stream)]);
      assert.equal(second.toVersion, 4);
      const read = await readStream(store, stream);
      assert.deepEqual(
        read.events.map((e) => e.eventId),
        [...first.events, ...second.events].map((e) => e.eventId),
      );
      assert.deepEqual(
        read.events.map((e) => e.globalPosition),
        [...first.globalPositions, ...second.globalPositions],
      );
      const log = await waitForLog(
        store,
        [...first.events, ...second.events].map((e) => e.eventId),
      );
      assert.deepEqual(
        log.map((e) => e.checkpoint),
        [...first.events, ...second.events].map((e) => e.checkpoint),
        'the checkpoints of the result are those read from the log',
      );
    });

    api.it(
      'a failed expectation or a duplicate id writes nothing, with the typed error',
      async () => {
        const current = subject();
        const stream = uniqueStream('ats-conflict');
        const appended = await current.store.appendToStream(ExpectedVersion.noStream(), [
          makeEvent(stream),
        ]);
        await assertNothingWritten(current, async () => {
          await assertRejectsWith(
            current.store.appendToStream(ExpectedVersion.exact(5), makeEvents(stream, 2)),
            OptimisticConcurrencyError,
            'OPTIMISTIC_CONCURRENCY',
            { actualVersion: 1 },
          );
          await assertRejectsWith(
            current.store.appendToStream(ExpectedVersion.noStream(), [makeEvent(stream)]),
            OptimisticConcurrencyError,
            'OPTIMISTIC_CONCURRENCY',
            { actualVersion: 1 },
          );
          await assertRejectsWith(
            current.store.appendToStream(ExpectedVersion.any(), [
              makeEvent(stream, { eventId: appended.events[0]!.eventId }),
            ]),
            DuplicateEventIdError,
            'DUPLICATE_EVENT_ID',
          );
        }, [stream]);
        assert.equal((await readStream(current.store, stream)).version, 1);
      },
    );

    api.it('concurrent calls on one stream never both pass one expectation', async () => {
      const { store } = subject();
      const stream = uniqueStream('ats-race');
      await store.appendToStream(ExpectedVersion.noStream(), [makeEvent(stream)]);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, () =>
          store.appendToStream(ExpectedVersion.exact(1), [makeEvent(stream)]),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(won.length, 1, 'exactly one call passes exact(1)');
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') {
          assert.ok(
            outcome.reason instanceof OptimisticConcurrencyError,
            `the others fail with OptimisticConcurrencyError, got ${String(outcome.reason)}`,
          );
        }
      }
      const read = await readStream(store, stream);
      assert.deepEqual(
        read.events.map((e) => e.aggregateVersion),
        [1, 2],
      );
    });
  });
}
