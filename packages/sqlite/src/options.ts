import { type EventStoreOptions, InvalidConfigError } from '@pup/core';
import { type ResolvedEventStoreOptions, resolveEventStoreOptions } from '@pup/core/adapter';

/** Options of {@link createSqliteEventStore}. */
export interface SqliteEventStoreOptions extends EventStoreOptions {
  /**
   * How long a writer waits for another connection's write lock, in milliseconds, before failing
   * with a transient `DatabaseError` (`SQLITE_BUSY` as its cause). The store's own writers wait
   * asynchronously, never blocking the event loop. Also set on the connection as
   * `PRAGMA busy_timeout` (how long your own statements on it wait, synchronously); pass `null`
   * to keep the connection's own setting (better-sqlite3's `timeout` option).
   * @default 5000
   */
  busyTimeoutMs?: number | null;
  /**
   * Switch a file database to write-ahead logging (`PRAGMA journal_mode = WAL`) when the store
   * is created, so readers never block the writer. In-memory and read-only databases are left
   * alone.
   * @default true
   */
  wal?: boolean;
}

/** {@link SqliteEventStoreOptions} with defaults filled in and every value validated. */
export interface ResolvedSqliteOptions extends ResolvedEventStoreOptions {
  busyTimeoutMs: number | null;
  wal: boolean;
}

/** Default of {@link SqliteEventStoreOptions.busyTimeoutMs}. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

const MAX_BUSY_TIMEOUT_MS = 2_147_483_647;

/**
 * Validates the store's options and fills in defaults, before any SQL runs.
 * @throws {InvalidConfigError} on an invalid table name, serializer, logger or pragma option.
 */
export function resolveSqliteOptions(
  options: SqliteEventStoreOptions | undefined | null,
): ResolvedSqliteOptions {
  const resolved = resolveEventStoreOptions(options);
  const busyTimeoutMs =
    options?.busyTimeoutMs === undefined ? DEFAULT_BUSY_TIMEOUT_MS : options.busyTimeoutMs;
  if (
    busyTimeoutMs !== null &&
    (typeof busyTimeoutMs !== 'number' ||
      !Number.isSafeInteger(busyTimeoutMs) ||
      busyTimeoutMs < 0 ||
      busyTimeoutMs > MAX_BUSY_TIMEOUT_MS)
  ) {
    throw new InvalidConfigError(
      'busyTimeoutMs',
      `must be an integer from 0 to ${MAX_BUSY_TIMEOUT_MS}, or null`,
    );
  }
  const wal = options?.wal ?? true;
  if (typeof wal !== 'boolean') {
    throw new InvalidConfigError('wal', 'must be a boolean');
  }
  return { ...resolved, busyTimeoutMs, wal };
}
