import { createHash } from 'node:crypto';
import {
  type EventStore,
  type EventStoreOptions,
  ExpectedVersion,
  type NewEvent,
  type StreamRef,
} from '@pup/core';
import mysql from 'mysql2/promise';
import { eventsFor, rawRows, runTag, streamOf } from '../fixtures.js';
import { pupCatchUp } from '../pup-catch-up.js';
import { importOptional, packageVersion } from './load.js';
import {
  BLOCK_SIZE,
  blockRows,
  createHeadSql,
  drawBlockSql,
  eventValues,
  FIRST_BLOCKS,
  insertEventsSql,
  keysetReadSql,
  type MysqlBenchTables,
  mysqlBenchTables,
  NUMBERS,
  numbersSql,
  preloadHeadsSql,
  preloadSql,
  preloadValues,
  REFILL_BELOW,
  readStreamSql,
} from './mysql-sql.js';
import type { BenchTarget, CatchUpOptions, SideOps, TargetConfig } from './types.js';

type Pool = mysql.Pool;
type Connection = mysql.PoolConnection;

interface PupMysqlModule {
  BLOCK_SIZE: number;
  createMysqlEventStore(pool: Pool, options?: EventStoreOptions): EventStore<Connection>;
}

/** Connections shared by pup and raw: the 8 writers, a held-open writer and pup's refills. */
const POOL_SIZE = 12;

/** Events per preload statement (progress shows between them). */
const PRELOAD_CHUNK = NUMBERS;

/**
 * Imports the adapter once (before any workload runs, so a rebuild of its `dist` by someone else
 * in the middle of a long run cannot break the benchmark).
 */
let adapter: ReturnType<typeof importOptional<PupMysqlModule>> | undefined;
export function loadMysqlAdapter(): ReturnType<typeof importOptional<PupMysqlModule>> {
  adapter ??= importOptional<PupMysqlModule>('@pup/mysql');
  return adapter;
}

/**
 * MySQL / MariaDB through mysql2: pup's `createMysqlEventStore` against raw mysql2 queries on the
 * same pool, in a database of the run's own. Two raw append shapes: `raw` is baseline A of issue
 * 10 (AUTO_INCREMENT positions: the speed floor, not gap-free) into a copy of pup's events table;
 * `rawPlus` is pup's design written by hand (head row under a named lock, a position block drawn
 * with SKIP LOCKED, the events in it) into pup's own tables.
 */
