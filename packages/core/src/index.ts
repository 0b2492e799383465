export type { CompleteEventStore } from './adapter/create-event-store.js';
export { compareCheckpoints } from './checkpoint.js';
export type { CommandHandler, Decider } from './command/decider.js';
export {
  type DeciderSpecification,
  type DecisionAssertions,
  type DecisionOutcome,
  type DecisionScenario,
  deciderSpec,
} from './command/decider-spec.js';
export {
  type CommandResult,
  type HandleCommandOptions,
  handleCommand,
} from './command/handle-command.js';
export {
  ConnectionLostError,
  DatabaseError,
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidEventError,
  InvalidStoredEventError,
  isTransientError,
  LeaseLostError,
  NoEventsError,
  OperationAbortedError,
  OptimisticConcurrencyError,
  ProjectionError,
  PupError,
  type PupErrorCode,
  SchemaVersionError,
  StoreClosedError,
} from './errors.js';
export type {
  EventOptions,
  EventSchemas,
  EventUpcasters,
  UpcastEvent,
  Upcaster,
} from './event-options.js';
export { ExpectedVersion, type ExpectedVersionKind } from './expected-version.js';
export {
  createInMemoryEventStore,
  type InMemoryEventStore,
  type InMemoryEventStoreOptions,
  type InMemoryRowCounts,
  type InMemoryTransaction,
} from './in-memory/in-memory-store.js';
export { type InputLimits, inputLimits } from './input-limits.js';
export {
  type IterateAggregateStreamOptions,
  type IterateEventsOptions,
  type IterateOptions,
  iterateAggregateStream,
  iterateEvents,
} from './iterate.js';
export type { Logger } from './logger.js';
export type { EventStoreOptions } from './options.js';
export {
  projectionCheckpointName,
  type ResolvedProjectionProcessorConfig,
} from './projection/config.js';
export { hashPartitionStrategy, type PartitionStrategy } from './projection/partition.js';
export { ProjectionProcessor } from './projection/processor.js';
export {
  type ReplayDeadLettersOptions,
  type ReplayDeadLettersResult,
  replayDeadLetters,
} from './projection/replay.js';
export { type ResetProjectionOptions, resetProjection } from './projection/reset.js';
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
  ProjectionErrorPolicy,
  ProjectionProcessorConfig,
  RunOptions,
} from './projection/types.js';
export {
  type ProjectionTarget,
  type WaitForProjectionOptions,
  waitForProjection,
} from './projection/wait-for-projection.js';
export {
  hasLeaseSupport,
  ProjectionWorker,
  type ProjectionWorkerConfig,
} from './projection/worker.js';
export {
  getProjectionWorkerStatus,
  type ProjectionSegmentStatus,
  type ProjectionWorkerStatus,
} from './projection/worker-status.js';
export { MAX_READ_LIMIT } from './read-input.js';
export {
  bytesSerializer,
  jsonSerializer,
  type Serializer,
  type SerializerEvent,
} from './serializer.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export type {
  DomainEvent,
  EventDataOf,
  EventMap,
  EventMapOf,
  EventTypeOf,
  EventUnion,
  NewEventOf,
  PayloadOf,
  PersistedEventOf,
} from './typed-events.js';
export type {
  AppendResult,
  AppendToStreamOptions,
  Checkpoint,
  DeadLetter,
  EventStore,
  GetCheckpointOptions,
  LogStatus,
  NewEvent,
  PersistedEvent,
  ProjectionBatch,
  ProjectionLease,
  ProjectionLeases,
  ReadEventsOptions,
  ReadProjectionBatchOptions,
  SavedCheckpoint,
  Stream,
  StreamRef,
  TableNames,
  TransactionOptions,
  TxOf,
  VersionRange,
  WaitForEventsOptions,
} from './types.js';
