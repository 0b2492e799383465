import type { TableNames } from '@pup/core';
import {
  type DerivedTable,
  derivedIdentifier,
  derivedTableName,
  derivedTables,
  parseQualifiedName,
  resolveTableNames,
} from '@pup/core/adapter';
import { BLOCK_SIZE, FIRST_BLOCKS } from './blocks.js';

/** Version of the schema this package creates; recorded in the meta table. */
export const SCHEMA_VERSION = 2;

/** Quoted names of the store's tables. @internal */
export interface MysqlTables {
  /** The names as configured (checked). */
  names: TableNames;
  /** Quoted, optionally database-qualified `events` table. */
  events: string;
  /** Quoted aggregate heads table. */
  aggregateHeads: string;
  /** Quoted checkpoints table. */
  checkpoints: string;
  /** Quoted pool of free position blocks (`<events>_blocks`, beside the events table). */
  blocks: string;
  /** Quoted key-value table of the store (`<events>_meta`): schema version, next block. */
  meta: string;
  /** Quoted lease table of projection workers (`<checkpoints>_leases`, beside the checkpoints). */
  leases: string;
  /** Quoted `<checkpoints>_dead_letters` (beside the checkpoints): events projections set aside. */
  deadLetters: string;
  /** Plain `database.table` (or `table`) of the events table, for lock names. */
  plainEvents: string;
  /** Index names of the events table (MySQL reports them in duplicate-key errors). */
  eventIdKey: string;
  streamVersionKey: string;
}

function quote(part: string): string {
  return `\`${part}\``;
}

/** A derived table's parts, quoted. */
function quoteParts(parts: readonly string[]): string {
  return parts.map(quote).join('.');
}

/** MySQL's own derived table: the pool of free position blocks, beside the events table. */
const BLOCKS_TABLE: DerivedTable = ['events', 'blocks'];

/**
 * Validates the table names and derives every name the SQL needs.
 * @throws {InvalidConfigError} on an invalid or repeated table name, or one that collides with a
 * table the store derives.
 * @internal
 */
export function mysqlTables(tables?: Partial<TableNames> | null): MysqlTables {
  const names = resolveTableNames(tables, { blocks: BLOCKS_TABLE });
  const events = parseQualifiedName(names.events, 'tables.events');
  const eventsTable = events[events.length - 1]!;
  const derived = ([base, suffix]: DerivedTable) =>
    quoteParts(derivedTableName(names[base], suffix));
  return {
    names,
    events: quoteParts(events),
    aggregateHeads: quoteParts(parseQualifiedName(names.aggregateHeads, 'tables.aggregateHeads')),
    checkpoints: quoteParts(parseQualifiedName(names.checkpoints, 'tables.checkpoints')),
    leases: derived(derivedTables.leases),
    deadLetters: derived(derivedTables.deadLetters),
    blocks: derived(BLOCKS_TABLE),
    meta: derived(derivedTables.meta),
    plainEvents: events.join('.'),
    eventIdKey: derivedIdentifier(eventsTable, 'event_id'),
    streamVersionKey: derivedIdentifier(eventsTable, 'stream_version'),
  };
}

/** `1, 2, …, count` as a derived table of one column `n`, without a recursive CTE. */
function numbers(count: number): string {
  const digits =
    'SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9';
  return `(SELECT ones.d + 10 * tens.d + 100 * hundreds.d + 1 AS n
     FROM (${digits}) ones CROSS JOIN (${digits}) tens CROSS JOIN (${digits}) hundreds) numbers
   WHERE numbers.n <= ${count}`;
}

/**
 * Schema version 2 adds `aggregate_hash` (fnv1a32 of the aggregate id, so projection workers read
 * only their segments' rows) to an events table created before it. MySQL 8 has no
 * `ADD COLUMN IF NOT EXISTS`, so the statement is chosen from `information_schema` and prepared;
 * it runs on one connection, as `migrate()` and a migration tool's script do.
 */
function addAggregateHash(t: MysqlTables): string[] {
  const parts = parseQualifiedName(t.names.events, 'tables.events');
  const table = parts[parts.length - 1]!;
  const schema = parts.length > 1 ? `'${parts[0]}'` : 'DATABASE()';
  return [
    `-- Schema version 2: fnv1a32(aggregate_id), so projection workers read only their segments'
-- rows. Rows written before it stay NULL and are filtered by the workers themselves.
SET @pup_add_hash = IF(
  EXISTS (SELECT 1 FROM information_schema.columns
    WHERE table_schema = ${schema} AND table_name = '${table}' AND column_name = 'aggregate_hash'),
  'DO 0',
  'ALTER TABLE ${t.events} ADD COLUMN aggregate_hash INT UNSIGNED NULL')`,
    'PREPARE pup_add_hash FROM @pup_add_hash',
    'EXECUTE pup_add_hash',
    'DEALLOCATE PREPARE pup_add_hash',
  ];
}

/**
 * The statements of {@link mysqlSchemaSql}, in order; `migrate()` runs them one by one (MySQL
 * commits DDL statement by statement, so there is no transaction around them). @internal
 */
