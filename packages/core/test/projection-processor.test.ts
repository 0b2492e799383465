import { describe, expect, it, vi } from 'vitest';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  InvalidArgumentError,
  InvalidConfigError,
  type Logger,
  type PersistedEvent,
  type Projection,
  ProjectionError,
  ProjectionProcessor,
  projectionCheckpointName,
} from '../src/index.js';

const stream = (aggregateId: string, aggregateType = 'Widget', boundedContext = 'test') => ({
  boundedContext,
  aggregateType,
  aggregateId,
});

async function seed(store: EventStore<any>, count: number, aggregateId = 'w-1') {
  await store.transaction((tx) =>
    store.append(
      tx,
      ExpectedVersion.any(),
      Array.from({ length: count }, (_, i) => ({
        ...stream(aggregateId),
        eventType: 'Changed',
        payload: { i },
      })),
    ),
  );
}

const checkpointOf = (store: EventStore<any>, name: string) =>
  store.transaction((tx) => store.getCheckpoint(tx, name));

function collecting(name = 'p'): Projection & { seen: PersistedEvent[] } {
  const seen: PersistedEvent[] = [];
  return { name, seen, handle: (event) => void seen.push(event) };
}

/** Runs until `until` holds, then aborts and awaits the run. */
async function runUntil(
  processor: ProjectionProcessor<any>,
  projection: Projection<any>,
  until: () => boolean | Promise<boolean>,
) {
  const controller = new AbortController();
  const running = processor.run(projection, { signal: controller.signal });
  await vi.waitFor(async () => expect(await until()).toBe(true), { timeout: 5000, interval: 5 });
  controller.abort();
  await running;
}

function recordingLogger() {
  const entries: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void =>
      void entries.push({ level, message, fields });
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, entries };
}

