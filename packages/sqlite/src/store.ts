import {
  type AppendResult,
  buildStream,
  type Checkpoint,
  type EventStore,
  type ExpectedVersion,
  InvalidArgumentError,
  InvalidConfigError,
  type LogStatus,
  type NewEvent,
  type PersistedEvent,
  parsePositionCheckpoint,
  prepareAppend,
  type ReadEventsOptions,
  StoreClosedError,
  type Stream,
  type StreamRef,
  type VersionRange,
  validateCheckpoint,
  validateProjectionName,
  validateReadEventsOptions,
  validateStreamRef,
  validateVersionRange,
  type WaitForEventsOptions,
} from '@pup/core';
import { AppendStatements, appendEvents } from './append.js';
import { CheckpointStatements, loadCheckpoint, storeCheckpoint } from './checkpoints.js';
import type { SqliteDatabase } from './driver.js';
import { resolveSqliteOptions, type SqliteEventStoreOptions } from './options.js';
import { ReadStatements, readEventsAfter, readLogStatus, readStreamRange } from './read.js';
import { type QuotedTableNames, quoteSqliteTableNames, sqliteMigrationSql } from './schema.js';
import { runOnConnection, runTransaction } from './transaction.js';
import { EventNotifier } from './wait-for-events.js';

/**
 * The SQLite event store. Its transaction handle is the better-sqlite3 `Database` itself, so SQL
 * of your own runs in the same transaction as an append:
 *
 * @example
 * await store.transaction(async (tx) => {
 *   await store.append(tx, ExpectedVersion.noStream(), [event]);
 *   tx.prepare('UPDATE outbox SET sent = 0 WHERE id = ?').run(id);
 * });
 */
export interface SqliteEventStore<D extends SqliteDatabase = SqliteDatabase> extends EventStore<D> {
  /**
   * Resolves right after a transaction that appended through a store on the same connection
   * commits, after `timeoutMs`, or when `signal` aborts, whichever comes first. Commits made by
   * other connections or processes do not wake it: callers poll, as the projection processor does.
   */
  waitForEvents(options: WaitForEventsOptions): Promise<void>;
  /** Where the log ends, and how many events lie after `options.after`. */
  getLogStatus(tx: D, options?: { after?: Checkpoint | null }): Promise<LogStatus>;
}

/** The prepared statements of one store on one connection, each group made on first use. */
class ConnectionStatements {
  private appendGroup: AppendStatements | undefined;
  private readGroup: ReadStatements | undefined;
  private checkpointGroup: CheckpointStatements | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly tables: QuotedTableNames,
  ) {}

  get append(): AppendStatements {
    if (this.appendGroup === undefined) {
      this.appendGroup = new AppendStatements(this.db, this.tables);
    }
    return this.appendGroup;
  }

  get read(): ReadStatements {
    if (this.readGroup === undefined) this.readGroup = new ReadStatements(this.db, this.tables);
    return this.readGroup;
  }

  get checkpoints(): CheckpointStatements {
    if (this.checkpointGroup === undefined) {
      this.checkpointGroup = new CheckpointStatements(this.db, this.tables);
    }
    return this.checkpointGroup;
  }
}

const closedError = (): Error => new StoreClosedError('SQLite event store');

function isDatabase(value: unknown): value is SqliteDatabase {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SqliteDatabase).prepare === 'function' &&
    typeof (value as SqliteDatabase).exec === 'function' &&
    typeof (value as SqliteDatabase).pragma === 'function'
  );
}

/**
 * Creates an event store on a better-sqlite3 `Database` (a file or `:memory:`). Options are
 * validated before any SQL runs; then the connection gets its `busy_timeout` and, for a file
 * database, write-ahead logging. Call `migrate()` once to create the tables.
 *
 * Transactions of the store are queued on the connection one at a time (`BEGIN IMMEDIATE`), so
 * global positions follow commit order. `close()` releases the store's prepared statements and
 * timers; the `Database` stays open and remains yours to close.
 *
 * @example
 * import Database from 'better-sqlite3';
 * import { ExpectedVersion } from '@pup/core';
 * import { createSqliteEventStore } from '@pup/sqlite';
 *
 * const db = new Database('app.db');
 * const store = createSqliteEventStore(db);
 * await store.migrate();
 * await store.transaction((tx) =>
 *   store.append(tx, ExpectedVersion.noStream(), [
 *     { boundedContext: 'billing', aggregateType: 'Invoice', aggregateId: 'inv-1',
 *       eventType: 'InvoiceIssued', payload: { total: 42 } },
 *   ]),
 * );
 *
 * @throws {InvalidConfigError} when `db` is not a better-sqlite3 `Database` or an option is invalid.
 */
