import {
  type DomainEvent,
  type EventStoreOptions,
  InvalidConfigError,
  type TableNames,
} from '@pup/core';
import { type CompleteEventStore, createEventStore } from '@pup/core/adapter';
import { MysqlDialect } from './dialect.js';
import { isPool, type MysqlPool, type MysqlPoolConnection } from './driver.js';
import { type MysqlEventStoreOptions, resolveMysqlOptions } from './options.js';
import type { MysqlLogStatus } from './status.js';

/**
 * The MySQL / MariaDB event store. Its transaction handle is the mysql2 promise `PoolConnection`
 * the transaction runs on: run your own SQL on it (`tx.query(...)`, `tx.execute(...)`) in the same
 * transaction as an append or a checkpoint.
 */
export interface MysqlEventStore<E extends object = DomainEvent>
  extends CompleteEventStore<MysqlPoolConnection, MysqlLogStatus, E> {
  /** The table names the store uses, as configured. */
  readonly tables: TableNames;
}

/**
 * Creates an event store over a `mysql2/promise` pool (MySQL 8.0.1+ or MariaDB 10.6+, InnoDB).
 * The store never ends the pool. Call `migrate()` once before the first use (or apply
 * {@link mysqlSchemaSql} with your own migration tool).
 *
 * Log order: every appending transaction claims a block of positions, and readers only read
 * below the lowest block a running transaction still holds, so `readEvents` never skips an event
 * that commits late and never returns one twice; a transaction held open after appending holds
 * projections back (not other writers) until it ends. See the package README.
 *
 * @param pool A pool from `mysql2/promise`'s `createPool`.
 * @typeParam E The store's events (see `DomainEvent` in `@pup/core`): `append` then accepts only
 * known `eventType`/`payload` pairs and reads narrow `payload` by `eventType`.
 * @throws {InvalidConfigError} on an invalid option or something that is not a mysql2 pool.
 *
 * @example
 * import mysql from 'mysql2/promise';
 * import { ExpectedVersion } from '@pup/core';
 * import { createMysqlEventStore } from '@pup/mysql';
 *
 * const pool = mysql.createPool('mysql://app@localhost/app');
 * const store = createMysqlEventStore(pool);
 * await store.migrate();
 * await store.transaction((tx) =>
 *   store.append(tx, ExpectedVersion.noStream(), [
 *     { boundedContext: 'shop', aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderPlaced', payload: { total: 42 } },
 *   ]),
 * );
 */
export function createMysqlEventStore<E extends object = DomainEvent>(
  pool: MysqlPool,
  options?: MysqlEventStoreOptions & EventStoreOptions<E>,
): MysqlEventStore<E> {
  const resolved = resolveMysqlOptions(options);
  if (!isPool(pool)) {
    throw new InvalidConfigError('pool', 'must be a mysql2/promise pool (createPool)');
  }
  const dialect = new MysqlDialect(pool, {
    tables: resolved.sql,
    pollIntervalMs: resolved.pollIntervalMs,
    logger: resolved.logger,
  });
  return createEventStore(dialect, resolved, () => ({ tables: { ...resolved.tables } }));
}
