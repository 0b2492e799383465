// Adaptive batches: a projection that is behind reads ever larger batches (up to maxBatchSize)
// while batches stay fast; a slow handler keeps them small; caught up, they return to batchSize.
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  type InMemoryTransaction,
  InvalidConfigError,
  ProjectionProcessor,
  type ReadProjectionBatchOptions,
} from '../src/index.js';

/** The store, with the limit of every batch read recorded. */
function recordingStore() {
  const store = createInMemoryEventStore();
  const limits: number[] = [];
  const recording: EventStore<InMemoryTransaction> = {
    ...store,
    readProjectionBatch(tx, name, options: ReadProjectionBatchOptions) {
      limits.push(options.limit);
      return store.readProjectionBatch(tx, name, options);
    },
  };
  return { store, recording, limits };
}

async function seed(store: EventStore<InMemoryTransaction>, count: number) {
  const stream = { boundedContext: 'ctx', aggregateType: 'Thing', aggregateId: 'thing' };
  for (let done = 0; done < count; done += 1000) {
    const n = Math.min(1000, count - done);
    await store.appendToStream(
      ExpectedVersion.any(),
      Array.from({ length: n }, (_, i) => ({
        ...stream,
        eventType: 'T',
        payload: { i: done + i },
      })),
    );
  }
}

async function runUntil(
  processor: ProjectionProcessor,
  handled: () => number,
  target: number,
  delay?: () => Promise<void>,
) {
  const controller = new AbortController();
  let count = 0;
  const run = processor.run(
    {
      name: 'adaptive',
      async handle() {
        count += 1;
        if (delay !== undefined) await delay();
      },
    },
    { signal: controller.signal },
  );
  const deadline = Date.now() + 20_000;
  while (count < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  // Let one more (empty) batch run so the size returns to batchSize.
  await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await run;
  expect(count).toBe(target);
  return handled;
}

describe('adaptive batches', () => {
  it('grow while catching up, up to maxBatchSize, and return to batchSize once caught up', async () => {
    const { store, recording, limits } = recordingStore();
    await seed(store, 3000);
    await runUntil(
      new ProjectionProcessor(recording, { batchSize: 10, maxBatchSize: 400, pollIntervalMs: 5 }),
      () => 0,
      3000,
    );
    expect(limits.slice(0, 7)).toEqual([10, 20, 40, 80, 160, 320, 400]);
    expect(Math.max(...limits)).toBe(400);
    expect(limits.at(-1)).toBe(10);
    const checkpoint = await store.transaction((tx) => store.getCheckpoint(tx, 'adaptive'));
    const last = await store.transaction((tx) => store.getLogStatus(tx));
    expect(checkpoint).toBe(last.headCheckpoint);
  });

  it('a slow handler keeps batches small', async () => {
    const { store, recording, limits } = recordingStore();
    await seed(store, 60);
    await runUntil(
      new ProjectionProcessor(recording, {
        batchSize: 5,
        maxBatchSize: 1000,
        maxBatchDurationMs: 20,
        pollIntervalMs: 5,
      }),
      () => 0,
      60,
      () => new Promise((r) => setTimeout(r, 3)),
    );
    // Five events of 3 ms exceed the 20 ms bound's half, so batches never grow.
    expect(Math.max(...limits)).toBe(5);
  });

  it('maxBatchSize equal to batchSize keeps batches fixed; bad bounds are config errors', async () => {
    const { store, recording, limits } = recordingStore();
    await seed(store, 50);
    await runUntil(
      new ProjectionProcessor(recording, { batchSize: 7, maxBatchSize: 7, pollIntervalMs: 5 }),
      () => 0,
      50,
    );
    expect(new Set(limits)).toEqual(new Set([7]));
    expect(() => new ProjectionProcessor(store, { batchSize: 100, maxBatchSize: 50 })).toThrow(
      InvalidConfigError,
    );
    expect(() => new ProjectionProcessor(store, { maxBatchDurationMs: 0 })).toThrow(
      InvalidConfigError,
    );
    expect(new ProjectionProcessor(store, { batchSize: 5000 }).config.maxBatchSize).toBe(5000);
    expect(new ProjectionProcessor(store).config.maxBatchSize).toBe(1000);
  });
});
