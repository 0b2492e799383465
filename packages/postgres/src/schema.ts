import { createHash } from 'node:crypto';
import { SchemaVersionError, type TableNames } from '@pup/core';
import {
  derivedIdentifier,
  derivedTableName,
  derivedTables,
  parseQualifiedName,
  resolveTableNames,
} from '@pup/core/adapter';
import { type PostgresDriver, statement } from './driver.js';

const MAX_IDENTIFIER_LENGTH = 63;
/** Key of the advisory lock that serializes concurrent `migrate()` calls ("pup_migr" in ASCII). */
const MIGRATE_LOCK = statement('SELECT pg_advisory_xact_lock(8103657445598488946)');
const CHANNEL_PREFIX = 'pup_events:';

/**
 * Version of the schema {@link postgresSchemaSql} creates, recorded in `<events>_meta`.
 * `migrate()` refuses a database whose recorded version is newer. @internal
 */
export const SCHEMA_VERSION = 2;

/** Quoted names of the store's tables, constraints and notification channel. @internal */
export interface PostgresTables {
  /** The names as configured (checked). */
  names: TableNames;
  /** Quoted, optionally schema-qualified `events` table. */
  events: string;
  /** Quoted, optionally schema-qualified aggregate heads table. */
  aggregateHeads: string;
  /** Quoted, optionally schema-qualified checkpoints table. */
  checkpoints: string;
  /** Quoted `<events>_meta` table (in the events table's schema): the schema version. */
  meta: string;
  /** Quoted `<checkpoints>_leases` table (in the checkpoints table's schema): workers' leases. */
  leases: string;
  /** Quoted `<checkpoints>_dead_letters` table (beside the checkpoints): events set aside. */
  deadLetters: string;
  /** Name of the unique constraint on `(stream, aggregate_version)`. */
  streamVersionConstraint: string;
  /** Name of the unique constraint on `event_id`. */
  eventIdConstraint: string;
  /** The LISTEN/NOTIFY channel appends notify on. */
  channel: string;
}

function quote(part: string): string {
  return `"${part}"`;
}

/** `<table>_<suffix>`, shortened to fit PostgreSQL's 63-character identifiers. */
const derivedName = derivedIdentifier;

/** A derived table (see `derivedTables`), quoted. */
function quoteDerived(names: TableNames, table: keyof typeof derivedTables): string {
  const [base, suffix] = derivedTables[table];
  return derivedTableName(names[base], suffix).map(quote).join('.');
}

/**
 * Validates the table names and derives every name the SQL needs.
 * @throws {InvalidConfigError} on an invalid or repeated table name, or one that collides with a
 * table the store derives.
 * @internal
 */
export function postgresTables(tables?: Partial<TableNames> | null): PostgresTables {
  const names = resolveTableNames(tables);
  const events = parseQualifiedName(names.events, 'tables.events');
  const eventsTable = events[events.length - 1]!;
  const plainEvents = events.join('.');
  const checkpoints = parseQualifiedName(names.checkpoints, 'tables.checkpoints');
  const channel =
    CHANNEL_PREFIX.length + plainEvents.length <= MAX_IDENTIFIER_LENGTH
      ? `${CHANNEL_PREFIX}${plainEvents}`
      : `${CHANNEL_PREFIX}${createHash('sha1').update(plainEvents).digest('hex').slice(0, 32)}`;
  return {
    names,
    events: events.map(quote).join('.'),
    aggregateHeads: parseQualifiedName(names.aggregateHeads, 'tables.aggregateHeads')
      .map(quote)
      .join('.'),
    checkpoints: checkpoints.map(quote).join('.'),
    leases: quoteDerived(names, 'leases'),
    deadLetters: quoteDerived(names, 'deadLetters'),
    meta: quoteDerived(names, 'meta'),
    streamVersionConstraint: derivedName(eventsTable, 'stream_version_key'),
    eventIdConstraint: derivedName(eventsTable, 'event_id_key'),
    channel,
  };
}

function tableName(qualified: string, option: string): string {
  const parts = parseQualifiedName(qualified, option);
  return parts[parts.length - 1]!;
}

/**
 * The SQL that creates pup's tables and indexes on PostgreSQL 13 or later: what `migrate()`
 * applies and what `pup-migrate-gen --adapter postgres` writes. Every statement is idempotent
 * (`IF NOT EXISTS`). Schemas named in qualified table names must already exist.
 *
 * @param tables Table names, each optionally schema-qualified. @default events, aggregate_heads, projection_checkpoints
 * @throws {InvalidConfigError} on an invalid or repeated table name.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * writeFileSync('001_pup.sql', postgresSchemaSql({ events: 'app.events' }));
 */
