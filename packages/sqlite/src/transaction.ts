import { AsyncLocalStorage } from 'node:async_hooks';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import { Mutex } from './mutex.js';
import { announceCommit, announceForeignAppend } from './wait-for-events.js';

/**
 * Transaction control of one connection, shared by every store on it: the queue that lets one
 * `transaction()` at a time own the connection, and the prepared BEGIN/COMMIT/SAVEPOINT
 * statements.
 */
export class ConnectionControl {
  /** Held by the store transaction that currently owns the connection. */
  readonly mutex = new Mutex();
  private readonly beginStatement: SqliteStatement;
  private readonly commitStatement: SqliteStatement;
  private readonly rollbackStatement: SqliteStatement;
  private readonly savepointStatements = new Map<string, SqliteStatement>();

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
    this.savepointStatement(`SAVEPOINT ${name}`).run();
  }

  release(name: string): void {
    this.savepointStatement(`RELEASE ${name}`).run();
  }

  /** Undoes everything since the savepoint and removes it. */
  rollbackToSavepoint(name: string): void {
    if (!this.db.inTransaction) return;
    this.savepointStatement(`ROLLBACK TO ${name}`).run();
    this.savepointStatement(`RELEASE ${name}`).run();
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

const controls = new WeakMap<SqliteDatabase, ConnectionControl>();

/** The transaction control of a connection, created on first use. */
export function controlFor(db: SqliteDatabase): ConnectionControl {
  let control = controls.get(db);
  if (control === undefined) {
    control = new ConnectionControl(db);
    controls.set(db, control);
  }
  return control;
}

/** What the outermost store transaction of a call chain knows about itself. */
interface RootScope {
  /** Whether it runs as a savepoint inside a transaction the caller opened with the driver. */
  readonly foreign: boolean;
  /** Whether an append succeeded in it, so waiters are woken after the commit. */
  appended: boolean;
}

/** One level of store transaction, seen by the async code running inside it. */
interface Scope {
  readonly db: SqliteDatabase;
  readonly depth: number;
  readonly root: RootScope;
  /** False once the transaction committed or rolled back. */
  active: boolean;
  /** Queues nested transactions started from this level. */
  children: Mutex | undefined;
}

const scopes = new AsyncLocalStorage<Scope>();

/** Savepoint that wraps a store transaction inside a transaction the caller opened. */
const FOREIGN_SAVEPOINT = 'pup_transaction';

function currentScope(db: SqliteDatabase): Scope | undefined {
  const scope = scopes.getStore();
  return scope?.active && scope.db === db ? scope : undefined;
}

/**
 * Runs `fn` in a transaction on `db`:
 * - at the top level, store transactions on one connection are queued (first come, first
 *   served) and each runs in `BEGIN IMMEDIATE` … `COMMIT`, rolled back when `fn` throws;
 * - called from inside `fn` (detected through `AsyncLocalStorage`), it runs as a `SAVEPOINT` of
 *   the enclosing transaction: its throw undoes only its own work, and nothing is committed
 *   before the outermost transaction commits. Nested calls of one level are queued too;
 * - when the caller already opened a transaction on the connection with the driver, the store
 *   transaction becomes a savepoint of it, and the caller commits.
 */
export async function runTransaction<D extends SqliteDatabase, T>(
  db: D,
  fn: (tx: D) => Promise<T> | T,
): Promise<T> {
  const outer = currentScope(db);
  if (outer !== undefined) return runNested(outer, db, fn);

  const control = controlFor(db);
  if (!control.mutex.tryLock()) await control.mutex.lock();
  try {
    const foreign = db.inTransaction;
    if (foreign) control.savepoint(FOREIGN_SAVEPOINT);
    else control.begin();
    const scope: Scope = {
      db,
      depth: 0,
      root: { foreign, appended: false },
      active: true,
      children: undefined,
    };
    let result: T;
    try {
      result = await scopes.run(scope, fn, db);
    } catch (error) {
      scope.active = false;
      if (foreign) control.rollbackToSavepoint(FOREIGN_SAVEPOINT);
      else control.rollback();
      throw error;
    }
    scope.active = false;
    if (foreign) {
      control.release(FOREIGN_SAVEPOINT);
      if (scope.root.appended) announceForeignAppend(db);
    } else {
      try {
        control.commit();
      } catch (error) {
        control.rollback();
        throw error;
      }
      if (scope.root.appended) announceCommit(db);
    }
    return result;
  } finally {
    control.mutex.unlock();
  }
}

async function runNested<D extends SqliteDatabase, T>(
  parent: Scope,
  db: D,
  fn: (tx: D) => Promise<T> | T,
): Promise<T> {
  parent.children ??= new Mutex();
  const children = parent.children;
  if (!children.tryLock()) await children.lock();
  if (!parent.active) {
    // The enclosing transaction ended while this call waited: run on its own.
    children.unlock();
    return runTransaction(db, fn);
  }
  try {
    const control = controlFor(db);
    const depth = parent.depth + 1;
    const savepoint = `pup_nested_${depth}`;
    control.savepoint(savepoint);
    const scope: Scope = { db, depth, root: parent.root, active: true, children: undefined };
    let result: T;
    try {
      result = await scopes.run(scope, fn, db);
    } catch (error) {
      scope.active = false;
      control.rollbackToSavepoint(savepoint);
      throw error;
    }
    scope.active = false;
    control.release(savepoint);
    return result;
  } finally {
    children.unlock();
  }
}

/**
 * Runs the synchronous `work` on `db` for an adapter method called with `db` as its `tx`:
 * - inside a store transaction of this connection, `work` joins it;
 * - while another store transaction owns the connection, `work` waits for its turn (so it never
 *   sees or mixes with that transaction's uncommitted writes);
 * - inside a transaction the caller opened with the driver, `work` joins it;
 * - otherwise `work` runs alone: wrapped in `BEGIN IMMEDIATE` … `COMMIT` when it is
 *   `atomic` (several writes), in SQLite's autocommit when it is a single statement.
 * `appends` marks work that writes events, so waiters are woken once it is committed.
 */
export function runOnConnection<T>(
  db: SqliteDatabase,
  atomic: boolean,
  appends: boolean,
  work: () => T,
): T | Promise<T> {
  const scope = currentScope(db);
  if (scope !== undefined) {
    const result = work();
    if (appends) scope.root.appended = true;
    return result;
  }
  const control = controlFor(db);
  if (control.mutex.tryLock()) {
    try {
      return runAlone(control, atomic, appends, work);
    } finally {
      control.mutex.unlock();
    }
  }
  return control.mutex.lock().then(() => {
    try {
      return runAlone(control, atomic, appends, work);
    } finally {
      control.mutex.unlock();
    }
  });
}

function runAlone<T>(
  control: ConnectionControl,
  atomic: boolean,
  appends: boolean,
  work: () => T,
): T {
  const db = control.db;
  if (db.inTransaction) {
    const result = work();
    if (appends) announceForeignAppend(db);
    return result;
  }
  if (!atomic) return work();
  control.begin();
  let result: T;
  try {
    result = work();
    control.commit();
  } catch (error) {
    control.rollback();
    throw error;
  }
  if (appends) announceCommit(db);
  return result;
}
