import type { LogStatus, StreamRef } from '@pup/core';
import { positionCheckpoint, type StoredEventRow } from '@pup/core/adapter';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import type { QuotedTableNames } from './schema.js';

const EVENT_COLUMNS =
  'global_position, bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, ' +
  'event_type, event_version, payload, trace_id, correlation_id, causation_id, metadata, created_at';

/** An events row as better-sqlite3 returns it in raw mode, in {@link EVENT_COLUMNS} order. */
type EventRow = [
  globalPosition: number,
  boundedContext: string,
  aggregateType: string,
  aggregateId: string,
  aggregateVersion: number,
  eventId: string,
  eventType: string,
  eventVersion: number,
  payload: Uint8Array,
  traceId: string | null,
  correlationId: string | null,
  causationId: string | null,
  metadata: string | null,
  createdAt: number,
];

/** The read statements on one connection, prepared together on first use and then reused. */
export class ReadStatements {
  /** Keyset page of the log: the events after a position, in position order. */
  readonly after: SqliteStatement;
  /** The event at one global position (the primary key). */
  readonly at: SqliteStatement;
  /** A version range of one stream, in version order (served by the stream's unique index). */
  readonly stream: SqliteStatement;
  /** The newest position and the number of events after a position, in one snapshot. */
  readonly logStatus: SqliteStatement;

  constructor(db: SqliteDatabase, tables: QuotedTableNames) {
    this.after = db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM ${tables.events} ` +
          'WHERE global_position > ? ORDER BY global_position LIMIT ?',
      )
      .raw();
    this.at = db
      .prepare(`SELECT ${EVENT_COLUMNS} FROM ${tables.events} WHERE global_position = ?`)
      .raw();
    this.stream = db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM ${tables.events} ` +
          'WHERE bounded_context = ? AND aggregate_type = ? AND aggregate_id = ? ' +
          'AND aggregate_version BETWEEN ? AND ? ORDER BY aggregate_version',
      )
      .raw();
    this.logStatus = db
      .prepare(
        `SELECT (SELECT MAX(global_position) FROM ${tables.events}), ` +
          `(SELECT COUNT(*) FROM ${tables.events} WHERE global_position > ?)`,
      )
      .raw();
  }
}

function toStoredRows(rows: unknown[]): StoredEventRow[] {
  const stored: StoredEventRow[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as EventRow;
    stored[i] = {
      globalPosition: row[0],
      checkpoint: positionCheckpoint(row[0]),
      boundedContext: row[1],
      aggregateType: row[2],
      aggregateId: row[3],
      aggregateVersion: row[4],
      eventId: row[5],
      eventType: row[6],
      eventVersion: row[7],
      payload: row[8],
      traceId: row[9],
      correlationId: row[10],
      causationId: row[11],
      metadata: row[12],
      createdAt: row[13],
    };
  }
  return stored;
}

/** Up to `limit` events after `afterPosition` (`null`: the start of the log), in log order. */
export function readEvents(
  statements: ReadStatements,
  afterPosition: number | null,
  limit: number,
): StoredEventRow[] {
  return toStoredRows(statements.after.all(afterPosition ?? 0, limit));
}

/** The event at `globalPosition`, or `null`. */
export function readEventAt(
  statements: ReadStatements,
  globalPosition: number,
): StoredEventRow | null {
  const row = statements.at.get(globalPosition);
  return row === undefined ? null : toStoredRows([row])[0]!;
}

/** The events of `stream` with versions in `[fromVersion, toVersion]`, in version order. */
export function readStream(
  statements: ReadStatements,
  stream: StreamRef,
  fromVersion: number,
  toVersion: number | null,
): StoredEventRow[] {
  return toStoredRows(
    statements.stream.all(
      stream.boundedContext,
      stream.aggregateType,
      stream.aggregateId,
      fromVersion,
      toVersion ?? Number.MAX_SAFE_INTEGER,
    ),
  );
}

/** Where the log ends and how many events lie after `afterPosition` (`null`: the start). */
export function getLogStatus(statements: ReadStatements, afterPosition: number | null): LogStatus {
  const [headPosition, eventsAfter] = statements.logStatus.get(afterPosition ?? 0) as [
    number | null,
    number,
  ];
  return {
    headCheckpoint: headPosition === null ? null : positionCheckpoint(headPosition),
    headPosition,
    eventsAfter,
  };
}
