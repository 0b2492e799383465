// `for await` over the log and over a stream in pages (memory bounded by the page size, abort
// signal), and resetting a projection's checkpoints, every partition at once.
import { describe, expect, it } from 'vitest';
import { delegatingStore } from '../src/conformance/helpers.js';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  type InMemoryTransaction,
  InvalidArgumentError,
  InvalidConfigError,
  iterateAggregateStream,
  iterateEvents,
  OperationAbortedError,
  type PersistedEvent,
  type Projection,
  ProjectionProcessor,
  projectionCheckpointName,
  resetProjection,
  runProjectionPartitions,
} from '../src/index.js';
import { accountStream } from './support/bank.js';
import { createConcurrentEventStore } from './support/concurrent-dialect.js';

/** A store of `streams` streams of `perStream` events each, appended one stream at a time. */
async function seeded(streams = 3, perStream = 7) {
  const store = createInMemoryEventStore();
  const refs = Array.from({ length: streams }, () => accountStream());
  for (const ref of refs) {
    await store.appendToStream(
      ExpectedVersion.noStream(),
      Array.from({ length: perStream }, (_, i) => ({
        ...ref,
        eventType: 'Counted',
        payload: { i: i + 1 },
      })),
    );
  }
  return { store, refs };
}

/** Records the `limit` of every `readEvents` and the range of every stream read. */
function recording<Tx>(store: EventStore<Tx>) {
  const reads: string[] = [];
  const wrapped: EventStore<Tx> = {
    ...delegatingStore(store),
    transaction: (fn, options) => store.transaction(fn, options),
    readEvents(tx, options) {
      reads.push(`log ${options.limit}`);
      return store.readEvents(tx, options);
    },
    readAggregateStream(tx, ref, range) {
      reads.push(`stream ${range?.fromVersion}-${range?.toVersion}`);
      return store.readAggregateStream(tx, ref, range);
    },
  };
  return { store: wrapped, reads };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

describe('iterateEvents', () => {
  it('yields the whole log in order, reading pages of pageSize', async () => {
    const { store } = await seeded();
    const expected = await store.transaction((tx) => store.readEvents(tx, { limit: 100 }));
    const { store: observed, reads } = recording(store);
    const events = await collect(iterateEvents(observed, { pageSize: 4 }));
    expect(events).toEqual(expected);
    // 21 events: five full pages and a last one of 1.
    expect(reads).toEqual(Array(6).fill('log 4'));
  });

  it('starts after a checkpoint and reads an exact multiple of pages plus one empty page', async () => {
    const { store } = await seeded(2, 4);
    const all = await collect(iterateEvents(store));
    const after = await collect(iterateEvents(store, { after: all[3]!.checkpoint, pageSize: 2 }));
    expect(after.map((e) => e.globalPosition)).toEqual([5, 6, 7, 8]);
    expect(await collect(iterateEvents(createInMemoryEventStore()))).toEqual([]);
  });

  it('stops reading when the loop breaks', async () => {
    const { store } = await seeded();
    const { store: observed, reads } = recording(store);
    for await (const event of iterateEvents(observed, { pageSize: 5 })) {
      if (event.globalPosition === 3) break;
    }
    expect(reads).toEqual(['log 5']);
  });

  it('throws OperationAbortedError when its signal aborts between pages', async () => {
    const { store } = await seeded();
    const controller = new AbortController();
    const seen: PersistedEvent[] = [];
    const error = await (async () => {
      for await (const event of iterateEvents(store, {
        pageSize: 5,
        signal: controller.signal,
      })) {
        seen.push(event);
        if (seen.length === 7) controller.abort(new Error('enough'));
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationAbortedError);
    expect(seen).toHaveLength(10);
  });

  it('reads through the caller transaction when given one', async () => {
    const { store, refs } = await seeded(1, 3);
    const inside = await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.exact(3), [
        { ...refs[0]!, eventType: 'Counted', payload: { i: 4 } },
      ]);
      return collect(iterateEvents(store, { tx, pageSize: 2 }));
    });
    expect(inside).toHaveLength(4);
  });

  it('refuses invalid options at once', () => {
    const store = createInMemoryEventStore();
    for (const options of [
      { pageSize: 0 },
      { pageSize: 1.5 },
      { pageSize: 100_001 },
      { signal: {} as AbortSignal },
      { after: 5 as unknown as string },
    ]) {
      expect(() => iterateEvents(store, options)).toThrow(InvalidArgumentError);
    }
  });
});