describe('ProjectionProcessor configuration', () => {
  const store = createInMemoryEventStore();

  it.each([
    ['batchSize', { batchSize: 0 }],
    ['batchSize', { batchSize: 1.5 }],
    ['batchSize', { batchSize: 100_001 }],
    ['pollIntervalMs', { pollIntervalMs: 0 }],
    ['pollIntervalMs', { pollIntervalMs: Number.NaN }],
    ['totalPartitions', { totalPartitions: 0 }],
    ['partitionKey', { partitionKey: 2, totalPartitions: 2 }],
    ['partitionKey', { partitionKey: -1 }],
    ['partitionStrategy', { partitionStrategy: {} }],
    ['logger', { logger: { info() {} } }],
  ])('rejects an invalid %s with InvalidConfigError', (option, config) => {
    let error: unknown;
    try {
      new ProjectionProcessor(store, config as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', option });
  });

  it('rejects a store without the needed methods', () => {
    expect(() => new ProjectionProcessor({} as never)).toThrow(InvalidConfigError);
  });

  it('fills in the documented defaults', () => {
    const processor = new ProjectionProcessor(store);
    expect(processor.config).toMatchObject({
      batchSize: 100,
      pollIntervalMs: 100,
      partitionKey: 0,
      totalPartitions: 1,
      logger: undefined,
    });
  });

  it.each([
    [{ name: '', handle() {} }, 'projection.name'],
    [{ name: 'x'.repeat(241), handle() {} }, 'projection.name'],
    [{ name: 'p' }, 'projection.handle'],
    [{ name: 'p', handle() {}, aggregateTypes: 'Order' }, 'projection.aggregateTypes'],
    [{ name: 'p', handle() {}, boundedContexts: [''] }, 'projection.boundedContexts'],
  ])(
    'run rejects an invalid projection before touching the store (%#)',
    async (projection, option) => {
      let transactions = 0;
      const processor = new ProjectionProcessor({
        ...store,
        transaction: (fn) => {
          transactions++;
          return store.transaction(fn);
        },
      });
      await expect(processor.run(projection as never)).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        option,
      });
      expect(transactions).toBe(0);
    },
  );

  it('run rejects a signal that is not an AbortSignal', async () => {
    await expect(
      new ProjectionProcessor(store).run(collecting(), { signal: {} as never }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('names checkpoints <name>_p<key> only when partitioned', () => {
    expect(new ProjectionProcessor(store).checkpointName('orders')).toBe('orders');
    expect(
      new ProjectionProcessor(store, { partitionKey: 2, totalPartitions: 3 }).checkpointName(
        'orders',
      ),
    ).toBe('orders_p2');
    expect(projectionCheckpointName('orders', 0, 1)).toBe('orders');
    expect(projectionCheckpointName('orders', 1, 2)).toBe('orders_p1');
    expect(() => projectionCheckpointName('orders', 2, 2)).toThrow(InvalidConfigError);
  });
});

describe('ProjectionProcessor.run', () => {
  it('passes the batch transaction and the run signal to the handler', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 3);
    const contexts: { tx: { active: boolean }; signal: AbortSignal; active: boolean }[] = [];
    const controller = new AbortController();
    const running = new ProjectionProcessor(store, { pollIntervalMs: 5 }).run(
      {
        name: 'ctx',
        handle: (_event, { tx, signal }) =>
          void contexts.push({ tx: tx as { active: boolean }, signal, active: (tx as any).active }),
      },
      { signal: controller.signal },
    );
    await vi.waitFor(() => expect(contexts).toHaveLength(3));
    controller.abort();
    await running;
    expect(contexts.every((c) => c.active)).toBe(true);
    expect(contexts.every((c) => c.signal === controller.signal)).toBe(true);
    expect(contexts[1]!.tx).toBe(contexts[0]!.tx);
    expect(contexts[0]!.tx.active).toBe(false);
  });

  it('keeps `this` of a class-based projection', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 2);
    class Counter implements Projection {
      readonly name = 'counter';
      count = 0;
      handle() {
        this.count++;
      }
    }
    const counter = new Counter();
    await runUntil(new ProjectionProcessor(store, { pollIntervalMs: 5 }), counter, () =>
      Promise.resolve(counter.count === 2),
    );
  });

  it('uses a custom partition strategy and still advances skipped events', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 2, 'keep-1');
    await seed(store, 3, 'drop-1');
    const strategy = {
      shouldProcess: vi.fn((id: string, key: number, total: number) => {
        expect([key, total]).toEqual([1, 2]);
        return id.startsWith('keep');
      }),
    };
    const projection = collecting('custom');
    const processor = new ProjectionProcessor(store, {
      partitionKey: 1,
      totalPartitions: 2,
      partitionStrategy: strategy,
      pollIntervalMs: 5,
    });
    await runUntil(
      processor,
      projection,
      async () => (await checkpointOf(store, 'custom_p1')) === '0000000000000005',
    );
    expect(projection.seen.map((e) => e.aggregateId)).toEqual(['keep-1', 'keep-1']);
    expect(strategy.shouldProcess).toHaveBeenCalledTimes(5);
  });

  it('wraps a store failure in ProjectionError with the cause', async () => {
    const store = createInMemoryEventStore();
    const broken = new Error('connection lost');
    const processor = new ProjectionProcessor({
      ...store,
      readProjectionBatch: undefined,
      readEvents: () => Promise.reject(broken),
    });
    const error = await processor.run(collecting('broken')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionError);
    expect(error).toMatchObject({
      code: 'PROJECTION_FAILED',
      projectionName: 'broken',
      globalPosition: undefined,
      cause: broken,
    });
  });

  it("reads each batch through the store's readProjectionBatch when it has one", async () => {
    const base = createInMemoryEventStore();
    await seed(base, 5);
    const calls: string[] = [];
    const store: EventStore<any> = {
      ...base,
      readProjectionBatch: (tx, name, options) => {
        calls.push(`batch ${name} ${options.limit}`);
        return base.readProjectionBatch!(tx, name, options);
      },
      getCheckpoint: (tx, name, options) => {
        calls.push('getCheckpoint');
        return base.getCheckpoint(tx, name, options);
      },
      readEvents: (tx, options) => {
        calls.push('readEvents');
        return base.readEvents(tx, options);
      },
    };
    const projection = collecting('batched');
    await runUntil(
      new ProjectionProcessor(store, { batchSize: 2, maxBatchSize: 2, pollIntervalMs: 10 }),
      projection,
      async () => (await checkpointOf(base, 'batched')) === '0000000000000005',
    );
    expect(projection.seen.map((e) => e.globalPosition)).toEqual([1, 2, 3, 4, 5]);
    expect(calls.slice(0, 3)).toEqual(['batch batched 2', 'batch batched 2', 'batch batched 2']);
    expect(calls).not.toContain('getCheckpoint');
    expect(calls).not.toContain('readEvents');
  });

  it('rolls back a batch that read nothing instead of committing it', async () => {
    const base = createInMemoryEventStore();
    await seed(base, 3);
    const outcomes: string[] = [];
    const store: EventStore<any> = {
      ...base,
      transaction: (fn) =>
        base.transaction(fn).then(
          (value) => {
            outcomes.push(`commit ${String(value)}`);
            return value;
          },
          (error: unknown) => {
            outcomes.push('rollback');
            throw error;
          },
        ),
    };
    await runUntil(
      new ProjectionProcessor(store, { pollIntervalMs: 5 }),
      collecting('idle'),
      () => outcomes.length >= 3,
    );
    expect(outcomes[0]).toBe('commit 3');
    expect(outcomes.slice(1, 3)).toEqual(['rollback', 'rollback']);
    expect(await checkpointOf(base, 'idle')).toBe('0000000000000003');
  });

  it('reports a handler failure with the event position and checkpoint', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 5);
    const cause = new TypeError('bad payload');
    const error = await new ProjectionProcessor(store, { batchSize: 2 })
      .run({
        name: 'failing',
        handle(event) {
          if (event.globalPosition === 4) throw cause;
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionError);
    expect(error).toMatchObject({
      name: 'ProjectionError',
      projectionName: 'failing',
      globalPosition: 4,
      checkpoint: '0000000000000004',
      cause,
    });
    expect(await checkpointOf(store, 'failing')).toBe('0000000000000002');
  });

  it('does not busy-loop once caught up: one read per poll interval', async () => {
    const base = createInMemoryEventStore();
    await seed(base, 3);
    let reads = 0;
    const store: EventStore<any> = {
      ...base,
      waitForEvents: undefined,
      readProjectionBatch: undefined,
      readEvents: (tx, options) => {
        reads++;
        return base.readEvents(tx, options);
      },
    };
    const controller = new AbortController();
    const running = new ProjectionProcessor(store, { pollIntervalMs: 50 }).run(collecting(), {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 275));
    controller.abort();
    await running;
    expect(reads).toBeGreaterThanOrEqual(4);
    expect(reads).toBeLessThanOrEqual(8);
  });

  it('a spurious wake-up does not restart the poll interval', async () => {
    const base = createInMemoryEventStore();
    let reads = 0;
    let waits = 0;
    const timeouts: number[] = [];
    const store: EventStore<any> = {
      ...base,
      readProjectionBatch: undefined,
      readEvents: (tx, options) => {
        reads++;
        return base.readEvents(tx, options);
      },
      // Wakes up after 10 ms every time, although nothing was appended.
      waitForEvents: ({ timeoutMs }) => {
        waits++;
        timeouts.push(timeoutMs);
        return new Promise((r) => setTimeout(r, 10));
      },
    };
    const controller = new AbortController();
    const running = new ProjectionProcessor(store, { pollIntervalMs: 100 }).run(collecting(), {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 250));
    controller.abort();
    await running;
    expect(waits).toBeGreaterThan(5);
    expect(reads).toBe(waits);
    // The timeouts shrink within each interval instead of starting over at 100.
    expect(timeouts[0]).toBe(100);
    expect(timeouts[1]).toBeLessThan(100);
  });

  it('falls back to polling when waitForEvents fails, and logs a warning', async () => {
    const base = createInMemoryEventStore();
    await seed(base, 1);
    const { logger, entries } = recordingLogger();
    const store: EventStore<any> = {
      ...base,
      waitForEvents: () => Promise.reject(new Error('listener gone')),
    };
    const projection = collecting();
    const processor = new ProjectionProcessor(store, { pollIntervalMs: 10, logger });
    const controller = new AbortController();
    const running = processor.run(projection, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 30));
    await seed(base, 1);
    await vi.waitFor(() => expect(projection.seen).toHaveLength(2));
    controller.abort();
    await running;
    expect(entries.some((e) => e.level === 'warn' && e.message.includes('waitForEvents'))).toBe(
      true,
    );
  });

  it('logs start, batches and stop at info/debug when given a logger', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 5);
    const { logger, entries } = recordingLogger();
    const projection = collecting('logged');
    await runUntil(
      new ProjectionProcessor(store, { batchSize: 2, maxBatchSize: 2, pollIntervalMs: 5, logger }),
      projection,
      () => projection.seen.length === 5,
    );
    expect(entries[0]).toMatchObject({
      level: 'info',
      message: 'projection started',
      fields: { projection: 'logged', checkpointName: 'logged', batchSize: 2 },
    });
    const batches = entries.filter(
      (e) => e.level === 'debug' && e.message === 'projection batch committed',
    );
    expect(batches.map((e) => e.fields?.events)).toEqual([2, 2, 1]);
    expect(entries.at(-1)).toMatchObject({
      level: 'info',
      message: 'projection stopped',
      fields: { events: 5 },
    });
  });

  it('logs a failure at error level', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 1);
    const { logger, entries } = recordingLogger();
    await expect(
      new ProjectionProcessor(store, { logger }).run({
        name: 'boom',
        handle() {
          throw new Error('boom');
        },
      }),
    ).rejects.toBeInstanceOf(ProjectionError);
    expect(entries.at(-1)).toMatchObject({ level: 'error', message: 'projection failed' });
  });
});

describe('ProjectionProcessor: one run per checkpoint', () => {
  it('rejects a second concurrent run on the same checkpoint and store', async () => {
    const store = createInMemoryEventStore();
    const controller = new AbortController();
    const first = new ProjectionProcessor(store, { pollIntervalMs: 5 }).run(collecting('dup'), {
      signal: controller.signal,
    });
    await expect(
      new ProjectionProcessor(store).run(collecting('dup'), { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', option: 'projection.name' });
    // Other partitions of the same projection are other checkpoints.
    const partition = new ProjectionProcessor(store, {
      partitionKey: 1,
      totalPartitions: 2,
      pollIntervalMs: 5,
    }).run(collecting('dup'), { signal: controller.signal });
    controller.abort();
    await first;
    await partition;
    // Once stopped, the checkpoint is free again.
    const again = new AbortController();
    const second = new ProjectionProcessor(store).run(collecting('dup'), { signal: again.signal });
    again.abort();
    await expect(second).resolves.toBeUndefined();
  });
});
