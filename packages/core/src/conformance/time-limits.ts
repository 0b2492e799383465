import { AssertionError } from 'node:assert';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConformanceHarness, ConformanceStore, ConformanceTestApi, TestFn } from './types.js';

/**
 * Time limit of one conformance test or hook when the harness sets none
 * ({@link ConformanceHarness.testTimeoutMs}): about fifteen times the slowest test on a real
 * database, and below the 60 s that pup's adapters give vitest, so the suite's own diagnosis is
 * what a hanging test reports.
 */
export const DEFAULT_TEST_TIMEOUT_MS = 30_000;

/** Longest wait for a harness's cleanup after a test ran out of time. */
const MAX_CLEANUP_MS = 10_000;

/** Longest wait for a step that must not wait for anything (see {@link promptLimit}). */
const MAX_PROMPT_MS = 5_000;

/** The stores a running test created, so they can be released when it runs out of time. */
interface TestScope {
  readonly stores: Set<ConformanceStore>;
  readonly harness: ConformanceHarness;
  /** The test ran out of time; its body may still be running in the background. */
  timedOut: boolean;
}

const currentTest = new AsyncLocalStorage<TestScope>();

/** Releases in progress or done, per store, so a store is released once whoever asks. */
const releases = new WeakMap<ConformanceStore, Promise<void>>();

/** The time limit of each test of `harness`, in milliseconds. */
export function testTimeLimit(harness: ConformanceHarness): number {
  const limit = harness.testTimeoutMs;
  return typeof limit === 'number' && limit > 0 ? limit : DEFAULT_TEST_TIMEOUT_MS;
}

/**
 * How long a test waits for a step that must not wait for anything else: a transaction while
 * another one of the same store is open (on a store with concurrent transactions), `close()`
 * while a transaction runs, a wait that `close()` or an abort ends. A few seconds, at most a third
 * of the test's limit.
 */
export function promptLimit(harness: ConformanceHarness): number {
  return Math.min(MAX_PROMPT_MS, Math.floor(testTimeLimit(harness) / 3));
}

/** What to tell the author of a harness whose test ran out of time. */
function timeoutHint(harness: ConformanceHarness, hint: string | undefined): string {
  const hints: string[] = [];
  if (hint !== undefined) hints.push(hint);
  if (harness.capabilities?.concurrentTransactions !== false) {
    hints.push(QUEUED_TRANSACTIONS_HINT);
  }
  hints.push(
    'Check that every transaction of the store ends (commits or rolls back) and that createStore and cleanup never wait for one that is still running.',
  );
  return hints.join(' ');
}

/** The hint for a store that queues transactions but declares it can run them side by side. */
export const QUEUED_TRANSACTIONS_HINT =
  'If your store runs one transaction at a time (queues them), set capabilities.concurrentTransactions = false in the harness.';

/**
 * Resolves or rejects as `promise` does, or rejects with an `AssertionError` carrying `message`
 * once `ms` milliseconds have passed. The timer never outlives the race.
 */
export async function withinTime<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AssertionError({ message })), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers `subject` with the test that is running, so that the store is released if the test
 * runs out of time before it could release it itself.
 */
export function trackStore(subject: ConformanceStore): void {
  const scope = currentTest.getStore();
  if (scope === undefined) return;
  if (scope.timedOut) {
    // Created by the body of a test that already failed on its time limit: nobody will use it.
    releaseStore(subject, scope.harness).catch(() => undefined);
    return;
  }
  scope.stores.add(subject);
}

/**
 * Releases a store once: the harness's `cleanup` when it gave one, otherwise `store.close()`.
 * Later calls return the first call's promise. Rejects when the release takes longer than the
 * harness's time limit (a cleanup that waits for a transaction that never ends).
 */
export function releaseStore(
  subject: ConformanceStore | undefined,
  harness?: ConformanceHarness,
): Promise<void> {
  if (subject === undefined) return Promise.resolve();
  let release = releases.get(subject);
  if (release === undefined) {
    const limit = Math.min(
      MAX_CLEANUP_MS,
      harness === undefined ? MAX_CLEANUP_MS : testTimeLimit(harness),
    );
    const work = (async () => {
      if (subject.cleanup) await subject.cleanup();
      else await subject.store.close();
    })();
    release = withinTime(
      work,
      limit,
      `releasing a store (${subject.cleanup ? 'the harness’s cleanup' : 'store.close()'}) did not finish within ${limit} ms; close() must not wait for running transactions`,
    );
    releases.set(subject, release);
  }
  currentTest.getStore()?.stores.delete(subject);
  return release;
}