export function createSqliteEventStore<D extends SqliteDatabase>(
  db: D,
  options?: SqliteEventStoreOptions,
): SqliteEventStore<D> {
  const resolved = resolveSqliteOptions(options);
  if (!isDatabase(db)) {
    throw new InvalidConfigError('db', 'must be a better-sqlite3 Database');
  }
  const { serializer, logger } = resolved;
  const tables = quoteSqliteTableNames(resolved.tables);
  const migrationSql = sqliteMigrationSql(resolved.tables);

  if (resolved.busyTimeoutMs !== null) {
    db.pragma(`busy_timeout = ${resolved.busyTimeoutMs}`);
  }
  if (resolved.wal && !db.memory && !db.readonly && !db.inTransaction) {
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      logger?.debug('pup: switched SQLite journal mode', { journalMode: mode });
    }
  }

  const notifier = new EventNotifier(db);
  let closed = false;
  let own: ConnectionStatements | undefined;
  let others = new WeakMap<SqliteDatabase, ConnectionStatements>();

  const statementsFor = (tx: D): ConnectionStatements => {
    if (closed) throw closedError();
    if (tx === db) {
      if (own === undefined) own = new ConnectionStatements(db, tables);
      return own;
    }
    if (!isDatabase(tx)) {
      throw new InvalidArgumentError('tx', 'must be a better-sqlite3 Database');
    }
    let statements = others.get(tx);
    if (statements === undefined) {
      statements = new ConnectionStatements(tx, tables);
      others.set(tx, statements);
    }
    return statements;
  };

  return {
    transaction<T>(fn: (tx: D) => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(closedError());
      if (typeof fn !== 'function') {
        return Promise.reject(new InvalidArgumentError('fn', 'must be a function'));
      }
      return runTransaction(db, fn);
    },

    async append(
      tx: D,
      expected: ExpectedVersion,
      events: readonly NewEvent[],
    ): Promise<AppendResult> {
      const prepared = prepareAppend(expected, events, serializer);
      const statements = statementsFor(tx).append;
      return runOnConnection(tx, true, true, () => appendEvents(statements, prepared));
    },

    async readEvents(tx: D, options: ReadEventsOptions): Promise<PersistedEvent[]> {
      const { after, limit } = validateReadEventsOptions(options);
      const afterPosition = parsePositionCheckpoint(after);
      const statements = statementsFor(tx).read;
      return runOnConnection(tx, false, false, () =>
        readEventsAfter(statements, serializer, afterPosition, limit),
      );
    },

    async readAggregateStream(tx: D, stream: StreamRef, range?: VersionRange): Promise<Stream> {
      const ref = validateStreamRef(stream);
      const { fromVersion, toVersion } = validateVersionRange(range);
      const statements = statementsFor(tx).read;
      const events = await runOnConnection(tx, false, false, () =>
        readStreamRange(statements, serializer, ref, fromVersion, toVersion),
      );
      return buildStream(ref, events);
    },

    async getCheckpoint(tx: D, projectionName: string): Promise<Checkpoint | null> {
      validateProjectionName(projectionName);
      const statements = statementsFor(tx).checkpoints;
      return runOnConnection(tx, false, false, () => loadCheckpoint(statements, projectionName));
    },

    async saveCheckpoint(tx: D, projectionName: string, checkpoint: Checkpoint): Promise<void> {
      validateProjectionName(projectionName);
      validateCheckpoint(checkpoint);
      const statements = statementsFor(tx).checkpoints;
      return runOnConnection(tx, false, false, () =>
        storeCheckpoint(statements, projectionName, checkpoint),
      );
    },

    async getLogStatus(tx: D, options?: { after?: Checkpoint | null }): Promise<LogStatus> {
      if (options !== undefined && (typeof options !== 'object' || options === null)) {
        throw new InvalidArgumentError('options', 'getLogStatus takes { after? }');
      }
      const afterPosition = parsePositionCheckpoint(options?.after ?? null);
      const statements = statementsFor(tx).read;
      return runOnConnection(tx, false, false, () => readLogStatus(statements, afterPosition));
    },

    async migrate(): Promise<void> {
      if (closed) throw closedError();
      await runOnConnection(db, true, false, () => db.exec(migrationSql));
      logger?.info('pup: SQLite schema is up to date', { tables: resolved.tables });
    },

    async waitForEvents(waitOptions: WaitForEventsOptions): Promise<void> {
      if (closed) return;
      return notifier.wait(waitOptions);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      notifier.close();
      own = undefined;
      others = new WeakMap();
    },
  };
}
