import assert from 'node:assert/strict';
import { ExpectedVersion } from '../../expected-version.js';
import type { Stream, StreamRef, VersionRange } from '../../types.js';
import {
  appendInTransaction,
  makeEvent,
  makeEvents,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/**
 * Registers the readAggregateStream group: the whole stream, `fromVersion`, `toVersion`, both,
 * an empty or missing stream (version 0, `isEmpty`), and version order.
 */
export function describeReadAggregateStreamConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('readAggregateStream', () => {
    const subject = useGroupStore(api, harness);

    /** A stream of `count` events appended one by one, interleaved with another stream. */
    async function seed(count: number): Promise<StreamRef> {
      const { store } = subject();
      const stream = uniqueStream('ras');
      const noise = uniqueStream('ras-noise');
      for (let i = 1; i <= count; i++) {
        await appendInTransaction(store, ExpectedVersion.exact(i - 1), [
          makeEvent(stream, { payload: { n: i } }),
        ]);
        await appendInTransaction(store, ExpectedVersion.any(), [makeEvent(noise)]);
      }
      return stream;
    }

    function read(stream: StreamRef, range?: VersionRange): Promise<Stream> {
      const { store } = subject();
      return store.transaction((tx) =>
        range === undefined
          ? store.readAggregateStream(tx, stream)
          : store.readAggregateStream(tx, stream, range),
      );
    }

    function versions(stream: Stream): number[] {
      return stream.events.map((e) => e.aggregateVersion);
    }

    api.it('reads the whole stream in version order', async () => {
      const stream = await seed(5);
      const result = await read(stream);
      assert.deepEqual(versions(result), [1, 2, 3, 4, 5]);
      assert.deepEqual(
        result.events.map((e) => e.payload),
        [1, 2, 3, 4, 5].map((n) => ({ n })),
      );
      assert.equal(result.version, 5);
      assert.equal(result.isEmpty, false);
      assert.deepEqual(
        {
          boundedContext: result.boundedContext,
          aggregateType: result.aggregateType,
          aggregateId: result.aggregateId,
        },
        { ...stream },
      );
      for (let i = 1; i < result.events.length; i++) {
        assert.ok(result.events[i]!.globalPosition > result.events[i - 1]!.globalPosition);
      }
    });

    api.it('reads from fromVersion (inclusive) to the end', async () => {
      const stream = await seed(5);
      const result = await read(stream, { fromVersion: 3 });
      assert.deepEqual(versions(result), [3, 4, 5]);
      assert.equal(result.version, 5);
      assert.equal(result.isEmpty, false);
    });

    api.it('reads from the start up to toVersion (inclusive)', async () => {
      const stream = await seed(5);
      const result = await read(stream, { toVersion: 2 });
      assert.deepEqual(versions(result), [1, 2]);
      assert.equal(result.version, 2, 'version is the last version read');
    });

    api.it('reads between fromVersion and toVersion (inclusive)', async () => {
      const stream = await seed(6);
      assert.deepEqual(versions(await read(stream, { fromVersion: 2, toVersion: 4 })), [2, 3, 4]);
      assert.deepEqual(versions(await read(stream, { fromVersion: 3, toVersion: 3 })), [3]);
      assert.deepEqual(versions(await read(stream, { fromVersion: 5, toVersion: 99 })), [5, 6]);
      assert.deepEqual(versions(await read(stream, {})), [1, 2, 3, 4, 5, 6]);
    });

    api.it('a range past the end of the stream is empty', async () => {
      const stream = await seed(2);
      const result = await read(stream, { fromVersion: 3 });
      assert.deepEqual(result.events, []);
      assert.equal(result.isEmpty, true);
      assert.equal(result.version, 0);
    });

    api.it('a missing stream reads as empty with version 0', async () => {
      const stream = uniqueStream('ras-missing');
      const result = await read(stream);
      assert.deepEqual(result, { ...stream, events: [], version: 0, isEmpty: true });
    });

    api.it('a multi-event append reads back in the order it was given', async () => {
      const { store } = subject();
      const stream = uniqueStream('ras-batch');
      const types = ['Created', 'Renamed', 'Moved', 'Archived'];
      await appendInTransaction(
        store,
        ExpectedVersion.noStream(),
        types.map((eventType) => makeEvent(stream, { eventType })),
      );
      await appendInTransaction(
        store,
        ExpectedVersion.exact(4),
        makeEvents(stream, 2, { eventType: 'Touched' }),
      );
      const result = await read(stream);
      assert.deepEqual(
        result.events.map((e) => e.eventType),
        [...types, 'Touched', 'Touched'],
      );
      assert.deepEqual(versions(result), [1, 2, 3, 4, 5, 6]);
    });
  });
}
