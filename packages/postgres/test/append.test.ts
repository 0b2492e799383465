import {
  DuplicateEventIdError,
  ExpectedVersion,
  type NewEvent,
  OptimisticConcurrencyError,
} from '@pup/core';
import pg from 'pg';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createPgEventStore, createPostgresJsEventStore } from '../src/index.js';
import { admin, bothDrivers, postgresUrl, qualifyTables, uniqueSchema } from './support.js';

function events(aggregateId: string, count: number): NewEvent[] {
  return Array.from({ length: count }, (_, n) => ({
    boundedContext: 'append',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: { n },
  }));
}

function settle<T>(promises: Promise<T>[]) {
  return Promise.allSettled(promises);
}

describe.each(bothDrivers())('append ($name)', (driver) => {
  it('concurrent first appends to a new stream: one wins, the others get OptimisticConcurrencyError and burn no position', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const outcomes = await settle(
        Array.from({ length: 8 }, () =>
          store.transaction((tx) => store.append(tx, ExpectedVersion.noStream(), events('new', 2))),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o) => o.status === 'rejected');
      expect(won).toHaveLength(1);
      for (const outcome of lost) {
        const error = (outcome as PromiseRejectedResult).reason;
        expect(error).toBeInstanceOf(OptimisticConcurrencyError);
        expect(error.code).toBe('OPTIMISTIC_CONCURRENCY');
        expect(error.actualVersion).toBe(2);
      }
      const next = await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.exact(2), events('new', 1)),
      );
      // Positions 1 and 2 went to the winner; the losers took none.
      expect(next.globalPositions).toEqual([3]);
    } finally {
      await subject.cleanup();
    }
  });

  it('any() under concurrency serializes on the head row: every append gets its own versions', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          store.transaction((tx) => store.append(tx, ExpectedVersion.any(), events('shared', 2))),
        ),
      );
      const versions = results
        .flatMap((r) => [r.fromVersion + 1, r.toVersion])
        .sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const stream = await store.transaction((tx) =>
        store.readAggregateStream(tx, {
          boundedContext: 'append',
          aggregateType: 'Thing',
          aggregateId: 'shared',
        }),
      );
      expect(stream.version).toBe(20);
      expect(stream.events.map((e) => e.aggregateVersion)).toEqual(versions);
    } finally {
      await subject.cleanup();
    }
  });

  it('exact(n) races: one winner per version, losers see the actual version', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), events('race', 3)),
      );
      const outcomes = await settle(
        Array.from({ length: 6 }, () =>
          store.transaction((tx) => store.append(tx, ExpectedVersion.exact(3), events('race', 1))),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
        const error = (outcome as PromiseRejectedResult).reason as OptimisticConcurrencyError;
        expect(error).toBeInstanceOf(OptimisticConcurrencyError);
        expect(error.actualVersion).toBe(4);
      }
      const streamExists = await settle(
        Array.from({ length: 4 }, () =>
          store.transaction((tx) =>
            store.append(tx, ExpectedVersion.streamExists(), events('race', 1)),
          ),
        ),
      );
      expect(streamExists.every((o) => o.status === 'fulfilled')).toBe(true);
      const [{ max }] = await subject.admin(
        `SELECT max(global_position)::int AS max, count(*)::int AS n FROM ${store.tables.events}`,
      );
      expect(max).toBe(3 + 1 + 4);
    } finally {
      await subject.cleanup();
    }
  });

  it('a failed check leaves the caller’s own transaction usable', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const result = await store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), events('mine', 1));
        const error = await store
          .append(tx, ExpectedVersion.exact(5), events('mine', 1))
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OptimisticConcurrencyError);
        expect((error as OptimisticConcurrencyError).actualVersion).toBe(1);
        const rows = await driver.run(tx, 'SELECT 41 + 1 AS answer');
        return {
          answer: Number(rows[0].answer),
          next: await store.append(tx, ExpectedVersion.exact(1), events('mine', 1)),
        };
      });
      expect(result.answer).toBe(42);
      expect(result.next.toVersion).toBe(2);
    } finally {
      await subject.cleanup();
    }
  });

  it('a stored event id → DuplicateEventIdError naming it, never a raw unique violation', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const [first] = (
        await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.noStream(), events('dup', 1)),
        )
      ).events;
      const error = await store
        .transaction((tx) =>
          store.append(tx, ExpectedVersion.noStream(), [
            { ...events('other', 1)[0]!, eventId: first!.eventId.toUpperCase() },
          ]),
        )
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DuplicateEventIdError);
      expect((error as DuplicateEventIdError).code).toBe('DUPLICATE_EVENT_ID');
      expect((error as DuplicateEventIdError).eventId).toBe(first!.eventId);
      expect((error as DuplicateEventIdError).cause).toBeDefined();
    } finally {
      await subject.cleanup();
    }
  });

  it('a stream version taken behind the heads table’s back → OptimisticConcurrencyError', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), events('drift', 2)),
      );
      await subject.admin(`DELETE FROM ${store.tables.aggregateHeads}`);
      const error = await store
        .transaction((tx) => store.append(tx, ExpectedVersion.noStream(), events('drift', 1)))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OptimisticConcurrencyError);
      expect((error as OptimisticConcurrencyError).actualVersion).toBe(1);
    } finally {
      await subject.cleanup();
    }
  });

  it('stores every field and reads it back (metadata, ids, bytes, timestamps)', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const createdAt = new Date('2024-02-29T12:34:56.789Z');
      const input: NewEvent[] = [1, 2].map((n) => ({
        boundedContext: 'append',
        aggregateType: 'Thing',
        aggregateId: 'fields',
        eventType: `Happened${n}`,
        eventVersion: n + 1,
        payload: { n, quote: 'a "quoted" \\ backslash, {braces} and ünïcode' },
        metadata: { tenant: 't-1', nested: { list: [1, null, 'x'] }, quote: '"\\' },
        traceId: n === 1 ? 'trace "1"' : null,
        correlationId: 'corr,{1}',
        causationId: n === 2 ? 'NULL' : null,
        createdAt,
      }));
      for (const batch of [input.slice(0, 1), input.slice(1)]) {
        await store.transaction((tx) => store.append(tx, ExpectedVersion.any(), batch));
      }
      await store.transaction((tx) => store.append(tx, ExpectedVersion.any(), input));
      const stream = await store.transaction((tx) =>
        store.readAggregateStream(tx, {
          boundedContext: 'append',
          aggregateType: 'Thing',
          aggregateId: 'fields',
        }),
      );
      expect(stream.events).toHaveLength(4);
      for (const [i, event] of stream.events.entries()) {
        const source = input[i % 2]!;
        expect(event).toMatchObject({
          eventType: source.eventType,
          eventVersion: source.eventVersion,
          payload: source.payload,
          metadata: source.metadata,
          traceId: source.traceId,
          correlationId: source.correlationId,
          causationId: source.causationId,
          createdAt,
        });
      }
    } finally {
      await subject.cleanup();
    }
  });
});

