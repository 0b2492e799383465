import {
  type AppendResult,
  buildAppendResult,
  type ExpectedVersion,
  type NewEvent,
  OptimisticConcurrencyError,
  type PreparedAppend,
  prepareAppend,
  type Serializer,
} from '@pup/core';
import { byteaArrayLiteral, numberArrayLiteral, textArrayLiteral } from './array-literal.js';
import { encodeCheckpoint } from './checkpoint-token.js';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import { mapAppendError } from './errors.js';
import type { PostgresTables } from './schema.js';

/** How often an append whose expectation became true while it ran is retried. */
const MAX_ATTEMPTS = 5;

/** The statements an append runs. @internal */
export interface AppendStatements {
  append: Statement;
  streamVersion: Statement;
}

/**
 * One statement does the whole append, in one round trip:
 *
 * 1. The head row is locked and checked: a new stream is inserted with `ON CONFLICT DO UPDATE`
 *    (concurrent first appends wait on each other and then take the conflict path; any() just
 *    adds to the version), an existing one is updated. Both only succeed when the current version
 *    lies in [$4, $5] ($5 NULL = unbounded), which encodes the ExpectedVersion.
 * 2. The events are inserted from `unnest` of one array per column, numbered from the head's old
 *    version. When the check failed there is no head row, so no event row and no `nextval`: a lost
 *    race burns no global position.
 * 3. One `pg_notify` per append; PostgreSQL folds equal notifications of a transaction into one.
 */
function appendSql(t: PostgresTables, notify: boolean): string {
  const inRange =
    'h.aggregate_version >= $4::bigint AND h.aggregate_version <= coalesce($5::bigint, h.aggregate_version)';
  return `WITH inserted_head AS (
  INSERT INTO ${t.aggregateHeads} AS h (bounded_context, aggregate_type, aggregate_id, aggregate_version)
  SELECT $1::text, $2::text, $3::text, $6::bigint WHERE $4::bigint = 0
  ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO UPDATE
    SET aggregate_version = h.aggregate_version + excluded.aggregate_version, updated_at = now()
    WHERE ${inRange}
  RETURNING h.aggregate_version - $6::bigint AS from_version
), updated_head AS (
  UPDATE ${t.aggregateHeads} AS h
    SET aggregate_version = h.aggregate_version + $6::bigint, updated_at = now()
  WHERE $4::bigint > 0 AND h.bounded_context = $1::text AND h.aggregate_type = $2::text
    AND h.aggregate_id = $3::text AND ${inRange}
  RETURNING h.aggregate_version - $6::bigint AS from_version
), head AS (
  SELECT from_version FROM inserted_head UNION ALL SELECT from_version FROM updated_head
), inserted AS (
  INSERT INTO ${t.events} (bounded_context, aggregate_type, aggregate_id, aggregate_version,
    event_id, event_type, event_version, payload, trace_id, correlation_id, causation_id,
    metadata, created_at)
  SELECT $1::text, $2::text, $3::text, head.from_version + e.ordinal, e.event_id, e.event_type,
    e.event_version, e.payload, e.trace_id, e.correlation_id, e.causation_id, e.metadata,
    e.created_at
  FROM head CROSS JOIN unnest($7::uuid[], $8::text[], $9::integer[], $10::bytea[], $11::text[],
    $12::text[], $13::text[], $14::jsonb[], $15::timestamptz[])
    WITH ORDINALITY AS e(event_id, event_type, event_version, payload, trace_id, correlation_id,
      causation_id, metadata, created_at, ordinal)
  ORDER BY e.ordinal
  RETURNING global_position, transaction_id
)${notify ? `, notified AS (SELECT pg_notify('${t.channel}', '') FROM head)` : ''}
SELECT (SELECT from_version FROM head),
  (SELECT string_agg(global_position::text, ',' ORDER BY global_position) FROM inserted),
  (SELECT min(transaction_id)::text FROM inserted)${notify ? ',\n  (SELECT count(*) FROM notified)' : ''}`;
}

