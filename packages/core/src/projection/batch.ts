import type { SegmentFilter, StoredEventRow } from '../adapter/dialect.js';
import type {
  EventStore,
  PersistedEvent,
  ProjectionBatch,
  ReadProjectionBatchOptions,
} from '../types.js';

/**
 * What every entry of a batch carries before its payload is decoded: enough to decide whether a
 * projection handles it, and the checkpoint to save.
 */
export type BatchEntry = Pick<
  PersistedEvent,
  'boundedContext' | 'aggregateType' | 'aggregateId' | 'checkpoint' | 'globalPosition'
>;

/** A projection batch whose entries are decoded only when a handler needs them. */
export interface LazyProjectionBatch<E extends BatchEntry = BatchEntry> {
  readonly entries: readonly E[];
  /**
   * How many rows of the log the batch covered: `entries.length`, or more when the database left
   * out the rows of other segments (the last covered row is always an entry).
   */
  readonly scanned: number;
  /** The event of an entry, payload and metadata decoded. */
  decode(entry: E): PersistedEvent;
}

/**
 * Key of the method stores built by `createEventStore` offer the processor: a projection batch of
 * undecoded rows, so events a projection skips (scope, partition) cost no decoding.
 * @internal
 */
export const readProjectionRows: unique symbol = Symbol.for('@pup/core.readProjectionRows');

/** The shape of that method. @internal */
export type ReadProjectionRows<Tx> = (
  tx: Tx,
  projectionName: string,
  options: ReadProjectionBatchOptions,
  segment?: SegmentFilter,
) => Promise<LazyProjectionBatch<StoredEventRow>>;

const decoded = (event: PersistedEvent): PersistedEvent => event;

/**
 * Locks a projection's checkpoint and reads the events after it, for the processor: undecoded
 * through a store built by the adapter kit, else decoded through {@link readProjectionBatch}.
 * With `segment`, a store whose database filters by segment leaves out most rows of other
 * segments (the caller still filters what it gets).
 */
export async function readLazyProjectionBatch<Tx>(
  store: EventStore<Tx>,
  tx: Tx,
  projectionName: string,
  options: ReadProjectionBatchOptions,
  segment?: SegmentFilter,
): Promise<LazyProjectionBatch> {
  const rows = (store as { [readProjectionRows]?: ReadProjectionRows<Tx> })[readProjectionRows];
  if (typeof rows === 'function') {
    return (await rows(tx, projectionName, options, segment)) as LazyProjectionBatch;
  }
  const { events } = await readProjectionBatch(store, tx, projectionName, options);
  return {
    entries: events,
    scanned: events.length,
    decode: decoded as (entry: BatchEntry) => PersistedEvent,
  };
}

/**
 * Locks a projection's checkpoint and reads the events after it, decoded: through the store's
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
