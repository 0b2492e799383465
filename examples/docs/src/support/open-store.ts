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
  /** Closes the store, then the connection or pool. */
  close(): Promise<void>;
}

/** A migrated store on the database DATABASE_URL names (SQLite in memory when unset). */
export async function openStore<E extends object>(
  options: EventStoreOptions<E> = {},
): Promise<OpenedStore<E>> {
  const url = process.env.DATABASE_URL;
  let opened: OpenedStore<E>;
  if (url === undefined || url === '') {
    const db = new Database(':memory:');
    const store = createSqliteEventStore<E>(db, options);
    opened = {
      kind: 'sqlite',
      store,
      close: async () => {
        await store.close();
        db.close();
      },
    };
  } else if (/^postgres(ql)?:/.test(url)) {
    const pool = new pg.Pool({ connectionString: url });
    const store = createPgEventStore<E>(pool, options);
    opened = {
      kind: 'postgres',
      store,
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  } else if (url.startsWith('mysql:')) {
    const pool = mysql.createPool(url);
    const store = createMysqlEventStore<E>(pool, options);
    opened = {
      kind: 'mysql',
      store,
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  } else {
    throw new Error(`DATABASE_URL must be a postgres:// or mysql:// URL, got ${url}`);
  }
  await opened.store.migrate();
  return opened;
}
