import {
  type EventStore,
  type Projection,
  ProjectionProcessor,
  type TransactionOptions,
} from '@pup/core';
import type { CatchUpOptions } from './targets/types.js';

let projectionCounter = 0;

/**
 * Catches a fresh projection with a no-op handler up on the whole log through core's
 * `ProjectionProcessor`, and stops it once it has seen `total` events and committed their batch:
 * the processor rolls back a batch aborted in its handler, so the stop happens when it asks for
 * the next transaction.
 */
export async function pupCatchUp(store: EventStore<any>, options: CatchUpOptions): Promise<number> {
  projectionCounter += 1;
  const controller = new AbortController();
  let seen = 0;
  const { total, batchSize, onBatch, signal } = options;
  const projection: Projection<any> = {
    name: `bench-catch-up-${process.pid}-${projectionCounter}`,
    handle() {
      seen += 1;
      if (onBatch !== undefined && seen % batchSize === 0) onBatch(seen);
    },
  };
  const stopping: EventStore<any> = Object.create(store);
  stopping.transaction = <T>(
    fn: (tx: unknown) => Promise<T>,
    transactionOptions?: TransactionOptions,
  ): Promise<T> => {
    if (seen < total && !signal?.aborted) return store.transaction(fn, transactionOptions);
    controller.abort();
    // "Nothing read": the processor sees the abort and returns.
    return Promise.resolve(0 as T);
  };
  const processor = new ProjectionProcessor(stopping, { batchSize, pollIntervalMs: 5 });
  await processor.run(projection, { signal: controller.signal });
  return seen;
}
