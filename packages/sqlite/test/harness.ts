import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConformanceHarness, ConformanceStore } from '@pup/core/conformance';
import Database from 'better-sqlite3';
import { createSqliteEventStore, type SqliteEventStoreOptions } from '../src/index.js';
import { quoteTableNames } from '../src/schema.js';

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pup-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens a fresh database: a file in a temporary directory, or `:memory:`. */
export function openDatabase(kind: 'file' | 'memory'): {
  db: Database.Database;
  file: string | null;
  dispose: () => void;
} {
  if (kind === 'memory') {
    const db = new Database(':memory:');
    return { db, file: null, dispose: () => db.close() };
  }
  const { dir, remove } = tempDir();
  const file = join(dir, 'events.db');
  const db = new Database(file);
  return {
    db,
    file,
    dispose: () => {
      if (db.open) db.close();
      remove();
    },
  };
}

/** A conformance harness giving each test a fresh, migrated store on its own database. */
export function sqliteHarness(kind: 'file' | 'memory'): ConformanceHarness<Database.Database> {
  return {
    name: kind === 'file' ? 'sqlite (file)' : 'sqlite (:memory:)',
    capabilities: { concurrentTransactions: false },
    async createStore(options?: SqliteEventStoreOptions): Promise<ConformanceStore> {
      const { db, dispose } = openDatabase(kind);
      try {
        const store = createSqliteEventStore(db, options);
        await store.migrate();
        const tables = quoteTableNames(options?.tables);
        const count = (table: string) => async () =>
          Number(db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get());
        return {
          store,
          inspect: {
            countEvents: count(tables.events),
            countAggregateHeads: count(tables.aggregateHeads),
            countCheckpoints: count(tables.checkpoints),
          },
          cleanup: async () => {
            await store.close();
            dispose();
          },
        };
      } catch (error) {
        dispose();
        throw error;
      }
    },
  };
}
