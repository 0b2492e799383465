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
