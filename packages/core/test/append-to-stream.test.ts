// appendToStream through the kit's fallback (a store transaction around append), on the
// in-memory store. The conformance suite covers every adapter's own path.
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  ExpectedVersion,
  InvalidArgumentError,
  OperationAbortedError,
  OptimisticConcurrencyError,
  StoreClosedError,
} from '../src/index.js';

const stream = { boundedContext: 'ctx', aggregateType: 'Thing', aggregateId: 'a-1' };
const event = { ...stream, eventType: 'ThingHappened', payload: { n: 1 } };

describe('appendToStream', () => {
  it('appends in its own transaction and enforces the expected version', async () => {
    const store = createInMemoryEventStore();
    const first = await store.appendToStream(ExpectedVersion.noStream(), [event, event]);
    expect(first).toMatchObject({ fromVersion: 0, toVersion: 2, globalPositions: [1, 2] });
    await expect(store.appendToStream(ExpectedVersion.exact(1), [event])).rejects.toBeInstanceOf(
      OptimisticConcurrencyError,
    );
    const read = await store.transaction((tx) => store.readAggregateStream(tx, stream));
    expect(read.version).toBe(2);
    expect(store.countRows().events).toBe(2);
  });

  it('writes nothing when its signal aborted before the append was sent', async () => {
    const store = createInMemoryEventStore();
    const controller = new AbortController();
    controller.abort(new Error('user gave up'));
    const error = await store
      .appendToStream(ExpectedVersion.any(), [event], { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationAbortedError);
    expect((error as OperationAbortedError).code).toBe('ABORTED');
    expect(store.countRows().events).toBe(0);
    await expect(
      store.appendToStream(ExpectedVersion.any(), [event], { signal: 'no' as never }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('gives up at its timeout while it waits, and writes nothing', async () => {
    const store = createInMemoryEventStore();
    let release!: () => void;
    // The in-memory store queues transactions: hold the queue so the append has to wait.
    const holding = store.transaction(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    const started = Date.now();
    const error = await store
      .appendToStream(ExpectedVersion.any(), [event], { timeoutMs: 30 })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(OperationAbortedError);
    expect(error).toMatchObject({ code: 'ABORTED', timedOut: true });
    release();
    await holding;
    await new Promise((r) => setTimeout(r, 20));
    expect(store.countRows().events).toBe(0);
    await expect(
      store.appendToStream(ExpectedVersion.any(), [event], { timeoutMs: -1 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('inside a transaction callback it joins that transaction', async () => {
    const store = createInMemoryEventStore();
    await expect(
      store.transaction(async () => {
        await store.appendToStream(ExpectedVersion.noStream(), [event]);
        throw new Error('roll everything back');
      }),
    ).rejects.toThrow('roll everything back');
    expect(store.countRows().events).toBe(0);
    await store.transaction(() => store.appendToStream(ExpectedVersion.noStream(), [event]));
    expect(store.countRows().events).toBe(1);
  });

  it('wakes waiters once committed, and rejects after close', async () => {
    const store = createInMemoryEventStore();
    const controller = new AbortController();
    const started = Date.now();
    const wait = store.waitForEvents({ signal: controller.signal, timeoutMs: 10_000 });
    await store.appendToStream(ExpectedVersion.any(), [event]);
    await wait;
    expect(Date.now() - started).toBeLessThan(5_000);
    await store.close();
    await expect(store.appendToStream(ExpectedVersion.any(), [event])).rejects.toBeInstanceOf(
      StoreClosedError,
    );
  });
});
