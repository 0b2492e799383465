import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PupError, type PupErrorCode } from '../errors.js';
import { ExpectedVersion } from '../expected-version.js';
import type { EventStoreOptions } from '../options.js';
import type {
  AppendResult,
  Checkpoint,
  EventStore,
  NewEvent,
  PersistedEvent,
  StreamRef,
} from '../types.js';
import {
  type LimitedTestApi,
  releaseStore,
  type TestLimitOptions,
  trackStore,
} from './time-limits.js';
import type { ConformanceHarness, ConformanceStore, TestFn } from './types.js';

export { releaseStore } from './time-limits.js';

/** Bounded context used by the suite's events unless a test needs another one. */
export const CONFORMANCE_CONTEXT = 'conformance';

/** Aggregate type used by the suite's events unless a test needs another one. */
export const CONFORMANCE_AGGREGATE_TYPE = 'Widget';

/** A fresh id unique across runs: `<label>-<random UUID>`. */
export function uniqueId(label = 'id'): string {
  return `${label}-${randomUUID()}`;
}

/** A stream no other test uses, under {@link CONFORMANCE_CONTEXT} unless overridden. */
export function uniqueStream(label = 'stream', overrides: Partial<StreamRef> = {}): StreamRef {
  return {
    boundedContext: CONFORMANCE_CONTEXT,
    aggregateType: CONFORMANCE_AGGREGATE_TYPE,
    aggregateId: uniqueId(label),
    ...overrides,
  };
}

/** A minimal valid event of `stream`; `overrides` replace or add fields. */
export function makeEvent(stream: StreamRef, overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    boundedContext: stream.boundedContext,
    aggregateType: stream.aggregateType,
    aggregateId: stream.aggregateId,
    eventType: 'WidgetChanged',
    payload: { n: 0 },
    ...overrides,
  };
}

/** `count` valid events of `stream`, numbered in their payload (`{ n: 1 }`, `{ n: 2 }`, …). */
export function makeEvents(
  stream: StreamRef,
  count: number,
  overrides: Partial<NewEvent> = {},
): NewEvent[] {
  return Array.from({ length: count }, (_, i) =>
    makeEvent(stream, { payload: { n: i + 1 }, ...overrides }),
  );
}

/** Appends `events` in a transaction of its own and returns the result once committed. */
export function appendInTransaction<Tx>(
  store: EventStore<Tx>,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
): Promise<AppendResult> {
  return store.transaction((tx) => store.append(tx, expected, events));
}

/** Reads the whole log from its start (or after `after`), page by page, in one transaction. */
export function readWholeLog<Tx>(
  store: EventStore<Tx>,
  after: Checkpoint | null = null,
  pageSize = 1000,
): Promise<PersistedEvent[]> {
  return store.transaction(async (tx) => {
    const all: PersistedEvent[] = [];
    let cursor = after;
    for (;;) {
      const page = await store.readEvents(tx, { after: cursor, limit: pageSize });
      all.push(...page);
      if (page.length < pageSize) return all;
      cursor = page[page.length - 1]!.checkpoint;
    }
  });
}

/** Reads one stream (whole) in a transaction of its own. */
export function readStream<Tx>(store: EventStore<Tx>, stream: StreamRef) {
  return store.transaction((tx) => store.readAggregateStream(tx, stream));
}

