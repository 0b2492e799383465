import { DatabaseError } from '@pup/core';
import { DATABASE, type MysqlPoolConnection, run, selectRows, toNumber } from './driver.js';
import type { MysqlTables } from './schema.js';

/**
 * Positions per block: an appending transaction writes its events at `block * BLOCK_SIZE + n`.
 * Larger than the most events one append may hold (10,000), so one append always fits one block.
 */
export const BLOCK_SIZE = 16_384;

/** Free blocks the schema creates, and how many a refill adds. */
export const FIRST_BLOCKS = 1_000;
/** A refill starts when fewer free blocks than this are left. */
export const REFILL_BELOW = 250;

/** Largest block whose positions are all safe integers. */
export const MAX_BLOCK = Math.floor(Number.MAX_SAFE_INTEGER / BLOCK_SIZE) - 1;

/** The first global position of `block`. */
export function blockStart(block: number): number {
  return block * BLOCK_SIZE;
}

/**
 * The SQL expression of the read horizon: the first global position readers must not reach,
 * the start of the lowest block still free or held by a running transaction. A block deleted by
 * a running transaction is still there for everyone else, so whatever that transaction writes
 * lies at or above the horizon until it commits. With no block left, nothing holds readers back.
 * @internal
 */
export function horizonSql(t: MysqlTables): string {
  return `(SELECT COALESCE(MIN(b.block) * ${BLOCK_SIZE}, ${Number.MAX_SAFE_INTEGER}) FROM ${t.blocks} b)`;
}

/** A block taken by a transaction, and the next free position in it. @internal */
export interface HeldBlock {
  block: number;
  /** Offset of the next event in the block. */
  next: number;
}

/** The outcome of {@link drawBlock}. @internal */
export interface DrawnBlock {
  block: number;
  /** Free blocks left above it, about (for refills). */
  left: number;
}

/**
 * Locks the lowest free block that no running transaction holds (`SKIP LOCKED`: never waits for
 * another writer), or returns `undefined` when none is free. @internal
 */
export async function drawBlock(
  conn: MysqlPoolConnection,
  t: MysqlTables,
): Promise<DrawnBlock | undefined> {
  const rows = await selectRows(
    conn,
    `SELECT block, (SELECT MAX(top.block) FROM ${t.blocks} top) FROM ${t.blocks}
     ORDER BY block LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const block = toNumber(row[0]);
  return { block, left: toNumber(row[1]) - block };
}

/** Deletes a drawn block: used up for good once the transaction commits. @internal */
export async function consumeBlock(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  block: number,
): Promise<void> {
  await run(conn, `DELETE FROM ${t.blocks} WHERE block = ?`, [block]);
}

/**
 * Adds {@link FIRST_BLOCKS} free blocks above every block ever handed out, in a transaction of
 * its own on `conn` (which must not be inside one). The counter row serializes refills, so their
 * ranges commit in increasing order: a reader never sees a block appear below one it already saw.
 * @internal
 */
export async function refillBlocks(conn: MysqlPoolConnection, t: MysqlTables): Promise<void> {
  await run(conn, 'START TRANSACTION');
  try {
    const header = await run(
      conn,
      `UPDATE ${t.meta} SET value = LAST_INSERT_ID(value + ${FIRST_BLOCKS}) WHERE name = 'next_block'`,
    );
    if (header.affectedRows !== 1) {
      throw new DatabaseError(DATABASE, `${t.meta} has no next_block row: run migrate() first`);
    }
    const end = toNumber(header.insertId);
    const first = end - FIRST_BLOCKS;
    if (end - 1 > MAX_BLOCK) {
      throw new DatabaseError(DATABASE, 'the log has used up every global position');
    }
    const values = Array.from({ length: FIRST_BLOCKS }, (_, i) => `(${first + i})`).join(',');
    await run(conn, `INSERT IGNORE INTO ${t.blocks} (block) VALUES ${values}`);
    await run(conn, 'COMMIT');
  } catch (error) {
    await run(conn, 'ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Deletes free blocks left behind below the log's head (a rolled-back or crashed writer's
 * block): they would hold readers back until the next append takes them. Only blocks no
 * transaction holds are deleted (`SKIP LOCKED`), in a transaction of its own on `conn`. With
 * `blocks`, only those; otherwise every free block below the newest committed event's block.
 * Returns how many it deleted. @internal
 */
export async function burnBlocks(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  blocks?: readonly number[],
): Promise<number> {
  if (blocks !== undefined && blocks.length === 0) return 0;
  await run(conn, 'START TRANSACTION');
  try {
    const rows =
      blocks === undefined
        ? await selectRows(
            conn,
            `SELECT block FROM ${t.blocks}
             WHERE block < (SELECT COALESCE(MAX(e.global_position), 0) DIV ${BLOCK_SIZE} FROM ${t.events} e)
             ORDER BY block LIMIT 1000 FOR UPDATE SKIP LOCKED`,
          )
        : await selectRows(
            conn,
            `SELECT block FROM ${t.blocks} WHERE block IN (${blocks.map(() => '?').join(',')})
             FOR UPDATE SKIP LOCKED`,
            blocks,
          );
    const free = rows.map((row) => toNumber(row[0]));
    if (free.length > 0) {
      await run(
        conn,
        `DELETE FROM ${t.blocks} WHERE block IN (${free.map(() => '?').join(',')})`,
        free,
      );
    }
    await run(conn, 'COMMIT');
    return free.length;
  } catch (error) {
    await run(conn, 'ROLLBACK').catch(() => undefined);
    throw error;
  }
}
