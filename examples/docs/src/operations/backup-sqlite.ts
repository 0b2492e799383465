// docs/operations.md, "Backups": an online backup of a SQLite event store file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExpectedVersion } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, expectEqual } from '../getting-started/events.js';

const folder = mkdtempSync(join(tmpdir(), 'pup-docs-'));
const db = new Database(join(folder, 'bank.db'));
const store = createSqliteEventStore(db);
await store.migrate();
await store.appendToStream(ExpectedVersion.noStream(), [
  { ...account('hal'), eventType: 'AccountOpened', payload: { owner: 'Hal' } },
]);

const backupFile = join(folder, 'bank-backup.db');
// #region backup
// SQLite's online backup API: a consistent copy of the whole database (events, heads,
// checkpoints, read models in the same file) while the store keeps working.
await db.backup(backupFile);
// #endregion backup

const copy = new Database(backupFile, { readonly: true });
expectEqual(copy.prepare('SELECT COUNT(*) AS n FROM events').get(), { n: 1 }, 'events in backup');
copy.close();
await store.close();
db.close();
rmSync(folder, { recursive: true });
