import type {
  Checkpoint,
  DeadLetter,
  Logger,
  ProjectionLease,
  ProjectionLeases,
  PupError,
  StreamRef,
} from '@pup/core';
import {
  type AppendOutcome,
  type CommitListener,
  type CommitListenerHandlers,
  type DialectCall,
  type DialectSegmentBatch,
  type EventStoreDialect,
  type PreparedAppend,
  positionCheckpoints,
  type SegmentFilter,
  type StoredEventRow,
  type TransactionScope,
} from '@pup/core/adapter';
import { appendEvents, type BlockSource } from './append.js';
import { burnBlocks, type HeldBlock, REFILL_BELOW, refillBlocks } from './blocks.js';
import { deleteCheckpoint, getCheckpoint, listCheckpoints, saveCheckpoint } from './checkpoints.js';
import {
  DATABASE,
  inTransaction,
  isConnection,
  type MysqlPool,
  type MysqlPoolConnection,
  run,
} from './driver.js';
import { describeMysqlError, isTransient } from './errors.js';
import {
  deleteDeadLetter,
  deleteLease,
  listDeadLetters,
  lockLease,
  readLeases,
  saveDeadLetter,
  saveLease,
} from './leases.js';
import { pollCommits } from './listen.js';
import { migrate } from './migrate.js';
import { readEventAt, readEvents, readSegmentEvents, readStream } from './read.js';
import type { MysqlTables } from './schema.js';
import { getLogStatus, type MysqlLogStatus } from './status.js';

/** Attempts of an append the store runs in a transaction of its own (deadlocks are retried). */
const AUTOCOMMIT_APPEND_ATTEMPTS = 3;
/** How long an append waits for a refill of free blocks when none is left. */
const EMPTY_POOL_WAIT_MS = 5_000;

/** How long a given-up transaction tries to interrupt its statement before closing instead. */
const INTERRUPT_TIMEOUT_MS = 1_000;

/**
 * A store transaction the caller can give up (signal, timeout). Core has then already rejected
 * the caller; this interrupts the statement the connection runs (a wait for a row lock, such as
 * another worker's checkpoint lock, would otherwise go on until `innodb_lock_wait_timeout`) with
 * `KILL QUERY` from another pooled connection, so the callback fails and the transaction rolls
 * back at once. The connection is then closed, not pooled.
 */
