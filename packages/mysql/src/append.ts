import { createHash } from 'node:crypto';
import { DatabaseError } from '@pup/core';
import {
  type AppendOutcome,
  type PreparedAppend,
  type PreparedEvent,
  positionCheckpoint,
} from '@pup/core/adapter';
import {
  BLOCK_SIZE,
  blockStart,
  consumeBlock,
  type DrawnBlock,
  drawBlock,
  type HeldBlock,
} from './blocks.js';
import {
  DATABASE,
  inTransaction,
  type MysqlPoolConnection,
  run,
  selectRows,
  toNumber,
} from './driver.js';
import {
  duplicateKeyOf,
  ER_DUP_ENTRY,
  ER_LOCK_DEADLOCK,
  errnoOf,
  isConnectionLoss,
} from './errors.js';
import { bytes, datetime, uuidBytes, uuidText } from './read.js';
import type { MysqlTables } from './schema.js';

/** Parameters of one INSERT statement at most (bytes of payload and metadata, about). */
const MAX_STATEMENT_BYTES = 8 * 1024 * 1024;
const COLUMNS_PER_EVENT = 15;
const EVENT_ROW = `(?,?,?,?,?,?,?,?,?,?,?,?,CONVERT(? USING utf8mb4),?,?)`;

/** Where an append writes its events and what it must tell the transaction afterwards. @internal */
export interface BlockSource {
  /** The block the transaction already holds, if any. */
  held: HeldBlock | undefined;
  /** Called with a block drawn for this append (before it is written). */
  drew(block: HeldBlock): void;
  /** Waits for free blocks when none is left; throws when none comes. */
  whenEmpty(): Promise<void>;
  /** Called with the number of free blocks left after a draw (to refill in time). */
  left(count: number): void;
}

/** How the heads row was changed, to undo it when the events cannot be written. */
type HeadsChange = 'inserted' | 'updated';

function streamKey(append: PreparedAppend): Buffer[] {
  const { boundedContext, aggregateType, aggregateId } = append.stream;
  return [bytes(boundedContext), bytes(aggregateType), bytes(aggregateId)];
}

/** The stream's committed version, read with a shared lock (the newest, in any isolation). */
async function currentVersion(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  key: Buffer[],
): Promise<number> {
  const rows = await selectRows(
    conn,
    `SELECT aggregate_version FROM ${t.aggregateHeads}
     WHERE bounded_context = ? AND aggregate_type = ? AND aggregate_id = ? LOCK IN SHARE MODE`,
    key,
  );
  return rows[0] === undefined ? 0 : toNumber(rows[0][0]);
}

/** The stream's version as last committed (a plain read: never waits), `undefined` if none. */
async function committedVersion(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  key: Buffer[],
): Promise<number | undefined> {
  const rows = await selectRows(
    conn,
    `SELECT aggregate_version FROM ${t.aggregateHeads}
     WHERE bounded_context = ? AND aggregate_type = ? AND aggregate_id = ?`,
    key,
  );
  return rows[0] === undefined ? undefined : toNumber(rows[0][0]);
}

/** Longest time an append waits to create a stream that another transaction is creating. */
const CREATE_LOCK_TIMEOUT_S = 50;

/**
 * Creates the stream's head row. Concurrent creators of one stream take turns on a named lock
 * (GET_LOCK, taken by the INSERT itself and released right after it, not held to the commit):
 * so at most one transaction ever waits on another's uncommitted new row. When a creator rolls
 * back, InnoDB makes several waiters on its insert deadlock each other. With `orAdd`
 * (`any()`), a head committed meanwhile is moved instead.
 */
