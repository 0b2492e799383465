import type { EventStoreOptions, TableNames } from '@pup/core';
import type { ConformanceHarness, ConformanceStore } from '@pup/core/conformance';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';
import { qualifyTables, uniqueNamespace } from '../../core/test/support/table-names.js';

export { qualifyTables };

import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import {
  createPgEventStore,
  createPostgresJsEventStore,
  type PostgresEventStore,
  type PostgresEventStoreOptions,
} from '../src/index.js';

/** The URL resolved by the global setup. */
export function postgresUrl(): string {
  return inject('postgresUrl');
}

/** A schema name no other test uses. */
export const uniqueSchema = uniqueNamespace;

/** The table names a store ended up with, quoted for raw SQL. */
export function quotedTables(store: PostgresEventStore<any>): TableNames {
  const quote = (name: string) =>
    name
      .split('.')
      .map((part) => `"${part}"`)
      .join('.');
  return {
    events: quote(store.tables.events),
    aggregateHeads: quote(store.tables.aggregateHeads),
    checkpoints: quote(store.tables.checkpoints),
  };
}

/** A store of one driver in a schema of its own, with raw SQL access for the tests. */
export interface TestStore<Tx> extends ConformanceStore<Tx> {
  store: PostgresEventStore<Tx>;
  inspect: NonNullable<ConformanceStore<Tx>['inspect']>;
  schema: string;
  /** Runs raw SQL on the admin pool (an independent path). */
  admin(text: string, params?: unknown[]): Promise<any[]>;
  /** Runs raw SQL inside the store's transaction handle. */
  run(tx: Tx, text: string, params?: unknown[]): Promise<any[]>;
  /** Another store on the same pool (not migrated; closed by `cleanup`). */
  sibling(options?: PostgresEventStoreOptions): PostgresEventStore<Tx>;
  cleanup(): Promise<void>;
}

/** One driver under test, with a shared connection pool per test file. */
export interface DriverUnderTest<Tx = any> {
  name: 'pg' | 'postgres.js';
  createStore(options?: PostgresEventStoreOptions): Promise<TestStore<Tx>>;
  /**
   * A store on a pool of its own with a single connection (ended by `cleanup`), for proving that
   * nothing needs a second connection.
   */
  createStoreOnPoolOfOne(options?: PostgresEventStoreOptions): Promise<TestStore<Tx>>;
  /** A harness for the conformance suite. */
  harness(): ConformanceHarness<Tx>;
  /** Runs raw SQL inside a transaction handle of this driver. */
  run(tx: Tx, text: string, params?: unknown[]): Promise<any[]>;
  /** Runs `fn` in a transaction opened with the driver itself, not with a store. */
  ownTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

let adminPool: pg.Pool | undefined;

/** A pg pool for schema management and independent checks, ended after the file. */
export function admin(): pg.Pool {
  if (adminPool === undefined) {
    adminPool = new pg.Pool({ connectionString: postgresUrl(), max: 4 });
    const pool = adminPool;
    afterAll(async () => {
      adminPool = undefined;
      await pool.end();
    });
  }
  return adminPool;
}

async function adminQuery(text: string, params: unknown[] = []): Promise<any[]> {
  return (await admin().query(text, params)).rows;
}

/**
 * Drops a test schema. A transaction a failed test left open would block the DROP forever and
 * hang the run: after a lock timeout its backend is terminated (its test has failed already).
 */
export async function dropSchema(schema: string): Promise<void> {
  const client = await admin().connect();
  try {
    await client.query(`SET lock_timeout = '5s'`);
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55P03' || attempt >= 3) throw error;
        await client.query(
          `SELECT pg_terminate_backend(l.pid) FROM pg_locks l
           JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()`,
          [schema],
        );
      }
    }
  } finally {
    await client.query('RESET lock_timeout').catch(() => {});
    client.release();
  }
}

