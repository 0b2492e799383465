import type { PreparedAppend } from '../append-input.js';
import type { PupError } from '../errors.js';
import type {
  Checkpoint,
  DeadLetter,
  LogStatus,
  ProjectionLease,
  ProjectionLeases,
  StreamRef,
} from '../types.js';

/**
 * An event row as a dialect read it, with driver values already turned into JavaScript numbers,
 * strings and bytes. Core decodes it into a `PersistedEvent` (payload through the serializer,
 * metadata from JSON, `createdAt` into a `Date`).
 */
export interface StoredEventRow {
  globalPosition: number;
  /** The event's checkpoint, encoded by the dialect (see {@link CheckpointCodec}). */
  checkpoint: Checkpoint;
  boundedContext: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  eventId: string;
  eventType: string;
  eventVersion: number;
  /** The serialized payload as stored. */
  payload: Uint8Array;
  /** JSON text, an already parsed object, or null. */
  metadata: string | Record<string, unknown> | null;
  traceId: string | null;
  correlationId: string | null;
  causationId: string | null;
  /** A `Date`, or milliseconds since the epoch. */
  createdAt: Date | number;
}

/**
 * Reads the checkpoints of one dialect. A checkpoint is an opaque string to users; inside the
 * dialect it stands for a position in its log order (`Position`): the global position on
 * databases whose log order is the position, a (transaction id, position) pair on PostgreSQL.
 * Dialects encode checkpoints themselves when they build rows; core only parses what users pass
 * in, so a foreign or malformed checkpoint is rejected before any SQL runs.
 */
export interface CheckpointCodec<Position> {
  /**
   * The position a checkpoint of this store stands for, or `undefined` when `checkpoint` (a
   * non-empty string) is not one of this store's checkpoints.
   */
  parse(checkpoint: string): Position | undefined;
}

/** What core tells a dialect about the call it makes with a transaction handle. */
export interface DialectCall {
  /**
   * The handle belongs to a transaction opened by `store.transaction()` of this store, or of a
   * store whose dialect shares its {@link EventStoreDialect.scopeKey}, and the call runs inside
   * it. When false the handle is the caller's own (a transaction opened with the driver, or a
   * connection in autocommit mode).
   */
  readonly inStoreTransaction: boolean;
  /**
   * The transaction was opened by `store.transaction()` of this very store, so its commit goes
   * through this dialect's {@link EventStoreDialect.transaction} (which can, for example, notify
   * listeners after it).
   */
  readonly ownTransaction: boolean;
}

/** What a dialect's {@link EventStoreDialect.transaction} can learn about the transaction it runs. */
export interface TransactionScope {
  /** Whether an append succeeded in the transaction so far (read it after the callback). */
  readonly appended: boolean;
  /**
   * Aborts when the caller gives the transaction up (its signal or timeout). Core has then already
   * rejected the caller; a dialect whose database work can stall should interrupt it (close the
   * connection instead of returning it to the pool). Absent when the caller set neither.
   */
  readonly signal: AbortSignal | undefined;
}

/** The outcome of a dialect's append. Core turns the failures into pup's errors. */
export type AppendOutcome =
  | {
      readonly status: 'appended';
      /** The stream's version before the first appended event. */
      readonly fromVersion: number;
      /** Each event's global position, in order. */
      readonly globalPositions: number[];
      /** Each event's checkpoint, in order. */
      readonly checkpoints: Checkpoint[];
    }
  | {
      /** The stream was not at the expected version; nothing was written. */
      readonly status: 'versionConflict';
      /** The stream's version that made the check fail (0 when the stream does not exist). */
      readonly actualVersion: number;
      /** The driver error behind it, when there was one. */
      readonly cause?: unknown;
    }
  | {
      /** An event id already exists; nothing was written. */
      readonly status: 'duplicateEventId';
      /** The duplicated id, when the database said which one. */
      readonly eventId?: string;
      readonly cause?: unknown;
    };

