import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ExpectedVersion } from '../../expected-version.js';
import type { EventStore, PersistedEvent } from '../../types.js';
import {
  appendInTransaction,
  assertStrictlyIncreasing,
  deferred,
  itIf,
  makeEvent,
  QUEUED_TRANSACTIONS_REASON,
  readWholeLog,
  sleep,
  supportsConcurrentTransactions,
  uniqueStream,
  withFreshStore,
} from '../helpers.js';
import { limitTime, promptLimit, QUEUED_TRANSACTIONS_HINT, withinTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** How long the slow committer waits between its append and its commit. */
const SLOW_COMMIT_MS = 300;
/** Events per page of the tailing reader: small, so it checkpoints often. */
const PAGE_SIZE = 4;
/** A tailing reader that has not caught up by then has lost or stalled on an event. */
const TAIL_DEADLINE_MS = 15_000;

class IntendedRollback extends Error {
  constructor() {
    super('rolled back on purpose by the conformance suite');
    this.name = 'IntendedRollback';
  }
}

/**
 * A reader that works like a projection: each page is read in its own transaction, after the
 * checkpoint saved in the store, and the page's last checkpoint is saved in that transaction.
 */
class TailingReader {
  readonly seen: PersistedEvent[] = [];
  private readonly name = `conformance-tail-${randomUUID()}`;

  constructor(private readonly store: EventStore<any>) {}

  /** Reads and checkpoints one page; returns how many events it held. */
  async readPage(): Promise<number> {
    const { store, name } = this;
    const page = await store.transaction(async (tx) => {
      const after = await store.getCheckpoint(tx, name);
      const events = await store.readEvents(tx, { after, limit: PAGE_SIZE });
      for (const event of events) {
        assert.ok(after === null || event.checkpoint > after, 'a page starts after its checkpoint');
      }
      const last = events[events.length - 1];
      if (last !== undefined) await store.saveCheckpoint(tx, name, last.checkpoint);
      return events;
    });
    this.seen.push(...page);
    return page.length;
  }

  /**
   * Reads pages until it has seen every event of `expected()` (`null` while writers still run)
   * and a page comes back empty. Committed events may become readable some time after their
   * commit (an older transaction still open on the server holds them back), so the reader stops
   * on what it has seen, not on the first empty page. An expected event that shows up in the log
   * behind the reader's checkpoint is lost for good: that fails at once.
   */
  async tailUntil(expected: () => readonly string[] | null): Promise<void> {
    const deadline = Date.now() + TAIL_DEADLINE_MS;
    for (;;) {
      const count = await this.readPage();
      if (count > 0) continue;
      const ids = expected();
      if (ids !== null) {
        const seen = new Set(this.seen.map((e) => e.eventId));
        const missing = new Set(ids.filter((id) => !seen.has(id)));
        if (missing.size === 0) return;
        await this.failOnLostEvents(missing);
      }
      assert.ok(Date.now() < deadline, 'the tailing reader did not catch up in time');
      await sleep(5);
    }
  }

  private async failOnLostEvents(missing: ReadonlySet<string>): Promise<void> {
    const passed = this.seen[this.seen.length - 1]?.checkpoint;
    if (passed === undefined) return;
    for (const event of await readWholeLog(this.store)) {
      if (missing.has(event.eventId) && event.checkpoint <= passed) {
        assert.fail(
          `event ${event.eventId} (checkpoint ${event.checkpoint}) became readable behind checkpoint ${passed}, which the reader had already passed: it is lost`,
        );
      }
    }
  }

  /** The checkpoint the reader saved last. */
  savedCheckpoint(): Promise<string | null> {
    return this.store.transaction((tx) => this.store.getCheckpoint(tx, this.name));
  }
}

/**
 * Reads a page while a writing transaction of the same store is open. A store that queues its
 * transactions never starts the read: that fails within seconds, saying which capability to
 * declare, instead of hanging until the runner's timeout.
 */
async function readWhileAnotherIsOpen(
  reader: TailingReader,
  harness: ConformanceHarness,
): Promise<void> {
  const limit = promptLimit(harness);
  await withinTime(
    reader.readPage(),
    limit,
    `a transaction did not complete within ${limit} ms while another transaction of the store was open. ${QUEUED_TRANSACTIONS_HINT}`,
  );
}

interface Scenario {
  fastWriters: number;
  appendsPerWriter: number;
  slowCommitter: boolean;
  rolledBackWriter: boolean;
}

/**
 * Runs writers (and optionally a slow committer and a writer that rolls back) against a tailing
 * reader, then checks the reader saw every committed event exactly once, in a stable order.
 */
async function runTailingScenario(store: EventStore<any>, scenario: Scenario): Promise<void> {
  const committed: string[] = [];
  const rolledBack: string[] = [];
  const shared = uniqueStream('order-shared');

  const fastWriter = async (w: number) => {
    const own = uniqueStream(`order-writer-${w}`);
    for (let i = 0; i < scenario.appendsPerWriter; i++) {
      const stream = i % 2 === 0 ? own : shared;
      const count = 1 + (i % 2);
      const result = await appendInTransaction(
        store,
        ExpectedVersion.any(),
        Array.from({ length: count }, () => makeEvent(stream, { payload: { w, i } })),
      );
      committed.push(...result.events.map((e) => e.eventId));
      await sleep(i % 3);
    }
  };

  const slowCommitter = async () => {
    await sleep(5);
    const result = await store.transaction(async (tx) => {
      const first = await store.append(tx, ExpectedVersion.any(), [
        makeEvent(uniqueStream('order-slow'), { eventType: 'SlowlyCommitted' }),
      ]);
      const second = await store.append(tx, ExpectedVersion.any(), [
        makeEvent(shared, { eventType: 'SlowlyCommitted' }),
      ]);
      await sleep(SLOW_COMMIT_MS);
      return [...first.events, ...second.events];
    });
    committed.push(...result.map((e) => e.eventId));
  };

  const rolledBackWriter = async () => {
    await sleep(5);
    const error = await store
      .transaction(async (tx) => {
        for (const stream of [uniqueStream('order-rollback'), shared]) {
          const appended = await store.append(tx, ExpectedVersion.any(), [
            makeEvent(stream, { eventType: 'RolledBack' }),
          ]);
          rolledBack.push(...appended.events.map((e) => e.eventId));
        }
        await sleep(SLOW_COMMIT_MS / 3);
        throw new IntendedRollback();
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof IntendedRollback, 'transaction rethrows the callback’s error');
  };

  const reader = new TailingReader(store);
  let writersDone = false;
  const writers = Promise.all([
    ...Array.from({ length: scenario.fastWriters }, (_, w) => fastWriter(w)),
    ...(scenario.slowCommitter ? [slowCommitter()] : []),
    ...(scenario.rolledBackWriter ? [rolledBackWriter()] : []),
  ]).finally(() => {
    writersDone = true;
  });
  const [, tailOutcome] = await Promise.allSettled([
    writers,
    reader.tailUntil(() => (writersDone ? committed : null)),
  ]);
  await writers;
  if (tailOutcome.status === 'rejected') throw tailOutcome.reason;

  const seenIds = reader.seen.map((e) => e.eventId);
  assert.equal(new Set(seenIds).size, seenIds.length, 'no event is read twice');
  assert.deepEqual([...seenIds].sort(), [...committed].sort(), 'every committed event is read');
  for (const id of rolledBack) {
    assert.ok(!seenIds.includes(id), 'an event of a rolled-back transaction is never read');
  }
  assertStrictlyIncreasing(reader.seen.map((e) => e.checkpoint));
  assert.equal(await reader.savedCheckpoint(), reader.seen[reader.seen.length - 1]?.checkpoint);
  const replay = await readWholeLog(store);
  assert.deepEqual(
    replay.map((e) => e.eventId),
    seenIds,
    'the log reads back in the order the tailing reader saw it',
  );
}

/**
 * Registers the ordering group (the core promise of SPEC §3): a tailing reader that checkpoints
 * after every page sees every committed event exactly once and never a rolled-back one, under
 * concurrent writers, a slow committer and a rolled-back writer. The scenarios that hold a writing
 * transaction open while the reader reads need `capabilities.concurrentTransactions`.
 */
export function describeOrderingConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('ordering guarantee', () => {
    api.it('a tailing reader sees every event of concurrent writers exactly once', async () => {
      await withFreshStore(harness, (subject) =>
        runTailingScenario(subject.store, {
          fastWriters: 5,
          appendsPerWriter: 8,
          slowCommitter: false,
          rolledBackWriter: false,
        }),
      );
    });

    api.it(
      `a tailing reader does not skip the events of a slow committer (${SLOW_COMMIT_MS} ms)`,
      async () => {
        await withFreshStore(harness, (subject) =>
          runTailingScenario(subject.store, {
            fastWriters: 4,
            appendsPerWriter: 8,
            slowCommitter: true,
            rolledBackWriter: false,
          }),
        );
      },
    );

    api.it('a tailing reader never sees the events of a rolled-back writer', async () => {
      await withFreshStore(harness, (subject) =>
        runTailingScenario(subject.store, {
          fastWriters: 4,
          appendsPerWriter: 8,
          slowCommitter: false,
          rolledBackWriter: true,
        }),
      );
    });

    api.it('mixed: concurrent writers, a slow committer and a rolled-back writer', async () => {
      await withFreshStore(harness, (subject) =>
        runTailingScenario(subject.store, {
          fastWriters: 4,
          appendsPerWriter: 6,
          slowCommitter: true,
          rolledBackWriter: true,
        }),
      );
    });

    const concurrent = supportsConcurrentTransactions(harness);

    itIf(
      api,
      concurrent,
      'an event committed late by an earlier transaction never lands behind a passed checkpoint',
      QUEUED_TRANSACTIONS_REASON,
      async () => {
        await withFreshStore(harness, async ({ store }) => {
          const slowAppended = deferred();
          const releaseSlow = deferred();
          const slow = store.transaction(async (tx) => {
            const result = await store.append(tx, ExpectedVersion.any(), [
              makeEvent(uniqueStream('order-early'), { eventType: 'StartedFirst' }),
            ]);
            slowAppended.resolve();
            await releaseSlow.promise;
            return result;
          });
          await Promise.race([slowAppended.promise, slow]);
          // Positions may make the fast writer wait for the slow one (MySQL's counter row), so
          // never wait for its commit while the slow transaction is open.
          const fast = appendInTransaction(store, ExpectedVersion.any(), [
            makeEvent(uniqueStream('order-late'), { eventType: 'CommittedFirst' }),
          ]);
          const fastOutcome = fast.then(
            () => 'committed',
            () => 'failed',
          );
          await Promise.race([fastOutcome, sleep(200)]);
          const reader = new TailingReader(store);
          try {
            await readWhileAnotherIsOpen(reader, harness);
          } finally {
            releaseSlow.resolve();
          }
          const [slowResult, fastResult] = await Promise.all([slow, fast]);
          const expected = [slowResult.events[0]!.eventId, fastResult.events[0]!.eventId];
          await reader.tailUntil(() => expected);
          const seen = reader.seen.map((e) => e.eventId);
          assert.deepEqual(
            [...seen].sort(),
            [...expected].sort(),
            'both events are read, each once',
          );
          assertStrictlyIncreasing(reader.seen.map((e) => e.checkpoint));
        });
      },
    );

    itIf(
      api,
      concurrent,
      'a transaction rolled back while others commit never shows up and never stalls the reader',
      QUEUED_TRANSACTIONS_REASON,
      async () => {
        await withFreshStore(harness, async ({ store }) => {
          const appended = deferred();
          const release = deferred();
          let doomedId: string | undefined;
          const doomed = store
            .transaction(async (tx) => {
              const result = await store.append(tx, ExpectedVersion.any(), [
                makeEvent(uniqueStream('order-doomed'), { eventType: 'RolledBack' }),
              ]);
              doomedId = result.events[0]!.eventId;
              appended.resolve();
              await release.promise;
              throw new IntendedRollback();
            })
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          await Promise.race([appended.promise, doomed]);
          const fast = appendInTransaction(store, ExpectedVersion.any(), [
            makeEvent(uniqueStream('order-survivor'), { eventType: 'Committed' }),
          ]);
          const fastOutcome = fast.then(
            () => 'committed',
            () => 'failed',
          );
          await Promise.race([fastOutcome, sleep(200)]);
          const reader = new TailingReader(store);
          try {
            await readWhileAnotherIsOpen(reader, harness);
          } finally {
            release.resolve();
          }
          assert.ok((await doomed) instanceof IntendedRollback);
          const survivor = await fast;
          await reader.tailUntil(() => [survivor.events[0]!.eventId]);
          assert.ok(doomedId !== undefined);
          assert.deepEqual(
            reader.seen.map((e) => e.eventId),
            [survivor.events[0]!.eventId],
          );
        });
      },
    );
  });
}
