// Type-level tests of the typed event API (checked by `tsc`, which includes test/): narrowing by
// eventType, compile errors for wrong eventType/payload pairs (`@ts-expect-error`), inference of
// the event type through processors, runners, commands and iteration, and the untyped store
// unchanged. The runtime parts run on the in-memory store.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AppendResult,
  createInMemoryEventStore,
  type DomainEvent,
  type EventMapOf,
  type EventStore,
  ExpectedVersion,
  getProjectionStatus,
  handleCommand,
  type InMemoryEventStore,
  type InMemoryTransaction,
  iterateAggregateStream,
  iterateEvents,
  type NewEvent,
  type NewEventOf,
  type PayloadOf,
  type PersistedEvent,
  type PersistedEventOf,
  type Projection,
  ProjectionProcessor,
  runProjectionPartitions,
  runProjections,
  type Stream,
} from '../src/index.js';
import {
  account,
  accountStream,
  type BankCommand,
  type BankEvent,
  type BankEvents,
} from './support/bank.js';
import { amountSchema, ownerSchema, schema } from './support/schemas.js';

const ref = accountStream('typed');

describe('typed stores: append accepts only known eventType/payload pairs', () => {
  it('accepts known pairs and rejects wrong ones at compile time (union and map)', async () => {
    const union = createInMemoryEventStore<BankEvent>();
    const map = createInMemoryEventStore<BankEvents>();
    for (const store of [union, map] as const) {
      await store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), [
          { ...ref, eventType: 'AccountOpened', payload: { owner: 'alice' } },
          { ...ref, eventType: 'MoneyDeposited', payload: { amount: 10 }, eventVersion: 1 },
        ]);
        if (Math.random() > 2) {
          await store.append(tx, ExpectedVersion.any(), [
            // @ts-expect-error the payload of MoneyDeposited is { amount: number }
            { ...ref, eventType: 'MoneyDeposited', payload: { owner: 'alice' } },
          ]);
          await store.append(tx, ExpectedVersion.any(), [
            // @ts-expect-error an unknown event type
            { ...ref, eventType: 'MoneyTeleported', payload: { amount: 1 } },
          ]);
          await store.append(tx, ExpectedVersion.any(), [
            // @ts-expect-error amount must be a number
            { ...ref, eventType: 'MoneyWithdrawn', payload: { amount: '1' } },
          ]);
        }
      });
    }
    await expect(
      union.appendToStream(ExpectedVersion.exact(2), [
        { ...ref, eventType: 'AccountClosed', payload: {} },
      ]),
    ).resolves.toMatchObject({ toVersion: 3 });
    if (Math.random() > 2) {
      await union.appendToStream(ExpectedVersion.any(), [
        // @ts-expect-error AccountClosed's payload has no amount
        { ...ref, eventType: 'AccountClosed', payload: { amount: 1 } },
      ]);
    }
  });

  it('NewEventOf is the union of NewEvent per pair, and NewEvent for the untyped store', () => {
    expectTypeOf<NewEventOf<BankEvents>>().toEqualTypeOf<NewEventOf<BankEvent>>();
    expectTypeOf<Extract<NewEventOf<BankEvent>, { eventType: 'MoneyDeposited' }>>().toEqualTypeOf<
      NewEvent<{ amount: number }, 'MoneyDeposited'>
    >();
    expectTypeOf<NewEventOf<DomainEvent>>().toEqualTypeOf<NewEvent>();
    expectTypeOf<PersistedEventOf<DomainEvent>>().toEqualTypeOf<PersistedEvent>();
    expectTypeOf<PayloadOf<BankEvents, 'MoneyWithdrawn'>>().toEqualTypeOf<{ amount: number }>();
    expectTypeOf<PayloadOf<DomainEvent, 'Anything'>>().toEqualTypeOf<unknown>();
  });

  it('the append result carries the typed events', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const result = await store.appendToStream(ExpectedVersion.noStream(), [
      { ...accountStream(), eventType: 'AccountOpened', payload: { owner: 'bob' } },
    ]);
    expectTypeOf(result).toEqualTypeOf<AppendResult<BankEvent>>();
    const [event] = result.events;
    if (event?.eventType === 'AccountOpened') expect(event.payload.owner).toBe('bob');
  });
});

