import type { ExpectedVersion } from './expected-version.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { StreamRef } from './types.js';

/** Stable machine-readable codes carried by every {@link PupError}. */
export type PupErrorCode =
  | 'OPTIMISTIC_CONCURRENCY'
  | 'NO_EVENTS'
  | 'INVALID_EVENT'
  | 'DUPLICATE_EVENT_ID'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'PROJECTION_FAILED'
  | 'STORE_CLOSED'
  | 'DATABASE_ERROR'
  | 'CONNECTION_LOST'
  | 'ABORTED'
  | 'SCHEMA_VERSION'
  | 'INVALID_STORED_EVENT'
  | 'LEASE_LOST';

/**
 * Base class of every error pup throws. Match on `code` (stable across releases) rather than on
 * the message text.
 */
export class PupError extends Error {
  /** Stable machine-readable code. */
  readonly code: PupErrorCode;

  constructor(code: PupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

function describeStream(stream: StreamRef): string {
  return `${stream.boundedContext}/${stream.aggregateType}/${stream.aggregateId}`;
}

/**
 * The stream's current version did not match the expected version of an append. Reload the
 * aggregate and retry the command, or report a conflict to the caller.
 */
export class OptimisticConcurrencyError extends PupError {
  /** The stream the append targeted. */
  readonly stream: StreamRef;
  /** What the caller expected. */
  readonly expectedVersion: ExpectedVersion;
  /** The stream's version when the append was checked (0 when the stream does not exist). */
  readonly actualVersion: number;

  constructor(
    stream: StreamRef,
    expectedVersion: ExpectedVersion,
    actualVersion: number,
    options?: { cause?: unknown },
  ) {
    super(
      'OPTIMISTIC_CONCURRENCY',
      `Stream ${describeStream(stream)} is at version ${actualVersion}, expected ${expectedVersion.toString()}`,
      options,
    );
    this.stream = {
      boundedContext: stream.boundedContext,
      aggregateType: stream.aggregateType,
      aggregateId: stream.aggregateId,
    };
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** `append` was called with an empty list of events. */
export class NoEventsError extends PupError {
  constructor() {
    super('NO_EVENTS', 'append needs at least one event');
  }
}

/** One event of an append is invalid; nothing of that append was written. */
export class InvalidEventError extends PupError {
  /** Index of the offending event in the list passed to `append`. */
  readonly index: number;
  /** Name of the offending field (`eventType`, `payload`, `metadata`, …). */
  readonly field: string;
  /** The event's type, when a payload failed its event type's schema. */
  readonly eventType: string | undefined;
  /** What the event type's schema reported, when a payload failed it. */
  readonly issues: readonly StandardSchemaV1.Issue[] | undefined;

  constructor(
    index: number,
    field: string,
    reason: string,
    options?: {
      cause?: unknown;
      eventType?: string;
      issues?: readonly StandardSchemaV1.Issue[];
    },
  ) {
    super('INVALID_EVENT', `Event #${index} has an invalid ${field}: ${reason}`, options);
    this.index = index;
    this.field = field;
    this.eventType = options?.eventType;
    this.issues = options?.issues;
  }
}

/**
 * An event read from the log does not reach the caller in its event type's current shape: its
 * upcaster threw, or (with `events.validateOnRead`) its payload failed the event type's schema.
 * The stored event is unchanged; fix the upcaster or schema (or add the missing upcaster).
 */
export class InvalidStoredEventError extends PupError {
  /** Global position of the event. */
  readonly globalPosition: number;
  /** Its type. */
  readonly eventType: string;
  /** Its version when the failure happened (after the upcasters that succeeded). */
  readonly eventVersion: number;
  /** What the schema reported, when the payload failed it. */
  readonly issues: readonly StandardSchemaV1.Issue[] | undefined;

  constructor(
    event: { globalPosition: number; eventType: string; eventVersion: number },
    reason: string,
    options?: { cause?: unknown; issues?: readonly StandardSchemaV1.Issue[] },
  ) {
    super(
      'INVALID_STORED_EVENT',
      `The ${event.eventType} event (version ${event.eventVersion}) at global position ${event.globalPosition} ${reason}`,
      options,
    );
    this.globalPosition = event.globalPosition;
    this.eventType = event.eventType;
    this.eventVersion = event.eventVersion;
    this.issues = options?.issues;
  }
}

/** An event id is used twice, within one append or across appends. */
export class DuplicateEventIdError extends PupError {
  /** The duplicated event id, when the database reported which one. */
  readonly eventId: string | undefined;

  constructor(eventId: string | undefined, options?: { cause?: unknown }) {
    super(
      'DUPLICATE_EVENT_ID',
      eventId === undefined
        ? 'An event id of this append already exists'
        : `Event id ${eventId} already exists`,
      options,
    );
    this.eventId = eventId;
  }
}

/** A function argument is out of its allowed range or shape. */
export class InvalidArgumentError extends PupError {
  /** Name of the offending argument or option. */
  readonly argument: string;

  constructor(argument: string, reason: string) {
    super('INVALID_ARGUMENT', `Invalid ${argument}: ${reason}`);
    this.argument = argument;
  }
}

/** Store or processor configuration is invalid; raised before any SQL runs. */
export class InvalidConfigError extends PupError {
  /** Name of the offending option, such as `tables.events`. */
  readonly option: string;

  constructor(option: string, reason: string) {
    super('INVALID_CONFIG', `Invalid configuration ${option}: ${reason}`);
    this.option = option;
  }
}

/** A projection's handler failed; the batch was rolled back and its checkpoint kept. */
export class ProjectionError extends PupError {
  /** Name of the projection whose handler failed. */
  readonly projectionName: string;
  /** Global position of the event being handled, when the failure happened in a handler. */
  readonly globalPosition: number | undefined;
  /** Checkpoint of that event, when known. */
  readonly checkpoint: string | undefined;

  constructor(
    projectionName: string,
    message: string,
    options: { cause?: unknown; globalPosition?: number; checkpoint?: string } = {},
  ) {
    super('PROJECTION_FAILED', `Projection ${projectionName}: ${message}`, options);
    this.projectionName = projectionName;
    this.globalPosition = options.globalPosition;
    this.checkpoint = options.checkpoint;
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends PupError {
  constructor(what = 'event store') {
    super('STORE_CLOSED', `This ${what} is closed`);
  }
}

/**
 * A projection worker no longer holds the lease of a segment (it expired and another worker took
 * it over, or the segment was handed to another worker): the batch it was committing is refused
 * and rolled back, so the read model changes exactly once per event.
 */
export class LeaseLostError extends PupError {
  /** The projection's name. */
  readonly projectionName: string;
  /** The segment whose lease was lost. */
  readonly segment: number;

  constructor(projectionName: string, segment: number) {
    super(
      'LEASE_LOST',
      `The lease of segment ${segment} of projection ${JSON.stringify(projectionName)} is held by another worker`,
    );
    this.projectionName = projectionName;
    this.segment = segment;
  }
}

/**
 * The database failed in a way no other pup error describes (a failed statement, a commit the
 * server refused, a deadlock). `cause` holds the driver's error.
 */
export class DatabaseError extends PupError {
  /** Name of the database (`PostgreSQL`, `SQLite`, …). */
  readonly database: string;
  /**
   * Whether the same work may succeed when retried as a whole in a new transaction (a deadlock, a
   * serialization failure, a lock wait timeout). The projection processor retries such batches.
   */
  readonly transient: boolean;

  constructor(
    database: string,
    message: string,
    options?: { cause?: unknown; transient?: boolean },
  ) {
    super('DATABASE_ERROR', `${database}: ${message}`, options);
    this.database = database;
    this.transient = options?.transient ?? false;
  }
}

/**
 * The connection to the database was lost (the server closed it, a network cut, a failover, a
 * timeout). The transaction it carried is gone: rolled back, unless `commitUnknown` says that the
 * COMMIT was already sent, in which case it may have committed. Retrying in a new transaction is
 * safe when `commitUnknown` is false; otherwise check first (for an append: read the stream, or
 * retry with the same event ids, which the store rejects as duplicates if they were stored).
 */
export class ConnectionLostError extends PupError {
  /** Name of the database (`PostgreSQL`, `SQLite`, …). */
  readonly database: string;
  /** Whether the connection was lost after COMMIT was sent, so the transaction may have committed. */
  readonly commitUnknown: boolean;

  constructor(
    database: string,
    message: string,
    options?: { cause?: unknown; commitUnknown?: boolean },
  ) {
    super('CONNECTION_LOST', `${database}: ${message}`, options);
    this.database = database;
    this.commitUnknown = options?.commitUnknown ?? false;
  }
}

/**
 * Whether `error` is a failure of the database that a new attempt of the whole transaction may
 * not meet again: a lost connection, or a transient {@link DatabaseError} (deadlock, lock timeout).
 */
export function isTransientError(error: unknown): boolean {
  return (
    error instanceof ConnectionLostError || (error instanceof DatabaseError && error.transient)
  );
}

/**
 * The caller's `AbortSignal` aborted the operation, or its `timeoutMs` ran out. Work not yet
 * committed is rolled back, unless `commitUnknown` says COMMIT was already under way: then the
 * transaction may have committed.
 */
export class OperationAbortedError extends PupError {
  /** Whether the operation ran out of its `timeoutMs` (rather than being aborted by a signal). */
  readonly timedOut: boolean;
  /** Whether COMMIT was already under way, so the work may have been committed. */
  readonly commitUnknown: boolean;

  constructor(
    operation: string,
    options?: { cause?: unknown; timedOut?: boolean; commitUnknown?: boolean },
  ) {
    super(
      'ABORTED',
      `${operation} ${options?.timedOut === true ? 'timed out' : 'was aborted'}${
        options?.commitUnknown === true ? ' while committing: it may have committed' : ''
      }`,
      options,
    );
    this.timedOut = options?.timedOut ?? false;
    this.commitUnknown = options?.commitUnknown ?? false;
  }
}

/**
 * The event store schema in the database is newer than this version of the adapter knows:
 * `migrate()` refuses to touch it. Upgrade the adapter in every process that uses the store.
 */
export class SchemaVersionError extends PupError {
  /** Name of the database (`PostgreSQL`, `SQLite`, …). */
  readonly database: string;
  /** The schema version recorded in the database. */
  readonly found: number;
  /** The newest schema version this adapter knows. */
  readonly supported: number;

  constructor(database: string, found: number, supported: number) {
    super(
      'SCHEMA_VERSION',
      `${database}: the event store schema is at version ${found}, newer than version ${supported} that this adapter knows; upgrade the adapter`,
    );
    this.database = database;
    this.found = found;
    this.supported = supported;
  }
}
