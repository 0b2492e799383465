import { ExpectedVersion, InvalidConfigError, SchemaVersionError } from '@pup/core';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { runSchemaUpgradeScenario } from '../../core/test/support/segment-upgrade.js';
import { createMysqlEventStore, mysqlSchemaSql, SCHEMA_VERSION } from '../src/index.js';
import { supportsSkipLocked } from '../src/migrate.js';
import { mysqlTables, schemaStatements } from '../src/schema.js';
import {
  adminQuery,
  createTestStore,
  dropDatabase,
  mysqlUrl,
  pool,
  qualifyTables,
  uniqueDatabase,
} from './support.js';

describe('schema and migrate()', () => {
  it('mysqlSchemaSql is the statements migrate() runs, and names the derived tables', () => {
    const sql = mysqlSchemaSql({ events: 'app.events' });
    for (const statement of schemaStatements(mysqlTables({ events: 'app.events' }))) {
      expect(sql).toContain(statement);
    }
    expect(sql).toContain('`app`.`events_blocks`');
    expect(sql).toContain('`app`.`events_meta`');
    expect(sql).toContain('SKIP LOCKED');
  });

  it('applies the whole SQL file with the mysql client as well (a user migration tool)', async () => {
    const database = uniqueDatabase();
    await adminQuery(`CREATE DATABASE ${database}`);
    const conn = await mysql.createConnection({ uri: mysqlUrl(), multipleStatements: true });
    try {
      await conn.query(mysqlSchemaSql(qualifyTables(database, {}) as never));
      const store = createMysqlEventStore(pool() as never, {
        tables: qualifyTables(database, {}) as never,
      });
      await store.migrate();
      const rows = await adminQuery(`SELECT COUNT(*) AS n FROM ${database}.events_blocks`);
      expect(Number(rows[0].n)).toBe(1000);
      await store.close();
    } finally {
      await conn.end();
      await dropDatabase(database);
    }
  });

  it('five concurrent migrate() calls take turns; a second run changes nothing', async () => {
    const database = uniqueDatabase();
    await adminQuery(`CREATE DATABASE ${database}`);
    const tables = qualifyTables(database, {}) as never;
    const stores = Array.from({ length: 5 }, () =>
      createMysqlEventStore(pool() as never, { tables }),
    );
    try {
      await Promise.all(stores.map((store) => store.migrate()));
      await stores[0]!.migrate();
      const [meta] = await adminQuery(
        `SELECT value FROM ${database}.events_meta WHERE name = 'schema_version'`,
      );
      expect(Number(meta.value)).toBe(SCHEMA_VERSION);
      const [blocks] = await adminQuery(`SELECT COUNT(*) AS n FROM ${database}.events_blocks`);
      expect(Number(blocks.n)).toBe(1000);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await dropDatabase(database);
    }
  });

  it('refuses a schema newer than it knows with SchemaVersionError', async () => {
    const subject = await createTestStore();
    try {
      await adminQuery(`UPDATE ${subject.sql.meta} SET value = ? WHERE name = 'schema_version'`, [
        SCHEMA_VERSION + 1,
      ]);
      const error = await subject.store.migrate().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect((error as SchemaVersionError).found).toBe(SCHEMA_VERSION + 1);
      expect((error as SchemaVersionError).supported).toBe(SCHEMA_VERSION);
      expect((error as SchemaVersionError).code).toBe('SCHEMA_VERSION');
    } finally {
      await subject.cleanup();
    }
  });

  it('never re-creates used blocks when migrate() runs again on a log that has events', async () => {
    const subject = await createTestStore();
    try {
      const { store } = subject;
      await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.any(), [
          { boundedContext: 'b', aggregateType: 't', aggregateId: 'x', eventType: 'e', payload: 1 },
        ]),
      );
      await store.migrate();
      const [row] = await adminQuery(`SELECT MIN(block) AS b FROM ${subject.sql.blocks}`);
      expect(Number(row.b)).toBe(2);
    } finally {
      await subject.cleanup();
    }
  });

  it('knows which servers have SKIP LOCKED', () => {
    expect(supportsSkipLocked('10.11.19-MariaDB-0+deb12u1')).toBe(true);
    expect(supportsSkipLocked('10.6.0-MariaDB')).toBe(true);
    expect(supportsSkipLocked('10.5.27-MariaDB')).toBe(false);
    expect(supportsSkipLocked('8.0.36')).toBe(true);
    expect(supportsSkipLocked('8.0.0')).toBe(false);
    expect(supportsSkipLocked('5.7.44-log')).toBe(false);
    expect(supportsSkipLocked('9.1.0')).toBe(true);
  });
});

describe('configuration', () => {
  const bad: [string, unknown][] = [
    ['pollIntervalMs', { pollIntervalMs: 0 }],
    ['pollIntervalMs', { pollIntervalMs: Number.NaN }],
    ['pollIntervalMs', { pollIntervalMs: '100' }],
    ['tables.events', { tables: { events: 'events; drop table x' } }],
    ['tables.aggregateHeads', { tables: { aggregateHeads: 'events_blocks' } }],
    ['tables.checkpoints', { tables: { checkpoints: 'events_meta' } }],
  ];
  for (const [option, options] of bad) {
    it(`rejects ${JSON.stringify(options)} with InvalidConfigError before any SQL`, () => {
      let thrown: unknown;
      try {
        createMysqlEventStore(pool() as never, options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidConfigError);
      expect((thrown as InvalidConfigError).option).toBe(option);
    });
  }

  it('rejects something that is not a mysql2 pool', () => {
    expect(() => createMysqlEventStore({} as never)).toThrow(InvalidConfigError);
    expect(() => createMysqlEventStore(null as never)).toThrow(InvalidConfigError);
  });
});

describe('schema version 2: aggregate_hash', () => {
  it('migrate() upgrades a version 1 log; old rows (NULL hash) still reach their partition', async () => {
    const subject = await createTestStore();
    try {
      await runSchemaUpgradeScenario(subject.store, {
        downgradeToVersion1: async () => {
          await adminQuery(`ALTER TABLE ${subject.sql.events} DROP COLUMN aggregate_hash`);
          await adminQuery(
            `UPDATE ${subject.sql.meta} SET value = 1 WHERE name = 'schema_version'`,
          );
        },
        hashes: async () =>
          (
            await adminQuery(
              `SELECT aggregate_id, aggregate_hash FROM ${subject.sql.events} ORDER BY global_position`,
            )
          ).map((row) => [
            Buffer.from(row.aggregate_id).toString('utf8'),
            row.aggregate_hash === null ? null : Number(row.aggregate_hash),
          ]),
        schemaVersion: async () =>
          Number(
            (
              await adminQuery(
                `SELECT value FROM ${subject.sql.meta} WHERE name = 'schema_version'`,
              )
            )[0].value,
          ),
      });
    } finally {
      await subject.cleanup();
    }
  });
});
