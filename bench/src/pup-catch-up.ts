import type { EventStore, Projection, ProjectionProcessorConfig, RunOptions } from '@pup/core';
import * as core from '@pup/core';
import type { CatchUpOptions } from './targets/types.js';

/** The part of core's `ProjectionProcessor` the benchmark uses. */
interface Processor {
  run(projection: Projection<any>, options?: RunOptions): Promise<void>;
}
type ProcessorClass = new (store: EventStore<any>, config?: ProjectionProcessorConfig) => Processor;

/** Core's `ProjectionProcessor`, or null while the projection engine has not landed. */
export function projectionProcessorClass(): ProcessorClass | null {
  const value = (core as Record<string, unknown>).ProjectionProcessor;
  return typeof value === 'function' ? (value as ProcessorClass) : null;
}

let projectionCounter = 0;

/**
 * Catches a fresh projection with a no-op handler up on the whole log through core's
 * `ProjectionProcessor`, and stops it once it has seen `total` events and committed their batch:
 * the processor rolls back a batch aborted in its handler, so the stop happens when it asks for
 * the next transaction.
 */
export async function pupCatchUp(store: EventStore<any>, options: CatchUpOptions): Promise<number> {
  const Processor = projectionProcessorClass();
  if (Processor === null) throw new Error('@pup/core has no ProjectionProcessor yet');
  projectionCounter += 1;
  const controller = new AbortController();
  let seen = 0;
  const { total, batchSize, onBatch } = options;
  const projection: Projection<any> = {
    name: `bench-catch-up-${process.pid}-${projectionCounter}`,
    handle() {
      seen += 1;
      if (onBatch !== undefined && seen % batchSize === 0) onBatch(seen);
    },
  };
  const stopping: EventStore<any> = Object.create(store);
  stopping.transaction = <T>(fn: (tx: unknown) => Promise<T>): Promise<T> => {
    if (seen < total) return store.transaction(fn);
    controller.abort();
    // "Nothing read": the processor sees the abort and returns.
    return Promise.resolve(0 as T);
  };
  const processor = new Processor(stopping, { batchSize, pollIntervalMs: 5 });
  await processor.run(projection, { signal: controller.signal });
  return seen;
}
