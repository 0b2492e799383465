import type {
  AppendResult,
  Checkpoint,
  EventStore,
  ExpectedVersion,
  GetCheckpointOptions,
  NewEvent,
  PersistedEvent,
  ProjectionBatch,
  ReadEventsOptions,
  ReadProjectionBatchOptions,
  Stream,
  StreamRef,
  TableNames,
  VersionRange,
  WaitForEventsOptions,
} from '@pup/core';
import { type AppendStatements, appendEvents, appendStatements } from './append.js';
import {
  type CheckpointStatements,
  checkpointStatements,
  getCheckpoint,
  saveCheckpoint,
} from './checkpoints.js';
import { type PostgresDriver, statement } from './driver.js';
import { WakeUps } from './listen.js';
import { CommitNotifier } from './notify.js';
import type { ResolvedPostgresOptions } from './options.js';
import {
  type ReadStatements,
  readAggregateStream,
  readEvents,
  readProjectionBatch,
  readStatements,
} from './read.js';
import { postgresSchemaSql } from './schema.js';
import {
  getLogStatus,
  getOldestRunningTransaction,
  HoldBackMonitor,
  type PostgresLogStatus,
  type RunningTransaction,
  type StatusStatements,
  statusStatements,
} from './status.js';

/** Key of the advisory lock that serializes concurrent `migrate()` calls ("pup_migr" in ASCII). */
const MIGRATE_LOCK_KEY = '8103657445598488946';

/** A pup event store on PostgreSQL; `Tx` is the driver's own transaction handle. */
export interface PostgresEventStore<Tx> extends EventStore<Tx> {
  /** The validated table names the store uses. */
  readonly tables: Readonly<TableNames>;
  /**
   * Resolves when an append may have committed new events (through LISTEN/NOTIFY), after
   * `timeoutMs`, or when `signal` aborts, whichever comes first. The first call opens a dedicated
   * LISTEN connection, kept until {@link close}.
   */
  waitForEvents(options: WaitForEventsOptions): Promise<void>;
  /**
   * Where the readable log ends, how many readable events lie after `after`, and the oldest
   * running transaction that holds readers back.
   */
  getLogStatus(tx: Tx, options?: { after?: Checkpoint | null }): Promise<PostgresLogStatus>;
  /**
   * The oldest transaction still running on the server (readers wait for it), read on a pool
   * connection; `null` when none runs.
   */
  getOldestRunningTransaction(): Promise<RunningTransaction | null>;
}

/** A transaction handle usable as a WeakMap key (pg clients are objects, postgres.js' functions). */
function handleKey(tx: unknown): object | undefined {
  return (typeof tx === 'object' && tx !== null) || typeof tx === 'function'
    ? (tx as object)
    : undefined;
}

/**
 * Builds the store on top of a driver; the SQL and logic are the same for every driver.
 * @internal
 */
export function createPostgresEventStore<Tx>(
  driver: PostgresDriver<Tx>,
  options: ResolvedPostgresOptions,
): PostgresEventStore<Tx> {
  const { sql: tables, serializer, logger } = options;
  const append: AppendStatements = appendStatements(tables);
  const read: ReadStatements = readStatements(tables);
  const checkpoints: CheckpointStatements = checkpointStatements(
    tables,
    options.asyncProjectionCommit,
  );
  const status: StatusStatements = statusStatements(tables);
  const migrateLock = statement(`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK_KEY})`);
  const wakeUps = new WakeUps(driver, tables.channel, logger);
  const holdBack = new HoldBackMonitor(driver, status, logger, options.holdBackWarningMs);
  const schemaSql = postgresSchemaSql(options.tables);
  const notifier = new CommitNotifier(driver, tables.channel, logger);
  /** Transactions opened by `transaction()`, and whether they appended. */
  const managed = new WeakMap<object, { appended: boolean }>();

  return {
    tables: Object.freeze({ ...options.tables }),

    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      if (!options.notify) return driver.transaction(fn);
      const state = { appended: false };
      const result = await driver.transaction(
        async (tx) => {
          const key = handleKey(tx);
          if (key !== undefined) managed.set(key, state);
          try {
            return await fn(tx);
          } finally {
            if (key !== undefined) managed.delete(key);
          }
        },
        () => (state.appended && notifier.claim() ? tables.channel : undefined),
      );
      if (state.appended && !driver.notifiesWithCommit) notifier.notify();
      return result;
    },

    async append(
      tx: Tx,
      expected: ExpectedVersion,
      events: readonly NewEvent[],
    ): Promise<AppendResult> {
      const key = handleKey(tx);
      const state = key === undefined ? undefined : managed.get(key);
      // In our own transactions the notification follows the commit (see CommitNotifier); in a
      // transaction the caller opened, the append statement notifies, delivered at its commit.
      const result = await appendEvents(
        driver,
        tables,
        append,
        serializer,
        tx,
        expected,
        events,
        options.notify && state === undefined,
      );
      if (state !== undefined) state.appended = true;
      return result;
    },

    async readEvents(tx: Tx, readOptions: ReadEventsOptions): Promise<PersistedEvent[]> {
      const events = await readEvents(driver, read, serializer, tx, readOptions);
      if (logger !== undefined) holdBack.afterRead(events.length, readOptions.limit);
      return events;
    },

    async readProjectionBatch(
      tx: Tx,
      projectionName: string,
      batchOptions: ReadProjectionBatchOptions,
    ): Promise<ProjectionBatch> {
      const batch = await readProjectionBatch(
        driver,
        read,
        checkpoints,
        serializer,
        tx,
        projectionName,
        batchOptions,
      );
      if (logger !== undefined) holdBack.afterRead(batch.events.length, batchOptions.limit);
      return batch;
    },

    readAggregateStream(tx: Tx, stream: StreamRef, range?: VersionRange): Promise<Stream> {
      return readAggregateStream(driver, read, serializer, tx, stream, range);
    },

    getCheckpoint(
      tx: Tx,
      projectionName: string,
      options?: GetCheckpointOptions,
    ): Promise<Checkpoint | null> {
      return getCheckpoint(driver, checkpoints, tx, projectionName, options);
    },

    saveCheckpoint(tx: Tx, projectionName: string, checkpoint: Checkpoint): Promise<void> {
      return saveCheckpoint(driver, checkpoints, tx, projectionName, checkpoint);
    },

    async migrate(): Promise<void> {
      await driver.transaction(async (tx) => {
        await driver.query(tx, migrateLock, []);
        await driver.script(tx, schemaSql);
      });
      logger?.info('Event store schema is up to date', { tables: options.tables });
    },

    waitForEvents(waitOptions: WaitForEventsOptions): Promise<void> {
      return wakeUps.wait(waitOptions);
    },

    getLogStatus(
      tx: Tx,
      statusOptions?: { after?: Checkpoint | null },
    ): Promise<PostgresLogStatus> {
      return getLogStatus(driver, status, tx, statusOptions);
    },

    getOldestRunningTransaction(): Promise<RunningTransaction | null> {
      return getOldestRunningTransaction(driver, status);
    },

    async close(): Promise<void> {
      await Promise.all([wakeUps.close(), holdBack.close(), notifier.close()]);
    },
  };
}
