// docs/getting-started.md, step 8: the same store on PostgreSQL with postgres.js. Run by the docs
// package's test with DATABASE_URL naming a scratch schema of PUP_TEST_POSTGRES_URL's server.

// #region open
import { ExpectedVersion } from '@pup/core';
import { createPostgresJsEventStore } from '@pup/postgres';
import postgres from 'postgres';
import { account, type BankEvent } from './events.js';

const sql = postgres(process.env.DATABASE_URL!);
const store = createPostgresJsEventStore<BankEvent>(sql);
await store.migrate();

// `tx` is postgres.js' TransactionSql: your own statements join the append's transaction.
await store.transaction(async (tx) => {
  await store.append(tx, ExpectedVersion.noStream(), [
    { ...account('bob'), eventType: 'AccountOpened', payload: { owner: 'Bob' } },
  ]);
  await tx`CREATE TABLE IF NOT EXISTS owners (account text PRIMARY KEY, owner text NOT NULL)`;
  await tx`INSERT INTO owners VALUES (${'bob'}, ${'Bob'})`;
});
// #endregion open

const owners = await sql`SELECT account, owner FROM owners`;
expectEqual([...owners], [{ account: 'bob', owner: 'Bob' }], 'owners');
const bob = await store.transaction((tx) => store.readAggregateStream(tx, account('bob')));
expectEqual(bob.version, 1, 'version of bob');

await store.close();
await sql.end();

// Imported last, so that no excerpt above shows it (imports are hoisted).
import { expectEqual } from './events.js';
