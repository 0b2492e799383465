import type { ExpectedVersion } from '@pup/core';
import type { AppendOutcome, PreparedAppend } from '@pup/core/adapter';
import { byteaArrayLiteral, numberArrayLiteral, textArrayLiteral } from './array-literal.js';
import { encodeCheckpoint } from './checkpoint-token.js';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import { appendFailure } from './errors.js';
import type { PostgresTables } from './schema.js';

/** How often an append whose expectation became true while it ran is retried. */
const MAX_ATTEMPTS = 5;

type Shape = 'single' | 'many';
type HeadPath = 'create' | 'upsert' | 'update';

/** The statements an append runs, by number of events, head path and notification. @internal */
export interface AppendStatements {
  statements: Record<`${Shape}/${HeadPath}/${'notify' | 'silent'}`, Statement>;
  /** Reads a stream's version after a failed check. */
  streamVersion: Statement;
}

const EVENT_INSERT_COLUMNS = `bounded_context, aggregate_type, aggregate_id, aggregate_version,
    event_id, event_type, event_version, payload, trace_id, correlation_id, causation_id,
    metadata, created_at, aggregate_hash`;

/**
 * One statement does the whole append, in one round trip:
 *
 * 1. The head row is locked and checked. `create` (noStream, exact(0): only a missing stream
 *    passes) inserts it with `ON CONFLICT DO NOTHING`: a concurrent first append waits for the
 *    other to finish, and an existing row means the check failed. `upsert` (any) inserts it or,
 *    on conflict, moves the existing row on. `update` (streamExists, exact(n > 0)) updates an
 *    existing row. `upsert` and `update` only succeed when the current version lies in [$4, $5]
 *    ($5 NULL = unbounded), which encodes the ExpectedVersion.
 * 2. The events are inserted, numbered from the head's old version: from `unnest` of one array
 *    per column (`many`), or from scalar parameters (`single`, the common one-event append, which
 *    saves the server parsing nine arrays). When the check failed there is no head row, so no
 *    event row and no `nextval`: a lost race burns no global position, and no row comes back.
 * 3. Optionally one `pg_notify`; PostgreSQL folds equal notifications of a transaction into one.
 *
 * Rows returned: one per event, `(from_version, aggregate_version, global_position,
 * transaction_id)`; none when the check failed.
 */
function appendSql(t: PostgresTables, shape: Shape, path: HeadPath, notify: boolean): string {
  const inRange =
    'h.aggregate_version >= $4::bigint AND h.aggregate_version <= coalesce($5::bigint, h.aggregate_version)';
  const head =
    // `create` binds the same parameters as the other paths; its range is always [0, 0].
    path === 'create'
      ? `INSERT INTO ${t.aggregateHeads} (bounded_context, aggregate_type, aggregate_id, aggregate_version)
  SELECT $1::text, $2::text, $3::text, $6::bigint WHERE $4::bigint = 0 AND $5::bigint = 0
  ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO NOTHING
  RETURNING 0::bigint AS from_version`
      : path === 'upsert'
        ? `INSERT INTO ${t.aggregateHeads} AS h (bounded_context, aggregate_type, aggregate_id, aggregate_version)
  VALUES ($1::text, $2::text, $3::text, $6::bigint)
  ON CONFLICT (bounded_context, aggregate_type, aggregate_id) DO UPDATE
    SET aggregate_version = h.aggregate_version + excluded.aggregate_version, updated_at = now()
    WHERE ${inRange}
  RETURNING h.aggregate_version - $6::bigint AS from_version`
        : `UPDATE ${t.aggregateHeads} AS h
    SET aggregate_version = h.aggregate_version + $6::bigint, updated_at = now()
  WHERE h.bounded_context = $1::text AND h.aggregate_type = $2::text AND h.aggregate_id = $3::text
    AND ${inRange}
  RETURNING h.aggregate_version - $6::bigint AS from_version`;
  const source =
    shape === 'many'
      ? `SELECT $1::text, $2::text, $3::text, head.from_version + e.ordinal, e.event_id, e.event_type,
    e.event_version, e.payload, e.trace_id, e.correlation_id, e.causation_id, e.metadata,
    e.created_at, $16::bigint
  FROM head CROSS JOIN unnest($7::uuid[], $8::text[], $9::integer[], $10::bytea[], $11::text[],
    $12::text[], $13::text[], $14::jsonb[], $15::timestamptz[])
    WITH ORDINALITY AS e(event_id, event_type, event_version, payload, trace_id, correlation_id,
      causation_id, metadata, created_at, ordinal)
  ORDER BY e.ordinal`
      : `SELECT $1::text, $2::text, $3::text, head.from_version + 1, $7::uuid, $8::text,
    $9::integer, $10::bytea, $11::text, $12::text, $13::text, $14::text::jsonb, $15::timestamptz,
    $16::bigint
  FROM head`;
  return `WITH head AS (
  ${head}
)${notify ? `, notified AS (SELECT pg_notify('${t.channel}', '') FROM head)` : ''}
INSERT INTO ${t.events} (${EVENT_INSERT_COLUMNS})
${source}
RETURNING (SELECT from_version FROM head), aggregate_version, global_position::text,
  pg_current_xact_id()::text${notify ? ', (SELECT count(*) FROM notified)' : ''}`;
}

