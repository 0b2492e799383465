import {
  type Checkpoint,
  DatabaseError,
  type DeadLetter,
  type LogStatus,
  OperationAbortedError,
  type ProjectionLease,
  type ProjectionLeases,
  type PupError,
  SchemaVersionError,
  type StreamRef,
} from '@pup/core';
import {
  type AppendOutcome,
  type CommitListener,
  type CommitListenerHandlers,
  type DialectCall,
  type DialectProjectionBatch,
  type EventStoreDialect,
  type PreparedAppend,
  positionCheckpoints,
  type StoredEventRow,
  type TransactionScope,
} from '@pup/core/adapter';
import { AppendStatements, appendEvents } from './append.js';
import {
  CheckpointStatements,
  deleteCheckpoint,
  getCheckpoint,
  listCheckpoints,
  saveCheckpoint,
} from './checkpoints.js';
import { type Connection, connectionOf } from './connection.js';
import type { SqliteDatabase } from './driver.js';
import { isBusy } from './errors.js';
import {
  DeadLetterStatements,
  deleteDeadLetter,
  deleteLease,
  getLease,
  LeaseStatements,
  listDeadLetters,
  readLeases,
  saveDeadLetter,
  saveLease,
} from './leases.js';
import { getLogStatus, ReadStatements, readEventAt, readEvents, readStream } from './read.js';
import { type QuotedTableNames, SCHEMA_VERSION } from './schema.js';

/** Savepoint that wraps a store transaction inside a transaction the caller opened. */
const CALLER_TRANSACTION_SAVEPOINT = 'pup_transaction';

/** Whether `value` looks like a better-sqlite3 `Database` (a cheap shape check). */
export function isDatabase(value: unknown): value is SqliteDatabase {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SqliteDatabase).prepare === 'function' &&
    typeof (value as SqliteDatabase).exec === 'function' &&
    typeof (value as SqliteDatabase).pragma === 'function'
  );
}

/** The prepared statements of one store on one connection, each group made on first use. */
class ConnectionStatements {
  readonly connection: Connection;
  private appendGroup: AppendStatements | undefined;
  private readGroup: ReadStatements | undefined;
  private checkpointGroup: CheckpointStatements | undefined;
  private leaseGroup: LeaseStatements | undefined;
  private deadLetterGroup: DeadLetterStatements | undefined;

  constructor(
    readonly db: SqliteDatabase,
    private readonly tables: QuotedTableNames,
  ) {
    this.connection = connectionOf(db);
  }

  get append(): AppendStatements {
    this.appendGroup ??= new AppendStatements(this.db, this.tables);
    return this.appendGroup;
  }

  get read(): ReadStatements {
    this.readGroup ??= new ReadStatements(this.db, this.tables);
    return this.readGroup;
  }

  get checkpoints(): CheckpointStatements {
    this.checkpointGroup ??= new CheckpointStatements(this.db, this.tables);
    return this.checkpointGroup;
  }

  get leases(): LeaseStatements {
    this.leaseGroup ??= new LeaseStatements(this.db, this.tables);
    return this.leaseGroup;
  }

  get deadLetters(): DeadLetterStatements {
    this.deadLetterGroup ??= new DeadLetterStatements(this.db, this.tables);
    return this.deadLetterGroup;
  }
}

/**
 * The SQLite dialect: the database work of an event store on a better-sqlite3 `Database`. Core's
 * `createEventStore` builds the store around it.
 *
 * Every statement runs synchronously (better-sqlite3), so one method's SQL never interleaves
 * with another's; what needs care is the async gap of a store transaction's callback. Store
 * transactions queue on the connection ({@link Connection.queue}) and run in `BEGIN IMMEDIATE`
 * … `COMMIT`; a method called with a `Database` outside any store transaction waits for its turn
 * in the same queue and then runs alone: `append` and `migrate` in a transaction of their own,
 * single reads and checkpoint writes in autocommit. When the caller opened a transaction with
 * the driver, store transactions become savepoints of it and outside calls join it.
 */
