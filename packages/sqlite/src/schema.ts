import type { TableNames } from '@pup/core';
import {
  derivedTableName,
  derivedTables,
  quoteQualifiedName,
  resolveTableNames,
} from '@pup/core/adapter';

/** The three table names, validated and quoted for SQLite (`"main"."events"`). */
export interface QuotedTableNames {
  events: string;
  aggregateHeads: string;
  checkpoints: string;
  /** `<events>_meta`, in the events table's schema: the schema version. */
  meta: string;
  /** `<checkpoints>_leases`, in the checkpoints table's schema: projection workers' leases. */
  leases: string;
  /** `<checkpoints>_dead_letters`, beside the checkpoints table: events projections set aside. */
  deadLetters: string;
}

/**
 * Version of the schema {@link sqliteSchemaSql} creates, recorded in `<events>_meta`.
 * `migrate()` refuses a database whose recorded version is newer. @internal
 */
export const SCHEMA_VERSION = 1;

/** A derived table (see `derivedTables`), quoted for SQLite. */
function quoteDerived(names: TableNames, table: keyof typeof derivedTables): string {
  const [base, suffix] = derivedTables[table];
  return derivedTableName(names[base], suffix)
    .map((part) => `"${part}"`)
    .join('.');
}

/**
 * Validates table names (filling in defaults) and quotes them for SQLite.
 * @throws {InvalidConfigError} on an invalid or repeated name.
 */
export function quoteTableNames(tables?: Partial<TableNames> | null): QuotedTableNames {
  const names = resolveTableNames(tables);
  return {
    events: quoteQualifiedName(names.events, '"', 'tables.events'),
    aggregateHeads: quoteQualifiedName(names.aggregateHeads, '"', 'tables.aggregateHeads'),
    checkpoints: quoteQualifiedName(names.checkpoints, '"', 'tables.checkpoints'),
    meta: quoteDerived(names, 'meta'),
    leases: quoteDerived(names, 'leases'),
    deadLetters: quoteDerived(names, 'deadLetters'),
  };
}

/**
 * The SQLite schema of pup as one SQL script (statements separated by `;`), each statement
 * idempotent (`IF NOT EXISTS`). This is the single source of the SQLite schema: `store.migrate()`
 * runs exactly this script, and migration tools (`pup-migrate-gen --adapter sqlite`) write it to a
 * file.
 *
 * - `events`: the log. `global_position` is an `AUTOINCREMENT` rowid, so a position is never
 *   handed out twice, even after the newest event is deleted; a rolled-back append gives its
 *   positions back. `created_at` holds milliseconds since the epoch, `metadata` JSON text.
 * - `aggregate_heads`: each stream's current version, read and moved by every append.
 * - `projection_checkpoints`: each projection's resume checkpoint.
 * - `<checkpoints>_leases`: the leases of projection workers' segments and the workers' presence.
 * - `<checkpoints>_dead_letters`: events projections set aside under their `deadLetter` policy.
 * - `<events>_meta`: the schema version; `migrate()` refuses a newer one.
 *
 * @param tables Table names, each optionally schema-qualified (`main.events`).
 * @default tables `events`, `aggregate_heads`, `projection_checkpoints`
 * @throws {InvalidConfigError} on an invalid or repeated table name.
 *
 * @example
 * writeFileSync('migrations/001_event_sourcing.sql', sqliteSchemaSql());
 */
export function sqliteSchemaSql(tables?: Partial<TableNames> | null): string {
  const t = quoteTableNames(tables);
  return `CREATE TABLE IF NOT EXISTS ${t.events} (
  global_position INTEGER PRIMARY KEY AUTOINCREMENT,
  bounded_context TEXT NOT NULL,
  aggregate_type TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  aggregate_version INTEGER NOT NULL,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  event_version INTEGER NOT NULL DEFAULT 1,
  payload BLOB NOT NULL,
  trace_id TEXT,
  correlation_id TEXT,
  causation_id TEXT,
  metadata TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (bounded_context, aggregate_type, aggregate_id, aggregate_version)
);

CREATE TABLE IF NOT EXISTS ${t.aggregateHeads} (
  bounded_context TEXT NOT NULL,
  aggregate_type TEXT NOT NULL,
  aggregate_id TEXT NOT NULL,
  aggregate_version INTEGER NOT NULL,
  PRIMARY KEY (bounded_context, aggregate_type, aggregate_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
  projection_name TEXT NOT NULL PRIMARY KEY,
  checkpoint TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ${t.leases} (
  projection_name TEXT NOT NULL,
  lease_key TEXT NOT NULL,
  owner TEXT,
  epoch INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (projection_name, lease_key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ${t.deadLetters} (
  projection_name TEXT NOT NULL,
  global_position INTEGER NOT NULL,
  checkpoint TEXT NOT NULL,
  error TEXT NOT NULL,
  failed_at INTEGER NOT NULL,
  PRIMARY KEY (projection_name, global_position)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ${t.meta} (
  name TEXT NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO ${t.meta} (name, value) VALUES ('schema_version', ${SCHEMA_VERSION})
  ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value);
`;
}
