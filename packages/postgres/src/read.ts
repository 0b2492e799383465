import {
  buildStream,
  decodeEvent,
  type PersistedEvent,
  type ReadEventsOptions,
  type Serializer,
  type Stream,
  type StreamRef,
  type VersionRange,
  validateReadEventsOptions,
  validateStreamRef,
  validateVersionRange,
} from '@pup/core';
import { encodeCheckpoint, parseCheckpoint } from './checkpoint-token.js';
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
  readStream: Statement;
}

/** @internal */
export function readStatements(t: PostgresTables): ReadStatements {
  return {
    // Only transactions older than the oldest running one are readable: every event they wrote is
    // committed (or rolled back) for good, so nothing can appear behind the returned checkpoints.
    readEvents: statement(`SELECT ${EVENT_COLUMNS}
FROM ${t.events} e
WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
ORDER BY e.transaction_id, e.global_position
LIMIT $3::integer`),
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

/** Decodes one row selected with {@link EVENT_COLUMNS}. @internal */
export function decodeRow(row: unknown[], serializer: Serializer): PersistedEvent {
  return decodeEvent(
    {
      globalPosition: Number(row[0]),
      checkpoint: encodeCheckpoint(row[1] as string, row[0] as string),
      boundedContext: row[2] as string,
      aggregateType: row[3] as string,
      aggregateId: row[4] as string,
      aggregateVersion: Number(row[5]),
      eventId: row[6] as string,
      eventType: row[7] as string,
      eventVersion: Number(row[8]),
      payload: toBytes(row[9]),
      metadata: row[10] as string | null,
      traceId: row[11] as string | null,
      correlationId: row[12] as string | null,
      causationId: row[13] as string | null,
      createdAt: toDate(row[14]),
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
