import {
  type EventStore,
  type EventStoreOptions,
  ExpectedVersion,
  type NewEvent,
  type StreamRef,
  type TableNames,
} from '@pup/core';
import pg from 'pg';
import { rawRows } from '../fixtures.js';
import { pupCatchUp } from '../pup-catch-up.js';
import { decodeRawRow } from './decode.js';
import { importOptional, packageVersion } from './load.js';
import {
  PostgresSchemaAdmin,
  postgresEnvironment,
  pupPostgresOptions,
  rowValues,
} from './postgres-shared.js';
import {
  keysetReadSql,
  multiRowInsertSql,
  multiRowInsertWithHeadSql,
  postgresTables,
  readStreamSql,
} from './postgres-sql.js';
import type { BenchTarget, CatchUpOptions, SideOps, TargetConfig } from './types.js';

interface PupPgModule {
  createPgEventStore(
    pool: pg.Pool,
    options?: EventStoreOptions & { notify?: boolean },
  ): EventStore<pg.PoolClient>;
}

/** Connections in the pool shared by pup and raw: the 8 writers plus pup's listener. */
const POOL_SIZE = 10;

/** PostgreSQL through `pg` (node-postgres): pup's `createPgEventStore` against raw `pg` queries. */
export async function createPgTarget(config: TargetConfig): Promise<BenchTarget> {
  const loaded = await loadPgAdapter();
  const tables = postgresTables(config.postgresSchema);
  const pool = new pg.Pool({ connectionString: config.postgresUrl, max: POOL_SIZE });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it.
  });
  let store: EventStore<pg.PoolClient> | null = null;
  let unavailable: string | null = loaded.reason;
  if (loaded.module !== null && typeof loaded.module.createPgEventStore !== 'function') {
    unavailable = '@pup/postgres does not export createPgEventStore yet';
  }
  const admin = new PostgresSchemaAdmin(
    (text, values) => pool.query(text, values as unknown[]).then(() => undefined),
    config.postgresSchema,
    tables,
    () => store,
  );

  const pup: SideOps = {
    async append(events) {
      const s = store!;
      await s.transaction((tx) => s.append(tx, ExpectedVersion.noStream(), events));
    },
    async readStream(stream) {
      const client = await pool.connect();
      try {
        return (await store!.readAggregateStream(client, stream)).events.length;
      } finally {
        client.release();
      }
    },
    catchUp: (options) => pupCatchUp(store!, options),
  };

  const raw = rawPgOps(pool, tables, false);
  const rawPlus = rawPgOps(pool, tables, true);

  return {
    id: 'postgres-pg',
    adapter: 'postgres',
    driver: `pg ${packageVersion('pg')}`,
    pupUnavailable: () => unavailable,
    async open() {
      await pool.query('SELECT 1');
      if (unavailable === null) {
        store = loaded.module!.createPgEventStore(pool, { tables, ...pupPostgresOptions() });
      }
    },
    async close() {
      await store?.close();
      await pool.end();
    },
    environment: () =>
      postgresEnvironment(
        async (text) => (await pool.query(text)).rows as Record<string, unknown>[],
      ),
    resetTables: () => admin.reset(),
    emptyTables: () => admin.empty(),
    preload: (count, perStream, onProgress) => admin.preload(count, perStream, onProgress),
    notes: () => undefined,
    pup,
    raw,
    rawPlus,
  };
}

/**
 * Imports the adapter once (before any workload runs, so a rebuild of its `dist` by someone else
 * in the middle of a long run cannot break the benchmark).
 */
let adapter: ReturnType<typeof importOptional<PupPgModule>> | undefined;
export function loadPgAdapter(): ReturnType<typeof importOptional<PupPgModule>> {
  adapter ??= importOptional<PupPgModule>('@pup/postgres');
  return adapter;
}
/**
 * The raw baseline: what a careful hand-written `pg` program does for the same rows. `withHead`
 * (raw+) also creates the stream's head row in the insert statement and decodes the rows it reads.
 */
function rawPgOps(pool: pg.Pool, tables: TableNames, withHead: boolean): SideOps {
  const build = withHead ? multiRowInsertWithHeadSql : multiRowInsertSql;
  const prefix = withHead ? 'bench_insert_head' : 'bench_insert';
  const insertSql = new Map<number, string>();
  const readSql = readStreamSql(tables);
  const keysetSql = keysetReadSql(tables);

  return {
    async append(events: readonly NewEvent[]) {
      const rows = rawRows(events);
      let text: string | undefined = insertSql.get(rows.length);
      if (text === undefined) {
        text = build(tables, rows.length);
        insertSql.set(rows.length, text);
      }
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await client.query({
          name: `${prefix}_${rows.length}`,
          text,
          values: rowValues(rows),
        });
        if (result.rowCount !== rows.length) throw new Error('the stream already exists');
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async readStream(stream: StreamRef) {
      const client = await pool.connect();
      try {
        const result = await client.query<unknown[]>({
          name: 'bench_read_stream',
          text: readSql,
          rowMode: 'array',
          values: [stream.boundedContext, stream.aggregateType, stream.aggregateId],
        });
        if (withHead) for (const row of result.rows) decodeRawRow(row, 9, 10, 14);
        return result.rows.length;
      } finally {
        client.release();
      }
    },
    async catchUp({ total, batchSize, onBatch }: CatchUpOptions) {
      const client = await pool.connect();
      try {
        let after = 0;
        let seen = 0;
        while (seen < total) {
          const result = await client.query({
            name: 'bench_keyset',
            text: keysetSql,
            values: [after, batchSize],
            rowMode: 'array',
          });
          const rows = result.rows as unknown[][];
          if (rows.length === 0) break;
          for (const row of rows) {
            if (withHead) decodeRawRow(row, 9, 10, 14);
            seen += 1;
          }
          after = Number(rows[rows.length - 1]![0]);
          onBatch?.(seen);
        }
        return seen;
      } finally {
        client.release();
      }
    },
  };
}