/** What a dialect's {@link EventStoreDialect.readProjectionBatch} returns. */
export interface DialectProjectionBatch {
  /** The projection's saved checkpoint; `null` when none was saved. */
  checkpoint: Checkpoint | null;
  /** Up to `limit` rows after it, in log order. */
  rows: StoredEventRow[];
}

/**
 * One segment of a projection's work: the aggregates with
 * `fnv1a32(aggregateId) % segments === segment` (the split of `hashPartitionStrategy`).
 */
export interface SegmentFilter {
  /** The segment, from 0 to `segments - 1`. */
  readonly segment: number;
  /** How many segments the work is split into (2 or more). */
  readonly segments: number;
}

/** What a dialect's {@link EventStoreDialect.readSegmentBatch} returns. */
export interface DialectSegmentBatch extends DialectProjectionBatch {
  /**
   * How many rows of the log the read covered: the next `limit` rows after the checkpoint (or
   * fewer, at the end of what is readable). `rows` holds those of the segment, plus the last
   * covered row in any case, so the checkpoint can move past rows of other segments.
   */
  scanned: number;
}

/** What core calls while it listens for commits (see {@link EventStoreDialect.listen}). */
export interface CommitListenerHandlers {
  /** New events may have been committed. */
  onCommit(): void;
  /** Notifications may have been lost (the connection dropped and came back). */
  onMissed(): void;
  /** The listener is gone for good; core opens a new one (with backoff) when someone waits. */
  onClosed(error?: unknown): void;
}

/** A running commit listener. */
export interface CommitListener {
  /** Stops listening and releases what the listener opened. */
  close(): Promise<void>;
}

/**
 * The database work of an event store, and nothing else. Give one to `createEventStore` and core
 * returns the complete `EventStore`: core validates every argument, prepares appends (ids,
 * serialization, metadata), builds results, decodes rows, turns failures into pup's errors,
 * rejects calls after `close()`, runs nested transactions as savepoints, implements
 * `waitForEvents` and logs. A dialect never sees invalid input: table names, projection names,
 * limits, version ranges and checkpoints reach it validated.
 *
 * Every method may throw driver errors: core wraps any error that is not a `PupError` in a
 * `DatabaseError` (or what {@link describeError} says) with the original as `cause`.
 *
 * @typeParam Tx The driver's own transaction handle, handed to users unchanged.
 * @typeParam Position A position in the dialect's log order (see {@link CheckpointCodec}).
 * @typeParam Status What {@link getLogStatus} returns; dialects may add fields.
 */
export interface EventStoreDialect<Tx, Position = unknown, Status extends LogStatus = LogStatus> {
  /** Human-readable name of the database, used in errors and logs (`'PostgreSQL'`). */
  readonly name: string;
  /** Parses this store's checkpoints. */
  readonly checkpoints: CheckpointCodec<Position>;
  /**
   * Transactions of stores whose dialects share this key nest into each other: a
   * `store.transaction()` called inside another store's transaction with the same key becomes a
   * savepoint of it instead of waiting for a second connection (better-sqlite3 uses the
   * `Database`). @default the dialect itself
   */
  readonly scopeKey?: object;

  /**
   * Whether `tx` can be a transaction handle of this dialect (a cheap shape check). Core rejects
   * anything else with `InvalidArgumentError` before calling the dialect.
   */
  isTransaction(tx: unknown): boolean;

  /**
   * Runs `fn` in a new transaction: begin, `fn`, commit when it resolves; roll back and rethrow
   * the very error when it rejects. Only called for outermost `store.transaction()` calls; core
   * runs nested ones through {@link savepoint}.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, scope: TransactionScope): Promise<T>;

  /**
   * Runs `fn` inside a savepoint `name` of the open transaction `tx`: release it when `fn`
   * resolves; roll back to it (and release it) and rethrow the very error when `fn` rejects.
   * Core never runs two savepoints of one transaction level at the same time.
   */
  savepoint<T>(tx: Tx, name: string, fn: () => Promise<T>): Promise<T>;