export function postgresSchemaSql(tables?: Partial<TableNames> | null): string {
  const t = postgresTables(tables);
  const events = tableName(t.names.events, 'tables.events');
  const heads = tableName(t.names.aggregateHeads, 'tables.aggregateHeads');
  const checkpoints = tableName(t.names.checkpoints, 'tables.checkpoints');
  return `-- pup event store schema for PostgreSQL 13+ (@pup/postgres)

-- The append-only log. transaction_id records the writing transaction (xid8): readers only see
-- events of transactions older than the oldest running one, in (transaction_id, global_position)
-- order, so an event committed late can never land behind a checkpoint a reader already passed.
CREATE TABLE IF NOT EXISTS ${t.events} (
  global_position bigint GENERATED ALWAYS AS IDENTITY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  bounded_context text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  aggregate_version bigint NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  event_version integer NOT NULL DEFAULT 1,
  payload bytea NOT NULL,
  trace_id text,
  correlation_id text,
  causation_id text,
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  aggregate_hash bigint,
  CONSTRAINT ${quote(derivedName(events, 'pkey'))} PRIMARY KEY (global_position),
  CONSTRAINT ${quote(t.streamVersionConstraint)}
    UNIQUE (bounded_context, aggregate_type, aggregate_id, aggregate_version),
  CONSTRAINT ${quote(t.eventIdConstraint)} UNIQUE (event_id),
  CONSTRAINT ${quote(derivedName(events, 'aggregate_version_check'))} CHECK (aggregate_version > 0)
);

-- Schema version 2: fnv1a32(aggregate_id), so projection workers read only their segments' rows.
-- Rows written before it stay NULL and are filtered by the workers themselves.
ALTER TABLE ${t.events} ADD COLUMN IF NOT EXISTS aggregate_hash bigint;

-- Serves readEvents' keyset in log order without a sort.
CREATE INDEX IF NOT EXISTS ${quote(derivedName(events, 'transaction_order_idx'))}
  ON ${t.events} (transaction_id, global_position);

-- One row per stream with its current version: the append's concurrency check locks this row.
CREATE TABLE IF NOT EXISTS ${t.aggregateHeads} (
  bounded_context text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  aggregate_version bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ${quote(derivedName(heads, 'pkey'))}
    PRIMARY KEY (bounded_context, aggregate_type, aggregate_id)
);

-- One row per projection (per partition) with the checkpoint it resumes after.
CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
  projection_name text NOT NULL,
  checkpoint text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ${quote(derivedName(checkpoints, 'pkey'))} PRIMARY KEY (projection_name)
);

-- Leases of projection workers (ProjectionWorker): one row per segment (lease_key s<k>) and per
-- live worker (w:<id>); epoch is the fencing token a batch checks before saving its checkpoint.
CREATE TABLE IF NOT EXISTS ${t.leases} (
  projection_name text NOT NULL,
  lease_key text NOT NULL,
  owner text,
  epoch bigint NOT NULL,
  expires_at bigint NOT NULL,
  CONSTRAINT ${quote(derivedName(checkpoints, 'leases_pkey'))} PRIMARY KEY (projection_name, lease_key)
);

-- Events projections set aside under their deadLetter policy, with the handler's error.
CREATE TABLE IF NOT EXISTS ${t.deadLetters} (
  projection_name text NOT NULL,
  global_position bigint NOT NULL,
  checkpoint text NOT NULL,
  error text NOT NULL,
  failed_at bigint NOT NULL,
  CONSTRAINT ${quote(derivedName(checkpoints, 'dead_letters_pkey'))}
    PRIMARY KEY (projection_name, global_position)
);

-- The version of this schema: migrate() upgrades an older one and refuses a newer one.
CREATE TABLE IF NOT EXISTS ${t.meta} (
  name text NOT NULL PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO ${t.meta} AS m (name, value) VALUES ('schema_version', ${SCHEMA_VERSION})
  ON CONFLICT (name) DO UPDATE SET value = greatest(m.value, excluded.value);
`;
}

/**
 * Applies {@link postgresSchemaSql} in a transaction of its own. Concurrent calls (several
 * processes starting at once) take turns on a transaction-scoped advisory lock. A schema whose
 * recorded version is newer than {@link SCHEMA_VERSION} is refused before anything runs.
 * @throws {SchemaVersionError} when the database holds a newer schema.
 * @internal
 */
export async function migrate<Tx>(
  driver: PostgresDriver<Tx>,
  tables: PostgresTables,
  schemaSql: string,
): Promise<void> {
  await driver.transaction(async (tx) => {
    await driver.query(tx, MIGRATE_LOCK, []);
    const [exists] = await driver.query(tx, META_EXISTS, [tables.meta]);
    if (exists?.[0] === true) {
      const [row] = await driver.query(
        tx,
        statement(`SELECT value::text FROM ${tables.meta} WHERE name = 'schema_version'`),
        [],
      );
      const found = row === undefined ? 0 : Number(row[0]);
      if (found > SCHEMA_VERSION) throw new SchemaVersionError('PostgreSQL', found, SCHEMA_VERSION);
    }
    await driver.script(tx, schemaSql);
  });
}

const META_EXISTS = statement('SELECT to_regclass($1::text) IS NOT NULL');
