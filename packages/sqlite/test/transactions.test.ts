import { ExpectedVersion, OperationAbortedError } from '@pup/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteEventStore, type SqliteEventStore } from '../src/index.js';
import { openDatabase } from './harness.js';
import { countRows, eventsOf, newStream, sleep } from './support.js';

let db: Database.Database;
let dispose: () => void;
let store: SqliteEventStore<Database.Database>;

beforeEach(async () => {
  ({ db, dispose } = openDatabase('memory'));
  store = createSqliteEventStore(db);
  await store.migrate();
});

afterEach(async () => {
  await store.close();
  dispose();
});

describe('transaction queue', () => {
  it('runs concurrent transactions one at a time, in call order, none rejected', async () => {
    const trace: string[] = [];
    const runs = Array.from({ length: 8 }, (_, i) =>
      store.transaction(async (tx) => {
        trace.push(`start ${i}`);
        expect(tx.inTransaction).toBe(true);
        await sleep(i % 2 === 0 ? 5 : 1);
        await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream(`q${i}`)));
        await sleep(1);
        trace.push(`end ${i}`);
        return i;
      }),
    );
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(trace).toEqual(Array.from({ length: 8 }, (_, i) => [`start ${i}`, `end ${i}`]).flat());
    expect(countRows(db, 'events')).toBe(8);
    expect(db.inTransaction).toBe(false);
  });

  it('keeps the queue moving after a transaction rolls back', async () => {
    const stream = newStream();
    const failing = store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(stream));
      await sleep(2);
      throw new Error('boom');
    });
    const next = store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), eventsOf(stream)),
    );
    await expect(failing).rejects.toThrow('boom');
    const result = await next;
    expect(result.globalPositions).toEqual([1]);
    expect(result.fromVersion).toBe(0);
  });

  it('makes reads outside a transaction wait for the running one instead of seeing its writes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writer = store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
      await gate;
      throw new Error('rolled back');
    });
    await sleep(1);
    const reading = store.readEvents(db, { limit: 10 });
    const status = store.getLogStatus(db);
    release();
    await expect(writer).rejects.toThrow('rolled back');
    expect(await reading).toEqual([]);
    expect((await status).headPosition).toBeNull();
  });

  it('queues a direct append behind a running transaction', async () => {
    const order: string[] = [];
    const first = store.transaction(async (tx) => {
      await sleep(5);
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream('first')));
      order.push('transaction');
    });
    const direct = store
      .append(db, ExpectedVersion.noStream(), eventsOf(newStream('direct')))
      .then((result) => {
        order.push('direct');
        return result;
      });
    await Promise.all([first, direct]);
    expect(order).toEqual(['transaction', 'direct']);
    expect((await direct).globalPositions).toEqual([2]);
  });
});

describe('nested transactions', () => {
  it('runs a nested transaction as a savepoint of the outer one, without deadlock', async () => {
    const outer = newStream('outer');
    const inner = newStream('inner');
    await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(outer));
      const nested = await store.transaction(async (tx2) => {
        expect(tx2).toBe(tx);
        await store.append(tx2, ExpectedVersion.noStream(), eventsOf(inner));
        return 'nested';
      });
      expect(nested).toBe('nested');
    });
    expect(countRows(db, 'events')).toBe(2);
  });

  it('rolls back only the nested work when the nested transaction throws', async () => {
    const kept = newStream('kept');
    const undone = newStream('undone');
    await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(kept));
      await expect(
        store.transaction(async (tx2) => {
          await store.append(tx2, ExpectedVersion.noStream(), eventsOf(undone, 2));
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
    });
    expect(countRows(db, 'events')).toBe(1);
    expect(countRows(db, 'aggregate_heads')).toBe(1);
    expect((await store.readAggregateStream(db, undone)).isEmpty).toBe(true);
  });

  it('rolls back the nested work too when the outer transaction throws', async () => {
    await expect(
      store.transaction(async () => {
        await store.transaction((tx2) =>
          store.append(tx2, ExpectedVersion.noStream(), eventsOf(newStream())),
        );
        throw new Error('outer');
      }),
    ).rejects.toThrow('outer');
    expect(countRows(db, 'events')).toBe(0);
    expect(db.inTransaction).toBe(false);
  });

  it('queues concurrent nested transactions of one level', async () => {
    const trace: string[] = [];
    await store.transaction(async () => {
      await Promise.all(
        [0, 1, 2].map((i) =>
          store.transaction(async (tx) => {
            trace.push(`start ${i}`);
            await sleep(2);
            await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
            trace.push(`end ${i}`);
          }),
        ),
      );
    });
    expect(trace).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(countRows(db, 'events')).toBe(3);
  });
});

