import { DatabaseError, OperationAbortedError } from '@pup/core';
import { type CommitListenerHandlers, Mutex } from '@pup/core/adapter';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import { isBusy } from './errors.js';

/** How often a transaction the caller opened is checked for its end (see {@link Connection}). */
const FOREIGN_COMMIT_POLL_MS = 5;
/** First pause before `BEGIN IMMEDIATE` is tried again, while another connection writes. */
const FIRST_LOCK_RETRY_MS = 1;
/** Longest pause between two tries of `BEGIN IMMEDIATE`. */
const MAX_LOCK_RETRY_MS = 25;

/**
 * What every store on one better-sqlite3 `Database` shares, created on first use: the queue that
 * gives the connection to one store transaction (or one outside call) at a time, the prepared
 * transaction-control statements, and the commit listeners of the stores on it.
 *
 * better-sqlite3 runs every statement synchronously, so code between two `await`s owns the
 * connection anyway; the queue is what keeps an async store transaction's callback from sharing
 * the connection with other callers while it awaits.
 */
export class Connection {
  /** Held by the store transaction or outside call that currently owns the connection. */
  readonly queue = new Mutex();
  /**
   * Whether an append succeeded in the store transaction that owns the connection (through any
   * store on it); reset when that transaction begins.
   */
  appended = false;
  private readonly beginStatement: SqliteStatement;
  private readonly commitStatement: SqliteStatement;
  private readonly rollbackStatement: SqliteStatement;
  private readonly savepointStatements = new Map<string, SqliteStatement>();
  private readonly listeners = new Set<CommitListenerHandlers>();
  private foreignCommitTimer: ReturnType<typeof setInterval> | undefined;
  /**
   * How long {@link begin} waits for another connection's write lock, in milliseconds: the
   * connection's busy timeout (the `busyTimeoutMs` of the store created last on it).
   */
  private lockWaitMs: number;
  /**
   * `PRAGMA busy_timeout = <lockWaitMs>`, run right after `BEGIN IMMEDIATE` (see {@link begin}).
   * Run with `exec`, never as a prepared statement: SQLite applies `busy_timeout` when it compiles
   * the pragma, so re-running a prepared one does not set it again.
   */
  private restoreBusyWait: string;

  constructor(readonly db: SqliteDatabase) {
    this.beginStatement = db.prepare('BEGIN IMMEDIATE');
    this.commitStatement = db.prepare('COMMIT');
    this.rollbackStatement = db.prepare('ROLLBACK');
    this.lockWaitMs = Number(db.pragma('busy_timeout', { simple: true })) || 0;
    this.restoreBusyWait = busyTimeoutSql(this.lockWaitMs);
  }

  /**
   * Sets the connection's busy timeout (`PRAGMA busy_timeout`), which is also how long
   * {@link begin} waits for another connection's write lock.
   */
  setBusyTimeout(ms: number): void {
    this.db.pragma(`busy_timeout = ${Math.trunc(ms)}`);
    this.restoreBusyWait = busyTimeoutSql(ms);
    this.lockWaitMs = ms;
  }

  /**
   * `BEGIN IMMEDIATE`: takes the write lock. better-sqlite3 would wait for a lock held by another
   * connection synchronously, in SQLite's busy handler, blocking the event loop for up to the
   * busy timeout; so the statement runs with the busy timeout set to 0, and while another
   * connection (of this process or another) holds the lock it is tried again after pauses that
   * grow from 1 to 25 ms, until the busy timeout has passed. Returns `undefined` when the lock was
   * free (nothing to wait for), else a promise of the begun transaction.
   * @throws {DatabaseError} (transient; the driver's `SQLITE_BUSY` error as `cause`) when the lock
   * stayed taken for the whole busy timeout.
   * @throws {OperationAbortedError} when `signal` aborts while it waits.
   */
  begin(signal?: AbortSignal, operation = 'transaction'): Promise<void> | undefined {
    const busy = this.tryBegin();
    if (busy === undefined) return undefined;
    return this.beginWhenFree(busy, performance.now(), signal, operation);
  }

