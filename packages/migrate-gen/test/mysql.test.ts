import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TableNames } from '@pup/core';
import { createMysqlEventStore } from '@pup/mysql';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { mysqlCatalog } from './mysql-catalog.js';
import { expectStoreWorksAndMigrateIsNoop } from './store-check.js';
import { generateFile, temporaryFolder } from './support.js';

const url = inject('mysqlUrl');
const admin = mysql.createPool({ uri: url, connectionLimit: 3, multipleStatements: true });
afterAll(() => admin.end());

/** `url` with `database` as its default database. */
function urlOf(database: string): string {
  const withDatabase = new URL(url);
  withDatabase.pathname = `/${database}`;
  return withDatabase.toString();
}

/** A new empty database, dropped when the test ends. */
async function freshDatabase(): Promise<string> {
  const database = `pup_mg_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE \`${database}\``);
  onTestFinished(async () => {
    await admin.query(`DROP DATABASE \`${database}\``);
  });
  return database;
}

/** A pool whose default database is `database`, ended when the test ends. */
function poolOn(database: string): mysql.Pool {
  const pool = mysql.createPool({
    uri: urlOf(database),
    connectionLimit: 2,
    multipleStatements: true,
  });
  onTestFinished(() => pool.end());
  return pool;
}

/** The table names of the tests with custom names, qualified with `database`. */
function customTables(database: string): TableNames {
  return {
    events: `${database}.ledger`,
    aggregateHeads: `${database}.ledger_heads`,
    checkpoints: `${database}.ledger_checkpoints`,
  };
}

function tableNamesOf(catalog: unknown): string[] {
  return (catalog as { tables: { TABLE_NAME: string }[] }).tables.map((t) => t.TABLE_NAME);
}

describe('MySQL / MariaDB: the generated file gives the schema store.migrate() creates', () => {
  it('with the default table names', async () => {
    const [fromFile, fromMigrate] = [await freshDatabase(), await freshDatabase()];
    const file = generateFile(['--adapter', 'mysql'], temporaryFolder());
    const filePool = poolOn(fromFile);
    await filePool.query(readFileSync(file, 'utf8'));

    const reference = createMysqlEventStore(poolOn(fromMigrate));
    await reference.migrate();
    await reference.close();

    const catalog = await mysqlCatalog(admin, fromFile);
    expect(catalog).toEqual(await mysqlCatalog(admin, fromMigrate));
    expect(tableNamesOf(catalog)).toEqual(
      expect.arrayContaining(['aggregate_heads', 'events', 'projection_checkpoints']),
    );

    const store = createMysqlEventStore(filePool);
    try {
      await expectStoreWorksAndMigrateIsNoop(store, () => mysqlCatalog(admin, fromFile));
    } finally {
      await store.close();
    }
  });

  it('with custom, database-qualified table names', async () => {
    const [fromFile, fromMigrate] = [await freshDatabase(), await freshDatabase()];
    const tables = customTables(fromFile);
    const file = generateFile(
      [
        '--adapter',
        'mysql',
        '--events-table',
        tables.events,
        '--aggregate-heads-table',
        tables.aggregateHeads,
        '--checkpoints-table',
        tables.checkpoints,
      ],
      temporaryFolder(),
    );
    await admin.query(readFileSync(file, 'utf8'));

    const reference = createMysqlEventStore(admin, { tables: customTables(fromMigrate) });
    await reference.migrate();
    await reference.close();

    const catalog = await mysqlCatalog(admin, fromFile);
    expect(catalog).toEqual(await mysqlCatalog(admin, fromMigrate));
    expect(tableNamesOf(catalog)).toEqual(
      expect.arrayContaining(['ledger', 'ledger_checkpoints', 'ledger_heads']),
    );

    const store = createMysqlEventStore(admin, { tables });
    try {
      await expectStoreWorksAndMigrateIsNoop(store, () => mysqlCatalog(admin, fromFile));
    } finally {
      await store.close();
    }
  });

  it('the comparison sees a changed default, index or row', async () => {
    const sql = readFileSync(generateFile(['--adapter', 'mysql'], temporaryFolder()), 'utf8');
    const databases = [
      await freshDatabase(),
      await freshDatabase(),
      await freshDatabase(),
      await freshDatabase(),
    ];
    const [reference, ...changed] = databases as [string, string, string, string];
    for (const database of databases) await poolOn(database).query(sql);
    const expected = await mysqlCatalog(admin, reference);
    expect(await mysqlCatalog(admin, databases[1]!)).toEqual(expected);
    const changes = [
      `ALTER TABLE \`${changed[0]}\`.events ALTER COLUMN event_version DROP DEFAULT`,
      `CREATE INDEX extra ON \`${changed[1]}\`.aggregate_heads (aggregate_version)`,
      `DELETE FROM \`${changed[2]}\`.events_blocks ORDER BY block DESC LIMIT 1`,
    ];
    for (const [index, change] of changes.entries()) {
      await admin.query(change);
      expect(await mysqlCatalog(admin, changed[index]!), change).not.toEqual(expected);
    }
  });
});
