import {
  ConnectionLostError,
  DatabaseError,
  ExpectedVersion,
  isTransientError,
  type NewEvent,
  ProjectionProcessor,
} from '@pup/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPgEventStore } from '../src/index.js';
import {
  admin,
  bothDrivers,
  deferred,
  postgresUrl,
  qualifyTables,
  sleep,
  uniqueSchema,
  within,
} from './support.js';

function event(aggregateId: string, n = 0): NewEvent {
  return {
    boundedContext: 'errors',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: { n },
  };
}

describe.each(bothDrivers())('errors ($name)', (driver) => {
  it('a transaction whose failed statement was caught does not commit: DatabaseError', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const error = await store
        .transaction(async (tx) => {
          await store.append(tx, ExpectedVersion.noStream(), [event('lost')]);
          await driver.run(tx, 'SELECT 1 / 0').catch(() => undefined);
          return 'looks fine';
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as DatabaseError).code).toBe('DATABASE_ERROR');
      expect((error as DatabaseError).database).toBe('PostgreSQL');
      expect(await subject.inspect.countEvents()).toBe(0);
    } finally {
      await subject.cleanup();
    }
  });

  it('driver errors reach the caller as DatabaseError with the driver’s error as cause', async () => {
    // A store on tables that do not exist (no migrate()).
    const schema = uniqueSchema();
    const tables = {
      events: `${schema}.events`,
      aggregateHeads: `${schema}.heads`,
      checkpoints: `${schema}.checkpoints`,
    };
    const subject = await driver.createStore();
    const store = subject.sibling({ tables });
    try {
      for (const call of [
        () => store.transaction((tx) => store.readEvents(tx, { limit: 1 })),
        () => store.appendToStream(ExpectedVersion.any(), [event('nowhere')]),
        () => store.transaction((tx) => store.getCheckpoint(tx, 'p')),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DatabaseError);
        // Undefined table or schema, as PostgreSQL reported it.
        expect(['42P01', '3F000']).toContain(
          ((error as DatabaseError).cause as { code?: string }).code,
        );
      }
    } finally {
      await subject.cleanup();
    }
  });

  it('a connection lost inside a transaction → ConnectionLostError, never a crash', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const terminated = deferred();
      const inside = deferred<unknown>();
      const error = await store
        .transaction(async (tx) => {
          await store.append(tx, ExpectedVersion.noStream(), [event('cut')]);
          const pid = Number((await driver.run(tx, 'SELECT pg_backend_pid() AS pid'))[0].pid);
          await subject.admin('SELECT pg_terminate_backend($1)', [pid]);
          if (driver.name === 'postgres.js') {
            // postgres.js fails the transaction by itself once it sees the connection close;
            // the callback goes on after that.
            await terminated.promise;
          }
          const failed = await store.readEvents(tx, { limit: 1 }).catch((e: unknown) => e);
          inside.resolve(failed);
          throw failed;
        })
        .catch((e: unknown) => e);
      terminated.resolve();
      for (const lost of [await inside.promise, error]) {
        expect(lost).toBeInstanceOf(ConnectionLostError);
        expect((lost as ConnectionLostError).code).toBe('CONNECTION_LOST');
        expect((lost as ConnectionLostError).commitUnknown).toBe(false);
        expect(isTransientError(lost)).toBe(true);
      }
      expect(await subject.inspect.countEvents()).toBe(0);
      // The pool replaces the lost connection.
      const next = await store.appendToStream(ExpectedVersion.noStream(), [event('cut')]);
      expect(next.toVersion).toBe(1);
      // Nothing was left to crash the process meanwhile (an uncaught error fails the run).
      await sleep(100);
    } finally {
      await subject.cleanup();
    }
  });

  it('a projection batch whose connection is lost is retried; the run goes on', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    const abort = new AbortController();
    try {
      const appended = await store.appendToStream(
        ExpectedVersion.noStream(),
        Array.from({ length: 5 }, (_, n) => event('retried', n)),
      );
      const last = appended.events[4]!;
      const handled = new Set<number>();
      let cut = false;
      const processor = new ProjectionProcessor(store, {
        batchSize: 10,
        pollIntervalMs: 20,
        retry: { initialDelayMs: 10 },
      });
      const run = processor.run(
        {
          name: 'retried',
          handle: async (e, { tx }) => {
            if (!cut) {
              cut = true;
              const pid = Number((await driver.run(tx, 'SELECT pg_backend_pid() AS pid'))[0].pid);
              await subject.admin('SELECT pg_terminate_backend($1)', [pid]);
              // Give the driver time to see the connection go.
              await sleep(50);
            }
            handled.add(e.globalPosition);
          },
        },
        { signal: abort.signal },
      );
      await within(
        20_000,
        'the retried batch commits',
        (async () => {
          while (
            (await store.transaction((tx) => store.getCheckpoint(tx, 'retried'))) !==
            last.checkpoint
          ) {
            await sleep(20);
          }
        })(),
      );
      expect(handled.size).toBe(5);
      abort.abort();
      await within(5_000, 'the run ends after abort', run);
    } finally {
      abort.abort();
      await subject.cleanup();
    }
  });

  it('a deadlock → a transient DatabaseError (the processor retries such batches)', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      for (const id of ['x', 'y']) {
        await store.appendToStream(ExpectedVersion.noStream(), [event(id)]);
      }
      const first = deferred();
      const second = deferred();
      const crossing = (a: string, b: string, mine: typeof first, theirs: typeof first) =>
        store.transaction(async (tx) => {
          await store.append(tx, ExpectedVersion.any(), [event(a)]);
          mine.resolve();
          await theirs.promise;
          await store.append(tx, ExpectedVersion.any(), [event(b)]);
        });
      const outcomes = await Promise.allSettled([
        crossing('x', 'y', first, second),
        crossing('y', 'x', second, first),
      ]);
      const failed = outcomes.filter((o) => o.status === 'rejected');
      expect(failed).toHaveLength(1);
      const error = (failed[0] as PromiseRejectedResult).reason as DatabaseError;
      expect(error).toBeInstanceOf(DatabaseError);
      expect(error.transient).toBe(true);
      expect((error.cause as { code?: string }).code).toBe('40P01');
    } finally {
      await subject.cleanup();
    }
  });
});

describe('pg: a connection lost at COMMIT', () => {
  it('→ ConnectionLostError with commitUnknown', async () => {
    const schema = uniqueSchema();
    await admin().query(`CREATE SCHEMA ${schema}`);
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 2 });
    const cutting = {
      connect: async () => {
        const client = await pool.connect();
        return new Proxy(client, {
          get(target, property, receiver) {
            if (property === 'query') {
              return (config: unknown, ...rest: unknown[]) => {
                if (typeof config === 'string' && config.startsWith('COMMIT')) {
                  // The socket breaks as the COMMIT goes out.
                  (
                    target as unknown as { connection: { stream: { destroy(): void } } }
                  ).connection.stream.destroy();
                }
                return (target.query as (...args: unknown[]) => unknown)(config, ...rest);
              };
            }
            const value = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
      query: pool.query.bind(pool),
    };
    const store = createPgEventStore(cutting as unknown as pg.Pool, {
      tables: qualifyTables(schema, null) as never,
    });
    try {
      await createPgEventStore(pool, { tables: qualifyTables(schema, null) as never }).migrate();
      const error = await store
        .transaction((tx) => store.append(tx, ExpectedVersion.noStream(), [event('cut')]))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect((error as ConnectionLostError).commitUnknown).toBe(true);
    } finally {
      await store.close();
      await pool.end();
      await admin().query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
