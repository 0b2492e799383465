import type { Checkpoint, LogStatus } from '@pup/core';
import { positionCheckpoint } from '@pup/core/adapter';
import { horizonSql } from './blocks.js';
import { type MysqlPoolConnection, selectRows, toNumber } from './driver.js';
import type { MysqlTables } from './schema.js';

/** {@link LogStatus} of the MySQL store, with where readers are held back. */
export interface MysqlLogStatus extends LogStatus {
  /**
   * Where `readEvents` stops while committed events lie beyond it: the first position of the
   * lowest position block that a running transaction holds (or that a rolled-back writer left
   * free, until the next append takes it). `null` when every committed event is readable.
   * Events committed beyond it already count in `eventsAfter` and may be the head.
   */
  heldBackAt: Checkpoint | null;
  /** Committed events that readers cannot read yet, because they lie beyond `heldBackAt`. */
  eventsHeldBack: number;
}

/** Head, count after `after` and the horizon, in one statement (one snapshot). @internal */
export async function getLogStatus(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  after: number | null,
): Promise<MysqlLogStatus> {
  const rows = await selectRows(
    conn,
    `SELECT (SELECT MAX(global_position) FROM ${t.events}),
            (SELECT COUNT(*) FROM ${t.events} WHERE global_position > ?),
            h.horizon,
            (SELECT COUNT(*) FROM ${t.events} WHERE global_position >= h.horizon)
     FROM (SELECT ${horizonSql(t)} AS horizon) h`,
    [after ?? 0],
  );
  const [head, eventsAfter, horizon, heldBack] = rows[0]!;
  const headPosition = head === null ? null : toNumber(head);
  const eventsHeldBack = toNumber(heldBack);
  return {
    headCheckpoint: headPosition === null ? null : positionCheckpoint(headPosition),
    headPosition,
    eventsAfter: toNumber(eventsAfter),
    heldBackAt: eventsHeldBack > 0 ? positionCheckpoint(toNumber(horizon)) : null,
    eventsHeldBack,
  };
}
