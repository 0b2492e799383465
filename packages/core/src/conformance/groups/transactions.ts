import assert from 'node:assert/strict';
import { ExpectedVersion } from '../../expected-version.js';
import {
  appendInTransaction,
  assertNothingWritten,
  makeEvent,
  makeEvents,
  readStream,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

class CallerFailure extends Error {
  constructor() {
    super('thrown by the conformance suite inside a transaction');
    this.name = 'CallerFailure';
  }
}

/**
 * Registers the transactions group: the callback's value is returned on commit, a throw rolls
 * back everything the callback appended and rethrows the same error, and reads inside the
 * transaction see its own appends.
 */
export function describeTransactionConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('transactions', () => {
    const subject = useGroupStore(api, harness);

    api.it('returns the value of the callback', async () => {
      const { store } = subject();
      const value = { answer: 42 };
      assert.equal(await store.transaction(async () => value), value);
      const stream = uniqueStream('tx-value');
      const result = await store.transaction(async (tx) => {
        const appended = await store.append(tx, ExpectedVersion.noStream(), [makeEvent(stream)]);
        return { toVersion: appended.toVersion, label: 'done' };
      });
      assert.deepEqual(result, { toVersion: 1, label: 'done' });
      assert.equal((await readStream(store, stream)).version, 1);
    });

    api.it('a throw after an append rolls it back and rethrows the same error', async () => {
      const current = subject();
      const stream = uniqueStream('tx-throw');
      const thrown = new CallerFailure();
      await assertNothingWritten(current, async () => {
        const caught = await current.store
          .transaction(async (tx) => {
            await current.store.append(tx, ExpectedVersion.noStream(), makeEvents(stream, 2));
            throw thrown;
          })
          .then(
            () => assert.fail('the transaction should have rejected'),
            (error: unknown) => error,
          );
        assert.equal(caught, thrown, 'the callback’s error is rethrown as is');
      }, [stream]);
      const retry = await appendInTransaction(current.store, ExpectedVersion.noStream(), [
        makeEvent(stream),
      ]);
      assert.equal(retry.toVersion, 1, 'the rolled-back stream is still new');
    });

    api.it('a throw rolls back appends to several streams and to an existing stream', async () => {
      const current = subject();
      const existing = uniqueStream('tx-existing');
      const fresh = uniqueStream('tx-fresh');
      await appendInTransaction(current.store, ExpectedVersion.noStream(), makeEvents(existing, 2));
      await assertNothingWritten(current, async () => {
        await assert.rejects(
          current.store.transaction(async (tx) => {
            await current.store.append(tx, ExpectedVersion.exact(2), makeEvents(existing, 3));
            await current.store.append(tx, ExpectedVersion.noStream(), makeEvents(fresh, 1));
            await current.store.append(tx, ExpectedVersion.exact(5), makeEvents(existing, 1));
            throw new CallerFailure();
          }),
          CallerFailure,
        );
      }, [existing, fresh]);
      const next = await appendInTransaction(current.store, ExpectedVersion.exact(2), [
        makeEvent(existing),
      ]);
      assert.equal(next.toVersion, 3, 'the existing stream is back at its committed version');
    });

    api.it('reads inside the transaction see its own appends', async () => {
      const { store } = subject();
      const stream = uniqueStream('tx-read-own');
      const inside = await store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), makeEvents(stream, 2));
        return store.readAggregateStream(tx, stream);
      });
      assert.equal(inside.version, 2);
      assert.equal(inside.events.length, 2);
    });

    api.it('commits when the callback resolves, visible to later transactions', async () => {
      const { store } = subject();
      const stream = uniqueStream('tx-commit');
      await store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), makeEvents(stream, 1));
        await store.append(tx, ExpectedVersion.exact(1), makeEvents(stream, 1));
      });
      const read = await readStream(store, stream);
      assert.deepEqual(
        read.events.map((e) => e.aggregateVersion),
        [1, 2],
      );
    });
  });
}
