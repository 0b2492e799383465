import { type EventStoreOptions, InvalidConfigError } from '@pup/core';
import { type ResolvedEventStoreOptions, resolveEventStoreOptions } from '@pup/core/adapter';
import { type PostgresTables, postgresTables } from './schema.js';

/** Options of `createPgEventStore` and `createPostgresJsEventStore`. */
export interface PostgresEventStoreOptions extends EventStoreOptions {
  /**
   * Send one `NOTIFY` from every appending transaction, so `waitForEvents` wakes projections
   * within milliseconds. PostgreSQL serializes the commits of notifying transactions; turn this
   * off when many concurrent writers matter more than wake-up latency (projections then poll).
   * @default true
   */
  notify?: boolean;
  /**
   * Log a `warn` (through `logger`) when readers have been held back for longer than this many
   * milliseconds by a transaction that is still running. Only checked with a logger, at most
   * every half of this interval, when a read reaches the end of the readable log.
   * @default 30000
   */
  holdBackWarningMs?: number;
  /**
   * Commit projection batches without waiting for the WAL flush (`synchronous_commit = off` for
   * the transactions in which `readProjectionBatch` or `getCheckpoint(tx, name, { lock: true })`
   * is called, that is, core's `ProjectionProcessor` batches). The read model and the checkpoint still commit or vanish
   * together, so a server crash can only lose the last few batches, which the projection then
   * handles again: no event is skipped or applied twice in the database. Handlers with side
   * effects outside the database may repeat them. Catch-up runs faster because a batch no longer
   * waits for a disk flush. Appends are never affected.
   * @default false
   */
  asyncProjectionCommit?: boolean;
}

/** {@link PostgresEventStoreOptions} checked, with defaults. @internal */
export interface ResolvedPostgresOptions extends ResolvedEventStoreOptions {
  sql: PostgresTables;
  notify: boolean;
  holdBackWarningMs: number;
  asyncProjectionCommit: boolean;
}

/**
 * Validates the options before any SQL runs.
 * @throws {InvalidConfigError} on any invalid option.
 * @internal
 */
export function resolvePostgresOptions(
  options: PostgresEventStoreOptions | undefined | null,
): ResolvedPostgresOptions {
  const resolved = resolveEventStoreOptions(options);
  const notify = options?.notify ?? true;
  if (typeof notify !== 'boolean') {
    throw new InvalidConfigError('notify', 'must be a boolean');
  }
  const holdBackWarningMs = options?.holdBackWarningMs ?? 30_000;
  if (
    typeof holdBackWarningMs !== 'number' ||
    !Number.isFinite(holdBackWarningMs) ||
    holdBackWarningMs <= 0
  ) {
    throw new InvalidConfigError('holdBackWarningMs', 'must be a positive number of milliseconds');
  }
  const asyncProjectionCommit = options?.asyncProjectionCommit ?? false;
  if (typeof asyncProjectionCommit !== 'boolean') {
    throw new InvalidConfigError('asyncProjectionCommit', 'must be a boolean');
  }
  return {
    ...resolved,
    sql: postgresTables(resolved.tables),
    notify,
    holdBackWarningMs,
    asyncProjectionCommit,
  };
}
