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
import { createEmmettPeer } from './emmett.js';
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

/**
 * pg's own parsers of the types that Emmett's driver layer (dumbo) replaces in pg's process-wide
 * registry when it loads (int8 → BigInt, json and jsonb → its own parser), taken when this module
 * loads, before any peer does. pup's and raw's pool gets them through its `types`, so they read
 * with pg's defaults whatever a peer did to the registry.
 */
const OWN_PARSERS = new Map(
  [20, 114, 3802].map((oid) => [oid, pg.types.getTypeParser(oid, 'text')] as const),
);
const ownTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (format !== 'binary' ? OWN_PARSERS.get(oid) : undefined) ??
    pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** PostgreSQL through `pg` (node-postgres): pup's `createPgEventStore` against raw `pg` queries. */
export async function createPgTarget(config: TargetConfig): Promise<BenchTarget> {
  const loaded = await loadPgAdapter();
  const tables = postgresTables(config.postgresSchema);
  const pool = new pg.Pool({
    connectionString: config.postgresUrl,
    max: POOL_SIZE,
    types: ownTypes,
  });
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
    async appendToStream(events) {
      await store!.appendToStream(ExpectedVersion.noStream(), events);
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
    peer: createEmmettPeer(config),
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
  const insertText = (rows: number): string => {
    let text = insertSql.get(rows);
    if (text === undefined) {
      text = build(tables, rows);
      insertSql.set(rows, text);
    }
    return text;
  };
  const readSql = readStreamSql(tables);
  const keysetSql = keysetReadSql(tables);

  return {
    // Raw only: the same INSERT as one autocommit statement (one round trip, its own commit).
    ...(withHead
      ? {}
      : {
          async appendToStream(events: readonly NewEvent[]) {
            const rows = rawRows(events);
            const result = await pool.query({
              name: `${prefix}_${rows.length}`,
              text: insertText(rows.length),
              values: rowValues(rows),
            });
            if (result.rowCount !== rows.length) throw new Error('the stream already exists');
          },
        }),
    async append(events: readonly NewEvent[]) {
      const rows = rawRows(events);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await client.query({
          name: `${prefix}_${rows.length}`,
          text: insertText(rows.length),
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
    async catchUp({ total, batchSize, onBatch, signal }: CatchUpOptions) {
      const client = await pool.connect();
      try {
        let after = 0;
        let seen = 0;
        while (seen < total && !signal?.aborted) {
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
