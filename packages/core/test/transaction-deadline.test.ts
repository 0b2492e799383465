// store.transaction(fn, { signal, timeoutMs }): the caller gets a typed rejection as soon as it
// gives up, even when the work inside is stuck; the work is rolled back.
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  ExpectedVersion,
  InvalidArgumentError,
  OperationAbortedError,
} from '../src/index.js';

const event = {
  boundedContext: 'ctx',
  aggregateType: 'Thing',
  aggregateId: 'thing-1',
  eventType: 'T',
  payload: {},
};

describe('transaction deadlines', () => {
  it('a timeout rejects promptly while the callback is stuck, and its work rolls back', async () => {
    const store = createInMemoryEventStore();
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    let lateError: unknown;
    const started = Date.now();
    const error = await store
      .transaction(
        async (tx) => {
          await store.append(tx, ExpectedVersion.noStream(), [event]);
          await stuck;
          try {
            await store.append(tx, ExpectedVersion.exact(1), [event]);
          } catch (e) {
            lateError = e;
            throw e;
          }
        },
        { timeoutMs: 30 },
      )
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(OperationAbortedError);
    expect(error).toMatchObject({ code: 'ABORTED', timedOut: true, commitUnknown: false });
    release();
    // The callback goes on and its next store call fails; the transaction rolls back.
    await new Promise((r) => setTimeout(r, 20));
    expect(lateError).toBeInstanceOf(OperationAbortedError);
    expect(store.countRows().events).toBe(0);
    // The store still works afterwards.
    await store.appendToStream(ExpectedVersion.noStream(), [event]);
    expect(store.countRows().events).toBe(1);
  });

  it('an aborted signal rejects before anything runs; an abort mid-way rejects promptly', async () => {
    const store = createInMemoryEventStore();
    const controller = new AbortController();
    controller.abort();
    let ran = false;
    await expect(
      store.transaction(
        async () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toBeInstanceOf(OperationAbortedError);
    expect(ran).toBe(false);

    const second = new AbortController();
    const pending = store.transaction(() => new Promise<void>(() => {}), { signal: second.signal });
    setTimeout(() => second.abort(new Error('shutting down')), 10);
    const error = await pending.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ABORTED', timedOut: false });
  });

  it('a transaction that finishes in time is not affected, and options are validated', async () => {
    const store = createInMemoryEventStore();
    const value = await store.transaction(async () => 42, {
      timeoutMs: 5_000,
      signal: new AbortController().signal,
    });
    expect(value).toBe(42);
    for (const options of [{ timeoutMs: -1 }, { timeoutMs: Number.NaN }, { signal: {} }, 'x']) {
      await expect(store.transaction(async () => 1, options as never)).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    }
  });
});
