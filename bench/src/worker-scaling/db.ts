/**
 * What the processes of the `worker-scaling` workload need of one database: a pup store, the read
 * model the projection writes (one row per aggregate, upserted per event in the batch's
 * transaction), the raw floor (one process reading the log in keyset batches and doing the same
 * upserts by hand) and the exactly-once check of the read model against the log.
 */
import type { EventStore } from '@pup/core';
import type mysqlTypes from 'mysql2/promise';
import type pgTypes from 'pg';
import { mysqlBenchTables, keysetReadSql as mysqlKeysetReadSql } from '../targets/mysql-sql.js';
import { pupPostgresOptions } from '../targets/postgres-shared.js';
import { keysetReadSql as pgKeysetReadSql, postgresTables } from '../targets/postgres-sql.js';
import type { TargetConfig } from '../targets/types.js';

/** `application_name` of the workload's PostgreSQL connections. */
const APPLICATION_NAME = 'pup-bench-worker-scaling';

/** The targets this workload runs on. */
export const SCALING_TARGETS = ['postgres-pg', 'mysql'] as const;
export type ScalingTargetId = (typeof SCALING_TARGETS)[number];

/** The read model against the log, aggregate by aggregate. */
export interface ReadModelCheck {
  /** Aggregates in the log. */
  aggregates: number;
  /** Rows of the read model. */
  rows: number;
  /** Aggregates of the log without a row. */
  missing: number;
  /** Rows that counted fewer events than the aggregate has. */
  short: number;
  /** Rows that counted more events than the aggregate has (an event handled twice). */
  doubled: number;
  /** Rows whose versions did not arrive one by one in order, or end below the last version. */
  outOfOrder: number;
  /** Rows whose sum of the payloads' amounts differs from the log's. */
  wrongBalance: number;
  /** Rows of aggregates that are not in the log. */
  extra: number;
}

/** Whether a check shows every event applied exactly once, in order. */
export function exactlyOnce(check: ReadModelCheck): boolean {
  return (
    check.rows === check.aggregates &&
    check.missing === 0 &&
    check.short === 0 &&
    check.doubled === 0 &&
    check.outOfOrder === 0 &&
    check.wrongBalance === 0 &&
    check.extra === 0
  );
}

/** What the database and core offer for server-side segment filtering. */
export interface FilteringSupport {
  /** Whether core's processor config knows `serverSideFiltering`. */
  option: boolean;
  /** Whether the events table has the `aggregate_hash` column the database filters on. */
  hashColumn: boolean;
  /** Events of the log without a stored hash (the database cannot leave those out). */
  unhashedRows: number;
}

/** One database as the workload's processes use it. */
export interface ScalingDb {
  readonly store: EventStore<any>;
  /** Creates the read model and the raw side's position row if needed, and empties them. */
  resetReadModel(): Promise<void>;
  /** The projection's write for one event, in the batch's transaction `tx`. */
  upsert(tx: unknown, aggregateId: string, amount: number, version: number): Promise<void>;
  /**
   * The raw floor: reads the log in keyset batches of `batchSize` and, per batch in one
   * transaction, decodes each payload, upserts the event's aggregate and saves the position.
   * Stops after `limit` events (a warm-up) or at the end; returns the events read.
   */
  rawCatchUp(batchSize: number, limit: number): Promise<number>;
  /** Compares the read model with the log. */
  verify(): Promise<ReadModelCheck>;
  /** After the preload: fresh statistics and the dirty pages written out (untimed). */
  settle(): Promise<void>;
  /** Whether the events table has the `aggregate_hash` column, and how many rows lack a hash. */
  hashColumn(): Promise<{ exists: boolean; unhashedRows: number }>;
  /** The server's ids of this process's connections (MySQL), to tell them from other clients'. */
  connectionIds(): number[];
  /**
   * The server's processes (PostgreSQL) or threads (MySQL) of other clients' connections: the
   * server's CPU of the workload is that of the rest. `mine`: every agent's `connectionIds`.
   */
  otherClients(mine: readonly number[]): Promise<number[]>;
  close(): Promise<void>;
}

