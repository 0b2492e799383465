// docs/adapters.md, "Transaction handles": a transaction you open yourself with mysql2.
import { ExpectedVersion } from '@pup/core';
import { createMysqlEventStore } from '@pup/mysql';
import mysql from 'mysql2/promise';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';

const pool = mysql.createPool(process.env.DATABASE_URL!);
const store = createMysqlEventStore<BankEvent>(pool);
await store.migrate();
await pool.query(
  'CREATE TABLE IF NOT EXISTS accounts (id VARCHAR(255) PRIMARY KEY, owner TEXT NOT NULL)',
);

// #region own-transaction
const connection = await pool.getConnection();
try {
  await connection.beginTransaction();
  await connection.query('INSERT INTO accounts (id, owner) VALUES (?, ?)', ['dave', 'Dave']);
  await store.append(connection, ExpectedVersion.noStream(), [
    { ...account('dave'), eventType: 'AccountOpened', payload: { owner: 'Dave' } },
  ]);
  await connection.commit();
} catch (error) {
  await connection.rollback();
  throw error;
} finally {
  connection.release();
}
// #endregion own-transaction

const dave = await store.transaction((tx) => store.readAggregateStream(tx, account('dave')));
expectEqual(dave.version, 1, 'version of dave');
await store.close();
await pool.end();
