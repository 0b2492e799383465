import {
  type EventStore,
  type EventStoreOptions,
  ExpectedVersion,
  type NewEvent,
  type StreamRef,
  type TableNames,
} from '@pup/core';
import postgres from 'postgres';
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

type Sql = postgres.Sql;
type TransactionSql = postgres.TransactionSql;

interface PupPostgresJsModule {
  createPostgresJsEventStore(
    sql: Sql,
    options?: EventStoreOptions & { notify?: boolean },
  ): EventStore<TransactionSql>;
}

/** Connections shared by pup and raw: the 8 writers plus pup's listener. */
const POOL_SIZE = 10;

/**
 * Imports the adapter once (before any workload runs, so a rebuild of its `dist` by someone else
 * in the middle of a long run cannot break the benchmark).
 */
let adapter: ReturnType<typeof importOptional<PupPostgresJsModule>> | undefined;
export function loadPostgresJsAdapter(): ReturnType<typeof importOptional<PupPostgresJsModule>> {
  adapter ??= importOptional<PupPostgresJsModule>('@pup/postgres');
  return adapter;
}
/**
 * PostgreSQL through postgres.js: pup's `createPostgresJsEventStore` against raw postgres.js
 * queries on the same `sql` instance.
 */
export async function createPostgresJsTarget(config: TargetConfig): Promise<BenchTarget> {
  const loaded = await loadPostgresJsAdapter();
  const tables = postgresTables(config.postgresSchema);
  const sql = postgres(config.postgresUrl, { max: POOL_SIZE, onnotice: () => undefined });
  let store: EventStore<TransactionSql> | null = null;
  let unavailable: string | null = loaded.reason;
  if (loaded.module !== null && typeof loaded.module.createPostgresJsEventStore !== 'function') {
    unavailable = '@pup/postgres does not export createPostgresJsEventStore yet';
  }
  const admin = new PostgresSchemaAdmin(
    async (text, values) => {
      await sql.unsafe(text, (values ?? []) as never[]);
    },
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
      // Outside a transaction, like the raw read: the pool's `sql` has the same query surface.
      return (await store!.readAggregateStream(sql as unknown as TransactionSql, stream)).events
        .length;
    },
    catchUp: (options) => pupCatchUp(store!, options),
  };

  return {
    id: 'postgres-js',
    adapter: 'postgres',
    driver: `postgres ${packageVersion('postgres')}`,
    pupUnavailable: () => unavailable,
    async open() {
      await sql`SELECT 1`;
      if (unavailable === null) {
        store = loaded.module!.createPostgresJsEventStore(sql, { tables, ...pupPostgresOptions() });
      }
    },
    async close() {
      await store?.close();
      await sql.end({ timeout: 5 });
    },
    environment: () =>
      postgresEnvironment(
        async (text) => [...(await sql.unsafe(text))] as Record<string, unknown>[],
      ),
    resetTables: () => admin.reset(),
    emptyTables: () => admin.empty(),
    preload: (count, perStream, onProgress) => admin.preload(count, perStream, onProgress),
    notes: () => undefined,
    pup,
    raw: rawPostgresJsOps(sql, tables, false),
    rawPlus: rawPostgresJsOps(sql, tables, true),
    peer: createEmmettPeer(config),
  };
}

/**
 * The raw baseline: what a careful hand-written postgres.js program does for the same rows.
 * `withHead` (raw+) also creates the stream's head row in the insert statement and decodes the rows
 * it reads.
 */
function rawPostgresJsOps(sql: Sql, tables: TableNames, withHead: boolean): SideOps {
  const build = withHead ? multiRowInsertWithHeadSql : multiRowInsertSql;
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
    async append(events: readonly NewEvent[]) {
      const rows = rawRows(events);
      const text = insertText(rows.length);
      const values = rowValues(rows) as never[];
      await sql.begin(async (tx) => {
        const result = await tx.unsafe(text, values, { prepare: true });
        if (result.count !== rows.length) throw new Error('the stream already exists');
      });
    },
    // Raw only: the same INSERT as one autocommit statement (one round trip, its own commit).
    ...(withHead
      ? {}
      : {
          async appendToStream(events: readonly NewEvent[]) {
            const rows = rawRows(events);
            const result = await sql.unsafe(insertText(rows.length), rowValues(rows) as never[], {
              prepare: true,
            });
            if (result.count !== rows.length) throw new Error('the stream already exists');
          },
        }),
    async readStream(stream: StreamRef) {
      const rows = await sql
        .unsafe(readSql, [stream.boundedContext, stream.aggregateType, stream.aggregateId], {
          prepare: true,
        })
        .values();
      if (withHead) for (const row of rows) decodeRawRow(row, 9, 10, 14);
      return rows.length;
    },
    async catchUp({ total, batchSize, onBatch, signal }: CatchUpOptions) {
      let after = 0;
      let seen = 0;
      while (seen < total && !signal?.aborted) {
        const rows = await sql.unsafe(keysetSql, [after, batchSize], { prepare: true }).values();
        if (rows.length === 0) break;
        for (const row of rows) {
          if (withHead) decodeRawRow(row, 9, 10, 14);
          seen += 1;
        }
        after = Number(rows[rows.length - 1]![0]);
        onBatch?.(seen);
      }
      return seen;
    },
  };
}
