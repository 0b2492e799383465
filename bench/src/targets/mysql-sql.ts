import type { TableNames } from '@pup/core';
import type { RawEventRow } from '../fixtures.js';

/**
 * Positions per block of pup's MySQL design (`BLOCK_SIZE` of `@pup/mysql`, repeated here so the
 * SQL helpers load without the adapter). The target checks it against the adapter's export.
 */
export const BLOCK_SIZE = 16_384;
/** Free blocks a fresh schema holds and a refill adds (pup's `FIRST_BLOCKS`). */
export const FIRST_BLOCKS = 1_000;
/** A refill starts when fewer free blocks than this are left above the drawn one (pup's). */
export const REFILL_BELOW = 250;

/** Every table the benchmark uses in its MySQL database. */
export interface MysqlBenchTables {
  /** pup's three tables, database-qualified, as the store's `tables` option takes them. */
  pup: TableNames;
  /** pup's free position blocks and its meta row (derived from the events table). */
  blocks: string;
  meta: string;
  /** Baseline A: the events table with AUTO_INCREMENT positions. */
  autoIncrement: string;
  /** 0 … 99,999, for server-side preloads. */
  numbers: string;
}

/** The tables of the benchmark's database `database`. */
export function mysqlBenchTables(database: string): MysqlBenchTables {
  return {
    pup: {
      events: `${database}.events`,
      aggregateHeads: `${database}.aggregate_heads`,
      checkpoints: `${database}.projection_checkpoints`,
    },
    blocks: `${database}.events_blocks`,
    meta: `${database}.events_meta`,
    autoIncrement: `${database}.bench_auto_increment_events`,
    numbers: `${database}.bench_numbers`,
  };
}

/** Columns a raw append writes after the position (the rest take their defaults). */
const EVENT_COLUMNS =
  'bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, ' +
  'event_version, payload, metadata, trace_id, correlation_id, causation_id, created_at';
const EVENT_WIDTH = 13;

/**
 * Columns every raw read selects: the same list and expressions as pup's reads
 * (`created_at` as text, read as UTC).
 */
export const SELECT_COLUMNS =
  'global_position, bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, ' +
  'event_type, event_version, payload, trace_id, correlation_id, causation_id, metadata, ' +
  'CAST(created_at AS CHAR)';

/** `INSERT … VALUES (…), …` of `rows` events; with `positioned`, the global position first. */
export function insertEventsSql(table: string, rows: number, positioned: boolean): string {
  const width = positioned ? EVENT_WIDTH + 1 : EVENT_WIDTH;
  const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  const columns = positioned ? `global_position, ${EVENT_COLUMNS}` : EVENT_COLUMNS;
  return `INSERT INTO ${table} (${columns}) VALUES ${Array.from({ length: rows }, () => tuple).join(', ')}`;
}

/** `Date` → `YYYY-MM-DD HH:MM:SS.mmm` in UTC, for a DATETIME(3) column. */
function utcDatetime(date: Date): string {
  return date.toISOString().slice(0, 23).replace('T', ' ');
}

/** The 16 bytes of a UUID in its text form. */
function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

/**
 * Parameters of {@link insertEventsSql}, row after row; `firstPosition` numbers the rows when
 * the table takes explicit positions. Strings as strings: mysql2 escapes them for the VARBINARY
 * columns, as a hand-written program would leave it to.
 */
export function eventValues(rows: readonly RawEventRow[], firstPosition?: number): unknown[] {
  const values: unknown[] = [];
  rows.forEach((row, i) => {
    if (firstPosition !== undefined) values.push(firstPosition + i);
    values.push(
      row.boundedContext,
      row.aggregateType,
      row.aggregateId,
      row.aggregateVersion,
      uuidBytes(row.eventId),
      row.eventType,
      row.eventVersion,
      row.payload,
      row.metadata,
      row.traceId,
      row.correlationId,
      row.causationId,
      utcDatetime(row.createdAt),
    );
  });
  return values;
}

/**
 * pup's stream creation: the head row, inserted under a named lock per stream that the next
 * statement releases (`$1..$3` the stream, `$4` its version, `$5` the lock's name).
 */
