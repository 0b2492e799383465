// An event store with truly concurrent transactions, written the way a third party writes an
// adapter: an EventStoreDialect (database work only) handed to createEventStore from
// @pup/core/adapter. Core's own stores queue their transactions, so this one is what exercises
// the conformance tests that need two transactions open at once.
import {
  type AppendOutcome,
  type CompleteEventStore,
  createEventStore,
  type EventStoreDialect,
  Mutex,
  type PreparedAppend,
  positionCheckpoint,
  positionCheckpoints,
  resolveEventStoreOptions,
  type StoredEventRow,
} from '../../src/adapter/index.js';
import type { Checkpoint, EventStoreOptions, LogStatus, StreamRef } from '../../src/index.js';

/** The transaction handle of the concurrent store. */
export class ConcurrentTransaction {
  open = true;
  /** Rows appended by this transaction, in position order, not yet committed. */
  readonly rows: StoredEventRow[] = [];
  /** Stream versions after this transaction's appends. */
  readonly heads = new Map<string, number>();
  readonly eventIds = new Set<string>();
  readonly checkpoints = new Map<string, Checkpoint>();
  /** Locks held until the transaction ends, as row locks are in SQL. */
  readonly locks = new Set<Mutex>();
  /** The lowest position this transaction allocated (it holds readers back while open). */
  lowestPosition: number | undefined;
}

/** Row counts of what is committed. */
export interface ConcurrentRowCounts {
  events: number;
  aggregateHeads: number;
  checkpoints: number;
}

/** Options of {@link createConcurrentEventStore}. */
export interface ConcurrentEventStoreOptions extends EventStoreOptions {
  /**
   * Hide committed events at or after the lowest position a still-open transaction holds, as
   * PostgreSQL's adapter does with transaction ids. Without it the store has the classic ordering
   * bug: a reader can pass a position that a slow transaction commits later.
   * @default true
   */
  readHorizon?: boolean;
}

/** The concurrent store plus an inspection helper. */
export interface ConcurrentEventStore extends CompleteEventStore<ConcurrentTransaction> {
  /** Counts what is committed, bypassing the read methods. */
  countRows(): ConcurrentRowCounts;
}

const streamKey = (s: StreamRef): string =>
  JSON.stringify([s.boundedContext, s.aggregateType, s.aggregateId]);

/**
 * Positions are allocated at append time and rows become visible at commit; transactions run side
 * by side, serialized only by per-stream, per-event-id and per-checkpoint locks held until commit.
 * Savepoints restore the transaction's buffers; the locks they took are kept, as in SQL.
 */
class ConcurrentDialect implements EventStoreDialect<ConcurrentTransaction, number> {
  readonly name = 'concurrent test store';
  readonly checkpoints = positionCheckpoints;
  private readonly log: StoredEventRow[] = [];
  private readonly heads = new Map<string, number>();
  private readonly eventIds = new Set<string>();
  private readonly savedCheckpoints = new Map<string, Checkpoint>();
  private readonly locks = new Map<string, Mutex>();
  private readonly open = new Set<ConcurrentTransaction>();
  private nextPosition = 1;

  constructor(private readonly readHorizon: boolean) {}

  isTransaction(tx: unknown): boolean {
    return tx instanceof ConcurrentTransaction && tx.open;
  }

  async transaction<T>(fn: (tx: ConcurrentTransaction) => Promise<T>): Promise<T> {
    const tx = new ConcurrentTransaction();
    this.open.add(tx);
    try {
      const result = await fn(tx);
      this.commit(tx);
      return result;
    } finally {
      tx.open = false;
      this.open.delete(tx);
      for (const lock of tx.locks) lock.unlock();
    }
  }

  private commit(tx: ConcurrentTransaction): void {
    for (const row of tx.rows) {
      this.eventIds.add(row.eventId);
      this.heads.set(streamKey(row), row.aggregateVersion);
      let i = this.log.length;
      while (i > 0 && this.log[i - 1]!.globalPosition > row.globalPosition) i--;
      this.log.splice(i, 0, row);
    }
    for (const [name, checkpoint] of tx.checkpoints) this.savedCheckpoints.set(name, checkpoint);
  }

  async savepoint<T>(tx: ConcurrentTransaction, _name: string, fn: () => Promise<T>): Promise<T> {
    const rows = tx.rows.length;
    const heads = new Map(tx.heads);
    const eventIds = new Set(tx.eventIds);
    const checkpoints = new Map(tx.checkpoints);
    try {
      return await fn();
    } catch (error) {
      tx.rows.length = rows;
      restore(tx.heads, heads);
      tx.eventIds.clear();
      for (const id of eventIds) tx.eventIds.add(id);
      restore(tx.checkpoints, checkpoints);
      throw error;
    }
  }

