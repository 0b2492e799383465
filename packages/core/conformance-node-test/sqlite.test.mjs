// The conformance suite under node:test against @pup/sqlite, as a third party runs it against its
// own adapter: each test gets a fresh database (a file in a temporary directory, or :memory:),
// counted through SQL of its own (not the store's reads), and the file database runs the
// projection crash test with a worker process (crash-worker.mjs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeEventStoreConformance } from '@pup/core/conformance';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

const testApi = { describe, it, beforeAll: before, afterAll: after, beforeEach, afterEach };
const crashWorker = fileURLToPath(new URL('./crash-worker.mjs', import.meta.url));

/** The table names a store was created with, quoted for SQLite. */
function quotedTables(tables = {}) {
  const quote = (name) =>
    name
      .split('.')
      .map((part) => `"${part}"`)
      .join('.');
  return {
    events: quote(tables.events ?? 'events'),
    aggregateHeads: quote(tables.aggregateHeads ?? 'aggregate_heads'),
    checkpoints: quote(tables.checkpoints ?? 'projection_checkpoints'),
  };
}

/** A harness giving each test a fresh, migrated SQLite store. */
function sqliteHarness(kind) {
  return {
    name: `sqlite ${kind} (node:test)`,
    // better-sqlite3 is synchronous: the store runs one transaction at a time.
    capabilities: {
      concurrentTransactions: false,
      waitForEvents: true,
      crashRecovery: kind === 'file',
    },
    async createStore(options) {
      const dir = kind === 'file' ? mkdtempSync(join(tmpdir(), 'pup-conformance-')) : null;
      const file = dir === null ? ':memory:' : join(dir, 'events.db');
      const db = new Database(file);
      const dispose = () => {
        if (db.open) db.close();
        if (dir !== null) rmSync(dir, { recursive: true, force: true });
      };
      try {
        const store = createSqliteEventStore(db, options);
        await store.migrate();
        const tables = quotedTables(options?.tables);
        const count = (table) => async () =>
          Number(db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get());
        return {
          store,
          file,
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
    crashWorker: (subject) => ({
      command: process.execPath,
      args: [crashWorker],
      env: { PUP_CRASH_SQLITE_FILE: subject.file },
    }),
  };
}

describeEventStoreConformance(testApi, sqliteHarness('file'));
describeEventStoreConformance(testApi, sqliteHarness(':memory:'));