/** Options of a test registered through a {@link LimitedTestApi}. */
export interface TestLimitOptions {
  /** The test may take this many times the harness's limit. @default 1 */
  factor?: number;
}

/**
 * The test API the groups register with: the caller's runner functions, each test and hook run
 * under the suite's own time limit.
 */
export interface LimitedTestApi extends ConformanceTestApi {
  it: {
    (name: string, fn: TestFn, options?: TestLimitOptions): unknown;
    skip(name: string, fn?: TestFn): unknown;
  };
}

const RAW_API = Symbol('pup.conformance.rawApi');

type Wrapped = LimitedTestApi & { [RAW_API]?: ConformanceTestApi };

/**
 * Wraps the caller's test API so that every test and hook fails after the harness's time limit
 * ({@link ConformanceHarness.testTimeoutMs}) with a message naming the likely cause, on the
 * suite's own timer (vitest and `node:test` take timeouts differently, and `node:test` has none by
 * default). A test that runs out of time has the stores it created released (within a bounded
 * time as well), so the next test starts clean and the runner never hangs.
 *
 * @param hint Said first when a test of this group runs out of time.
 */
export function limitTime(
  api: ConformanceTestApi,
  harness: ConformanceHarness,
  hint?: string,
): LimitedTestApi {
  const raw = (api as Wrapped)[RAW_API] ?? api;
  const limit = testTimeLimit(harness);
  const guard =
    (what: string, fn: TestFn, factor = 1): TestFn =>
    () =>
      runWithinLimit(what, fn, limit * factor, harness, hint);
  const it = (name: string, fn: TestFn, options?: TestLimitOptions): unknown =>
    raw.it(name, guard(`test "${name}"`, fn, options?.factor));
  it.skip = (name: string, fn?: TestFn): unknown => raw.it.skip(name, fn);
  const wrapped: Wrapped = {
    describe: (name, fn) => raw.describe(name, fn),
    it,
    beforeAll: (fn) => raw.beforeAll(guard('beforeAll hook', fn)),
    afterAll: (fn) => raw.afterAll(guard('afterAll hook', fn)),
    beforeEach: (fn) => raw.beforeEach(guard('beforeEach hook', fn)),
    afterEach: (fn) => raw.afterEach(guard('afterEach hook', fn)),
    [RAW_API]: raw,
  };
  return wrapped;
}

async function runWithinLimit(
  what: string,
  fn: TestFn,
  limitMs: number,
  harness: ConformanceHarness,
  hint: string | undefined,
): Promise<void> {
  const scope: TestScope = { stores: new Set(), harness, timedOut: false };
  const body = currentTest.run(scope, async () => {
    await fn();
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = Symbol('timed out');
  const timeout = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), limitMs);
  });
  let outcome: unknown;
  try {
    outcome = await Promise.race([body, timeout]);
  } catch (error) {
    clearTimeout(timer);
    // Stores the test created but did not release (it failed half-way through its setup).
    await releaseAll(scope).catch(() => undefined);
    throw error;
  }
  clearTimeout(timer);
  if (outcome !== timedOut) {
    await releaseAll(scope);
    return;
  }
  // The body runs on in the background; its eventual failure is this timeout, already reported.
  scope.timedOut = true;
  body.catch(() => undefined);
  let message = `conformance ${what} did not finish within ${limitMs} ms (the suite's own time limit, harness.testTimeoutMs). ${timeoutHint(harness, hint)}`;
  try {
    await releaseAll(scope);
  } catch (error) {
    message += ` Releasing its stores failed too: ${error instanceof Error ? error.message : String(error)}`;
  }
  throw new AssertionError({ message });
}

async function releaseAll(scope: TestScope): Promise<void> {
  const stores = [...scope.stores];
  scope.stores.clear();
  const outcomes = await Promise.allSettled(
    stores.map((subject) => releaseStore(subject, scope.harness)),
  );
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
