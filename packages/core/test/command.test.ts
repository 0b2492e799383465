// handleCommand (load, fold, decide, append at the version read, retry on conflicts) and the
// decider test helper, which needs no store at all.
import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  deciderSpec,
  type EventStore,
  ExpectedVersion,
  handleCommand,
  InvalidArgumentError,
  InvalidEventError,
  OperationAbortedError,
  OptimisticConcurrencyError,
  type Stream,
} from '../src/index.js';
import {
  type Account,
  AccountNotOpen,
  account,
  accountStream,
  type BankCommand,
  type BankEvent,
  InsufficientFunds,
} from './support/bank.js';
import { createConcurrentEventStore } from './support/concurrent-dialect.js';
import { amountSchema } from './support/schemas.js';

async function failure<T>(promise: Promise<unknown>): Promise<T> {
  try {
    await promise;
  } catch (error) {
    return error as T;
  }
  throw new Error('expected a rejection');
}

/**
 * A store whose first `stale` reads of a stream miss its last event: a command handled on it
 * decides on an old version, as if another writer appended between its read and its append.
 */
function staleReads<Tx>(
  store: EventStore<Tx, BankEvent>,
  stale: number,
): EventStore<Tx, BankEvent> {
  let left = stale;
  return {
    ...store,
    transaction: (fn, options) => store.transaction(fn, options),
    append: (tx, expected, events) => store.append(tx, expected, events),
    async readAggregateStream(tx, ref, range): Promise<Stream<BankEvent>> {
      const stream = await store.readAggregateStream(tx, ref, range);
      if (left === 0 || stream.version === 0) return stream;
      left--;
      const events = stream.events.slice(0, -1);
      return { ...stream, events, version: stream.version - 1, isEmpty: events.length === 0 };
    },
  };
}

describe('handleCommand', () => {
  it('creates a stream with noStream, then appends at the version it read', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const stream = accountStream();
    const handler = { ...account, stream };
    const opened = await handleCommand(store, handler, { type: 'Open', owner: 'alice' });
    expect(opened).toMatchObject({ stream, version: 1, retries: 0 });
    expect(opened.events.map((e) => [e.eventType, e.aggregateVersion])).toEqual([
      ['AccountOpened', 1],
    ]);
    await handleCommand(store, handler, { type: 'Deposit', amount: 100 });
    const withdrawn = await handleCommand(store, handler, { type: 'Withdraw', amount: 30 });
    expect(withdrawn.state).toEqual({ open: true, closed: false, balance: 70 });
    expect(withdrawn.version).toBe(3);
    expect(withdrawn.events[0]).toMatchObject({
      ...stream,
      eventType: 'MoneyWithdrawn',
      payload: { amount: 30 },
      aggregateVersion: 3,
    });
    const closed = await handleCommand(store, handler, { type: 'Close' });
    expect(closed.events.map((e) => e.eventType)).toEqual(['MoneyWithdrawn', 'AccountClosed']);
    expect(closed.version).toBe(5);
  });

  it('appends nothing when decide returns no event', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const handler = { ...account, stream: accountStream() };
    await handleCommand(store, handler, { type: 'Open', owner: 'bob' });
    const again = await handleCommand(store, handler, { type: 'Open', owner: 'bob' });
    expect(again).toMatchObject({ version: 1, events: [], retries: 0 });
    expect(store.countRows().events).toBe(1);
  });

  it("rejects with decide's own error, nothing written", async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const handler = { ...account, stream: accountStream() };
    await expect(
      handleCommand(store, handler, { type: 'Deposit', amount: 1 }),
    ).rejects.toBeInstanceOf(AccountNotOpen);
    await handleCommand(store, handler, { type: 'Open', owner: 'carol' });
    const refused = await failure<InsufficientFunds>(
      handleCommand(store, handler, { type: 'Withdraw', amount: 1 }),
    );
    expect(refused).toBeInstanceOf(InsufficientFunds);
    expect(refused.balance).toBe(0);
    expect(store.countRows().events).toBe(1);
  });

  it('passes the store validation on: a decided payload that fails its schema', async () => {
    const store = createInMemoryEventStore<BankEvent>({
      events: { schemas: { MoneyDeposited: amountSchema } },
    });
    const handler = { ...account, stream: accountStream() };
    await handleCommand(store, handler, { type: 'Open', owner: 'dan' });
    await expect(
      handleCommand(store, handler, { type: 'Deposit', amount: -1 }),
    ).rejects.toBeInstanceOf(InvalidEventError);
    expect(store.countRows().events).toBe(1);
  });

  it('finds the stream from the command', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    type Addressed = BankCommand & { accountId: string };
    const handler = {
      ...account,
      stream: (command: Addressed) => accountStream(command.accountId),
    };
    const id = `acc-from-command-${Math.random()}`;
    await handleCommand(store, handler, { type: 'Open', owner: 'erin', accountId: id });
    const stream = await store.transaction((tx) =>
      store.readAggregateStream(tx, accountStream(id)),
    );
    expect(stream.version).toBe(1);
  });

  it('runs the command again after a concurrent write, deciding on the new state', async () => {
    const inner = createInMemoryEventStore<BankEvent>();
    const stream = accountStream();
    const handler = { ...account, stream };
    await handleCommand(inner, handler, { type: 'Open', owner: 'fay' });
    await handleCommand(inner, handler, { type: 'Deposit', amount: 50 });
    const states: Account[] = [];
    const result = await handleCommand(
      staleReads(inner, 2),
      {
        ...handler,
        decide(command: BankCommand, state: Account) {
          states.push(state);
          return account.decide(command, state);
        },
      },
      { type: 'Deposit', amount: 1 },
    );
    expect(result.retries).toBe(2);
    expect(states.map((s) => s.balance)).toEqual([0, 0, 50]);
    expect(result.state.balance).toBe(51);
    expect(result.version).toBe(3);
  });

  it('gives up after maxRetries with the OptimisticConcurrencyError', async () => {
    const inner = createInMemoryEventStore<BankEvent>();
    const stream = accountStream();
    await handleCommand(inner, { ...account, stream }, { type: 'Open', owner: 'gus' });
    const error = await failure<OptimisticConcurrencyError>(
      handleCommand(
        staleReads(inner, 10),
        { ...account, stream },
        { type: 'Open', owner: 'gus' },
        { maxRetries: 2 },
      ),
    );
    expect(error).toBeInstanceOf(OptimisticConcurrencyError);
    expect(error.actualVersion).toBe(1);
    await expect(
      handleCommand(
        staleReads(inner, 1),
        { ...account, stream },
        { type: 'Open', owner: 'gus' },
        {
          maxRetries: 0,
        },
      ),
    ).rejects.toBeInstanceOf(OptimisticConcurrencyError);
  });

  it('keeps every command of concurrent handlers on one stream, each exactly once', async () => {
    const store = createConcurrentEventStore() as unknown as EventStore<unknown, BankEvent>;
    const stream = accountStream();
    const handler = { ...account, stream };
    await handleCommand(store, handler, { type: 'Open', owner: 'hal' });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        handleCommand(store, handler, { type: 'Deposit', amount: i + 1 }, { maxRetries: 50 }),
      ),
    );
    const final = await store.transaction((tx) => store.readAggregateStream(tx, stream));
    expect(final.version).toBe(13);
    const balance = final.events.reduce(
      (sum, e) => sum + (e.eventType === 'MoneyDeposited' ? e.payload.amount : 0),
      0,
    );
    expect(balance).toBe(78);
    expect(new Set(results.map((r) => r.version)).size).toBe(12);
    expect(results.some((r) => r.retries > 0)).toBe(true);
  });

  it('gives up when its signal aborts', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const controller = new AbortController();
    controller.abort();
    await expect(
      handleCommand(
        store,
        { ...account, stream: accountStream() },
        { type: 'Open', owner: 'ivy' },
        { signal: controller.signal },
      ),
    ).rejects.toBeInstanceOf(OperationAbortedError);
    expect(store.countRows().events).toBe(0);
  });

  it('rejects an invalid handler, stream or maxRetries with InvalidArgumentError', async () => {
    const store = createInMemoryEventStore<BankEvent>();
    const stream = accountStream();
    for (const [handler, options] of [
      [{ ...account, stream, decide: undefined }, {}],
      [{ ...account, stream: { ...stream, aggregateId: '' } }, {}],
      [{ ...account, stream }, { maxRetries: -1 }],
      [{ ...account, stream }, { maxRetries: 1.5 }],
      [null, {}],
    ] as const) {
      await expect(
        handleCommand(store, handler as never, { type: 'Close' }, options),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(ExpectedVersion.noStream().kind).toBe('noStream');
  });
});

