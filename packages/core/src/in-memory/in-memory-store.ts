import { AsyncLocalStorage } from 'node:async_hooks';
import { buildAppendResult, prepareAppend } from '../append-input.js';
import { parsePositionCheckpoint, positionCheckpoint } from '../checkpoint.js';
import { DuplicateEventIdError, InvalidArgumentError } from '../errors.js';
import { checkExpectedVersion, type ExpectedVersion } from '../expected-version.js';
import { type EventStoreOptions, resolveEventStoreOptions } from '../options.js';
import {
  buildStream,
  decodeEvent,
  type StoredEventRow,
  validateCheckpoint,
  validateProjectionBatchInput,
  validateProjectionName,
  validateReadEventsOptions,
  validateStreamRef,
  validateVersionRange,
} from '../read-input.js';
import type {
  AppendResult,
  Checkpoint,
  EventStore,
  LogStatus,
  NewEvent,
  PersistedEvent,
  ProjectionBatch,
  ReadEventsOptions,
  ReadProjectionBatchOptions,
  Stream,
  StreamRef,
  VersionRange,
  WaitForEventsOptions,
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

/** The in-memory store: an {@link EventStore} plus a few inspection helpers for tests. */
export interface InMemoryEventStore extends EventStore<InMemoryTransaction> {
  /** Counts what is committed, bypassing the read methods (for "nothing was written" checks). */
  countRows(): InMemoryRowCounts;
}

/** Options of {@link createInMemoryEventStore}. Table names are validated but otherwise unused. */
export type InMemoryEventStoreOptions = EventStoreOptions;

type Undo = () => void;

class Transaction implements InMemoryTransaction {
  active = true;
  appended = false;
  readonly undo: Undo[] = [];
}

const streamKey = (s: StreamRef): string =>
  JSON.stringify([s.boundedContext, s.aggregateType, s.aggregateId]);

/**
 * A complete event store in process memory, for unit tests of domain code and projections. It
 * honours the same contract as the SQL adapters (validation, optimistic concurrency, atomic
 * appends, transactions that roll back, checkpoints) and passes the same conformance suite.
 * Transactions are queued one at a time, like SQLite's writers; a nested `transaction` call from
 * inside a callback joins the outer transaction as a savepoint.
 *
 * @example
 * const store = createInMemoryEventStore();
 * await store.transaction((tx) => store.append(tx, ExpectedVersion.noStream(), [event]));
 */
export function createInMemoryEventStore(options?: InMemoryEventStoreOptions): InMemoryEventStore {
  const { serializer } = resolveEventStoreOptions(options);
  const log: StoredEventRow[] = [];
  const streams = new Map<string, StoredEventRow[]>();
  const eventIds = new Set<string>();
  const checkpoints = new Map<string, Checkpoint>();
  const waiters = new Set<() => void>();
  const current = new AsyncLocalStorage<Transaction>();
  let queue: Promise<unknown> = Promise.resolve();
  let nextPosition = 1;

  const requireTx = (tx: InMemoryTransaction): Transaction => {
    if (!(tx instanceof Transaction) || !tx.active) {
      throw new InvalidArgumentError('tx', 'not an open transaction of this in-memory store');
    }
    return tx;
  };

  const rollbackTo = (tx: Transaction, mark: number): void => {
    while (tx.undo.length > mark) tx.undo.pop()!();
  };

  // Each read decodes a copy of the stored bytes, so a caller mutating a payload read back (a
  // Uint8Array from bytesSerializer) cannot change the stored event.
  const decode = (row: StoredEventRow): PersistedEvent =>
    decodeEvent({ ...row, payload: row.payload.slice() }, serializer);

  /** Up to `limit` committed events after a position, in log order. */
  const readPage = (afterPosition: number, limit: number): PersistedEvent[] => {
    // Positions are dense in the committed log (rollbacks give theirs back), so the first event
    // after `afterPosition` sits at index `afterPosition`.
    const page: PersistedEvent[] = [];
    for (let i = afterPosition; i < log.length && page.length < limit; i++) {
      page.push(decode(log[i]!));
    }
    return page;
  };

  const wakeWaiters = (): void => {
    for (const wake of [...waiters]) wake();
  };

  async function run<T>(tx: Transaction, fn: (tx: InMemoryTransaction) => Promise<T>): Promise<T> {
    try {
      const result = await current.run(tx, () => fn(tx));
      tx.active = false;
      if (tx.appended) wakeWaiters();
      return result;
    } catch (error) {
      rollbackTo(tx, 0);
      tx.active = false;
      throw error;
    }
  }

  const store: InMemoryEventStore = {
    async transaction<T>(fn: (tx: InMemoryTransaction) => Promise<T>): Promise<T> {
      const outer = current.getStore();
      if (outer?.active) {
        const mark = outer.undo.length;
        try {
          return await fn(outer);
        } catch (error) {
          rollbackTo(outer, mark);
          throw error;
        }
      }
      const turn = queue.then(() => run(new Transaction(), fn));
      queue = turn.catch(() => undefined);
      return turn;
    },

    async append(
      tx: InMemoryTransaction,
      expected: ExpectedVersion,
      events: readonly NewEvent[],
    ): Promise<AppendResult> {
      const prepared = prepareAppend(expected, events, serializer);
      const t = requireTx(tx);
      const key = streamKey(prepared.stream);
      const existing = streams.get(key);
      const fromVersion = existing?.length ?? 0;
      checkExpectedVersion(prepared.stream, prepared.expected, fromVersion);
      for (const event of prepared.events) {
        if (eventIds.has(event.eventId)) throw new DuplicateEventIdError(event.eventId);
      }

      const rows = existing ?? [];
      if (existing === undefined) streams.set(key, rows);
      const positions: number[] = [];
      const tokens: Checkpoint[] = [];
      const startPosition = nextPosition;
      prepared.events.forEach((event, i) => {
        const globalPosition = nextPosition++;
        const checkpoint = positionCheckpoint(globalPosition);
        const row: StoredEventRow = {
          globalPosition,
          checkpoint,
          ...prepared.stream,
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
        log.push(row);
        rows.push(row);
        eventIds.add(event.eventId);
        positions.push(globalPosition);
        tokens.push(checkpoint);
      });
      t.appended = true;
      t.undo.push(() => {
        log.length -= prepared.events.length;
        rows.length = fromVersion;
        if (fromVersion === 0) streams.delete(key);
        for (const event of prepared.events) eventIds.delete(event.eventId);
        nextPosition = startPosition;
      });
      return buildAppendResult(prepared, fromVersion, positions, tokens);
    },

    async readEvents(tx: InMemoryTransaction, options: ReadEventsOptions) {
      const { after, limit } = validateReadEventsOptions(options);
      const afterPosition = parsePositionCheckpoint(after);
      requireTx(tx);
      return readPage(afterPosition, limit);
    },

    async readProjectionBatch(
      tx: InMemoryTransaction,
      projectionName: string,
      options: ReadProjectionBatchOptions,
    ): Promise<ProjectionBatch> {
      const { limit } = validateProjectionBatchInput(projectionName, options);
      requireTx(tx);
      // Transactions never overlap here, so holding the checkpoint needs no lock.
      const checkpoint = checkpoints.get(projectionName) ?? null;
      return { checkpoint, events: readPage(parsePositionCheckpoint(checkpoint), limit) };
    },

    async readAggregateStream(
      tx: InMemoryTransaction,
      stream: StreamRef,
      range?: VersionRange,
    ): Promise<Stream> {
      const ref = validateStreamRef(stream);
      const { fromVersion, toVersion } = validateVersionRange(range);
      requireTx(tx);
      const rows = streams.get(streamKey(ref)) ?? [];
      const last = toVersion === null ? rows.length : Math.min(toVersion, rows.length);
      const events: PersistedEvent[] = [];
      for (let v = fromVersion; v <= last; v++) events.push(decode(rows[v - 1]!));
      return buildStream(ref, events);
    },

    async getCheckpoint(tx: InMemoryTransaction, projectionName: string) {
      validateProjectionName(projectionName);
      requireTx(tx);
      return checkpoints.get(projectionName) ?? null;
    },

    async saveCheckpoint(tx: InMemoryTransaction, projectionName: string, checkpoint: Checkpoint) {
      validateProjectionName(projectionName);
      validateCheckpoint(checkpoint);
      const t = requireTx(tx);
      const previous = checkpoints.get(projectionName);
      checkpoints.set(projectionName, checkpoint);
      t.undo.push(() => {
        if (previous === undefined) checkpoints.delete(projectionName);
        else checkpoints.set(projectionName, previous);
      });
    },

    async getLogStatus(
      tx: InMemoryTransaction,
      options?: { after?: Checkpoint | null },
    ): Promise<LogStatus> {
      const afterPosition = parsePositionCheckpoint(options?.after ?? null);
      requireTx(tx);
      const head = log[log.length - 1];
      return {
        headCheckpoint: head?.checkpoint ?? null,
        headPosition: head?.globalPosition ?? null,
        eventsAfter: Math.max(0, log.length - afterPosition),
      };
    },

    async migrate() {},

    waitForEvents({ signal, timeoutMs }: WaitForEventsOptions): Promise<void> {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        signal.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    },

    countRows() {
      return { events: log.length, aggregateHeads: streams.size, checkpoints: checkpoints.size };
    },

    async close() {
      wakeWaiters();
    },
  };
  return store;
}