/** @internal */
export function appendStatements(t: PostgresTables, notify: boolean): AppendStatements {
  return {
    append: statement(appendSql(t, notify)),
    streamVersion: statement(
      `SELECT aggregate_version FROM ${t.aggregateHeads}
WHERE bounded_context = $1::text AND aggregate_type = $2::text AND aggregate_id = $3::text`,
    ),
  };
}

/** The range of current versions an expectation accepts, as [$4, $5] of the statement. */
function versionRange(expected: ExpectedVersion): [number, number | null] {
  switch (expected.kind) {
    case 'any':
      return [0, null];
    case 'noStream':
      return [0, 0];
    case 'streamExists':
      return [1, null];
    case 'exact':
      return [expected.version!, expected.version!];
  }
}

function appendParams(append: PreparedAppend): unknown[] {
  const { stream, events } = append;
  const [lowest, highest] = versionRange(append.expected);
  const n = events.length;
  const ids = new Array<string>(n);
  const types = new Array<string>(n);
  const versions = new Array<number>(n);
  const payloads = new Array<Uint8Array>(n);
  const traceIds = new Array<string | null>(n);
  const correlationIds = new Array<string | null>(n);
  const causationIds = new Array<string | null>(n);
  const metadata = new Array<string | null>(n);
  const createdAt = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const event = events[i]!;
    ids[i] = event.eventId;
    types[i] = event.eventType;
    versions[i] = event.eventVersion;
    payloads[i] = event.payloadBytes;
    traceIds[i] = event.traceId;
    correlationIds[i] = event.correlationId;
    causationIds[i] = event.causationId;
    metadata[i] = event.metadataJson;
    createdAt[i] = event.createdAt.toISOString();
  }
  return [
    stream.boundedContext,
    stream.aggregateType,
    stream.aggregateId,
    lowest,
    highest,
    n,
    textArrayLiteral(ids),
    textArrayLiteral(types),
    numberArrayLiteral(versions),
    byteaArrayLiteral(payloads),
    textArrayLiteral(traceIds),
    textArrayLiteral(correlationIds),
    textArrayLiteral(causationIds),
    textArrayLiteral(metadata),
    textArrayLiteral(createdAt),
  ];
}

/**
 * Validates, encodes and appends events to one stream in one statement.
 * @internal
 */
export async function appendEvents<Tx>(
  driver: PostgresDriver<Tx>,
  tables: PostgresTables,
  statements: AppendStatements,
  serializer: Serializer,
  tx: Tx,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
): Promise<AppendResult> {
  const append = prepareAppend(expected, events, serializer);
  const params = appendParams(append);
  const { stream } = append;
  for (let attempt = 1; ; attempt++) {
    let row: unknown[] | undefined;
    try {
      row = (await driver.query(tx, statements.append, params))[0];
    } catch (error) {
      throw mapAppendError(error, driver, tables, stream, append.expected);
    }
    if (row !== undefined && row[0] !== null && row[0] !== undefined) {
      const fromVersion = Number(row[0]);
      const transactionId = String(row[2]);
      const positions = String(row[1]).split(',');
      const globalPositions = positions.map(Number);
      const checkpoints = positions.map((position) => encodeCheckpoint(transactionId, position));
      return buildAppendResult(append, fromVersion, globalPositions, checkpoints);
    }
    // The check failed. The head row (when it exists) is locked by now, so this reads the version
    // that made it fail, unless a concurrent append changed it in between (then retry).
    const rows = await driver.query(tx, statements.streamVersion, [
      stream.boundedContext,
      stream.aggregateType,
      stream.aggregateId,
    ]);
    const actual = rows.length === 0 ? 0 : Number(rows[0]![0]);
    if (!append.expected.matches(actual) || attempt >= MAX_ATTEMPTS) {
      throw new OptimisticConcurrencyError(stream, append.expected, actual);
    }
  }
}
