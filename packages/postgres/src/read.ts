import type { Checkpoint, StreamRef } from '@pup/core';
import type { DialectSegmentBatch, SegmentFilter, StoredEventRow } from '@pup/core/adapter';
import { encodeCheckpoint, LOG_START, type LogPosition } from './checkpoint-token.js';
import { type CheckpointStatements, lockQuery } from './checkpoints.js';
import { type PipelinedQuery, type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

const MAX_VERSION = '9223372036854775807';

/**
 * The event columns every read selects (from the table aliased `e`), in the order
 * {@link storedEventRow} expects. Casts get their own names: an output column named like a table
 * column would win in ORDER BY, and `transaction_id::text` would then sort as text.
 */
const EVENT_COLUMNS = `e.global_position, e.transaction_id::text AS transaction_id_text,
  e.bounded_context, e.aggregate_type, e.aggregate_id, e.aggregate_version,
  e.event_id::text AS event_id_text, e.event_type, e.event_version, e.payload,
  e.metadata::text AS metadata_text, e.trace_id, e.correlation_id, e.causation_id, e.created_at`;

/** The names {@link EVENT_COLUMNS} gives its columns, in order. */
const EVENT_COLUMN_NAMES = `global_position, transaction_id_text, bounded_context, aggregate_type,
  aggregate_id, aggregate_version, event_id_text, event_type, event_version, payload, metadata_text,
  trace_id, correlation_id, causation_id, created_at`;

/** The statements of the read side. @internal */
export interface ReadStatements {
  readEvents: Statement;
  readEventAt: Statement;
  readProjectionBatch: Statement;
  readSegmentBatch: Statement;
  readStream: Statement;
}

/**
 * The readable events after the log position `(transactionId, globalPosition)` (SQL expressions),
 * in log order. Only transactions older than the oldest running one are readable: every event
 * they wrote is committed (or rolled back) for good, so nothing can appear behind the returned
 * checkpoints.
 */
function readAfterSql(
  t: PostgresTables,
  transactionId: string,
  globalPosition: string,
  limit: string,
): string {
  return `SELECT ${EVENT_COLUMNS}
FROM ${t.events} e
WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND (e.transaction_id, e.global_position) > (${transactionId}, ${globalPosition})
ORDER BY e.transaction_id, e.global_position
LIMIT ${limit}`;
}

/** The checkpoint of the projection `$1`, parsed into a log position (one row, even without one). */
function checkpointCte(t: PostgresTables): string {
  return `WITH cp AS MATERIALIZED (
  SELECT c.checkpoint,
    coalesce(nullif(ltrim(split_part(c.checkpoint, '-', 1), '0'), ''), '0')::xid8 AS transaction_id,
    coalesce(split_part(c.checkpoint, '-', 2)::bigint, 0) AS global_position
  FROM (VALUES (1)) AS one (n)
    LEFT JOIN ${t.checkpoints} c ON c.projection_name = $1::text
)`;
}

/** @internal */
export function readStatements(t: PostgresTables): ReadStatements {
  return {
    readEvents: statement(readAfterSql(t, '$1::xid8', '$2::bigint', '$3::integer')),
    // A projection batch's read after its lock: the checkpoint and the events after it in one
    // statement (a missing checkpoint reads from the start). Every row carries the checkpoint;
    // a checkpoint without events comes back as one row of NULL event columns. The xid part
    // drops its leading zeros: xid8's input would read them as an octal prefix.
    readProjectionBatch: statement(`${checkpointCte(t)}
SELECT cp.checkpoint, batch.*
FROM cp LEFT JOIN LATERAL (
${readAfterSql(t, 'cp.transaction_id', 'cp.global_position', '$2::integer')}
) batch ON true`),
    // The same for one hash segment ($3 segments, segment $4): of the next $2 readable rows, only
    // the segment's come back (and rows without a hash, written before schema version 2), plus
    // the last one, whose checkpoint the batch saves. Each row carries how many were scanned.
    readSegmentBatch: statement(`${checkpointCte(t)}
SELECT cp.checkpoint, batch.*
FROM cp LEFT JOIN LATERAL (
  SELECT ${EVENT_COLUMN_NAMES}, scanned
  FROM (
    SELECT scan.*, count(*) OVER () AS scanned,
      row_number() OVER (ORDER BY scan.log_transaction_id, scan.global_position) AS n
    FROM (
      SELECT ${EVENT_COLUMNS}, e.transaction_id AS log_transaction_id, e.aggregate_hash
      FROM ${t.events} e
      WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        AND (e.transaction_id, e.global_position) > (cp.transaction_id, cp.global_position)
      ORDER BY e.transaction_id, e.global_position
      LIMIT $2::integer
    ) scan
  ) numbered
  WHERE aggregate_hash IS NULL OR aggregate_hash % $3::bigint = $4::bigint OR n = scanned
  ORDER BY n
) batch ON true`),
    // One event by position (the primary key), as the transaction's snapshot sees it: no read
    // horizon, the caller asks for an event it knows of.
    readEventAt: statement(
      `SELECT ${EVENT_COLUMNS} FROM ${t.events} e WHERE e.global_position = $1::bigint`,
    ),
    readStream: statement(`SELECT ${EVENT_COLUMNS}
FROM ${t.events} e
WHERE e.bounded_context = $1::text AND e.aggregate_type = $2::text AND e.aggregate_id = $3::text
  AND e.aggregate_version BETWEEN $4::bigint AND $5::bigint
ORDER BY e.aggregate_version`),
  };
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(value as string);
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  // A driver configured to return bytea as text gives the hex form `\x…`.
  const text = String(value);
  return Buffer.from(text.startsWith('\\x') ? text.slice(2) : text, 'hex');
}

/**
 * The stored row of one event selected with {@link EVENT_COLUMNS}, starting at column `at` of the
 * driver's row; core decodes it.
 * @internal
 */
export function storedEventRow(row: unknown[], at = 0): StoredEventRow {
  return {
    globalPosition: Number(row[at]),
    checkpoint: encodeCheckpoint(row[at + 1] as string, row[at] as string),
    boundedContext: row[at + 2] as string,
    aggregateType: row[at + 3] as string,
    aggregateId: row[at + 4] as string,
    aggregateVersion: Number(row[at + 5]),
    eventId: row[at + 6] as string,
    eventType: row[at + 7] as string,
    eventVersion: Number(row[at + 8]),
    payload: toBytes(row[at + 9]),
    metadata: row[at + 10] as string | null,
    traceId: row[at + 11] as string | null,
    correlationId: row[at + 12] as string | null,
    causationId: row[at + 13] as string | null,
    createdAt: toDate(row[at + 14]),
  };
}

/** Up to `limit` readable events after `after` (`null`: the start), in log order. @internal */
export async function readEvents<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  tx: Tx,
  after: LogPosition | null,
  limit: number,
): Promise<StoredEventRow[]> {
  const from = after ?? LOG_START;
  const rows = await driver.query(tx, statements.readEvents, [
    from.transactionId,
    from.globalPosition,
    limit,
  ]);
  const events = new Array<StoredEventRow>(rows.length);
  for (let i = 0; i < rows.length; i++) events[i] = storedEventRow(rows[i]!);
  return events;
}

