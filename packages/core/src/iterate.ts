import { isAbortSignal } from './abort-signal.js';
import { InvalidArgumentError, OperationAbortedError } from './errors.js';
import { MAX_READ_LIMIT, validateStreamRef, validateVersionRange } from './read-input.js';
import type { DomainEvent, PersistedEventOf } from './typed-events.js';
import type { Checkpoint, EventStore, PersistedEvent, StreamRef } from './types.js';

/** Options shared by {@link iterateEvents} and {@link iterateAggregateStream}. */
export interface IterateOptions<Tx = unknown> {
  /** Events read per page: at most this many are held in memory at once. @default 100 */
  pageSize?: number;
  /**
   * Stops the iteration: the next page is not read and the loop throws `OperationAbortedError`
   * (a page being read is given up at once).
   */
  signal?: AbortSignal;
  /**
   * Read every page in this transaction of the store, instead of one transaction of its own per
   * page (so pages are not one snapshot, but every page is consistent).
   */
  tx?: Tx;
}

/** Options of {@link iterateEvents}. */
export interface IterateEventsOptions<Tx = unknown> extends IterateOptions<Tx> {
  /** Start after this checkpoint; `null` or absent: from the start of the log. */
  after?: Checkpoint | null;
}

/** Options of {@link iterateAggregateStream}. */
export interface IterateAggregateStreamOptions<Tx = unknown> extends IterateOptions<Tx> {
  /** First version to read (inclusive). @default 1 */
  fromVersion?: number;
  /** Last version to read (inclusive). @default the stream's last version */
  toVersion?: number;
}

const DEFAULT_PAGE_SIZE = 100;

function checkOptions(options: IterateOptions<unknown> | undefined, operation: string) {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new InvalidArgumentError('options', `${operation} takes an options object`);
  }
  const pageSize = options?.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_READ_LIMIT) {
    throw new InvalidArgumentError('pageSize', `must be an integer from 1 to ${MAX_READ_LIMIT}`);
  }
  const signal = options?.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  }
  return { pageSize, signal, tx: options?.tx };
}

/** Reads one page through `tx` when given, else in a transaction of its own. */
function readPage<Tx, T>(
  store: EventStore<Tx>,
  tx: Tx | undefined,
  signal: AbortSignal | undefined,
  operation: string,
  read: (tx: Tx) => Promise<T>,
): Promise<T> {
  if (signal?.aborted) {
    return Promise.reject(new OperationAbortedError(operation, { cause: signal.reason }));
  }
  if (tx !== undefined) return read(tx);
  return store.transaction(read, signal === undefined ? undefined : { signal });
}

/**
 * Iterates over the event log in log order, page by page, with `for await`: memory holds one
 * page (`pageSize` events) at a time, whatever the size of the log. The iteration ends at the
 * end of the log as it was when the last page was read; stop early with `break` or `signal`.
 *
 * @throws {InvalidArgumentError} at once on invalid options (and, when iterating, on an invalid
 * `after`).
 * @throws {OperationAbortedError} from the loop when `signal` aborts.
 *
 * @example
 * for await (const event of iterateEvents(store, { pageSize: 500, signal })) {
 *   if (event.eventType === 'MoneyDeposited') total += event.payload.amount;
 * }
 */
export function iterateEvents<Tx, E extends object = DomainEvent>(
  store: EventStore<Tx, E>,
  options: IterateEventsOptions<Tx> = {},
): AsyncGenerator<PersistedEventOf<E>, void, undefined> {
  const { pageSize, signal, tx } = checkOptions(options, 'iterateEvents');
  const after = options?.after ?? null;
  if (after !== null && (typeof after !== 'string' || after.length === 0)) {
    throw new InvalidArgumentError('after', 'must be a checkpoint string or null');
  }
  return logPages(store as EventStore<Tx>, after, pageSize, signal, tx) as AsyncGenerator<
    PersistedEventOf<E>,
    void,
    undefined
  >;
}

async function* logPages<Tx>(
  store: EventStore<Tx>,
  after: Checkpoint | null,
  limit: number,
  signal: AbortSignal | undefined,
  tx: Tx | undefined,
): AsyncGenerator<PersistedEvent, void, undefined> {
  let cursor = after;
  for (;;) {
    const page = await readPage(store, tx, signal, 'iterateEvents', (t) =>
      store.readEvents(t, { after: cursor, limit }),
    );
    yield* page;
    if (page.length < limit) return;
    cursor = page[page.length - 1]!.checkpoint;
  }
}

/**
 * Iterates over one aggregate's stream (or a version range of it) in version order, page by
 * page, with `for await`: memory holds one page (`pageSize` events) at a time.
 *
 * @throws {InvalidArgumentError} at once on an invalid stream, range or options.
 * @throws {OperationAbortedError} from the loop when `signal` aborts.
 *
 * @example
 * let state = account.initialState();
 * for await (const event of iterateAggregateStream(store, accountStream('alice'))) {
 *   state = account.evolve(state, event);
 * }
 */
export function iterateAggregateStream<Tx, E extends object = DomainEvent>(
  store: EventStore<Tx, E>,
  stream: StreamRef,
  options: IterateAggregateStreamOptions<Tx> = {},
): AsyncGenerator<PersistedEventOf<E>, void, undefined> {
  const { pageSize, signal, tx } = checkOptions(options, 'iterateAggregateStream');
  const ref = validateStreamRef(stream);
  const { fromVersion, toVersion } = validateVersionRange({
    fromVersion: options?.fromVersion,
    toVersion: options?.toVersion,
  });
  return streamPages(
    store as EventStore<Tx>,
    ref,
    fromVersion,
    toVersion,
    pageSize,
    signal,
    tx,
  ) as AsyncGenerator<PersistedEventOf<E>, void, undefined>;
}

async function* streamPages<Tx>(
  store: EventStore<Tx>,
  stream: StreamRef,
  fromVersion: number,
  toVersion: number | null,
  pageSize: number,
  signal: AbortSignal | undefined,
  tx: Tx | undefined,
): AsyncGenerator<PersistedEvent, void, undefined> {
  let from = fromVersion;
  while (toVersion === null || from <= toVersion) {
    const to = toVersion === null ? from + pageSize - 1 : Math.min(toVersion, from + pageSize - 1);
    const page = await readPage(store, tx, signal, 'iterateAggregateStream', (t) =>
      store.readAggregateStream(t, stream, { fromVersion: from, toVersion: to }),
    );
    yield* page.events;
    if (page.events.length < to - from + 1) return;
    from = to + 1;
  }
}