  /**
   * Writes a validated, encoded append to one stream, atomically: checks the stream's version
   * against `append.expected` and inserts the events with the next consecutive versions, so that
   * concurrent appenders to one stream can never both pass. On a failed check or a duplicate
   * event id nothing of the append may remain written, and the outcome says which.
   */
  append(tx: Tx, append: PreparedAppend, call: DialectCall): Promise<AppendOutcome>;

  /**
   * Optional: {@link append} in a transaction of its own, in one round trip (one autocommit
   * statement that keeps every guarantee: the version check, the head, notifications). Core uses
   * it for `store.appendToStream` outside store transactions, and falls back to a store
   * transaction around {@link append} when absent. `signal` is checked by core before the call;
   * a dialect may also use it to give up before sending.
   */
  appendToStream?(
    append: PreparedAppend,
    options: { signal?: AbortSignal },
  ): Promise<AppendOutcome>;

  /** Up to `limit` events after `after` (`null`: the start of the log), in log order. */
  readEvents(
    tx: Tx,
    after: Position | null,
    limit: number,
    call: DialectCall,
  ): Promise<StoredEventRow[]>;

  /**
   * The events of one stream with versions from `fromVersion` to `toVersion` (inclusive;
   * `null`: to the end), in version order.
   */
  readStream(
    tx: Tx,
    stream: StreamRef,
    fromVersion: number,
    toVersion: number | null,
    call: DialectCall,
  ): Promise<StoredEventRow[]>;

  /**
   * The saved checkpoint of a projection, or `null`. With `lock`, also hold the projection's
   * lock until `tx` ends, so workers of one projection in several processes take turns (a
   * dialect whose transactions never overlap may ignore it).
   */
  getCheckpoint(
    tx: Tx,
    projectionName: string,
    lock: boolean,
    call: DialectCall,
  ): Promise<Checkpoint | null>;

  /** Inserts or overwrites a projection's checkpoint (already checked to be this store's). */
  saveCheckpoint(
    tx: Tx,
    projectionName: string,
    checkpoint: Checkpoint,
    call: DialectCall,
  ): Promise<void>;

  /**
   * Optional: deletes a projection's checkpoint row (`projectionName` exactly, already
   * validated) and resolves with whether there was one. It must wait for a transaction that
   * holds the projection's lock (see {@link getCheckpoint}) rather than delete under it. Without
   * it the store has no `deleteCheckpoint` and `resetProjection` rejects with
   * `InvalidConfigError`.
   */
  deleteCheckpoint?(tx: Tx, projectionName: string, call: DialectCall): Promise<boolean>;

  /**
   * Optional: every saved checkpoint (`projectionName`, `checkpoint`), in any order. Without it
   * the store has no `listCheckpoints`, and `resetProjection` resets the checkpoint names it can
   * compute (the name, and `<name>_p<key>` for the `totalPartitions` it is given).
   */
  listCheckpoints?(
    tx: Tx,
    call: DialectCall,
  ): Promise<{ projectionName: string; checkpoint: Checkpoint }[]>;

  /**
   * Optional, with {@link listDeadLetters}: inserts or overwrites the dead letter
   * `(projectionName, globalPosition)` (`<checkpoints>_dead_letters` in the SQL adapters).
   */
  saveDeadLetter?(tx: Tx, deadLetter: DeadLetter, call: DialectCall): Promise<void>;

  /** Optional: the dead letters of `projectionName`, by global position. */
  listDeadLetters?(tx: Tx, projectionName: string, call: DialectCall): Promise<DeadLetter[]>;

  /**
   * Optional, with {@link saveDeadLetter} and {@link listDeadLetters}: deletes the dead letter
   * `(projectionName, globalPosition)` and resolves with whether a row was deleted (`DELETE …
   * WHERE projection_name = ? AND global_position = ?`, affected rows > 0). The deleted row must
   * stay locked until `tx` ends, so that a concurrent delete of it waits and then deletes
   * nothing when `tx` commits (a plain `DELETE` under row locking does that). Without it the
   * store has no `deleteDeadLetter` and `replayDeadLetters` rejects it.
   */
  deleteDeadLetter?(
    tx: Tx,
    projectionName: string,
    globalPosition: number,
    call: DialectCall,
  ): Promise<boolean>;

