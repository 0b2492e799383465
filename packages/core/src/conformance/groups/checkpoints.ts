import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import { readProjectionBatch } from '../../projection/batch.js';
import type { Checkpoint, PersistedEvent } from '../../types.js';
import {
  appendInTransaction,
  assertNothingWritten,
  assertRejectsWith,
  deferred,
  itIf,
  makeEvents,
  QUEUED_TRANSACTIONS_REASON,
  readWholeLog,
  sleep,
  snapshotStore,
  supportsConcurrentTransactions,
  uniqueId,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

type Untyped = any;

/** What the second worker of a lock test read. */
interface SeenBatch {
  checkpoint: Checkpoint | null;
  first: Checkpoint | undefined;
}

class RollbackSignal extends Error {
  constructor() {
    super('rolled back on purpose by the conformance suite');
    this.name = 'RollbackSignal';
  }
}

/**
 * Registers the checkpoints group: a missing checkpoint is `null`; save, overwrite (forwards and
 * backwards), one per projection name; a checkpoint saved in a rolled-back transaction is not
 * saved.
 */
export function describeCheckpointConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('checkpoints', () => {
    const subject = useGroupStore(api, harness);

    /** Real checkpoints of this store, taken from freshly appended events. */
    async function checkpoints(count: number): Promise<Checkpoint[]> {
      const result = await appendInTransaction(
        subject().store,
        ExpectedVersion.noStream(),
        makeEvents(uniqueStream('cp'), count),
      );
      return result.events.map((e) => e.checkpoint);
    }

    function get(name: string): Promise<Checkpoint | null> {
      const { store } = subject();
      return store.transaction((tx) => store.getCheckpoint(tx, name));
    }

    function save(name: string, checkpoint: Checkpoint): Promise<void> {
      const { store } = subject();
      return store.transaction((tx) => store.saveCheckpoint(tx, name, checkpoint));
    }

    api.it('a projection with no saved checkpoint reads null', async () => {
      assert.equal(await get(uniqueId('never-saved')), null);
    });

    api.it('saves a checkpoint and reads it back', async () => {
      const [cp] = await checkpoints(1);
      const name = uniqueId('projection');
      await save(name, cp!);
      assert.equal(await get(name), cp);
    });

    api.it('overwrites a checkpoint, forwards and backwards, keeping one row', async () => {
      const current = subject();
      const [a, b, c] = await checkpoints(3);
      const name = uniqueId('projection-overwrite');
      await save(name, a!);
      const afterFirst = await snapshotStore(current);
      await save(name, c!);
      assert.equal(await get(name), c);
      await save(name, b!);
      assert.equal(await get(name), b, 'saving an older checkpoint (a reset) is allowed');
      const afterAll = await snapshotStore(current);
      assert.equal(afterAll.checkpoints, afterFirst.checkpoints, 'one row per projection');
    });

    api.it('keeps one checkpoint per projection name', async () => {
      const [a, b] = await checkpoints(2);
      const base = uniqueId('projection');
      const names = [base, `${base}_p0`, `${base}_p1`, base.toUpperCase()];
      await save(names[0]!, a!);
      await save(names[1]!, b!);
      await save(names[2]!, a!);
      assert.equal(await get(names[0]!), a);
      assert.equal(await get(names[1]!), b);
      assert.equal(await get(names[2]!), a);
      assert.equal(await get(names[3]!), null, 'names are case-sensitive');
    });

    api.it('accepts long and unicode projection names', async () => {
      const [cp] = await checkpoints(1);
      const long = `${randomUUID()}-${'p'.repeat(255 - 37)}`;
      const unicode = `投影-${randomUUID()}-🐾`;
      assert.equal(long.length, 255);
      await save(long, cp!);
      await save(unicode, cp!);
      assert.equal(await get(long), cp);
      assert.equal(await get(unicode), cp);
    });

    api.it('saves and reads a checkpoint in the same transaction as other work', async () => {
      const { store } = subject();
      const name = uniqueId('projection-same-tx');
      const stream = uniqueStream('cp-same-tx');
      const seen = await store.transaction(async (tx) => {
        const result = await store.append(tx, ExpectedVersion.noStream(), makeEvents(stream, 1));
        await store.saveCheckpoint(tx, name, result.events[0]!.checkpoint);
        return { saved: await store.getCheckpoint(tx, name), cp: result.events[0]!.checkpoint };
      });
      assert.equal(seen.saved, seen.cp);
      assert.equal(await get(name), seen.cp);
    });

    api.it('a checkpoint saved in a rolled-back transaction is not saved', async () => {
      const current = subject();
      const [a, b] = await checkpoints(2);
      const fresh = uniqueId('projection-rollback-new');
      const existing = uniqueId('projection-rollback-existing');
      await save(existing, a!);
      await assertNothingWritten(current, () =>
        assert.rejects(
          current.store.transaction(async (tx) => {
            await current.store.saveCheckpoint(tx, fresh, b!);
            await current.store.saveCheckpoint(tx, existing, b!);
            throw new RollbackSignal();
          }),
          RollbackSignal,
        ),
      );
      assert.equal(await get(fresh), null);
      assert.equal(await get(existing), a);
    });

    api.it('getCheckpoint with { lock: true } reads the same checkpoint', async () => {
      const { store } = subject();
      const [cp] = await checkpoints(1);
      const name = uniqueId('projection-lock-read');
      assert.equal(
        await store.transaction((tx) => store.getCheckpoint(tx, name, { lock: true })),
        null,
      );
      await save(name, cp!);
      assert.equal(
        await store.transaction((tx) => store.getCheckpoint(tx, name, { lock: true })),
        cp,
      );
    });

    itIf(
      api,
      supportsConcurrentTransactions(harness),
      'a locked checkpoint makes a second worker wait until the first one commits',
      `${QUEUED_TRANSACTIONS_REASON}: two workers never overlap`,
      async () => {
        const { store } = subject();
        const [first, second] = await checkpoints(2);
        const name = uniqueId('projection-lock-turns');
        const locked = deferred();
        const release = deferred();
        const workerA = store.transaction(async (tx) => {
          assert.equal(await store.getCheckpoint(tx, name, { lock: true }), null);
          locked.resolve();
          await release.promise;
          await store.saveCheckpoint(tx, name, first!);
        });
        await locked.promise;
        let seenByB: Checkpoint | null | undefined;
        let workerB: Promise<void> | undefined;
        try {
          workerB = store.transaction(async (tx) => {
            seenByB = await store.getCheckpoint(tx, name, { lock: true });
            await store.saveCheckpoint(tx, name, second!);
          });
          await sleep(200);
          assert.equal(seenByB, undefined, 'worker B read the checkpoint while A held the lock');
        } finally {
          // Whatever happened, let worker A commit so no transaction is left open.
          release.resolve();
          await Promise.allSettled([workerA, workerB]);
        }
        await Promise.all([workerA, workerB]);
        assert.equal(seenByB, first, 'worker B must resume from what worker A committed');
        assert.equal(await get(name), second);
      },
    );

    api.it('readProjectionBatch reads the events after the saved checkpoint', async () => {
      const { store } = subject();
      await checkpoints(4);
      const name = uniqueId('projection-batch');
      const batch = (limit: number) =>
        store.transaction((tx) => readProjectionBatch(store, tx, name, { limit }));
      const positions = (events: readonly PersistedEvent[]) => events.map((e) => e.checkpoint);
      const fromStart = await batch(3);
      assert.equal(fromStart.checkpoint, null);
      const expectedStart = await store.transaction((tx) =>
        store.readEvents(tx, { after: null, limit: 3 }),
      );
      assert.deepEqual(positions(fromStart.events), positions(expectedStart));
      assert.equal(fromStart.events.length, 3);

      const saved = fromStart.events[1]!.checkpoint;
      await save(name, saved);
      const next = await batch(2);
      assert.equal(next.checkpoint, saved);
      const expectedNext = await store.transaction((tx) =>
        store.readEvents(tx, { after: saved, limit: 2 }),
      );
      assert.deepEqual(positions(next.events), positions(expectedNext));
      assert.equal(next.events[0]!.checkpoint, fromStart.events[2]!.checkpoint);
      assert.deepEqual(next.events[0]!.payload, fromStart.events[2]!.payload);

      const whole = await readWholeLog(store);
      const last = whole[whole.length - 1]!.checkpoint;
      await save(name, last);
      const end = await batch(10);
      assert.equal(end.checkpoint, last);
      assert.deepEqual(end.events, []);
    });

    api.it('readProjectionBatch rejects a bad name or limit, writing nothing', async () => {
      const current = subject();
      const { store } = current;
      const call = (name: unknown, options: unknown) =>
        store.transaction((tx) =>
          readProjectionBatch(store, tx, name as Untyped, options as Untyped),
        );
      for (const name of ['', 'p'.repeat(256), 42, null]) {
        await assertNothingWritten(current, () =>
          assertRejectsWith(call(name, { limit: 10 }), InvalidArgumentError, 'INVALID_ARGUMENT'),
        );
      }
      const name = uniqueId('projection-batch-bad');
      for (const options of [{ limit: 0 }, { limit: 1.5 }, { limit: -1 }, {}, { limit: '10' }]) {
        await assertNothingWritten(current, () =>
          assertRejectsWith(call(name, options), InvalidArgumentError, 'INVALID_ARGUMENT'),
        );
      }
      assert.equal(await get(name), null);
    });

    for (const existing of [false, true]) {
      itIf(
        api,
        supportsConcurrentTransactions(harness),
        `readProjectionBatch makes a second worker wait until the first one commits (${
          existing ? 'saved checkpoint' : 'no checkpoint yet'
        })`,
        `${QUEUED_TRANSACTIONS_REASON}: two workers never overlap`,
        async () => {
          const { store } = subject();
          const cps = await checkpoints(3);
          const name = uniqueId('projection-batch-turns');
          if (existing) await save(name, cps[0]!);
          const start = existing ? cps[0]! : null;
          const locked = deferred();
          const release = deferred();
          const workerA = store.transaction(async (tx) => {
            const batch = await readProjectionBatch(store, tx, name, { limit: 1 });
            assert.equal(batch.checkpoint, start);
            locked.resolve();
            await release.promise;
            await store.saveCheckpoint(tx, name, cps[1]!);
          });
          await locked.promise;
          const seen: { byB?: SeenBatch } = {};
          let workerB: Promise<void> | undefined;
          try {
            workerB = store.transaction(async (tx) => {
              const batch = await readProjectionBatch(store, tx, name, { limit: 1 });
              seen.byB = { checkpoint: batch.checkpoint, first: batch.events[0]?.checkpoint };
              await store.saveCheckpoint(tx, name, cps[2]!);
            });
            await sleep(200);
            assert.ok(seen.byB === undefined, 'worker B read the batch while A held the lock');
          } finally {
            release.resolve();
            await Promise.allSettled([workerA, workerB]);
          }
          await Promise.all([workerA, workerB]);
          // (A cast: TypeScript cannot see that worker B assigned it.)
          const byB = seen.byB as SeenBatch | undefined;
          assert.equal(byB?.checkpoint, cps[1], 'worker B must resume from what A committed');
          assert.equal(byB?.first, cps[2], 'worker B must read the event after that');
          assert.equal(await get(name), cps[2]);
        },
      );
    }
  });
}
