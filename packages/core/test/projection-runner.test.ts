import { describe, expect, it, vi } from 'vitest';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  InvalidArgumentError,
  InvalidConfigError,
  type PersistedEvent,
  type Projection,
  ProjectionError,
  ProjectionProcessor,
  runProjectionPartitions,
  runProjections,
} from '../src/index.js';

async function seed(store: EventStore<any>, ids: string[]) {
  for (const aggregateId of ids) {
    await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.any(), [
        {
          boundedContext: 'test',
          aggregateType: 'Widget',
          aggregateId,
          eventType: 'Changed',
          payload: {},
        },
      ]),
    );
  }
}

function collecting(name: string): Projection & { seen: PersistedEvent[] } {
  const seen: PersistedEvent[] = [];
  return { name, seen, handle: (event) => void seen.push(event) };
}

describe('runProjections', () => {
  it('runs projections concurrently until the signal aborts', async () => {
    const store = createInMemoryEventStore();
    await seed(store, ['a', 'b', 'c']);
    const one = collecting('one');
    const two = collecting('two');
    const controller = new AbortController();
    const running = runProjections(
      [
        { projection: one, processor: new ProjectionProcessor(store, { pollIntervalMs: 5 }) },
        { projection: two, processor: new ProjectionProcessor(store, { pollIntervalMs: 5 }) },
      ],
      { signal: controller.signal },
    );
    await vi.waitFor(() => {
      expect(one.seen).toHaveLength(3);
      expect(two.seen).toHaveLength(3);
    });
    controller.abort();
    await expect(running).resolves.toBeUndefined();
  });

  it('stops the others at the first failure and rejects naming the failed projection', async () => {
    const store = createInMemoryEventStore();
    await seed(store, ['a', 'b']);
    const healthy = collecting('healthy');
    let healthyStopped = false;
    const cause = new Error('boom');
    const running = runProjections([
      {
        projection: {
          ...healthy,
          handle: (event, { signal }) => {
            healthy.seen.push(event);
            signal.addEventListener('abort', () => {
              healthyStopped = true;
            });
          },
        },
        processor: new ProjectionProcessor(store, { pollIntervalMs: 5 }),
      },
      {
        projection: {
          name: 'failing',
          async handle() {
            await new Promise((r) => setTimeout(r, 20));
            throw cause;
          },
        },
        processor: new ProjectionProcessor(store),
      },
    ]);
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionError);
    expect(error).toMatchObject({ projectionName: 'failing', cause, globalPosition: 1 });
    expect(healthyStopped).toBe(true);
  });

  it('resolves at once when the signal is already aborted', async () => {
    const store = createInMemoryEventStore();
    await seed(store, ['a']);
    const one = collecting('one');
    await runProjections([{ projection: one, processor: new ProjectionProcessor(store) }], {
      signal: AbortSignal.abort(),
    });
    expect(one.seen).toHaveLength(0);
  });

  it('rejects entries that would share a checkpoint', async () => {
    const store = createInMemoryEventStore();
    await expect(
      runProjections([
        { projection: collecting('same'), processor: new ProjectionProcessor(store) },
        { projection: collecting('same'), processor: new ProjectionProcessor(store) },
      ]),
    ).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it('rejects malformed entries', async () => {
    await expect(runProjections('nope' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      runProjections([{ projection: collecting('x'), processor: {} as never }]),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('resolves at once for an empty list', async () => {
    await expect(runProjections([])).resolves.toBeUndefined();
  });
});

describe('runProjectionPartitions', () => {
  it('runs one processor per partition, each with its own checkpoint', async () => {
    const store = createInMemoryEventStore();
    const ids = Array.from({ length: 30 }, (_, i) => `agg-${i}`);
    await seed(store, ids);
    const projection = collecting('parts');
    const controller = new AbortController();
    const running = runProjectionPartitions(store, projection, 3, {
      signal: controller.signal,
      batchSize: 4,
      pollIntervalMs: 5,
    });
    await vi.waitFor(async () => {
      const checkpoints = await store.transaction(async (tx) => [
        await store.getCheckpoint(tx, 'parts_p0'),
        await store.getCheckpoint(tx, 'parts_p1'),
        await store.getCheckpoint(tx, 'parts_p2'),
      ]);
      expect(checkpoints).toEqual(Array(3).fill('0000000000000030'));
    });
    controller.abort();
    await running;
    expect(projection.seen.map((e) => e.aggregateId).sort()).toEqual([...ids].sort());
  });

  it('rejects an invalid partition count or a partitionKey option', async () => {
    const store = createInMemoryEventStore();
    await expect(runProjectionPartitions(store, collecting('x'), 0)).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    await expect(
      runProjectionPartitions(store, collecting('x'), 2, { partitionKey: 1 } as never),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', option: 'partitionKey' });
  });
});
