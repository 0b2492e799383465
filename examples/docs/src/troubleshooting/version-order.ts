// docs/troubleshooting.md, "Events of one stream arrive out of version order": a projection that
// applies each stream in version order whatever order the log gives. Runs on SQLite in memory;
// the inverted order (which PostgreSQL and MySQL can produce) is fed to the handler directly.
import { ExpectedVersion, type PersistedEventOf } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';

const db = new Database(':memory:');
const store = createSqliteEventStore<BankEvent, Database.Database>(db);
await store.migrate();
db.exec(`CREATE TABLE balances (
  account TEXT PRIMARY KEY, version INTEGER NOT NULL, balance INTEGER NOT NULL)`);

/** The read model's row of an account, version 0 when there is none. */
function load(tx: Database.Database, id: string): { version: number; balance: number } {
  const row = tx.prepare('SELECT version, balance FROM balances WHERE account = ?').get(id);
  return (row as { version: number; balance: number } | undefined) ?? { version: 0, balance: 0 };
}
function save(tx: Database.Database, id: string, version: number, balance: number): void {
  tx.prepare(
    `INSERT INTO balances (account, version, balance) VALUES (?, ?, ?)
     ON CONFLICT (account) DO UPDATE SET version = excluded.version, balance = excluded.balance`,
  ).run(id, version, balance);
}

// #region version-order
import type { Projection } from '@pup/core';

const change = (event: PersistedEventOf<BankEvent>) =>
  event.eventType === 'MoneyDeposited'
    ? event.payload.amount
    : event.eventType === 'MoneyWithdrawn'
      ? -event.payload.amount
      : 0;

// The read model keeps, per account, the last version it applied.
const balances: Projection<Database.Database, BankEvent> = {
  name: 'balances',
  async handle(event, { tx }) {
    const row = load(tx, event.aggregateId);
    if (event.aggregateVersion <= row.version) return; // applied already: it came early
    let balance = row.balance;
    if (event.aggregateVersion > row.version + 1) {
      // The versions in between come later in the log: apply them from the stream now.
      const missing = await store.readAggregateStream(tx, event, {
        fromVersion: row.version + 1,
        toVersion: event.aggregateVersion - 1,
      });
      for (const earlier of missing.events) balance += change(earlier);
    }
    save(tx, event.aggregateId, event.aggregateVersion, balance + change(event));
  },
};
// #endregion version-order

// Three events of one stream, handed to the projection as 2, 3, 1.
const appended = await store.appendToStream(
  ExpectedVersion.noStream(),
  [1, 2, 3].map((amount) => ({
    ...account('mo'),
    eventType: 'MoneyDeposited' as const,
    payload: { amount },
  })),
);
const [v1, v2, v3] = appended.events;
const signal = new AbortController().signal;
await store.transaction(async (tx) => {
  for (const event of [v2!, v3!, v1!]) await balances.handle(event, { tx, signal });
});
expectEqual(load(db, 'mo'), { version: 3, balance: 6 }, 'balance of mo after 2, 3, 1');
await store.close();
db.close();