describe('one round trip per append', () => {
  it('pg: BEGIN, one statement, COMMIT, for 1 and for 100 events', async () => {
    const schema = uniqueSchema();
    await admin().query(`CREATE SCHEMA ${schema}`);
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 2 });
    const statements: string[] = [];
    const counting = {
      connect: async () => {
        const client = await pool.connect();
        return new Proxy(client, {
          get(target, property, receiver) {
            if (property === 'query') {
              return (config: unknown, ...rest: unknown[]) => {
                statements.push(
                  typeof config === 'string' ? config : (config as { text: string }).text,
                );
                return (target.query as (...args: unknown[]) => unknown)(config, ...rest);
              };
            }
            const value = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
      query: (config: { text: string }) => {
        statements.push(config.text);
        return pool.query(config);
      },
    };
    const store = createPgEventStore(counting as unknown as pg.Pool, {
      tables: qualifyTables(schema, null) as never,
    });
    try {
      await store.migrate();
      for (const count of [1, 100]) {
        statements.length = 0;
        await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.noStream(), events(`rt-${count}`, count)),
        );
        // A wake-up notification of an earlier commit may go out from the pool meanwhile (the
        // notifier coalesces commits within a few milliseconds); it is not part of the append.
        const ofTransaction = statements.filter((s) => !s.startsWith('SELECT pg_notify('));
        expect(ofTransaction.map((s) => s.split(/[\s;]/)[0])).toEqual(['BEGIN', 'WITH', 'COMMIT']);
      }
      // appendToStream: the statement alone, in autocommit (its notification follows from the
      // pool, after the call returned).
      const notified = store.waitForEvents({
        signal: new AbortController().signal,
        timeoutMs: 5_000,
      });
      for (const count of [1, 100]) {
        statements.length = 0;
        const result = await store.appendToStream(
          ExpectedVersion.noStream(),
          events(`ats-${count}`, count),
        );
        expect(result.toVersion).toBe(count);
        expect(statements[0]!.split(/\s/)[0]).toBe('WITH');
        expect(statements.filter((s) => /^(BEGIN|COMMIT|WITH)/.test(s))).toHaveLength(1);
      }
      await notified;
      // Also when the caller owns the transaction.
      const client = await counting.connect();
      try {
        await client.query('BEGIN');
        statements.length = 0;
        await store.append(client as never, ExpectedVersion.noStream(), events('own', 3));
        expect(statements.filter((s) => !s.startsWith('SELECT pg_notify('))).toHaveLength(1);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } finally {
      await store.close();
      await pool.end();
      await admin().query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('postgres.js: one statement inside the transaction, for 1 and for 100 events', async () => {
    const schema = uniqueSchema();
    await admin().query(`CREATE SCHEMA ${schema}`);
    const sql = postgres(postgresUrl(), { max: 2, onnotice: () => {} });
    const statements: string[] = [];
    const countingTx = (tx: postgres.TransactionSql) =>
      new Proxy(tx, {
        get(target, property, receiver) {
          if (property === 'unsafe') {
            return (text: string, ...rest: unknown[]) => {
              statements.push(text);
              return (target.unsafe as (...args: unknown[]) => unknown)(text, ...rest);
            };
          }
          return Reflect.get(target, property, receiver);
        },
      });
    const counting = new Proxy(sql, {
      get(target, property, receiver) {
        if (property === 'begin') {
          return (options: string, fn: (tx: postgres.TransactionSql) => unknown) =>
            target.begin(options, (tx) => fn(countingTx(tx)));
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const store = createPostgresJsEventStore(counting, {
      tables: qualifyTables(schema, null) as never,
    });
    try {
      await store.migrate();
      for (const count of [1, 100]) {
        statements.length = 0;
        await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.noStream(), events(`rt-${count}`, count)),
        );
        expect(statements.map((s) => s.split(/\s/)[0])).toEqual(['WITH']);
      }
      // appendToStream: one statement on the instance, no transaction.
      const unsafe: string[] = [];
      const countingSql = new Proxy(sql, {
        get(target, property, receiver) {
          if (property === 'unsafe') {
            return (text: string, ...rest: unknown[]) => {
              unsafe.push(text);
              return (target.unsafe as (...args: unknown[]) => unknown)(text, ...rest);
            };
          }
          if (property === 'begin') {
            return () => {
              throw new Error('appendToStream must not open a transaction');
            };
          }
          return Reflect.get(target, property, receiver);
        },
      });
      const direct = createPostgresJsEventStore(countingSql, {
        tables: qualifyTables(schema, null) as never,
        notify: false,
      });
      for (const count of [1, 100]) {
        unsafe.length = 0;
        const result = await direct.appendToStream(
          ExpectedVersion.noStream(),
          events(`ats-${count}`, count),
        );
        expect(result.toVersion).toBe(count);
        expect(unsafe.map((s) => s.split(/\s/)[0])).toEqual(['WITH']);
      }
      await direct.close();
    } finally {
      await store.close();
      await sql.end({ timeout: 5 });
      await admin().query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
