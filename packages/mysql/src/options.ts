import { type EventStoreOptions, InvalidConfigError } from '@pup/core';
import { type ResolvedEventStoreOptions, resolveEventStoreOptions } from '@pup/core/adapter';
import { type MysqlTables, mysqlTables } from './schema.js';

/** Options of `createMysqlEventStore`. */
export interface MysqlEventStoreOptions extends EventStoreOptions {
  /**
   * MySQL has no LISTEN/NOTIFY: while a `waitForEvents` is pending (a caught-up projection),
   * the store polls the newest readable position this often, on a pooled connection, so commits
   * of other processes wake it. Commits of this store's own transactions wake it at once.
   * @default 100
   */
  pollIntervalMs?: number;
}

/** {@link MysqlEventStoreOptions} checked, with defaults. @internal */
export interface ResolvedMysqlOptions extends ResolvedEventStoreOptions {
  sql: MysqlTables;
  pollIntervalMs: number;
}

/**
 * Validates the options before any SQL runs.
 * @throws {InvalidConfigError} on any invalid option.
 * @internal
 */
export function resolveMysqlOptions(
  options: MysqlEventStoreOptions | undefined | null,
): ResolvedMysqlOptions {
  const resolved = resolveEventStoreOptions(options);
  const pollIntervalMs = options?.pollIntervalMs ?? 100;
  if (
    typeof pollIntervalMs !== 'number' ||
    !Number.isFinite(pollIntervalMs) ||
    pollIntervalMs < 1 ||
    pollIntervalMs > 2_147_483_647
  ) {
    throw new InvalidConfigError('pollIntervalMs', 'must be a positive number of milliseconds');
  }
  return { ...resolved, sql: mysqlTables(resolved.tables), pollIntervalMs };
}
