import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore, EventStoreOptions, Logger } from '@pup/core';
import { createMysqlEventStore } from '@pup/mysql';
import { createPgEventStore, createPostgresJsEventStore } from '@pup/postgres';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise';
import pg from 'pg';
import postgres from 'postgres';
import type { ShopEvent } from './shop.js';

/** The databases the examples run on. */
export type DatabaseKind = 'sqlite' | 'postgres' | 'mysql';

/**
 * SQL parameters. Statements number them PostgreSQL's way, `$1`, `$2`, … (a number may appear more
 * than once); on SQLite and MySQL each `$n` becomes a `?` bound to the n-th parameter.
 */
export type Params = readonly unknown[];

/** A `COUNT` or `SUM`: a number, or a string where the driver returns big numbers as text. */
export type Total = number | string;

/**
 * The event store of an example plus just enough SQL access for its read model, on SQLite (a file
 * under `.data/`, the default), or on PostgreSQL or MySQL / MariaDB when `DATABASE_URL` is a
 * `postgres://` or `mysql://` URL. Each example gets its own SQLite file, PostgreSQL schema or
 * MySQL database, all named after the example and recreated by {@link openExampleDatabase} with
 * `reset: true`.
 *
 * `E` describes the store's events (the shop's by default), so projections get typed events.
 */
export interface ExampleDatabase<E extends object = ShopEvent> {
  kind: DatabaseKind;
  /**
   * The event store. Its `Tx` is a better-sqlite3 `Database`, a pg `PoolClient` or a mysql2
   * `PoolConnection`.
   */
  store: EventStore<any, E>;
  /** Qualifies a read-model table name (`pup_example_x.table` on PostgreSQL and MySQL). */
  table(name: string): string;
  /** Runs one schema statement (no parameters) outside any transaction. */
  ddl(sql: string): Promise<void>;
  /** Runs a statement in the transaction `tx`, or on its own when `tx` is `null`. */
  exec(tx: unknown, sql: string, params?: Params): Promise<void>;
  /** Runs a query in the transaction `tx`, or on its own when `tx` is `null`. */
  query<T = Record<string, unknown>>(tx: unknown, sql: string, params?: Params): Promise<T[]>;
  /**
   * Adds `amounts` to the columns of the row of `table` whose primary key is `key`, and inserts
   * the row with `amounts` when there is none: the counters of a read model, in one upsert.
   *
   * @example
   * await db.increment(tx, db.table('customer_revenue'), { customer }, { orders: 1, revenue: 500 });
   */
  increment(
    tx: unknown,
    table: string,
    key: Record<string, unknown>,
    amounts: Record<string, number>,
  ): Promise<void>;
  /** Closes the store and the connection. */
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Where an example's SQLite file lives. */
export function sqliteFile(example: string): string {
  return join(here, '..', '.data', `${example}.db`);
}

/** The database a URL names, from its scheme. */
export function databaseKindOf(url: string): DatabaseKind {
  const scheme = url.slice(0, Math.max(0, url.indexOf('://')));
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql') return 'mysql';
  throw new Error(`DATABASE_URL must be a postgres:// or mysql:// URL (got ${scheme || url}:…)`);
}

/**
 * Opens the example's database. With `reset`, starts from nothing: the SQLite file is deleted, or
 * the PostgreSQL schema or MySQL database dropped and recreated. Then migrates the event store.
 */
export async function openExampleDatabase<E extends object = ShopEvent>(
  example: string,
  { reset = false, logger }: { reset?: boolean; logger?: Logger } = {},
): Promise<ExampleDatabase<E>> {
  const url = process.env.DATABASE_URL;
  if (!url) return openSqlite<E>(sqliteFile(example), reset, logger);
  const namespace = `pup_example_${example.replaceAll('-', '_')}`;
  identifier(namespace);
  if (databaseKindOf(url) === 'postgres') {
    // PUP_EXAMPLE_POSTGRES_DRIVER=postgres.js runs the example on postgres.js instead of pg.
    return process.env.PUP_EXAMPLE_POSTGRES_DRIVER === 'postgres.js'
      ? openPostgresJs<E>(url, namespace, reset, logger)
      : openPostgres<E>(url, namespace, reset, logger);
  }
  return openMysql<E>(url, namespace, reset, logger);
}

async function openSqlite<E extends object>(
  file: string,
  reset: boolean,
  logger?: Logger,
): Promise<ExampleDatabase<E>> {
  if (reset) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  }
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  const store = createSqliteEventStore<E>(db, { logger });
  await store.migrate();
  const connection = (tx: unknown) => (tx ?? db) as Database.Database;
  const exec = async (tx: unknown, sql: string, params: Params = []) => {
    const statement = positional(sql, params);
    connection(tx)
      .prepare(statement.sql)
      .run(...statement.values);
  };
  return {
    kind: 'sqlite',
    store,
    table: (name) => identifier(name),
    async ddl(sql) {
      db.exec(sql);
    },
    exec,
    async query<T>(tx: unknown, sql: string, params: Params = []) {
      const statement = positional(sql, params);
      return connection(tx)
        .prepare(statement.sql)
        .all(...statement.values) as T[];
    },
    increment: (tx, table, key, amounts) =>
      exec(tx, ...upsertAdding('sqlite', table, key, amounts)),
    async close() {
      await store.close();
      db.close();
    },
  };
}