export class SqliteDialect<D extends SqliteDatabase>
  implements EventStoreDialect<D, number, LogStatus>
{
  readonly name = 'SQLite';
  readonly checkpoints = positionCheckpoints;
  /** Stores on one `Database` nest their transactions into each other's. */
  readonly scopeKey: object;
  private own: ConnectionStatements | undefined;
  private others = new WeakMap<SqliteDatabase, ConnectionStatements>();

  constructor(
    private readonly db: D,
    private readonly tables: QuotedTableNames,
    private readonly schemaSql: string,
  ) {
    this.scopeKey = db;
  }

  isTransaction(tx: unknown): boolean {
    return tx === this.db || isDatabase(tx);
  }

  /**
   * Waits for the connection's turn, then runs `fn` in `BEGIN IMMEDIATE` … `COMMIT` (or in a
   * savepoint of the transaction the caller opened with the driver). When the caller gave the
   * transaction up (`scope.signal`), core has already rejected it: a transaction still queued
   * then never begins, and one whose callback is still running is rolled back when the callback
   * ends, whatever it returns. The connection stays taken until then, so the callback's own SQL
   * can never land in a later transaction.
   */
  async transaction<T>(fn: (tx: D) => Promise<T>, scope: TransactionScope): Promise<T> {
    const db = this.db;
    const connection = this.statementsFor(db).connection;
    if (!connection.queue.tryLock()) await connection.queue.lock();
    try {
      throwIfGivenUp(scope);
      // The connection's flag, not `scope.appended`: it also counts appends that other stores
      // on this `Database` made inside this transaction, and their listeners want the wake-up.
      connection.appended = false;
      if (db.inTransaction) return await this.insideCallerTransaction(connection, fn, scope);
      const begun = connection.begin(scope.signal);
      if (begun !== undefined) await begun;
      let result: T;
      try {
        result = await fn(db);
        throwIfGivenUp(scope);
      } catch (error) {
        connection.rollback();
        throw error;
      }
      try {
        connection.commit();
      } catch (error) {
        connection.rollback();
        throw error;
      }
      if (connection.appended) connection.announceCommit();
      return result;
    } finally {
      connection.appended = false;
      connection.queue.unlock();
    }
  }

  /** A store transaction inside one the caller opened with the driver: a savepoint of it. */
  private async insideCallerTransaction<T>(
    connection: Connection,
    fn: (tx: D) => Promise<T>,
    scope: TransactionScope,
  ): Promise<T> {
    connection.savepoint(CALLER_TRANSACTION_SAVEPOINT);
    let result: T;
    try {
      result = await fn(this.db);
      throwIfGivenUp(scope);
    } catch (error) {
      connection.rollbackToSavepoint(CALLER_TRANSACTION_SAVEPOINT);
      throw error;
    }
    connection.release(CALLER_TRANSACTION_SAVEPOINT);
    if (connection.appended) connection.announceAfterForeignCommit();
    return result;
  }

  async savepoint<T>(tx: D, name: string, fn: () => Promise<T>): Promise<T> {
    const connection = this.statementsFor(tx).connection;
    connection.savepoint(name);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      connection.rollbackToSavepoint(name);
      throw error;
    }
    connection.release(name);
    return result;
  }

  append(tx: D, append: PreparedAppend, call: DialectCall): Promise<AppendOutcome> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () =>
      call.inStoreTransaction
        ? appendInStoreTransaction(statements, append)
        : appendAlone(statements, append),
    );
  }

  /**
   * `store.appendToStream` outside store transactions: the append alone on the store's
   * connection, without the frame of a store transaction around it. It waits for the
   * connection's turn like any outside call, and gives up when `signal` aborts meanwhile.
   */
  appendToStream(
    append: PreparedAppend,
    options: { signal?: AbortSignal },
  ): Promise<AppendOutcome> {
    const statements = this.statementsFor(this.db);
    return takeTurn(statements.connection, () => {
      const { signal } = options;
      if (signal?.aborted) {
        throw new OperationAbortedError('appendToStream', { cause: signal.reason });
      }
      return appendAlone(statements, append, signal);
    });
  }

  readEvents(
    tx: D,
    after: number | null,
    limit: number,
    call: DialectCall,
  ): Promise<StoredEventRow[]> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => readEvents(statements.read, after, limit));
  }

  readEventAt(tx: D, globalPosition: number, call: DialectCall): Promise<StoredEventRow | null> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => readEventAt(statements.read, globalPosition));
  }

  readStream(
    tx: D,
    stream: StreamRef,
    fromVersion: number,
    toVersion: number | null,
    call: DialectCall,
  ): Promise<StoredEventRow[]> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () =>
      readStream(statements.read, stream, fromVersion, toVersion),
    );
  }

  // SQLite has one writer at a time: a projection batch's `BEGIN IMMEDIATE` already holds the
  // database's write lock, so `lock` needs nothing more.
  getCheckpoint(
    tx: D,
    projectionName: string,
    _lock: boolean,
    call: DialectCall,
  ): Promise<Checkpoint | null> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => getCheckpoint(statements.checkpoints, projectionName));
  }

  saveCheckpoint(
    tx: D,
    projectionName: string,
    checkpoint: Checkpoint,
    call: DialectCall,
  ): Promise<void> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () =>
      saveCheckpoint(statements.checkpoints, projectionName, checkpoint),
    );
  }

  deleteCheckpoint(tx: D, projectionName: string, call: DialectCall): Promise<boolean> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () =>
      deleteCheckpoint(statements.checkpoints, projectionName),
    );
  }

  listCheckpoints(
    tx: D,
    call: DialectCall,
  ): Promise<{ projectionName: string; checkpoint: Checkpoint }[]> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => listCheckpoints(statements.checkpoints));
  }

  readProjectionBatch(
    tx: D,
    projectionName: string,
    limit: number,
    call: DialectCall,
  ): Promise<DialectProjectionBatch> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => {
      const checkpoint = getCheckpoint(statements.checkpoints, projectionName);
      const after = checkpoint === null ? null : positionCheckpoints.parse(checkpoint);
      if (after === undefined) {
        throw new DatabaseError(
          this.name,
          `the saved checkpoint of ${JSON.stringify(projectionName)} is not a checkpoint of this store: ${JSON.stringify(checkpoint)}`,
        );
      }
      return { checkpoint, rows: readEvents(statements.read, after, limit) };
    });
  }

  saveDeadLetter(tx: D, deadLetter: DeadLetter, call: DialectCall): Promise<void> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => saveDeadLetter(statements.deadLetters, deadLetter));
  }

  listDeadLetters(tx: D, projectionName: string, call: DialectCall): Promise<DeadLetter[]> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () =>
      listDeadLetters(statements.deadLetters, projectionName),
    );
  }

  deleteDeadLetter(
    tx: D,
    projectionName: string,
    globalPosition: number,
    call: DialectCall,
  ): Promise<boolean> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () =>
      deleteDeadLetter(statements.deadLetters, projectionName, globalPosition),
    );
  }

  // Like checkpoints, leases need no lock: a store transaction holds the write lock already.
  readLeases(tx: D, projectionName: string, call: DialectCall): Promise<ProjectionLeases> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => readLeases(statements.leases, projectionName));
  }

  saveLease(
    tx: D,
    projectionName: string,
    lease: ProjectionLease,
    call: DialectCall,
  ): Promise<void> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => saveLease(statements.leases, projectionName, lease));
  }

  deleteLease(tx: D, projectionName: string, key: string, call: DialectCall): Promise<void> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => deleteLease(statements.leases, projectionName, key));
  }

  lockLease(
    tx: D,
    projectionName: string,
    key: string,
    call: DialectCall,
  ): Promise<ProjectionLease | null> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => getLease(statements.leases, projectionName, key));
  }

  getLogStatus(tx: D, after: number | null, call: DialectCall): Promise<LogStatus> {
    const statements = this.statementsFor(tx);
    return this.run(statements, call, () => getLogStatus(statements.read, after));
  }

  migrate(): Promise<void> {
    const db = this.db;
    const connection = this.statementsFor(db).connection;
    const schemaSql = this.schemaSql;
    const checkVersion = (): void => {
      let found = 0;
      try {
        const value = db
          .prepare(`SELECT value FROM ${this.tables.meta} WHERE name = 'schema_version'`)
          .pluck()
          .get();
        found = typeof value === 'number' ? value : Number(value ?? 0);
      } catch (error) {
        // No meta table yet: a new database, or one created before schema versions.
        if (!/no such table/i.test(String((error as Error)?.message))) throw error;
      }
      if (found > SCHEMA_VERSION) throw new SchemaVersionError('SQLite', found, SCHEMA_VERSION);
    };
    return takeTurn(connection, () => {
      if (db.inTransaction) {
        checkVersion();
        db.exec(schemaSql);
        return;
      }
      return whenBegun(connection.begin(undefined, 'migrate'), () => {
        try {
          checkVersion();
          db.exec(schemaSql);
          connection.commit();
        } catch (error) {
          connection.rollback();
          throw error;
        }
      });
    });
  }

  /**
   * Hears the commits that appended events through any store on this `Database`: store
   * transactions announce theirs right after `COMMIT`, appends joined to a transaction the caller
   * opened once that transaction has ended. Commits of other connections or processes are not
   * heard: waits end at their timeout, and the projection processor polls.
   */
  async listen(handlers: CommitListenerHandlers): Promise<CommitListener> {
    const remove = connectionOf(this.db).addListener(handlers);
    return {
      async close() {
        remove();
      },
    };
  }

  /** Another connection's write lock still taken after the busy timeout: a transient error. */
  describeError(error: unknown): PupError | undefined {
    if (!isBusy(error)) return undefined;
    return new DatabaseError(this.name, error instanceof Error ? error.message : String(error), {
      cause: error,
      transient: true,
    });
  }

  async close(): Promise<void> {
    this.own = undefined;
    this.others = new WeakMap();
  }

  /**
   * Runs the synchronous `work` on the statements' connection: at once when the call joins a
   * store transaction; otherwise after the store transaction that owns the connection (if any)
   * has ended, alone (in the caller's own driver transaction when one is open, else in
   * autocommit).
   */
  private run<T>(
    statements: ConnectionStatements,
    call: DialectCall,
    work: () => T | Promise<T>,
  ): Promise<T> {
    return call.inStoreTransaction ? settle(work) : takeTurn(statements.connection, work);
  }

  private statementsFor(tx: SqliteDatabase): ConnectionStatements {
    if (tx === this.db) {
      this.own ??= new ConnectionStatements(tx, this.tables);
      return this.own;
    }
    let statements = this.others.get(tx);
    if (statements === undefined) {
      statements = new ConnectionStatements(tx, this.tables);
      this.others.set(tx, statements);
    }
    return statements;
  }
}

