// The processor retries batches that failed on a transient database error (a lost connection, a
// deadlock) with bounded backoff, and stops at once on a handler's own error.
import { describe, expect, it } from 'vitest';
import {
  ConnectionLostError,
  createInMemoryEventStore,
  DatabaseError,
  type EventStore,
  ExpectedVersion,
  type InMemoryTransaction,
  InvalidConfigError,
  ProjectionError,
  ProjectionProcessor,
} from '../src/index.js';

const stream = { boundedContext: 'ctx', aggregateType: 'Thing', aggregateId: 't-1' };

/** The in-memory store whose next `failures` transactions reject with `makeError()`. */
function flakyStore(failures: number, makeError: () => Error) {
  const store = createInMemoryEventStore();
  let left = failures;
  let attempts = 0;
  const flaky: EventStore<InMemoryTransaction> = Object.create(store);
  flaky.transaction = (fn) => {
    attempts += 1;
    if (left > 0) {
      left -= 1;
      return Promise.reject(makeError());
    }
    return store.transaction(fn);
  };
  return { store, flaky, attempts: () => attempts };
}

async function seed(store: EventStore<InMemoryTransaction>, count: number) {
  await store.transaction((tx) =>
    store.append(
      tx,
      ExpectedVersion.any(),
      Array.from({ length: count }, (_, i) => ({ ...stream, eventType: 'T', payload: { i } })),
    ),
  );
}

describe('projection retries', () => {
  it('retries a batch that lost its connection, then handles every event once', async () => {
    const lost = () =>
      new ConnectionLostError('test', 'connection reset', { cause: new Error('ECONNRESET') });
    const { store, flaky, attempts } = flakyStore(3, lost);
    await seed(store, 5);
    const seen: number[] = [];
    const controller = new AbortController();
    const warnings: unknown[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_m: string, fields?: Record<string, unknown>) => warnings.push(fields),
      error() {},
    };
    const processor = new ProjectionProcessor(flaky, {
      pollIntervalMs: 5,
      retry: { initialDelayMs: 1, maxDelayMs: 4 },
      logger,
    });
    const run = processor.run(
      {
        name: 'retrying',
        handle(event) {
          seen.push(event.globalPosition);
          if (seen.length === 5) controller.abort();
        },
      },
      { signal: controller.signal },
    );
    await run;
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(attempts()).toBeGreaterThanOrEqual(4);
    expect(warnings).toHaveLength(3);
    expect(warnings[2]).toMatchObject({ retry: 3 });
  });

  it('retries transient database errors (deadlocks) too', async () => {
    const deadlock = () => new DatabaseError('test', 'deadlock detected', { transient: true });
    const { store, flaky } = flakyStore(2, deadlock);
    await seed(store, 2);
    const controller = new AbortController();
    let handled = 0;
    await new ProjectionProcessor(flaky, { retry: { initialDelayMs: 1 } }).run(
      {
        name: 'deadlocks',
        handle() {
          handled += 1;
          if (handled === 2) controller.abort();
        },
      },
      { signal: controller.signal },
    );
    expect(handled).toBe(2);
  });

  it('gives up after maxRetries with a ProjectionError carrying the last error', async () => {
    const lost = () => new ConnectionLostError('test', 'server gone');
    const { store, flaky, attempts } = flakyStore(100, lost);
    await seed(store, 1);
    const error = await new ProjectionProcessor(flaky, {
      retry: { maxRetries: 3, initialDelayMs: 1, maxDelayMs: 2 },
    })
      .run({ name: 'gives-up', handle() {} })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ProjectionError);
    expect((error as ProjectionError).cause).toBeInstanceOf(ConnectionLostError);
    expect(attempts()).toBe(4);
  });

  it('does not retry a non-transient database error or a handler’s own error', async () => {
    const broken = () => new DatabaseError('test', 'syntax error');
    const { store, flaky, attempts } = flakyStore(1, broken);
    await seed(store, 1);
    await expect(
      new ProjectionProcessor(flaky, { retry: { initialDelayMs: 1 } }).run({
        name: 'no-retry',
        handle() {},
      }),
    ).rejects.toBeInstanceOf(ProjectionError);
    expect(attempts()).toBe(1);

    let calls = 0;
    await expect(
      new ProjectionProcessor(store, { retry: { initialDelayMs: 1 } }).run({
        name: 'handler-fails',
        handle() {
          calls += 1;
          throw new Error('the read model rejects this event');
        },
      }),
    ).rejects.toMatchObject({ code: 'PROJECTION_FAILED', globalPosition: 1 });
    expect(calls).toBe(1);
  });

  it('retries a batch whose handler met a transient database error (its connection was lost)', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 2);
    let calls = 0;
    const handled: number[] = [];
    await new ProjectionProcessor(store, { retry: { initialDelayMs: 1 } }).run(
      {
        name: 'handler-lost-connection',
        handle(event) {
          calls += 1;
          if (calls === 2) throw new ConnectionLostError('test', 'the batch’s connection was lost');
          handled.push(event.globalPosition);
        },
      },
      { signal: AbortSignal.timeout(300) },
    );
    // The first event's batch was rolled back with the failure and handled again.
    expect(handled).toEqual([1, 1, 2]);

    let attempts = 0;
    const error = await new ProjectionProcessor(store, {
      retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2 },
    })
      .run({
        name: 'handler-gives-up',
        handle() {
          attempts += 1;
          throw new DatabaseError('test', 'deadlock', { transient: true });
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: 'PROJECTION_FAILED', globalPosition: 1 });
    expect((error as ProjectionError).cause).toBeInstanceOf(DatabaseError);
    expect(attempts).toBe(3);
  });

  it('an abort during the backoff stops the run at once', async () => {
    const lost = () => new ConnectionLostError('test', 'down');
    const { store, flaky } = flakyStore(100, lost);
    await seed(store, 1);
    const controller = new AbortController();
    const started = Date.now();
    const run = new ProjectionProcessor(flaky, {
      retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    }).run({ name: 'aborted-backoff', handle() {} }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await run;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('validates the retry options', () => {
    const store = createInMemoryEventStore();
    for (const retry of [
      { maxRetries: -1 },
      { initialDelayMs: 0 },
      { initialDelayMs: 100, maxDelayMs: 50 },
      'often',
    ]) {
      expect(() => new ProjectionProcessor(store, { retry: retry as never })).toThrow(
        InvalidConfigError,
      );
    }
  });
});
