import type { Logger, LogStatus } from '@pup/core';
import { encodeCheckpoint, LOG_START, type LogPosition } from './checkpoint-token.js';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

/**
 * The oldest transaction still running on the server. Readers only see events of transactions
 * older than it, so while it runs, events committed after it started wait: a long-open writing
 * transaction holds projections back.
 */
export interface RunningTransaction {
  /** Its transaction id (xid8) as decimal text. */
  transactionId: string;
  /** Backend process id; `null` for a prepared (two-phase) transaction. */
  pid: number | null;
  /** `active`, `idle in transaction`, `prepared`, …; `null` when the role may not see it. */
  state: string | null;
  /** `application_name` of its session; `null` when unknown. */
  applicationName: string | null;
  /** When it started; `null` when the role may not see it (grant `pg_read_all_stats`). */
  startedAt: Date | null;
  /** How long it has been running, in milliseconds; `null` when `startedAt` is unknown. */
  ageMs: number | null;
}

/** {@link LogStatus} of the PostgreSQL store, with what holds readers back. */
export interface PostgresLogStatus extends LogStatus {
  /**
   * The oldest running transaction, which every reader waits for; `null` when none runs. Events
   * committed by younger transactions already count in `eventsAfter` and may be the head, but
   * `readEvents` returns them only once it ends: that is how long a projection is held back.
   */
  oldestRunningTransaction: RunningTransaction | null;
}

/** The statements of the status queries. @internal */
export interface StatusStatements {
  logStatus: Statement;
  oldestRunningTransaction: Statement;
}

/** Columns of the oldest running transaction; `horizon` is the snapshot's xmin. */
const OLDEST_RUNNING = `SELECT a.pid, a.state, a.application_name, a.xact_start
  FROM pg_stat_activity a WHERE a.backend_xid = horizon.xmin::xid
  UNION ALL
  SELECT NULL, 'prepared', NULL, p.prepared
  FROM pg_prepared_xacts p WHERE p.transaction = horizon.xmin::xid
  LIMIT 1`;

const RUNNING_COLUMNS = `horizon.xmin::text, running.pid, running.state, running.application_name,
  running.xact_start,
  (extract(epoch FROM clock_timestamp() - running.xact_start) * 1000)::float8`;

/** @internal */
export function statusStatements(t: PostgresTables): StatusStatements {
  return {
    logStatus: statement(`SELECT head.transaction_id::text, head.global_position,
  (SELECT count(*) FROM ${t.events} e
   WHERE (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)),
  ${RUNNING_COLUMNS}
FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) horizon
LEFT JOIN LATERAL (
  SELECT e.transaction_id, e.global_position FROM ${t.events} e
  ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1
) head ON true
LEFT JOIN LATERAL (${OLDEST_RUNNING}) running ON true`),
    oldestRunningTransaction: statement(`SELECT ${RUNNING_COLUMNS}
FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) horizon
JOIN LATERAL (${OLDEST_RUNNING}) running ON true`),
  };
}

/** Decodes the columns of {@link RUNNING_COLUMNS} starting at `offset`. */
function decodeRunning(row: unknown[], offset: number): RunningTransaction | null {
  const [transactionId, pid, state, applicationName, startedAt, ageMs] = row.slice(offset);
  if (state === null && pid === null) return null;
  return {
    transactionId: String(transactionId),
    pid: pid === null ? null : Number(pid),
    state: (state as string | null) ?? null,
    applicationName: (applicationName as string | null) ?? null,
    startedAt:
      startedAt === null
        ? null
        : startedAt instanceof Date
          ? startedAt
          : new Date(String(startedAt)),
    ageMs: ageMs === null ? null : Math.max(0, Math.round(Number(ageMs))),
  };
}

/**
 * Where the committed log ends, how many committed events lie after `after` (`null`: the start),
 * and the running transaction that holds readers back.
 * @internal
 */
export async function getLogStatus<Tx>(
  driver: PostgresDriver<Tx>,
  statements: StatusStatements,
  tx: Tx,
  after: LogPosition | null,
): Promise<PostgresLogStatus> {
  const from = after ?? LOG_START;
  const row = (
    await driver.query(tx, statements.logStatus, [from.transactionId, from.globalPosition])
  )[0]!;
  const hasHead = row[0] !== null;
  return {
    headCheckpoint: hasHead ? encodeCheckpoint(row[0] as string, row[1] as string) : null,
    headPosition: hasHead ? Number(row[1]) : null,
    eventsAfter: Number(row[2]),
    oldestRunningTransaction: decodeRunning(row, 3),
  };
}

/** The oldest running transaction, read on a pool connection. @internal */
export async function getOldestRunningTransaction(
  driver: PostgresDriver<any>,
  statements: StatusStatements,
): Promise<RunningTransaction | null> {
  const rows = await driver.queryPool(statements.oldestRunningTransaction, []);
  return rows.length === 0 ? null : decodeRunning(rows[0]!, 0);
}

/**
 * Warns through the logger when a running transaction has held readers back for longer than the
 * threshold. Checked in the background, at most every half threshold, when a read came back
 * short (the reader is at the end of the readable log); without a logger it does nothing.
 * @internal
 */
export class HoldBackMonitor {
  private nextCheckAt = 0;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly driver: PostgresDriver<any>,
    private readonly statements: StatusStatements,
    private readonly logger: Logger | undefined,
    private readonly thresholdMs: number,
  ) {}

  /** Called after each `readEvents`. */
  afterRead(returned: number, limit: number): void {
    if (this.logger === undefined || returned >= limit || this.pending !== undefined) return;
    const now = Date.now();
    if (now < this.nextCheckAt) return;
    this.nextCheckAt = now + Math.max(1000, this.thresholdMs / 2);
    this.pending = this.check().finally(() => {
      this.pending = undefined;
    });
  }

  private async check(): Promise<void> {
    const logger = this.logger!;
    try {
      const running = await getOldestRunningTransaction(this.driver, this.statements);
      if (running?.ageMs !== null && running !== null && running.ageMs > this.thresholdMs) {
        logger.warn(
          `Readers are held back: transaction ${running.transactionId} has been running for ${running.ageMs} ms; events committed after it started are not readable until it ends`,
          {
            transactionId: running.transactionId,
            pid: running.pid,
            state: running.state,
            applicationName: running.applicationName,
            ageMs: running.ageMs,
            thresholdMs: this.thresholdMs,
          },
        );
      }
    } catch (error) {
      logger.debug('Could not check for long-running transactions', { error });
    }
  }

  /** Waits for a check in flight. */
  async close(): Promise<void> {
    await this.pending;
  }
}
