export type { SqliteDatabase, SqliteRunResult, SqliteStatement } from './driver.js';
export { DEFAULT_BUSY_TIMEOUT_MS, type SqliteEventStoreOptions } from './options.js';
export {
  type QuotedTableNames,
  quoteSqliteTableNames,
  sqliteMigrationSql,
  sqliteSchema,
} from './schema.js';
export { createSqliteEventStore, type SqliteEventStore } from './store.js';
