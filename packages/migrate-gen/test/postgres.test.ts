import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TableNames } from '@pup/core';
import { createPgEventStore } from '@pup/postgres';
import pg from 'pg';
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { postgresCatalog } from './postgres-catalog.js';
import { expectStoreWorksAndMigrateIsNoop } from './store-check.js';
import { generateFile, temporaryFolder } from './support.js';

const url = inject('postgresUrl');
const admin = new pg.Pool({ connectionString: url, max: 3 });
afterAll(() => admin.end());

/** A new empty schema, dropped when the test ends. */
async function freshSchema(): Promise<string> {
  const schema = `pup_mg_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  onTestFinished(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  });
  return schema;
}

/** A pool whose sessions resolve unqualified names in `schema`, ended when the test ends. */
function poolOn(schema: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
  onTestFinished(() => pool.end());
  return pool;
}

/** The table names of the tests with custom names, qualified with `schema`. */
function customTables(schema: string): TableNames {
  return {
    events: `${schema}.ledger`,
    aggregateHeads: `${schema}.ledger_heads`,
    checkpoints: `${schema}.ledger_checkpoints`,
  };
}

describe('PostgreSQL: the generated file gives the schema store.migrate() creates', () => {
  it('with the default table names', async () => {
    const [fromFile, fromMigrate] = [await freshSchema(), await freshSchema()];
    const file = generateFile(['--adapter', 'postgres'], temporaryFolder());
    const filePool = poolOn(fromFile);
    await filePool.query(readFileSync(file, 'utf8'));

    const reference = createPgEventStore(poolOn(fromMigrate));
    await reference.migrate();
    await reference.close();

    const catalog = await postgresCatalog(admin, fromFile);
    expect(catalog).toEqual(await postgresCatalog(admin, fromMigrate));
    expect(
      (catalog as { relations: { relname: string }[] }).relations.map((r) => r.relname),
    ).toEqual(expect.arrayContaining(['aggregate_heads', 'events', 'projection_checkpoints']));

    const store = createPgEventStore(filePool);
    try {
      await expectStoreWorksAndMigrateIsNoop(store, () => postgresCatalog(admin, fromFile));
    } finally {
      await store.close();
    }
  });

  it('with custom, schema-qualified table names', async () => {
    const [fromFile, fromMigrate] = [await freshSchema(), await freshSchema()];
    const tables = customTables(fromFile);
    const file = generateFile(
      [
        '--adapter',
        'postgres',
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

    const reference = createPgEventStore(admin, { tables: customTables(fromMigrate) });
    await reference.migrate();
    await reference.close();

    const catalog = await postgresCatalog(admin, fromFile);
    expect(catalog).toEqual(await postgresCatalog(admin, fromMigrate));
    expect(
      (catalog as { relations: { relname: string }[] }).relations.map((r) => r.relname),
    ).toEqual(expect.arrayContaining(['ledger', 'ledger_checkpoints', 'ledger_heads']));

    const store = createPgEventStore(admin, { tables });
    try {
      await expectStoreWorksAndMigrateIsNoop(store, () => postgresCatalog(admin, fromFile));
    } finally {
      await store.close();
    }
  });

  it('the comparison sees a changed default, nullability, type, index or constraint', async () => {
    const [fromFile, fromMigrate] = [await freshSchema(), await freshSchema()];
    const sql = readFileSync(generateFile(['--adapter', 'postgres'], temporaryFolder()), 'utf8');
    await poolOn(fromFile).query(sql);
    await poolOn(fromMigrate).query(sql);
    const client = await admin.connect();
    try {
      const reference = await postgresCatalog(client, fromMigrate);
      for (const change of [
        `ALTER TABLE ${fromFile}.events ALTER COLUMN event_version DROP DEFAULT`,
        `ALTER TABLE ${fromFile}.events ALTER COLUMN trace_id SET NOT NULL`,
        `ALTER TABLE ${fromFile}.events ALTER COLUMN aggregate_id TYPE varchar(200)`,
        `DROP INDEX ${fromFile}.events_transaction_order_idx`,
        `ALTER TABLE ${fromFile}.events DROP CONSTRAINT events_event_id_key`,
        `ALTER TABLE ${fromFile}.projection_checkpoints ADD COLUMN note text`,
      ]) {
        await client.query('BEGIN');
        try {
          await client.query(change);
          expect(await postgresCatalog(client, fromFile), change).not.toEqual(reference);
        } finally {
          await client.query('ROLLBACK');
        }
      }
      expect(await postgresCatalog(client, fromFile)).toEqual(reference);
    } finally {
      client.release();
    }
  });
});
