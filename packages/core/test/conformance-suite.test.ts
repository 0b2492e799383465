// Tests of the conformance suite itself: it must fail stores that break the contract, report
// unsupported capabilities as skipped tests, and pass a correct store with concurrent transactions
// (which the in-memory store, queueing its transactions, never exercises).
import { describe, expect, it } from 'vitest';
import {
  describeBadInputConformance,
  describeCheckpointConformance,
  describeConcurrencyConformance,
  describeExpectedVersionConformance,
  describeOrderingConformance,
  describeReadEventsConformance,
  describeTransactionConformance,
} from '../src/conformance/index.js';
import type {
  ConformanceHarness,
  ConformanceStore,
  ConformanceTestApi,
  TestFn,
} from '../src/conformance/types.js';
import {
  buildAppendResult,
  buildStream,
  type Checkpoint,
  checkExpectedVersion,
  createInMemoryEventStore,
  DuplicateEventIdError,
  decodeEvent,
  type EventStore,
  ExpectedVersion,
  type NewEvent,
  parsePositionCheckpoint,
  positionCheckpoint,
  prepareAppend,
  resolveEventStoreOptions,
  type StoredEventRow,
  type StreamRef,
  validateCheckpoint,
  validateProjectionName,
  validateReadEventsOptions,
  validateStreamRef,
  validateVersionRange,
} from '../src/index.js';

// --- A minimal runner implementing ConformanceTestApi, so a group's outcome can be asserted. ---

type Outcome = 'pass' | 'fail' | 'skip';

interface Suite {
  name: string;
  beforeAll: TestFn[];
  afterAll: TestFn[];
  beforeEach: TestFn[];
  afterEach: TestFn[];
  children: (Suite | { test: string; fn?: TestFn; skip: boolean })[];
}

function newSuite(name: string): Suite {
  return { name, beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], children: [] };
}

async function runGroups(
  register: (api: ConformanceTestApi) => void,
): Promise<Map<string, { outcome: Outcome; error?: unknown }>> {
  const root = newSuite('');
  const stack = [root];
  const top = () => stack[stack.length - 1]!;
  const itFn = (name: string, fn: TestFn) => {
    top().children.push({ test: name, fn, skip: false });
  };
  itFn.skip = (name: string, fn?: TestFn) => {
    top().children.push({ test: name, fn, skip: true });
  };
  const api: ConformanceTestApi = {
    describe(name, fn) {
      const suite = newSuite(name);
      top().children.push(suite);
      stack.push(suite);
      fn();
      stack.pop();
    },
    it: itFn,
    beforeAll: (fn) => top().beforeAll.push(fn),
    afterAll: (fn) => top().afterAll.push(fn),
    beforeEach: (fn) => top().beforeEach.push(fn),
    afterEach: (fn) => top().afterEach.push(fn),
  };
  register(api);

  const results = new Map<string, { outcome: Outcome; error?: unknown }>();
  const run = async (suite: Suite, path: string[], each: Suite[]) => {
    for (const hook of suite.beforeAll) await hook();
    for (const child of suite.children) {
      if ('test' in child) {
        const name = [...path, child.test].join(' > ');
        if (child.skip || !child.fn) {
          results.set(name, { outcome: 'skip' });
          continue;
        }
        try {
          for (const s of [...each, suite]) for (const hook of s.beforeEach) await hook();
          await child.fn();
          results.set(name, { outcome: 'pass' });
        } catch (error) {
          results.set(name, { outcome: 'fail', error });
        } finally {
          for (const s of [suite, ...each].reverse()) for (const hook of s.afterEach) await hook();
        }
      } else {
        await run(child, [...path, child.name], [...each, suite]);
      }
    }
    for (const hook of suite.afterAll) await hook();
  };
  await run(root, [], []);
  return results;
}

function outcomes(results: Map<string, { outcome: Outcome }>, outcome: Outcome): string[] {
  return [...results].filter(([, r]) => r.outcome === outcome).map(([name]) => name);
}