async function openPostgres<E extends object>(
  url: string,
  schema: string,
  reset: boolean,
  logger?: Logger,
): Promise<ExampleDatabase<E>> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  if (reset) {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.query(`CREATE SCHEMA ${schema}`);
  }
  const store = createPgEventStore<E, pg.Pool>(pool, storeOptions(schema, logger));
  await store.migrate();
  const client = (tx: unknown) => (tx ?? pool) as pg.Pool | pg.PoolClient;
  const exec = async (tx: unknown, sql: string, params: Params = []) => {
    await client(tx).query(sql, [...params]);
  };
  return {
    kind: 'postgres',
    store,
    table: (name) => `${schema}.${identifier(name)}`,
    async ddl(sql) {
      await pool.query(sql);
    },
    exec,
    async query<T>(tx: unknown, sql: string, params: Params = []) {
      return (await client(tx).query(sql, [...params])).rows as T[];
    },
    increment: (tx, table, key, amounts) =>
      exec(tx, ...upsertAdding('postgres', table, key, amounts)),
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

async function openPostgresJs<E extends object>(
  url: string,
  schema: string,
  reset: boolean,
  logger?: Logger,
): Promise<ExampleDatabase<E>> {
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  if (reset) {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await sql.unsafe(`CREATE SCHEMA ${schema}`);
  }
  const store = createPostgresJsEventStore<E>(sql, storeOptions(schema, logger));
  await store.migrate();
  // `tx` is the postgres.js transaction (a TransactionSql) of the store's transaction.
  const client = (tx: unknown) => (tx ?? sql) as postgres.Sql;
  const exec = async (tx: unknown, text: string, params: Params = []) => {
    await client(tx).unsafe(text, [...params] as postgres.ParameterOrJSON<never>[]);
  };
  return {
    kind: 'postgres',
    store,
    table: (name) => `${schema}.${identifier(name)}`,
    async ddl(text) {
      await sql.unsafe(text);
    },
    exec,
    async query<T>(tx: unknown, text: string, params: Params = []) {
      return [
        ...(await client(tx).unsafe(text, [...params] as postgres.ParameterOrJSON<never>[])),
      ] as T[];
    },
    increment: (tx, table, key, amounts) =>
      exec(tx, ...upsertAdding('postgres', table, key, amounts)),
    async close() {
      await store.close();
      await sql.end({ timeout: 5 });
    },
  };
}

async function openMysql<E extends object>(
  url: string,
  database: string,
  reset: boolean,
  logger?: Logger,
): Promise<ExampleDatabase<E>> {
  const pool = mysql.createPool({ uri: url, connectionLimit: 10 });
  if (reset) {
    await pool.query(`DROP DATABASE IF EXISTS ${database}`);
    await pool.query(`CREATE DATABASE ${database}`);
  }
  const store = createMysqlEventStore<E>(pool, storeOptions(database, logger));
  await store.migrate();
  // `tx` is the mysql2 PoolConnection of the store's transaction.
  const connection = (tx: unknown) => (tx ?? pool) as Pool | PoolConnection;
  const exec = async (tx: unknown, sql: string, params: Params = []) => {
    const statement = positional(sql, params);
    await connection(tx).execute(statement.sql, statement.values);
  };
  return {
    kind: 'mysql',
    store,
    table: (name) => `${database}.${identifier(name)}`,
    async ddl(sql) {
      await pool.query(sql);
    },
    exec,
    async query<T>(tx: unknown, sql: string, params: Params = []) {
      const statement = positional(sql, params);
      const [rows] = await connection(tx).execute(statement.sql, statement.values);
      return rows as T[];
    },
    increment: (tx, table, key, amounts) => exec(tx, ...upsertAdding('mysql', table, key, amounts)),
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

/** The store's tables in the example's own PostgreSQL schema or MySQL database. */
function storeOptions(namespace: string, logger: Logger | undefined): EventStoreOptions {
  return {
    tables: {
      events: `${namespace}.events`,
      aggregateHeads: `${namespace}.aggregate_heads`,
      checkpoints: `${namespace}.projection_checkpoints`,
    },
    logger,
  };
}

/** Turns each `$n` into `?` and lists the parameters in the order of the `?`s. */
function positional(sql: string, params: Params): { sql: string; values: any[] } {
  const values: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    if (Number(n) < 1 || Number(n) > params.length) {
      throw new Error(`$${n} in a statement with ${params.length} parameter(s)`);
    }
    values.push(params[Number(n) - 1]);
    return '?';
  });
  return { sql: text, values };
}

/**
 * The upsert behind {@link ExampleDatabase.increment}: the same statement in the two dialects.
 *
 * PostgreSQL, SQLite: `INSERT INTO t AS r (k, a) VALUES ($1, $2)
 *                     ON CONFLICT (k) DO UPDATE SET a = r.a + $2`
 * MySQL, MariaDB:     `INSERT INTO t (k, a) VALUES ($1, $2) ON DUPLICATE KEY UPDATE a = a + $2`
 */
function upsertAdding(
  kind: DatabaseKind,
  table: string,
  key: Record<string, unknown>,
  amounts: Record<string, number>,
): [sql: string, params: Params] {
  const keyColumns = Object.keys(key).map(identifier);
  const amountColumns = Object.keys(amounts).map(identifier);
  const columns = [...keyColumns, ...amountColumns];
  const values = columns.map((_, i) => `$${i + 1}`).join(', ');
  const add = (prefix: string) =>
    amountColumns
      .map((column, i) => `${column} = ${prefix}${column} + $${keyColumns.length + i + 1}`)
      .join(', ');
  const sql =
    kind === 'mysql'
      ? `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${values})
         ON DUPLICATE KEY UPDATE ${add('')}`
      : `INSERT INTO ${table} AS r (${columns.join(', ')}) VALUES (${values})
         ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET ${add('r.')}`;
  return [sql, [...Object.values(key), ...Object.values(amounts)]];
}

/** Checks a name that goes into SQL text: lower-case letters, digits and `_` only. */
function identifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return name;
}
