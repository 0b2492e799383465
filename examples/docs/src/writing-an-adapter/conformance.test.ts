// test/conformance.test.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStoreOptions } from '@pup/core';
import { type ConformanceHarness, describeEventStoreConformance } from '@pup/core/conformance';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';

const quote = (name: string) =>
  name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');

const harness: ConformanceHarness<Database.Database> = {
  name: 'sqlite (file)',
  capabilities: { concurrentTransactions: false, waitForEvents: true },
  async createStore(options?: EventStoreOptions) {
    const dir = mkdtempSync(join(tmpdir(), 'my-adapter-'));
    const db = new Database(join(dir, 'events.db'));
    const dispose = () => {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      const store = createSqliteEventStore(db, options);
      await store.migrate();
      const count = (table: string) => async () =>
        Number(
          db
            .prepare(`SELECT COUNT(*) FROM ${quote(table)}`)
            .pluck()
            .get(),
        );
      return {
        store,
        inspect: {
          countEvents: count(options?.tables?.events ?? 'events'),
          countAggregateHeads: count(options?.tables?.aggregateHeads ?? 'aggregate_heads'),
          countCheckpoints: count(options?.tables?.checkpoints ?? 'projection_checkpoints'),
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

describeEventStoreConformance(
  { describe, it, beforeAll, afterAll, beforeEach, afterEach },
  harness,
);
