import type { ExpectedVersion } from './expected-version.js';
import type { DomainEvent, NewEventOf, PersistedEventOf } from './typed-events.js';

/**
 * Opaque, totally ordered position in the event log. Reading "after" a checkpoint resumes exactly
 * after the event that carried it. Checkpoints of one store compare correctly as plain strings
 * (`a < b`), but their content is the adapter's business: store them, never build them.
 */
export type Checkpoint = string;

/** Identifies one aggregate's stream. The same id under another type or context is another stream. */
export interface StreamRef {
  /** The bounded context the aggregate belongs to, such as `billing`. */
  boundedContext: string;
  /** The aggregate's type, such as `Invoice`. */
  aggregateType: string;
  /** The aggregate's id: any non-empty string (UUID, email, …). */
  aggregateId: string;
}

/**
 * An event to append. Only the stream, `eventType` and `payload` are required.
 * @typeParam P The payload's type.
 * @typeParam T The event type (a string literal in a typed store, see `NewEventOf`).
 */
export interface NewEvent<P = unknown, T extends string = string> extends StreamRef {
  /** The event's type, such as `InvoiceIssued`. */
  eventType: T;
  /** The domain data, serialized by the store's serializer (JSON by default). */
  payload: P;
  /** UUID of the event; a time-ordered UUID (v7) is generated when absent. */
  eventId?: string;
  /**
   * Version of the payload's schema. @default 1, or the event type's current version when the
   * store has upcasters for it (one more than the highest version they upcast from)
   */
  eventVersion?: number;
  /** Free-form JSON-serializable data about the event. @default null */
  metadata?: Record<string, unknown> | null;
  /** Distributed trace id. @default null */
  traceId?: string | null;
  /** Id shared by every event of one business flow. @default null */
  correlationId?: string | null;
  /** Id of the event or command that caused this one. @default null */
  causationId?: string | null;
  /** When the event happened. @default now */
  createdAt?: Date;
}

/**
 * An event as stored in the log, with every field present.
 * @typeParam P The payload's type.
 * @typeParam T The event type (a string literal in a typed store, see `PersistedEventOf`).
 */
export interface PersistedEvent<P = unknown, T extends string = string> extends StreamRef {
  /** Unique, increasing position assigned by the store. Gaps are possible. */
  globalPosition: number;
  /** 1-based position within the aggregate's stream. */
  aggregateVersion: number;
  /** Token to resume reading right after this event. */
  checkpoint: Checkpoint;
  eventId: string;
  eventType: T;
  /** Version of the payload's schema; after upcasting, the version the payload was upcast to. */
  eventVersion: number;
  payload: P;
  metadata: Record<string, unknown> | null;
  traceId: string | null;
  correlationId: string | null;
  causationId: string | null;
  createdAt: Date;
}

/** What an append wrote. `E` describes the store's events (see `DomainEvent`). */
export interface AppendResult<E extends object = DomainEvent> {
  /** The appended events as stored, in order. */
  events: PersistedEventOf<E>[];
  /** Their global positions, in order. */
  globalPositions: number[];
  /** The stream's version before the first appended event (0 for a new stream). */
  fromVersion: number;
  /** The stream's version after the last appended event. */
  toVersion: number;
}

/** One aggregate's stream (or a range of it) as read back. `E` describes the store's events. */
export interface Stream<E extends object = DomainEvent> extends StreamRef {
  /** The events in version order. */
  events: PersistedEventOf<E>[];
  /** Version of the last event read; 0 when no event was read. */
  version: number;
  /** Whether no event was read. */
  isEmpty: boolean;
}

/** Options of {@link EventStore.readEvents}. */
export interface ReadEventsOptions {
  /** Read the events after this checkpoint; `null` or absent reads from the start of the log. */
  after?: Checkpoint | null;
  /** Maximum number of events returned (a positive integer). */
  limit: number;
}