export function createHeadSql(t: MysqlBenchTables): string {
  return (
    `INSERT INTO ${t.pup.aggregateHeads} ` +
    '(bounded_context, aggregate_type, aggregate_id, aggregate_version) ' +
    'SELECT ?, ?, ?, ? FROM DUAL WHERE GET_LOCK(?, 50) = 1'
  );
}

/** Locks the lowest free block no other transaction holds; also returns the highest block. */
export function drawBlockSql(t: MysqlBenchTables): string {
  return (
    `SELECT block, (SELECT MAX(top.block) FROM ${t.blocks} top) FROM ${t.blocks} ` +
    'ORDER BY block LIMIT 1 FOR UPDATE SKIP LOCKED'
  );
}

/** Reads one whole stream in version order. */
export function readStreamSql(table: string): string {
  return (
    `SELECT ${SELECT_COLUMNS} FROM ${table} ` +
    'WHERE bounded_context = ? AND aggregate_type = ? AND aggregate_id = ? ' +
    'ORDER BY aggregate_version'
  );
}

/** Keyset read of the log: the next `?` events after position `?`. */
export function keysetReadSql(table: string): string {
  return `SELECT ${SELECT_COLUMNS} FROM ${table} WHERE global_position > ? ORDER BY global_position LIMIT ?`;
}

const DIGITS =
  '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 ' +
  'UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';

/** Statements that create and fill the numbers table (idempotent). */
export function numbersSql(t: MysqlBenchTables): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t.numbers} (n INT NOT NULL PRIMARY KEY) ENGINE=InnoDB`,
    `INSERT IGNORE INTO ${t.numbers} (n)
     SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d
     FROM ${DIGITS} a CROSS JOIN ${DIGITS} b CROSS JOIN ${DIGITS} c CROSS JOIN ${DIGITS} e
       CROSS JOIN ${DIGITS} f`,
  ];
}

/** Rows the numbers table holds: the most one preload statement inserts. */
export const NUMBERS = 100_000;

/**
 * Bulk-loads events `from … from + count - 1` of the log at positions `BLOCK_SIZE + g` (from
 * block 1 on, densely), streams of `perStream` events with aggregate ids `pre-<n>`, server-side:
 * the fast way to fill a large log, not a benchmarked path. Parameters: see {@link preloadValues}.
 */
export function preloadSql(t: MysqlBenchTables): string {
  return `
INSERT INTO ${t.pup.events} (global_position, bounded_context, aggregate_type, aggregate_id,
  aggregate_version, event_id, event_type, event_version, payload, metadata, created_at)
SELECT ? + g, 'bench', 'Account', CONCAT('pre-', g DIV ?), g MOD ? + 1,
  UNHEX(MD5(CONCAT('bench-', g))), 'MoneyDeposited', 1,
  CONCAT('{"accountId":"pre-', g DIV ?, '","amount":', (g MOD ?) * 7 + 1,
    ',"currency":"EUR","reference":"INV-', g MOD ?, '"}'),
  '{"source":"bench","userId":"user-42"}', UTC_TIMESTAMP(3)
FROM (SELECT n + ? AS g FROM ${t.numbers} WHERE n < ?) AS numbered`;
}

/** Parameters of {@link preloadSql}. */
export function preloadValues(from: number, count: number, perStream: number): unknown[] {
  return [BLOCK_SIZE, perStream, perStream, perStream, perStream, perStream, from, count];
}

/** Fills the aggregate heads of the preloaded streams. */
export function preloadHeadsSql(t: MysqlBenchTables): string {
  return `
INSERT INTO ${t.pup.aggregateHeads} (bounded_context, aggregate_type, aggregate_id, aggregate_version)
SELECT bounded_context, aggregate_type, aggregate_id, MAX(aggregate_version)
FROM ${t.pup.events} GROUP BY bounded_context, aggregate_type, aggregate_id`;
}

/** `(first), (first + 1), …` of `count` blocks, for an INSERT into the blocks table. */
export function blockRows(first: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `(${first + i})`).join(', ');
}