describe('typed stores: reads narrow payload by eventType', () => {
  it('readEvents and readAggregateStream narrow in a switch', async () => {
    const store = createInMemoryEventStore<BankEvents>();
    await store.appendToStream(ExpectedVersion.noStream(), [
      { ...ref, eventType: 'AccountOpened', payload: { owner: 'alice' } },
      { ...ref, eventType: 'MoneyDeposited', payload: { amount: 100 } },
      { ...ref, eventType: 'MoneyWithdrawn', payload: { amount: 30 } },
    ]);
    const stream = await store.transaction((tx) => store.readAggregateStream(tx, ref));
    expectTypeOf(stream).toEqualTypeOf<Stream<BankEvents>>();
    let balance = 0;
    let owner = '';
    for (const event of stream.events) {
      switch (event.eventType) {
        case 'AccountOpened':
          expectTypeOf(event.payload).toEqualTypeOf<{ owner: string }>();
          owner = event.payload.owner;
          break;
        case 'MoneyDeposited':
          balance += event.payload.amount;
          break;
        case 'MoneyWithdrawn':
          balance -= event.payload.amount;
          break;
        case 'AccountClosed':
          expectTypeOf(event.payload).toEqualTypeOf<{ reason?: string }>();
          break;
        default:
          expectTypeOf(event).toBeNever();
      }
    }
    expect({ owner, balance }).toEqual({ owner: 'alice', balance: 70 });

    const log = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
    expectTypeOf(log).toEqualTypeOf<PersistedEventOf<BankEvents>[]>();
    const first = log[0]!;
    // @ts-expect-error the payload is a union until eventType is checked
    first.payload.amount;
    if (first.eventType === 'AccountOpened') expect(first.payload.owner).toBe('alice');
  });

  it('the untyped store is unchanged: any event type, payload unknown', async () => {
    const store = createInMemoryEventStore();
    expectTypeOf(store).toEqualTypeOf<InMemoryEventStore>();
    await store.appendToStream(ExpectedVersion.noStream(), [
      { ...ref, eventType: 'WhateverHappened', payload: { anything: [1, 2] } },
    ]);
    const [event] = await store.transaction((tx) => store.readEvents(tx, { limit: 1 }));
    expectTypeOf(event!.payload).toBeUnknown();
    expectTypeOf(event!.eventType).toBeString();
    expectTypeOf(event!).toEqualTypeOf<PersistedEvent>();
    const events: NewEvent[] = [{ ...ref, eventType: 'X', payload: 1 }];
    await store.transaction((tx) => store.append(tx, ExpectedVersion.any(), events));
  });

  it('a typed store is an EventStore of its transaction type, not the other way round', () => {
    const typed = createInMemoryEventStore<BankEvent>();
    const untyped: EventStore<InMemoryTransaction> = typed;
    const loose: EventStore<any> = typed;
    expect([untyped, loose]).toHaveLength(2);
    const plain = createInMemoryEventStore();
    // @ts-expect-error an untyped store does not promise BankEvents
    const wrong: EventStore<InMemoryTransaction, BankEvent> = plain;
    expect(wrong).toBe(plain);
    expectTypeOf<EventStore<unknown, BankEvents>>().toEqualTypeOf<
      EventStore<unknown, BankEvents>
    >();
  });
});

describe('typed projections', () => {
  it('handle narrows, the processor and the runners infer the event type from the store', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    await store.appendToStream(ExpectedVersion.noStream(), [
      { ...ref, eventType: 'AccountOpened', payload: { owner: 'alice' } },
      { ...ref, eventType: 'MoneyDeposited', payload: { amount: 5 } },
    ]);
    const seen: string[] = [];
    const projection: Projection<InMemoryTransaction, BankEvent> = {
      name: 'typed-projection',
      handle(event) {
        if (event.eventType === 'MoneyDeposited') {
          expectTypeOf(event.payload).toEqualTypeOf<{ amount: number }>();
          seen.push(`deposit ${event.payload.amount}`);
        } else if (event.eventType === 'AccountOpened') {
          seen.push(`opened by ${event.payload.owner}`);
        }
      },
    };
    const processor = new ProjectionProcessor(store, { pollIntervalMs: 5 });
    expectTypeOf(processor).toEqualTypeOf<ProjectionProcessor<InMemoryTransaction, BankEvent>>();
    const controller = new AbortController();
    const running = processor.run(projection, { signal: controller.signal });
    while (!(await getProjectionStatus(store, projection)).caughtUp) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    controller.abort();
    await running;
    expect(seen).toEqual(['opened by alice', 'deposit 5']);

    // An inline projection gets its event type from the processor.
    if (Math.random() > 2) {
      await processor.run({
        name: 'inline',
        handle(event) {
          if (event.eventType === 'MoneyWithdrawn') {
            expectTypeOf(event.payload.amount).toBeNumber();
          }
          // @ts-expect-error no such event type in BankEvent
          if (event.eventType === 'MoneyTeleported') return;
        },
      });
      await runProjections([{ projection, processor }]);
      await runProjectionPartitions(store, projection, 2, {});
      await runProjectionPartitions(
        store,
        {
          name: 'inline-partitions',
          handle(event) {
            expectTypeOf(event).toEqualTypeOf<PersistedEventOf<BankEvent>>();
          },
        },
        2,
      );
    }
  });

  it('an untyped projection (payload unknown) still runs on a typed store', () => {
    const store = createInMemoryEventStore<BankEvent>();
    const untyped: Projection = {
      name: 'untyped',
      handle(event) {
        expectTypeOf(event.payload).toBeUnknown();
      },
    };
    const processor = new ProjectionProcessor(store);
    expect(() => processor.checkpointName(untyped)).not.toThrow();
    expectTypeOf(processor.run).toBeCallableWith(untyped);
  });
});

