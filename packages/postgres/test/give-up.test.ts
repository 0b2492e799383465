import { ExpectedVersion, type NewEvent, OperationAbortedError } from '@pup/core';
import { describe, expect, it } from 'vitest';
import { bothDrivers, deferred, sleep, within } from './support.js';

function event(aggregateId: string, n = 0): NewEvent {
  return {
    boundedContext: 'give-up',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: { n },
  };
}

describe.each(bothDrivers())('transactions the caller gives up ($name)', (driver) => {
  it('a transaction stalled on a lock: rejects at its timeout, never commits, the pool goes on', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      await store.appendToStream(ExpectedVersion.noStream(), [event('locked', 1)]);
      const holding = deferred();
      const release = deferred();
      // Holds the stream's head row until released.
      const holder = store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.exact(1), [event('locked', 2)]);
        holding.resolve();
        await release.promise;
      });
      await holding.promise;
      const started = performance.now();
      const error = await within(
        5_000,
        'the stalled transaction gives up',
        store
          .transaction((tx) => store.append(tx, ExpectedVersion.any(), [event('locked', 3)]), {
            timeoutMs: 300,
          })
          .catch((e: unknown) => e),
      );
      expect(error).toBeInstanceOf(OperationAbortedError);
      expect((error as OperationAbortedError).code).toBe('ABORTED');
      expect((error as OperationAbortedError).timedOut).toBe(true);
      expect(performance.now() - started).toBeLessThan(2_000);
      release.resolve();
      await holder;
      // The given-up append got the lock once the holder committed, but it never commits.
      const next = await within(
        10_000,
        'an append after the given-up one',
        store.appendToStream(ExpectedVersion.exact(2), [event('locked', 3)]),
      );
      expect(next.toVersion).toBe(3);
      const rows = await subject.admin(
        `SELECT convert_from(payload, 'UTF8')::jsonb->>'n' AS n FROM ${subject.schema}.events
         WHERE aggregate_id = 'locked' ORDER BY aggregate_version`,
      );
      expect(rows.map((r) => r.n)).toEqual(['1', '2', '3']);
    } finally {
      await subject.cleanup();
    }
  });

  it('a callback that resolves after its transaction was given up is not committed', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const abort = new AbortController();
      const finished = deferred();
      const error = await store
        .transaction(
          async (tx) => {
            await store.append(tx, ExpectedVersion.noStream(), [event('late')]);
            abort.abort(new Error('the caller went away'));
            await sleep(300);
            finished.resolve();
            return 'done';
          },
          { signal: abort.signal },
        )
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationAbortedError);
      expect((error as OperationAbortedError).timedOut).toBe(false);
      expect((error as OperationAbortedError).commitUnknown).toBe(false);
      await finished.promise;
      await sleep(200);
      expect(await subject.inspect.countEvents()).toBe(0);
      // The store goes on.
      const result = await store.appendToStream(ExpectedVersion.noStream(), [event('late')]);
      expect(result.toVersion).toBe(1);
    } finally {
      await subject.cleanup();
    }
  });
});
