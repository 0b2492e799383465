import { ExpectedVersion, SchemaVersionError } from '@pup/core';
import pg from 'pg';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { runSchemaUpgradeScenario } from '../../core/test/support/segment-upgrade.js';
import { createPgEventStore, createPostgresJsEventStore, postgresSchemaSql } from '../src/index.js';
import { SCHEMA_VERSION } from '../src/schema.js';
import { admin, pgDriver, postgresUrl, qualifyTables, uniqueSchema } from './support.js';

describe('migrate()', () => {
  it('records the schema version, upgrades an older one and refuses a newer one', async () => {
    const subject = await pgDriver().createStore();
    try {
      const meta = `${subject.schema}.events_meta`;
      await subject.admin(`UPDATE ${meta} SET value = 0 WHERE name = 'schema_version'`);
      await subject.store.migrate();
      const upgraded = await subject.admin(
        `SELECT value::int AS value FROM ${meta} WHERE name = 'schema_version'`,
      );
      expect(upgraded).toEqual([{ value: SCHEMA_VERSION }]);
      await subject.admin(`UPDATE ${meta} SET value = ${SCHEMA_VERSION + 1}`);
      await subject.admin(`DROP INDEX ${subject.schema}.events_transaction_order_idx`);
      const error = await subject.store.migrate().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect(error).toMatchObject({
        code: 'SCHEMA_VERSION',
        found: SCHEMA_VERSION + 1,
        supported: SCHEMA_VERSION,
      });
      // Nothing ran: the dropped index is still missing.
      const indexes = await subject.admin(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_transaction_order_idx'`,
        [subject.schema],
      );
      expect(indexes).toEqual([]);
    } finally {
      await subject.cleanup();
    }
  });

  it('is safe when several processes migrate the same schema at once', async () => {
    const schema = uniqueSchema();
    await admin().query(`CREATE SCHEMA ${schema}`);
    const tables = qualifyTables(schema, null) as never;
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: postgresUrl(), max: 1 }));
    const sqls = [0, 1].map(() => postgres(postgresUrl(), { max: 1, onnotice: () => {} }));
    const stores = [
      ...pools.map((pool) => createPgEventStore(pool, { tables })),
      ...sqls.map((sql) => createPostgresJsEventStore(sql, { tables })),
    ];
    try {
      await Promise.all(stores.map((store) => store.migrate()));
      await Promise.all(stores.map((store) => store.migrate()));
      const rows = await admin().query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
        [schema],
      );
      expect(rows.rows.map((r) => r.table_name)).toEqual([
        'aggregate_heads',
        'events',
        'events_meta',
        'projection_checkpoints',
        'projection_checkpoints_dead_letters',
        'projection_checkpoints_leases',
      ]);
      const version = await admin().query(
        `SELECT value::int AS value FROM ${schema}.events_meta WHERE name = 'schema_version'`,
      );
      expect(version.rows).toEqual([{ value: SCHEMA_VERSION }]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await Promise.all([...pools.map((p) => p.end()), ...sqls.map((s) => s.end({ timeout: 5 }))]);
      await admin().query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('creates the documented column types (PostgreSQL 13+: xid8)', async () => {
    const subject = await pgDriver().createStore();
    try {
      const rows = await subject.admin(
        `SELECT column_name, data_type, is_nullable, is_identity FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'events' ORDER BY ordinal_position`,
        [subject.schema],
      );
      const types = Object.fromEntries(rows.map((r) => [r.column_name, r.data_type]));
      expect(types).toMatchObject({
        global_position: 'bigint',
        transaction_id: 'xid8',
        aggregate_id: 'text',
        aggregate_version: 'bigint',
        event_id: 'uuid',
        event_version: 'integer',
        payload: 'bytea',
        metadata: 'jsonb',
        created_at: 'timestamp with time zone',
      });
      expect(rows.find((r) => r.column_name === 'global_position')!.is_identity).toBe('YES');
    } finally {
      await subject.cleanup();
    }
  });

  it('applies exactly postgresSchemaSql, and works with 63-character names', async () => {
    const schema = uniqueSchema();
    const tables = {
      events: `${schema}.${'e'.repeat(63)}`,
      aggregateHeads: `${schema}.${'h'.repeat(63)}`,
      checkpoints: `${schema}.${'c'.repeat(63)}`,
    };
    // The SQL migrate-gen writes, applied by hand, leaves nothing for migrate() to do.
    await admin().query(`CREATE SCHEMA ${schema}`);
    await admin().query(postgresSchemaSql(tables));
    const before = await admin().query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
      [schema],
    );
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 3 });
    const store = createPgEventStore(pool, { tables });
    try {
      await store.migrate();
      const after = await admin().query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
        [schema],
      );
      expect(after.rows[0].n).toBe(before.rows[0].n);
      await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 20 });
      const started = performance.now();
      const waiting = store.waitForEvents({
        signal: new AbortController().signal,
        timeoutMs: 5_000,
      });
      await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), [
          {
            boundedContext: 'b',
            aggregateType: 'T',
            aggregateId: 'long',
            eventType: 'E',
            payload: 1,
          },
        ]),
      );
      await waiting;
      expect(performance.now() - started).toBeLessThan(2_000);
      // Readable once no older transaction runs anywhere on the server (the xid horizon).
      let log = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
      for (const deadline = Date.now() + 10_000; log.length === 0 && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        log = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
      }
      expect(log).toHaveLength(1);
    } finally {
      await store.close();
      await pool.end();
      await admin().query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});

describe('schema version 2: aggregate_hash', () => {
  it('migrate() upgrades a version 1 log; old rows (NULL hash) still reach their partition', async () => {
    const subject = await pgDriver().createStore();
    try {
      await runSchemaUpgradeScenario(subject.store, {
        downgradeToVersion1: async () => {
          await subject.admin(`ALTER TABLE ${subject.schema}.events DROP COLUMN aggregate_hash`);
          await subject.admin(
            `UPDATE ${subject.schema}.events_meta SET value = 1 WHERE name = 'schema_version'`,
          );
        },
        hashes: async () =>
          (
            await subject.admin(
              `SELECT aggregate_id, aggregate_hash FROM ${subject.schema}.events ORDER BY global_position`,
            )
          ).map((row) => [
            row.aggregate_id,
            row.aggregate_hash === null ? null : Number(row.aggregate_hash),
          ]),
        schemaVersion: async () =>
          Number(
            (
              await subject.admin(
                `SELECT value FROM ${subject.schema}.events_meta WHERE name = 'schema_version'`,
              )
            )[0].value,
          ),
      });
    } finally {
      await subject.cleanup();
    }
  });
});