describe('iterateAggregateStream', () => {
  it('yields a stream or a range of it in pages', async () => {
    const { store, refs } = await seeded(2, 9);
    const { store: observed, reads } = recording(store);
    const whole = await collect(iterateAggregateStream(observed, refs[1]!, { pageSize: 4 }));
    expect(whole.map((e) => e.aggregateVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(whole.every((e) => e.aggregateId === refs[1]!.aggregateId)).toBe(true);
    expect(reads).toEqual(['stream 1-4', 'stream 5-8', 'stream 9-12']);
    reads.length = 0;
    const range = await collect(
      iterateAggregateStream(observed, refs[0]!, { fromVersion: 3, toVersion: 8, pageSize: 3 }),
    );
    expect(range.map((e) => e.aggregateVersion)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(reads).toEqual(['stream 3-5', 'stream 6-8']);
    expect(await collect(iterateAggregateStream(store, accountStream()))).toEqual([]);
  });

  it('throws OperationAbortedError for an aborted signal, and refuses a bad stream at once', async () => {
    const { store, refs } = await seeded(1, 2);
    const controller = new AbortController();
    controller.abort();
    await expect(
      collect(iterateAggregateStream(store, refs[0]!, { signal: controller.signal })),
    ).rejects.toBeInstanceOf(OperationAbortedError);
    expect(() => iterateAggregateStream(store, { ...refs[0]!, aggregateId: '' })).toThrow(
      InvalidArgumentError,
    );
    expect(() => iterateAggregateStream(store, refs[0]!, { fromVersion: -1 })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('resetProjection', () => {
  async function runCaughtUp(
    store: EventStore<InMemoryTransaction>,
    projection: Projection<InMemoryTransaction>,
    totalPartitions: number,
  ) {
    const controller = new AbortController();
    const running = runProjectionPartitions(store, projection, totalPartitions, {
      signal: controller.signal,
      pollIntervalMs: 5,
    });
    const head = (await store.transaction((tx) => store.getLogStatus!(tx))).headCheckpoint;
    for (;;) {
      const checkpoints = await store.transaction(async (tx) =>
        Promise.all(
          Array.from({ length: totalPartitions }, (_, key) =>
            store.getCheckpoint(
              tx,
              projectionCheckpointName(projection.name, key, totalPartitions),
            ),
          ),
        ),
      );
      if (checkpoints.every((c) => c === head)) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort();
    await running;
  }

  it('deletes the checkpoint of every partition in one call; the projection then runs again', async () => {
    const { store } = await seeded(4, 3);
    const handled: number[] = [];
    const projection: Projection<InMemoryTransaction> = {
      name: 'totals',
      handle(event) {
        handled.push(event.globalPosition);
      },
    };
    await runCaughtUp(store, projection, 3);
    expect(handled).toHaveLength(12);
    const saved = await store.transaction((tx) => store.listCheckpoints(tx));
    expect(saved).toHaveLength(3);
    await store.transaction(async (tx) => {
      const [first] = await store.readEvents(tx, { limit: 1 });
      // The unpartitioned name of an earlier run, and names that only look alike.
      for (const name of ['totals', 'totals_other', 'totals_px']) {
        await store.saveCheckpoint(tx, name, first!.checkpoint);
      }
    });

    const deleted = await resetProjection(store, projection);
    expect(deleted).toEqual(['totals', 'totals_p0', 'totals_p1', 'totals_p2']);
    const left = await store.transaction((tx) => store.listCheckpoints(tx));
    expect(left.map((c) => c.projectionName).sort()).toEqual(['totals_other', 'totals_px']);
    expect(await resetProjection(store, 'totals')).toEqual([]);

    handled.length = 0;
    await runCaughtUp(store, projection, 2);
    expect(handled.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('resets inside the caller transaction, rolled back with it', async () => {
    const { store } = await seeded(1, 2);
    const [first] = await store.transaction((tx) => store.readEvents(tx, { limit: 1 }));
    await store.transaction((tx) => store.saveCheckpoint(tx, 'model', first!.checkpoint));
    await expect(
      store.transaction(async (tx) => {
        expect(await resetProjection(store, 'model', { tx })).toEqual(['model']);
        expect(await store.getCheckpoint(tx, 'model')).toBeNull();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.transaction((tx) => store.getCheckpoint(tx, 'model'))).toBe(
      first!.checkpoint,
    );
  });

  it('without listCheckpoints, resets the names totalPartitions gives', async () => {
    const { store } = await seeded(1, 1);
    const [first] = await store.transaction((tx) => store.readEvents(tx, { limit: 1 }));
    await store.transaction(async (tx) => {
      for (const name of ['p', 'p_p0', 'p_p1', 'p_p2']) {
        await store.saveCheckpoint(tx, name, first!.checkpoint);
      }
    });
    const noList: EventStore<InMemoryTransaction> = {
      ...delegatingStore(store),
      deleteCheckpoint: (tx, name) => store.deleteCheckpoint(tx, name),
    };
    expect(await resetProjection(noList, 'p', { totalPartitions: 2 })).toEqual([
      'p',
      'p_p0',
      'p_p1',
    ]);
    expect(store.countRows().checkpoints).toBe(1);
  });

  it('rejects with InvalidConfigError on a store that cannot delete checkpoints', async () => {
    const store = createConcurrentEventStore();
    await expect(resetProjection(store, 'x')).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(resetProjection(store, '')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      resetProjection(createInMemoryEventStore(), 'x', { totalPartitions: 0 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('deleteCheckpoint validates its arguments like every store method', async () => {
    const store = createInMemoryEventStore();
    await expect(store.transaction((tx) => store.deleteCheckpoint(tx, ''))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(store.deleteCheckpoint({ active: true }, 'x')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(new ProjectionProcessor(store).checkpointName('x')).toBe('x');
  });
});
