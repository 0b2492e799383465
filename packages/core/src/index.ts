export type { CompleteEventStore } from './adapter/create-event-store.js';
export { compareCheckpoints } from './checkpoint.js';
export {
  ConnectionLostError,
  DatabaseError,
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidEventError,
  isTransientError,
  NoEventsError,
  OperationAbortedError,
  OptimisticConcurrencyError,
  ProjectionError,
  PupError,
  type PupErrorCode,
  SchemaVersionError,
  StoreClosedError,
} from './errors.js';
export { ExpectedVersion, type ExpectedVersionKind } from './expected-version.js';
export {
  createInMemoryEventStore,
  type InMemoryEventStore,
  type InMemoryEventStoreOptions,
  type InMemoryRowCounts,
  type InMemoryTransaction,
} from './in-memory/in-memory-store.js';
export { type InputLimits, inputLimits } from './input-limits.js';
export type { Logger } from './logger.js';
export type { EventStoreOptions } from './options.js';
export {
  projectionCheckpointName,
  type ResolvedProjectionProcessorConfig,
} from './projection/config.js';
export { hashPartitionStrategy, type PartitionStrategy } from './projection/partition.js';
export { ProjectionProcessor } from './projection/processor.js';
export {
  type ProjectionRunEntry,
  type RunProjectionPartitionsOptions,
  runProjectionPartitions,
  runProjections,
} from './projection/runner.js';
export {
  getProjectionStatus,
  type ProjectionPartitionStatus,
  type ProjectionStatus,
  type ProjectionStatusOptions,
} from './projection/status.js';
export type {
  Projection,
  ProjectionContext,
  ProjectionProcessorConfig,
  RunOptions,
} from './projection/types.js';
export { MAX_READ_LIMIT } from './read-input.js';
export {
  bytesSerializer,
  jsonSerializer,
  type Serializer,
  type SerializerEvent,
} from './serializer.js';
export type {
  AppendResult,
  AppendToStreamOptions,
  Checkpoint,
  EventStore,
  GetCheckpointOptions,
  LogStatus,
  NewEvent,
  PersistedEvent,
  ProjectionBatch,
  ReadEventsOptions,
  ReadProjectionBatchOptions,
  Stream,
  StreamRef,
  TableNames,
  TransactionOptions,
  TxOf,
  VersionRange,
  WaitForEventsOptions,
} from './types.js';
