import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore, EventStoreOptions, Logger } from '@pup/core';
import { createPgEventStore } from '@pup/postgres';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import pg from 'pg';

/** SQL parameters, bound in order (`$1`, `$2`, … on both databases). */
export type Params = readonly unknown[];

/**
 * The event store of an example plus just enough SQL access for its read model, on SQLite (a file
 * under `.data/`, the default) or on PostgreSQL when `DATABASE_URL` is a `postgres://` URL. Each
 * example gets its own SQLite file or PostgreSQL schema, recreated by {@link openExampleDatabase}
 * with `reset: true`.
 */
export interface ExampleDatabase {
  kind: 'sqlite' | 'postgres';
  /** The event store. Its `Tx` is a better-sqlite3 `Database` or a pg `PoolClient`. */
  store: EventStore<any>;
  /** Qualifies a read-model table name (`pup_example_x.table` on PostgreSQL). */
  table(name: string): string;
  /** Runs schema statements (several allowed, no parameters) outside any transaction. */
  ddl(sql: string): Promise<void>;
  /** Runs a statement in the transaction `tx`, or on its own when `tx` is `null`. */
  exec(tx: unknown, sql: string, params?: Params): Promise<void>;
  /** Runs a query in the transaction `tx`, or on its own when `tx` is `null`. */
  query<T = Record<string, unknown>>(tx: unknown, sql: string, params?: Params): Promise<T[]>;
  /** Closes the store and the connection. */
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Where an example's SQLite file lives. */
export function sqliteFile(example: string): string {
  return join(here, '..', '.data', `${example}.db`);
}

/**
 * Opens the example's database. With `reset`, starts from nothing: the SQLite file is deleted, or
 * the PostgreSQL schema dropped and recreated. Then migrates the event store.
 */
export async function openExampleDatabase(
  example: string,
  { reset = false, logger }: { reset?: boolean; logger?: Logger } = {},
): Promise<ExampleDatabase> {
  const url = process.env.DATABASE_URL;
  if (url?.startsWith('postgres://') || url?.startsWith('postgresql://')) {
    return openPostgres(url, `pup_example_${example.replaceAll('-', '_')}`, reset, logger);
  }
  if (url) throw new Error(`DATABASE_URL must be a postgres:// URL (got ${url.split(':')[0]}:…)`);
  return openSqlite(sqliteFile(example), reset, logger);
}

async function openSqlite(file: string, reset: boolean, logger?: Logger) {
  if (reset) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  }
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  const store = createSqliteEventStore(db, { logger });
  await store.migrate();
  const positional = (sql: string) => sql.replace(/\$\d+/g, '?');
  const connection = (tx: unknown) => (tx ?? db) as Database.Database;
  const example: ExampleDatabase = {
    kind: 'sqlite',
    store,
    table: (name) => name,
    async ddl(sql) {
      db.exec(sql);
    },
    async exec(tx, sql, params = []) {
      connection(tx)
        .prepare(positional(sql))
        .run(...params);
    },
    async query<T>(tx: unknown, sql: string, params: Params = []) {
      return connection(tx)
        .prepare(positional(sql))
        .all(...params) as T[];
    },
    async close() {
      await store.close();
      db.close();
    },
  };
  return example;
}

async function openPostgres(url: string, schema: string, reset: boolean, logger?: Logger) {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  if (reset) {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
  }
  const options: EventStoreOptions = {
    tables: {
      events: `${schema}.events`,
      aggregateHeads: `${schema}.aggregate_heads`,
      checkpoints: `${schema}.projection_checkpoints`,
    },
    logger,
  };
  const store = createPgEventStore(pool, options);
  await store.migrate();
  const client = (tx: unknown) => (tx ?? pool) as pg.Pool | pg.PoolClient;
  return {
    kind: 'postgres',
    store,
    table: (name) => `${schema}.${name}`,
    async ddl(sql) {
      await pool.query(sql);
    },
    async exec(tx, sql, params = []) {
      await client(tx).query(sql, [...params]);
    },
    async query<T>(tx: unknown, sql: string, params: Params = []) {
      return (await client(tx).query(sql, [...params])).rows as T[];
    },
    async close() {
      await store.close();
      await pool.end();
    },
  } satisfies ExampleDatabase;
}
