import { join } from 'node:path';
import { InvalidArgumentError, type TableNames } from '@pup/core';
import {
  isMigrationAdapter,
  type MigrationAdapter,
  migrationAdapters,
  schemaFunction,
} from './adapters.js';
import { checkFileName, defaultMigrationFileName } from './file-name.js';

/** The folder migrations are written to when no `output` is given. */
export const DEFAULT_OUTPUT_DIR = 'migrations';

/** Options of {@link generateMigration}; the same as the flags of `pup-migrate-gen`. */
export interface GenerateMigrationOptions {
  /** The database the SQL is for (`--adapter`). */
  adapter: MigrationAdapter;
  /**
   * Table names, as given to the store's `tables` option (`--events-table`,
   * `--aggregate-heads-table`, `--checkpoints-table`). Schema-qualified names (`app.events`) are
   * accepted where the database has schemas.
   * @default events, aggregate_heads, projection_checkpoints
   */
  tables?: Partial<TableNames> | null;
  /**
   * Folder the file goes to (`--output`), relative to the working directory unless absolute.
   * @default 'migrations'
   */
  output?: string;
  /**
   * Name of the file (`--filename`), without any folder.
   * @default `YYYYMMDDHHMMSS_init_event_sourcing.sql`, the UTC time of `now`
   */
  fileName?: string;
  /**
   * The clock of the default file name; pass a fixed date for reproducible names.
   * @default new Date()
   */
  now?: Date;
}

/** A migration as {@link generateMigration} returns it: what `pup-migrate-gen` writes, and where. */
export interface GeneratedMigration {
  /** The database the SQL is for. */
  adapter: MigrationAdapter;
  /** Name of the file. */
  fileName: string;
  /** `output` joined with `fileName`: where the file is (or would be) written. */
  path: string;
  /** The file's content: exactly the SQL the adapter's `store.migrate()` applies. */
  sql: string;
}

/**
 * Generates pup's schema for one database as a migration: the file name and the SQL, byte for
 * byte what `pup-migrate-gen` writes. Nothing is written to disk (see `writeMigration`). The SQL
 * is the adapter's own schema function (`postgresSchemaSql`, `sqliteSchemaSql`, …), the one its
 * `store.migrate()` runs, so applying the file leaves `migrate()` nothing to do.
 *
 * @example
 * const { fileName, sql } = generateMigration({ adapter: 'postgres', tables: { events: 'app.events' } });
 *
 * @throws {InvalidArgumentError} on an unknown adapter, an invalid `fileName`, `output` or `now`.
 * @throws {InvalidConfigError} on an invalid or repeated table name (the stores' own validation).
 */
export function generateMigration(options: GenerateMigrationOptions): GeneratedMigration {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  const { adapter, tables, output = DEFAULT_OUTPUT_DIR, now = new Date() } = options;
  if (!isMigrationAdapter(adapter)) {
    throw new InvalidArgumentError(
      'adapter',
      `${JSON.stringify(adapter)} is not one of ${migrationAdapters.join(', ')}`,
    );
  }
  if (typeof output !== 'string' || output === '' || output.includes('\0')) {
    throw new InvalidArgumentError('output', 'must be a non-empty folder path');
  }
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new InvalidArgumentError('now', 'must be a valid Date');
  }
  const fileName = checkFileName(options.fileName ?? defaultMigrationFileName(now));
  const sql = schemaFunction(adapter)(tables);
  return { adapter, fileName, path: join(output, fileName), sql };
}
