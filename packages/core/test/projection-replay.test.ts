// replayDeadLetters and readEventAtPosition on the in-memory store: what the conformance group
// does not reach (input checks, aborts, decoding failures, missing events, logging, store
// failures, a letter taken by another replay between the two transactions of a failure).
import { describe, expect, it } from 'vitest';
import {
  ConnectionLostError,
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  type InMemoryEventStore,
  type InMemoryTransaction,
  InvalidArgumentError,
  InvalidConfigError,
  type Logger,
  OperationAbortedError,
  type PersistedEvent,
  type Projection,
  replayDeadLetters,
} from '../src/index.js';

const stream = (id: string) => ({ boundedContext: 'ctx', aggregateType: 'Thing', aggregateId: id });

/** Appends `count` events to one stream and records each as a dead letter of `name`. */
async function seedLetters(
  store: InMemoryEventStore,
  name: string,
  count: number,
): Promise<PersistedEvent[]> {
  const { events } = await store.appendToStream(
    ExpectedVersion.any(),
    Array.from({ length: count }, (_, i) => ({
      ...stream('a'),
      eventType: 'Happened',
      eventVersion: 1,
      payload: { i },
    })),
  );
  await store.transaction(async (tx) => {
    for (const event of events) {
      await store.saveDeadLetter(tx, {
        projectionName: name,
        globalPosition: event.globalPosition,
        checkpoint: event.checkpoint,
        error: 'original failure',
        failedAt: 1,
      });
    }
  });
  return events;
}

function letters(store: InMemoryEventStore, name: string) {
  return store.transaction((tx) => store.listDeadLetters(tx, name));
}

/** A projection recording the events it applied (in the transaction: a checkpoint per event). */
function applying(
  store: InMemoryEventStore,
  name: string,
  before?: (event: PersistedEvent, signal: AbortSignal) => void | Promise<void>,
): Projection<InMemoryTransaction> & { handled: number[] } {
  const handled: number[] = [];
  return {
    name,
    handled,
    async handle(event, { tx, signal }) {
      handled.push(event.globalPosition);
      await store.saveCheckpoint(tx, `rm:${event.eventId}`, event.checkpoint);
      await before?.(event, signal);
    },
  };
}

async function applied(store: InMemoryEventStore, events: PersistedEvent[]): Promise<number[]> {
  const saved = await store.transaction((tx) => store.listCheckpoints(tx));
  const names = new Set(saved.map((c) => c.projectionName));
  return events.filter((e) => names.has(`rm:${e.eventId}`)).map((e) => e.globalPosition);
}

function recordingLogger(): Logger & { lines: [string, string, Record<string, unknown>?][] } {
  const lines: [string, string, Record<string, unknown>?][] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push([level, message, fields]);
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('readEventAtPosition', () => {
  it('reads an event by position, decoded with the upcasters; null past the end', async () => {
    const store = createInMemoryEventStore({
      events: { upcasters: { Happened: { 1: (old: { i: number }) => ({ n: old.i + 1 }) } } },
    });
    await store.appendToStream(ExpectedVersion.any(), [
      { ...stream('a'), eventType: 'Happened', eventVersion: 1, payload: { i: 1 } },
    ]);
    const [event] = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
    const read = await store.transaction((tx) => store.readEventAtPosition(tx, 1));
    expect(read).toEqual(event);
    expect(read!.payload).toEqual({ n: 2 });
    expect(read!.eventVersion).toBe(2);
    expect(await store.transaction((tx) => store.readEventAtPosition(tx, 2))).toBeNull();
  });

  it('rejects a position that is not a positive integer, and a closed store', async () => {
    const store = createInMemoryEventStore();
    for (const bad of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, '1']) {
      await expect(
        store.transaction((tx) => store.readEventAtPosition(tx, bad as number)),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'globalPosition' });
      await expect(
        store.transaction((tx) => store.deleteDeadLetter(tx, 'p', bad as number)),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'globalPosition' });
    }
    await expect(store.readEventAtPosition({} as InMemoryTransaction, 1)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await store.close();
    await expect(store.readEventAtPosition({} as InMemoryTransaction, 1)).rejects.toMatchObject({
      code: 'STORE_CLOSED',
    });
  });
});