  /** One try of `BEGIN IMMEDIATE` without waiting; returns the `SQLITE_BUSY` error if taken. */
  private tryBegin(): unknown {
    // An in-memory database has no other connection to wait for.
    if (this.lockWaitMs === 0 || this.db.memory) {
      this.beginStatement.run();
      return undefined;
    }
    this.db.exec(NO_BUSY_WAIT);
    try {
      this.beginStatement.run();
      return undefined;
    } catch (error) {
      if (isBusy(error)) return error;
      throw error;
    } finally {
      this.db.exec(this.restoreBusyWait);
    }
  }

  private async beginWhenFree(
    busy: unknown,
    started: number,
    signal: AbortSignal | undefined,
    operation: string,
  ): Promise<void> {
    for (let pause = FIRST_LOCK_RETRY_MS; ; pause = Math.min(MAX_LOCK_RETRY_MS, pause * 2)) {
      const left = this.lockWaitMs - (performance.now() - started);
      if (left <= 0) {
        throw new DatabaseError(
          'SQLite',
          `another connection held the database's write lock for the whole busy timeout (${this.lockWaitMs} ms)`,
          { cause: busy, transient: true },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.ceil(left))));
      if (signal?.aborted) {
        throw new OperationAbortedError(operation, { cause: signal.reason });
      }
      busy = this.tryBegin();
      if (busy === undefined) return;
    }
  }

  commit(): void {
    this.commitStatement.run();
  }

  /** Rolls back when a transaction is still open (SQLite may already have rolled it back). */
  rollback(): void {
    if (this.db.inTransaction) this.rollbackStatement.run();
  }

  savepoint(name: string): void {
    this.savepointStatement(`SAVEPOINT ${quote(name)}`).run();
  }

  release(name: string): void {
    this.savepointStatement(`RELEASE ${quote(name)}`).run();
  }

  /** Undoes everything since the savepoint and removes it. */
  rollbackToSavepoint(name: string): void {
    if (!this.db.inTransaction) return;
    this.savepointStatement(`ROLLBACK TO ${quote(name)}`).run();
    this.savepointStatement(`RELEASE ${quote(name)}`).run();
  }

  /** Registers a store's commit listener; returns the function that removes it. */
  addListener(handlers: CommitListenerHandlers): () => void {
    this.listeners.add(handlers);
    return () => {
      this.listeners.delete(handlers);
      if (this.listeners.size === 0) this.stopWatchingForeignCommit();
    };
  }

  /** Tells every store listening on this connection that events were committed. */
  announceCommit(): void {
    if (this.listeners.size === 0) return;
    for (const listener of [...this.listeners]) listener.onCommit();
  }

  /**
   * Announces a commit once the transaction the caller opened with the driver (in which events
   * were just appended) has ended. The store cannot see that `COMMIT`, so it polls the
   * connection's `inTransaction`; an ended transaction that rolled back wakes readers for nothing,
   * which costs them one empty read.
   */
  announceAfterForeignCommit(): void {
    if (this.listeners.size === 0 || this.foreignCommitTimer !== undefined) return;
    this.foreignCommitTimer = setInterval(() => {
      if (this.db.open && this.db.inTransaction && this.listeners.size > 0) return;
      this.stopWatchingForeignCommit();
      this.announceCommit();
    }, FOREIGN_COMMIT_POLL_MS);
    this.foreignCommitTimer.unref();
  }

  private stopWatchingForeignCommit(): void {
    if (this.foreignCommitTimer !== undefined) {
      clearInterval(this.foreignCommitTimer);
      this.foreignCommitTimer = undefined;
    }
  }

  private savepointStatement(sql: string): SqliteStatement {
    let statement = this.savepointStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.savepointStatements.set(sql, statement);
    }
    return statement;
  }
}

const NO_BUSY_WAIT = 'PRAGMA busy_timeout = 0';

function busyTimeoutSql(ms: number): string {
  return `PRAGMA busy_timeout = ${Math.trunc(ms)}`;
}

/** A savepoint name as a quoted SQL identifier. */
function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const connections = new WeakMap<SqliteDatabase, Connection>();

/** The shared state of a connection, created on first use. */
export function connectionOf(db: SqliteDatabase): Connection {
  let connection = connections.get(db);
  if (connection === undefined) {
    connection = new Connection(db);
    connections.set(db, connection);
  }
  return connection;
}
