import { ExpectedVersion, type NewEvent, ProjectionProcessor, StoreClosedError } from '@pup/core';
import { describe, expect, it } from 'vitest';
import { bothDrivers, deferred, sleep, within } from './support.js';

function event(aggregateId: string, n = 0): NewEvent {
  return {
    boundedContext: 'close',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: { n },
  };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

/** The store with its `transaction` calls counted (what the processor opens per batch). */
function countingTransactions<S extends { transaction(fn: (tx: any) => Promise<any>): any }>(
  store: S,
) {
  const counter = { count: 0 };
  const counted = Object.create(store, {
    transaction: {
      value: (fn: (tx: any) => Promise<unknown>) => {
        counter.count++;
        return store.transaction(fn);
      },
    },
  }) as S;
  return { counted, counter };
}

describe.each(bothDrivers())('close() ($name)', (driver) => {
  it('every method rejects with StoreClosedError afterwards; a second close() is harmless', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const appended = await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), [event('before')]),
      );
      const checkpoint = appended.events[0]!.checkpoint;
      await store.close();
      await store.close();
      const stream = { boundedContext: 'close', aggregateType: 'Thing', aggregateId: 'before' };
      // A real handle, so the refusal is about the store, not about the handle.
      await driver.ownTransaction(async (tx) => {
        const calls: [string, () => Promise<unknown>][] = [
          ['transaction', () => store.transaction(async () => 1)],
          ['append', () => store.append(tx, ExpectedVersion.any(), [event('after')])],
          ['readEvents', () => store.readEvents(tx, { limit: 10 })],
          ['readAggregateStream', () => store.readAggregateStream(tx, stream)],
          ['getCheckpoint', () => store.getCheckpoint(tx, 'p')],
          ['getCheckpoint (lock)', () => store.getCheckpoint(tx, 'p', { lock: true })],
          ['saveCheckpoint', () => store.saveCheckpoint(tx, 'p', checkpoint)],
          ['readProjectionBatch', () => store.readProjectionBatch(tx, 'p', { limit: 10 })],
          ['getLogStatus', () => store.getLogStatus(tx)],
          ['migrate', () => store.migrate()],
          [
            'waitForEvents',
            () => store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 60_000 }),
          ],
          ['getOldestRunningTransaction', () => store.getOldestRunningTransaction()],
          ['appendToStream', () => store.appendToStream(ExpectedVersion.any(), [event('after')])],
        ];
        for (const [name, call] of calls) {
          const error = await within(
            1_000,
            name,
            call().then(
              () => 'resolved',
              (e: unknown) => e,
            ),
          );
          expect(error, name).toBeInstanceOf(StoreClosedError);
          expect((error as StoreClosedError).code, name).toBe('STORE_CLOSED');
        }
      });
      // Nothing was written after close().
      expect(await subject.inspect.countEvents()).toBe(1);
      expect(await subject.inspect.countCheckpoints()).toBe(0);
    } finally {
      await subject.cleanup();
    }
  });

  it('a transaction still running when the store closes: its store calls reject and it rolls back', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const started = deferred();
      const closed = deferred();
      const running = store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), [event('running', 1)]);
        started.resolve();
        await closed.promise;
        await store.append(tx, ExpectedVersion.exact(1), [event('running', 2)]);
      });
      await started.promise;
      await store.close();
      closed.resolve();
      await expect(running).rejects.toBeInstanceOf(StoreClosedError);
      expect(await subject.inspect.countEvents()).toBe(0);
    } finally {
      await subject.cleanup();
    }
  });

  it('a caught-up ProjectionProcessor stops at once: run rejects with StoreClosedError, no busy loop', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      for (let i = 0; i < 3; i++) {
        await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.any(), [event('p', i), event('p', i)]),
        );
      }
      // Readable once no older transaction runs anywhere on the server.
      await until(
        async () =>
          (await store.transaction((tx) => store.readEvents(tx, { limit: 10 }))).length === 6,
        'the events are readable',
      );
      const { counted, counter } = countingTransactions(store);
      const handled: number[] = [];
      // A poll interval far beyond the test: only a wake-up can end the processor's wait.
      const processor = new ProjectionProcessor(counted, {
        batchSize: 10,
        pollIntervalMs: 600_000,
      });
      const run = processor.run({
        name: 'caught-up',
        handle: (e) => {
          handled.push(e.globalPosition);
        },
      });
      const settled = run.then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await until(() => handled.length === 6, 'the processor handled every event');
      await sleep(100);
      const before = counter.count;
      await store.close();
      const error = await within(2_000, 'the processor stops after close()', settled);
      expect(error).toBeInstanceOf(StoreClosedError);
      // At most the one batch that found the store closed.
      expect(counter.count - before).toBeLessThanOrEqual(1);
      await sleep(200);
      expect(counter.count - before).toBeLessThanOrEqual(1);
    } finally {
      await subject.cleanup();
    }
  });

  it('a ProjectionProcessor closed under a running batch: the batch rolls back, run rejects with StoreClosedError', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), [event('mid', 1), event('mid', 2)]),
      );
      const { counted, counter } = countingTransactions(store);
      const inHandler = deferred();
      const release = deferred();
      const processor = new ProjectionProcessor(counted, { batchSize: 10, pollIntervalMs: 20 });
      const settled = processor
        .run({
          name: 'mid-batch',
          handle: async () => {
            inHandler.resolve();
            await release.promise;
          },
        })
        .then(
          () => 'resolved',
          (e: unknown) => e,
        );
      // The events become readable once no older transaction runs anywhere on the server.
      await within(20_000, 'the first handler call', inHandler.promise);
      await store.close();
      release.resolve();
      const error = await within(2_000, 'the processor stops after close()', settled);
      expect(error).toBeInstanceOf(StoreClosedError);
      expect(counter.count).toBeGreaterThanOrEqual(1);
      const batches = counter.count;
      await sleep(200);
      expect(counter.count).toBe(batches);
      expect(await subject.inspect.countCheckpoints()).toBe(0);
    } finally {
      await subject.cleanup();
    }
  });

  it('waitForEvents with a timeout beyond setTimeout’s range waits instead of returning at once', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      // The first wait ends once the listener is up (commits meanwhile notified nobody).
      await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 1_000 });
      const abort = new AbortController();
      let settled = false;
      const waiting = store.waitForEvents({ signal: abort.signal, timeoutMs: 2 ** 40 }).then(() => {
        settled = true;
      });
      await sleep(300);
      expect(settled).toBe(false);
      abort.abort();
      await within(1_000, 'the wait after abort', waiting);
      expect(settled).toBe(true);
    } finally {
      await subject.cleanup();
    }
  });
});
