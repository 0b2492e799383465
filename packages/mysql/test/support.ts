import type { TableNames } from '@pup/core';
import type { ConformanceHarness, ConformanceStore } from '@pup/core/conformance';
import mysql from 'mysql2/promise';
import { afterAll, inject } from 'vitest';
import { qualifyTables, uniqueNamespace } from '../../core/test/support/table-names.js';

export { qualifyTables };

import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import {
  createMysqlEventStore,
  type MysqlEventStore,
  type MysqlEventStoreOptions,
  type MysqlPoolConnection,
} from '../src/index.js';

/** The URL resolved by the global setup. */
export function mysqlUrl(): string {
  return inject('mysqlUrl');
}

/** A database name no other test uses. */
export const uniqueDatabase = uniqueNamespace;

/** `db.table` quoted for raw SQL. */
export function quoted(name: string): string {
  return name
    .split('.')
    .map((part) => `\`${part}\``)
    .join('.');
}

let adminPool: mysql.Pool | undefined;

/** A pool for database management and independent checks, ended after the file. */
export function admin(): mysql.Pool {
  if (adminPool === undefined) {
    adminPool = mysql.createPool({ uri: mysqlUrl(), connectionLimit: 4 });
    const pool = adminPool;
    afterAll(async () => {
      adminPool = undefined;
      await pool.end();
    });
  }
  return adminPool;
}

/** Runs raw SQL on the admin pool and returns its rows. */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<any[]> {
  const [rows] = await admin().query(sql, params);
  return rows as any[];
}

let storePool: mysql.Pool | undefined;

/** The pool the stores of a test file share (20 connections), ended after the file. */
export function pool(): mysql.Pool {
  if (storePool === undefined) {
    storePool = mysql.createPool({ uri: mysqlUrl(), connectionLimit: 20 });
    const current = storePool;
    afterAll(async () => {
      storePool = undefined;
      await current.end();
    });
  }
  return storePool;
}

/**
 * Drops a test database. A transaction a failed test left open would make DROP wait for its
 * metadata lock: after a short wait, the sessions still using the database are killed (their
 * test has failed already).
 */
export async function dropDatabase(database: string): Promise<void> {
  const conn = await admin().getConnection();
  try {
    await conn.query('SET SESSION lock_wait_timeout = 5');
    for (let attempt = 1; ; attempt++) {
      try {
        await conn.query(`DROP DATABASE IF EXISTS ${database}`);
        return;
      } catch (error) {
        if (attempt >= 3) throw error;
        const [rows] = await conn.query(
          `SELECT ID FROM information_schema.PROCESSLIST
           WHERE ID <> CONNECTION_ID() AND (DB = ? OR INFO LIKE ?)`,
          [database, `%${database}%`],
        );
        for (const row of rows as { ID: number }[]) {
          await conn.query(`KILL ${Number(row.ID)}`).catch(() => {});
        }
      }
    }
  } finally {
    conn.release();
  }
}

/** A store in a database of its own, with raw SQL access for the tests. */
export interface TestStore extends ConformanceStore<MysqlPoolConnection> {
  store: MysqlEventStore;
  database: string;
  /** Quoted names of the store's tables (and its derived ones), for raw SQL. */
  sql: { events: string; heads: string; checkpoints: string; blocks: string; meta: string };
  cleanup(): Promise<void>;
}

/** Creates a migrated store in a fresh database of the shared pool (or `onPool`). */
export async function createTestStore(
  options?: MysqlEventStoreOptions,
  onPool: mysql.Pool = pool(),
): Promise<TestStore> {
  const database = uniqueDatabase();
  const tables = qualifyTables(database, options?.tables);
  // Validation happens in the factory, before the database exists: invalid options create nothing.
  const store = createMysqlEventStore(onPool as never, {
    ...options,
    tables: tables as Partial<TableNames>,
  });
  await adminQuery(`CREATE DATABASE ${database}`);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    await dropDatabase(database);
    throw error;
  }
  const eventsTable = store.tables.events;
  const sql = {
    events: quoted(eventsTable),
    heads: quoted(store.tables.aggregateHeads),
    checkpoints: quoted(store.tables.checkpoints),
    blocks: quoted(`${eventsTable}_blocks`),
    meta: quoted(`${eventsTable}_meta`),
  };
  const count = (table: string) => async () =>
    Number((await adminQuery(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
  return {
    store,
    database,
    sql,
    inspect: {
      countEvents: count(sql.events),
      // Placeholder rows (position 0) hold a projection's lock before its first save.
      countAggregateHeads: count(sql.heads),
      countCheckpoints: async () =>
        Number(
          (await adminQuery(`SELECT COUNT(*) AS n FROM ${sql.checkpoints} WHERE position <> 0`))[0]
            .n,
        ),
    },
    cleanup: async () => {
      await store.close();
      await dropDatabase(database);
    },
  };
}

/** The conformance harness: every store in a database of its own. */
export function mysqlHarness(): ConformanceHarness<MysqlPoolConnection> {
  return {
    name: 'mysql (mysql2)',
    createStore: (options) => createTestStore(options),
    capabilities: { concurrentTransactions: true, waitForEvents: true, crashRecovery: true },
    crashWorker: (subject) => {
      const { store } = subject as TestStore;
      const { worker, dispose } = crashWorkerCommand(
        new URL('./crash-worker.ts', import.meta.url),
        {
          PUP_CRASH_MYSQL_URL: mysqlUrl(),
          PUP_CRASH_MYSQL_TABLES: JSON.stringify(store.tables),
        },
      );
      const cleanup = subject.cleanup;
      subject.cleanup = async () => {
        dispose();
        await cleanup?.();
      };
      return worker;
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` in a transaction opened with the driver itself, not with a store. */
export async function ownTransaction<T>(fn: (conn: MysqlPoolConnection) => Promise<T>): Promise<T> {
  const conn = await pool().getConnection();
  try {
    await conn.query('START TRANSACTION');
    const result = await fn(conn as unknown as MysqlPoolConnection);
    await conn.query('COMMIT');
    return result;
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    conn.release();
  }
}
