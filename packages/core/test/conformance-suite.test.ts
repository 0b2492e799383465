// Tests of the conformance suite itself: it must fail stores that break the contract, report
// unsupported capabilities as skipped tests, pass a correct store with concurrent transactions
// (which the in-memory store, queueing its transactions, never exercises), and finish in bounded
// time when a harness is wrong.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import {
  describeBadInputConformance,
  describeCheckpointConformance,
  describeCloseConformance,
  describeConcurrencyConformance,
  describeErrorContractConformance,
  describeExpectedVersionConformance,
  describeNestedTransactionConformance,
  describeOrderingConformance,
  describeReadEventsConformance,
  describeTransactionConformance,
  describeWaitForEventsConformance,
} from '../src/conformance/index.js';
import type {
  ConformanceCapabilities,
  ConformanceHarness,
  ConformanceStore,
} from '../src/conformance/types.js';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  type NewEvent,
} from '../src/index.js';
import { createConcurrentEventStore } from './support/concurrent-dialect.js';
import { failures, outcomes, runGroups } from './support/recording-runner.js';

// --- Harnesses over the in-memory store, some wrapped with a deliberate bug. ---

type Wrap = (store: EventStore<any>) => EventStore<any>;

interface MutantOptions {
  capabilities?: ConformanceCapabilities;
  testTimeoutMs?: number;
}

/** What a harness created and released, to check that the suite releases every store. */
interface HarnessLedger {
  created: number;
  released: number;
}

function inMemoryHarness(
  wrap: Wrap = (s) => s,
  { capabilities = { concurrentTransactions: false }, testTimeoutMs }: MutantOptions = {},
  ledger: HarnessLedger = { created: 0, released: 0 },
): ConformanceHarness {
  return {
    name: 'in-memory (mutant)',
    async createStore(options) {
      const inner = createInMemoryEventStore(options);
      ledger.created++;
      const store = wrap(inner);
      const subject: ConformanceStore = {
        store,
        inspect: {
          countEvents: async () => inner.countRows().events,
          countAggregateHeads: async () => inner.countRows().aggregateHeads,
          countCheckpoints: async () => inner.countRows().checkpoints,
        },
        cleanup: async () => {
          ledger.released++;
          await store.close();
        },
      };
      return subject;
    },
    capabilities,
    testTimeoutMs,
  };
}

/** Commits whatever the callback did, even when it throws (then rethrows after the commit). */
const commitsOnThrow: Wrap = (store) => ({
  ...store,
  async transaction<T>(fn: (tx: unknown) => Promise<T>): Promise<T> {
    const outcome = await store.transaction(async (tx) => {
      try {
        return { ok: true as const, value: await fn(tx) };
      } catch (error) {
        return { ok: false as const, error };
      }
    });
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  },
});

/** Appends each event on its own, so a bad event leaves the ones before it behind. */
const appendsOneByOne: Wrap = (store) => ({
  ...commitsOnThrow(store),
  async append(tx, expected, events) {
    if (!Array.isArray(events) || events.length < 2) return store.append(tx, expected, events);
    const results = [];
    for (const event of events as NewEvent[]) {
      results.push(await store.append(tx, ExpectedVersion.any(), [event]));
    }
    return results[0]!;
  },
});

/** Ignores the expected version. */
const ignoresExpectedVersion: Wrap = (store) => ({
  ...store,
  append: (tx, _expected, events) => store.append(tx, ExpectedVersion.any(), events),
});

/** Skips the first event after a checkpoint. */
const skipsAfterCheckpoint: Wrap = (store) => ({
  ...store,
  async readEvents(tx, options) {
    const page = await store.readEvents(tx, { ...options, limit: options.limit + 1 });
    return options.after ? page.slice(1) : page.slice(0, options.limit);
  },
});

