// The `events` option on the in-memory store: Standard Schema validation on append and on read,
// upcasters on every read path, and the configuration errors.
import { describe, expect, it } from 'vitest';
import { resolveEventStoreOptions } from '../src/adapter/index.js';
import {
  createInMemoryEventStore,
  type EventOptions,
  ExpectedVersion,
  InvalidConfigError,
  InvalidEventError,
  InvalidStoredEventError,
  jsonSerializer,
  type PersistedEvent,
  ProjectionError,
  ProjectionProcessor,
  type Serializer,
} from '../src/index.js';
import { accountStream, type BankEvent } from './support/bank.js';
import { amountSchema, asyncSchema, ownerSchema, schema } from './support/schemas.js';

const schemas = { MoneyDeposited: amountSchema, AccountOpened: ownerSchema };

/** The error `promise` rejects with; fails the test when it resolves. */
async function failure<T>(promise: Promise<unknown>): Promise<T> {
  try {
    await promise;
  } catch (error) {
    return error as T;
  }
  throw new Error('expected a rejection');
}

describe('schemas on append', () => {
  it('rejects a bad payload with InvalidEventError naming index, field, type and issue; nothing written', async () => {
    const store = createInMemoryEventStore<BankEvent>({ events: { schemas } });
    const ref = accountStream();
    const error = await store
      .appendToStream(ExpectedVersion.noStream(), [
        { ...ref, eventType: 'AccountOpened', payload: { owner: 'alice' } },
        { ...ref, eventType: 'MoneyDeposited', payload: { amount: -5 } },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({
      code: 'INVALID_EVENT',
      index: 1,
      field: 'payload',
      eventType: 'MoneyDeposited',
      issues: [{ message: 'must be positive', path: [{ key: 'amount' }] }],
    });
    expect((error as Error).message).toBe(
      'Event #1 has an invalid payload: does not match the schema of MoneyDeposited: amount: must be positive',
    );
    expect(store.countRows()).toEqual({ events: 0, aggregateHeads: 0, checkpoints: 0 });

    await expect(
      store.transaction((tx) =>
        store.append(tx, ExpectedVersion.any(), [
          // A payload the types allow but the schema refuses.
          { ...ref, eventType: 'AccountOpened', payload: { owner: '' } },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'INVALID_EVENT', index: 0, eventType: 'AccountOpened' });
    expect(store.countRows().events).toBe(0);
  });

  it('accepts valid payloads, stores them as given, and leaves types without a schema alone', async () => {
    const store = createInMemoryEventStore<BankEvent>({ events: { schemas } });
    const ref = accountStream();
    const result = await store.appendToStream(ExpectedVersion.noStream(), [
      { ...ref, eventType: 'AccountOpened', payload: { owner: 'alice' } },
      { ...ref, eventType: 'MoneyDeposited', payload: { amount: 5 } },
      { ...ref, eventType: 'AccountClosed', payload: { reason: 'no schema for this type' } },
    ]);
    expect(result.toVersion).toBe(3);
    const stream = await store.transaction((tx) => store.readAggregateStream(tx, ref));
    expect(stream.events.map((e) => e.payload)).toEqual([
      { owner: 'alice' },
      { amount: 5 },
      { reason: 'no schema for this type' },
    ]);
  });

  it('reports every issue and a schema that throws', async () => {
    const twoIssues = schema<unknown>(() => [
      { message: 'first', path: ['a', 0, { key: 'b' }] },
      { message: 'second' },
    ]);
    const throwing = schema<unknown>(() => {
      throw new TypeError('schema bug');
    });
    const store = createInMemoryEventStore({
      events: { schemas: { Two: twoIssues, Throws: throwing } },
    });
    const ref = accountStream();
    const two = await failure<InvalidEventError>(
      store.appendToStream(ExpectedVersion.any(), [{ ...ref, eventType: 'Two', payload: {} }]),
    );
    expect(two.message).toContain('a.0.b: first (and 1 more)');
    expect(two.issues).toHaveLength(2);
    const thrown = await failure<InvalidEventError>(
      store.appendToStream(ExpectedVersion.any(), [{ ...ref, eventType: 'Throws', payload: {} }]),
    );
    expect(thrown).toBeInstanceOf(InvalidEventError);
    expect(thrown.cause).toBeInstanceOf(TypeError);
    expect(store.countRows().events).toBe(0);
  });

  it('refuses an asynchronous schema with InvalidConfigError, nothing written', async () => {
    const store = createInMemoryEventStore({ events: { schemas: { Later: asyncSchema() } } });
    await expect(
      store.appendToStream(ExpectedVersion.any(), [
        { ...accountStream(), eventType: 'Later', payload: {} },
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG', option: 'events.schemas.Later' });
    expect(store.countRows().events).toBe(0);
  });

  it('checks an event appended at an older version as readers will get it (upcast)', async () => {
    const store = createInMemoryEventStore({
      events: {
        schemas: { MoneyDeposited: amountSchema },
        upcasters: {
          MoneyDeposited: { 1: (old: { cents: number }) => ({ amount: old.cents / 100 }) },
        },
      },
    });
    const ref = accountStream();
    await store.appendToStream(ExpectedVersion.any(), [
      { ...ref, eventType: 'MoneyDeposited', eventVersion: 1, payload: { cents: 250 } },
    ]);
    await expect(
      store.appendToStream(ExpectedVersion.any(), [
        { ...ref, eventType: 'MoneyDeposited', eventVersion: 1, payload: { cents: -1 } },
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_EVENT', eventType: 'MoneyDeposited' });
    expect(store.countRows().events).toBe(1);
  });
});

describe('schemas on read (validateOnRead)', () => {
  it('rejects a stored event that no longer matches with InvalidStoredEventError', async () => {
    let strict = false;
    const tightening = schema<{ amount: number }>((value) =>
      strict && (value as { amount: number }).amount > 100
        ? [{ message: 'at most 100', path: ['amount'] }]
        : [],
    );
    const store = createInMemoryEventStore({
      events: { schemas: { MoneyDeposited: tightening }, validateOnRead: true },
    });
    const ref = accountStream();
    await store.appendToStream(ExpectedVersion.noStream(), [
      { ...ref, eventType: 'MoneyDeposited', payload: { amount: 500 } },
    ]);
    await expect(
      store.transaction((tx) => store.readEvents(tx, { limit: 10 })),
    ).resolves.toHaveLength(1);
    strict = true;
    const error = await store
      .transaction((tx) => store.readAggregateStream(tx, ref))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStoredEventError);
    expect(error).toMatchObject({
      code: 'INVALID_STORED_EVENT',
      globalPosition: 1,
      eventType: 'MoneyDeposited',
      eventVersion: 1,
      issues: [{ message: 'at most 100', path: ['amount'] }],
    });
    await expect(
      store.transaction((tx) => store.readEvents(tx, { limit: 10 })),
    ).rejects.toBeInstanceOf(InvalidStoredEventError);

    const processor = new ProjectionProcessor(store, { retry: { maxRetries: 0 } });
    const stopped = await failure<ProjectionError>(processor.run({ name: 'strict', handle() {} }));
    expect(stopped).toBeInstanceOf(ProjectionError);
    expect(stopped.cause).toBeInstanceOf(InvalidStoredEventError);
  });

  it('does not validate reads by default', async () => {
    const calls = { count: 0 };
    const counted = schema<unknown>(() => {
      calls.count++;
      return [];
    });
    const store = createInMemoryEventStore({ events: { schemas: { X: counted } } });
    await store.appendToStream(ExpectedVersion.any(), [
      { ...accountStream(), eventType: 'X', payload: 1 },
    ]);
    await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
    expect(calls.count).toBe(1);
  });
});

describe('upcasters', () => {
  const upcasters: EventOptions['upcasters'] = {
    MoneyDeposited: {
      1: (old: { cents: number }) => ({ amount: old.cents / 100 }),
      2: (old: { amount: number }, event) => ({
        amount: old.amount,
        currency: (event.metadata?.currency as string | undefined) ?? 'EUR',
      }),
    },
  };

  async function seed() {
    const store = createInMemoryEventStore({ events: { upcasters } });
    const ref = accountStream();
    const appended = await store.appendToStream(ExpectedVersion.noStream(), [
      { ...ref, eventType: 'MoneyDeposited', eventVersion: 1, payload: { cents: 250 } },
      {
        ...ref,
        eventType: 'MoneyDeposited',
        eventVersion: 2,
        payload: { amount: 4 },
        metadata: { currency: 'USD' },
      },
      { ...ref, eventType: 'MoneyDeposited', payload: { amount: 7, currency: 'CHF' } },
      { ...ref, eventType: 'AccountOpened', payload: { owner: 'no upcasters' } },
    ]);
    return { store, ref, appended };
  }

  const current = [
    { eventVersion: 3, payload: { amount: 2.5, currency: 'EUR' } },
    { eventVersion: 3, payload: { amount: 4, currency: 'USD' } },
    { eventVersion: 3, payload: { amount: 7, currency: 'CHF' } },
    { eventVersion: 1, payload: { owner: 'no upcasters' } },
  ];
  const shape = (events: PersistedEvent[]) =>
    events.map(({ eventVersion, payload }) => ({ eventVersion, payload }));

  it('appends without eventVersion at the current version; the result is what was given', async () => {
    const { appended } = await seed();
    expect(appended.events.map((e) => e.eventVersion)).toEqual([1, 2, 3, 1]);
    expect(appended.events[0]!.payload).toEqual({ cents: 250 });
  });

  it('upcasts on readEvents, readAggregateStream, readProjectionBatch and in projections', async () => {
    const { store, ref } = await seed();
    const log = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
    expect(shape(log)).toEqual(current);
    const stream = await store.transaction((tx) => store.readAggregateStream(tx, ref));
    expect(shape(stream.events)).toEqual(current);
    const batch = await store.transaction((tx) =>
      store.readProjectionBatch(tx, 'upcast-batch', { limit: 10 }),
    );
    expect(shape(batch.events)).toEqual(current);

    const handled: PersistedEvent[] = [];
    const controller = new AbortController();
    const processor = new ProjectionProcessor(store, { pollIntervalMs: 5 });
    const running = processor.run(
      {
        name: 'upcast-projection',
        handle(event) {
          handled.push(event);
          if (handled.length === current.length) controller.abort();
        },
      },
      { signal: controller.signal },
    );
    await running;
    expect(shape(handled)).toEqual(current);
  });

  it('an upcaster that throws fails the read with InvalidStoredEventError', async () => {
    const store = createInMemoryEventStore({
      events: {
        upcasters: {
          Broken: {
            1: () => {
              throw new Error('cannot upcast');
            },
          },
        },
      },
    });
    await store.appendToStream(ExpectedVersion.any(), [
      { ...accountStream(), eventType: 'Broken', eventVersion: 1, payload: {} },
    ]);
    const error = await failure<InvalidStoredEventError>(
      store.transaction((tx) => store.readEvents(tx, { limit: 1 })),
    );
    expect(error).toBeInstanceOf(InvalidStoredEventError);
    expect(error).toMatchObject({ eventType: 'Broken', eventVersion: 1, globalPosition: 1 });
    expect((error.cause as Error).message).toBe('cannot upcast');
  });

  it('the serializer sees the stored version, upcasters run after it', async () => {
    const seen: number[] = [];
    const serializer: Serializer = {
      serialize: jsonSerializer.serialize,
      deserialize(bytes, event) {
        seen.push(event.eventVersion ?? 0);
        return jsonSerializer.deserialize(bytes, event);
      },
    };
    const store = createInMemoryEventStore({ serializer, events: { upcasters } });
    await store.appendToStream(ExpectedVersion.any(), [
      { ...accountStream(), eventType: 'MoneyDeposited', eventVersion: 1, payload: { cents: 1 } },
    ]);
    const [event] = await store.transaction((tx) => store.readEvents(tx, { limit: 1 }));
    expect(seen).toEqual([1]);
    expect(event).toMatchObject({ eventVersion: 3, payload: { amount: 0.01, currency: 'EUR' } });
  });
});

describe('configuration', () => {
  it('nothing configured resolves to no rules at all', () => {
    expect(resolveEventStoreOptions(undefined).events).toBeUndefined();
    expect(resolveEventStoreOptions({ events: {} }).events).toBeUndefined();
    expect(
      resolveEventStoreOptions({ events: { schemas: {}, upcasters: {}, validateOnRead: true } })
        .events,
    ).toBeUndefined();
  });

  it.each([
    [{ events: 1 }, 'events'],
    [{ events: { validateOnRead: 'yes' } }, 'events.validateOnRead'],
    [{ events: { schemas: [] } }, 'events.schemas'],
    [{ events: { schemas: { X: { parse() {} } } } }, 'events.schemas.X'],
    [
      { events: { schemas: { X: { '~standard': { version: 2, validate() {} } } } } },
      'events.schemas.X',
    ],
    [{ events: { schemas: { '': amountSchema } } }, 'events.schemas'],
    [{ events: { upcasters: { X: () => 1 } } }, 'events.upcasters.X'],
    [{ events: { upcasters: { X: { 0: () => 1 } } } }, 'events.upcasters.X.0'],
    [{ events: { upcasters: { X: { 1.5: () => 1 } } } }, 'events.upcasters.X.1.5'],
    [{ events: { upcasters: { X: { 2147483647: () => 1 } } } }, 'events.upcasters.X.2147483647'],
    [{ events: { upcasters: { X: { 1: 'f' } } } }, 'events.upcasters.X.1'],
    [{ events: { upcasters: { X: { 1: () => 1, 3: () => 1 } } } }, 'events.upcasters.X'],
  ])('refuses %j with InvalidConfigError naming %s', (options, option) => {
    let error: unknown;
    try {
      createInMemoryEventStore(options as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).option).toBe(option);
  });
});
