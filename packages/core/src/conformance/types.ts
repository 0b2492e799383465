import type { EventStoreOptions } from '../options.js';
import type { EventStore } from '../types.js';
import type { CrashWorkerCommand } from './projections/crash.js';

/** A test body; may return a promise. */
export type TestFn = () => unknown | Promise<unknown>;

/**
 * The functions of the caller's test runner the suite registers its tests with: vitest's
 * `{ describe, it, beforeAll, afterAll, beforeEach, afterEach }`, or `node:test`'s with
 * `before`/`after` passed as `beforeAll`/`afterAll`.
 */
export interface ConformanceTestApi {
  describe(name: string, fn: () => void): unknown;
  it: {
    (name: string, fn: TestFn): unknown;
    skip(name: string, fn?: TestFn): unknown;
  };
  beforeAll(fn: TestFn): unknown;
  afterAll(fn: TestFn): unknown;
  beforeEach(fn: TestFn): unknown;
  afterEach(fn: TestFn): unknown;
}

/**
 * Reads what the adapter wrote through a path independent of the adapter's own read code (raw
 * SQL, the in-memory store's internals), so "nothing was written" is checked for real.
 */
export interface ConformanceInspector {
  /** Number of rows in the events table. */
  countEvents(): Promise<number>;
  /** Number of rows in the aggregate heads table. */
  countAggregateHeads(): Promise<number>;
  /** Number of rows in the checkpoints table. */
  countCheckpoints(): Promise<number>;
}

/** A fresh store handed to one test or group. */
export interface ConformanceStore<Tx = any> {
  store: EventStore<Tx>;
  /** Independent read path; tests that need it are skipped with a reason when absent. */
  inspect?: ConformanceInspector;
  /** Releases the store and whatever the harness created for it. */
  cleanup?: () => Promise<void>;
}

/** What an adapter can or cannot do; a missing capability shows as a skipped test with its reason. */
export interface ConformanceCapabilities {
  /**
   * Two transactions of the store can be open at the same time (PostgreSQL, MySQL). When false,
   * the store queues transactions (SQLite, in-memory) and the tests that hold one transaction
   * open while another one runs are skipped with that reason. Declaring `true` (or nothing) for
   * a store that queues makes those tests fail after a few seconds with a message saying so.
   * @default true
   */
  concurrentTransactions?: boolean;
  /**
   * The harness can start a worker process on the database of a store it created, for the
   * projection crash test (see {@link ConformanceHarness.crashWorker}). @default false
   */
  crashRecovery?: boolean;
  /**
   * The store implements `waitForEvents`, and a wait resolves soon after an append through the
   * same store commits. When false, the tests of `waitForEvents` (wake-up, bad input, huge
   * timeouts, waits ended by `close()`) are skipped with that reason.
   * @default true
   */
  waitForEvents?: boolean;
  /**
   * Whether the store has the lease methods projection workers need (`readLeases`, `saveLease`,
   * `deleteLease`, `lockLease`). `false` skips the workers group with that reason. @default true
   */
  leases?: boolean;
  /**
   * Whether the store records dead letters (`saveDeadLetter`, `listDeadLetters`) for the
   * `deadLetter` poison-event policy. `false` skips its test with that reason. @default true
   */
  deadLetters?: boolean;
  /**
   * Whether the store can replay dead letters: besides the dead-letter methods, it has
   * `deleteDeadLetter` and `readEventAtPosition`. `false` skips the dead-letter replay group with
   * that reason. @default the value of `deadLetters`
   */
  deadLetterReplay?: boolean;
}

/** How the suite gets stores of the adapter under test. */
export interface ConformanceHarness<Tx = any> {
  /** Shown in the suite's describe block, such as `sqlite (:memory:)`. */
  name: string;
  /**
   * Returns a fresh, migrated, empty store each time it is called. `options` must reach the
   * adapter's factory unchanged apart from making table names unique to this store (a harness may
   * qualify them with a per-store schema); invalid options must make it reject with the factory's
   * own error.
   */
  createStore(options?: EventStoreOptions): Promise<ConformanceStore<Tx>>;
  /** @default {} */
  capabilities?: ConformanceCapabilities;
  /**
   * Time limit of each conformance test and hook, in milliseconds, kept by the suite's own timer
   * (whatever the runner's timeout): a test that runs longer fails with a message naming the
   * likely cause (such as a store that queues transactions without declaring
   * `capabilities.concurrentTransactions: false`), the stores it created are released, and the
   * run goes on. Give the runner's own per-test timeout a larger value (vitest's `testTimeout`).
   * The crash-recovery test gets four times this limit.
   * @default 30000
   */
  testTimeoutMs?: number;
  /**
   * The command that starts a crash-test worker on the database of `subject`, a store this
   * harness created: a program that opens that same database and calls
   * `runProjectionCrashWorker(store)`. Used when `capabilities.crashRecovery` is true.
   */
  crashWorker?(subject: ConformanceStore<Tx>): CrashWorkerCommand | Promise<CrashWorkerCommand>;
}
