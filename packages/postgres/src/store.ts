import type { CompleteEventStore, DomainEvent, TableNames, WaitForEventsOptions } from '@pup/core';
import { createEventStore } from '@pup/core/adapter';
import { PostgresDialect } from './dialect.js';
import type { PostgresDriver } from './driver.js';
import type { ResolvedPostgresOptions } from './options.js';
import type { PostgresLogStatus, RunningTransaction } from './status.js';

/**
 * A pup event store on PostgreSQL; `Tx` is the driver's own transaction handle, `E` the store's
 * events (see `DomainEvent` in `@pup/core`).
 *
 * A `transaction()` called inside the callback of another one on the same pool (this store's or
 * another store's) runs as a savepoint of the outer transaction, on its connection: its throw
 * rolls back only its own work, nothing commits before the outermost transaction does, and it
 * never waits for a second connection. After {@link close}, every method rejects with
 * `StoreClosedError`. Driver errors reach the caller as `DatabaseError` with the driver's error as
 * `cause`.
 */
export interface PostgresEventStore<Tx, E extends object = DomainEvent>
  extends CompleteEventStore<Tx, PostgresLogStatus, E> {
  /** The table names the store uses (checked when it was created). */
  readonly tables: Readonly<TableNames>;
  /**
   * Resolves when an append may have committed new events (through LISTEN/NOTIFY, and at once
   * after commits of this store's transactions), after `timeoutMs`, or when `signal` aborts,
   * whichever comes first. The first call opens a dedicated LISTEN connection, kept until
   * {@link close}.
   */
  waitForEvents(options: WaitForEventsOptions): Promise<void>;
  /**
   * The oldest transaction still running on the server (readers wait for it), read on a pool
   * connection; `null` when none runs.
   */
  getOldestRunningTransaction(): Promise<RunningTransaction | null>;
}

/**
 * Builds the store on top of a driver; the SQL and logic are the same for every driver.
 * @param pool What the driver runs on (the `pg` pool, the postgres.js instance): stores on the
 * same one nest into each other's transactions.
 * @internal
 */
export function createPostgresEventStore<Tx>(
  driver: PostgresDriver<Tx>,
  pool: object,
  options: ResolvedPostgresOptions,
): PostgresEventStore<Tx> {
  const dialect = new PostgresDialect(driver, pool, options);
  const tables = Object.freeze({ ...options.tables });
  return createEventStore(dialect, options, (kit) => ({
    tables,
    getOldestRunningTransaction: () => kit.guard(() => dialect.getOldestRunningTransaction()),
  }));
}
