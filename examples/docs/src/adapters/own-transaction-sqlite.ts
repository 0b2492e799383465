// docs/adapters.md, "Transaction handles": a transaction you open yourself on SQLite.
import { ExpectedVersion } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';

const db = new Database(':memory:');
const store = createSqliteEventStore<BankEvent, Database.Database>(db);
await store.migrate();
db.exec('CREATE TABLE accounts (id TEXT PRIMARY KEY, owner TEXT NOT NULL)');

// #region own-transaction
db.exec('BEGIN IMMEDIATE'); // IMMEDIATE: take the write lock now, as the store does
try {
  db.prepare('INSERT INTO accounts (id, owner) VALUES (?, ?)').run('dave', 'Dave');
  await store.append(db, ExpectedVersion.noStream(), [
    { ...account('dave'), eventType: 'AccountOpened', payload: { owner: 'Dave' } },
  ]);
  db.exec('COMMIT');
} catch (error) {
  db.exec('ROLLBACK');
  throw error;
}
// #endregion own-transaction

const dave = await store.transaction((tx) => store.readAggregateStream(tx, account('dave')));
expectEqual(dave.version, 1, 'version of dave');
await store.close();
db.close();
