import assert from 'node:assert/strict';
import { ExpectedVersion } from '../../src/expected-version.js';
import { fnv1a32 } from '../../src/projection/partition.js';
import { ProjectionProcessor } from '../../src/projection/processor.js';
import { runProjections } from '../../src/projection/runner.js';
import { waitForProjection } from '../../src/projection/wait-for-projection.js';
import type { EventStore } from '../../src/types.js';

/** Raw SQL access to the store under test, for what the public API cannot do. */
export interface UpgradeScenarioAccess {
  /** Turns the store's tables back into schema version 1: drops `aggregate_hash`, records 1. */
  downgradeToVersion1(): Promise<void>;
  /** `[aggregate_id, aggregate_hash]` of every event row, `aggregate_hash` NULL as `null`. */
  hashes(): Promise<[string, number | null][]>;
  /** The recorded schema version. */
  schemaVersion(): Promise<number>;
}

const append = async (store: EventStore<any>, ids: string[], round: number): Promise<void> => {
  for (const aggregateId of ids) {
    await store.appendToStream(ExpectedVersion.any(), [
      {
        boundedContext: 'upgrade',
        aggregateType: 'Thing',
        aggregateId,
        eventType: 'Touched',
        payload: { round },
      },
    ]);
  }
};

/**
 * Schema version 1 → 2 on a store with events: `migrate()` adds `aggregate_hash` and records
 * version 2; rows written before keep NULL, new rows get `fnv1a32(aggregate_id)`; partitioned
 * processors that filter in the database still hand every partition exactly its events, old and
 * new, and every partition's checkpoint reaches the end.
 */
export async function runSchemaUpgradeScenario(
  store: EventStore<any>,
  access: UpgradeScenarioAccess,
): Promise<void> {
  const ids = Array.from({ length: 12 }, (_, i) => `thing-${i}`);
  await append(store, ids, 1);
  await access.downgradeToVersion1();
  assert.equal(await access.schemaVersion(), 1);
  await store.migrate();
  assert.equal(await access.schemaVersion(), 2, 'migrate() records schema version 2');
  await store.migrate(); // idempotent
  const last = await append(store, ids, 2).then(() =>
    store.appendToStream(ExpectedVersion.any(), [
      {
        boundedContext: 'upgrade',
        aggregateType: 'Thing',
        aggregateId: ids[0]!,
        eventType: 'Touched',
        payload: { round: 3 },
      },
    ]),
  );
  const hashes = await access.hashes();
  assert.equal(hashes.length, 25);
  assert.equal(hashes.filter(([, hash]) => hash === null).length, 12, 'old rows keep NULL');
  for (const [id, hash] of hashes) {
    if (hash !== null) assert.equal(hash, fnv1a32(id), `the hash of ${id}`);
  }

  const total = 3;
  const seen = new Map<number, string[]>();
  const name = 'upgrade-check';
  const partitions = Array.from({ length: total }, (_, partitionKey) => {
    seen.set(partitionKey, []);
    return {
      processor: new ProjectionProcessor(store, {
        batchSize: 4,
        pollIntervalMs: 20,
        partitionKey,
        totalPartitions: total,
      }),
      projection: {
        name,
        handle: (event: { aggregateId: string }) => {
          seen.get(partitionKey)!.push(event.aggregateId);
        },
      },
    };
  });
  const controller = new AbortController();
  const running = runProjections(partitions as never, { signal: controller.signal });
  try {
    await waitForProjection(store, name, last, { totalPartitions: total, timeoutMs: 20_000 });
  } finally {
    controller.abort();
    await running;
  }
  for (const [partitionKey, handled] of seen) {
    const expected = hashes.map(([id]) => id).filter((id) => fnv1a32(id) % total === partitionKey);
    assert.deepEqual(
      [...handled].sort(),
      [...expected].sort(),
      `partition ${partitionKey} handles its events, written before and after the upgrade`,
    );
  }
}