/** The event at `globalPosition`, or `null`. @internal */
export async function readEventAt<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  tx: Tx,
  globalPosition: number,
): Promise<StoredEventRow | null> {
  const rows = await driver.query(tx, statements.readEventAt, [String(globalPosition)]);
  return rows.length === 0 ? null : storedEventRow(rows[0]!);
}

/**
 * Locks a projection's checkpoint and reads the events after it: the lock, then one statement for
 * the checkpoint and the events (its snapshot is taken once the lock is granted, so it sees what
 * the previous holder committed). Two round trips on `pg`, one on postgres.js, which pipelines.
 * With `filter`, the database leaves out the rows of other hash segments, except the last row it
 * scanned, and `scanned` says how many rows the read covered.
 * @internal
 */
export async function readProjectionBatch<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  checkpoints: CheckpointStatements,
  tx: Tx,
  projectionName: string,
  limit: number,
  filter?: SegmentFilter,
): Promise<DialectSegmentBatch> {
  const read: PipelinedQuery =
    filter === undefined
      ? [statements.readProjectionBatch, [projectionName, limit]]
      : [statements.readSegmentBatch, [projectionName, limit, filter.segments, filter.segment]];
  const [, rows] = (await driver.pipeline(tx, [lockQuery(checkpoints, projectionName), read])) as [
    unknown[][],
    unknown[][],
  ];
  const checkpoint = (rows[0]![0] as Checkpoint | null) ?? null;
  // A checkpoint without events: one row whose event columns are NULL.
  if (rows[0]![1] === null) return { checkpoint, rows: [], scanned: 0 };
  const events = new Array<StoredEventRow>(rows.length);
  for (let i = 0; i < rows.length; i++) events[i] = storedEventRow(rows[i]!, 1);
  // The segment read's rows carry the scanned count after the event columns.
  const scanned = filter === undefined ? events.length : Number(rows[0]![16]);
  return { checkpoint, rows: events, scanned };
}

/** The events of one stream with versions from `fromVersion` to `toVersion` (`null`: the end). @internal */
export async function readStream<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  tx: Tx,
  stream: StreamRef,
  fromVersion: number,
  toVersion: number | null,
): Promise<StoredEventRow[]> {
  const rows = await driver.query(tx, statements.readStream, [
    stream.boundedContext,
    stream.aggregateType,
    stream.aggregateId,
    fromVersion,
    toVersion ?? MAX_VERSION,
  ]);
  const events = new Array<StoredEventRow>(rows.length);
  for (let i = 0; i < rows.length; i++) events[i] = storedEventRow(rows[i]!);
  return events;
}
