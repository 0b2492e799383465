import type { EventStore, TableNames } from '@pup/core';
import type { RawEventRow } from '../fixtures.js';
import { preloadHeadsSql, preloadSql } from './postgres-sql.js';

/** Runs one statement with bound values; both drivers provide one. */
export type Execute = (text: string, values?: readonly unknown[]) => Promise<void>;

/** Rows of the bulk load per statement, so progress shows during a long preload. */
const PRELOAD_CHUNK = 100_000;

/**
 * Creates, empties and fills the benchmark's schema. The tables come from pup's `migrate()` when
 * the adapter is available, so pup and raw always write into identical tables.
 */
export class PostgresSchemaAdmin {
  constructor(
    private readonly execute: Execute,
    private readonly schema: string,
    private readonly tables: TableNames,
    private readonly store: () => EventStore<any> | null,
  ) {}

  async reset(): Promise<void> {
    await this.execute(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
    await this.execute(`CREATE SCHEMA ${this.schema}`);
    // Both sides write into the tables of pup's own migrate(): one schema, no copy to drift.
    const store = this.store();
    if (store === null) throw new Error('@pup/postgres is unavailable: no store to migrate');
    await store.migrate();
  }

  async empty(): Promise<void> {
    const { events, aggregateHeads, checkpoints } = this.tables;
    await this.execute(`TRUNCATE ${events}, ${aggregateHeads}, ${checkpoints} RESTART IDENTITY`);
  }

  async preload(
    count: number,
    perStream: number,
    onProgress?: (done: number) => void,
  ): Promise<void> {
    const insert = preloadSql(this.tables);
    for (let from = 0; from < count; from += PRELOAD_CHUNK) {
      const to = Math.min(count, from + PRELOAD_CHUNK);
      await this.execute(insert, [from, to, perStream]);
      onProgress?.(to);
    }
    await this.execute(preloadHeadsSql(this.tables));
    await this.execute(`VACUUM ANALYZE ${this.tables.events}`);
    await this.execute(`VACUUM ANALYZE ${this.tables.aggregateHeads}`);
    // Writes the preload's dirty pages out now: otherwise the checkpointer writes them while the
    // first timed side runs, and only a side that commits (pup's projection batches flush the
    // WAL) waits for the disk they compete for.
    await this.execute('CHECKPOINT');
  }
}

/** Parameters of a multi-row insert, row after row in `INSERT_COLUMNS` order. */
export function rowValues(rows: readonly RawEventRow[]): unknown[] {
  const values: unknown[] = new Array(rows.length * 13);
  let i = 0;
  for (const row of rows) {
    values[i++] = row.boundedContext;
    values[i++] = row.aggregateType;
    values[i++] = row.aggregateId;
    values[i++] = row.aggregateVersion;
    values[i++] = row.eventId;
    values[i++] = row.eventType;
    values[i++] = row.eventVersion;
    values[i++] = row.payload;
    values[i++] = row.metadata;
    values[i++] = row.traceId;
    values[i++] = row.correlationId;
    values[i++] = row.causationId;
    values[i++] = row.createdAt;
  }
  return values;
}

/** Server version and the settings that decide durability and caching. */
export async function postgresEnvironment(
  query: (text: string) => Promise<Record<string, unknown>[]>,
): Promise<Record<string, string>> {
  const environment: Record<string, string> = {
    pup_notify:
      pupPostgresOptions().notify === false ? 'off (PUP_BENCH_PG_NOTIFY=0)' : 'on (default)',
    pup_async_projection_commit: pupPostgresOptions().asyncProjectionCommit
      ? 'on (PUP_BENCH_PG_ASYNC_PROJECTION_COMMIT=1)'
      : 'off (default)',
  };
  for (const setting of [
    'server_version',
    'synchronous_commit',
    'fsync',
    'wal_sync_method',
    'full_page_writes',
    'shared_buffers',
  ]) {
    const rows = await query(`SHOW ${setting}`);
    environment[setting] = String(Object.values(rows[0] ?? {})[0] ?? '?');
  }
  return environment;
}

/**
 * Options the benchmark passes to pup's PostgreSQL stores: the defaults, except that
 * `PUP_BENCH_PG_NOTIFY=0` turns the LISTEN/NOTIFY wake-up off (`notify: false`) to measure what
 * the per-append `pg_notify` costs, and `PUP_BENCH_PG_ASYNC_PROJECTION_COMMIT=1` turns on
 * `asyncProjectionCommit` to measure catch-up without the per-batch WAL flush wait.
 */
export function pupPostgresOptions(): { notify?: boolean; asyncProjectionCommit?: boolean } {
  return {
    ...(process.env.PUP_BENCH_PG_NOTIFY === '0' ? { notify: false } : {}),
    ...(process.env.PUP_BENCH_PG_ASYNC_PROJECTION_COMMIT === '1'
      ? { asyncProjectionCommit: true }
      : {}),
  };
}