export function schemaStatements(t: MysqlTables): string[] {
  return [
    `-- The append-only log. global_position is the log order: each appending transaction claims
-- a block of ${BLOCK_SIZE} positions from ${t.blocks} (global_position = block * ${BLOCK_SIZE} + n), and
-- readers only read below the lowest block that is still free or held by a running
-- transaction, so an event committed late can never land behind a checkpoint already passed.
CREATE TABLE IF NOT EXISTS ${t.events} (
  global_position BIGINT NOT NULL,
  bounded_context VARBINARY(400) NOT NULL,
  aggregate_type VARBINARY(400) NOT NULL,
  aggregate_id VARBINARY(1020) NOT NULL,
  aggregate_version BIGINT NOT NULL,
  event_id BINARY(16) NOT NULL,
  event_type VARBINARY(1020) NOT NULL,
  event_version INT NOT NULL DEFAULT 1,
  payload LONGBLOB NOT NULL,
  trace_id VARBINARY(1020) NULL,
  correlation_id VARBINARY(1020) NULL,
  causation_id VARBINARY(1020) NULL,
  metadata JSON NULL,
  created_at DATETIME(3) NOT NULL,
  aggregate_hash INT UNSIGNED NULL,
  PRIMARY KEY (global_position),
  UNIQUE KEY ${quote(t.eventIdKey)} (event_id),
  UNIQUE KEY ${quote(t.streamVersionKey)} (bounded_context, aggregate_type, aggregate_id, aggregate_version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ...addAggregateHash(t),
    `-- One row per stream with its current version: appends to one stream take turns on its row.
CREATE TABLE IF NOT EXISTS ${t.aggregateHeads} (
  bounded_context VARBINARY(400) NOT NULL,
  aggregate_type VARBINARY(400) NOT NULL,
  aggregate_id VARBINARY(1020) NOT NULL,
  aggregate_version BIGINT NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (bounded_context, aggregate_type, aggregate_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `-- One row per projection (per partition): the global position it resumes after (0: none yet).
CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
  projection_name VARBINARY(1020) NOT NULL,
  position BIGINT NOT NULL DEFAULT 0,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (projection_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `-- Leases of projection workers (ProjectionWorker): one row per segment (lease_key s<k>) and
-- per live worker (w:<id>); epoch is the fencing token a batch checks before saving its checkpoint.
CREATE TABLE IF NOT EXISTS ${t.leases} (
  projection_name VARBINARY(1020) NOT NULL,
  lease_key VARBINARY(808) NOT NULL,
  owner VARBINARY(800) NULL,
  epoch BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (projection_name, lease_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `-- Events projections set aside under their deadLetter policy, with the handler's error.
CREATE TABLE IF NOT EXISTS ${t.deadLetters} (
  projection_name VARBINARY(1020) NOT NULL,
  global_position BIGINT NOT NULL,
  checkpoint VARCHAR(64) CHARACTER SET ascii NOT NULL,
  error TEXT NOT NULL,
  failed_at BIGINT NOT NULL,
  PRIMARY KEY (projection_name, global_position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `-- Free position blocks. An appending transaction locks the lowest free one (SKIP LOCKED) and
-- deletes it; until it commits, the row stays visible to readers and holds them back there.
CREATE TABLE IF NOT EXISTS ${t.blocks} (
  block BIGINT NOT NULL,
  PRIMARY KEY (block)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `-- The schema version and the next block to hand out (blocks are never handed out twice).
CREATE TABLE IF NOT EXISTS ${t.meta} (
  name VARCHAR(64) CHARACTER SET ascii NOT NULL,
  value BIGINT NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `INSERT IGNORE INTO ${t.meta} (name, value) VALUES ('next_block', ${FIRST_BLOCKS + 1})`,
    `-- The first free blocks, only into a log that has never had an event.
INSERT IGNORE INTO ${t.blocks} (block)
  SELECT numbers.n FROM ${numbers(FIRST_BLOCKS)}
  AND NOT EXISTS (SELECT 1 FROM ${t.events})`,
    `INSERT INTO ${t.meta} (name, value) VALUES ('schema_version', ${SCHEMA_VERSION})
  ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value))`,
  ];
}

/**
 * The SQL that creates pup's tables on MySQL 8.0+ or MariaDB 10.6+: exactly what `migrate()`
 * applies (statement by statement, under a lock so that several processes can migrate at once),
 * for your own migration tool. Every statement is idempotent. A database named in qualified
 * table names must already exist. Besides the three tables it creates `<events>_blocks` (free
 * position blocks) and `<events>_meta` (schema version, next block) beside the events table.
 *
 * @param tables Table names, each optionally database-qualified. @default events, aggregate_heads, projection_checkpoints
 * @throws {InvalidConfigError} on an invalid or repeated table name.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * writeFileSync('001_pup.sql', mysqlSchemaSql({ events: 'app.events' }));
 */
export function mysqlSchemaSql(tables?: Partial<TableNames> | null): string {
  const t = mysqlTables(tables);
  return `-- pup event store schema for MySQL 8.0+ and MariaDB 10.6+ (@pup/mysql), schema version ${SCHEMA_VERSION}

${schemaStatements(t).join(';\n\n')};
`;
}
