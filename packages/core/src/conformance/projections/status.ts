import assert from 'node:assert/strict';
import { ProjectionProcessor } from '../../projection/processor.js';
import { runProjectionPartitions } from '../../projection/runner.js';
import { getProjectionStatus, type ProjectionStatus } from '../../projection/status.js';
import type { EventStore } from '../../types.js';
import { appendEvents, delegatingStore, readWholeLog, withFreshStore } from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { TEST_POLL_INTERVAL_MS } from './processing.js';
import {
  CheckpointTableReadModel,
  recordingProjection,
  runUntilCaughtUp,
  runUntilCheckpoints,
} from './support.js';

/** The same store without `getLogStatus`, to get the fallback count of `getProjectionStatus`. */
function withoutLogStatus<Tx>(store: EventStore<Tx>): EventStore<Tx> {
  return delegatingStore(store, { getLogStatus: undefined });
}

/** The fields both ways of counting agree on. */
function comparable(status: ProjectionStatus) {
  const { source: _source, headPosition: _headPosition, ...rest } = status;
  return rest;
}

/**
 * Registers the projection status group: `getProjectionStatus` reports the checkpoint, the newest
 * event and the number of events behind, identically through the store's `getLogStatus` and
 * through the fallback count, for plain and partitioned projections.
 */
export function describeProjectionStatusConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('projections: status', () => {
    api.it('reports checkpoint, newest event and events behind as the projection advances', () =>
      withFreshStore(harness, async ({ store }) => {
        const projection = recordingProjection(new CheckpointTableReadModel(store));
        const empty = await getProjectionStatus(store, projection);
        assert.deepEqual(comparable(empty), {
          projectionName: projection.name,
          checkpoint: null,
          headCheckpoint: null,
          eventsBehind: 0,
          caughtUp: true,
          partitions: [
            { partitionKey: 0, checkpointName: projection.name, checkpoint: null, eventsBehind: 0 },
          ],
        });
        assert.equal(empty.headPosition, null, 'an empty log has no head');

        await appendEvents(store, [{ count: 6 }, { count: 6 }]);
        const log = await readWholeLog(store);
        const last = log.at(-1)!;
        const before = await getProjectionStatus(store, projection.name);
        assert.equal(before.checkpoint, null);
        assert.equal(before.headCheckpoint, last.checkpoint);
        assert.equal(before.headPosition, last.globalPosition);
        assert.equal(before.eventsBehind, 12);
        assert.equal(before.caughtUp, false);
        assert.deepEqual(
          comparable(await getProjectionStatus(withoutLogStatus(store), projection.name)),
          comparable(before),
          'getLogStatus agrees with counting the log',
        );

        const processor = new ProjectionProcessor(store, {
          batchSize: 5,
          pollIntervalMs: TEST_POLL_INTERVAL_MS,
        });
        await runUntilCaughtUp(processor, projection, last.checkpoint);
        await appendEvents(store, [{ count: 3 }]);
        const behind = await getProjectionStatus(store, projection.name);
        assert.equal(behind.checkpoint, last.checkpoint);
        assert.equal(behind.eventsBehind, 3);
        assert.equal(behind.headPosition, (await readWholeLog(store)).at(-1)!.globalPosition);
        assert.deepEqual(
          comparable(await getProjectionStatus(withoutLogStatus(store), projection.name)),
          comparable(behind),
          'getLogStatus agrees with counting the log',
        );
      }),
    );

    api.it('reports every partition of a partitioned projection', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 4 }, { count: 4 }, { count: 4 }]);
        const log = await readWholeLog(store);
        const projection = recordingProjection(new CheckpointTableReadModel(store));
        await runUntilCheckpoints(
          (signal) =>
            runProjectionPartitions(store, projection, 2, {
              signal,
              pollIntervalMs: TEST_POLL_INTERVAL_MS,
            }),
          store,
          [`${projection.name}_p0`, `${projection.name}_p1`],
          log.at(-1)!.checkpoint,
        );
        await appendEvents(store, [{ count: 2 }]);

        const status = await getProjectionStatus(store, projection, { totalPartitions: 2 });
        assert.deepEqual(
          status.partitions.map((p) => [p.partitionKey, p.checkpointName, p.eventsBehind]),
          [
            [0, `${projection.name}_p0`, 2],
            [1, `${projection.name}_p1`, 2],
          ],
        );
        assert.equal(status.checkpoint, log.at(-1)!.checkpoint);
        assert.equal(status.eventsBehind, 2);
        const one = await getProjectionStatus(store, projection, {
          totalPartitions: 2,
          partitionKey: 1,
        });
        assert.deepEqual(
          one.partitions.map((p) => p.checkpointName),
          [`${projection.name}_p1`],
        );
        assert.deepEqual(
          comparable(
            await getProjectionStatus(withoutLogStatus(store), projection, { totalPartitions: 2 }),
          ),
          comparable(status),
        );
      }),
    );
  });
}
