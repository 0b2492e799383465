import {
  buildStream,
  decodeEvent,
  type PersistedEvent,
  type ProjectionBatch,
  type ReadEventsOptions,
  type ReadProjectionBatchOptions,
  type Serializer,
  type Stream,
  type StreamRef,
  type VersionRange,
  validateProjectionBatchInput,
  validateReadEventsOptions,
  validateStreamRef,
  validateVersionRange,
} from '@pup/core';
import { encodeCheckpoint, parseCheckpoint } from './checkpoint-token.js';
import { ASYNC_COMMIT, type CheckpointStatements, lockMissingCheckpoint } from './checkpoints.js';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

const MAX_VERSION = '9223372036854775807';

/**
 * The event columns every read selects (from the table aliased `e`), in the order
 * {@link decodeRow} expects. Casts get their own names: an output column named like a table
 * column would win in ORDER BY, and `transaction_id::text` would then sort as text.
 */
const EVENT_COLUMNS = `e.global_position, e.transaction_id::text AS transaction_id_text,
  e.bounded_context, e.aggregate_type, e.aggregate_id, e.aggregate_version,
  e.event_id::text AS event_id_text, e.event_type, e.event_version, e.payload,
  e.metadata::text AS metadata_text, e.trace_id, e.correlation_id, e.causation_id, e.created_at`;

/** The statements of the read side. @internal */
export interface ReadStatements {
  readEvents: Statement;
  readProjectionBatch: Statement;
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

/** @internal */
export function readStatements(t: PostgresTables, asyncCommit = false): ReadStatements {
  return {
    readEvents: statement(readAfterSql(t, '$1::xid8', '$2::bigint', '$3::integer')),
    // One projection batch in one round trip: lock the checkpoint row and read the events after
    // it. FOR NO KEY UPDATE waits for a worker holding the row and then yields the checkpoint that
    // worker committed. The events come from the statement's snapshot, taken before that wait:
    // every event of a transaction below its xmin is committed and visible in it, so reading them
    // after a newer checkpoint skips nothing (at worst it returns fewer events). Each row carries
    // the checkpoint; a checkpoint without events comes back as one row of NULL event columns, a
    // missing checkpoint row as no row at all. The xid part drops its leading zeros: xid8's input
    // would read them as an octal prefix.
    readProjectionBatch: statement(`WITH cp AS (
  SELECT c.checkpoint,
    coalesce(nullif(ltrim(split_part(c.checkpoint, '-', 1), '0'), ''), '0')::xid8 AS transaction_id,
    split_part(c.checkpoint, '-', 2)::bigint AS global_position${
      asyncCommit
        ? `,
    ${ASYNC_COMMIT} AS async_commit`
        : ''
    }
  FROM ${t.checkpoints} c
  WHERE c.projection_name = $1::text
  FOR NO KEY UPDATE
)
SELECT cp.checkpoint, batch.*
FROM cp LEFT JOIN LATERAL (
${readAfterSql(t, 'cp.transaction_id', 'cp.global_position', '$2::integer')}
) batch ON true`),
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
 * Decodes one row selected with {@link EVENT_COLUMNS}, starting at column `at` of the row.
 * @internal
 */
export function decodeRow(row: unknown[], serializer: Serializer, at = 0): PersistedEvent {
  return decodeEvent(
    {
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
    },
    serializer,
  );
}

/** Reads up to `limit` readable events after a checkpoint, in log order. @internal */
export async function readEvents<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  serializer: Serializer,
  tx: Tx,
  options: ReadEventsOptions,
): Promise<PersistedEvent[]> {
  const { after, limit } = validateReadEventsOptions(options);
  const from = parseCheckpoint(after);
  const rows = await driver.query(tx, statements.readEvents, [
    from.transactionId,
    from.globalPosition,
    limit,
  ]);
  const events = new Array<PersistedEvent>(rows.length);
  for (let i = 0; i < rows.length; i++) events[i] = decodeRow(rows[i]!, serializer);
  return events;
}

/**
 * Locks a projection's checkpoint and reads the events after it: one round trip once the
 * projection has a checkpoint row, four before (see `lockCheckpoint`). @internal
 */
export async function readProjectionBatch<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  checkpoints: CheckpointStatements,
  serializer: Serializer,
  tx: Tx,
  projectionName: string,
  options: ReadProjectionBatchOptions,
): Promise<ProjectionBatch> {
  const { limit } = validateProjectionBatchInput(projectionName, options);
  const params = [projectionName, limit];
  let rows = await driver.query(tx, statements.readProjectionBatch, params);
  if (rows.length === 0) {
    // No checkpoint row: take the lock that stands in for it, then look again.
    await lockMissingCheckpoint(driver, checkpoints, tx, projectionName);
    rows = await driver.query(tx, statements.readProjectionBatch, params);
    if (rows.length === 0) {
      const events = await readEvents(driver, statements, serializer, tx, { after: null, limit });
      return { checkpoint: null, events };
    }
  }
  const checkpoint = rows[0]![0] as string;
  // A checkpoint without events: one row whose event columns are NULL.
  if (rows[0]![1] === null) return { checkpoint, events: [] };
  const events = new Array<PersistedEvent>(rows.length);
  for (let i = 0; i < rows.length; i++) events[i] = decodeRow(rows[i]!, serializer, 1);
  return { checkpoint, events };
}

/** Reads one stream, whole or a version range of it. @internal */
export async function readAggregateStream<Tx>(
  driver: PostgresDriver<Tx>,
  statements: ReadStatements,
  serializer: Serializer,
  tx: Tx,
  stream: StreamRef,
  range?: VersionRange,
): Promise<Stream> {
  const ref = validateStreamRef(stream);
  const { fromVersion, toVersion } = validateVersionRange(range);
  const rows = await driver.query(tx, statements.readStream, [
    ref.boundedContext,
    ref.aggregateType,
    ref.aggregateId,
    fromVersion,
    toVersion ?? MAX_VERSION,
  ]);
  return buildStream(
    ref,
    rows.map((row) => decodeRow(row, serializer)),
  );
}
