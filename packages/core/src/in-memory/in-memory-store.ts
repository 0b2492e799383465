import { type CompleteEventStore, createEventStore } from '../adapter/create-event-store.js';
import type {
  AppendOutcome,
  EventStoreDialect,
  StoredEventRow,
  TransactionScope,
} from '../adapter/dialect.js';
import { positionCheckpoint, positionCheckpoints } from '../adapter/position-checkpoint.js';
import type { PreparedAppend } from '../append-input.js';
import { type EventStoreOptions, resolveEventStoreOptions } from '../options.js';
import type { DomainEvent, PersistedEventOf } from '../typed-events.js';
import type {
  Checkpoint,
  DeadLetter,
  LogStatus,
  ProjectionLease,
  ProjectionLeases,
  SavedCheckpoint,
  StreamRef,
} from '../types.js';

/**
 * The transaction handle of the in-memory store. Only valid inside the `store.transaction`
 * callback that received it.
 */
export interface InMemoryTransaction {
  /** Whether the transaction is still open. */
  readonly active: boolean;
}

/** Row counts of the in-memory store's three "tables", read without going through `read*`. */
export interface InMemoryRowCounts {
  events: number;
  aggregateHeads: number;
  checkpoints: number;
}

/**
 * The in-memory store: an {@link EventStore} plus a few inspection helpers for tests. `E`
 * describes its events (see `DomainEvent`).
 */
export interface InMemoryEventStore<E extends object = DomainEvent>
  extends CompleteEventStore<InMemoryTransaction, LogStatus, E> {
  /** Counts what is committed, bypassing the read methods (for "nothing was written" checks). */
  countRows(): InMemoryRowCounts;
  deleteCheckpoint(tx: InMemoryTransaction, projectionName: string): Promise<boolean>;
  listCheckpoints(tx: InMemoryTransaction): Promise<SavedCheckpoint[]>;
  readLeases(tx: InMemoryTransaction, projectionName: string): Promise<ProjectionLeases>;
  saveDeadLetter(tx: InMemoryTransaction, deadLetter: DeadLetter): Promise<void>;
  listDeadLetters(tx: InMemoryTransaction, projectionName: string): Promise<DeadLetter[]>;
  deleteDeadLetter(
    tx: InMemoryTransaction,
    projectionName: string,
    globalPosition: number,
  ): Promise<boolean>;
  readEventAtPosition(
    tx: InMemoryTransaction,
    globalPosition: number,
  ): Promise<PersistedEventOf<E> | null>;
  saveLease(tx: InMemoryTransaction, projectionName: string, lease: ProjectionLease): Promise<void>;
  deleteLease(tx: InMemoryTransaction, projectionName: string, key: string): Promise<void>;
  lockLease(
    tx: InMemoryTransaction,
    projectionName: string,
    key: string,
  ): Promise<ProjectionLease | null>;
}

/** Options of {@link createInMemoryEventStore}. Table names are validated but otherwise unused. */
export type InMemoryEventStoreOptions<E extends object = DomainEvent> = EventStoreOptions<E>;

type Undo = () => void;

class Transaction implements InMemoryTransaction {
  active = true;
  readonly undo: Undo[] = [];
}

const streamKey = (s: StreamRef): string =>
  JSON.stringify([s.boundedContext, s.aggregateType, s.aggregateId]);

/**
 * The in-memory "database": committed structures changed in place, with an undo log per
 * transaction. Transactions are queued one at a time, like SQLite's writers.
 */
class InMemoryDialect implements EventStoreDialect<InMemoryTransaction, number> {
  readonly name = 'in-memory';
  readonly checkpoints = positionCheckpoints;
  private readonly log: StoredEventRow[] = [];
  private readonly streams = new Map<string, StoredEventRow[]>();
  private readonly eventIds = new Set<string>();
  private readonly savedCheckpoints = new Map<string, Checkpoint>();
  private readonly leases = new Map<string, Map<string, ProjectionLease>>();
  private readonly deadLetters = new Map<string, DeadLetter>();
  private queue: Promise<unknown> = Promise.resolve();
  private nextPosition = 1;

  isTransaction(tx: unknown): boolean {
    return tx instanceof Transaction && tx.active;
  }

