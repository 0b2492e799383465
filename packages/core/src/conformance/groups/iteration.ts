import assert from 'node:assert/strict';
import { InvalidConfigError, OperationAbortedError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import { iterateAggregateStream, iterateEvents } from '../../iterate.js';
import { resetProjection } from '../../projection/reset.js';
import type { PersistedEvent } from '../../types.js';
import {
  appendInTransaction,
  assertRejectsWith,
  makeEvents,
  readCheckpoint,
  readWholeLog,
  snapshotStore,
  uniqueStream,
  waitForLog,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

const ids = (events: readonly PersistedEvent[]) => events.map((e) => e.eventId);

/**
 * Registers the iteration group: `iterateEvents` and `iterateAggregateStream` page through the
 * log and a stream with `for await`, give exactly what the store's reads give, and stop with
 * `OperationAbortedError` when their signal aborts; `resetProjection` deletes a projection's
 * checkpoints (every partition) when the store has `deleteCheckpoint`, and is refused with
 * `InvalidConfigError` when it has not.
 */
export function describeIterationConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('iteration and projection reset', () => {
    api.it('iterateEvents pages through the whole log in order', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const appended: PersistedEvent[] = [];
        for (const [label, count] of [
          ['iterate-a', 4],
          ['iterate-b', 3],
          ['iterate-c', 4],
        ] as const) {
          const result = await appendInTransaction(
            store,
            ExpectedVersion.noStream(),
            makeEvents(uniqueStream(label), count),
          );
          appended.push(...result.events);
        }
        const log = await waitForLog(store, ids(appended));
        for (const pageSize of [1, 3, 11, 100]) {
          assert.deepEqual(
            await collect(iterateEvents(store, { pageSize })),
            log,
            `pages of ${pageSize}`,
          );
        }
        const after = await collect(
          iterateEvents(store, { after: log[4]!.checkpoint, pageSize: 2 }),
        );
        assert.deepEqual(ids(after), ids(log.slice(5)), 'after a checkpoint');
        assert.deepEqual(await readWholeLog(store), log);
      });
    });

    api.it('iterateAggregateStream pages through a stream or a version range', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const stream = uniqueStream('iterate-stream');
        const appended = await appendInTransaction(
          store,
          ExpectedVersion.noStream(),
          makeEvents(stream, 10),
        );
        const whole = await collect(iterateAggregateStream(store, stream, { pageSize: 3 }));
        assert.deepEqual(ids(whole), ids(appended.events));
        const range = await collect(
          iterateAggregateStream(store, stream, { fromVersion: 4, toVersion: 9, pageSize: 4 }),
        );
        assert.deepEqual(
          range.map((e) => e.aggregateVersion),
          [4, 5, 6, 7, 8, 9],
        );
        assert.deepEqual(await collect(iterateAggregateStream(store, uniqueStream('none'))), []);
      });
    });

    api.it('an aborted signal stops iterating with OperationAbortedError', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const stream = uniqueStream('iterate-abort');
        const appended = await appendInTransaction(
          store,
          ExpectedVersion.noStream(),
          makeEvents(stream, 6),
        );
        await waitForLog(store, ids(appended.events));
        const controller = new AbortController();
        let seen = 0;
        await assertRejectsWith(
          (async () => {
            for await (const _ of iterateEvents(store, {
              pageSize: 2,
              signal: controller.signal,
            })) {
              seen++;
              if (seen === 3) controller.abort();
            }
          })(),
          OperationAbortedError,
          'ABORTED',
        );
        assert.equal(seen, 4, 'the page read before the abort is handed out, no further page');
      });
    });

    api.it(
      'resetProjection deletes the checkpoints of a projection and its partitions, or is refused',
      async () => {
        await withFreshStore(harness, async (subject) => {
          const { store } = subject;
          const appended = await appendInTransaction(
            store,
            ExpectedVersion.noStream(),
            makeEvents(uniqueStream('reset'), 1),
          );
          const [event] = await waitForLog(store, ids(appended.events));
          const names = ['rebuilt', 'rebuilt_p0', 'rebuilt_p1', 'rebuilt_other', 'rebuilt_px'];
          await store.transaction(async (tx) => {
            for (const name of names) await store.saveCheckpoint(tx, name, event!.checkpoint);
          });
          if (typeof store.deleteCheckpoint !== 'function') {
            await assertRejectsWith(
              resetProjection(store, 'rebuilt', { totalPartitions: 2 }),
              InvalidConfigError,
              'INVALID_CONFIG',
            );
            return;
          }
          const before = await snapshotStore(subject);
          const deleted = await resetProjection(store, 'rebuilt', { totalPartitions: 2 });
          assert.deepEqual(deleted, ['rebuilt', 'rebuilt_p0', 'rebuilt_p1']);
          for (const name of names.slice(0, 3)) {
            assert.equal(await readCheckpoint(store, name), null, `${name} is reset`);
          }
          for (const name of names.slice(3)) {
            assert.equal(await readCheckpoint(store, name), event!.checkpoint, `${name} is kept`);
          }
          const after = await snapshotStore(subject);
          if (before.checkpoints !== null && after.checkpoints !== null) {
            assert.equal(before.checkpoints - after.checkpoints, 3, 'three rows deleted');
          }
          assert.equal(
            await store.transaction((tx) => store.deleteCheckpoint!(tx, 'rebuilt')),
            false,
            'deleting a missing checkpoint resolves with false',
          );
          // A reset rolled back with its transaction leaves the checkpoints.
          await store
            .transaction(async (tx) => {
              await resetProjection(store, 'rebuilt_other', { tx });
              throw new Error('roll back');
            })
            .catch(() => undefined);
          assert.equal(await readCheckpoint(store, 'rebuilt_other'), event!.checkpoint);
          if (typeof store.listCheckpoints === 'function') {
            const listed = await store.transaction((tx) => store.listCheckpoints!(tx));
            assert.deepEqual(listed.map((c) => [c.projectionName, c.checkpoint]).sort(), [
              ['rebuilt_other', event!.checkpoint],
              ['rebuilt_px', event!.checkpoint],
            ]);
          }
        });
      },
    );
  });
}
