import { type Checkpoint, DatabaseError } from '@pup/core';
import { type AppendOutcome, type PreparedAppend, positionCheckpoint } from '@pup/core/adapter';
import { connectionOf } from './connection.js';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import { eventsConstraintOf } from './errors.js';
import type { QuotedTableNames } from './schema.js';

/** Most rows one INSERT statement carries (13 parameters each, far below SQLite's limit). */
export const MAX_ROWS_PER_INSERT = 128;

const EVENT_COLUMNS =
  'bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, ' +
  'event_version, payload, trace_id, correlation_id, causation_id, metadata, created_at';
const EVENT_PARAMS = 13;
const ROW_PLACEHOLDERS = `(${new Array(EVENT_PARAMS).fill('?').join(', ')})`;
const HEAD_COLUMNS = 'bounded_context, aggregate_type, aggregate_id, aggregate_version';
const STREAM_MATCH = 'bounded_context = ? AND aggregate_type = ? AND aggregate_id = ?';

/** Savepoint around an append too large for one INSERT, so it stays atomic. */
const LARGE_APPEND_SAVEPOINT = 'pup_append';

/** An append that failed without writing anything. */
type AppendFailure = Exclude<AppendOutcome, { status: 'appended' }>;

/**
 * The statements of `append` on one connection, prepared together on the first append and then
 * reused. The multi-row INSERT is prepared once per row count that occurs.
 */
export class AppendStatements {
  private readonly insertByRows: (SqliteStatement | undefined)[] = [];
  /** Creates the head of a new stream; changes nothing when the stream exists. */
  readonly createHead: SqliteStatement;
  /** Moves the head to a new version only when it is at the expected one. */
  readonly moveExactHead: SqliteStatement;
  /** Moves an existing head forward and returns its new version. */
  readonly moveExistingHead: SqliteStatement;
  /** Creates or moves the head forward and returns its new version. */
  readonly moveAnyHead: SqliteStatement;
  readonly headVersion: SqliteStatement;
  readonly setHead: SqliteStatement;
  readonly deleteHead: SqliteStatement;
  /** The highest version stored in the events table for a stream (`null` when none). */
  readonly streamVersion: SqliteStatement;
  readonly eventIdExists: SqliteStatement;

