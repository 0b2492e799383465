import type { EventStore, ProjectionBatch, ReadProjectionBatchOptions } from '../types.js';

/**
 * Locks a projection's checkpoint and reads the events after it: through the store's
 * `readProjectionBatch` when it has one, else through `getCheckpoint(…, { lock: true })` and
 * `readEvents`.
 */
export async function readProjectionBatch<Tx>(
  store: EventStore<Tx>,
  tx: Tx,
  projectionName: string,
  options: ReadProjectionBatchOptions,
): Promise<ProjectionBatch> {
  if (store.readProjectionBatch !== undefined) {
    return store.readProjectionBatch(tx, projectionName, options);
  }
  const checkpoint = await store.getCheckpoint(tx, projectionName, { lock: true });
  const events = await store.readEvents(tx, { after: checkpoint, limit: options?.limit });
  return { checkpoint, events };
}