/** Throws when the caller gave the transaction up (core has already told it so). */
function throwIfGivenUp(scope: TransactionScope): void {
  const signal = scope.signal;
  if (signal?.aborted === true) {
    throw new OperationAbortedError('transaction', { cause: signal.reason });
  }
}

/**
 * Runs `work` alone on the connection: after the store transaction or outside call that owns it
 * (if any) is done, holding the connection's turn meanwhile (until the promise `work` returns,
 * if any, settles: it may wait for another connection's write lock).
 */
function takeTurn<T>(connection: Connection, work: () => T | Promise<T>): Promise<T> {
  const queue = connection.queue;
  if (!queue.tryLock()) return queue.lock().then(() => holdingTurn(queue, work));
  return holdingTurn(queue, work);
}

/** Runs `work` with the connection's turn taken, and gives the turn back once it is done. */
function holdingTurn<T>(queue: Connection['queue'], work: () => T | Promise<T>): Promise<T> {
  let result: T | Promise<T>;
  try {
    result = work();
  } catch (error) {
    queue.unlock();
    return Promise.reject(error);
  }
  if (result instanceof Promise) {
    return result.finally(() => queue.unlock());
  }
  queue.unlock();
  return Promise.resolve(result);
}

/** Runs the synchronous `work` once `begun` (from {@link Connection.begin}) has begun. */
function whenBegun<T>(begun: Promise<void> | undefined, work: () => T): T | Promise<T> {
  return begun === undefined ? work() : begun.then(work);
}

