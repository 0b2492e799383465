import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConformanceHarness, ConformanceStore } from '@pup/core/conformance';
import Database from 'better-sqlite3';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
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

/** What a crash-test worker needs to open the database of a store the harness created. */
interface CrashTarget {
  file: string;
  tables: SqliteEventStoreOptions['tables'];
  /** Cleanups to run with the store's own. */
  disposals: Array<() => void>;
}

/**
 * A conformance harness giving each test a fresh, migrated store on its own database. File
 * databases can also be opened by a crash-test worker process (`crash-worker.ts`).
 */
export function sqliteHarness(kind: 'file' | 'memory'): ConformanceHarness<Database.Database> {
  const crashTargets = new WeakMap<ConformanceStore, CrashTarget>();
  return {
    name: kind === 'file' ? 'sqlite (file)' : 'sqlite (:memory:)',
    capabilities: { concurrentTransactions: false, crashRecovery: kind === 'file' },
    crashWorker(subject) {
      const target = crashTargets.get(subject);
      if (target === undefined) throw new Error('not a file store of this harness');
      const { worker, dispose } = crashWorkerCommand(
        new URL('./crash-worker.ts', import.meta.url),
        {
          PUP_CRASH_SQLITE_FILE: target.file,
          PUP_CRASH_SQLITE_TABLES: JSON.stringify(target.tables ?? {}),
        },
      );
      target.disposals.push(dispose);
      return worker;
    },
    async createStore(options?: SqliteEventStoreOptions): Promise<ConformanceStore> {
      const { db, file, dispose } = openDatabase(kind);
      const disposals: Array<() => void> = [];
      try {
        const store = createSqliteEventStore(db, options);
        await store.migrate();
        const tables = quoteTableNames(options?.tables);
        const count = (table: string) => async () =>
          Number(db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get());
        const subject: ConformanceStore = {
          store,
          inspect: {
            countEvents: count(tables.events),
            countAggregateHeads: count(tables.aggregateHeads),
            countCheckpoints: count(tables.checkpoints),
          },
          cleanup: async () => {
            await store.close();
            dispose();
            for (const disposal of disposals) disposal();
          },
        };
        if (file !== null) {
          crashTargets.set(subject, { file, tables: options?.tables, disposals });
        }
        return subject;
      } catch (error) {
        dispose();
        throw error;
      }
    },
  };
}
