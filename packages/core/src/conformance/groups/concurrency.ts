import assert from 'node:assert/strict';
import { OptimisticConcurrencyError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import type { AppendResult } from '../../types.js';
import {
  appendInTransaction,
  assertRejectsWith,
  assertRowsAdded,
  makeEvent,
  makeEvents,
  readStream,
  snapshotStore,
  uniqueStream,
  useGroupStore,
  waitForLog,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Number of concurrent appenders in each test. */
const WRITERS = 10;

function settle<T>(promises: Promise<T>[]) {
  return Promise.allSettled(promises);
}

/**
 * Registers the concurrency group: parallel appends to one stream with the same `exact(v)` or
 * `noStream()` let exactly one through and reject the rest with
 * {@link OptimisticConcurrencyError}; parallel `any()` appends all succeed with distinct, dense
 * versions; losers leave no trace.
 */
export function describeConcurrencyConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('concurrency', () => {
    const subject = useGroupStore(api, harness);

    api.it(
      `${WRITERS} parallel appends with the same exact(v): one wins, the rest conflict`,
      async () => {
        const current = subject();
        const { store } = current;
        const stream = uniqueStream('conc-exact');
        await appendInTransaction(store, ExpectedVersion.noStream(), makeEvents(stream, 2));
        const before = await snapshotStore(current);

        const outcomes = await settle(
          Array.from({ length: WRITERS }, (_, i) =>
            store.transaction((tx) =>
              store.append(tx, ExpectedVersion.exact(2), [
                makeEvent(stream, { payload: { writer: i } }),
                makeEvent(stream, { payload: { writer: i, second: true } }),
              ]),
            ),
          ),
        );
        const winners = outcomes.filter(
          (o): o is PromiseFulfilledResult<AppendResult> => o.status === 'fulfilled',
        );
        const losers = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.equal(winners.length, 1, 'exactly one append wins');
        assert.equal(losers.length, WRITERS - 1);
        for (const loser of losers) {
          await assertRejectsWith(
            Promise.reject(loser.reason),
            OptimisticConcurrencyError,
            'OPTIMISTIC_CONCURRENCY',
            { actualVersion: 4 },
          );
        }
        const winner = winners[0]!.value;
        assert.equal(winner.fromVersion, 2);
        assert.equal(winner.toVersion, 4);

        const read = await readStream(store, stream);
        assert.equal(read.version, 4);
        assert.deepEqual(
          read.events.slice(2).map((e) => e.eventId),
          winner.events.map((e) => e.eventId),
          'the stream holds the winner’s events only',
        );
        const after = await snapshotStore(current);
        assertRowsAdded(before, after, { events: 2, aggregateHeads: 0 });
      },
    );

    api.it(`${WRITERS} parallel noStream() appends to a new stream: one wins`, async () => {
      const current = subject();
      const { store } = current;
      const stream = uniqueStream('conc-new');
      const before = await snapshotStore(current);
      const outcomes = await settle(
        Array.from({ length: WRITERS }, (_, i) =>
          appendInTransaction(store, ExpectedVersion.noStream(), [
            makeEvent(stream, { payload: { writer: i } }),
          ]),
        ),
      );
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      const losers = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      assert.equal(winners.length, 1, 'exactly one append creates the stream');
      for (const loser of losers) {
        await assertRejectsWith(
          Promise.reject(loser.reason),
          OptimisticConcurrencyError,
          'OPTIMISTIC_CONCURRENCY',
          { actualVersion: 1 },
        );
      }
      assert.equal((await readStream(store, stream)).version, 1);
      const after = await snapshotStore(current);
      assertRowsAdded(before, after, { events: 1, aggregateHeads: 1 });
    });

    api.it(
      `${WRITERS} parallel any() appends all succeed with distinct, dense versions`,
      async () => {
        const current = subject();
        const { store } = current;
        const stream = uniqueStream('conc-any');
        const before = await snapshotStore(current);
        const results = await Promise.all(
          Array.from({ length: WRITERS }, (_, i) =>
            appendInTransaction(store, ExpectedVersion.any(), [
              makeEvent(stream, { payload: { writer: i, part: 1 } }),
              makeEvent(stream, { payload: { writer: i, part: 2 } }),
            ]),
          ),
        );
        const versions = results.flatMap((r) => r.events.map((e) => e.aggregateVersion));
        assert.deepEqual(
          [...versions].sort((a, b) => a - b),
          Array.from({ length: WRITERS * 2 }, (_, i) => i + 1),
          'versions are 1..2N, each once',
        );
        for (const result of results) {
          assert.equal(
            result.toVersion,
            result.fromVersion + 2,
            'each call’s versions are adjacent',
          );
        }
        const read = await readStream(store, stream);
        assert.equal(read.version, WRITERS * 2);
        for (let v = 0; v < read.events.length; v += 2) {
          const a = read.events[v]!.payload as { writer: number; part: number };
          const b = read.events[v + 1]!.payload as { writer: number; part: number };
          assert.equal(
            a.writer,
            b.writer,
            'one call’s events are never interleaved with another’s',
          );
          assert.deepEqual([a.part, b.part], [1, 2]);
        }
        const positions = results.flatMap((r) => r.globalPositions);
        assert.equal(new Set(positions).size, positions.length, 'global positions are unique');
        const after = await snapshotStore(current);
        assertRowsAdded(before, after, { events: WRITERS * 2, aggregateHeads: 1 });
      },
    );

    api.it(`${WRITERS} parallel appends to different streams all succeed`, async () => {
      const { store } = subject();
      const streams = Array.from({ length: WRITERS }, () => uniqueStream('conc-many'));
      const results = await Promise.all(
        streams.map((stream) =>
          appendInTransaction(store, ExpectedVersion.noStream(), makeEvents(stream, 3)),
        ),
      );
      const positions = results.flatMap((r) => r.globalPositions);
      assert.equal(new Set(positions).size, WRITERS * 3, 'global positions are unique');
      const log = await waitForLog(
        store,
        results.flatMap((r) => r.events.map((e) => e.eventId)),
      );
      const ids = new Set(log.map((e) => e.eventId));
      for (const result of results) {
        assert.equal(result.toVersion, 3);
        for (const event of result.events)
          assert.ok(ids.has(event.eventId), 'readable from the log');
      }
    });
  });
}
