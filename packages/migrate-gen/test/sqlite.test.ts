import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TableNames } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sqliteCatalog } from './sqlite-catalog.js';
import { expectStoreWorksAndMigrateIsNoop } from './store-check.js';
import { generateFile, temporaryFolder } from './support.js';

/** A new database file, closed when the test ends. */
function open(path: string): Database.Database {
  const db = new Database(path);
  onTestFinished(() => {
    db.close();
  });
  return db;
}

const cases: [string, string[], Partial<TableNames>][] = [
  ['with the default table names', [], {}],
  [
    'with custom table names, one of them schema-qualified',
    [
      '--events-table',
      'main.ledger',
      '--aggregate-heads-table',
      'ledger_heads',
      '--checkpoints-table',
      'ledger_checkpoints',
    ],
    { events: 'main.ledger', aggregateHeads: 'ledger_heads', checkpoints: 'ledger_checkpoints' },
  ],
];

describe('SQLite: the generated file gives the schema store.migrate() creates', () => {
  for (const [what, flags, tables] of cases) {
    it(what, async () => {
      const folder = temporaryFolder();
      const file = generateFile(['--adapter', 'sqlite', ...flags], folder);
      const fromFile = open(join(folder, 'from-file.db'));
      fromFile.exec(readFileSync(file, 'utf8'));

      const fromMigrate = open(join(folder, 'from-migrate.db'));
      const reference = createSqliteEventStore(fromMigrate, { tables });
      await reference.migrate();
      await reference.close();

      const catalog = sqliteCatalog(fromFile);
      expect(catalog).toEqual(sqliteCatalog(fromMigrate));
      expect((catalog as { tables: unknown[] }).tables.length).toBeGreaterThanOrEqual(3);

      const store = createSqliteEventStore(fromFile, { tables });
      try {
        await expectStoreWorksAndMigrateIsNoop(store, async () => sqliteCatalog(fromFile));
      } finally {
        await store.close();
      }
    });
  }
});