describe('deleteDeadLetter', () => {
  it('deletes one letter, says whether there was one, and rolls back with its transaction', async () => {
    const store = createInMemoryEventStore();
    const [event] = await seedLetters(store, 'p', 2);
    await expect(
      store.transaction(async (tx) => {
        expect(await store.deleteDeadLetter(tx, 'p', event!.globalPosition)).toBe(true);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await letters(store, 'p')).length).toBe(2);
    expect(
      await store.transaction((tx) => store.deleteDeadLetter(tx, 'p', event!.globalPosition)),
    ).toBe(true);
    expect(
      await store.transaction((tx) => store.deleteDeadLetter(tx, 'p', event!.globalPosition)),
    ).toBe(false);
    expect(await store.transaction((tx) => store.deleteDeadLetter(tx, 'other', 2))).toBe(false);
    expect((await letters(store, 'p')).map((l) => l.globalPosition)).toEqual([2]);
  });
});

describe('replayDeadLetters', () => {
  it('replays every letter in order, or only the positions asked for', async () => {
    const store = createInMemoryEventStore();
    const events = await seedLetters(store, 'p', 4);
    await seedLetters(store, 'other', 1);
    const projection = applying(store, 'p');
    const some = await replayDeadLetters(store, projection, { globalPositions: [3, 1, 3, 42] });
    expect(some).toEqual({ replayed: [1, 3], failed: [], skipped: [42] });
    const rest = await replayDeadLetters(store, projection);
    expect(rest).toEqual({ replayed: [2, 4], failed: [], skipped: [] });
    expect(projection.handled).toEqual([1, 3, 2, 4]);
    expect(await applied(store, events)).toEqual([1, 2, 3, 4]);
    expect(await letters(store, 'p')).toEqual([]);
    expect((await letters(store, 'other')).length).toBe(1);
  });

  it('keeps a letter that fails again, with the new error, and goes on', async () => {
    const store = createInMemoryEventStore();
    const events = await seedLetters(store, 'p', 3);
    const logger = recordingLogger();
    const projection = applying(store, 'p', (event) => {
      if (event.globalPosition === 2) throw new Error(`broken\u0000${'x'.repeat(5000)}`);
    });
    const before = Date.now();
    const result = await replayDeadLetters(store, projection, { logger });
    expect(result.replayed).toEqual([1, 3]);
    expect(result.skipped).toEqual([]);
    expect(result.failed.length).toBe(1);
    const { globalPosition, error } = result.failed[0]!;
    expect(globalPosition).toBe(2);
    // The processor's rules for the text: at most 4000 characters, no NUL.
    expect(error.length).toBe(4000);
    expect(error.startsWith('broken\ufffdx')).toBe(true);
    const [letter, ...others] = await letters(store, 'p');
    expect(others).toEqual([]);
    expect(letter).toMatchObject({ globalPosition: 2, checkpoint: events[1]!.checkpoint, error });
    expect(letter!.failedAt).toBeGreaterThanOrEqual(before);
    expect(await applied(store, events)).toEqual([1, 3]);
    expect(logger.lines.map(([level, message]) => `${level} ${message}`)).toEqual([
      'info dead letter replayed',
      'warn dead letter replay failed; the letter stays',
      'info dead letter replayed',
      'info dead letters replayed',
    ]);
    expect(logger.lines[1]![2]).toMatchObject({ projection: 'p', globalPosition: 2 });
    expect(logger.lines[3]![2]).toEqual({ projection: 'p', replayed: 2, failed: 1, skipped: 0 });
  });

  it('keeps a letter whose event no longer exists, and says so', async () => {
    const store = createInMemoryEventStore();
    await seedLetters(store, 'p', 1);
    await store.transaction((tx) =>
      store.saveDeadLetter(tx, {
        projectionName: 'p',
        globalPosition: 99,
        checkpoint: '0000000000000099',
        error: 'original failure',
        failedAt: 1,
      }),
    );
    const projection = applying(store, 'p');
    const result = await replayDeadLetters(store, projection);
    expect(result.replayed).toEqual([1]);
    expect(result.failed).toEqual([
      { globalPosition: 99, error: 'the event at global position 99 no longer exists' },
    ]);
    expect(await letters(store, 'p')).toMatchObject([
      { globalPosition: 99, error: 'the event at global position 99 no longer exists' },
    ]);
    expect(projection.handled).toEqual([1]);
  });

  it('an event that cannot be decoded fails its letter, not the replay; fixed, it replays', async () => {
    let broken = true;
    const store = createInMemoryEventStore({
      events: {
        upcasters: {
          Happened: {
            1: (old: { i: number }) => {
              if (broken && old.i === 1) throw new Error('bad upcaster');
              return old;
            },
          },
        },
      },
    });
    const events = await seedLetters(store, 'p', 2);
    const projection = applying(store, 'p');
    const failed = await replayDeadLetters(store, projection);
    expect(failed.replayed).toEqual([1]);
    expect(failed.failed).toEqual([
      { globalPosition: 2, error: expect.stringContaining('bad upcaster') },
    ]);
    // The same through a store that offers only the public readEventAtPosition.
    const plain = { ...store } as EventStore<InMemoryTransaction>;
    const again = await replayDeadLetters(plain, projection);
    expect(again.failed).toEqual([
      { globalPosition: 2, error: expect.stringContaining('bad upcaster') },
    ]);
    broken = false;
    expect(await replayDeadLetters(plain, projection)).toEqual({
      replayed: [2],
      failed: [],
      skipped: [],
    });
    expect(await applied(store, events)).toEqual([1, 2]);
  });

  it('a store failure under the handler rejects the replay; the letter stays', async () => {
    const store = createInMemoryEventStore();
    const events = await seedLetters(store, 'p', 2);
    const lost = new ConnectionLostError('in-memory', 'gone');
    const projection = applying(store, 'p', (event) => {
      if (event.globalPosition === 2) throw lost;
    });
    await expect(replayDeadLetters(store, projection)).rejects.toBe(lost);
    expect(await applied(store, events)).toEqual([1]);
    expect(await letters(store, 'p')).toMatchObject([
      { globalPosition: 2, error: 'original failure' },
    ]);
  });

  it('does not bring back a letter another replay took while a failure was recorded', async () => {
    const store = createInMemoryEventStore();
    await seedLetters(store, 'p', 1);
    let deletes = 0;
    const racing: EventStore<InMemoryTransaction> = {
      ...store,
      async deleteDeadLetter(tx, name, globalPosition) {
        deletes++;
        const deleted = await store.deleteDeadLetter(tx, name, globalPosition);
        // The second delete (recording the failure) finds the letter gone, as when another
        // replay applied it in between.
        return deletes === 2 ? false : deleted;
      },
    };
    const projection = applying(store, 'p', () => {
      throw new Error('still broken');
    });
    const result = await replayDeadLetters(racing, projection);
    expect(result.failed).toEqual([{ globalPosition: 1, error: 'still broken' }]);
    expect(deletes).toBe(2);
    expect(await letters(store, 'p')).toEqual([]);
  });

  it('stops on its signal: before, between and during letters', async () => {
    const store = createInMemoryEventStore();
    const events = await seedLetters(store, 'p', 3);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      replayDeadLetters(store, applying(store, 'p'), { signal: aborted.signal }),
    ).rejects.toBeInstanceOf(OperationAbortedError);

    // Aborted after the first letter's handler: it commits, no other letter starts.
    const between = new AbortController();
    const first = applying(store, 'p', () => between.abort());
    await expect(replayDeadLetters(store, first, { signal: between.signal })).rejects.toMatchObject(
      { code: 'ABORTED' },
    );
    expect(first.handled).toEqual([1]);

    // Aborted while a handler runs: its transaction rolls back, the letter stays.
    const during = new AbortController();
    const slow = applying(store, 'p', async (_event, signal) => {
      expect(signal).toBe(during.signal);
      during.abort();
      throw new Error('stopped');
    });
    await expect(replayDeadLetters(store, slow, { signal: during.signal })).rejects.toBeInstanceOf(
      OperationAbortedError,
    );
    expect((await letters(store, 'p')).map((l) => [l.globalPosition, l.error])).toEqual([
      [2, 'original failure'],
      [3, 'original failure'],
    ]);
    expect(await applied(store, events)).toEqual([1]);
  });

  it('the replay shown in docs/projections-and-scaling.md', async () => {
    const store = createInMemoryEventStore();
    const [event] = await seedLetters(store, 'order-totals', 1);
    const orderTotals = applying(store, 'order-totals');
    const logger = recordingLogger();
    // #region replay-dead-letters
    // Once the fixed handler is deployed: replay what the old one set aside.
    const { replayed, failed, skipped } = await replayDeadLetters(store, orderTotals, {
      logger, // logs each letter: replayed (info) or failed again (warn)
    });
    // replayed: global positions applied (their dead letters are deleted)
    // failed:   [{ globalPosition, error }] still failing; kept with the new error
    // skipped:  letters another replay took meanwhile
    // Only some letters: replayDeadLetters(store, orderTotals, { globalPositions: [1042] })
    // #endregion
    expect({ replayed, failed, skipped }).toEqual({
      replayed: [event!.globalPosition],
      failed: [],
      skipped: [],
    });
    expect(logger.lines[0]).toEqual([
      'info',
      'dead letter replayed',
      { projection: 'order-totals', globalPosition: 1, checkpoint: event!.checkpoint },
    ]);
  });

  it('checks the store, the projection and the options', async () => {
    const store = createInMemoryEventStore();
    const projection = applying(store, 'p');
    for (const method of [
      'listDeadLetters',
      'deleteDeadLetter',
      'saveDeadLetter',
      'readEventAtPosition',
    ] as const) {
      const { [method]: _removed, ...without } = store;
      await expect(
        replayDeadLetters(without as EventStore<InMemoryTransaction>, projection),
      ).rejects.toMatchObject({ code: 'INVALID_CONFIG', option: 'store' });
    }
    await expect(replayDeadLetters(store, { name: '', handle() {} })).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    await expect(
      replayDeadLetters(store, { name: 'p' } as unknown as Projection<InMemoryTransaction>),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    const badOptions: [unknown, string][] = [
      ['yes', 'options'],
      [{ signal: {} }, 'options.signal'],
      [{ logger: { info() {} } }, 'options.logger'],
      [{ globalPositions: [0] }, 'options.globalPositions'],
      [{ globalPositions: [1.5] }, 'options.globalPositions'],
      [{ globalPositions: '1' }, 'options.globalPositions'],
    ];
    for (const [options, argument] of badOptions) {
      await expect(replayDeadLetters(store, projection, options as never)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        argument,
      });
    }
    expect(await replayDeadLetters(store, projection, { globalPositions: [] })).toEqual({
      replayed: [],
      failed: [],
      skipped: [],
    });
  });
});