/** Fails instead of hanging when `work` deadlocks. */
async function withinSeconds<T>(seconds: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('transactions given up by the caller (signal, timeoutMs)', () => {
  /** A promise and the function that resolves it. */
  function gate(): { opened: Promise<void>; open: () => void } {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { opened, open };
  }

  it('rejects at the timeout, rolls the work back once the callback ends, whatever it returns', async () => {
    const stuck = gate();
    let callbackEnded = false;
    const started = Date.now();
    const error = await store
      .transaction(
        async (tx) => {
          await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
          await stuck.opened;
          callbackEnded = true;
          return 'resolved anyway';
        },
        { timeoutMs: 30 },
      )
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(OperationAbortedError);
    expect(error).toMatchObject({ code: 'ABORTED', timedOut: true, commitUnknown: false });
    // The callback still owns the connection: its own SQL cannot land in another transaction.
    expect(db.inTransaction).toBe(true);
    const next = store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())),
    );
    await sleep(10);
    expect(countRows(db, 'events')).toBe(1);
    stuck.open();
    const result = await next;
    expect(callbackEnded).toBe(true);
    // Only the later transaction committed; the given-up one was rolled back.
    expect(countRows(db, 'events')).toBe(1);
    expect(result.globalPositions).toEqual([1]);
    expect(db.inTransaction).toBe(false);
  });

  it('never runs a queued transaction whose signal aborted before its turn', async () => {
    const holding = gate();
    const first = store.transaction(() => holding.opened);
    const controller = new AbortController();
    let ran = false;
    const queued = store
      .transaction(
        async (tx) => {
          ran = true;
          await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
        },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    await sleep(1);
    controller.abort(new Error('shutting down'));
    expect(await queued).toMatchObject({ code: 'ABORTED', timedOut: false });
    holding.open();
    await first;
    await store.transaction(async () => undefined);
    expect(ran).toBe(false);
    expect(countRows(db, 'events')).toBe(0);
  });
});

describe('two stores on one Database', () => {
  const otherTables = {
    events: 'other_events',
    aggregateHeads: 'other_heads',
    checkpoints: 'other_checkpoints',
  };

  /** A file database (so a second connection can look from outside) with two stores on it. */
  async function twoStores() {
    const file = openDatabase('file');
    const other = createSqliteEventStore(file.db, { tables: otherTables });
    const outside = new Database(file.file!, { readonly: true });
    const first = createSqliteEventStore(file.db);
    await first.migrate();
    await other.migrate();
    return {
      db: file.db,
      first,
      other,
      /** Events committed to both stores' tables, seen by another connection. */
      committed: () => [countRows(outside, 'events'), countRows(outside, 'other_events')],
      dispose: async () => {
        await first.close();
        await other.close();
        outside.close();
        file.dispose();
      },
    };
  }

  it('runs the inner store’s transaction as a savepoint that commits with the outer one', async () => {
    const { db, first, other, committed, dispose } = await twoStores();
    try {
      const outer = newStream('outer');
      const inner = newStream('inner');
      await withinSeconds(
        5,
        first.transaction(async (tx) => {
          await first.append(tx, ExpectedVersion.noStream(), eventsOf(outer));
          const result = await other.transaction(async (tx2) => {
            expect(tx2).toBe(tx);
            return other.append(tx2, ExpectedVersion.noStream(), eventsOf(inner, 2));
          });
          expect(result.toVersion).toBe(2);
          // Inside the outer transaction: both stores see their writes, nothing is committed.
          expect((await other.readAggregateStream(tx, inner)).version).toBe(2);
          expect(db.inTransaction).toBe(true);
          expect(committed()).toEqual([0, 0]);
        }),
      );
      expect(committed()).toEqual([1, 2]);
      expect(db.inTransaction).toBe(false);
    } finally {
      await dispose();
    }
  });

  it('undoes the inner store’s work with the outer transaction, and only it when the inner throws', async () => {
    const { db, first, other, committed, dispose } = await twoStores();
    try {
      await expect(
        withinSeconds(
          5,
          first.transaction(async (tx) => {
            await first.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
            await other.transaction((tx2) =>
              other.append(tx2, ExpectedVersion.noStream(), eventsOf(newStream())),
            );
            throw new Error('outer');
          }),
        ),
      ).rejects.toThrow('outer');
      expect(committed()).toEqual([0, 0]);

      await withinSeconds(
        5,
        first.transaction(async (tx) => {
          await first.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
          await expect(
            other.transaction(async (tx2) => {
              await other.append(tx2, ExpectedVersion.noStream(), eventsOf(newStream()));
              throw new Error('inner');
            }),
          ).rejects.toThrow('inner');
        }),
      );
      expect(committed()).toEqual([1, 0]);
      expect(db.inTransaction).toBe(false);
    } finally {
      await dispose();
    }
  });

  it('lets a call of the other store with the outer tx join the transaction instead of waiting', async () => {
    const { first, other, committed, dispose } = await twoStores();
    try {
      const stream = newStream();
      await withinSeconds(
        5,
        first.transaction(async (tx) => {
          await other.append(tx, ExpectedVersion.noStream(), eventsOf(stream));
          await other.saveCheckpoint(tx, 'p', '0000000000000001');
          expect(await other.getCheckpoint(tx, 'p')).toBe('0000000000000001');
          expect(committed()).toEqual([0, 0]);
        }),
      );
      expect(committed()).toEqual([0, 1]);
    } finally {
      await dispose();
    }
  });

  it('queues the transactions of both stores on the connection, one at a time', async () => {
    const { first, other, dispose } = await twoStores();
    try {
      const trace: string[] = [];
      const stores = [first, other, first, other];
      await withinSeconds(
        5,
        Promise.all(
          stores.map((store, i) =>
            store.transaction(async (tx) => {
              trace.push(`start ${i}`);
              await sleep(2);
              await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
              trace.push(`end ${i}`);
            }),
          ),
        ),
      );
      expect(trace).toEqual([0, 1, 2, 3].flatMap((i) => [`start ${i}`, `end ${i}`]));
    } finally {
      await dispose();
    }
  });
});