class GiveUp {
  private interrupting: Promise<void> | undefined;
  private readonly onAbort = (): void => {
    const { threadId } = this.conn;
    if (typeof threadId !== 'number') {
      this.interrupting = Promise.resolve();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    this.interrupting = Promise.race([
      run(this.pool, 'KILL QUERY ?', [threadId]).then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, INTERRUPT_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  };

  constructor(
    private readonly pool: MysqlPool,
    private readonly conn: MysqlPoolConnection,
    private readonly signal: AbortSignal,
  ) {
    if (signal.aborted) this.onAbort();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Stops watching the signal; resolves with whether the transaction was given up (then once its
   * interruption is done, so a late `KILL QUERY` can never reach the connection's next user).
   */
  async end(): Promise<boolean> {
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.interrupting === undefined) return false;
    await this.interrupting;
    return true;
  }
}

/** What the store remembers about one of its own transactions while it runs. */
class TransactionState {
  /** The position block the transaction writes into. */
  held: HeldBlock | undefined;
  /** Every block drawn, to clean up after a rollback. */
  readonly drawn: number[] = [];
  /** A drawn block came back (a savepoint rolled back): delete it once the transaction ends. */
  abandoned = false;
  /** Few free blocks are left: refill after the transaction, on its connection. */
  refill = false;
}

/** Settings of the dialect. @internal */
export interface MysqlDialectSettings {
  tables: MysqlTables;
  pollIntervalMs: number;
  logger: Logger | undefined;
}

async function startTransaction(conn: MysqlPoolConnection): Promise<void> {
  await run(conn, 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
  await run(conn, 'START TRANSACTION');
}

async function rollbackQuietly(conn: MysqlPoolConnection): Promise<void> {
  await run(conn, 'ROLLBACK').catch(() => undefined);
}

/** The database work of the MySQL / MariaDB event store. @internal */
export class MysqlDialect
  implements EventStoreDialect<MysqlPoolConnection, number, MysqlLogStatus>
{
  readonly name = DATABASE;
  readonly checkpoints = positionCheckpoints;
  private readonly transactions = new WeakMap<MysqlPoolConnection, TransactionState>();
  private readonly t: MysqlTables;
  /** A refill running in the background (for appends in the caller's own transactions). */
  private refilling: Promise<void> | undefined;
  /** Free blocks were found low: the next store transaction refills before it begins. */
  private low = false;
  private closed = false;

  constructor(
    private readonly pool: MysqlPool,
    private readonly settings: MysqlDialectSettings,
  ) {
    this.t = settings.tables;
  }

  isTransaction(tx: unknown): boolean {
    return isConnection(tx);
  }

  async transaction<T>(
    fn: (tx: MysqlPoolConnection) => Promise<T>,
    scope?: TransactionScope,
  ): Promise<T> {
    const conn = await this.pool.getConnection();
    const state = new TransactionState();
    const giveUp =
      scope?.signal === undefined ? undefined : new GiveUp(this.pool, conn, scope.signal);
    try {
      if (this.low) await this.refill(conn, state);
      await startTransaction(conn);
      this.transactions.set(conn, state);
      let result: T;
      try {
        result = await fn(conn);
      } catch (error) {
        this.transactions.delete(conn);
        await rollbackQuietly(conn);
        await this.afterTransaction(conn, state, false);
        throw error;
      }
      this.transactions.delete(conn);
      try {
        await run(conn, 'COMMIT');
      } catch (error) {
        throw describeMysqlError(error, true) ?? error;
      }
      await this.afterTransaction(conn, state, true);
      return result;
    } finally {
      this.transactions.delete(conn);
      if (giveUp === undefined || !(await giveUp.end())) conn.release();
      // Given up: whatever the interrupted statements left (even a transaction), it never
      // goes back to the pool.
      else if (conn.destroy !== undefined) conn.destroy();
      else conn.release();
    }
  }

  async savepoint<T>(tx: MysqlPoolConnection, name: string, fn: () => Promise<T>): Promise<T> {
    const state = this.transactions.get(tx);
    const drawnBefore = state?.drawn.length ?? 0;
    await run(tx, `SAVEPOINT ${name}`);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      await run(tx, `ROLLBACK TO SAVEPOINT ${name}`)
        .then(() => run(tx, `RELEASE SAVEPOINT ${name}`))
        .catch(() => undefined);
      if (state !== undefined && state.drawn.length > drawnBefore) {
        // The block's deletion was rolled back with the savepoint: never write into it again.
        state.held = undefined;
        state.abandoned = true;
      }
      throw error;
    }
    await run(tx, `RELEASE SAVEPOINT ${name}`);
    return result;
  }

  async append(
    tx: MysqlPoolConnection,
    append: PreparedAppend,
    call: DialectCall,
  ): Promise<AppendOutcome> {
    const state = call.ownTransaction ? this.transactions.get(tx) : undefined;
    if (state !== undefined) return appendEvents(tx, this.t, append, this.sourceOf(state));
    // The caller's own transaction, or a connection in autocommit mode.
    if (inTransaction(await run(tx, 'DO 0'))) {
      return appendEvents(tx, this.t, append, this.sourceOf(undefined));
    }
    return this.appendOnItsOwn(tx, append);
  }

  /** An append on a connection outside any transaction: its own transaction, retried on deadlock. */
  private async appendOnItsOwn(
    conn: MysqlPoolConnection,
    append: PreparedAppend,
  ): Promise<AppendOutcome> {
    for (let attempt = 1; ; attempt++) {
      const state = new TransactionState();
      await startTransaction(conn);
      try {
        const outcome = await appendEvents(conn, this.t, append, this.sourceOf(state));
        if (outcome.status !== 'appended') {
          await rollbackQuietly(conn);
          await this.afterTransaction(conn, state, false);
          return outcome;
        }
        try {
          await run(conn, 'COMMIT');
        } catch (error) {
          throw describeMysqlError(error, true) ?? error;
        }
        await this.afterTransaction(conn, state, true);
        return outcome;
      } catch (error) {
        await rollbackQuietly(conn);
        await this.afterTransaction(conn, state, false);
        if (!isTransient(error) || attempt >= AUTOCOMMIT_APPEND_ATTEMPTS) throw error;
      }
    }
  }

  /** Where an append gets its block: the store transaction's, or a fresh one per append. */
  private sourceOf(state: TransactionState | undefined): BlockSource {
    return {
      held: state?.held,
      drew: (block) => {
        if (state === undefined) return;
        state.held = block;
        state.drawn.push(block.block);
      },
      whenEmpty: () => this.refillElsewhere(),
      left: (count) => {
        if (count >= REFILL_BELOW) return;
        this.low = true;
        if (state !== undefined) state.refill = true;
        else void this.refillElsewhere().catch(() => undefined);
      },
    };
  }

  /**
   * Housekeeping on the transaction's own connection once it ended, never failing the caller:
   * deletes blocks it drew but did not use up (rolled back), refills free blocks when few are left.
   */
  private async afterTransaction(
    conn: MysqlPoolConnection,
    state: TransactionState,
    committed: boolean,
  ): Promise<void> {
    try {
      if (state.drawn.length > 0 && (!committed || state.abandoned)) {
        await burnBlocks(conn, this.t, state.drawn);
      }
      if (state.refill) await this.refill(conn, state);
    } catch (error) {
      this.settings.logger?.warn('Position block housekeeping failed; the next append retries', {
        database: DATABASE,
        error,
      });
    }
  }

  private async refill(conn: MysqlPoolConnection, state: TransactionState): Promise<void> {
    state.refill = false;
    this.low = false;
    await refillBlocks(conn, this.t);
  }

  /** Refills on a connection of its own; concurrent calls in this process share one refill. */
  private refillElsewhere(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.refilling ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, EMPTY_POOL_WAIT_MS, undefined);
      });
      try {
        const conn = await Promise.race([this.pool.getConnection(), timeout]);
        if (conn === undefined) return;
        try {
          this.low = false;
          await refillBlocks(conn, this.t);
        } finally {
          conn.release();
        }
      } finally {
        clearTimeout(timer);
        this.refilling = undefined;
      }
    })();
    return this.refilling;
  }

  readEvents(tx: MysqlPoolConnection, after: number | null, limit: number) {
    return readEvents(tx, this.t, after, limit);
  }

  readEventAt(tx: MysqlPoolConnection, globalPosition: number): Promise<StoredEventRow | null> {
    return readEventAt(tx, this.t, globalPosition);
  }

  async readSegmentBatch(
    tx: MysqlPoolConnection,
    projectionName: string,
    limit: number,
    filter: SegmentFilter,
  ): Promise<DialectSegmentBatch> {
    const checkpoint = await getCheckpoint(tx, this.t, projectionName, true);
    const after = checkpoint === null ? null : positionCheckpoints.parse(checkpoint)!;
    const { rows, scanned } = await readSegmentEvents(tx, this.t, after, limit, filter);
    return { checkpoint, rows, scanned };
  }

  readStream(
    tx: MysqlPoolConnection,
    stream: StreamRef,
    fromVersion: number,
    toVersion: number | null,
  ): Promise<StoredEventRow[]> {
    return readStream(tx, this.t, stream, fromVersion, toVersion);
  }

  getCheckpoint(
    tx: MysqlPoolConnection,
    projectionName: string,
    lock: boolean,
  ): Promise<Checkpoint | null> {
    return getCheckpoint(tx, this.t, projectionName, lock);
  }

  saveCheckpoint(
    tx: MysqlPoolConnection,
    projectionName: string,
    checkpoint: Checkpoint,
  ): Promise<void> {
    return saveCheckpoint(tx, this.t, projectionName, positionCheckpoints.parse(checkpoint)!);
  }

  deleteCheckpoint(tx: MysqlPoolConnection, projectionName: string): Promise<boolean> {
    return deleteCheckpoint(tx, this.t, projectionName);
  }

  listCheckpoints(
    tx: MysqlPoolConnection,
  ): Promise<{ projectionName: string; checkpoint: Checkpoint }[]> {
    return listCheckpoints(tx, this.t);
  }

  saveDeadLetter(tx: MysqlPoolConnection, deadLetter: DeadLetter): Promise<void> {
    return saveDeadLetter(tx, this.t, deadLetter);
  }

  listDeadLetters(tx: MysqlPoolConnection, projectionName: string): Promise<DeadLetter[]> {
    return listDeadLetters(tx, this.t, projectionName);
  }

  deleteDeadLetter(
    tx: MysqlPoolConnection,
    projectionName: string,
    globalPosition: number,
  ): Promise<boolean> {
    return deleteDeadLetter(tx, this.t, projectionName, globalPosition);
  }

  readLeases(tx: MysqlPoolConnection, projectionName: string): Promise<ProjectionLeases> {
    return readLeases(tx, this.t, projectionName);
  }

  saveLease(
    tx: MysqlPoolConnection,
    projectionName: string,
    lease: ProjectionLease,
  ): Promise<void> {
    return saveLease(tx, this.t, projectionName, lease);
  }

  deleteLease(tx: MysqlPoolConnection, projectionName: string, key: string): Promise<void> {
    return deleteLease(tx, this.t, projectionName, key);
  }

  lockLease(
    tx: MysqlPoolConnection,
    projectionName: string,
    key: string,
  ): Promise<ProjectionLease | null> {
    return lockLease(tx, this.t, projectionName, key);
  }

  getLogStatus(tx: MysqlPoolConnection, after: number | null): Promise<MysqlLogStatus> {
    return getLogStatus(tx, this.t, after);
  }

  migrate(): Promise<void> {
    return migrate(this.pool, this.t);
  }

  listen(handlers: CommitListenerHandlers): Promise<CommitListener> {
    return pollCommits(
      this.pool,
      this.t,
      this.settings.pollIntervalMs,
      handlers,
      this.settings.logger,
    );
  }

  describeError(error: unknown): PupError | undefined {
    return describeMysqlError(error);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.refilling?.catch(() => undefined);
  }
}