  /**
   * Optional: the event row at `globalPosition` (a positive safe integer, already validated) as
   * `tx` sees it, or `null` when there is none. A point read by position (no read horizon: the
   * caller asks for one event it knows of, not for the next ones in log order). Core decodes the
   * row like every read. Without it the store has no `readEventAtPosition`.
   */
  readEventAt?(tx: Tx, globalPosition: number, call: DialectCall): Promise<StoredEventRow | null>;

  /**
   * Optional, with {@link saveLease}, {@link deleteLease} and {@link lockLease} (all four or
   * none): the lease table of projection workers (`<checkpoints>_leases` in the SQL adapters).
   * Every lease row of `projectionName` (in key order, locked until `tx` ends, so that workers
   * rebalancing at once take turns) and the database's clock in milliseconds since the epoch.
   * Without them the store has no lease methods and `ProjectionWorker` rejects it.
   */
  readLeases?(tx: Tx, projectionName: string, call: DialectCall): Promise<ProjectionLeases>;

  /** Optional: inserts or overwrites the lease row `(projectionName, lease.key)`. */
  saveLease?(
    tx: Tx,
    projectionName: string,
    lease: ProjectionLease,
    call: DialectCall,
  ): Promise<void>;

  /** Optional: deletes the lease row `(projectionName, key)` when it exists. */
  deleteLease?(tx: Tx, projectionName: string, key: string, call: DialectCall): Promise<void>;

  /**
   * Optional: the lease row `(projectionName, key)`, or `null`, locked until `tx` ends (a row lock
   * that `saveLease` of another transaction waits for).
   */
  lockLease?(
    tx: Tx,
    projectionName: string,
    key: string,
    call: DialectCall,
  ): Promise<ProjectionLease | null>;

  /**
   * Optional: {@link getCheckpoint} with `lock` followed by {@link readEvents} after it, in fewer
   * round trips. Core falls back to those two calls when absent.
   */
  readProjectionBatch?(
    tx: Tx,
    projectionName: string,
    limit: number,
    call: DialectCall,
  ): Promise<DialectProjectionBatch>;

  /**
   * Optional: {@link readProjectionBatch} that filters by segment in the database, for projection
   * workers and hash partitions. Locks the projection's checkpoint, takes the next `limit`
   * readable rows after it in log order, and returns only the rows of `filter`'s segment (rows
   * without a stored hash, written before the adapter stored one, count as the segment's: core
   * filters them again), plus the last of those `limit` rows whatever its segment. Core checks
   * every returned row against the segment again, so a row too many is harmless; a row of the
   * segment left out is an event the projection never sees.
   */
  readSegmentBatch?(
    tx: Tx,
    projectionName: string,
    limit: number,
    filter: SegmentFilter,
    call: DialectCall,
  ): Promise<DialectSegmentBatch>;

  /** Where the log ends and how many committed events lie after `after` (`null`: the start). */
  getLogStatus(tx: Tx, after: Position | null, call: DialectCall): Promise<Status>;

  /** Creates or upgrades the schema; idempotent. */
  migrate(): Promise<void>;

  /**
   * Optional: starts listening for commits made anywhere (other connections, other processes).
   * Core opens the listener when the first `waitForEvents` comes, re-opens it with backoff after
   * it closed, and closes it on `close()`. Without it, `waitForEvents` wakes on commits of store
   * transactions in this process only, and at its timeout.
   */
  listen?(handlers: CommitListenerHandlers): Promise<CommitListener>;

  /**
   * Optional: turns a driver error into a pup error (a `PupError` subclass), or `undefined` to
   * let core wrap it in a `DatabaseError`.
   */
  describeError?(error: unknown): PupError | undefined;

  /**
   * Releases what the dialect itself opened (never the pool or connection it was given). Called
   * once. Store transactions may still be running: their own commit or rollback must still work.
   */
  close(): Promise<void>;
}