/** @internal */
export function appendStatements(t: PostgresTables): AppendStatements {
  const statements = {} as AppendStatements['statements'];
  for (const shape of ['single', 'many'] as const) {
    for (const path of ['create', 'upsert', 'update'] as const) {
      statements[`${shape}/${path}/notify`] = statement(appendSql(t, shape, path, true));
      statements[`${shape}/${path}/silent`] = statement(appendSql(t, shape, path, false));
    }
  }
  return {
    statements,
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

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function appendParams(prepared: PreparedAppend): unknown[] {
  const { stream, events } = prepared;
  const [lowest, highest] = versionRange(prepared.expected);
  const n = events.length;
  if (n === 1) {
    const event = events[0]!;
    return [
      stream.boundedContext,
      stream.aggregateType,
      stream.aggregateId,
      lowest,
      highest,
      1,
      event.eventId,
      event.eventType,
      event.eventVersion,
      toBuffer(event.payloadBytes),
      event.traceId,
      event.correlationId,
      event.causationId,
      event.metadataJson,
      event.createdAt.toISOString(),
      prepared.aggregateHash,
    ];
  }
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
    prepared.aggregateHash,
  ];
}

/** Runs one statement where the append runs: in a transaction, or in autocommit on the pool. @internal */
export type RunStatement = (
  statement: Statement,
  params: readonly unknown[],
) => Promise<unknown[][]>;

/**
 * Writes a prepared append to one stream in one statement; `notify` sends the wake-up
 * notification from that statement. A failed version check or a duplicate event id comes back as
 * the outcome, with nothing of the append written.
 * @internal
 */
export async function append(
  driver: PostgresDriver<any>,
  tables: PostgresTables,
  statements: AppendStatements,
  run: RunStatement,
  prepared: PreparedAppend,
  notify: boolean,
): Promise<AppendOutcome> {
  const params = appendParams(prepared);
  const shape = prepared.events.length === 1 ? 'single' : 'many';
  const path: HeadPath = params[3] !== 0 ? 'update' : params[4] === 0 ? 'create' : 'upsert';
  const appendStatement = statements.statements[`${shape}/${path}/${notify ? 'notify' : 'silent'}`];
  const { stream, expected } = prepared;
  for (let attempt = 1; ; attempt++) {
    let rows: unknown[][];
    try {
      rows = await run(appendStatement, params);
    } catch (error) {
      const failure = appendFailure(error, driver, tables);
      if (failure === undefined) throw error;
      return failure;
    }
    if (rows.length > 0) {
      const fromVersion = Number(rows[0]![0]);
      const transactionId = String(rows[0]![3]);
      const globalPositions = new Array<number>(rows.length);
      const checkpoints = new Array<string>(rows.length);
      for (const row of rows) {
        const index = Number(row[1]) - fromVersion - 1;
        const position = String(row[2]);
        globalPositions[index] = Number(position);
        checkpoints[index] = encodeCheckpoint(transactionId, position);
      }
      return { status: 'appended', fromVersion, globalPositions, checkpoints };
    }
    // The check failed. The head row (when it exists) is committed or locked by us by now, so
    // this reads the version that made it fail, unless a concurrent append changed it in between
    // (then retry).
    const current = await run(statements.streamVersion, [
      stream.boundedContext,
      stream.aggregateType,
      stream.aggregateId,
    ]);
    const actualVersion = current.length === 0 ? 0 : Number(current[0]![0]);
    if (!expected.matches(actualVersion) || attempt >= MAX_ATTEMPTS) {
      return { status: 'versionConflict', actualVersion };
    }
  }
}