export async function createMysqlTarget(config: TargetConfig): Promise<BenchTarget> {
  const loaded = await loadMysqlAdapter();
  let unavailable: string | null = loaded.reason;
  if (loaded.module !== null && typeof loaded.module.createMysqlEventStore !== 'function') {
    unavailable = '@pup/mysql does not export createMysqlEventStore';
  } else if (loaded.module !== null && loaded.module.BLOCK_SIZE !== BLOCK_SIZE) {
    unavailable = `@pup/mysql's BLOCK_SIZE is ${loaded.module.BLOCK_SIZE}, the raw side assumes ${BLOCK_SIZE}`;
  }
  const t = mysqlBenchTables(config.mysqlDatabase);
  const pool = mysql.createPool({ uri: config.mysqlUrl, connectionLimit: POOL_SIZE });
  let store: EventStore<Connection> | null = null;

  const withConnection = async <T>(fn: (conn: Connection) => Promise<T>): Promise<T> => {
    const conn = await pool.getConnection();
    try {
      return await fn(conn);
    } finally {
      conn.release();
    }
  };

  const pup: SideOps = {
    async append(events) {
      const s = store!;
      await s.transaction((tx) => s.append(tx, ExpectedVersion.noStream(), events));
    },
    async appendToStream(events) {
      await store!.appendToStream(ExpectedVersion.noStream(), events);
    },
    readStream: (stream) =>
      withConnection(
        async (conn) => (await store!.readAggregateStream(conn, stream)).events.length,
      ),
    catchUp: (options) => pupCatchUp(store!, options),
  };

  /** Empties every table and gives the blocks table its fresh state (blocks 1 … 1000). */
  const empty = async () => {
    for (const table of [t.pup.events, t.pup.aggregateHeads, t.pup.checkpoints, t.autoIncrement]) {
      await pool.query(`TRUNCATE TABLE ${table}`);
    }
    await resetBlocks(pool, t, 0);
  };

  return {
    id: 'mysql',
    adapter: 'mysql',
    driver: `mysql2 ${packageVersion('mysql2')}`,
    pupUnavailable: () => unavailable,
    async open() {
      await pool.query(`CREATE DATABASE IF NOT EXISTS ${config.mysqlDatabase}`);
      if (unavailable === null)
        store = loaded.module!.createMysqlEventStore(pool, { tables: t.pup });
    },
    async close() {
      await store?.close();
      await pool.end();
    },
    environment: () => mysqlEnvironment(pool),
    async resetTables() {
      if (store === null) throw new Error(`@pup/mysql is unavailable: ${unavailable}`);
      await pool.query(`DROP DATABASE IF EXISTS ${config.mysqlDatabase}`);
      await pool.query(`CREATE DATABASE ${config.mysqlDatabase}`);
      // Both sides write into the tables of pup's own migrate(): one schema, no copy to drift.
      await store.migrate();
      await pool.query(`CREATE TABLE ${t.autoIncrement} LIKE ${t.pup.events}`);
      await pool.query(
        `ALTER TABLE ${t.autoIncrement} MODIFY global_position BIGINT NOT NULL AUTO_INCREMENT`,
      );
    },
    emptyTables: empty,
    async preload(count, perStream, onProgress) {
      for (const statement of numbersSql(t)) await pool.query(statement);
      for (let from = 0; from < count; from += PRELOAD_CHUNK) {
        const rows = Math.min(PRELOAD_CHUNK, count - from);
        await pool.query(preloadSql(t), preloadValues(from, rows, perStream));
        onProgress?.(from + rows);
      }
      await pool.query(preloadHeadsSql(t));
      // Readers stop below the lowest free block: the free ones must all lie above the log.
      await resetBlocks(pool, t, Math.floor((BLOCK_SIZE + count - 1) / BLOCK_SIZE));
      await pool.query(`ANALYZE TABLE ${t.pup.events}, ${t.pup.aggregateHeads}`);
      // Writes the preload's dirty pages out now, so that no timed side shares the disk with
      // InnoDB's background flushing of them.
      await withConnection(async (conn) => {
        await conn.query(`FLUSH TABLES ${t.pup.events}, ${t.pup.aggregateHeads} FOR EXPORT`);
        await conn.query('UNLOCK TABLES');
      });
    },
    notes(workload) {
      if (workload === 'append-1-stream') {
        return "@pup/mysql has no one-statement appendToStream: core runs it in a store transaction; raw and raw+ write A's table";
      }
      if (workload.startsWith('append-') && workload !== 'append-held-open') {
        return (
          'raw = A (START TRANSACTION; INSERT with AUTO_INCREMENT positions; COMMIT), ' +
          "raw+ = pup's SQL by hand (SET TRANSACTION; START TRANSACTION; head INSERT under GET_LOCK; " +
          'RELEASE_LOCK; draw a block FOR UPDATE SKIP LOCKED; DELETE it; INSERT; COMMIT)'
        );
      }
      if (workload.startsWith('catch-up')) {
        return "raw reads pup's events table without the read horizon (position blocks)";
      }
      return undefined;
    },
    async holdOpenTransaction() {
      const s = store!;
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let opened!: () => void;
      const isOpen = new Promise<void>((resolve) => {
        opened = resolve;
      });
      const held = s.transaction(async (tx) => {
        await s.append(tx, ExpectedVersion.noStream(), eventsFor(streamOf(runTag(), 0), 1));
        opened();
        await released;
      });
      await Promise.race([isOpen, held]);
      return async () => {
        release();
        await held;
      };
    },
    pup,
    raw: rawSide(pool, t, false),
    rawPlus: rawSide(pool, t, true),
  };
}