describe('typed commands and iteration', () => {
  it('handleCommand infers the store, state and command types', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const stream = accountStream();
    const handler = { ...account, stream };
    await handleCommand(store, handler, { type: 'Open', owner: 'carol' });
    const result = await handleCommand(store, handler, { type: 'Deposit', amount: 12 });
    expectTypeOf(result.state.balance).toBeNumber();
    expectTypeOf(result.events).toEqualTypeOf<PersistedEventOf<BankEvent>[]>();
    expect(result.state.balance).toBe(12);
    if (Math.random() > 2) {
      // @ts-expect-error not a BankCommand
      await handleCommand(store, handler, { type: 'Teleport' });
      await handleCommand(
        store,
        {
          stream,
          initialState: () => 0,
          evolve: (n) => n + 1,
          // @ts-expect-error decide returns an event the store does not know
          decide: () => [{ eventType: 'Nope', payload: {} }],
        },
        null,
      );
      const command: BankCommand = { type: 'Close' };
      // @ts-expect-error a bank handler on a store of other events
      await handleCommand(createInMemoryEventStore<{ Other: { x: 1 } }>(), handler, command);
    }
  });

  it('iterateEvents and iterateAggregateStream yield typed events', async () => {
    const store = createInMemoryEventStore<BankEvents>();
    const stream = accountStream();
    await store.appendToStream(ExpectedVersion.noStream(), [
      { ...stream, eventType: 'AccountOpened', payload: { owner: 'dan' } },
      { ...stream, eventType: 'MoneyDeposited', payload: { amount: 3 } },
    ]);
    let total = 0;
    for await (const event of iterateEvents(store, { pageSize: 1 })) {
      expectTypeOf(event).toEqualTypeOf<PersistedEventOf<BankEvents>>();
      if (event.eventType === 'MoneyDeposited') total += event.payload.amount;
    }
    for await (const event of iterateAggregateStream(store, stream)) {
      if (event.eventType === 'AccountOpened') expect(event.payload.owner).toBe('dan');
    }
    expect(total).toBe(3);
  });
});

describe('typed options', () => {
  it('schemas are checked against the event type; EventMapOf derives the map from them', () => {
    createInMemoryEventStore<BankEvent>({
      events: { schemas: { MoneyDeposited: amountSchema, AccountOpened: ownerSchema } },
    });
    createInMemoryEventStore<BankEvent>({
      // @ts-expect-error the schema of AccountOpened produces { owner: string }
      events: { schemas: { AccountOpened: amountSchema } },
    });
    createInMemoryEventStore<BankEvent>({
      events: {
        upcasters: {
          MoneyDeposited: { 1: (old: { cents: number }) => ({ amount: old.cents / 100 }) },
        },
      },
    });
    const schemas = {
      Deposited: amountSchema,
      Renamed: schema<{ name: string }>(() => []),
    };
    const store = createInMemoryEventStore<EventMapOf<typeof schemas>>({ events: { schemas } });
    expectTypeOf<PersistedEventOf<EventMapOf<typeof schemas>>['eventType']>().toEqualTypeOf<
      'Deposited' | 'Renamed'
    >();
    expectTypeOf(store.appendToStream)
      .parameter(1)
      .toEqualTypeOf<
        readonly (
          | NewEvent<{ amount: number }, 'Deposited'>
          | NewEvent<{ name: string }, 'Renamed'>
        )[]
      >();
  });
});
