import type { TableNames } from '@pup/core';

/** Table names of the benchmark's own schema, as pup's `tables` option takes them. */
export function postgresTables(schema: string): TableNames {
  return {
    events: `${schema}.events`,
    aggregateHeads: `${schema}.aggregate_heads`,
    checkpoints: `${schema}.projection_checkpoints`,
  };
}

/** Columns a raw append writes, in parameter order (the rest take their defaults). */
export const INSERT_COLUMNS = [
  'bounded_context',
  'aggregate_type',
  'aggregate_id',
  'aggregate_version',
  'event_id',
  'event_type',
  'event_version',
  'payload',
  'metadata',
  'trace_id',
  'correlation_id',
  'causation_id',
  'created_at',
] as const;

const METADATA_INDEX = INSERT_COLUMNS.indexOf('metadata');

/**
 * Columns every raw read selects: the same list, with the same casts, as pup's reads (the
 * transaction id, the id and the metadata as text).
 */
export const SELECT_COLUMNS =
  'global_position, transaction_id::text, bounded_context, aggregate_type, aggregate_id, ' +
  'aggregate_version, event_id::text, event_type, event_version, payload, metadata::text, ' +
  'trace_id, correlation_id, causation_id, created_at';

/** `INSERT … VALUES (…), (…)` for `rows` events with numbered parameters. */
export function multiRowInsertSql(tables: TableNames, rows: number): string {
  const width = INSERT_COLUMNS.length;
  const tuples: string[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const params: string[] = new Array(width);
    for (let c = 0; c < width; c++) params[c] = `$${r * width + c + 1}`;
    // postgres.js serializes a jsonb parameter with JSON.stringify; a text parameter keeps the
    // already encoded metadata as it is, for both drivers.
    params[METADATA_INDEX] = `${params[METADATA_INDEX]}::text::jsonb`;
    tuples[r] = `(${params.join(', ')})`;
  }
  return `INSERT INTO ${tables.events} (${INSERT_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
}

/** Parameter casts of a row, so VALUES in a SELECT gets the column types. */
const COLUMN_CASTS = [
  'text',
  'text',
  'text',
  'bigint',
  'uuid',
  'text',
  'integer',
  'bytea',
  'text::jsonb',
  'text',
  'text',
  'text',
  'timestamptz',
];

/**
 * The same rows as {@link multiRowInsertSql} plus the stream's head row, in one statement (as
 * few round trips as pup): the head is created with `ON CONFLICT DO NOTHING` and the events are
 * inserted only when it was, which is the check of `ExpectedVersion.noStream()`. `$1..$3` of the
 * first row name the stream; the statement returns one row per inserted event.
 */
export function multiRowInsertWithHeadSql(tables: TableNames, rows: number): string {
  const width = INSERT_COLUMNS.length;
  const tuples: string[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const params: string[] = new Array(width);
    for (let c = 0; c < width; c++) params[c] = `$${r * width + c + 1}::${COLUMN_CASTS[c]}`;
    tuples[r] = `(${params.join(', ')})`;
  }
  const columns = INSERT_COLUMNS.join(', ');
  return (
    `WITH head AS (INSERT INTO ${tables.aggregateHeads} ` +
    '(bounded_context, aggregate_type, aggregate_id, aggregate_version) ' +
    `VALUES ($1::text, $2::text, $3::text, ${rows}) ON CONFLICT DO NOTHING RETURNING 1) ` +
    `INSERT INTO ${tables.events} (${columns}) SELECT v.* FROM head CROSS JOIN ` +
    `(VALUES ${tuples.join(', ')}) AS v(${columns})`
  );
}

/** Reads one whole stream in version order. */
export function readStreamSql(tables: TableNames): string {
  return (
    `SELECT ${SELECT_COLUMNS} FROM ${tables.events} ` +
    'WHERE bounded_context = $1 AND aggregate_type = $2 AND aggregate_id = $3 ' +
    'ORDER BY aggregate_version'
  );
}

/** Keyset read of the log: the next `$2` events after position `$1`. */
export function keysetReadSql(tables: TableNames): string {
  return (
    `SELECT ${SELECT_COLUMNS} FROM ${tables.events} ` +
    'WHERE global_position > $1 ORDER BY global_position LIMIT $2'
  );
}

/**
 * Bulk-loads events `$1 .. $2 - 1` (streams of `$3` events, aggregate ids `pre-<n>`) with
 * generate_series: the fast way to fill a large log, not a benchmarked path.
 */
export function preloadSql(tables: TableNames): string {
  return `
INSERT INTO ${tables.events} (bounded_context, aggregate_type, aggregate_id, aggregate_version,
  event_id, event_type, event_version, payload, metadata, created_at)
SELECT 'bench', 'Account', 'pre-' || (g / $3::int), (g % $3::int) + 1,
  gen_random_uuid(), 'MoneyDeposited', 1,
  convert_to(format('{"accountId":"pre-%s","amount":%s,"currency":"EUR","reference":"INV-%s"}',
    g / $3::int, (g % $3::int) * 7 + 1, g % $3::int), 'UTF8'),
  '{"source":"bench","userId":"user-42"}'::jsonb, now()
FROM generate_series($1::int, $2::int - 1) AS g`;
}

/** Fills the aggregate heads of the preloaded streams. */
export function preloadHeadsSql(tables: TableNames): string {
  return `
INSERT INTO ${tables.aggregateHeads} (bounded_context, aggregate_type, aggregate_id, aggregate_version)
SELECT bounded_context, aggregate_type, aggregate_id, max(aggregate_version)
FROM ${tables.events} GROUP BY 1, 2, 3`;
}
