import { randomUUID } from 'node:crypto';
import { ExpectedVersion, type PersistedEvent } from '@pup/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MysqlEventStore } from '../src/index.js';
import { adminQuery, createTestStore, sleep, type TestStore } from './support.js';

const event = (aggregateId: string, n: number) => ({
  boundedContext: 'ordering',
  aggregateType: 'Thing',
  aggregateId,
  eventType: 'Happened',
  payload: { n },
});

/**
 * Reads like a projection: pages after its own checkpoint, every few milliseconds, and records
 * every event it is handed.
 */
function tailingReader(store: MysqlEventStore, pageSize = 50) {
  const seen: PersistedEvent[] = [];
  let after: string | null = null;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const page: PersistedEvent[] = await store.transaction((tx) =>
        store.readEvents(tx, { after, limit: pageSize }),
      );
      seen.push(...page);
      if (page.length > 0) after = page[page.length - 1]!.checkpoint;
      if (page.length < pageSize) await sleep(3);
    }
  })();
  return {
    seen,
    async finish(expectedIds: readonly string[]) {
      const deadline = Date.now() + 10_000;
      const ids = () => new Set(seen.map((e) => e.eventId));
      while (Date.now() < deadline && !expectedIds.every((id) => ids().has(id))) await sleep(20);
      await sleep(50);
      stop = true;
      await done;
    },
  };
}

class Rollback extends Error {}

describe('ordering under concurrent, slow, held-open and rolled-back writers', () => {
  let subject: TestStore;
  beforeAll(async () => {
    subject = await createTestStore();
  });
  afterAll(() => subject.cleanup());

  it('a tailing reader skips 0 and doubles 0 committed events, and never sees rolled-back ones', async () => {
    const { store } = subject;
    const committed: string[] = [];
    const rolledBack: string[] = [];
    const reader = tailingReader(store);
    const until = Date.now() + 3_000;
    const shared = `shared-${randomUUID()}`;
    const fast = async (w: number) => {
      for (let i = 0; Date.now() < until; i++) {
        const id = i % 3 === 0 ? shared : `fast-${w}-${randomUUID()}`;
        const result = await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.any(), [event(id, i), event(id, i + 1)]),
        );
        committed.push(...result.events.map((e) => e.eventId));
      }
    };
    // Holds its transaction open 100–400 ms after appending, as an application may.
    const slow = async () => {
      while (Date.now() < until) {
        const result = await store.transaction(async (tx) => {
          const appended = await store.append(tx, ExpectedVersion.any(), [
            event(`slow-${randomUUID()}`, 0),
          ]);
          await sleep(100 + Math.random() * 300);
          return appended;
        });
        committed.push(...result.events.map((e) => e.eventId));
      }
    };
    const rollingBack = async () => {
      while (Date.now() < until) {
        await store
          .transaction(async (tx) => {
            for (const id of [`doomed-${randomUUID()}`, shared]) {
              const appended = await store.append(tx, ExpectedVersion.any(), [event(id, 0)]);
              rolledBack.push(...appended.events.map((e) => e.eventId));
            }
            await sleep(20 + Math.random() * 60);
            throw new Rollback();
          })
          .catch((error: unknown) => {
            if (!(error instanceof Rollback)) throw error;
          });
      }
    };
    await Promise.all([fast(0), fast(1), fast(2), fast(3), slow(), rollingBack()]);
    await reader.finish(committed);

    const seenIds = reader.seen.map((e) => e.eventId);
    const counts = new Map<string, number>();
    for (const id of seenIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    const skipped = committed.filter((id) => !counts.has(id)).length;
    const doubled = [...counts.values()].filter((c) => c > 1).length;
    const rolledBackSeen = rolledBack.filter((id) => counts.has(id)).length;
    console.log(
      `ordering: ${committed.length} committed, ${rolledBack.length} rolled back, skipped ${skipped}, doubled ${doubled}, rolled-back seen ${rolledBackSeen}`,
    );
    expect({ skipped, doubled, rolledBackSeen }).toEqual({
      skipped: 0,
      doubled: 0,
      rolledBackSeen: 0,
    });
    expect(seenIds.length).toBe(committed.length);
    const positions = reader.seen.map((e) => e.globalPosition);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // The log reads back in the order the reader saw it.
    const replay = await store.transaction((tx) =>
      store.readEvents(tx, { after: null, limit: 100_000 }),
    );
    expect(replay.map((e) => e.eventId)).toEqual(seenIds);
  }, 30_000);

  it('a writer holding its transaction open stops no other writer, only the readers behind it', async () => {
    const { store } = subject;
    const throughput = async (ms: number) => {
      const until = Date.now() + ms;
      let appends = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (Date.now() < until) {
            await store.transaction((tx) =>
              store.append(tx, ExpectedVersion.any(), [event(`w-${randomUUID()}`, 0)]),
            );
            appends++;
          }
        }),
      );
      return appends / (ms / 1000);
    };
    const without = await throughput(1_000);

    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let opened!: () => void;
    const isOpen = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const holder = store.transaction(async (tx) => {
      const result = await store.append(tx, ExpectedVersion.any(), [
        event(`holder-${randomUUID()}`, 0),
      ]);
      opened();
      await released;
      return result;
    });
    await isOpen;
    const before = await store.transaction((tx) => store.getLogStatus(tx));
    const withHolder = await throughput(1_000);
    const during = await store.transaction((tx) => store.getLogStatus(tx));
    expect(during.heldBackAt).not.toBeNull();
    expect(during.eventsHeldBack).toBeGreaterThan(0);
    // Nothing the writers committed after the holder took its block is readable while it is open.
    const readable = await store.transaction((tx) =>
      store.readEvents(tx, { after: before.headCheckpoint, limit: 10 }),
    );
    expect(readable).toEqual([]);
    release();
    const held = await holder;
    const after = await store.transaction((tx) => store.getLogStatus(tx));
    expect(after.heldBackAt).toBeNull();
    const log = await store.transaction((tx) =>
      store.readEvents(tx, { after: before.headCheckpoint, limit: 100_000 }),
    );
    expect(log.map((e) => e.eventId)).toContain(held.events[0]!.eventId);
    console.log(
      `held-open writer: 4 writers ${without.toFixed(0)} appends/s without it, ${withHolder.toFixed(0)} with it (${((withHolder / without) * 100).toFixed(0)} %)`,
    );
    expect(withHolder).toBeGreaterThan(without * 0.5);
  }, 30_000);

  it('a block left by a rolled-back caller transaction is taken by the next append', async () => {
    const { store, sql } = subject;
    const { pool } = await import('./support.js');
    const conn = await pool().getConnection();
    let doomedPosition: number;
    try {
      await conn.query('START TRANSACTION');
      const result = await store.append(conn as never, ExpectedVersion.any(), [
        event(`caller-${randomUUID()}`, 0),
      ]);
      doomedPosition = result.events[0]!.globalPosition;
      await conn.query('ROLLBACK');
    } finally {
      conn.release();
    }
    const next = await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.any(), [event(`next-${randomUUID()}`, 0)]),
    );
    // Lowest free block first: the next append lands in the block the rollback gave back.
    expect(next.events[0]!.globalPosition).toBe(doomedPosition);
    const [row] = await adminQuery(
      `SELECT COUNT(*) AS n FROM ${sql.events} WHERE global_position = ?`,
      [doomedPosition],
    );
    expect(Number(row.n)).toBe(1);
  });
});
