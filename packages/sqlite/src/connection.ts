import { type CommitListenerHandlers, Mutex } from '@pup/core/adapter';
import type { SqliteDatabase, SqliteStatement } from './driver.js';

/** How often a transaction the caller opened is checked for its end (see {@link Connection}). */
const FOREIGN_COMMIT_POLL_MS = 5;

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

  constructor(readonly db: SqliteDatabase) {
    this.beginStatement = db.prepare('BEGIN IMMEDIATE');
    this.commitStatement = db.prepare('COMMIT');
    this.rollbackStatement = db.prepare('ROLLBACK');
  }

  /** `BEGIN IMMEDIATE`: takes the write lock now, waiting up to the busy timeout for it. */
  begin(): void {
    this.beginStatement.run();
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