function countRows(table: string): () => Promise<number> {
  return async () => Number((await adminQuery(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
}

async function createTestStore<Tx>(
  factory: (options: PostgresEventStoreOptions) => PostgresEventStore<Tx>,
  run: (tx: Tx, text: string, params?: unknown[]) => Promise<any[]>,
  options: EventStoreOptions | undefined,
): Promise<TestStore<Tx>> {
  const schema = uniqueSchema();
  const tables = qualifyTables(schema, options?.tables);
  // Validation happens in the factory, before the schema exists: invalid options create nothing.
  const store = factory({ ...options, tables: tables as Partial<TableNames> });
  await adminQuery(`CREATE SCHEMA ${schema}`);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    await dropSchema(schema);
    throw error;
  }
  const quoted = quotedTables(store);
  const siblings: PostgresEventStore<Tx>[] = [];
  return {
    store,
    schema,
    admin: adminQuery,
    run,
    sibling: (siblingOptions) => {
      const sibling = factory(siblingOptions ?? {});
      siblings.push(sibling);
      return sibling;
    },
    inspect: {
      countEvents: countRows(quoted.events),
      countAggregateHeads: countRows(quoted.aggregateHeads),
      countCheckpoints: countRows(quoted.checkpoints),
    },
    cleanup: async () => {
      await Promise.all([store, ...siblings].map((s) => s.close()));
      await dropSchema(schema);
    },
  };
}

function harnessOf<Tx>(driver: DriverUnderTest<Tx>): ConformanceHarness<Tx> {
  return {
    name: `postgres (${driver.name})`,
    createStore: (options) => driver.createStore(options),
    capabilities: { concurrentTransactions: true, waitForEvents: true, crashRecovery: true },
    crashWorker: (subject) => {
      const { store, schema } = subject as TestStore<Tx>;
      const { worker, dispose } = crashWorkerCommand(
        new URL('./crash-worker.ts', import.meta.url),
        {
          PUP_CRASH_PG_URL: postgresUrl(),
          PUP_CRASH_PG_SCHEMA: schema,
          PUP_CRASH_PG_TABLES: JSON.stringify(store.tables),
          PUP_CRASH_PG_DRIVER: driver.name,
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

/** The `pg` driver: one pool per test file. */
export function pgDriver(): DriverUnderTest<pg.PoolClient> {
  let pool: pg.Pool | undefined;
  const getPool = () => {
    if (pool === undefined) {
      pool = new pg.Pool({ connectionString: postgresUrl(), max: 20 });
      const current = pool;
      afterAll(async () => {
        pool = undefined;
        await current.end();
      });
    }
    return pool;
  };
  const run = async (tx: pg.PoolClient, text: string, params: unknown[] = []) =>
    (await tx.query(text, params)).rows;
  const driver: DriverUnderTest<pg.PoolClient> = {
    name: 'pg',
    run,
    ownTransaction: async (fn) => {
      const client = await getPool().connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },
    createStore: (options) =>
      createTestStore((o) => createPgEventStore(getPool(), o), run, options),
    createStoreOnPoolOfOne: async (options) => {
      const pool = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
      return withEnd(
        await createTestStore((o) => createPgEventStore(pool, o), run, options).catch(
          async (error: unknown) => {
            await pool.end();
            throw error;
          },
        ),
        () => pool.end(),
      );
    },
    harness: () => harnessOf(driver),
  };
  return driver;
}

/** Ends a private pool after the store's own cleanup. */
function withEnd<Tx>(subject: TestStore<Tx>, end: () => Promise<void>): TestStore<Tx> {
  const cleanup = subject.cleanup;
  subject.cleanup = async () => {
    try {
      await cleanup();
    } finally {
      await end();
    }
  };
  return subject;
}

/** The postgres.js driver: one instance per test file. */
export function postgresJsDriver(): DriverUnderTest<postgres.TransactionSql> {
  let sql: postgres.Sql | undefined;
  const getSql = () => {
    if (sql === undefined) {
      sql = postgres(postgresUrl(), { max: 20, onnotice: () => {} });
      const current = sql;
      afterAll(async () => {
        sql = undefined;
        await current.end({ timeout: 5 });
      });
    }
    return sql;
  };
  const run = async (tx: postgres.TransactionSql, text: string, params: unknown[] = []) =>
    [...(await tx.unsafe(text, params as never[]))] as any[];
  const driver: DriverUnderTest<postgres.TransactionSql> = {
    name: 'postgres.js',
    run,
    ownTransaction: async (fn) => {
      const box = await getSql().begin(async (tx) => ({ value: await fn(tx) }));
      return box.value;
    },
    createStore: (options) =>
      createTestStore((o) => createPostgresJsEventStore(getSql(), o), run, options),
    createStoreOnPoolOfOne: async (options) => {
      const one = postgres(postgresUrl(), { max: 1, onnotice: () => {} });
      return withEnd(
        await createTestStore((o) => createPostgresJsEventStore(one, o), run, options).catch(
          async (error: unknown) => {
            await one.end({ timeout: 5 });
            throw error;
          },
        ),
        () => one.end({ timeout: 5 }),
      );
    },
    harness: () => harnessOf(driver),
  };
  return driver;
}

/** Both drivers, for `describe.each`. */
export function bothDrivers(): DriverUnderTest[] {
  return [pgDriver(), postgresJsDriver()];
}

/**
 * Settles like `promise`, or rejects after `ms` milliseconds naming `what` (a deadlock fails the
 * test instead of hanging it).
 */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