describe('deciderSpec', () => {
  const spec = deciderSpec(account);
  const opened = { eventType: 'AccountOpened', payload: { owner: 'jo' } } as const;

  it('given events, when a command, then the decided events', () => {
    spec
      .given([opened, { eventType: 'MoneyDeposited', payload: { amount: 100 } }])
      .when({ type: 'Withdraw', amount: 30 })
      .thenEvents([{ eventType: 'MoneyWithdrawn', payload: { amount: 30 } }]);
    spec.given([opened]).when({ type: 'Open', owner: 'jo' }).thenEvents([]);
    const state = spec
      .given([opened, { eventType: 'MoneyDeposited', payload: { amount: 10 } }])
      .when({ type: 'Close' })
      .thenState({ open: true, closed: true, balance: 0 });
    expect(state.closed).toBe(true);
  });

  it('then a refusal: by class, by predicate, or any', () => {
    const error = spec
      .given([opened])
      .when({ type: 'Withdraw', amount: 1 })
      .thenThrows(InsufficientFunds);
    expect(error.requested).toBe(1);
    spec.given([]).when({ type: 'Deposit', amount: 1 }).thenThrows(AccountNotOpen);
    spec
      .given([])
      .when({ type: 'Deposit', amount: 1 })
      .thenThrows((e) => e instanceof Error && e.message.includes('not open'));
    spec.given([]).when({ type: 'Close' }).thenThrows();
  });

  it('fails with an AssertionError when the decision differs', () => {
    const when = spec.given([opened]).when({ type: 'Deposit', amount: 5 });
    expect(() =>
      when.thenEvents([{ eventType: 'MoneyDeposited', payload: { amount: 6 } }]),
    ).toThrow(AssertionError);
    expect(() => when.thenThrows()).toThrow(AssertionError);
    expect(() => when.thenState({ open: true, closed: false, balance: 0 })).toThrow(AssertionError);
    const refused = spec.given([]).when({ type: 'Deposit', amount: 5 });
    expect(() => refused.thenEvents([])).toThrow(/decide threw AccountNotOpen/);
    expect(() => refused.thenThrows(InsufficientFunds)).toThrow(AssertionError);
    expect(() => refused.thenThrows(() => false)).toThrow(AssertionError);
    expect(when.outcome).toMatchObject({ ok: true, state: { balance: 5 } });
    expect(refused.outcome.ok).toBe(false);
  });
});
