import assert from 'node:assert/strict';
import { StoreClosedError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import type { Projection } from '../../projection/types.js';
import type { EventStore } from '../../types.js';
import {
  appendEvents,
  appendInTransaction,
  assertRejectsWith,
  callAsync,
  deferred,
  delegatingStore,
  itIf,
  makeEvent,
  NO_WAIT_FOR_EVENTS_REASON,
  readCheckpoint,
  readWholeLog,
  requireWaitForEvents,
  sleep,
  snapshotStore,
  supportsWaitForEvents,
  uniqueId,
  uniqueStream,
  waitUntil,
  withFreshStore,
} from '../helpers.js';
import { callsOfEveryMethod, callsWithTransaction, type ValidArguments } from '../method-calls.js';
import { limitTime, promptLimit, withinTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Something that is not what the type says, on purpose. */
type Untyped = any;

/** Appends an event and keeps the handle of a finished transaction, for calls after `close()`. */
async function prepareClosedCalls(
  store: EventStore<any>,
): Promise<ValidArguments & { tx: unknown }> {
  const stream = uniqueStream('closed');
  const result = await appendInTransaction(store, ExpectedVersion.noStream(), [makeEvent(stream)]);
  let tx: unknown;
  await store.transaction(async (handle) => {
    tx = handle;
  });
  return { stream, checkpoint: result.events[0]!.checkpoint, tx };
}

/** Asserts that `what` rejects with `StoreClosedError` (class and code), without throwing. */
async function expectClosed(what: string, call: () => unknown): Promise<void> {
  await assertRejectsWith(callAsync(what, call), StoreClosedError, 'STORE_CLOSED');
}

/**
 * Registers the close group; each test closes a store of its own. After `close()`:
 *
 * - every later call of every method (`transaction`, `append`, `appendToStream`, `readEvents`,
 *   `readAggregateStream`, `getCheckpoint`, `saveCheckpoint`, `readProjectionBatch`,
 *   `getLogStatus`, `migrate`, `waitForEvents`) rejects with {@link StoreClosedError}
 *   (`STORE_CLOSED`), whatever its arguments, and never throws synchronously;
 * - a second `close()` resolves;
 * - `close()` does not wait for a running transaction; that transaction's later calls reject with
 *   `StoreClosedError`, so it rolls back when its callback lets the error through;
 * - pending `waitForEvents` calls resolve (`capabilities.waitForEvents`);
 * - a running `ProjectionProcessor.run` rejects with `StoreClosedError`, whether it was waiting for
 *   events or handling a batch (which is not committed); it never busy-loops.
 */
export function describeCloseConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(
    testApi,
    harness,
    'close() must not wait for running transactions, and must end pending waitForEvents calls.',
  );
  api.describe('close', () => {
    api.it(
      'after close() every method rejects with StoreClosedError, never throwing synchronously',
      () =>
        withFreshStore(harness, async ({ store }) => {
          const valid = await prepareClosedCalls(store);
          await store.close();
          const ran = { callback: false };
          for (const { what, call } of callsOfEveryMethod(store, valid.tx, valid, ran)) {
            await expectClosed(`${what} after close()`, call);
          }
          assert.equal(ran.callback, false, 'a transaction callback never runs after close()');
        }),
    );

    api.it('after close() even a call with invalid arguments rejects with StoreClosedError', () =>
      withFreshStore(harness, async ({ store }) => {
        await prepareClosedCalls(store);
        await store.close();
        const s: Untyped = store;
        const calls: [string, () => unknown][] = [
          ['transaction(not a function)', () => s.transaction('not a function')],
          ['transaction(fn, garbage options)', () => s.transaction(async () => 1, 42)],
          ['append(garbage)', () => s.append(undefined, undefined, undefined)],
          ['appendToStream(garbage)', () => s.appendToStream(null, 'events', 42)],
          ['readEvents(garbage)', () => s.readEvents(null, null)],
          ['readAggregateStream(garbage)', () => s.readAggregateStream(42, 'stream', 'all')],
          ['getCheckpoint(garbage)', () => s.getCheckpoint({}, '', 42)],
          ['saveCheckpoint(garbage)', () => s.saveCheckpoint([], null, null)],
        ];
        if (typeof store.readProjectionBatch === 'function') {
          calls.push(['readProjectionBatch(garbage)', () => s.readProjectionBatch('tx', 42, null)]);
        }
        if (typeof store.getLogStatus === 'function') {
          calls.push(['getLogStatus(garbage)', () => s.getLogStatus(Symbol('tx'), 42)]);
        }
        if (typeof store.waitForEvents === 'function') {
          calls.push(['waitForEvents(garbage)', () => s.waitForEvents(undefined)]);
        }
        for (const [what, call] of calls) await expectClosed(`${what} after close()`, call);
      }),
    );

    api.it('a second close() resolves, and so do concurrent ones', () =>
      withFreshStore(harness, async ({ store }) => {
        await prepareClosedCalls(store);
        const limit = promptLimit(harness);
        await withinTime(
          Promise.all([store.close(), store.close()]),
          limit,
          `two concurrent close() calls did not both resolve within ${limit} ms`,
        );
        await withinTime(
          store.close(),
          limit,
          `a later close() did not resolve within ${limit} ms`,
        );
      }),
    );

    api.it(
      'close() does not wait for a running transaction, whose later calls reject with StoreClosedError, so it rolls back',
      () =>
        withFreshStore(harness, async (subject) => {
          const { store } = subject;
          const valid = await prepareClosedCalls(store);
          const before = await snapshotStore(subject);
          const appended = deferred();
          const release = deferred();
          const insideErrors: string[] = [];
          const running = store.transaction(async (tx) => {
            await store.append(tx, ExpectedVersion.any(), [makeEvent(uniqueStream('closing'))]);
            appended.resolve();
            await release.promise;
            for (const { what, call } of callsWithTransaction(store, tx, valid)) {
              await expectClosed(`${what} with the handle of a running transaction`, call).catch(
                (error: unknown) => {
                  insideErrors.push(error instanceof Error ? error.message : String(error));
                },
              );
            }
            // The callback lets the store's error through, as code that does not catch it does.
            await store.append(tx, ExpectedVersion.any(), [makeEvent(valid.stream)]);
          });
          const ended = running.then(
            () => 'committed',
            () => 'rolled back',
          );
          const limit = promptLimit(harness);
          try {
            await Promise.race([appended.promise, running]);
            await withinTime(
              store.close(),
              limit,
              `close() did not resolve within ${limit} ms while a transaction was running: it must not wait for running transactions`,
            );
          } finally {
            release.resolve();
          }
          await withinTime(ended, limit, 'the running transaction did not end after close()');
          assert.deepEqual(insideErrors, [], 'calls with the running transaction’s handle');
          await assertRejectsWith(running, StoreClosedError, 'STORE_CLOSED');
          const after = await snapshotStore(subject);
          if (before.events !== null && after.events !== null) {
            assert.equal(after.events, before.events, 'the running transaction rolled back');
          }
        }),
    );

    itIf(
      api,
      supportsWaitForEvents(harness),
      'pending waitForEvents calls resolve when the store closes',
      NO_WAIT_FOR_EVENTS_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          const wait = requireWaitForEvents(store);
          const signal = new AbortController().signal;
          const waits = [
            wait({ signal, timeoutMs: 60_000 }),
            wait({ signal, timeoutMs: Number.POSITIVE_INFINITY }),
          ];
          await sleep(20);
          const limit = promptLimit(harness);
          await store.close();
          await withinTime(
            Promise.all(waits),
            limit,
            `pending waitForEvents calls did not resolve within ${limit} ms of close()`,
          );
        }),
    );

    api.it(
      'a processor waiting for events rejects with StoreClosedError when the store closes, without a busy loop',
      () =>
        withFreshStore(harness, async ({ store }) => {
          await appendEvents(store, [{ count: 3 }]);
          const last = (await readWholeLog(store)).at(-1)!;
          let transactions = 0;
          const observed = delegatingStore(store);
          observed.transaction = (fn) => {
            transactions++;
            return store.transaction(fn);
          };
          const projection: Projection = { name: uniqueId('closing-projection'), handle() {} };
          const processor = new ProjectionProcessor(observed, {
            pollIntervalMs: supportsWaitForEvents(harness) ? 60_000 : 50,
          });
          const running = processor.run(projection, { signal: new AbortController().signal });
          const outcome = running.then(
            () => undefined,
            (error: unknown) => error,
          );
          await waitUntil(
            async () => (await readCheckpoint(store, projection.name)) === last.checkpoint,
            'the processor did not catch up',
            { stopped: running },
          );
          await sleep(50);
          const beforeClose = transactions;
          await store.close();
          const limit = promptLimit(harness);
          await withinTime(
            outcome,
            limit,
            `ProjectionProcessor.run did not stop within ${limit} ms of close()`,
          );
          await assertRejectsWith(running, StoreClosedError, 'STORE_CLOSED');
          await sleep(50);
          assert.ok(
            transactions - beforeClose <= 2,
            `the processor started ${transactions - beforeClose} transactions after close()`,
          );
        }),
    );

    api.it(
      'a processor in the middle of a batch rejects with StoreClosedError when the store closes; the batch is not committed',
      () =>
        withFreshStore(harness, async (subject) => {
          const { store } = subject;
          await appendEvents(store, [{ count: 4 }]);
          const entered = deferred();
          const release = deferred();
          let handled = 0;
          const projection: Projection = {
            name: uniqueId('closing-batch'),
            async handle() {
              handled++;
              if (handled === 1) {
                entered.resolve();
                await release.promise;
              }
            },
          };
          const processor = new ProjectionProcessor(store, { batchSize: 10, pollIntervalMs: 50 });
          const running = processor.run(projection, { signal: new AbortController().signal });
          const outcome = running.then(
            () => undefined,
            (error: unknown) => error,
          );
          const limit = promptLimit(harness);
          await Promise.race([entered.promise, running]);
          const before = await snapshotStore(subject);
          try {
            await withinTime(
              store.close(),
              limit,
              `close() did not resolve within ${limit} ms while a projection batch was running`,
            );
          } finally {
            release.resolve();
          }
          await withinTime(
            outcome,
            limit,
            `ProjectionProcessor.run did not stop within ${limit} ms of close()`,
          );
          await assertRejectsWith(running, StoreClosedError, 'STORE_CLOSED');
          const after = await snapshotStore(subject);
          if (before.checkpoints !== null && after.checkpoints !== null) {
            assert.equal(after.checkpoints, before.checkpoints, 'the batch was not committed');
          }
        }),
    );
  });
}