describe('transactions opened by the caller', () => {
  it('joins a transaction the caller opened with the driver; the caller decides', async () => {
    const stream = newStream();
    db.exec('BEGIN IMMEDIATE');
    await store.append(db, ExpectedVersion.noStream(), eventsOf(stream));
    expect(db.inTransaction).toBe(true);
    db.exec('ROLLBACK');
    expect(countRows(db, 'events')).toBe(0);

    db.exec('BEGIN IMMEDIATE');
    const result = await store.append(db, ExpectedVersion.noStream(), eventsOf(stream, 2));
    db.exec('COMMIT');
    expect(result.globalPositions).toEqual([1, 2]);
    expect(countRows(db, 'events')).toBe(2);
  });

  it('leaves the caller’s transaction intact when a joined append fails', async () => {
    const stream = newStream();
    await store.append(db, ExpectedVersion.noStream(), eventsOf(stream));
    db.exec('BEGIN IMMEDIATE');
    const other = newStream('other');
    await store.append(db, ExpectedVersion.noStream(), eventsOf(other));
    await expect(
      store.append(db, ExpectedVersion.exact(5), eventsOf(stream)),
    ).rejects.toMatchObject({ code: 'OPTIMISTIC_CONCURRENCY', actualVersion: 1 });
    expect(db.inTransaction).toBe(true);
    db.exec('COMMIT');
    expect(countRows(db, 'events')).toBe(2);
  });

  it('runs store.transaction as a savepoint inside the caller’s transaction', async () => {
    db.exec('BEGIN IMMEDIATE');
    await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())),
    );
    await expect(
      store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
        throw new Error('undo me');
      }),
    ).rejects.toThrow('undo me');
    expect(db.inTransaction).toBe(true);
    expect(countRows(db, 'events')).toBe(1);
    db.exec('ROLLBACK');
    expect(countRows(db, 'events')).toBe(0);
  });

  it('wraps an append given a db outside any transaction in its own transaction', async () => {
    const stream = newStream();
    const existing = await store.append(db, ExpectedVersion.noStream(), eventsOf(stream));
    expect(db.inTransaction).toBe(false);
    const other = newStream('other');
    await expect(
      store.append(db, ExpectedVersion.noStream(), [
        ...eventsOf(other, 2),
        ...eventsOf(other, 1, { eventId: existing.events[0]!.eventId }),
      ]),
    ).rejects.toMatchObject({ code: 'DUPLICATE_EVENT_ID' });
    expect(countRows(db, 'events')).toBe(1);
    expect(countRows(db, 'aggregate_heads')).toBe(1);
    const next = await store.append(db, ExpectedVersion.noStream(), eventsOf(other));
    expect(next.globalPositions).toEqual([2]);
  });

  it('works for every method inside the caller’s transaction, through two stores, until the caller commits', async () => {
    const other = createSqliteEventStore(db, {
      tables: { events: 'e2', aggregateHeads: 'h2', checkpoints: 'c2' },
    });
    await other.migrate();
    const stream = newStream();
    db.exec('BEGIN IMMEDIATE');
    const appended = await store.transaction(async (tx) => {
      const result = await store.append(tx, ExpectedVersion.noStream(), eventsOf(stream, 2));
      await other.transaction((tx2) =>
        other.append(tx2, ExpectedVersion.noStream(), eventsOf(stream)),
      );
      return result;
    });
    const checkpoint = appended.events[1]!.checkpoint;
    await store.saveCheckpoint(db, 'p', checkpoint);
    expect(await store.getCheckpoint(db, 'p')).toBe(checkpoint);
    expect((await store.readProjectionBatch(db, 'p', { limit: 10 })).events).toEqual([]);
    expect((await store.readEvents(db, { limit: 10 })).map((e) => e.eventId)).toEqual(
      appended.events.map((e) => e.eventId),
    );
    expect((await store.getLogStatus(db)).headPosition).toBe(2);
    expect(db.inTransaction).toBe(true);
    db.exec('COMMIT');
    expect(countRows(db, 'events')).toBe(2);
    expect(countRows(db, 'e2')).toBe(1);
    expect(countRows(db, 'projection_checkpoints')).toBe(1);
    await other.close();
  });
});
