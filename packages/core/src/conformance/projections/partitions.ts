import assert from 'node:assert/strict';
import { readLazyProjectionBatch } from '../../projection/batch.js';
import { fnv1a32 } from '../../projection/partition.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import { runProjectionPartitions, runProjections } from '../../projection/runner.js';
import type { ProjectionProcessorConfig } from '../../projection/types.js';
import type { Checkpoint, EventStore } from '../../types.js';
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
 * Runs `total` partitions of one projection (recording into `readModel`, each its own processor
 * with `config`) until every partition's checkpoint reaches `end`; returns each partition's
 * recording projection, by partition key.
 */
async function runPartitionsUntil<Tx>(
  store: EventStore<Tx>,
  readModel: CheckpointTableReadModel<Tx>,
  name: string,
  total: number,
  end: Checkpoint,
  config: ProjectionProcessorConfig,
): Promise<ReturnType<typeof recordingProjection<Tx>>[]> {
  const partitions = Array.from({ length: total }, (_, partitionKey) => ({
    projection: recordingProjection(readModel, { name }),
    processor: new ProjectionProcessor(store, {
      pollIntervalMs: TEST_POLL_INTERVAL_MS,
      ...config,
      partitionKey,
      totalPartitions: total,
    }),
  }));
  await runUntilCheckpoints(
    (signal) => runProjections(partitions, { signal }),
    store,
    partitions.map((p) => p.processor.checkpointName(name)),
    end,
  );
  return partitions.map((p) => p.projection);
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
        const projections = await runPartitionsUntil(
          store,
          readModel,
          name,
          total,
          log.at(-1)!.checkpoint,
          { batchSize: 3 },
        );

        for (const [partitionKey, projection] of projections.entries()) {
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

    api.it('serverSideFiltering on and off hand every partition the same events', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, partitionedStreams(), 2);
        const log = await readWholeLog(store);
        const total = 3;
        const handled = new Map<boolean, string[][]>();
        for (const serverSideFiltering of [true, false]) {
          const readModel = new CheckpointTableReadModel(store);
          const name = `filtering-${readModel.prefix}`;
          const projections = await runPartitionsUntil(
            store,
            readModel,
            name,
            total,
            log.at(-1)!.checkpoint,
            { batchSize: 5, serverSideFiltering },
          );
          handled.set(
            serverSideFiltering,
            projections.map((p) => p.calls.map((e) => e.eventId)),
          );
          await readModel.assertApplied(log, () => true);
        }
        assert.deepEqual(
          handled.get(true),
          handled.get(false),
          'filtering in the database changes nothing a partition sees',
        );
      }),
    );

    api.it(
      'a partition without events of its own still moves its checkpoint to the end of the log',
      () =>
        withFreshStore(harness, async ({ store }) => {
          // One aggregate: of 8 partitions, 7 see none of its events.
          await appendEvents(store, [{ aggregateId: 'lonely', count: 9 }], 3);
          const log = await readWholeLog(store);
          const total = 8;
          const owner = fnv1a32(log[0]!.aggregateId) % total;
          const readModel = new CheckpointTableReadModel(store);
          const name = `sparse-${readModel.prefix}`;
          const projections = await runPartitionsUntil(
            store,
            readModel,
            name,
            total,
            log.at(-1)!.checkpoint,
            { batchSize: 2 },
          );
          for (const [partitionKey, projection] of projections.entries()) {
            assert.equal(
              projection.calls.length,
              partitionKey === owner ? log.length : 0,
              `partition ${partitionKey} handles ${partitionKey === owner ? 'every' : 'no'} event`,
            );
          }
        }),
    );

    api.it(
      'a segment batch covers the next rows: all of its segment, and the last one in any case',
      () =>
        withFreshStore(harness, async ({ store }) => {
          await appendEvents(store, partitionedStreams(), 2);
          const log = await readWholeLog(store);
          const segments = 4;
          const limit = 7;
          for (let segment = 0; segment < segments; segment++) {
            const name = `segment-batch-${segment}-${log[0]!.eventId}`;
            let after = 0;
            while (after < log.length) {
              const batch = await store.transaction((tx) =>
                readLazyProjectionBatch(store, tx, name, { limit }, { segment, segments }),
              );
              const covered = log.slice(after, after + limit);
              assert.equal(batch.scanned, covered.length, 'scanned: the rows the batch covered');
              const ids = batch.entries.map((e) => (e as { eventId?: string }).eventId);
              const coveredIds = covered.map((e) => e.eventId);
              for (const id of ids) {
                assert.ok(coveredIds.includes(id!), 'every entry is one of the covered rows');
              }
              assert.deepEqual(
                ids,
                coveredIds.filter((id) => ids.includes(id)),
                'entries come in log order',
              );
              for (const event of covered) {
                if (fnv1a32(event.aggregateId) % segments === segment) {
                  assert.ok(ids.includes(event.eventId), 'every row of the segment is an entry');
                }
              }
              assert.equal(
                batch.entries.at(-1)!.checkpoint,
                covered.at(-1)!.checkpoint,
                'the last covered row is the last entry',
              );
              await store.transaction((tx) =>
                store.saveCheckpoint(tx, name, covered.at(-1)!.checkpoint),
              );
              after += covered.length;
            }
          }
        }),
    );
  });
}
