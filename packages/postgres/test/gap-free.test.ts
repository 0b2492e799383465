import { ExpectedVersion, type NewEvent, type PersistedEvent } from '@pup/core';
import { describe, expect, it } from 'vitest';
import { readStatements } from '../src/read.js';
import { postgresTables } from '../src/schema.js';
import { bothDrivers, deferred, sleep } from './support.js';

function event(aggregateId: string, n: number): NewEvent {
  return {
    boundedContext: 'gapfree',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: { n },
  };
}

class Rollback extends Error {}

describe.each(bothDrivers())('gap-free reads ($name)', (driver) => {
  async function readAll(
    store: Awaited<ReturnType<typeof driver.createStore>>['store'],
    after: string | null = null,
  ) {
    return store.transaction((tx) => store.readEvents(tx, { after, limit: 1000 }));
  }

  it('a writer that began first and commits last is never skipped', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const appended = deferred();
      const release = deferred();
      // Writer A takes its transaction id first (its append), then waits.
      const slow = store.transaction(async (tx) => {
        const result = await store.append(tx, ExpectedVersion.noStream(), [event('slow', 1)]);
        appended.resolve();
        await release.promise;
        return result.events[0]!;
      });
      await appended.promise;
      // Writer B starts later and commits first.
      const fast = (
        await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.noStream(), [event('fast', 1)]),
        )
      ).events[0]!;

      // B is committed but not readable: A, older, still runs. The status counts it as pending.
      expect(await readAll(store)).toEqual([]);
      const status = await store.transaction((tx) => store.getLogStatus(tx));
      expect(status.eventsAfter).toBe(1);
      expect(status.headCheckpoint).toBe(fast.checkpoint);
      expect(status.oldestRunningTransaction).not.toBeNull();

      release.resolve();
      const a = await slow;
      const log = await readAll(store);
      expect(log.map((e) => e.eventId)).toEqual([a.eventId, fast.eventId]);
      expect(a.checkpoint < fast.checkpoint).toBe(true);
      expect(log.map((e) => e.checkpoint)).toEqual([a.checkpoint, fast.checkpoint]);
    } finally {
      await subject.cleanup();
    }
  });

  it('a rolled-back writer never stalls readers and never shows up', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const appended = deferred();
      const release = deferred();
      let doomedId = '';
      const doomed = store
        .transaction(async (tx) => {
          const result = await store.append(tx, ExpectedVersion.noStream(), [event('doomed', 1)]);
          doomedId = result.events[0]!.eventId;
          appended.resolve();
          await release.promise;
          throw new Rollback();
        })
        .catch((error: unknown) => error);
      await appended.promise;
      const committed = await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), [event('kept', 1)]),
      );
      expect(await readAll(store)).toEqual([]);
      release.resolve();
      expect(await doomed).toBeInstanceOf(Rollback);
      const log = await readAll(store);
      expect(log.map((e) => e.eventId)).toEqual([committed.events[0]!.eventId]);
      expect(log.some((e) => e.eventId === doomedId)).toBe(false);
    } finally {
      await subject.cleanup();
    }
  });

  it('orders by transaction id numerically, also across a decimal digit boundary', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      // Rows of two old, finished transactions (ids 9 and 10), written in the "wrong" order.
      await subject.admin(
        `INSERT INTO ${store.tables.events} (transaction_id, bounded_context, aggregate_type,
           aggregate_id, aggregate_version, event_id, event_type, payload)
         VALUES ('10', 'raw', 'Thing', 'b', 1, gen_random_uuid(), 'Happened', '\\x7b7d'),
                ('9', 'raw', 'Thing', 'a', 1, gen_random_uuid(), 'Happened', '\\x7b7d'),
                ('10', 'raw', 'Thing', 'b', 2, gen_random_uuid(), 'Happened', '\\x7b7d')`,
      );
      const log = await readAll(store);
      expect(log.map((e) => [e.aggregateId, e.aggregateVersion])).toEqual([
        ['a', 1],
        ['b', 1],
        ['b', 2],
      ]);
      const checkpoints = log.map((e) => e.checkpoint);
      expect([...checkpoints].sort()).toEqual(checkpoints);
      expect(await readAll(store, log[0]!.checkpoint)).toEqual(log.slice(1));
    } finally {
      await subject.cleanup();
    }
  });

  it('a reader resuming from any checkpoint sees each committed event exactly once', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const committed = new Set<string>();
      const rolledBack = new Set<string>();
      let writing = true;
      const writer = async (w: number) => {
        for (let i = 0; i < 25; i++) {
          const holdMs = (w * 7 + i * 13) % 4 === 0 ? 15 : 0;
          const rollback = (w + i) % 9 === 0;
          const ids: string[] = [];
          try {
            await store.transaction(async (tx) => {
              const count = 1 + ((w + i) % 3);
              const result = await store.append(
                tx,
                ExpectedVersion.any(),
                Array.from({ length: count }, (_, k) => event(`w${w}-${i % 4}`, k)),
              );
              ids.push(...result.events.map((e) => e.eventId));
              if (holdMs > 0) await sleep(holdMs);
              if (rollback) throw new Rollback();
            });
            for (const id of ids) committed.add(id);
          } catch (error) {
            if (!(error instanceof Rollback)) throw error;
            for (const id of ids) rolledBack.add(id);
          }
        }
      };
      const seen: PersistedEvent[] = [];
      const reader = async () => {
        let after: string | null = null;
        for (;;) {
          const cursor: string | null = after;
          const page: PersistedEvent[] = await store.transaction((tx) =>
            store.readEvents(tx, { after: cursor, limit: 3 }),
          );
          seen.push(...page);
          if (page.length > 0) after = page[page.length - 1]!.checkpoint;
          else if (!writing && seen.length >= committed.size) return;
          else await sleep(2);
        }
      };
      const writers = Promise.all([0, 1, 2, 3, 4].map(writer)).finally(() => {
        writing = false;
      });
      await Promise.all([writers, reader()]);

      const seenIds = seen.map((e) => e.eventId);
      expect(new Set(seenIds).size).toBe(seenIds.length);
      expect(new Set(seenIds)).toEqual(committed);
      expect(seenIds.some((id) => rolledBack.has(id))).toBe(false);
      const log = await readAll(store);
      expect(log.map((e) => e.eventId)).toEqual(seenIds);
      // Resuming after any checkpoint gives exactly the rest of the log.
      for (let i = 0; i < log.length; i += 7) {
        const rest = await readAll(store, log[i]!.checkpoint);
        expect(rest.map((e) => e.eventId)).toEqual(seenIds.slice(i + 1));
      }
    } finally {
      await subject.cleanup();
    }
  });

  it('serves readEvents from the (transaction_id, global_position) index without a sort', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      // A log of realistic size, so the planner's choice is the one production gets.
      await subject.admin(
        `INSERT INTO ${store.tables.events} (bounded_context, aggregate_type, aggregate_id,
           aggregate_version, event_id, event_type, payload)
         SELECT 'bulk', 'Thing', 'a-' || (g % 1000), g / 1000 + 1, gen_random_uuid(), 'Happened',
           '\\x7b7d'
         FROM generate_series(0, 49999) g`,
      );
      await subject.admin(`ANALYZE ${store.tables.events}`);
      const text = readStatements(postgresTables(store.tables)).readEvents.text;
      for (const params of [
        ['0', '0', 100],
        ['1', '25000', 1000],
      ]) {
        const plan = await subject.admin(`EXPLAIN (FORMAT JSON) ${text}`, params);
        const json = JSON.stringify(plan[0]['QUERY PLAN']);
        expect(json).toContain('transaction_order_idx');
        expect(json).toMatch(/"Node Type":"Index (Only )?Scan"/);
        expect(json).not.toContain('"Node Type":"Sort"');
      }
    } finally {
      await subject.cleanup();
    }
  });
});