/**
 * Deletes every free block and makes blocks `above + 1 … above + 1000` the free ones, with the
 * next refill after them: the state of a fresh schema (`above` 0) or of a preloaded log.
 */
async function resetBlocks(pool: Pool, t: MysqlBenchTables, above: number): Promise<void> {
  await pool.query(`TRUNCATE TABLE ${t.blocks}`);
  await pool.query(`INSERT INTO ${t.blocks} (block) VALUES ${blockRows(above + 1, FIRST_BLOCKS)}`);
  await pool.query(`UPDATE ${t.meta} SET value = ? WHERE name = 'next_block'`, [
    above + FIRST_BLOCKS + 1,
  ]);
}

/** Server version and the settings that decide durability and caching. */
async function mysqlEnvironment(pool: Pool): Promise<Record<string, string>> {
  const environment: Record<string, string> = {};
  const [version] = await pool.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  environment.version = String(version[0]?.v ?? '?');
  const [rows] = await pool.query<mysql.RowDataPacket[]>(
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_flush_log_at_trx_commit', 'sync_binlog',
     'log_bin', 'innodb_buffer_pool_size', 'innodb_flush_method', 'innodb_doublewrite',
     'innodb_io_capacity', 'tx_isolation', 'transaction_isolation')`,
  );
  for (const row of rows) environment[String(row.Variable_name)] = String(row.Value);
  return environment;
}

/** A lock name per stream, as pup derives one (a hash of the table and the stream). */
function streamLockName(t: MysqlBenchTables, stream: StreamRef): string {
  const hash = createHash('sha1')
    .update(t.pup.events)
    .update('\0')
    .update(`${stream.boundedContext}\0${stream.aggregateType}\0${stream.aggregateId}\0`)
    .digest('hex');
  return `bench_s_${hash}`;
}

/**
 * The raw sides. `blocks` false (raw, baseline A): AUTO_INCREMENT positions in a copy of the
 * events table, as a plain hand-written store would do it; reads return the driver's rows.
 * `blocks` true (raw+): the statements of pup's position-block design by hand, into pup's
 * tables; reads also decode each row.
 */
function rawSide(pool: Pool, t: MysqlBenchTables, blocks: boolean): SideOps {
  const insertSql = new Map<string, string>();
  const insertText = (table: string, rows: number, positioned: boolean): string => {
    const key = `${table}/${rows}`;
    let text = insertSql.get(key);
    if (text === undefined) {
      text = insertEventsSql(table, rows, positioned);
      insertSql.set(key, text);
    }
    return text;
  };
  const readSql = readStreamSql(t.pup.events);
  const keysetSql = keysetReadSql(t.pup.events);

  /** Baseline A: START TRANSACTION; INSERT; COMMIT (three round trips). */
  const appendAutoIncrement = async (events: readonly NewEvent[]) => {
    const rows = rawRows(events);
    const conn = await pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      await conn.query(insertText(t.autoIncrement, rows.length, false), eventValues(rows));
      await conn.query('COMMIT');
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };

  /** pup's statements by hand: the head under a named lock, a block, the events in it. */
  const appendInBlock = async (events: readonly NewEvent[]) => {
    const rows = rawRows(events);
    const first = rows[0]!;
    const lock = streamLockName(t, first);
    const conn = await pool.getConnection();
    try {
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.query('START TRANSACTION');
      const [head] = await conn.query<mysql.ResultSetHeader>(createHeadSql(t), [
        first.boundedContext,
        first.aggregateType,
        first.aggregateId,
        rows.length,
        lock,
      ]);
      await conn.query('DO RELEASE_LOCK(?)', [lock]);
      if (head.affectedRows !== 1) throw new Error('the stream lock was not granted');
      const [drawn] = await conn.query<mysql.RowDataPacket[]>({
        sql: drawBlockSql(t),
        rowsAsArray: true,
      });
      const row = drawn[0];
      if (row === undefined) throw new Error('no free position block');
      const block = Number(row[0]);
      const left = Number(row[1]) - block;
      await conn.query(`DELETE FROM ${t.blocks} WHERE block = ?`, [block]);
      await conn.query(
        insertText(t.pup.events, rows.length, true),
        eventValues(rows, block * BLOCK_SIZE),
      );
      await conn.query('COMMIT');
      if (left < REFILL_BELOW) await refillBlocks(conn, t);
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  };

  return {
    append: blocks ? appendInBlock : appendAutoIncrement,
    // Raw only: A's INSERT as one autocommit statement (one round trip, its own commit).
    ...(blocks
      ? {}
      : {
          async appendToStream(events: readonly NewEvent[]) {
            const rows = rawRows(events);
            await pool.query(insertText(t.autoIncrement, rows.length, false), eventValues(rows));
          },
        }),
    async readStream(stream: StreamRef) {
      const conn = await pool.getConnection();
      try {
        const [rows] = await conn.query<mysql.RowDataPacket[]>({
          sql: readSql,
          values: [stream.boundedContext, stream.aggregateType, stream.aggregateId],
          rowsAsArray: true,
        });
        if (blocks) for (const row of rows) decodeMysqlRow(row as unknown[]);
        return rows.length;
      } finally {
        conn.release();
      }
    },
    async catchUp({ total, batchSize, onBatch, signal }: CatchUpOptions) {
      const conn = await pool.getConnection();
      try {
        let after = 0;
        let seen = 0;
        while (seen < total && !signal?.aborted) {
          const [rows] = await conn.query<mysql.RowDataPacket[]>({
            sql: keysetSql,
            values: [after, batchSize],
            rowsAsArray: true,
          });
          if (rows.length === 0) break;
          for (const row of rows) {
            if (blocks) decodeMysqlRow(row as unknown[]);
            seen += 1;
          }
          after = Number((rows[rows.length - 1] as unknown[])[0]);
          onBatch?.(seen);
        }
        return seen;
      } finally {
        conn.release();
      }
    },
  };
}

/** pup's refill: 1000 more free blocks above every block handed out, in a transaction. */
async function refillBlocks(conn: Connection, t: MysqlBenchTables): Promise<void> {
  await conn.query('START TRANSACTION');
  try {
    const [header] = await conn.query<mysql.ResultSetHeader>(
      `UPDATE ${t.meta} SET value = LAST_INSERT_ID(value + ${FIRST_BLOCKS}) WHERE name = 'next_block'`,
    );
    const end = Number(header.insertId);
    await conn.query(
      `INSERT IGNORE INTO ${t.blocks} (block) VALUES ${blockRows(end - FIRST_BLOCKS, FIRST_BLOCKS)}`,
    );
    await conn.query('COMMIT');
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * What raw+ does with each row read on MySQL besides reading it: the VARBINARY names as
 * strings, the payload bytes and the metadata text as objects, `created_at` (text, UTC) as a
 * Date — the least a program needs before it can use an event.
 */
function decodeMysqlRow(row: unknown[]): unknown {
  const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString('utf8') : value);
  const metadata = row[12];
  const created = String(row[13]);
  return [
    text(row[1]),
    text(row[2]),
    text(row[3]),
    text(row[6]),
    JSON.parse((row[8] as Buffer).toString('utf8')),
    typeof metadata === 'string'
      ? JSON.parse(metadata)
      : Buffer.isBuffer(metadata)
        ? JSON.parse(metadata.toString('utf8'))
        : metadata,
    new Date(`${created.replace(' ', 'T')}Z`),
  ];
}