/** Reads one projection's checkpoint in a transaction of its own. */
export function readCheckpoint<Tx>(
  store: EventStore<Tx>,
  name: string,
): Promise<Checkpoint | null> {
  return store.transaction((tx) => store.getCheckpoint(tx, name));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function exposed, to hand a signal from one task to another. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

/** Creates a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A constructor of a {@link PupError} subclass, for {@link assertRejectsWith}. */
export type ErrorClass<E extends PupError> = abstract new (...args: any[]) => E;

function checkError<E extends PupError>(
  error: unknown,
  errorClass: ErrorClass<E>,
  code: PupErrorCode,
  fields: Partial<Record<keyof E, unknown>> | undefined,
): E {
  assert.ok(
    error instanceof errorClass,
    `expected a ${errorClass.name} (${code}), got ${describeError(error)}`,
  );
  assert.equal(error.code, code, `expected code ${code}, got ${String(error.code)}`);
  assert.equal(error.name, errorClass.name, 'error.name must be the class name');
  for (const [key, value] of Object.entries(fields ?? {})) {
    assert.deepEqual(
      (error as unknown as Record<string, unknown>)[key],
      value,
      `${errorClass.name}.${key}`,
    );
  }
  return error;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${code === undefined ? '' : ` [${String(code)}]`}: ${error.message}`;
  }
  return `a non-error value ${String(error)}`;
}

/**
 * Asserts that `action` (a promise, or a function returning one or throwing) rejects with an
 * instance of `errorClass` carrying `code`, and that the error's `fields` deep-equal the given
 * values. Never looks at the message text. Returns the error for further checks.
 *
 * @example
 * await assertRejectsWith(appendInTransaction(store, ExpectedVersion.any(), []), NoEventsError, 'NO_EVENTS');
 */
export async function assertRejectsWith<E extends PupError>(
  action: Promise<unknown> | (() => unknown),
  errorClass: ErrorClass<E>,
  code: PupErrorCode,
  fields?: Partial<Record<keyof E, unknown>>,
): Promise<E> {
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    const value = await (typeof action === 'function' ? action() : action);
    outcome = { ok: true, value };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) {
    assert.fail(`expected a ${errorClass.name} (${code}), but the call succeeded`);
  }
  return checkError(outcome.error, errorClass, code, fields);
}

/**
 * Asserts that `fn` throws synchronously an instance of `errorClass` carrying `code` (and
 * `fields`). Returns the error.
 */
export function assertThrowsWith<E extends PupError>(
  fn: () => unknown,
  errorClass: ErrorClass<E>,
  code: PupErrorCode,
  fields?: Partial<Record<keyof E, unknown>>,
): E {
  try {
    fn();
  } catch (error) {
    return checkError(error, errorClass, code, fields);
  }
  return assert.fail(`expected ${errorClass.name} (${code}) to be thrown, but nothing was thrown`);
}

/**
 * Calls a store method through `call` and asserts that it returned a promise rather than throwing
 * synchronously (every store method reports failures as rejections); returns that promise.
 */
export function callAsync(what: string, call: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return assert.fail(
      `${what} threw synchronously (${describeError(error)}); a store method must return a rejected promise instead`,
    );
  }
  assert.ok(
    typeof result === 'object' &&
      result !== null &&
      typeof (result as PromiseLike<unknown>).then === 'function',
    `${what} must return a promise`,
  );
  return Promise.resolve(result);
}

/**
 * Asserts that `promise` either resolves or rejects with a {@link PupError} subclass whose `name`
 * is its class name and whose `code` is a non-empty string. Returns the error, or `undefined`
 * when the call succeeded.
 */
export async function assertFailsOnlyWithPupError(
  what: string,
  promise: Promise<unknown>,
): Promise<PupError | undefined> {
  let error: unknown;
  try {
    await promise;
    return undefined;
  } catch (caught) {
    error = caught;
  }
  assert.ok(
    error instanceof PupError,
    `${what} must fail with a PupError subclass, got ${describeError(error)}`,
  );
  assert.equal(typeof error.code, 'string', `${what}: error.code must be a string`);
  assert.ok(error.code.length > 0, `${what}: error.code must not be empty`);
  assert.equal(error.name, error.constructor.name, `${what}: error.name must be the class name`);
  return error;
}

/**
 * A store object that forwards every contract method to `store` (bound to it), with `overrides`
 * replacing or removing (`undefined`) some of them. Lets a test observe or hide a method.
 * `readProjectionBatch` is not forwarded, so a processor on it reads through `readEvents`.
 */
export function delegatingStore<Tx>(
  store: EventStore<Tx>,
  overrides: Partial<Pick<EventStore<Tx>, 'waitForEvents' | 'getLogStatus'>> = {},
): EventStore<Tx> {
  const delegate: EventStore<Tx> = {
    transaction: (fn) => store.transaction(fn),
    append: (tx, expected, events) => store.append(tx, expected, events),
    appendToStream: (expected, events, options) => store.appendToStream(expected, events, options),
    readEvents: (tx, options) => store.readEvents(tx, options),
    readAggregateStream: (tx, stream, range) => store.readAggregateStream(tx, stream, range),
    getCheckpoint: (tx, name) => store.getCheckpoint(tx, name),
    saveCheckpoint: (tx, name, checkpoint) => store.saveCheckpoint(tx, name, checkpoint),
    migrate: () => store.migrate(),
    close: () => store.close(),
  };
  if (typeof store.waitForEvents === 'function') {
    delegate.waitForEvents = store.waitForEvents.bind(store);
  }
  if (typeof store.getLogStatus === 'function') {
    delegate.getLogStatus = store.getLogStatus.bind(store);
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete (delegate as unknown as Record<string, unknown>)[key];
    else (delegate as unknown as Record<string, unknown>)[key] = value;
  }
  return delegate;
}

/** Row counts of a store, read through the harness's inspector; all `null` without one. */
export interface StoreSnapshot {
  /** Rows of the events table; `null` without an inspector. */
  events: number | null;
  /** Rows of the aggregate heads table; `null` without an inspector. */
  aggregateHeads: number | null;
  /** Rows of the checkpoints table; `null` without an inspector. */
  checkpoints: number | null;
}

/**
 * Counts what a store holds through the harness's independent `inspect` path. Without an
 * inspector every count is `null` and callers fall back to reads through the store (the log is
 * not counted through `readEvents`: on some stores it lags behind commits, see
 * {@link waitForLog}).
 */
export async function snapshotStore(subject: ConformanceStore): Promise<StoreSnapshot> {
  if (!subject.inspect) return { events: null, aggregateHeads: null, checkpoints: null };
  const [events, aggregateHeads, checkpoints] = await Promise.all([
    subject.inspect.countEvents(),
    subject.inspect.countAggregateHeads(),
    subject.inspect.countCheckpoints(),
  ]);
  return { events, aggregateHeads, checkpoints };
}

/**
 * Asserts how many rows a step added, when the harness can count them (`null` counts are
 * skipped: the caller checks through reads instead).
 */
export function assertRowsAdded(
  before: StoreSnapshot,
  after: StoreSnapshot,
  added: Partial<Record<keyof StoreSnapshot, number>>,
): void {
  for (const [key, count] of Object.entries(added) as [keyof StoreSnapshot, number][]) {
    const b = before[key];
    const a = after[key];
    if (a !== null && b !== null) assert.equal(a - b, count, `rows added to ${key}`);
  }
}

/** How long a test waits for committed events to become readable through `readEvents`. */
export const LOG_VISIBILITY_TIMEOUT_MS = 20_000;

/**
 * Polls `condition` every `everyMs` until it holds; fails the test after `timeoutMs` with
 * `message`. Stops early, failing, when `stopped` settles first (a run that ended too soon).
 */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  message: string | (() => string),
  {
    timeoutMs = 20_000,
    everyMs = 10,
    stopped,
  }: {
    timeoutMs?: number;
    everyMs?: number;
    stopped?: Promise<unknown>;
  } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const say = () => (typeof message === 'function' ? message() : message);
  let ended: string | undefined;
  stopped?.then(
    () => {
      ended = 'resolved';
    },
    (error: unknown) => {
      ended = `rejected: ${describeError(error)}`;
    },
  );
  for (;;) {
    if (await condition()) return;
    if (ended !== undefined) assert.fail(`${say()}: the run ${ended} first`);
    if (Date.now() > deadline) assert.fail(`${say()}: timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * Reads the whole log until it holds every event of `eventIds`, and returns it. A store may
 * hold back committed events while an older transaction is still open anywhere on the server
 * (PostgreSQL's transaction-id horizon), so the log is eventually, not immediately, complete.
 */
export async function waitForLog<Tx>(
  store: EventStore<Tx>,
  eventIds: readonly string[],
): Promise<PersistedEvent[]> {
  let log: PersistedEvent[] = [];
  let missing = eventIds.length;
  await waitUntil(
    async () => {
      log = await readWholeLog(store);
      const ids = new Set(log.map((e) => e.eventId));
      missing = eventIds.filter((id) => !ids.has(id)).length;
      return missing === 0;
    },
    () =>
      `${missing} committed event(s) not readable (is a transaction left open on the database?)`,
    { timeoutMs: LOG_VISIBILITY_TIMEOUT_MS, everyMs: 20 },
  );
  return log;
}

/** One stream's worth of events to append with {@link appendEvents}. */
export interface StreamSpec {
  boundedContext?: string;
  aggregateType?: string;
  aggregateId?: string;
  /** How many events to append to the stream. */
  count: number;
}

/**
 * Appends the events of `specs`, interleaving the streams round-robin in chunks of `chunk`
 * events, one transaction per chunk, and returns once all of them are readable (see
 * {@link waitForLog}).
 */
export async function appendEvents<Tx>(
  store: EventStore<Tx>,
  specs: readonly StreamSpec[],
  chunk = 3,
): Promise<void> {
  const remaining = specs.map((spec) => ({
    stream: uniqueStream('agg', {
      ...(spec.boundedContext === undefined ? {} : { boundedContext: spec.boundedContext }),
      ...(spec.aggregateType === undefined ? {} : { aggregateType: spec.aggregateType }),
      ...(spec.aggregateId === undefined ? {} : { aggregateId: spec.aggregateId }),
    }),
    left: spec.count,
    next: 1,
  }));
  let lastEventId: string | undefined;
  let pending = true;
  while (pending) {
    pending = false;
    for (const entry of remaining) {
      if (entry.left === 0) continue;
      const n = Math.min(chunk, entry.left);
      const events = Array.from({ length: n }, () =>
        makeEvent(entry.stream, { payload: { n: entry.next++ } }),
      );
      const result = await appendInTransaction(store, ExpectedVersion.any(), events);
      lastEventId = result.events[result.events.length - 1]?.eventId;
      entry.left -= n;
      pending ||= entry.left > 0;
    }
  }
  // The last append is readable only once every earlier one is.
  if (lastEventId !== undefined) await waitForLog(store, [lastEventId]);
}

/**
 * Runs `action` (which must fail) and asserts that it changed nothing: the row counts are the
 * same before and after, and each of `streams` still reads back with its previous version.
 */
export async function assertNothingWritten(
  subject: ConformanceStore,
  action: () => Promise<unknown>,
  streams: readonly StreamRef[] = [],
): Promise<void> {
  const before = await snapshotStore(subject);
  const versionsBefore = await Promise.all(
    streams.map(async (s) => (await readStream(subject.store, s)).version),
  );
  await action();
  const after = await snapshotStore(subject);
  assert.deepEqual(after, before, 'a failed call must leave no row behind');
  const versionsAfter = await Promise.all(
    streams.map(async (s) => (await readStream(subject.store, s)).version),
  );
  assert.deepEqual(versionsAfter, versionsBefore, 'a failed call must not change a stream');
}

/**
 * Creates a store for the running test with `harness.createStore(options)`. The test releases it
 * itself (see {@link withFreshStore}); if the test runs out of time first, the suite does.
 */
export async function createTestStore(
  harness: ConformanceHarness,
  options?: EventStoreOptions,
): Promise<ConformanceStore> {
  const subject = await harness.createStore(options);
  trackStore(subject);
  return subject;
}

/**
 * Creates one store for a whole group in `beforeAll` and releases it in `afterAll`; returns a
 * getter for the tests. Tests using it isolate themselves by stream id.
 */
export function useGroupStore(
  api: LimitedTestApi,
  harness: ConformanceHarness,
  options?: EventStoreOptions,
): () => ConformanceStore {
  let subject: ConformanceStore | undefined;
  api.beforeAll(async () => {
    subject = await harness.createStore(options);
  });
  api.afterAll(async () => {
    const current = subject;
    subject = undefined;
    await releaseStore(current, harness);
  });
  return () => {
    assert.ok(subject, 'the group store was not created (did beforeAll fail?)');
    return subject;
  };
}

/** Runs `fn` with a store of its own, released afterwards whatever happens. */
export async function withFreshStore<T>(
  harness: ConformanceHarness,
  fn: (subject: ConformanceStore) => Promise<T>,
  options?: EventStoreOptions,
): Promise<T> {
  const subject = await createTestStore(harness, options);
  try {
    return await fn(subject);
  } finally {
    await releaseStore(subject, harness);
  }
}

/**
 * Registers `fn` as a test when `supported`, otherwise as a skipped test named
 * `<name> — skipped: <reason>`, so an unsupported capability is visible, never a silent pass.
 */
export function itIf(
  api: LimitedTestApi,
  supported: boolean,
  name: string,
  reason: string,
  fn: TestFn,
  options?: TestLimitOptions,
): void {
  if (supported) api.it(name, fn, options);
  else api.it.skip(`${name} — skipped: ${reason}`, fn);
}

/** Whether the harness's store can hold two transactions open at once (default true). */
export function supportsConcurrentTransactions(harness: ConformanceHarness): boolean {
  return harness.capabilities?.concurrentTransactions ?? true;
}

/** The reason of tests skipped because the store queues its transactions. */
export const QUEUED_TRANSACTIONS_REASON =
  'the store queues transactions (capabilities.concurrentTransactions: false)';

/** Whether the harness's store has a `waitForEvents` that wakes on commits (default true). */
export function supportsWaitForEvents(harness: ConformanceHarness): boolean {
  return harness.capabilities?.waitForEvents ?? true;
}

/** The reason of tests skipped because the store has no `waitForEvents`. */
export const NO_WAIT_FOR_EVENTS_REASON = 'the harness declares capabilities.waitForEvents: false';

/** The store's `waitForEvents`, bound; fails the test when the store has none. */
export function requireWaitForEvents(
  store: EventStore<any>,
): NonNullable<EventStore['waitForEvents']> {
  assert.equal(
    typeof store.waitForEvents,
    'function',
    'the store has no waitForEvents: declare capabilities.waitForEvents: false in the harness',
  );
  return store.waitForEvents!.bind(store);
}

/** Asserts that `values` are strictly increasing as plain strings (checkpoint order). */
export function assertStrictlyIncreasing(values: readonly string[], what = 'checkpoints'): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(
      values[i - 1]! < values[i]!,
      `${what} must be strictly increasing: ${JSON.stringify(values[i - 1])} then ${JSON.stringify(values[i])}`,
    );
  }
}

/** Asserts that a value read from the store is a positive safe integer of type number. */
export function assertPositiveInteger(value: unknown, what: string): void {
  assert.equal(typeof value, 'number', `${what} must be a number, got ${typeof value}`);
  assert.ok(
    Number.isSafeInteger(value) && (value as number) > 0,
    `${what} must be a positive integer`,
  );
}