  private async lock(tx: ConcurrentTransaction, key: string): Promise<void> {
    let mutex = this.locks.get(key);
    if (mutex === undefined) {
      mutex = new Mutex();
      this.locks.set(key, mutex);
    }
    if (tx.locks.has(mutex)) return;
    await mutex.lock();
    tx.locks.add(mutex);
  }

  async append(tx: ConcurrentTransaction, append: PreparedAppend): Promise<AppendOutcome> {
    const key = streamKey(append.stream);
    await this.lock(tx, `stream:${key}`);
    const fromVersion = tx.heads.get(key) ?? this.heads.get(key) ?? 0;
    if (!append.expected.matches(fromVersion)) {
      return { status: 'versionConflict', actualVersion: fromVersion };
    }
    for (const event of append.events) {
      await this.lock(tx, `event:${event.eventId}`);
      if (this.eventIds.has(event.eventId) || tx.eventIds.has(event.eventId)) {
        return { status: 'duplicateEventId', eventId: event.eventId };
      }
    }
    const globalPositions: number[] = [];
    append.events.forEach((event, i) => {
      const globalPosition = this.nextPosition++;
      globalPositions.push(globalPosition);
      tx.eventIds.add(event.eventId);
      tx.rows.push({
        globalPosition,
        checkpoint: positionCheckpoint(globalPosition),
        ...append.stream,
        aggregateVersion: fromVersion + i + 1,
        eventId: event.eventId,
        eventType: event.eventType,
        eventVersion: event.eventVersion,
        payload: event.payloadBytes.slice(),
        metadata: event.metadataJson,
        traceId: event.traceId,
        correlationId: event.correlationId,
        causationId: event.causationId,
        createdAt: event.createdAt.getTime(),
      });
    });
    tx.lowestPosition ??= globalPositions[0];
    tx.heads.set(key, fromVersion + append.events.length);
    return {
      status: 'appended',
      fromVersion,
      globalPositions,
      checkpoints: globalPositions.map(positionCheckpoint),
    };
  }

  async readEvents(tx: ConcurrentTransaction, after: number | null, limit: number) {
    let horizon = Number.POSITIVE_INFINITY;
    if (this.readHorizon) {
      for (const other of this.open) {
        if (other !== tx && other.lowestPosition !== undefined) {
          horizon = Math.min(horizon, other.lowestPosition);
        }
      }
    }
    const rows: StoredEventRow[] = [];
    for (const row of this.log) {
      if (rows.length === limit || row.globalPosition >= horizon) break;
      if (row.globalPosition > (after ?? 0)) rows.push(copy(row));
    }
    return rows;
  }

  async readStream(
    tx: ConcurrentTransaction,
    stream: StreamRef,
    fromVersion: number,
    toVersion: number | null,
  ) {
    const key = streamKey(stream);
    return [...this.log, ...tx.rows]
      .filter(
        (row) =>
          streamKey(row) === key &&
          row.aggregateVersion >= fromVersion &&
          (toVersion === null || row.aggregateVersion <= toVersion),
      )
      .sort((a, b) => a.aggregateVersion - b.aggregateVersion)
      .map(copy);
  }

  async getCheckpoint(tx: ConcurrentTransaction, projectionName: string, lock: boolean) {
    if (lock) await this.lock(tx, `checkpoint:${projectionName}`);
    return tx.checkpoints.get(projectionName) ?? this.savedCheckpoints.get(projectionName) ?? null;
  }

  async saveCheckpoint(tx: ConcurrentTransaction, projectionName: string, checkpoint: Checkpoint) {
    tx.checkpoints.set(projectionName, checkpoint);
  }

  async getLogStatus(_tx: ConcurrentTransaction, after: number | null): Promise<LogStatus> {
    const head = this.log[this.log.length - 1];
    return {
      headCheckpoint: head?.checkpoint ?? null,
      headPosition: head?.globalPosition ?? null,
      eventsAfter: this.log.filter((row) => row.globalPosition > (after ?? 0)).length,
    };
  }

  async migrate(): Promise<void> {}

  async close(): Promise<void> {}

  countRows(): ConcurrentRowCounts {
    return {
      events: this.log.length,
      aggregateHeads: this.heads.size,
      checkpoints: this.savedCheckpoints.size,
    };
  }
}

function restore<K, V>(target: Map<K, V>, saved: Map<K, V>): void {
  target.clear();
  for (const [key, value] of saved) target.set(key, value);
}

/** A copy of a stored row, so a caller mutating a payload read back cannot change the store. */
function copy(row: StoredEventRow): StoredEventRow {
  return { ...row, payload: row.payload.slice() };
}

/** Creates the concurrent test store. */
export function createConcurrentEventStore(
  options: ConcurrentEventStoreOptions = {},
): ConcurrentEventStore {
  const { readHorizon = true, ...storeOptions } = options;
  const resolved = resolveEventStoreOptions(storeOptions);
  const dialect = new ConcurrentDialect(readHorizon);
  return createEventStore(dialect, resolved, () => ({ countRows: () => dialect.countRows() }));
}