  transaction<T>(
    fn: (tx: InMemoryTransaction) => Promise<T>,
    _scope: TransactionScope,
  ): Promise<T> {
    const turn = this.queue.then(async () => {
      const tx = new Transaction();
      try {
        const result = await fn(tx);
        tx.active = false;
        return result;
      } catch (error) {
        this.rollbackTo(tx, 0);
        tx.active = false;
        throw error;
      }
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  async savepoint<T>(tx: InMemoryTransaction, _name: string, fn: () => Promise<T>): Promise<T> {
    const t = tx as Transaction;
    const mark = t.undo.length;
    try {
      return await fn();
    } catch (error) {
      this.rollbackTo(t, mark);
      throw error;
    }
  }

  private rollbackTo(tx: Transaction, mark: number): void {
    while (tx.undo.length > mark) tx.undo.pop()!();
  }

  async append(tx: InMemoryTransaction, append: PreparedAppend): Promise<AppendOutcome> {
    const t = tx as Transaction;
    const key = streamKey(append.stream);
    const existing = this.streams.get(key);
    const fromVersion = existing?.length ?? 0;
    if (!append.expected.matches(fromVersion)) {
      return { status: 'versionConflict', actualVersion: fromVersion };
    }
    for (const event of append.events) {
      if (this.eventIds.has(event.eventId)) {
        return { status: 'duplicateEventId', eventId: event.eventId };
      }
    }
    const rows = existing ?? [];
    if (existing === undefined) this.streams.set(key, rows);
    const globalPositions: number[] = [];
    const checkpoints: Checkpoint[] = [];
    const startPosition = this.nextPosition;
    append.events.forEach((event, i) => {
      const globalPosition = this.nextPosition++;
      const checkpoint = positionCheckpoint(globalPosition);
      const row: StoredEventRow = {
        globalPosition,
        checkpoint,
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
      };
      this.log.push(row);
      rows.push(row);
      this.eventIds.add(event.eventId);
      globalPositions.push(globalPosition);
      checkpoints.push(checkpoint);
    });
    t.undo.push(() => {
      this.log.length -= append.events.length;
      rows.length = fromVersion;
      if (fromVersion === 0) this.streams.delete(key);
      for (const event of append.events) this.eventIds.delete(event.eventId);
      this.nextPosition = startPosition;
    });
    return { status: 'appended', fromVersion, globalPositions, checkpoints };
  }

  /**
   * A copy of a stored row, so a caller mutating a payload read back (a Uint8Array from
   * bytesSerializer) cannot change the stored event.
   */
  private copy(row: StoredEventRow): StoredEventRow {
    return { ...row, payload: row.payload.slice() };
  }

  async readEvents(_tx: InMemoryTransaction, after: number | null, limit: number) {
    // Positions are dense in the committed log (rollbacks give theirs back), so the first event
    // after position p sits at index p.
    const rows: StoredEventRow[] = [];
    for (let i = after ?? 0; i < this.log.length && rows.length < limit; i++) {
      rows.push(this.copy(this.log[i]!));
    }
    return rows;
  }

  async readEventAt(_tx: InMemoryTransaction, globalPosition: number) {
    // Dense positions again: the event at position p sits at index p - 1.
    const row = this.log[globalPosition - 1];
    return row === undefined ? null : this.copy(row);
  }

  async readStream(
    _tx: InMemoryTransaction,
    stream: StreamRef,
    fromVersion: number,
    toVersion: number | null,
  ) {
    const stored = this.streams.get(streamKey(stream)) ?? [];
    const last = toVersion === null ? stored.length : Math.min(toVersion, stored.length);
    const rows: StoredEventRow[] = [];
    for (let v = fromVersion; v <= last; v++) rows.push(this.copy(stored[v - 1]!));
    return rows;
  }

  // Transactions never overlap here, so holding the checkpoint needs no lock.
  async getCheckpoint(_tx: InMemoryTransaction, projectionName: string) {
    return this.savedCheckpoints.get(projectionName) ?? null;
  }

  async saveCheckpoint(tx: InMemoryTransaction, projectionName: string, checkpoint: Checkpoint) {
    const previous = this.savedCheckpoints.get(projectionName);
    this.savedCheckpoints.set(projectionName, checkpoint);
    (tx as Transaction).undo.push(() => {
      if (previous === undefined) this.savedCheckpoints.delete(projectionName);
      else this.savedCheckpoints.set(projectionName, previous);
    });
  }

  async deleteCheckpoint(tx: InMemoryTransaction, projectionName: string): Promise<boolean> {
    const previous = this.savedCheckpoints.get(projectionName);
    if (previous === undefined) return false;
    this.savedCheckpoints.delete(projectionName);
    (tx as Transaction).undo.push(() => {
      this.savedCheckpoints.set(projectionName, previous);
    });
    return true;
  }

  async listCheckpoints(): Promise<SavedCheckpoint[]> {
    return [...this.savedCheckpoints].map(([projectionName, checkpoint]) => ({
      projectionName,
      checkpoint,
    }));
  }

  async saveDeadLetter(tx: InMemoryTransaction, deadLetter: DeadLetter): Promise<void> {
    const key = JSON.stringify([deadLetter.projectionName, deadLetter.globalPosition]);
    const previous = this.deadLetters.get(key);
    this.deadLetters.set(key, { ...deadLetter });
    (tx as Transaction).undo.push(() => {
      if (previous === undefined) this.deadLetters.delete(key);
      else this.deadLetters.set(key, previous);
    });
  }

  async listDeadLetters(_tx: InMemoryTransaction, projectionName: string): Promise<DeadLetter[]> {
    return [...this.deadLetters.values()]
      .filter((deadLetter) => deadLetter.projectionName === projectionName)
      .sort((a, b) => a.globalPosition - b.globalPosition)
      .map((deadLetter) => ({ ...deadLetter }));
  }

  // Transactions never overlap here, so the deleted letter needs no lock.
  async deleteDeadLetter(
    tx: InMemoryTransaction,
    projectionName: string,
    globalPosition: number,
  ): Promise<boolean> {
    const key = JSON.stringify([projectionName, globalPosition]);
    const previous = this.deadLetters.get(key);
    if (previous === undefined) return false;
    this.deadLetters.delete(key);
    (tx as Transaction).undo.push(() => {
      this.deadLetters.set(key, previous);
    });
    return true;
  }

  // Transactions never overlap here, so reading the leases needs no lock either.
  async readLeases(_tx: InMemoryTransaction, projectionName: string): Promise<ProjectionLeases> {
    const rows = this.leases.get(projectionName);
    const leases = rows === undefined ? [] : [...rows.values()].map((lease) => ({ ...lease }));
    leases.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { now: Date.now(), leases };
  }

  async saveLease(tx: InMemoryTransaction, projectionName: string, lease: ProjectionLease) {
    this.setLease(tx as Transaction, projectionName, lease.key, { ...lease });
  }

  async deleteLease(tx: InMemoryTransaction, projectionName: string, key: string) {
    this.setLease(tx as Transaction, projectionName, key, undefined);
  }

  async lockLease(_tx: InMemoryTransaction, projectionName: string, key: string) {
    const lease = this.leases.get(projectionName)?.get(key);
    return lease === undefined ? null : { ...lease };
  }

  private setLease(
    tx: Transaction,
    projectionName: string,
    key: string,
    lease: ProjectionLease | undefined,
  ): void {
    let rows = this.leases.get(projectionName);
    if (rows === undefined) {
      rows = new Map();
      this.leases.set(projectionName, rows);
    }
    const table = rows;
    const previous = table.get(key);
    if (lease === undefined) table.delete(key);
    else table.set(key, lease);
    tx.undo.push(() => {
      if (previous === undefined) table.delete(key);
      else table.set(key, previous);
    });
  }

  async getLogStatus(_tx: InMemoryTransaction, after: number | null): Promise<LogStatus> {
    const head = this.log[this.log.length - 1];
    return {
      headCheckpoint: head?.checkpoint ?? null,
      headPosition: head?.globalPosition ?? null,
      eventsAfter: Math.max(0, this.log.length - (after ?? 0)),
    };
  }

  async migrate(): Promise<void> {}

  async close(): Promise<void> {}

  countRows(): InMemoryRowCounts {
    return {
      events: this.log.length,
      aggregateHeads: this.streams.size,
      checkpoints: this.savedCheckpoints.size,
    };
  }
}

/**
 * A complete event store in process memory, for unit tests of domain code and projections. It is
 * built by the same frame as the SQL adapters (`@pup/core/adapter`), so it validates, errs,
 * nests transactions and closes exactly as they do, and it passes the same conformance suite.
 * Transactions are queued one at a time, like SQLite's writers; a nested `transaction` call from
 * inside a callback runs as a savepoint of the outer transaction.
 *
 * @example
 * const store = createInMemoryEventStore<BankEvent>();
 * await store.appendToStream(ExpectedVersion.noStream(), [
 *   { ...account('alice'), eventType: 'AccountOpened', payload: { owner: 'alice' } },
 * ]);
 */
export function createInMemoryEventStore<E extends object = DomainEvent>(
  options?: InMemoryEventStoreOptions<E>,
): InMemoryEventStore<E> {
  const resolved = resolveEventStoreOptions(options);
  const dialect = new InMemoryDialect();
  return createEventStore(dialect, resolved, () => ({
    countRows: () => dialect.countRows(),
  })) as InMemoryEventStore<E>;
}
