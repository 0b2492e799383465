/**
 * `@pup/migrate-gen`: pup's event store schema as a SQL migration file for your own migration
 * tool, from each adapter's own schema function. The `pup-migrate-gen` command writes the same
 * bytes as {@link generateMigration}.
 *
 * @packageDocumentation
 */
export { isMigrationAdapter, type MigrationAdapter, migrationAdapters } from './adapters.js';
export {
  MigrationError,
  type MigrationErrorCode,
  MigrationFileExistsError,
  MigrationWriteError,
} from './errors.js';
export { defaultMigrationFileName } from './file-name.js';
export {
  DEFAULT_OUTPUT_DIR,
  type GeneratedMigration,
  type GenerateMigrationOptions,
  generateMigration,
} from './generate.js';
export { type WriteMigrationOptions, writeMigration } from './write.js';
