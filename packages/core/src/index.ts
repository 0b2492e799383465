export {
  buildAppendResult,
  type PreparedAppend,
  type PreparedEvent,
  prepareAppend,
} from './append-input.js';
export { compareCheckpoints, parsePositionCheckpoint, positionCheckpoint } from './checkpoint.js';
export {
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidEventError,
  NoEventsError,
  OptimisticConcurrencyError,
  ProjectionError,
  PupError,
  type PupErrorCode,
  StoreClosedError,
} from './errors.js';
export {
  assertExpectedVersion,
  checkExpectedVersion,
  ExpectedVersion,
  type ExpectedVersionKind,
} from './expected-version.js';
export {
  createInMemoryEventStore,
  type InMemoryEventStore,
  type InMemoryEventStoreOptions,
  type InMemoryRowCounts,
  type InMemoryTransaction,
} from './in-memory/in-memory-store.js';
export type { Logger } from './logger.js';
export {
  type EventStoreOptions,
  type ResolvedEventStoreOptions,
  resolveEventStoreOptions,
} from './options.js';
export {
  projectionCheckpointName,
  type ResolvedProjectionProcessorConfig,
} from './projection/config.js';
export { fnv1a32, hashPartitionStrategy, type PartitionStrategy } from './projection/partition.js';
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
export {
  buildStream,
  decodeEvent,
  MAX_READ_LIMIT,
  type StoredEventRow,
  validateCheckpoint,
  validateProjectionBatchInput,
  validateProjectionName,
  validateReadEventsOptions,
  validateStreamRef,
  validateVersionRange,
} from './read-input.js';
export {
  bytesSerializer,
  jsonSerializer,
  type Serializer,
  type SerializerEvent,
} from './serializer.js';
export {
  defaultTableNames,
  parseQualifiedName,
  quoteQualifiedName,
  resolveTableNames,
} from './table-names.js';
export type {
  AppendResult,
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
  TxOf,
  VersionRange,
  WaitForEventsOptions,
} from './types.js';
export { isUuid, uuidv7 } from './uuid.js';