// --- Harnesses over the in-memory store, some wrapped with a deliberate bug. ---

type Wrap = (store: EventStore<any>) => EventStore<any>;

function inMemoryHarness(
  wrap: Wrap = (s) => s,
  concurrentTransactions = false,
): ConformanceHarness {
  return {
    name: 'in-memory (mutant)',
    async createStore(options) {
      const inner = createInMemoryEventStore(options);
      const subject: ConformanceStore = {
        store: wrap(inner),
        inspect: {
          countEvents: async () => inner.countRows().events,
          countAggregateHeads: async () => inner.countRows().aggregateHeads,
          countCheckpoints: async () => inner.countRows().checkpoints,
        },
      };
      return subject;
    },
    capabilities: { concurrentTransactions },
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

// --- A store with truly concurrent transactions, optionally with the classic ordering bug. ---

interface ConcurrentTx {
  id: number;
  rows: StoredEventRow[];
  checkpoints: Map<string, Checkpoint>;
  locks: string[];
  lowestPosition: number | undefined;
}

/**
 * Positions are allocated at append time, events become visible at commit, transactions run
 * concurrently (per-stream locks held until commit). With `horizon`, `readEvents` hides events at
 * or after the lowest position an open transaction holds (what the PostgreSQL adapter does with
 * transaction ids); without it, a reader can pass a position a slow transaction commits later.
 */
function createConcurrentStore(horizon: boolean): ConformanceStore {
  const { serializer } = resolveEventStoreOptions(undefined);
  const log: StoredEventRow[] = [];
  const heads = new Map<string, number>();
  const eventIds = new Set<string>();
  const checkpoints = new Map<string, Checkpoint>();
  const locks = new Map<string, Promise<void>>();
  const releases = new Map<string, () => void>();
  const open = new Set<ConcurrentTx>();
  let nextPosition = 1;
  let nextTx = 1;
  const key = (s: StreamRef) => JSON.stringify([s.boundedContext, s.aggregateType, s.aggregateId]);

  const release = (tx: ConcurrentTx) => {
    for (const k of tx.locks) {
      locks.delete(k);
      releases.get(k)?.();
      releases.delete(k);
    }
    open.delete(tx);
  };

  const store: EventStore<ConcurrentTx> = {
    async transaction(fn) {
      const tx: ConcurrentTx = {
        id: nextTx++,
        rows: [],
        checkpoints: new Map(),
        locks: [],
        lowestPosition: undefined,
      };
      open.add(tx);
      try {
        const value = await fn(tx);
        for (const row of tx.rows) {
          log.push(row);
          eventIds.add(row.eventId);
          heads.set(key(row), row.aggregateVersion);
        }
        log.sort((a, b) => a.globalPosition - b.globalPosition);
        for (const [name, cp] of tx.checkpoints) checkpoints.set(name, cp);
        return value;
      } finally {
        release(tx);
      }
    },
    async append(tx, expected, events) {
      const prepared = prepareAppend(expected, events, serializer);
      const k = key(prepared.stream);
      while (locks.has(k) && !tx.locks.includes(k)) await locks.get(k);
      if (!tx.locks.includes(k)) {
        locks.set(k, new Promise((resolve) => releases.set(k, resolve)));
        tx.locks.push(k);
      }
      const own = tx.rows.filter((r) => key(r) === k);
      const from = own.length > 0 ? own[own.length - 1]!.aggregateVersion : (heads.get(k) ?? 0);
      checkExpectedVersion(prepared.stream, prepared.expected, from);
      for (const e of prepared.events) {
        if (eventIds.has(e.eventId) || tx.rows.some((r) => r.eventId === e.eventId)) {
          throw new DuplicateEventIdError(e.eventId);
        }
      }
      const positions = prepared.events.map(() => nextPosition++);
      tx.lowestPosition ??= positions[0];
      prepared.events.forEach((e, i) => {
        tx.rows.push({
          globalPosition: positions[i]!,
          checkpoint: positionCheckpoint(positions[i]!),
          ...prepared.stream,
          aggregateVersion: from + i + 1,
          eventId: e.eventId,
          eventType: e.eventType,
          eventVersion: e.eventVersion,
          payload: e.payloadBytes,
          metadata: e.metadataJson,
          traceId: e.traceId,
          correlationId: e.correlationId,
          causationId: e.causationId,
          createdAt: e.createdAt.getTime(),
        });
      });
      return buildAppendResult(prepared, from, positions, positions.map(positionCheckpoint));
    },
    async readEvents(tx, options) {
      const { after, limit } = validateReadEventsOptions(options);
      const afterPosition = parsePositionCheckpoint(after);
      let limitPosition = Number.POSITIVE_INFINITY;
      if (horizon) {
        for (const other of open) {
          if (other !== tx && other.lowestPosition !== undefined) {
            limitPosition = Math.min(limitPosition, other.lowestPosition);
          }
        }
      }
      return log
        .filter((r) => r.globalPosition > afterPosition && r.globalPosition < limitPosition)
        .slice(0, limit)
        .map((r) => decodeEvent(r, serializer));
    },
    async readAggregateStream(tx, stream, range) {
      const ref = validateStreamRef(stream);
      const { fromVersion, toVersion } = validateVersionRange(range);
      const rows = [...log, ...tx.rows].filter(
        (r) =>
          key(r) === key(ref) &&
          r.aggregateVersion >= fromVersion &&
          (toVersion === null || r.aggregateVersion <= toVersion),
      );
      return buildStream(
        ref,
        rows.map((r) => decodeEvent(r, serializer)),
      );
    },
    async getCheckpoint(tx, name) {
      validateProjectionName(name);
      return tx.checkpoints.get(name) ?? checkpoints.get(name) ?? null;
    },
    async saveCheckpoint(tx, name, checkpoint) {
      validateProjectionName(name);
      validateCheckpoint(checkpoint);
      tx.checkpoints.set(name, checkpoint);
    },
    async migrate() {},
    async close() {},
  };
  return {
    store,
    inspect: {
      countEvents: async () => log.length,
      countAggregateHeads: async () => heads.size,
      countCheckpoints: async () => checkpoints.size,
    },
  };
}

function concurrentHarness(horizon: boolean): ConformanceHarness {
  return {
    name: horizon ? 'concurrent (horizon)' : 'concurrent (naive)',
    createStore: async () => createConcurrentStore(horizon),
    capabilities: { concurrentTransactions: true },
  };
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

  it('reports tests needing concurrent transactions as skipped with the reason', async () => {
    const harness = inMemoryHarness();
    const results = await runGroups((api) => describeOrderingConformance(api, harness));
    const skipped = outcomes(results, 'skip');
    expect(skipped).toHaveLength(2);
    for (const name of skipped) expect(name).toMatch(/ — skipped: .*concurrentTransactions/);
    expect(outcomes(results, 'fail')).toEqual([]);
  });

  it('passes a correct store with concurrent transactions on the ordering group', async () => {
    const harness = concurrentHarness(true);
    const results = await runGroups((api) => describeOrderingConformance(api, harness));
    const failures = [...results].filter(([, r]) => r.outcome === 'fail');
    expect(failures.map(([name, r]) => `${name}: ${String(r.error)}`)).toEqual([]);
    expect(outcomes(results, 'pass')).toHaveLength(6);
  });

  it('fails a store whose reader passes the position of a transaction still open', async () => {
    const harness = concurrentHarness(false);
    const results = await runGroups((api) => describeOrderingConformance(api, harness));
    expect(outcomes(results, 'fail')).toContain(`ordering guarantee > ${LATE_COMMIT}`);
  });
});
