import {
  type CompleteEventStore,
  type DomainEvent,
  type EventStoreOptions,
  InvalidConfigError,
  type LogStatus,
  type WaitForEventsOptions,
} from '@pup/core';
import { createEventStore } from '@pup/core/adapter';
import { connectionOf } from './connection.js';
import { isDatabase, SqliteDialect } from './dialect.js';
import type { SqliteDatabase } from './driver.js';
import { resolveSqliteOptions, type SqliteEventStoreOptions } from './options.js';
import { quoteTableNames, sqliteSchemaSql } from './schema.js';

/**
 * The SQLite event store. Its transaction handle is the better-sqlite3 `Database` itself, so SQL
 * of your own runs in the same transaction as an append:
 *
 * @example
 * await store.transaction(async (tx) => {
 *   await store.append(tx, ExpectedVersion.noStream(), [event]);
 *   tx.prepare('UPDATE outbox SET sent = 0 WHERE id = ?').run(id);
 * });
 */
export interface SqliteEventStore<
  D extends SqliteDatabase = SqliteDatabase,
  E extends object = DomainEvent,
> extends CompleteEventStore<D, LogStatus, E> {
  /**
   * Resolves soon after a transaction that appended through any store on the same `Database`
   * commits, after `timeoutMs`, or when `signal` aborts, whichever comes first; at once after
   * `close()`. It may resolve spuriously (a store's first wait does, once, when it starts
   * listening). Commits made by other connections or processes do not wake it: callers poll, as
   * the projection processor does.
   */
  waitForEvents(options: WaitForEventsOptions): Promise<void>;
}

/**
 * Creates an event store on a better-sqlite3 `Database` (a file or `:memory:`). Options are
 * validated before any SQL runs; then the connection gets its `busy_timeout` and, for a file
 * database, write-ahead logging. Call `migrate()` once to create the tables.
 *
 * Transactions of the store are queued on the connection one at a time (`BEGIN IMMEDIATE`), so
 * global positions follow commit order; stores sharing one `Database` share the queue. A
 * `store.transaction()` called inside another one on the same `Database` (of this store or of
 * another store on it) runs as a savepoint of it. `close()` makes every later call reject with
 * `StoreClosedError` and releases the store's prepared statements and listeners; the `Database`
 * stays open and remains yours to close.
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { ExpectedVersion } from '@pup/core';
 * import { createSqliteEventStore } from '@pup/sqlite';
 *
 * const db = new Database('app.db');
 * const store = createSqliteEventStore(db);
 * await store.migrate();
 * await store.transaction((tx) =>
 *   store.append(tx, ExpectedVersion.noStream(), [
 *     { boundedContext: 'billing', aggregateType: 'Invoice', aggregateId: 'inv-1',
 *       eventType: 'InvoiceIssued', payload: { total: 42 } },
 *   ]),
 * );
 *
 * @typeParam E The store's events (see `DomainEvent` in `@pup/core`): `append` then accepts only
 * known `eventType`/`payload` pairs and reads narrow `payload` by `eventType`. Given explicitly,
 * `D` falls back to the structural `SqliteDatabase`; name it too to keep better-sqlite3's type:
 * `createSqliteEventStore<BankEvent, Database.Database>(db)`.
 * @throws {InvalidConfigError} when `db` is not a better-sqlite3 `Database` or an option is invalid.
 */
export function createSqliteEventStore<
  E extends object = DomainEvent,
  D extends SqliteDatabase = SqliteDatabase,
>(db: D, options?: SqliteEventStoreOptions & EventStoreOptions<E>): SqliteEventStore<D, E> {
  const resolved = resolveSqliteOptions(options);
  if (!isDatabase(db)) {
    throw new InvalidConfigError('db', 'must be a better-sqlite3 Database');
  }
  const tables = quoteTableNames(resolved.tables);
  const schemaSql = sqliteSchemaSql(resolved.tables);

  connectionOf(db).setBusyTimeout(
    resolved.busyTimeoutMs ?? Number(db.pragma('busy_timeout', { simple: true })),
  );
  if (resolved.wal && !db.memory && !db.readonly && !db.inTransaction) {
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      resolved.logger?.debug('Switched the SQLite journal mode', { journalMode: mode });
    }
  }

  return createEventStore(new SqliteDialect(db, tables, schemaSql), resolved);
}