/** The value of `work` as a promise, or its error as a rejection. */
function settle<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** An append joined to the store transaction that owns the connection. */
function appendInStoreTransaction(
  statements: ConnectionStatements,
  append: PreparedAppend,
): AppendOutcome {
  const outcome = appendEvents(statements.append, append);
  // Announced when that transaction commits (see `SqliteDialect.transaction`).
  if (outcome.status === 'appended') statements.connection.appended = true;
  return outcome;
}

/**
 * An append given a `Database` outside any store transaction, holding the connection's turn: it
 * joins the caller's own driver transaction when one is open (announced once that one ends),
 * else runs in a `BEGIN IMMEDIATE` … `COMMIT` of its own, rolled back unless it appended.
 */
function appendAlone(
  statements: ConnectionStatements,
  append: PreparedAppend,
  signal?: AbortSignal,
): AppendOutcome | Promise<AppendOutcome> {
  const connection = statements.connection;
  if (statements.db.inTransaction) {
    const outcome = appendEvents(statements.append, append);
    if (outcome.status === 'appended') connection.announceAfterForeignCommit();
    return outcome;
  }
  return whenBegun(connection.begin(signal, 'appendToStream'), () =>
    appendBegun(statements, append),
  );
}

/** The append of {@link appendAlone} in the transaction it has just begun. */
function appendBegun(statements: ConnectionStatements, append: PreparedAppend): AppendOutcome {
  const connection = statements.connection;
  let outcome: AppendOutcome;
  try {
    outcome = appendEvents(statements.append, append);
    if (outcome.status === 'appended') connection.commit();
    else connection.rollback();
  } catch (error) {
    connection.rollback();
    throw error;
  }
  if (outcome.status === 'appended') connection.announceCommit();
  return outcome;
}