/** Opens the store and a pool of `poolSize` connections on a target's database. */
export async function openScalingDb(
  targetId: ScalingTargetId,
  config: TargetConfig,
  poolSize: number,
): Promise<ScalingDb> {
  return targetId === 'mysql' ? openMysql(config, poolSize) : openPostgres(config, poolSize);
}

async function openPostgres(config: TargetConfig, poolSize: number): Promise<ScalingDb> {
  // Each process loads only its own target's driver and adapter.
  const loaded = await (await import('../targets/postgres-pg.js')).loadPgAdapter();
  if (loaded.module === null) throw new Error(loaded.reason);
  const { default: pg } = await import('pg');
  const schema = config.postgresSchema;
  const tables = postgresTables(schema);
  const readModel = `${schema}.ws_read_model`;
  const position = `${schema}.ws_raw_position`;
  // Idle connections stay open, so the server's processes of a run are those of the next one.
  const pool = new pg.Pool({
    connectionString: config.postgresUrl,
    max: poolSize,
    idleTimeoutMillis: 0,
    application_name: APPLICATION_NAME,
  });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it.
  });
  const store = loaded.module.createPgEventStore(pool, { tables, ...pupPostgresOptions() });
  const upsertSql =
    `INSERT INTO ${readModel} AS r (aggregate_id, events, balance, last_version, gaps) ` +
    'VALUES ($1, 1, $2, $3::bigint, CASE WHEN $3::bigint = 1 THEN 0 ELSE 1 END) ' +
    'ON CONFLICT (aggregate_id) DO UPDATE SET events = r.events + 1, ' +
    'balance = r.balance + EXCLUDED.balance, last_version = EXCLUDED.last_version, ' +
    'gaps = r.gaps + CASE WHEN EXCLUDED.last_version = r.last_version + 1 THEN 0 ELSE 1 END';
  const upsert = (client: pgTypes.PoolClient, values: unknown[]) =>
    client.query({ name: 'ws_upsert', text: upsertSql, values });
  const keysetSql = pgKeysetReadSql(tables);

  return {
    store,
    async resetReadModel() {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${readModel} (aggregate_id text PRIMARY KEY, ` +
          'events bigint NOT NULL, balance bigint NOT NULL, last_version bigint NOT NULL, ' +
          'gaps bigint NOT NULL)',
      );
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${position} (id int PRIMARY KEY, position bigint NOT NULL)`,
      );
      await pool.query(`TRUNCATE ${readModel}, ${position}`);
      await pool.query(`INSERT INTO ${position} (id, position) VALUES (1, 0)`);
    },
    async upsert(tx, aggregateId, amount, version) {
      await upsert(tx as pgTypes.PoolClient, [aggregateId, amount, version]);
    },
    async rawCatchUp(batchSize, limit) {
      const client = await pool.connect();
      try {
        let after = '0';
        let seen = 0;
        while (seen < limit) {
          await client.query('BEGIN');
          const result = await client.query({
            name: 'ws_keyset',
            text: keysetSql,
            values: [after, batchSize],
            rowMode: 'array',
          });
          const rows = result.rows as unknown[][];
          for (const row of rows) {
            const payload = JSON.parse((row[9] as Buffer).toString('utf8')) as { amount: number };
            await upsert(client, [row[4], payload.amount, row[5]]);
          }
          if (rows.length > 0) {
            after = String(rows[rows.length - 1]![0]);
            await client.query({
              name: 'ws_position',
              text: `UPDATE ${position} SET position = $1 WHERE id = 1`,
              values: [after],
            });
          }
          await client.query('COMMIT');
          seen += rows.length;
          if (rows.length < batchSize) break;
        }
        return seen;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async verify() {
      const { rows } = await pool.query<Record<string, string>>(`
WITH expected AS (
  SELECT aggregate_id, count(*) AS n, max(aggregate_version) AS v,
    sum((convert_from(payload, 'UTF8')::jsonb ->> 'amount')::bigint) AS b
  FROM ${tables.events} GROUP BY aggregate_id)
SELECT count(*) AS aggregates,
  (SELECT count(*) FROM ${readModel}) AS rows,
  count(*) FILTER (WHERE r.aggregate_id IS NULL) AS missing,
  count(*) FILTER (WHERE r.events < e.n) AS short,
  count(*) FILTER (WHERE r.events > e.n) AS doubled,
  count(*) FILTER (WHERE r.gaps <> 0 OR r.last_version <> e.v) AS out_of_order,
  count(*) FILTER (WHERE r.balance <> e.b) AS wrong_balance
FROM expected e LEFT JOIN ${readModel} r USING (aggregate_id)`);
      return checkOf(rows[0]!);
    },
    async settle() {
      await pool.query(`VACUUM ANALYZE ${tables.events}`);
      await pool.query(`VACUUM ANALYZE ${tables.aggregateHeads}`);
      await pool.query('CHECKPOINT');
    },
    async hashColumn() {
      const { rows } = await pool.query(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'events' AND column_name = 'aggregate_hash'`,
        [schema],
      );
      if (rows.length === 0) return { exists: false, unhashedRows: 0 };
      const unhashed = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${tables.events} WHERE aggregate_hash IS NULL`,
      );
      return { exists: true, unhashedRows: Number(unhashed.rows[0]!.n) };
    },
    // PostgreSQL tells the workload's backends by their application_name.
    connectionIds: () => [],
    async otherClients() {
      const { rows } = await pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND application_name IS DISTINCT FROM $1`,
        [APPLICATION_NAME],
      );
      return rows.map((row) => Number(row.pid));
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

async function openMysql(config: TargetConfig, poolSize: number): Promise<ScalingDb> {
  const loaded = await (await import('../targets/mysql.js')).loadMysqlAdapter();
  if (loaded.module === null) throw new Error(loaded.reason);
  const { default: mysql } = await import('mysql2/promise');
  const database = config.mysqlDatabase;
  const t = mysqlBenchTables(database);
  const readModel = `${database}.ws_read_model`;
  const position = `${database}.ws_raw_position`;
  const pool = mysql.createPool({ uri: config.mysqlUrl, connectionLimit: poolSize });
  const connections = new Set<number>();
  pool.on('connection', (connection) => {
    connections.add(connection.threadId);
  });
  const store = loaded.module.createMysqlEventStore(pool, { tables: t.pup });
  // Assignments of ON DUPLICATE KEY UPDATE run left to right: gaps reads the old last_version.
  const upsertSql =
    `INSERT INTO ${readModel} (aggregate_id, events, balance, last_version, gaps) ` +
    'VALUES (?, 1, ?, ?, ?) ON DUPLICATE KEY UPDATE ' +
    'gaps = gaps + IF(VALUES(last_version) = last_version + 1, 0, 1), events = events + 1, ' +
    'balance = balance + VALUES(balance), last_version = VALUES(last_version)';
  const upsert = (
    conn: mysqlTypes.PoolConnection,
    aggregateId: string | Buffer,
    amount: number,
    version: number,
  ) => conn.execute(upsertSql, [aggregateId, amount, version, version === 1 ? 0 : 1]);
  const keysetSql = mysqlKeysetReadSql(t.pup.events);

  return {
    store,
    async resetReadModel() {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${readModel} (aggregate_id VARBINARY(1020) NOT NULL PRIMARY KEY, ` +
          'events BIGINT NOT NULL, balance BIGINT NOT NULL, last_version BIGINT NOT NULL, ' +
          'gaps BIGINT NOT NULL) ENGINE=InnoDB',
      );
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${position} (id INT NOT NULL PRIMARY KEY, ` +
          'position BIGINT NOT NULL) ENGINE=InnoDB',
      );
      await pool.query(`TRUNCATE TABLE ${readModel}`);
      await pool.query(`TRUNCATE TABLE ${position}`);
      await pool.query(`INSERT INTO ${position} (id, position) VALUES (1, 0)`);
    },
    async upsert(tx, aggregateId, amount, version) {
      await upsert(tx as mysqlTypes.PoolConnection, aggregateId, amount, version);
    },
    async rawCatchUp(batchSize, limit) {
      const conn = await pool.getConnection();
      try {
        let after = 0;
        let seen = 0;
        while (seen < limit) {
          await conn.query('START TRANSACTION');
          const [rows] = await conn.query<mysqlTypes.RowDataPacket[]>({
            sql: keysetSql,
            values: [after, batchSize],
            rowsAsArray: true,
          });
          for (const row of rows as unknown as unknown[][]) {
            const payload = JSON.parse((row[8] as Buffer).toString('utf8')) as { amount: number };
            await upsert(conn, row[3] as Buffer, payload.amount, Number(row[4]));
          }
          if (rows.length > 0) {
            after = Number((rows[rows.length - 1] as unknown as unknown[])[0]);
            await conn.execute(`UPDATE ${position} SET position = ? WHERE id = 1`, [after]);
          }
          await conn.query('COMMIT');
          seen += rows.length;
          if (rows.length < batchSize) break;
        }
        return seen;
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        conn.release();
      }
    },
    async verify() {
      const [rows] = await pool.query<mysqlTypes.RowDataPacket[]>(`
SELECT COUNT(*) AS aggregates,
  (SELECT COUNT(*) FROM ${readModel}) AS \`rows\`,
  COALESCE(SUM(r.aggregate_id IS NULL), 0) AS missing,
  COALESCE(SUM(r.events < e.n), 0) AS short,
  COALESCE(SUM(r.events > e.n), 0) AS doubled,
  COALESCE(SUM(r.gaps <> 0 OR r.last_version <> e.v), 0) AS out_of_order,
  COALESCE(SUM(r.balance <> e.b), 0) AS wrong_balance
FROM (
  SELECT aggregate_id, COUNT(*) AS n, MAX(aggregate_version) AS v,
    SUM(CAST(JSON_EXTRACT(CONVERT(payload USING utf8mb4), '$.amount') AS SIGNED)) AS b
  FROM ${t.pup.events} GROUP BY aggregate_id) e
LEFT JOIN ${readModel} r ON r.aggregate_id = e.aggregate_id`);
      return checkOf(rows[0] as Record<string, unknown>);
    },
    async settle() {
      await pool.query(`ANALYZE TABLE ${t.pup.events}, ${t.pup.aggregateHeads}`);
      const conn = await pool.getConnection();
      try {
        await conn.query(`FLUSH TABLES ${t.pup.events}, ${t.pup.aggregateHeads} FOR EXPORT`);
        await conn.query('UNLOCK TABLES');
      } finally {
        conn.release();
      }
    },
    async hashColumn() {
      const [rows] = await pool.query<mysqlTypes.RowDataPacket[]>(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = ? AND table_name = 'events' AND column_name = 'aggregate_hash'`,
        [database],
      );
      if (rows.length === 0) return { exists: false, unhashedRows: 0 };
      const [unhashed] = await pool.query<mysqlTypes.RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM ${t.pup.events} WHERE aggregate_hash IS NULL`,
      );
      return { exists: true, unhashedRows: Number(unhashed[0]!.n) };
    },
    connectionIds: () => [...connections],
    async otherClients(mine) {
      // MariaDB's PROCESSLIST has each connection's thread (TID); MySQL's has no such column.
      const [columns] = await pool.query<mysqlTypes.RowDataPacket[]>(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = 'information_schema' AND table_name = 'PROCESSLIST'
           AND column_name = 'TID'`,
      );
      if (columns.length === 0) return [];
      const [rows] = await pool.query<mysqlTypes.RowDataPacket[]>(
        'SELECT ID AS id, TID AS tid FROM information_schema.PROCESSLIST',
      );
      const own = new Set(mine);
      return rows.filter((row) => !own.has(Number(row.id))).map((row) => Number(row.tid));
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

function checkOf(row: Record<string, unknown>): ReadModelCheck {
  const n = (key: string) => Number(row[key] ?? 0);
  const aggregates = n('aggregates');
  const rows = n('rows');
  const missing = n('missing');
  return {
    aggregates,
    rows,
    missing,
    short: n('short'),
    doubled: n('doubled'),
    outOfOrder: n('out_of_order'),
    wrongBalance: n('wrong_balance'),
    // The read model's key is the aggregate: every row not matched by an aggregate of the log.
    extra: rows - (aggregates - missing),
  };
}