/** Inclusive version range of {@link EventStore.readAggregateStream}. */
export interface VersionRange {
  /** First version to read (inclusive). @default 1 */
  fromVersion?: number;
  /** Last version to read (inclusive). @default the stream's last version */
  toVersion?: number;
}

/** Options of {@link EventStore.transaction}. */
export interface TransactionOptions {
  /** Gives up the transaction when it aborts. */
  signal?: AbortSignal;
  /** Gives up the transaction after this many milliseconds (at most 2^31-1). */
  timeoutMs?: number;
}

/** Options of {@link EventStore.appendToStream}. */
export interface AppendToStreamOptions {
  /**
   * Gives up the append: before it was sent, it rejects with `OperationAbortedError` and writes
   * nothing; afterwards, as {@link EventStore.transaction} does.
   */
  signal?: AbortSignal;
  /** Gives up the append after this many milliseconds, as {@link EventStore.transaction} does. */
  timeoutMs?: number;
}

/** Options of {@link EventStore.waitForEvents}. */
export interface WaitForEventsOptions {
  /** Resolves early when aborted. */
  signal: AbortSignal;
  /** Resolves after this many milliseconds at the latest. */
  timeoutMs: number;
}

/**
 * How far the log reaches, as seen from a checkpoint. It counts every committed event, including
 * ones a store does not return from `readEvents` yet (PostgreSQL holds back events committed after
 * an older transaction that is still running), so a projection is caught up only once it has
 * really read them.
 */
export interface LogStatus {
  /** Checkpoint of the newest committed event; `null` when the log is empty. */
  headCheckpoint: Checkpoint | null;
  /** Global position of the newest committed event; `null` when the log is empty. */
  headPosition: number | null;
  /** How many committed events lie after the given checkpoint. */
  eventsAfter: number;
}

/** Options of {@link EventStore.getCheckpoint}. */
export interface GetCheckpointOptions {
  /** Hold the projection's lock until the transaction ends. @default false */
  lock?: boolean;
}

/** Options of {@link EventStore.readProjectionBatch}. */
export interface ReadProjectionBatchOptions {
  /** At most this many events (1 to 100,000). */
  limit: number;
}

/** What {@link EventStore.readProjectionBatch} returns. */
export interface ProjectionBatch<E extends object = DomainEvent> {
  /** The projection's saved checkpoint the events follow; `null` when none was saved. */
  checkpoint: Checkpoint | null;
  /** Up to `limit` events after it, in log order. */
  events: PersistedEventOf<E>[];
}

/** A projection's saved checkpoint, as {@link EventStore.listCheckpoints} returns it. */
export interface SavedCheckpoint {
  /** The checkpoint's key: a projection's name, or `<name>_p<key>` for a partition. */
  projectionName: string;
  /** The saved checkpoint. */
  checkpoint: Checkpoint;
}

/**
 * One row of the lease table that projection workers coordinate through (see
 * `ProjectionWorker`): a segment's lease (`key` `s<segment>`) or a worker's presence (`key`
 * `w:<workerId>`).
 */
export interface ProjectionLease {
  /** What is leased: `s<segment>` for a segment, `w:<workerId>` for a worker's presence. */
  key: string;
  /** The worker holding it; `null` when released. */
  owner: string | null;
  /** Fencing token: grows by one each time the lease changes hands. */
  epoch: number;
  /** When the lease ends unless renewed, in milliseconds since the epoch, by the database's clock. */
  expiresAt: number;
}

/** What {@link EventStore.readLeases} returns. */
export interface ProjectionLeases {
  /** The database's clock, in milliseconds since the epoch. */
  now: number;
  /** Every lease row of the projection, by key. */
  leases: ProjectionLease[];
}

/**
 * An event a projection could not handle and set aside under its `deadLetter` policy (see
 * `Projection.onError`), as {@link EventStore.listDeadLetters} returns it.
 */
export interface DeadLetter {
  /** The projection's name (not a segment's or partition's checkpoint name). */
  projectionName: string;
  /** The event's global position. */
  globalPosition: number;
  /** The event's checkpoint. */
  checkpoint: Checkpoint;
  /** The handler's error message (or why the event could not be decoded). */
  error: string;
  /** When it was set aside, in milliseconds since the epoch. */
  failedAt: number;
}