async function createHead(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  key: Buffer[],
  n: number,
  orAdd: boolean,
): Promise<{ fromVersion: number; change: HeadsChange } | { conflict: number; cause?: unknown }> {
  const lockName = `pup_s_${createHash('sha1')
    .update(t.plainEvents)
    .update('\0')
    .update(Buffer.concat(key.flatMap((part) => [part, Buffer.from([0])])))
    .digest('hex')}`;
  const insert = `INSERT INTO ${t.aggregateHeads}
      (bounded_context, aggregate_type, aggregate_id, aggregate_version)
    SELECT ?, ?, ?, ? FROM DUAL WHERE GET_LOCK(?, ${CREATE_LOCK_TIMEOUT_S}) = 1`;
  try {
    if (orAdd) {
      const header = await run(
        conn,
        `${insert} ON DUPLICATE KEY UPDATE aggregate_version = LAST_INSERT_ID(aggregate_version + ?)`,
        [...key, n, lockName, n],
      );
      if (header.affectedRows === 0) throw createLockTimeout();
      if (header.affectedRows === 1) return { fromVersion: 0, change: 'inserted' };
      return { fromVersion: toNumber(header.insertId) - n, change: 'updated' };
    }
    try {
      const header = await run(conn, insert, [...key, n, lockName]);
      if (header.affectedRows === 0) throw createLockTimeout();
    } catch (error) {
      if (errnoOf(error) !== ER_DUP_ENTRY) throw error;
      return { conflict: await currentVersion(conn, t, key), cause: error };
    }
    return { fromVersion: 0, change: 'inserted' };
  } finally {
    await run(conn, 'DO RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
  }
}

function createLockTimeout(): DatabaseError {
  return new DatabaseError(
    DATABASE,
    `another transaction kept creating the same stream for ${CREATE_LOCK_TIMEOUT_S} s`,
    { transient: true },
  );
}

/**
 * Checks the expectation and moves the stream's head in one statement, which also locks the
 * head row until the transaction ends: appends to one stream take turns there, and only there.
 */
async function moveHead(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  append: PreparedAppend,
  key: Buffer[],
): Promise<{ fromVersion: number; change: HeadsChange } | { conflict: number; cause?: unknown }> {
  const n = append.events.length;
  const where = 'bounded_context = ? AND aggregate_type = ? AND aggregate_id = ?';
  const expected = append.expected;
  if (expected.kind === 'any') {
    // Only ever wait on a committed heads row: a stream that is not there yet is created by
    // createHead, which never lets two transactions wait on one uncommitted insert.
    if ((await committedVersion(conn, t, key)) === undefined) {
      return createHead(conn, t, key, n, true);
    }
    const header = await run(
      conn,
      `UPDATE ${t.aggregateHeads} SET aggregate_version = LAST_INSERT_ID(aggregate_version + ?)
       WHERE ${where}`,
      [n, ...key],
    );
    if (header.affectedRows === 1) {
      return { fromVersion: toNumber(header.insertId) - n, change: 'updated' };
    }
    return createHead(conn, t, key, n, true);
  }
  if (expected.kind === 'noStream' || (expected.kind === 'exact' && expected.version === 0)) {
    return createHead(conn, t, key, n, false);
  }
  if (expected.kind === 'streamExists') {
    const header = await run(
      conn,
      `UPDATE ${t.aggregateHeads} SET aggregate_version = LAST_INSERT_ID(aggregate_version + ?)
       WHERE ${where}`,
      [n, ...key],
    );
    if (header.affectedRows !== 1) return { conflict: 0 };
    return { fromVersion: toNumber(header.insertId) - n, change: 'updated' };
  }
  const version = expected.version!;
  const header = await run(
    conn,
    `UPDATE ${t.aggregateHeads} SET aggregate_version = aggregate_version + ?
     WHERE ${where} AND aggregate_version = ?`,
    [n, ...key, version],
  );
  if (header.affectedRows !== 1) return { conflict: await currentVersion(conn, t, key) };
  return { fromVersion: version, change: 'updated' };
}

/** Undoes {@link moveHead} after the events could not be written (the row is still locked). */
async function restoreHead(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  key: Buffer[],
  change: HeadsChange,
  n: number,
): Promise<void> {
  const where = 'bounded_context = ? AND aggregate_type = ? AND aggregate_id = ?';
  if (change === 'inserted') {
    await run(conn, `DELETE FROM ${t.aggregateHeads} WHERE ${where}`, key);
  } else {
    await run(
      conn,
      `UPDATE ${t.aggregateHeads} SET aggregate_version = aggregate_version - ? WHERE ${where}`,
      [n, ...key],
    );
  }
}

function eventParams(
  event: PreparedEvent,
  key: Buffer[],
  position: number,
  version: number,
  aggregateHash: number,
): unknown[] {
  return [
    position,
    key[0],
    key[1],
    key[2],
    version,
    uuidBytes(event.eventId),
    bytes(event.eventType),
    event.eventVersion,
    event.payloadBytes,
    event.traceId === null ? null : bytes(event.traceId),
    event.correlationId === null ? null : bytes(event.correlationId),
    event.causationId === null ? null : bytes(event.causationId),
    event.metadataJson === null ? null : bytes(event.metadataJson),
    datetime(event.createdAt),
    aggregateHash,
  ];
}

/**
 * Inserts the events at `firstPosition`, … in as few statements as the server's packet size
 * allows (usually one). On failure, removes what earlier statements of this call inserted.
 */
async function insertEvents(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  append: PreparedAppend,
  key: Buffer[],
  firstPosition: number,
  fromVersion: number,
): Promise<void> {
  const events = append.events;
  let start = 0;
  while (start < events.length) {
    let end = start;
    let size = 0;
    const params: unknown[] = [];
    while (end < events.length) {
      const event = events[end]!;
      const eventSize = event.payloadBytes.byteLength + (event.metadataJson?.length ?? 0) * 3 + 512;
      if (end > start && size + eventSize > MAX_STATEMENT_BYTES) break;
      size += eventSize;
      params.push(
        ...eventParams(
          event,
          key,
          firstPosition + end,
          fromVersion + end + 1,
          append.aggregateHash,
        ),
      );
      end++;
    }
    try {
      await run(
        conn,
        `INSERT INTO ${t.events} (global_position, bounded_context, aggregate_type, aggregate_id,
           aggregate_version, event_id, event_type, event_version, payload, trace_id,
           correlation_id, causation_id, metadata, created_at, aggregate_hash)
         VALUES ${Array.from({ length: params.length / COLUMNS_PER_EVENT }, () => EVENT_ROW).join(',')}`,
        params,
      );
    } catch (error) {
      if (start > 0) {
        await run(conn, `DELETE FROM ${t.events} WHERE global_position BETWEEN ? AND ?`, [
          firstPosition,
          firstPosition + start - 1,
        ]);
      }
      throw error;
    }
    start = end;
  }
}

/** Whether the transaction survived `error` (only the failed statement was rolled back). */
async function stillInTransaction(conn: MysqlPoolConnection, error: unknown): Promise<boolean> {
  if (isConnectionLoss(error) || errnoOf(error) === ER_LOCK_DEADLOCK) return false;
  return inTransaction(await run(conn, 'DO 0'));
}

/** The first event id of `append` that the events table already holds. */
async function existingEventId(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  append: PreparedAppend,
): Promise<string | undefined> {
  const ids = append.events.map((e) => uuidBytes(e.eventId));
  const rows = await selectRows(
    conn,
    `SELECT event_id FROM ${t.events} WHERE event_id IN (${ids.map(() => '?').join(',')}) LIMIT 1`,
    ids,
  );
  return rows[0] === undefined ? undefined : uuidText(rows[0][0]);
}

async function takeBlock(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  source: BlockSource,
  count: number,
): Promise<HeldBlock> {
  const held = source.held;
  if (held !== undefined && held.next + count <= BLOCK_SIZE) return held;
  let drawn: DrawnBlock | undefined = await drawBlock(conn, t);
  for (let attempt = 0; drawn === undefined && attempt < 2; attempt++) {
    await source.whenEmpty();
    drawn = await drawBlock(conn, t);
  }
  if (drawn === undefined) {
    throw new DatabaseError(
      DATABASE,
      `no free position block in ${t.blocks}: the refill did not come in time`,
      { transient: true },
    );
  }
  source.left(drawn.left);
  // Deleted at once: the block is this transaction's until it ends, and used up if it commits
  // (even when this append fails below; a block never carries two transactions' events).
  await consumeBlock(conn, t, drawn.block);
  const block: HeldBlock = { block: drawn.block, next: 0 };
  source.drew(block);
  return block;
}

/**
 * Appends inside the open transaction of `conn`: moves the stream's head (the concurrency
 * check), takes a position block (the transaction's own, or the lowest free one), inserts the
 * events there. Nothing of the append remains when it fails: a failed head check writes nothing,
 * and a failed insert restores the head. @internal
 */
export async function appendEvents(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  append: PreparedAppend,
  source: BlockSource,
): Promise<AppendOutcome> {
  const key = streamKey(append);
  const n = append.events.length;
  const head = await moveHead(conn, t, append, key);
  if ('conflict' in head) {
    return { status: 'versionConflict', actualVersion: head.conflict, cause: head.cause };
  }
  let block: HeldBlock;
  let firstPosition: number;
  try {
    block = await takeBlock(conn, t, source, n);
    firstPosition = blockStart(block.block) + block.next;
    await insertEvents(conn, t, append, key, firstPosition, head.fromVersion);
  } catch (error) {
    // A deadlock or a lost connection took the whole transaction with it; anything else failed
    // one statement only, and the head must go back to where it was.
    if (!(await stillInTransaction(conn, error))) throw error;
    const duplicate = duplicateKeyOf(error);
    await restoreHead(conn, t, key, head.change, n);
    if (duplicate === t.eventIdKey) {
      return {
        status: 'duplicateEventId',
        eventId: await existingEventId(conn, t, append),
        cause: error,
      };
    }
    if (duplicate === t.streamVersionKey) {
      // Only reachable when the heads table disagrees with the log (rows edited by hand).
      return { status: 'versionConflict', actualVersion: head.fromVersion, cause: error };
    }
    throw error;
  }
  block.next += n;
  const globalPositions = Array.from({ length: n }, (_, i) => firstPosition + i);
  return {
    status: 'appended',
    fromVersion: head.fromVersion,
    globalPositions,
    checkpoints: globalPositions.map(positionCheckpoint),
  };
}
