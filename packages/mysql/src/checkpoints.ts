import type { Checkpoint } from '@pup/core';
import { positionCheckpoint } from '@pup/core/adapter';
import { type MysqlPoolConnection, run, selectRows, toNumber } from './driver.js';
import { bytes } from './read.js';
import type { MysqlTables } from './schema.js';

function checkpointOf(position: number): Checkpoint | null {
  return position === 0 ? null : positionCheckpoint(position);
}

/**
 * A projection's saved checkpoint. With `lock`, one statement also locks the projection's row
 * until the transaction ends, inserting it (position 0: no checkpoint yet) when it is missing,
 * so that workers of one projection take turns even before its first save. The value comes back
 * through `LAST_INSERT_ID(position)`: the row as committed by the previous holder, whatever the
 * isolation level's snapshot says. @internal
 */
export async function getCheckpoint(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
  lock: boolean,
): Promise<Checkpoint | null> {
  if (lock) {
    const header = await run(
      conn,
      `INSERT INTO ${t.checkpoints} (projection_name, position) VALUES (?, 0)
       ON DUPLICATE KEY UPDATE position = LAST_INSERT_ID(position)`,
      [bytes(projectionName)],
    );
    // A new row reports 0 (no LAST_INSERT_ID call); an existing one its position.
    return checkpointOf(toNumber(header.insertId));
  }
  const rows = await selectRows(
    conn,
    `SELECT position FROM ${t.checkpoints} WHERE projection_name = ?`,
    [bytes(projectionName)],
  );
  return rows[0] === undefined ? null : checkpointOf(toNumber(rows[0][0]));
}

/** Inserts or overwrites a projection's checkpoint. @internal */
export async function saveCheckpoint(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
  position: number,
): Promise<void> {
  await run(
    conn,
    `INSERT INTO ${t.checkpoints} (projection_name, position) VALUES (?, ?)
     ON DUPLICATE KEY UPDATE position = ?`,
    [bytes(projectionName), position, position],
  );
}

/**
 * Deletes a projection's checkpoint; returns whether there was one. The row lock makes it wait
 * for a batch of that projection in flight. A placeholder row (position 0, left by a lock before
 * the first save) means "no checkpoint" and stays. @internal
 */
export async function deleteCheckpoint(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
): Promise<boolean> {
  const header = await run(
    conn,
    `DELETE FROM ${t.checkpoints} WHERE projection_name = ? AND position <> 0`,
    [bytes(projectionName)],
  );
  return header.affectedRows > 0;
}

/** Every saved checkpoint (placeholders excluded). @internal */
export async function listCheckpoints(
  conn: MysqlPoolConnection,
  t: MysqlTables,
): Promise<{ projectionName: string; checkpoint: Checkpoint }[]> {
  const rows = await selectRows(
    conn,
    `SELECT projection_name, position FROM ${t.checkpoints} WHERE position <> 0`,
  );
  return rows.map((row) => ({
    projectionName: Buffer.isBuffer(row[0]) ? row[0].toString('utf8') : String(row[0]),
    checkpoint: positionCheckpoint(toNumber(row[1])),
  }));
}