/** Names of the three tables; each may be schema-qualified (`schema.table`). */
export interface TableNames {
  /** @default 'events' */
  events: string;
  /** @default 'aggregate_heads' */
  aggregateHeads: string;
  /** @default 'projection_checkpoints' */
  checkpoints: string;
}

/**
 * The contract every adapter implements. `Tx` is the driver's own transaction handle, so callers
 * can run their own SQL in the same transaction as an append.
 *
 * `E` describes the events the store holds: a union of {@link DomainEvent}s or an `EventMap`.
 * With it, `append` accepts only known `eventType`/`payload` pairs and reads narrow `payload` by
 * `eventType`. It is a compile-time description only (validate at run time with
 * `events.schemas` in the options). The default is the untyped store: any event type, payloads
 * `unknown`.
 */
export interface EventStore<Tx = unknown, E extends object = DomainEvent> {
  /**
   * Runs `fn` in a transaction: commits when it resolves, rolls back when it throws. Called inside
   * another transaction callback of the same store, `fn` runs in a savepoint of that transaction.
   * With `options.signal` or `options.timeoutMs`, the call rejects with `OperationAbortedError`
   * as soon as the signal aborts or the time is up, even while the database is stalled; the store
   * gives up the transaction (its connection is closed where the driver cannot cancel), and its
   * later calls reject. `commitUnknown` on the error says whether COMMIT was already under way.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Appends events to one stream atomically, each with the next consecutive version.
   * @throws {NoEventsError} when `events` is empty.
   * @throws {InvalidEventError} when an event is invalid (nothing is written).
   * @throws {OptimisticConcurrencyError} when the stream's version does not match `expected`.
   * @throws {DuplicateEventIdError} when an event id already exists.
   */
  append(
    tx: Tx,
    expected: ExpectedVersion,
    events: readonly NewEventOf<E>[],
  ): Promise<AppendResult<E>>;
  /**
   * Appends events to one stream in a transaction of its own, for callers with nothing else to
   * write in it: one round trip where the database allows it, with every guarantee of `append`.
   * Called inside a transaction callback of the same store, it joins that transaction (as a
   * nested `transaction()` would) instead of opening a second one.
   * @throws the errors of {@link append}, and `OperationAbortedError` when `options.signal`
   * aborted before the append was sent.
   */
  appendToStream(
    expected: ExpectedVersion,
    events: readonly NewEventOf<E>[],
    options?: AppendToStreamOptions,
  ): Promise<AppendResult<E>>;
  /** Reads up to `limit` events in log order after a checkpoint. */
  readEvents(tx: Tx, options: ReadEventsOptions): Promise<PersistedEventOf<E>[]>;
  /** Reads one stream, whole or a version range of it, in version order. */
  readAggregateStream(tx: Tx, stream: StreamRef, range?: VersionRange): Promise<Stream<E>>;
  /**
   * The saved checkpoint of a projection, or `null` when none was saved. With `{ lock: true }`
   * the store also holds the projection's lock until `tx` ends, so workers of one projection (or
   * partition) in different processes take turns batch by batch instead of handling the same
   * events twice. Stores whose transactions never overlap (SQLite, in-memory) ignore it.
   */
  getCheckpoint(
    tx: Tx,
    projectionName: string,
    options?: GetCheckpointOptions,
  ): Promise<Checkpoint | null>;
  /**
   * Optional: one projection batch's read. Locks the projection's checkpoint until `tx` ends and
   * reads up to `limit` events after it: the same result as `getCheckpoint(tx, name, { lock: true
   * })` followed by `readEvents(tx, { after, limit })`, in fewer round trips. The projection
   * processor uses it when a store has it.
   * @throws {InvalidArgumentError} on an invalid projection name or limit.
   */
  readProjectionBatch?(
    tx: Tx,
    projectionName: string,
    options: ReadProjectionBatchOptions,
  ): Promise<ProjectionBatch<E>>;
  /** Saves (inserts or overwrites) the checkpoint of a projection. */
  saveCheckpoint(tx: Tx, projectionName: string, checkpoint: Checkpoint): Promise<void>;
  /**
   * Optional: deletes the saved checkpoint of a projection (or partition), so it starts again
   * from the beginning of the log; resolves with whether there was one. Waits for a batch of the
   * projection that holds its lock. `resetProjection` uses it.
   * @throws {InvalidArgumentError} on an invalid projection name.
   */
  deleteCheckpoint?(tx: Tx, projectionName: string): Promise<boolean>;
  /** Optional: every saved checkpoint, by projection name. `resetProjection` uses it. */
  listCheckpoints?(tx: Tx): Promise<SavedCheckpoint[]>;
  /**
   * Optional (with {@link listDeadLetters}): records an event a projection set aside under its
   * `deadLetter` policy, in the batch's transaction (overwrites the same projection and position).
   */
  saveDeadLetter?(tx: Tx, deadLetter: DeadLetter): Promise<void>;
  /** Optional: the dead letters of a projection, by global position. */
  listDeadLetters?(tx: Tx, projectionName: string): Promise<DeadLetter[]>;
  /**
   * Optional (with {@link saveDeadLetter} and {@link listDeadLetters}): deletes the dead letter
   * `(projectionName, globalPosition)` and resolves with whether there was one. The row stays
   * locked until `tx` ends, so a second transaction deleting it waits, then deletes nothing once
   * the first commits: `replayDeadLetters` relies on it to apply a letter once.
   * @throws {InvalidArgumentError} on an invalid projection name or position.
   */
  deleteDeadLetter?(tx: Tx, projectionName: string, globalPosition: number): Promise<boolean>;
  /**
   * Optional: the event at a global position, decoded as every read decodes it (upcasters, and
   * the schema check with `validateOnRead`), or `null` when `tx` sees no event there (none was
   * written, it was rolled back, or the position lies past the end of the log).
   * @throws {InvalidArgumentError} when `globalPosition` is not a positive safe integer (before
   * any database work).
   */
  readEventAtPosition?(tx: Tx, globalPosition: number): Promise<PersistedEventOf<E> | null>;
  /**
   * Optional (with {@link saveLease}, {@link deleteLease} and {@link lockLease}: the lease
   * capability `ProjectionWorker` needs): every lease row of a projection and the database's
   * clock, the rows locked until `tx` ends.
   */
  readLeases?(tx: Tx, projectionName: string): Promise<ProjectionLeases>;
  /** Optional: inserts or overwrites one lease row of a projection. */
  saveLease?(tx: Tx, projectionName: string, lease: ProjectionLease): Promise<void>;
  /** Optional: deletes one lease row of a projection. */
  deleteLease?(tx: Tx, projectionName: string, key: string): Promise<void>;
  /**
   * Optional: one lease row of a projection (`null` when absent), locked until `tx` ends: the
   * fencing check a worker runs before it saves a segment's checkpoint.
   */
  lockLease?(tx: Tx, projectionName: string, key: string): Promise<ProjectionLease | null>;
  /** Creates the tables and indexes when missing; idempotent. */
  migrate(): Promise<void>;
  /**
   * Optional wake-up hint: resolves when new events may have been appended, when `timeoutMs`
   * passes, or when `signal` aborts, whichever comes first. It may resolve spuriously.
   */
  waitForEvents?(options: WaitForEventsOptions): Promise<void>;
  /** Optional: where the log ends and how many committed events lie after `after`. */
  getLogStatus?(tx: Tx, options?: { after?: Checkpoint | null }): Promise<LogStatus>;
  /** Releases what the store itself opened (never the pool or database it was given). */
  close(): Promise<void>;
}

/** Extracts the transaction handle type of a store. */
export type TxOf<S> = S extends EventStore<infer Tx> ? Tx : never;