  constructor(
    readonly db: SqliteDatabase,
    private readonly tables: QuotedTableNames,
  ) {
    const heads = tables.aggregateHeads;
    this.createHead = db.prepare(
      `INSERT INTO ${heads} (${HEAD_COLUMNS}) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    this.moveExactHead = db.prepare(
      `UPDATE ${heads} SET aggregate_version = ? WHERE ${STREAM_MATCH} AND aggregate_version = ?`,
    );
    this.moveExistingHead = db
      .prepare(
        `UPDATE ${heads} SET aggregate_version = aggregate_version + ? ` +
          `WHERE ${STREAM_MATCH} RETURNING aggregate_version`,
      )
      .pluck();
    this.moveAnyHead = db
      .prepare(
        `INSERT INTO ${heads} (${HEAD_COLUMNS}) VALUES (?, ?, ?, ?) ` +
          'ON CONFLICT (bounded_context, aggregate_type, aggregate_id) ' +
          'DO UPDATE SET aggregate_version = aggregate_version + excluded.aggregate_version ' +
          'RETURNING aggregate_version',
      )
      .pluck();
    this.headVersion = db
      .prepare(`SELECT aggregate_version FROM ${heads} WHERE ${STREAM_MATCH}`)
      .pluck();
    this.setHead = db.prepare(`UPDATE ${heads} SET aggregate_version = ? WHERE ${STREAM_MATCH}`);
    this.deleteHead = db.prepare(`DELETE FROM ${heads} WHERE ${STREAM_MATCH}`);
    this.streamVersion = db
      .prepare(`SELECT MAX(aggregate_version) FROM ${tables.events} WHERE ${STREAM_MATCH}`)
      .pluck();
    this.eventIdExists = db.prepare(`SELECT 1 FROM ${tables.events} WHERE event_id = ?`).pluck();
  }

  /** `INSERT` of `rows` events in one statement. */
  insert(rows: number): SqliteStatement {
    let statement = this.insertByRows[rows];
    if (statement === undefined) {
      const values = new Array(rows).fill(ROW_PLACEHOLDERS).join(', ');
      statement = this.db.prepare(
        `INSERT INTO ${this.tables.events} (${EVENT_COLUMNS}) VALUES ${values}`,
      );
      this.insertByRows[rows] = statement;
    }
    return statement;
  }
}

/**
 * Writes a validated append on a connection that is inside a write transaction: moves the
 * stream's head (checking the expected version in the same statement), then inserts the events
 * with consecutive versions. Runs synchronously, so nothing else can write in between. On a
 * version conflict or a duplicate event id nothing of the append remains written (the
 * transaction stays usable) and the outcome says which.
 */
export function appendEvents(statements: AppendStatements, append: PreparedAppend): AppendOutcome {
  if (append.events.length <= MAX_ROWS_PER_INSERT) return writeAppend(statements, append);
  const connection = connectionOf(statements.db);
  connection.savepoint(LARGE_APPEND_SAVEPOINT);
  let outcome: AppendOutcome;
  try {
    outcome = writeAppend(statements, append);
  } catch (error) {
    connection.rollbackToSavepoint(LARGE_APPEND_SAVEPOINT);
    throw error;
  }
  if (outcome.status === 'appended') connection.release(LARGE_APPEND_SAVEPOINT);
  else connection.rollbackToSavepoint(LARGE_APPEND_SAVEPOINT);
  return outcome;
}

function writeAppend(statements: AppendStatements, append: PreparedAppend): AppendOutcome {
  const fromVersion = moveHead(statements, append);
  if (typeof fromVersion !== 'number') return fromVersion;
  const progress: InsertProgress = { inserted: 0 };
  let lastPosition: number;
  try {
    lastPosition = insertEvents(statements, append, fromVersion, progress);
  } catch (error) {
    restoreHead(statements, append, fromVersion);
    return insertFailure(statements, append, progress, error);
  }
  const count = append.events.length;
  const globalPositions: number[] = new Array(count);
  const checkpoints: Checkpoint[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const position = lastPosition - count + 1 + i;
    globalPositions[i] = position;
    checkpoints[i] = positionCheckpoint(position);
  }
  return { status: 'appended', fromVersion, globalPositions, checkpoints };
}

/**
 * Checks the expectation and moves the head in one statement; returns the version before, or the
 * conflict when the stream is not at the expected version.
 */
function moveHead(statements: AppendStatements, append: PreparedAppend): number | AppendFailure {
  const { stream, expected } = append;
  const { boundedContext, aggregateType, aggregateId } = stream;
  const count = append.events.length;
  const required = expected.requiredVersion;
  if (required === 0) {
    const { changes } = statements.createHead.run(
      boundedContext,
      aggregateType,
      aggregateId,
      count,
    );
    if (changes === 1) return 0;
  } else if (required !== undefined) {
    const { changes } = statements.moveExactHead.run(
      required + count,
      boundedContext,
      aggregateType,
      aggregateId,
      required,
    );
    if (changes === 1) return required;
  } else {
    const moved =
      expected.kind === 'any'
        ? statements.moveAnyHead.get(boundedContext, aggregateType, aggregateId, count)
        : statements.moveExistingHead.get(count, boundedContext, aggregateType, aggregateId);
    if (typeof moved === 'number') return moved - count;
  }
  // Also reached when the head matched after all, which only a head row edited behind the
  // store's back can cause: the append must not go on from a head it did not move.
  return { status: 'versionConflict', actualVersion: currentVersion(statements, append) };
}

function currentVersion(statements: AppendStatements, append: PreparedAppend): number {
  const { boundedContext, aggregateType, aggregateId } = append.stream;
  const head = statements.headVersion.get(boundedContext, aggregateType, aggregateId);
  const stored = statements.streamVersion.get(boundedContext, aggregateType, aggregateId);
  return Math.max(typeof head === 'number' ? head : 0, typeof stored === 'number' ? stored : 0);
}

/** How many events of an append the INSERTs that succeeded so far wrote. */
interface InsertProgress {
  inserted: number;
}

/** Inserts the events with versions after `fromVersion`; returns the last global position. */
function insertEvents(
  statements: AppendStatements,
  append: PreparedAppend,
  fromVersion: number,
  progress: InsertProgress,
): number {
  const { stream, events } = append;
  const count = events.length;
  if (count === 1) {
    const event = events[0]!;
    return Number(
      statements
        .insert(1)
        .run(
          stream.boundedContext,
          stream.aggregateType,
          stream.aggregateId,
          fromVersion + 1,
          event.eventId,
          event.eventType,
          event.eventVersion,
          event.payloadBytes,
          event.traceId,
          event.correlationId,
          event.causationId,
          event.metadataJson,
          event.createdAt.getTime(),
        ).lastInsertRowid,
    );
  }
  let lastPosition = 0;
  for (let start = 0; start < count; start += MAX_ROWS_PER_INSERT) {
    const rows = Math.min(MAX_ROWS_PER_INSERT, count - start);
    const params: unknown[] = new Array(rows * EVENT_PARAMS);
    let p = 0;
    for (let i = start; i < start + rows; i++) {
      const event = events[i]!;
      params[p++] = stream.boundedContext;
      params[p++] = stream.aggregateType;
      params[p++] = stream.aggregateId;
      params[p++] = fromVersion + i + 1;
      params[p++] = event.eventId;
      params[p++] = event.eventType;
      params[p++] = event.eventVersion;
      params[p++] = event.payloadBytes;
      params[p++] = event.traceId;
      params[p++] = event.correlationId;
      params[p++] = event.causationId;
      params[p++] = event.metadataJson;
      params[p++] = event.createdAt.getTime();
    }
    const result = statements.insert(rows).run(params);
    if (result.changes !== rows) {
      // Only a trigger on the events table that drops rows gets here; the positions of the
      // result would be wrong.
      throw new DatabaseError(
        'SQLite',
        `an INSERT of ${rows} events reported ${result.changes} inserted rows`,
      );
    }
    lastPosition = Number(result.lastInsertRowid);
    progress.inserted += rows;
  }
  return lastPosition;
}

/**
 * Puts the head back where it was after a failed insert, so a transaction that goes on after the
 * failed append (the caller's own, or a store transaction catching the error) commits no head
 * without its events. When SQLite already rolled the whole transaction back, there is nothing to
 * undo.
 */
function restoreHead(statements: AppendStatements, append: PreparedAppend, fromVersion: number) {
  if (!statements.db.inTransaction) return;
  const { boundedContext, aggregateType, aggregateId } = append.stream;
  if (fromVersion === 0) {
    statements.deleteHead.run(boundedContext, aggregateType, aggregateId);
  } else {
    statements.setHead.run(fromVersion, boundedContext, aggregateType, aggregateId);
  }
}

/**
 * The outcome a unique violation of the events table stands for; any other error is rethrown
 * for core to wrap.
 */
function insertFailure(
  statements: AppendStatements,
  append: PreparedAppend,
  progress: InsertProgress,
  error: unknown,
): AppendFailure {
  const constraint = eventsConstraintOf(error);
  if (constraint === 'eventId') {
    // The rows of the INSERTs that succeeded are still there (until the append's savepoint is
    // rolled back): look for the clash among the events not written yet.
    let existing: string | undefined;
    for (let i = progress.inserted; i < append.events.length; i++) {
      const { eventId } = append.events[i]!;
      if (statements.eventIdExists.get(eventId) !== undefined) {
        existing = eventId;
        break;
      }
    }
    return { status: 'duplicateEventId', eventId: existing, cause: error };
  }
  if (constraint === 'streamVersion') {
    return {
      status: 'versionConflict',
      actualVersion: currentVersion(statements, append),
      cause: error,
    };
  }
  throw error;
}
