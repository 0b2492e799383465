import type { TableNames } from '@pup/core';
import { mysqlSchemaSql } from '@pup/mysql';
import { postgresSchemaSql } from '@pup/postgres';
import { sqliteSchemaSql } from '@pup/sqlite';

/** The databases `pup-migrate-gen` writes migrations for, by the name `--adapter` takes. */
export const migrationAdapters = ['postgres', 'mysql', 'sqlite'] as const;

/** A database `pup-migrate-gen` writes migrations for: one of {@link migrationAdapters}. */
export type MigrationAdapter = (typeof migrationAdapters)[number];

/** An adapter's exported schema function: exactly the SQL its `store.migrate()` applies. */
type SchemaSql = (tables?: Partial<TableNames> | null) => string;

/**
 * The one source of each schema: the adapters' own exported functions, never a copy. Each of them
 * validates the table names (core's `resolveTableNames`) and throws `InvalidConfigError`.
 */
const schemaFunctions: Record<MigrationAdapter, SchemaSql> = {
  postgres: postgresSchemaSql,
  mysql: mysqlSchemaSql,
  sqlite: sqliteSchemaSql,
};

/** Whether `value` names one of the {@link migrationAdapters}. */
export function isMigrationAdapter(value: unknown): value is MigrationAdapter {
  return typeof value === 'string' && (migrationAdapters as readonly string[]).includes(value);
}

/** The schema function of `adapter`. */
export function schemaFunction(adapter: MigrationAdapter): SchemaSql {
  return schemaFunctions[adapter];
}
