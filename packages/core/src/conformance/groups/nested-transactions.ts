import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DuplicateEventIdError, OptimisticConcurrencyError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import {
  appendInTransaction,
  assertNothingWritten,
  assertRejectsWith,
  assertRowsAdded,
  deferred,
  itIf,
  makeEvent,
  makeEvents,
  QUEUED_TRANSACTIONS_REASON,
  readCheckpoint,
  readStream,
  sleep,
  snapshotStore,
  supportsConcurrentTransactions,
  uniqueId,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { limitTime, promptLimit, QUEUED_TRANSACTIONS_HINT, withinTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

class InnerFailure extends Error {
  constructor() {
    super('thrown by the conformance suite inside a nested transaction');
    this.name = 'InnerFailure';
  }
}

class OuterFailure extends Error {
  constructor() {
    super('thrown by the conformance suite inside the outer transaction');
    this.name = 'OuterFailure';
  }
}

/** Asserts that `work` rejects with `expected` itself (the very object). */
async function rejectsWithItself(work: Promise<unknown>, expected: Error): Promise<void> {
  const caught = await work.then(
    () => assert.fail(`the transaction should have rejected with ${expected.name}`),
    (error: unknown) => error,
  );
  assert.equal(caught, expected, 'a transaction rethrows its callback’s error as is');
}

/**
 * Registers the nested transactions group. A `store.transaction(fn)` called inside another
 * transaction callback of the same store runs `fn` as a savepoint of the outer transaction, with
 * the same transaction handle:
 *
 * - an inner throw rolls back only the inner work and rejects the inner call with the very error;
 *   the outer callback may catch it, go on, and commit the rest;
 * - inner success then an outer throw rolls back both;
 * - nothing is committed before the outermost transaction commits (checked from another
 *   transaction when the store has `capabilities.concurrentTransactions`);
 * - nested calls of one level run one after the other, in call order;
 * - a failed append inside a nested call (version conflict, duplicate event id) leaves the outer
 *   transaction usable;
 * - `appendToStream` called inside a transaction callback joins that transaction;
 * - it never needs a second connection: a nested call that waits for one fails on the suite's
 *   time limit.
 */
export function describeNestedTransactionConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(
    testApi,
    harness,
    'A nested store.transaction() must run as a savepoint of the enclosing transaction, on its connection: one that waits for a second connection or for the enclosing transaction to end never finishes.',
  );
  api.describe('nested transactions', () => {
    const subject = useGroupStore(api, harness);

    api.it('a nested call gets the same transaction handle and returns its value', async () => {
      const { store } = subject();
      const value = { nested: true };
      const result = await store.transaction(async (outer) => {
        const inner = await store.transaction(async (tx) => {
          assert.equal(tx, outer, 'the nested callback receives the outer transaction’s handle');
          return value;
        });
        return { inner };
      });
      assert.equal(result.inner, value, 'the nested call resolves with its callback’s value');
    });

    api.it('inner and outer work commit together when both succeed', async () => {
      const current = subject();
      const { store } = current;
      const a = uniqueStream('nested-ok-a');
      const b = uniqueStream('nested-ok-b');
      const name = uniqueId('nested-ok-checkpoint');
      const before = await snapshotStore(current);
      await store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), [makeEvent(a)]);
        const inner = await store.transaction(async (innerTx) => {
          const appended = await store.append(innerTx, ExpectedVersion.noStream(), [makeEvent(b)]);
          await store.append(innerTx, ExpectedVersion.exact(1), [makeEvent(a)]);
          await store.saveCheckpoint(innerTx, name, appended.events[0]!.checkpoint);
          return appended;
        });
        assert.equal(inner.toVersion, 1);
        await store.append(tx, ExpectedVersion.exact(2), [makeEvent(a)]);
      });
      assert.equal((await readStream(store, a)).version, 3);
      assert.equal((await readStream(store, b)).version, 1);
      assert.notEqual(await readCheckpoint(store, name), null, 'the inner checkpoint committed');
      assertRowsAdded(before, await snapshotStore(current), {
        events: 4,
        aggregateHeads: 2,
        checkpoints: 1,
      });
    });

    api.it(
      'an inner throw rolls back only the inner work; the outer catches it and commits the rest',
      async () => {
        const current = subject();
        const { store } = current;
        const a = uniqueStream('nested-inner-throw-a');
        const b = uniqueStream('nested-inner-throw-b');
        const name = uniqueId('nested-inner-throw-checkpoint');
        const thrown = new InnerFailure();
        const before = await snapshotStore(current);
        await store.transaction(async (tx) => {
          const first = await store.append(tx, ExpectedVersion.noStream(), [makeEvent(a)]);
          await rejectsWithItself(
            store.transaction(async (innerTx) => {
              await store.append(innerTx, ExpectedVersion.noStream(), makeEvents(b, 2));
              await store.append(innerTx, ExpectedVersion.exact(1), [makeEvent(a)]);
              await store.saveCheckpoint(innerTx, name, first.events[0]!.checkpoint);
              throw thrown;
            }),
            thrown,
          );
          const aInside = await store.readAggregateStream(tx, a);
          assert.equal(aInside.version, 1, 'the inner append to the outer’s stream is undone');
          assert.equal((await store.readAggregateStream(tx, b)).version, 0, 'inner stream undone');
          assert.equal(await store.getCheckpoint(tx, name), null, 'inner checkpoint undone');
          await store.append(tx, ExpectedVersion.exact(1), [makeEvent(a)]);
        });
        const a2 = await readStream(store, a);
        assert.deepEqual(
          a2.events.map((e) => e.aggregateVersion),
          [1, 2],
        );
        assert.equal((await readStream(store, b)).version, 0);
        assert.equal(await readCheckpoint(store, name), null);
        assertRowsAdded(before, await snapshotStore(current), {
          events: 2,
          aggregateHeads: 1,
          checkpoints: 0,
        });
      },
    );

    api.it('inner success then an outer throw rolls back both', async () => {
      const current = subject();
      const { store } = current;
      const a = uniqueStream('nested-outer-throw-a');
      const b = uniqueStream('nested-outer-throw-b');
      const name = uniqueId('nested-outer-throw-checkpoint');
      const thrown = new OuterFailure();
      await assertNothingWritten(
        current,
        () =>
          rejectsWithItself(
            store.transaction(async (tx) => {
              await store.append(tx, ExpectedVersion.noStream(), [makeEvent(a)]);
              await store.transaction(async (innerTx) => {
                const appended = await store.append(innerTx, ExpectedVersion.noStream(), [
                  makeEvent(b),
                ]);
                await store.saveCheckpoint(innerTx, name, appended.events[0]!.checkpoint);
              });
              assert.equal(
                (await store.readAggregateStream(tx, b)).version,
                1,
                'the outer transaction sees what the finished inner one wrote',
              );
              throw thrown;
            }),
            thrown,
          ),
        [a, b],
      );
      assert.equal(await readCheckpoint(store, name), null);
    });

    api.it('three levels: each level rolls back its own work and what it contains', async () => {
      const { store } = subject();
      const a = uniqueStream('nested-three-a');
      const b = uniqueStream('nested-three-b');
      const c = uniqueStream('nested-three-c');
      const innermost = new InnerFailure();
      const middle = new OuterFailure();
      await store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), [makeEvent(a)]);
        // The middle level catches the innermost failure and commits its own work.
        await store.transaction(async (middleTx) => {
          await store.append(middleTx, ExpectedVersion.noStream(), [makeEvent(b)]);
          await rejectsWithItself(
            store.transaction(async (innerTx) => {
              await store.append(innerTx, ExpectedVersion.noStream(), [makeEvent(c)]);
              throw innermost;
            }),
            innermost,
          );
          await store.append(middleTx, ExpectedVersion.exact(1), [makeEvent(b)]);
        });
        // The middle level fails after its innermost level succeeded: both are undone.
        await rejectsWithItself(
          store.transaction(async (middleTx) => {
            await store.append(middleTx, ExpectedVersion.exact(2), [makeEvent(b)]);
            await store.transaction(async (innerTx) => {
              await store.append(innerTx, ExpectedVersion.noStream(), [makeEvent(c)]);
            });
            throw middle;
          }),
          middle,
        );
        await store.append(tx, ExpectedVersion.exact(1), [makeEvent(a)]);
      });
      assert.equal((await readStream(store, a)).version, 2);
      assert.equal((await readStream(store, b)).version, 2);
      assert.equal((await readStream(store, c)).version, 0);
    });

    api.it(
      'nested calls of one level run one after the other, in call order; a failing one does not affect the others',
      async () => {
        const { store } = subject();
        const streams = [0, 1, 2].map((i) => uniqueStream(`nested-queued-${i}`));
        const trace: string[] = [];
        const failure = new InnerFailure();
        const outcomes = await store.transaction(async (tx) =>
          Promise.allSettled(
            streams.map((stream, i) =>
              store.transaction(async (innerTx) => {
                assert.equal(innerTx, tx);
                trace.push(`start ${i}`);
                await sleep(5);
                await store.append(innerTx, ExpectedVersion.noStream(), [makeEvent(stream)]);
                await sleep(5);
                trace.push(`end ${i}`);
                if (i === 1) throw failure;
                return i;
              }),
            ),
          ),
        );
        assert.deepEqual(
          trace,
          ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2'],
          'nested calls started together run one at a time, in call order',
        );
        assert.deepEqual(
          outcomes.map((o) => (o.status === 'fulfilled' ? o.value : o.reason)),
          [0, failure, 2],
        );
        const versions = await Promise.all(
          streams.map(async (s) => (await readStream(store, s)).version),
        );
        assert.deepEqual(versions, [1, 0, 1], 'only the failing nested call was rolled back');
      },
    );

    api.it(
      'a version conflict or duplicate event id inside a nested call leaves the outer transaction usable',
      async () => {
        const { store } = subject();
        const stream = uniqueStream('nested-conflict');
        const eventId = randomUUID();
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream, { eventId }),
        ]);
        const other = uniqueStream('nested-conflict-other');
        await store.transaction(async (tx) => {
          await assertRejectsWith(
            store.transaction((innerTx) =>
              store.append(innerTx, ExpectedVersion.exact(5), [makeEvent(stream)]),
            ),
            OptimisticConcurrencyError,
            'OPTIMISTIC_CONCURRENCY',
            { actualVersion: 1 },
          );
          await assertRejectsWith(
            store.transaction(async (innerTx) => {
              await store.append(innerTx, ExpectedVersion.noStream(), [makeEvent(other)]);
              await store.append(innerTx, ExpectedVersion.exact(1), [
                makeEvent(stream, { eventId }),
              ]);
            }),
            DuplicateEventIdError,
            'DUPLICATE_EVENT_ID',
          );
          // The database errors were confined to their savepoints: the transaction goes on.
          await store.append(tx, ExpectedVersion.exact(1), [makeEvent(stream)]);
          await store.append(tx, ExpectedVersion.noStream(), [makeEvent(other)]);
        });
        assert.equal((await readStream(store, stream)).version, 2);
        assert.equal((await readStream(store, other)).version, 1);
      },
    );

    api.it('appendToStream inside a transaction callback joins that transaction', async () => {
      const { store } = subject();
      const kept = uniqueStream('nested-append-to-stream-kept');
      const undone = uniqueStream('nested-append-to-stream-undone');
      await store.transaction(async (tx) => {
        const joined = await store.appendToStream(ExpectedVersion.noStream(), [makeEvent(kept)]);
        assert.equal(joined.toVersion, 1);
        assert.equal(
          (await store.readAggregateStream(tx, kept)).version,
          1,
          'the enclosing transaction sees the append',
        );
      });
      assert.equal((await readStream(store, kept)).version, 1, 'committed with the transaction');
      const thrown = new OuterFailure();
      await rejectsWithItself(
        store.transaction(async () => {
          await store.appendToStream(ExpectedVersion.noStream(), makeEvents(undone, 2));
          throw thrown;
        }),
        thrown,
      );
      assert.equal((await readStream(store, undone)).version, 0, 'rolled back with it');
    });

    itIf(
      api,
      supportsConcurrentTransactions(harness),
      'nothing a finished nested call wrote is visible to other transactions before the outermost commits',
      QUEUED_TRANSACTIONS_REASON,
      async () => {
        const { store } = subject();
        const stream = uniqueStream('nested-invisible');
        const innerDone = deferred();
        const release = deferred();
        const outer = store.transaction(async (tx) => {
          await store.transaction((innerTx) =>
            store.append(innerTx, ExpectedVersion.noStream(), makeEvents(stream, 2)),
          );
          innerDone.resolve();
          await release.promise;
          return store.readAggregateStream(tx, stream);
        });
        try {
          await Promise.race([innerDone.promise, outer]);
          // This read runs in the test's own context, outside the open transaction.
          const limit = promptLimit(harness);
          const outside = await withinTime(
            readStream(store, stream),
            limit,
            `a read did not complete within ${limit} ms while a transaction of the store was open. ${QUEUED_TRANSACTIONS_HINT}`,
          );
          assert.equal(
            outside.version,
            0,
            'another transaction must not see a nested call’s work before the outermost commit',
          );
        } finally {
          release.resolve();
        }
        assert.equal((await outer).version, 2);
        assert.equal((await readStream(store, stream)).version, 2, 'visible after the commit');
      },
    );
  });
}
