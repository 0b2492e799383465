// For the documentation programs that run on every database: an event store on SQLite in memory,
// or on the PostgreSQL or MySQL / MariaDB server DATABASE_URL names.
import type { EventStore, EventStoreOptions } from '@pup/core';
import { createMysqlEventStore } from '@pup/mysql';
import { createPgEventStore } from '@pup/postgres';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';

export type DatabaseKind = 'sqlite' | 'postgres' | 'mysql';

export interface OpenedStore<E extends object> {
  kind: DatabaseKind;
  store: EventStore<any, E>;
  /**
   * Another store on the same database and connection (or pool), with other options: what an
   * older or newer release of the application would open. Migrated; `close()` closes it too.
   */
  storeWith<F extends object>(options: EventStoreOptions<F>): Promise<EventStore<any, F>>;
  /**
   * Runs `sql`, written with `?` placeholders, on `tx` (a transaction handle of these stores, as a
   * projection's handler gets it) or, with `null`, on the database outside any transaction.
   * Returns the rows of a query, `[]` for other statements.
   */
  query(tx: unknown, sql: string, params?: unknown[]): Promise<any[]>;
  /** Closes the stores, then the connection or pool. */
  close(): Promise<void>;
}

interface Connection {
  kind: DatabaseKind;
  create<F extends object>(options: EventStoreOptions<F>): EventStore<any, F>;
  query(tx: unknown, sql: string, params: unknown[]): Promise<any[]>;
  end(): Promise<void>;
}

function connect(url: string | undefined): Connection {
  if (url === undefined || url === '') {
    const db = new Database(':memory:');
    return {
      kind: 'sqlite',
      create: (options) => createSqliteEventStore(db, options),
      async query(tx, sql, params) {
        const statement = ((tx ?? db) as Database.Database).prepare(sql);
        if (statement.reader) return statement.all(...params);
        statement.run(...params);
        return [];
      },
      end: async () => {
        db.close();
      },
    };
  }
  if (/^postgres(ql)?:/.test(url)) {
    const pool = new pg.Pool({ connectionString: url });
    return {
      kind: 'postgres',
      create: (options) => createPgEventStore(pool, options),
      async query(tx, sql, params) {
        let n = 0;
        const text = sql.replace(/\?/g, () => `$${++n}`);
        return (await ((tx ?? pool) as pg.PoolClient).query(text, params)).rows;
      },
      end: () => pool.end(),
    };
  }
  if (url.startsWith('mysql:')) {
    const pool = mysql.createPool(url);
    return {
      kind: 'mysql',
      create: (options) => createMysqlEventStore(pool, options),
      async query(tx, sql, params) {
        const [rows] = await ((tx ?? pool) as mysql.PoolConnection).query(sql, params);
        return Array.isArray(rows) ? rows : [];
      },
      end: () => pool.end(),
    };
  }
  throw new Error(`DATABASE_URL must be a postgres:// or mysql:// URL, got ${url}`);
}

/** A migrated store on the database DATABASE_URL names (SQLite in memory when unset). */
export async function openStore<E extends object>(
  options: EventStoreOptions<E> = {},
): Promise<OpenedStore<E>> {
  const connection = connect(process.env.DATABASE_URL);
  const stores: EventStore<any, any>[] = [];
  const storeWith = async <F extends object>(storeOptions: EventStoreOptions<F>) => {
    const store = connection.create<F>(storeOptions);
    stores.push(store);
    await store.migrate();
    return store;
  };
  return {
    kind: connection.kind,
    store: await storeWith(options),
    storeWith,
    query: (tx, sql, params = []) => connection.query(tx, sql, params),
    async close() {
      for (const store of stores) await store.close();
      await connection.end();
    },
  };
}
