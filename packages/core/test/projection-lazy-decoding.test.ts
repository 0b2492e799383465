// Events a projection skips (scope, partition) are never decoded; handled events are plain,
// fully decoded objects.
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  ExpectedVersion,
  jsonSerializer,
  type PersistedEvent,
  ProjectionError,
  ProjectionProcessor,
  type Serializer,
} from '../src/index.js';

function countingSerializer() {
  const counts = { deserialize: 0 };
  const serializer: Serializer = {
    serialize: (payload, event) => jsonSerializer.serialize(payload, event),
    deserialize(bytes, event) {
      counts.deserialize += 1;
      return jsonSerializer.deserialize(bytes, event);
    },
  };
  return { serializer, counts };
}

async function seed(store: ReturnType<typeof createInMemoryEventStore>) {
  for (const aggregateType of ['Order', 'Invoice']) {
    for (let i = 0; i < 10; i++) {
      await store.appendToStream(ExpectedVersion.noStream(), [
        {
          boundedContext: 'shop',
          aggregateType,
          aggregateId: `${aggregateType}-${i}`,
          eventType: `${aggregateType}Created`,
          payload: { i, nested: { list: [1, 2, 3] } },
          metadata: { source: 'test' },
        },
      ]);
    }
  }
}

async function runUntil(
  processor: ProjectionProcessor,
  name: string,
  scope: string[] | undefined,
  count: number,
) {
  const handled: PersistedEvent[] = [];
  const controller = new AbortController();
  const run = processor.run(
    {
      name,
      aggregateTypes: scope,
      handle(event) {
        handled.push(event);
      },
    },
    { signal: controller.signal },
  );
  const deadline = Date.now() + 5_000;
  while (handled.length < count && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  await run;
  return handled;
}

describe('lazy decoding in the processor', () => {
  it('a scoped projection decodes only the events it handles', async () => {
    const { serializer, counts } = countingSerializer();
    const store = createInMemoryEventStore({ serializer });
    await seed(store);
    counts.deserialize = 0;
    const handled = await runUntil(
      new ProjectionProcessor(store, { pollIntervalMs: 5 }),
      'orders-only',
      ['Order'],
      10,
    );
    expect(handled).toHaveLength(10);
    expect(counts.deserialize).toBe(10);
  });

  it('a partition decodes only the events of its partition', async () => {
    const { serializer, counts } = countingSerializer();
    const store = createInMemoryEventStore({ serializer });
    await seed(store);
    counts.deserialize = 0;
    const processor = new ProjectionProcessor(store, {
      pollIntervalMs: 5,
      partitionKey: 1,
      totalPartitions: 4,
    });
    const expected = (await store.transaction((tx) => store.readEvents(tx, { limit: 100 }))).filter(
      (e) => processor.config.partitionStrategy.shouldProcess(e.aggregateId, 1, 4),
    ).length;
    counts.deserialize = 0;
    const handled = await runUntil(processor, 'quarter', undefined, expected);
    expect(handled).toHaveLength(expected);
    expect(expected).toBeLessThan(20);
    expect(counts.deserialize).toBe(expected);
  });

  it('handled events are plain objects: spread, JSON, structuredClone and deep equality', async () => {
    const store = createInMemoryEventStore();
    await seed(store);
    const [event] = await runUntil(
      new ProjectionProcessor(store, { pollIntervalMs: 5 }),
      'plain',
      ['Invoice'],
      1,
    );
    const read = (await store.transaction((tx) => store.readEvents(tx, { limit: 100 }))).find(
      (e) => e.eventId === event!.eventId,
    );
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect({ ...event }).toStrictEqual(read);
    expect(structuredClone(event)).toStrictEqual(read);
    expect(JSON.parse(JSON.stringify(event))).toEqual(JSON.parse(JSON.stringify(read)));
    expect(event!.payload).toEqual({ i: 0, nested: { list: [1, 2, 3] } });
  });

  it('an event that cannot be decoded stops the run with a ProjectionError naming it', async () => {
    let failOn: number | undefined;
    const serializer: Serializer = {
      serialize: (payload, event) => jsonSerializer.serialize(payload, event),
      deserialize(bytes, event) {
        const value = jsonSerializer.deserialize(bytes, event) as { i: number };
        if (value.i === failOn) throw new SyntaxError('corrupt payload');
        return value;
      },
    };
    const store = createInMemoryEventStore({ serializer });
    await seed(store);
    failOn = 3;
    const error = await new ProjectionProcessor(store)
      .run({ name: 'corrupt', aggregateTypes: ['Order'], handle() {} })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProjectionError);
    expect((error as ProjectionError).globalPosition).toBe(4);
    expect(await store.transaction((tx) => store.getCheckpoint(tx, 'corrupt'))).toBeNull();
  });
});
