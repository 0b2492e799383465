// Several better-sqlite3 connections on one file in one process: no SQLITE_BUSY reaches the
// caller while the busy timeout lasts, and waiting for another connection's write lock never
// blocks the event loop (better-sqlite3's own busy handler waits synchronously).
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  DatabaseError,
  ExpectedVersion,
  isTransientError,
  OperationAbortedError,
  PupError,
} from '@pup/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteEventStore, type SqliteEventStoreOptions } from '../src/index.js';
import { tempDir } from './harness.js';
import { countRows, eventsOf, newStream, sleep } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** `count` connections on one new file, each with a store; the schema is migrated. */
async function connections(count: number, options?: SqliteEventStoreOptions) {
  const { dir, remove } = tempDir();
  const file = join(dir, 'shared.db');
  cleanups.push(remove);
  const opened = Array.from({ length: count }, () => {
    const db = new Database(file);
    const store = createSqliteEventStore(db, options);
    cleanups.push(
      () => db.close(),
      () => store.close(),
    );
    return { db, store };
  });
  await opened[0]!.store.migrate();
  return opened;
}

/** The event loop's longest stall while `work` runs, in milliseconds. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  // A timer drift check as well: the histogram only samples at its resolution.
  let drift = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    drift = Math.max(drift, now - last - 5);
    last = now;
  }, 5);
  try {
    const result = await work();
    const stallMs = Math.max(histogram.max / 1e6, drift);
    if (process.env.PUP_PRINT_STALLS)
      console.log(`longest event-loop stall: ${stallMs.toFixed(1)} ms`);
    return { result, stallMs };
  } finally {
    clearInterval(ticker);
    histogram.disable();
  }
}

describe('sqlite: several connections on one file in one process', () => {
  it('10 concurrent transactions over two connections all commit, without stalling the event loop', async () => {
    const [a, b] = await connections(2);
    const { result: outcomes, stallMs } = await longestStall(() =>
      Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => {
          const { db, store } = i % 2 === 0 ? a! : b!;
          const stream = newStream(`concurrent-${i}`);
          return store.transaction(async (tx) => {
            expect(tx).toBe(db);
            await store.append(tx, ExpectedVersion.noStream(), eventsOf(stream, 2));
            // Holding the write lock across an await is what makes the other connection wait.
            await sleep(20);
            await store.append(tx, ExpectedVersion.exact(2), eventsOf(stream, 1));
            return i;
          });
        }),
      ),
    );
    const failures = outcomes.filter((o) => o.status === 'rejected');
    expect(failures.map((f) => (f as PromiseRejectedResult).reason)).toEqual([]);
    expect(countRows(a!.db, 'events')).toBe(30);
    // Positions follow commit order: each transaction's three events are adjacent.
    const positions = a!.db
      .prepare('SELECT aggregate_id FROM events ORDER BY global_position')
      .pluck()
      .all() as string[];
    for (let i = 0; i < positions.length; i += 3) {
      expect(new Set(positions.slice(i, i + 3)).size).toBe(1);
    }
    expect(stallMs).toBeLessThan(200);
  });

  it('appendToStream, outside appends and migrate on four connections, interleaved with transactions', async () => {
    const opened = await connections(4);
    const stream = newStream('shared');
    const { stallMs } = await longestStall(async () => {
      const work: Promise<unknown>[] = [];
      for (let round = 0; round < 5; round++) {
        for (const [i, { db, store }] of opened.entries()) {
          work.push(
            store.appendToStream(ExpectedVersion.any(), eventsOf(stream, 1)),
            store.append(db, ExpectedVersion.any(), eventsOf(newStream(`outside-${i}`), 1)),
            store.transaction(async (tx) => {
              await store.append(tx, ExpectedVersion.any(), eventsOf(stream, 1));
              await sleep(5);
            }),
          );
        }
        work.push(opened[round % 4]!.store.migrate());
      }
      await Promise.all(work);
    });
    const first = opened[0]!;
    const read = await first.store.transaction((tx) => first.store.readAggregateStream(tx, stream));
    expect(read.version).toBe(40);
    expect(read.events.map((e) => e.aggregateVersion)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    expect(countRows(first.db, 'events')).toBe(60);
    expect(stallMs).toBeLessThan(200);
  });

  it('a write lock held past busyTimeoutMs: a transient DatabaseError after that time, the loop never blocked', async () => {
    const [a, b] = await connections(2, { busyTimeoutMs: 300 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = b!.store.transaction(async (tx) => {
      await b!.store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream('holder')));
      locked();
      await released;
    });
    await isLocked;
    const started = performance.now();
    const { result: error, stallMs } = await longestStall(() =>
      a!.store
        .transaction((tx) => a!.store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())))
        .catch((e: unknown) => e),
    );
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe('DATABASE_ERROR');
    expect(isTransientError(error)).toBe(true);
    expect((error as DatabaseError).cause).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(waited).toBeGreaterThanOrEqual(280);
    expect(waited).toBeLessThan(1_500);
    expect(stallMs).toBeLessThan(100);
    expect(a!.db.inTransaction).toBe(false);
    release();
    await holder;
    // The connection goes on once the lock is free.
    const result = await a!.store.appendToStream(ExpectedVersion.noStream(), eventsOf(newStream()));
    expect(result.toVersion).toBe(1);
  });

  it('a transaction given up while it waits for the write lock never begins', async () => {
    const [a, b] = await connections(2);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = b!.store.transaction(async () => {
      locked();
      await released;
    });
    await isLocked;
    let ran = false;
    const started = performance.now();
    const error = await a!.store
      .transaction(
        async () => {
          ran = true;
        },
        { timeoutMs: 100 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationAbortedError);
    expect((error as OperationAbortedError).timedOut).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    // An appendToStream waiting for the lock gives up with its signal too.
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const aborted = await a!.store
      .appendToStream(ExpectedVersion.noStream(), eventsOf(newStream()), { signal: abort.signal })
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(OperationAbortedError);
    // And at its timeout.
    const timedOut = await a!.store
      .appendToStream(ExpectedVersion.noStream(), eventsOf(newStream()), { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(OperationAbortedError);
    expect((timedOut as OperationAbortedError).timedOut).toBe(true);
    release();
    await holder;
    await sleep(50);
    expect(ran).toBe(false);
    expect(a!.db.inTransaction).toBe(false);
    expect(countRows(a!.db, 'events')).toBe(0);
  });

  it('busyTimeoutMs: 0 fails at once with a transient DatabaseError, never a raw SQLITE_BUSY', async () => {
    const [a, b] = await connections(2, { busyTimeoutMs: 0 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = b!.store.transaction(async () => {
      locked();
      await released;
    });
    await isLocked;
    const calls = [
      () => a!.store.transaction(async () => 'never'),
      () => a!.store.appendToStream(ExpectedVersion.any(), eventsOf(newStream())),
      () => a!.store.append(a!.db, ExpectedVersion.any(), eventsOf(newStream())),
      () => a!.store.migrate(),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PupError);
      expect(error).toBeInstanceOf(DatabaseError);
      expect(isTransientError(error)).toBe(true);
    }
    release();
    await holder;
  });
});