/** Runs a nested transaction's callback straight in the outer one, without a savepoint. */
const nestsWithoutSavepoints: Wrap = (store) => {
  const outer = new AsyncLocalStorage<unknown>();
  return {
    ...store,
    transaction<T>(fn: (tx: unknown) => Promise<T>): Promise<T> {
      const tx = outer.getStore();
      if (tx !== undefined) return fn(tx);
      return store.transaction((handle) => outer.run(handle, () => fn(handle)));
    },
  };
};

/** `close()` waits for the running transactions to end. */
const closeWaitsForTransactions: Wrap = (store) => {
  const running = new Set<Promise<unknown>>();
  return {
    ...store,
    transaction<T>(fn: (tx: unknown) => Promise<T>): Promise<T> {
      const transaction = store.transaction(fn);
      const settled = transaction.then(
        () => undefined,
        () => undefined,
      );
      running.add(settled);
      void settled.then(() => running.delete(settled));
      return transaction;
    },
    async close() {
      await Promise.all(running);
      await store.close();
    },
  };
};

/**
 * A hand-made `waitForEvents`: throws synchronously on bad input, and lets a timeout beyond
 * 2^31-1 ms fire at once, as `setTimeout` does with it.
 */
const naiveWaitForEvents: Wrap = (store) => ({
  ...store,
  waitForEvents(options) {
    if (options.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const delay = options.timeoutMs > 2 ** 31 - 1 ? 1 : options.timeoutMs;
      const timer = setTimeout(resolve, delay);
      options.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  },
});

/** Lets raw driver-like errors through: a synchronous TypeError, a rejected RangeError. */
const leaksRawErrors: Wrap = (store) => ({
  ...store,
  append(tx, expected, events) {
    if (typeof tx !== 'object' || tx === null) throw new TypeError('tx.prepare is not a function');
    return store.append(tx, expected, events);
  },
  async readEvents(tx, options) {
    if (typeof options?.limit !== 'number') throw new RangeError('LIMIT must be a number');
    return store.readEvents(tx, options);
  },
});

/** Reads of the log never return (a query stuck on a lock). */
const readsHang: Wrap = (store) => ({
  ...store,
  readEvents: () => new Promise(() => {}),
});

function concurrentHarness(readHorizon: boolean): ConformanceHarness {
  return {
    name: readHorizon ? 'concurrent (horizon)' : 'concurrent (naive)',
    async createStore(options) {
      const store = createConcurrentEventStore({ ...options, readHorizon });
      return {
        store,
        inspect: {
          countEvents: async () => store.countRows().events,
          countAggregateHeads: async () => store.countRows().aggregateHeads,
          countCheckpoints: async () => store.countRows().checkpoints,
        },
        cleanup: () => store.close(),
      };
    },
    capabilities: { concurrentTransactions: true },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const LATE_COMMIT =
  'an event committed late by an earlier transaction never lands behind a passed checkpoint';

describe('the conformance suite', () => {
  it('fails a store whose transactions commit when the callback throws', async () => {
    const harness = inMemoryHarness(commitsOnThrow);
    const results = await runGroups((api) => {
      describeTransactionConformance(api, harness);
      describeCheckpointConformance(api, harness);
    });
    const failed = outcomes(results, 'fail');
    expect(failed).toContain(
      'transactions > a throw after an append rolls it back and rethrows the same error',
    );
    expect(failed).toContain(
      'checkpoints > a checkpoint saved in a rolled-back transaction is not saved',
    );
  });

  it('fails a store that writes the valid events before a bad one', async () => {
    const harness = inMemoryHarness(appendsOneByOne);
    const results = await runGroups((api) => describeBadInputConformance(api, harness));
    const failed = outcomes(results, 'fail');
    expect(failed).toContain(
      'bad input > append > a missing, empty or non-string eventType → InvalidEventError',
    );
    expect(failed).toContain(
      'bad input > append > an eventId already stored → DuplicateEventIdError, on any stream',
    );
  });

  it('fails a store that ignores the expected version', async () => {
    const harness = inMemoryHarness(ignoresExpectedVersion);
    const results = await runGroups((api) => {
      describeExpectedVersionConformance(api, harness);
      describeConcurrencyConformance(api, harness);
    });
    const failed = outcomes(results, 'fail');
    expect(failed).toContain(
      'expected version > noStream() against a stream at version 2 is rejected',
    );
    expect(failed).toContain(
      'concurrency > 10 parallel appends with the same exact(v): one wins, the rest conflict',
    );
    expect(outcomes(results, 'pass')).toContain(
      'expected version > any() against a missing stream appends',
    );
  });

  it('fails a store that loses the event after a checkpoint', async () => {
    const harness = inMemoryHarness(skipsAfterCheckpoint);
    const results = await runGroups((api) => describeReadEventsConformance(api, harness));
    expect(outcomes(results, 'fail')).toContain('readEvents > resumes exactly after a checkpoint');
  });

  it('fails a store whose nested transactions have no savepoints', async () => {
    const harness = inMemoryHarness(nestsWithoutSavepoints);
    const results = await runGroups((api) => describeNestedTransactionConformance(api, harness));
    const failed = outcomes(results, 'fail');
    expect(failed).toContain(
      'nested transactions > an inner throw rolls back only the inner work; the outer catches it and commits the rest',
    );
    expect(failed).toContain(
      'nested transactions > three levels: each level rolls back its own work and what it contains',
    );
    expect(outcomes(results, 'pass')).toContain(
      'nested transactions > inner and outer work commit together when both succeed',
    );
  });

  it('fails, in bounded time, a store whose close() waits for running transactions', async () => {
    const harness = inMemoryHarness(closeWaitsForTransactions, { testTimeoutMs: 3_000 });
    const started = Date.now();
    const results = await runGroups((api) => describeCloseConformance(api, harness));
    expect(Date.now() - started).toBeLessThan(10_000);
    const failed = outcomes(results, 'fail');
    const name =
      'close > close() does not wait for a running transaction, whose later calls reject with StoreClosedError, so it rolls back';
    expect(failed).toContain(name);
    expect(messageOf(results.get(name)!.error)).toMatch(/must not wait for running transactions/);
    expect(outcomes(results, 'pass')).toContain(
      'close > after close() every method rejects with StoreClosedError, never throwing synchronously',
    );
  });

  it('fails a waitForEvents that throws synchronously or lets a huge timeout fire at once', async () => {
    const harness = inMemoryHarness(naiveWaitForEvents);
    const results = await runGroups((api) => describeWaitForEventsConformance(api, harness));
    const failed = outcomes(results, 'fail');
    expect(failed).toEqual([
      'waitForEvents > bad options reject with InvalidArgumentError at once, never throwing synchronously',
      'waitForEvents > a huge timeout is capped, so the wait does not end at once; an abort ends it',
    ]);
    expect(messageOf(results.get(failed[0]!)!.error)).toMatch(/threw synchronously/);
    expect(messageOf(results.get(failed[1]!)!.error)).toMatch(/cap the timeout at 2\^31-1 ms/);
  });

  it('fails a store that throws synchronously or lets raw errors through', async () => {
    const harness = inMemoryHarness(leaksRawErrors);
    const results = await runGroups((api) => describeErrorContractConformance(api, harness));
    const garbage =
      'error contract > a garbage transaction handle → InvalidArgumentError from every method taking one, nothing written';
    const hostile =
      'error contract > hostile arguments: every method resolves or rejects with a PupError, never throwing synchronously';
    expect(outcomes(results, 'fail')).toEqual([garbage, hostile]);
    expect(messageOf(results.get(garbage)!.error)).toMatch(
      /append with undefined as tx threw synchronously/,
    );
    expect(messageOf(results.get(hostile)!.error)).toMatch(
      /must fail with a PupError subclass, got RangeError/,
    );
  });

  it('reports tests needing concurrent transactions as skipped with the reason', async () => {
    const harness = inMemoryHarness();
    const results = await runGroups((api) => {
      describeOrderingConformance(api, harness);
      describeNestedTransactionConformance(api, harness);
    });
    const skipped = outcomes(results, 'skip');
    expect(skipped).toHaveLength(3);
    for (const name of skipped) expect(name).toMatch(/ — skipped: .*concurrentTransactions/);
    expect(failures(results)).toEqual([]);
  });

  it('reports the waitForEvents tests as skipped with the reason when the capability is off', async () => {
    const harness = inMemoryHarness(undefined, {
      capabilities: { concurrentTransactions: false, waitForEvents: false },
    });
    const results = await runGroups((api) => describeWaitForEventsConformance(api, harness));
    const skipped = outcomes(results, 'skip');
    expect(skipped).toHaveLength(3);
    for (const name of skipped) expect(name).toMatch(/ — skipped: .*waitForEvents: false/);
  });

  it('finishes in bounded time, naming the capability, when a queueing store claims concurrent transactions', async () => {
    const ledger = { created: 0, released: 0 };
    const harness = inMemoryHarness(
      undefined,
      { capabilities: { concurrentTransactions: true }, testTimeoutMs: 1_500 },
      ledger,
    );
    const started = Date.now();
    const results = await runGroups((api) => {
      describeOrderingConformance(api, harness);
      describeNestedTransactionConformance(api, harness);
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    const failed = outcomes(results, 'fail');
    expect(failed).toEqual([
      `ordering guarantee > ${LATE_COMMIT}`,
      'ordering guarantee > a transaction rolled back while others commit never shows up and never stalls the reader',
      'nested transactions > nothing a finished nested call wrote is visible to other transactions before the outermost commits',
    ]);
    for (const name of failed) {
      expect(messageOf(results.get(name)!.error)).toMatch(
        /set capabilities\.concurrentTransactions = false/,
      );
    }
    expect(outcomes(results, 'pass').length).toBeGreaterThan(6);
    expect(ledger.released).toBe(ledger.created);
  });

  it('fails a hanging test on its own timer, releases its store and goes on', async () => {
    const ledger = { created: 0, released: 0 };
    const harness = inMemoryHarness(readsHang, { testTimeoutMs: 300 }, ledger);
    const started = Date.now();
    const results = await runGroups((api) => describeOrderingConformance(api, harness));
    expect(Date.now() - started).toBeLessThan(5_000);
    const failed = outcomes(results, 'fail');
    expect(failed).toHaveLength(4);
    for (const name of failed) {
      const message = messageOf(results.get(name)!.error);
      expect(message).toMatch(/did not finish within 300 ms/);
      expect(message).toMatch(/harness\.testTimeoutMs/);
    }
    expect(ledger.created).toBe(4);
    expect(ledger.released).toBe(4);
  });

  it('bounds a harness cleanup that never finishes', async () => {
    const harness: ConformanceHarness = {
      ...inMemoryHarness(readsHang, { testTimeoutMs: 300 }),
      async createStore() {
        const store = createInMemoryEventStore();
        return { store: readsHang(store), cleanup: () => new Promise<void>(() => {}) };
      },
    };
    const started = Date.now();
    const results = await runGroups((api) => describeOrderingConformance(api, harness));
    expect(Date.now() - started).toBeLessThan(5_000);
    const [first] = outcomes(results, 'fail');
    expect(messageOf(results.get(first!)!.error)).toMatch(
      /Releasing its stores failed too: releasing a store \(the harness’s cleanup\) did not finish within 300 ms/,
    );
  });

  it('passes a correct store with concurrent transactions on the ordering and nested groups', async () => {
    const harness = concurrentHarness(true);
    const results = await runGroups((api) => {
      describeOrderingConformance(api, harness);
      describeNestedTransactionConformance(api, harness);
    });
    expect(failures(results)).toEqual([]);
    expect(outcomes(results, 'pass')).toHaveLength(15);
  });

  it('fails a store whose reader passes the position of a transaction still open', async () => {
    const harness = concurrentHarness(false);
    const results = await runGroups((api) => describeOrderingConformance(api, harness));
    expect(outcomes(results, 'fail')).toContain(`ordering guarantee > ${LATE_COMMIT}`);
  });
});
