/**
 * The SQLite adapter of pup: an event store on a better-sqlite3 `Database`.
 *
 * @packageDocumentation
 */
export type { SqliteDatabase, SqliteRunResult, SqliteStatement } from './driver.js';
export { DEFAULT_BUSY_TIMEOUT_MS, type SqliteEventStoreOptions } from './options.js';
export { sqliteSchemaSql } from './schema.js';
export { createSqliteEventStore, type SqliteEventStore } from './store.js';
