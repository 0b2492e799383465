import type {
  Checkpoint,
  DeadLetter,
  ProjectionLease,
  ProjectionLeases,
  PupError,
  StreamRef,
} from '@pup/core';
import type {
  AppendOutcome,
  CommitListener,
  CommitListenerHandlers,
  DialectCall,
  DialectProjectionBatch,
  DialectSegmentBatch,
  EventStoreDialect,
  PreparedAppend,
  SegmentFilter,
  StoredEventRow,
  TransactionScope,
} from '@pup/core/adapter';
import { type AppendStatements, append, appendStatements } from './append.js';
import { type LogPosition, postgresCheckpoints } from './checkpoint-token.js';
import {
  type CheckpointStatements,
  checkpointStatements,
  deleteCheckpoint,
  getCheckpoint,
  listCheckpoints,
  saveCheckpoint,
} from './checkpoints.js';
import { DATABASE, type PostgresDriver } from './driver.js';
import { describeDriverError } from './errors.js';
import {
  deleteDeadLetter,
  deleteLease,
  type LeaseStatements,
  leaseStatements,
  listDeadLetters,
  lockLease,
  readLeases,
  saveDeadLetter,
  saveLease,
} from './leases.js';
import { CommitNotifier } from './notify.js';
import type { ResolvedPostgresOptions } from './options.js';
import {
  type ReadStatements,
  readEventAt,
  readEvents,
  readProjectionBatch,
  readStatements,
  readStream,
} from './read.js';
import { migrate, type PostgresTables, postgresSchemaSql } from './schema.js';
import {
  getLogStatus,
  getOldestRunningTransaction,
  HoldBackMonitor,
  type PostgresLogStatus,
  type RunningTransaction,
  type StatusStatements,
  statusStatements,
} from './status.js';

/**
 * The database work of the PostgreSQL store, written once for both drivers against
 * {@link PostgresDriver}; core's `createEventStore` builds the store from it.
 * @internal
 */
export class PostgresDialect<Tx> implements EventStoreDialect<Tx, LogPosition, PostgresLogStatus> {
  readonly name = DATABASE;
  readonly checkpoints = postgresCheckpoints;
  /**
   * Stores on one pool (or postgres.js instance) nest into each other's transactions: the handle
   * of one is a connection of the other's pool, so a nested call needs no second connection.
   */
  readonly scopeKey: object;
  private readonly tables: PostgresTables;
  private readonly appendStatements: AppendStatements;
  private readonly readStatements: ReadStatements;
  private readonly checkpointStatements: CheckpointStatements;
  private readonly leaseStatements: LeaseStatements;
  private readonly statusStatements: StatusStatements;
  private readonly schemaSql: string;
  private readonly notify: boolean;
  private readonly notifier: CommitNotifier;
  private readonly holdBack: HoldBackMonitor;
  /** Whether the hold-back check runs after reads (only with a logger). */
  private readonly watchHoldBack: boolean;

  constructor(
    private readonly driver: PostgresDriver<Tx>,
    pool: object,
    options: ResolvedPostgresOptions,
  ) {
    const tables = options.sql;
    this.scopeKey = pool;
    this.tables = tables;
    this.appendStatements = appendStatements(tables);
    this.readStatements = readStatements(tables);
    this.checkpointStatements = checkpointStatements(tables, options.asyncProjectionCommit);
    this.statusStatements = statusStatements(tables);
    this.leaseStatements = leaseStatements(tables);
    this.schemaSql = postgresSchemaSql(options.tables);
    this.notify = options.notify;
    this.notifier = new CommitNotifier(driver, tables.channel, options.logger);
    this.holdBack = new HoldBackMonitor(
      driver,
      this.statusStatements,
      options.logger,
      options.holdBackWarningMs,
    );
    this.watchHoldBack = options.logger !== undefined;
  }

  isTransaction(tx: unknown): boolean {
    return this.driver.isTransaction(tx);
  }

  /**
   * With notifications on, a transaction that appended notifies after its commit (see
   * {@link CommitNotifier}): with the COMMIT itself on `pg`, from the pool on postgres.js. A
   * transaction the caller gave up (`scope.signal`) never commits.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>, scope: TransactionScope): Promise<T> {
    const { driver, notifier } = this;
    if (!this.notify) return driver.transaction(fn, { signal: scope.signal });
    const channel = this.tables.channel;
    const result = await driver.transaction(fn, {
      notifyOnCommit: () => (scope.appended && notifier.claim() ? channel : undefined),
      signal: scope.signal,
    });
    if (scope.appended && !driver.notifiesWithCommit) notifier.notify();
    return result;
  }

  savepoint<T>(tx: Tx, name: string, fn: () => Promise<T>): Promise<T> {
    return this.driver.savepoint(tx, name, fn);
  }

  /**
   * In a transaction this store's `transaction()` opened, the notification follows the commit;
   * in any other (the caller's own, or another store's), the append statement notifies, and
   * PostgreSQL delivers it at that transaction's commit.
   */
  append(tx: Tx, prepared: PreparedAppend, call: DialectCall): Promise<AppendOutcome> {
    const { driver } = this;
    return append(
      driver,
      this.tables,
      this.appendStatements,
      (statement, params) => driver.query(tx, statement, params),
      prepared,
      this.notify && !call.ownTransaction,
    );
  }

