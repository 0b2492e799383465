/**
 * The adapter-author API of pup (`@pup/core/adapter`): build a complete event store from a
 * dialect that only does database work. Application code imports `@pup/core` instead.
 *
 * @packageDocumentation
 */
export {
  buildAppendResult,
  type PreparedAppend,
  type PreparedEvent,
  prepareAppend,
} from '../append-input.js';
export { type ResolvedEventStoreOptions, resolveEventStoreOptions } from '../options.js';
export { fnv1a32 } from '../projection/partition.js';
export { decodeEvent, MAX_READ_LIMIT } from '../read-input.js';
export {
  type DerivedTable,
  defaultTableNames,
  derivedIdentifier,
  derivedTableName,
  derivedTables,
  parseQualifiedName,
  quoteQualifiedName,
  resolveTableNames,
} from '../table-names.js';
export { isUuid, uuidv7 } from '../uuid.js';
export {
  type CompleteEventStore,
  createEventStore,
  type EventStoreKit,
} from './create-event-store.js';
export type {
  AppendOutcome,
  CheckpointCodec,
  CommitListener,
  CommitListenerHandlers,
  DialectCall,
  DialectProjectionBatch,
  DialectSegmentBatch,
  EventStoreDialect,
  SegmentFilter,
  StoredEventRow,
  TransactionScope,
} from './dialect.js';
export { MAX_WAIT_MS } from './event-waiter.js';
export { Mutex } from './mutex.js';
export { positionCheckpoint, positionCheckpoints } from './position-checkpoint.js';
