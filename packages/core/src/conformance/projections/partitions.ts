import assert from 'node:assert/strict';
import { fnv1a32 } from '../../projection/partition.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import { runProjectionPartitions, runProjections } from '../../projection/runner.js';
import {
  appendEvents,
  readCheckpoint,
  readWholeLog,
  type StreamSpec,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { TEST_POLL_INTERVAL_MS } from './processing.js';
import { CheckpointTableReadModel, recordingProjection, runUntilCheckpoints } from './support.js';

/** Streams of varied ids (UUID-like, emails, non-ASCII) with a few events each. */
function partitionedStreams(): StreamSpec[] {
  const ids = [
    'a',
    'user-1',
    'alice@example.com',
    'bob@example.com',
    'zoë',
    '顧客-7',
    ...Array.from({ length: 14 }, (_, i) => `order-${i * 37}`),
  ];
  return ids.map((aggregateId, i) => ({ aggregateId, count: 1 + (i % 4) }));
}

/**
 * Registers the partitions group: the partitions of a projection together handle every event
 * exactly once, each the aggregates `hashPartitionStrategy` assigns it, each with its own
 * checkpoint `<name>_p<key>`.
 */
export function describeProjectionPartitionConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('projections: partitions', () => {
    api.it('runProjectionPartitions covers every event exactly once', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, partitionedStreams(), 2);
        const log = await readWholeLog(store);
        const readModel = new CheckpointTableReadModel(store);
        const projection = recordingProjection(readModel);
        const names = [0, 1, 2].map((key) => `${projection.name}_p${key}`);

        await runUntilCheckpoints(
          (signal) =>
            runProjectionPartitions(store, projection, 3, {
              signal,
              batchSize: 4,
              pollIntervalMs: TEST_POLL_INTERVAL_MS,
            }),
          store,
          names,
          log.at(-1)!.checkpoint,
        );

        await readModel.assertApplied(log, () => true);
        assert.equal(projection.calls.length, log.length, 'no event is handled twice');
        assert.equal(
          await readCheckpoint(store, projection.name),
          null,
          'partitioned runs never use the unsuffixed checkpoint name',
        );
      }),
    );

    api.it('each partition handles exactly the aggregates the FNV-1a hash assigns it', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, partitionedStreams(), 3);
        const log = await readWholeLog(store);
        const total = 4;
        const readModel = new CheckpointTableReadModel(store);
        const name = `partitioned-${readModel.prefix}`;
        const partitions = Array.from({ length: total }, (_, partitionKey) => ({
          partitionKey,
          projection: recordingProjection(readModel, { name }),
          processor: new ProjectionProcessor(store, {
            batchSize: 3,
            pollIntervalMs: TEST_POLL_INTERVAL_MS,
            partitionKey,
            totalPartitions: total,
          }),
        }));

        await runUntilCheckpoints(
          (signal) => runProjections(partitions, { signal }),
          store,
          partitions.map((p) => p.processor.checkpointName(name)),
          log.at(-1)!.checkpoint,
        );

        for (const { partitionKey, projection } of partitions) {
          assert.deepEqual(
            projection.calls.map((e) => e.eventId),
            log
              .filter((e) => fnv1a32(e.aggregateId) % total === partitionKey)
              .map((e) => e.eventId),
            `partition ${partitionKey} handles its aggregates' events, in log order`,
          );
        }
        await readModel.assertApplied(log, () => true);
      }),
    );
  });
}