  /**
   * The append statement alone, in autocommit on a pool connection: one round trip. The
   * notification follows from the pool (see {@link CommitNotifier}). The statement is its own
   * commit, so a connection lost once it was sent may have committed it.
   */
  async appendToStream(prepared: PreparedAppend): Promise<AppendOutcome> {
    const { driver } = this;
    let outcome: AppendOutcome;
    try {
      outcome = await append(
        driver,
        this.tables,
        this.appendStatements,
        (statement, params) => driver.queryPool(statement, params),
        prepared,
        false,
      );
    } catch (error) {
      throw describeDriverError(driver, error, true) ?? error;
    }
    if (outcome.status === 'appended' && this.notify) this.notifier.notify();
    return outcome;
  }

  async readEvents(tx: Tx, after: LogPosition | null, limit: number): Promise<StoredEventRow[]> {
    const rows = await readEvents(this.driver, this.readStatements, tx, after, limit);
    if (this.watchHoldBack) this.holdBack.afterRead(rows.length, limit);
    return rows;
  }

  readEventAt(tx: Tx, globalPosition: number): Promise<StoredEventRow | null> {
    return readEventAt(this.driver, this.readStatements, tx, globalPosition);
  }

  readStream(
    tx: Tx,
    stream: StreamRef,
    fromVersion: number,
    toVersion: number | null,
  ): Promise<StoredEventRow[]> {
    return readStream(this.driver, this.readStatements, tx, stream, fromVersion, toVersion);
  }

  getCheckpoint(tx: Tx, projectionName: string, lock: boolean): Promise<Checkpoint | null> {
    return getCheckpoint(this.driver, this.checkpointStatements, tx, projectionName, lock);
  }

  saveCheckpoint(tx: Tx, projectionName: string, checkpoint: Checkpoint): Promise<void> {
    return saveCheckpoint(this.driver, this.checkpointStatements, tx, projectionName, checkpoint);
  }

  deleteCheckpoint(tx: Tx, projectionName: string): Promise<boolean> {
    return deleteCheckpoint(this.driver, this.checkpointStatements, tx, projectionName);
  }

  listCheckpoints(tx: Tx): Promise<{ projectionName: string; checkpoint: Checkpoint }[]> {
    return listCheckpoints(this.driver, this.checkpointStatements, tx);
  }

  readProjectionBatch(
    tx: Tx,
    projectionName: string,
    limit: number,
  ): Promise<DialectProjectionBatch> {
    return this.readBatch(tx, projectionName, limit);
  }

  readSegmentBatch(
    tx: Tx,
    projectionName: string,
    limit: number,
    filter: SegmentFilter,
  ): Promise<DialectSegmentBatch> {
    return this.readBatch(tx, projectionName, limit, filter);
  }

  private async readBatch(
    tx: Tx,
    projectionName: string,
    limit: number,
    filter?: SegmentFilter,
  ): Promise<DialectSegmentBatch> {
    const batch = await readProjectionBatch(
      this.driver,
      this.readStatements,
      this.checkpointStatements,
      tx,
      projectionName,
      limit,
      filter,
    );
    if (this.watchHoldBack) this.holdBack.afterRead(batch.scanned, limit);
    return batch;
  }

  saveDeadLetter(tx: Tx, deadLetter: DeadLetter): Promise<void> {
    return saveDeadLetter(this.driver, this.leaseStatements, tx, deadLetter);
  }

  listDeadLetters(tx: Tx, projectionName: string): Promise<DeadLetter[]> {
    return listDeadLetters(this.driver, this.leaseStatements, tx, projectionName);
  }

  deleteDeadLetter(tx: Tx, projectionName: string, globalPosition: number): Promise<boolean> {
    return deleteDeadLetter(this.driver, this.leaseStatements, tx, projectionName, globalPosition);
  }

  readLeases(tx: Tx, projectionName: string): Promise<ProjectionLeases> {
    return readLeases(this.driver, this.leaseStatements, tx, projectionName);
  }

  saveLease(tx: Tx, projectionName: string, lease: ProjectionLease): Promise<void> {
    return saveLease(this.driver, this.leaseStatements, tx, projectionName, lease);
  }

  deleteLease(tx: Tx, projectionName: string, key: string): Promise<void> {
    return deleteLease(this.driver, this.leaseStatements, tx, projectionName, key);
  }

  lockLease(tx: Tx, projectionName: string, key: string): Promise<ProjectionLease | null> {
    return lockLease(this.driver, this.leaseStatements, tx, projectionName, key);
  }

  getLogStatus(tx: Tx, after: LogPosition | null): Promise<PostgresLogStatus> {
    return getLogStatus(this.driver, this.statusStatements, tx, after);
  }

  /** The oldest running transaction, read on a pool connection. */
  getOldestRunningTransaction(): Promise<RunningTransaction | null> {
    return getOldestRunningTransaction(this.driver, this.statusStatements);
  }

  migrate(): Promise<void> {
    return migrate(this.driver, this.tables, this.schemaSql);
  }

  /** LISTEN on the store's channel, on a connection of its own. */
  listen(handlers: CommitListenerHandlers): Promise<CommitListener> {
    return this.driver.listen(this.tables.channel, handlers);
  }

  describeError(error: unknown): PupError | undefined {
    return describeDriverError(this.driver, error);
  }

  async close(): Promise<void> {
    await Promise.all([this.holdBack.close(), this.notifier.close()]);
  }
}
