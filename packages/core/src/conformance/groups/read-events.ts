import assert from 'node:assert/strict';
import { ExpectedVersion } from '../../expected-version.js';
import type { AppendResult, EventStore, PersistedEvent } from '../../types.js';
import {
  appendInTransaction,
  assertStrictlyIncreasing,
  makeEvent,
  makeEvents,
  readWholeLog,
  uniqueStream,
  waitForLog,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Appends `count` single-event appends over three streams, one transaction each. */
async function seedLog(store: EventStore<any>, count: number): Promise<PersistedEvent[]> {
  const streams = [uniqueStream('log-a'), uniqueStream('log-b'), uniqueStream('log-c')];
  const appended: PersistedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const result: AppendResult = await appendInTransaction(store, ExpectedVersion.any(), [
      makeEvent(streams[i % 3]!, { payload: { i } }),
    ]);
    appended.push(...result.events);
  }
  await waitForLog(store, ids(appended));
  return appended;
}

function ids(events: readonly PersistedEvent[]): string[] {
  return events.map((e) => e.eventId);
}

/**
 * Registers the readEvents group: log order, `limit`, resuming exactly after a checkpoint, an
 * empty page after the last event, and checkpoints strictly increasing as strings. Each test uses
 * a store of its own, since it reads the whole log.
 */
export function describeReadEventsConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('readEvents', () => {
    api.it('an empty log reads as an empty page', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const page = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
        assert.deepEqual(page, []);
        const pageAfterNull = await store.transaction((tx) =>
          store.readEvents(tx, { after: null, limit: 10 }),
        );
        assert.deepEqual(pageAfterNull, []);
      });
    });

    api.it(
      'returns events in log order with checkpoints strictly increasing as strings',
      async () => {
        await withFreshStore(harness, async ({ store }) => {
          const appended = await seedLog(store, 12);
          const multi = await appendInTransaction(
            store,
            ExpectedVersion.noStream(),
            makeEvents(uniqueStream('log-multi'), 3),
          );
          appended.push(...multi.events);
          await waitForLog(store, ids(appended));
          const log = await store.transaction((tx) => store.readEvents(tx, { limit: 1000 }));
          assert.deepEqual(ids(log), ids(appended), 'the log is in commit order');
          assert.deepEqual(log, appended, 'events read back as appended');
          assertStrictlyIncreasing(log.map((e) => e.checkpoint));
          for (let i = 1; i < log.length; i++) {
            assert.ok(log[i]!.globalPosition > log[i - 1]!.globalPosition);
          }
        });
      },
    );

    api.it('returns at most limit events, from the start of the log', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const appended = await seedLog(store, 7);
        for (const limit of [1, 3, 7, 50]) {
          const page = await store.transaction((tx) => store.readEvents(tx, { limit }));
          assert.deepEqual(ids(page), ids(appended.slice(0, limit)), `limit ${limit}`);
        }
      });
    });

    api.it('resumes exactly after a checkpoint', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const appended = await seedLog(store, 9);
        for (const k of [0, 3, 7]) {
          const page = await store.transaction((tx) =>
            store.readEvents(tx, { after: appended[k]!.checkpoint, limit: 3 }),
          );
          assert.deepEqual(ids(page), ids(appended.slice(k + 1, k + 4)), `after event #${k}`);
        }
      });
    });

    api.it('pages through the whole log without gaps or repeats', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const appended = await seedLog(store, 10);
        const seen: PersistedEvent[] = [];
        let after: string | null = null;
        for (let pages = 0; pages < 20; pages++) {
          const cursor: string | null = after;
          const page: PersistedEvent[] = await store.transaction((tx) =>
            store.readEvents(tx, { after: cursor, limit: 3 }),
          );
          if (page.length === 0) break;
          assert.ok(page.length <= 3);
          seen.push(...page);
          after = page[page.length - 1]!.checkpoint;
        }
        assert.deepEqual(ids(seen), ids(appended));
        assertStrictlyIncreasing(seen.map((e) => e.checkpoint));
      });
    });

    api.it('reads nothing after the last event, then the events appended later', async () => {
      await withFreshStore(harness, async ({ store }) => {
        const appended = await seedLog(store, 4);
        const last = appended[appended.length - 1]!.checkpoint;
        const empty = await store.transaction((tx) =>
          store.readEvents(tx, { after: last, limit: 10 }),
        );
        assert.deepEqual(empty, []);
        const later = await seedLog(store, 2);
        const next = await store.transaction((tx) =>
          store.readEvents(tx, { after: last, limit: 10 }),
        );
        assert.deepEqual(ids(next), ids(later));
        assert.ok(next[0]!.checkpoint > last, 'new checkpoints sort after older ones');
      });
    });

    api.it('re-reading the log gives the same events with the same checkpoints', async () => {
      await withFreshStore(harness, async ({ store }) => {
        await seedLog(store, 6);
        const first = await readWholeLog(store);
        const second = await readWholeLog(store, null, 2);
        assert.deepEqual(second, first);
      });
    });
  });
}
