import type { Logger } from '@pup/core';
import type { CommitListener, CommitListenerHandlers } from '@pup/core/adapter';
import { BLOCK_SIZE, burnBlocks, horizonSql } from './blocks.js';
import { type MysqlPool, selectRows, toNumber } from './driver.js';
import type { MysqlTables } from './schema.js';

/**
 * MySQL has no LISTEN: this polls the newest readable position every `intervalMs` on a pooled
 * connection (taken for one statement at a time) and reports a change as a commit. It also
 * clears blocks a rolled-back or crashed writer left free below the head, which would otherwise
 * hold readers back until the next append takes them: when the same lowest block has been seen
 * below the head twice in a row, free blocks below the head are deleted (`SKIP LOCKED`: a block a
 * running transaction holds is never touched). @internal
 */
export async function pollCommits(
  pool: MysqlPool,
  t: MysqlTables,
  intervalMs: number,
  handlers: CommitListenerHandlers,
  logger: Logger | undefined,
): Promise<CommitListener> {
  const statement = `SELECT
      (SELECT MAX(global_position) FROM ${t.events} WHERE global_position < h.horizon),
      h.horizon DIV ${BLOCK_SIZE},
      (SELECT MAX(global_position) DIV ${BLOCK_SIZE} FROM ${t.events})
    FROM (SELECT ${horizonSql(t)} AS horizon) h`;
  const poll = async () => {
    const [readable, lowestBlock, headBlock] = (await selectRows(pool, statement))[0]!;
    return {
      readable: readable === null ? 0 : toNumber(readable),
      lowestBlock: toNumber(lowestBlock),
      stuck: headBlock !== null && toNumber(lowestBlock) < toNumber(headBlock),
    };
  };
  let last = await poll();
  let stuckAt: number | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const now = await poll();
      if (closed) return;
      if (now.readable !== last.readable) handlers.onCommit();
      if (now.stuck && stuckAt === now.lowestBlock) {
        const connection = await pool.getConnection();
        try {
          const burned = await burnBlocks(connection, t);
          if (burned > 0) {
            logger?.debug('Deleted free position blocks left behind below the head', { burned });
            handlers.onCommit();
          }
        } finally {
          connection.release();
        }
        stuckAt = undefined;
      } else {
        stuckAt = now.stuck ? now.lowestBlock : undefined;
      }
      last = now;
      if (!closed) timer = setTimeout(tick, intervalMs);
    } catch (error) {
      if (!closed) {
        closed = true;
        handlers.onClosed(error);
      }
    }
  };
  timer = setTimeout(tick, intervalMs);
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
