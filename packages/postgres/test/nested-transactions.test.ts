import {
  DatabaseError,
  DuplicateEventIdError,
  ExpectedVersion,
  type NewEvent,
  ProjectionProcessor,
  type StreamRef,
} from '@pup/core';
import { describe, expect, it } from 'vitest';
import { bothDrivers, sleep, type TestStore, within } from './support.js';

function ref(aggregateId: string): StreamRef {
  return { boundedContext: 'nested', aggregateType: 'Thing', aggregateId };
}

function event(aggregateId: string, n = 0): NewEvent {
  return { ...ref(aggregateId), eventType: 'Happened', payload: { n } };
}

class Boom extends Error {}

/** Stream versions committed, read through the admin pool (not the store). */
async function committedVersions(subject: TestStore<unknown>): Promise<Record<string, number[]>> {
  const rows = await subject.admin(
    `SELECT aggregate_id, aggregate_version::int AS v FROM ${subject.schema}.events
     ORDER BY aggregate_id, aggregate_version`,
  );
  const versions: Record<string, number[]> = {};
  for (const row of rows) {
    versions[row.aggregate_id] ??= [];
    versions[row.aggregate_id]!.push(row.v);
  }
  return versions;
}

async function sideRows(subject: TestStore<unknown>): Promise<string[]> {
  const rows = await subject.admin(`SELECT v FROM ${subject.schema}.side ORDER BY v`);
  return rows.map((row) => row.v);
}

describe.each(bothDrivers())('nested transactions ($name)', (driver) => {
  const backendPid = async (tx: unknown) =>
    Number((await driver.run(tx, 'SELECT pg_backend_pid() AS pid'))[0].pid);

  it('a transaction nested in another runs on the same connection: no deadlock on a pool of one', async () => {
    const subject = await driver.createStoreOnPoolOfOne();
    const { store } = subject;
    try {
      const pids = await within(
        10_000,
        'nested transactions on a pool of one',
        store.transaction(async (outer) => {
          const outerPid = await backendPid(outer);
          await store.append(outer, ExpectedVersion.noStream(), [event('s', 1)]);
          const inner = await store.transaction(async (tx) => {
            expect(tx).toBe(outer);
            await store.append(tx, ExpectedVersion.exact(1), [event('s', 2)]);
            const deepest = await store.transaction(async (t) => {
              await store.append(t, ExpectedVersion.exact(2), [event('s', 3)]);
              return backendPid(t);
            });
            return { innerPid: await backendPid(tx), deepest };
          });
          // The nested work is part of the outer transaction before anything commits.
          expect((await store.readAggregateStream(outer, ref('s'))).version).toBe(3);
          expect(await subject.inspect.countEvents()).toBe(0);
          return { outerPid, ...inner };
        }),
      );
      expect(pids.innerPid).toBe(pids.outerPid);
      expect(pids.deepest).toBe(pids.outerPid);
      expect(await committedVersions(subject)).toEqual({ s: [1, 2, 3] });
    } finally {
      await subject.cleanup();
    }
  });

  it('an inner throw rolls back only the inner work; an outer throw rolls back everything', async () => {
    const subject = await driver.createStoreOnPoolOfOne();
    const { store, schema } = subject;
    await subject.admin(`CREATE TABLE ${schema}.side (v text)`);
    try {
      await within(
        10_000,
        'nested transactions on a pool of one',
        store.transaction(async (outer) => {
          await store.append(outer, ExpectedVersion.noStream(), [event('kept', 1)]);
          await driver.run(outer, `INSERT INTO ${schema}.side VALUES ('outer-1')`);
          const error = await store
            .transaction(async (tx) => {
              await store.append(tx, ExpectedVersion.exact(1), [event('kept', 2)]);
              await store.append(tx, ExpectedVersion.noStream(), [event('dropped', 1)]);
              await driver.run(tx, `INSERT INTO ${schema}.side VALUES ('inner')`);
              throw new Boom();
            })
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(Boom);
          // The outer transaction goes on from where it was before the nested call.
          const stream = await store.readAggregateStream(outer, ref('kept'));
          expect(stream.version).toBe(1);
          await store.append(outer, ExpectedVersion.exact(1), [event('kept', 2)]);
          await driver.run(outer, `INSERT INTO ${schema}.side VALUES ('outer-2')`);
        }),
      );
      expect(await committedVersions(subject)).toEqual({ kept: [1, 2] });
      expect(await sideRows(subject)).toEqual(['outer-1', 'outer-2']);
      expect(await subject.inspect.countAggregateHeads()).toBe(1);

      const outerError = await store
        .transaction(async (outer) => {
          await store.append(outer, ExpectedVersion.exact(2), [event('kept', 3)]);
          await store.transaction(async (tx) => {
            await store.append(tx, ExpectedVersion.noStream(), [event('inner-ok', 1)]);
            await driver.run(tx, `INSERT INTO ${schema}.side VALUES ('inner-ok')`);
          });
          throw new Boom();
        })
        .catch((e: unknown) => e);
      expect(outerError).toBeInstanceOf(Boom);
      expect(await committedVersions(subject)).toEqual({ kept: [1, 2] });
      expect(await sideRows(subject)).toEqual(['outer-1', 'outer-2']);
    } finally {
      await subject.cleanup();
    }
  });

  it('a failed statement inside a nested transaction leaves the outer one usable', async () => {
    const subject = await driver.createStoreOnPoolOfOne();
    const { store } = subject;
    try {
      await within(
        10_000,
        'nested transactions on a pool of one',
        store.transaction(async (outer) => {
          const first = await store.append(outer, ExpectedVersion.noStream(), [event('a')]);
          const duplicate = { ...event('b'), eventId: first.events[0]!.eventId };
          // The duplicate id fails the INSERT; the error leaves the nested transaction.
          const error = await store
            .transaction((tx) => store.append(tx, ExpectedVersion.noStream(), [duplicate]))
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(DuplicateEventIdError);
          // The error is swallowed inside the nested transaction: its work cannot commit, and
          // the nested call says so.
          const swallowed = await store
            .transaction(async (tx) => {
              await store.append(tx, ExpectedVersion.noStream(), [event('c')]);
              await store
                .append(tx, ExpectedVersion.noStream(), [duplicate])
                .catch(() => undefined);
              return 'swallowed';
            })
            .catch((e: unknown) => e);
          expect(swallowed).toBeInstanceOf(DatabaseError);
          expect((swallowed as DatabaseError).code).toBe('DATABASE_ERROR');
          await store.append(outer, ExpectedVersion.noStream(), [event('d')]);
        }),
      );
      expect(await committedVersions(subject)).toEqual({ a: [1], d: [1] });
    } finally {
      await subject.cleanup();
    }
  });

  it('stores on one pool nest into each other’s transactions', async () => {
    const subject = await driver.createStoreOnPoolOfOne();
    const { store } = subject;
    const other = subject.sibling({ tables: store.tables });
    try {
      await within(
        10_000,
        'two stores nested on a pool of one',
        store.transaction(async (outer) => {
          await store.append(outer, ExpectedVersion.noStream(), [event('first')]);
          await other.transaction(async (tx) => {
            expect(tx).toBe(outer);
            await other.append(tx, ExpectedVersion.noStream(), [event('second')]);
          });
          const error = await other
            .transaction(async (tx) => {
              await other.append(tx, ExpectedVersion.noStream(), [event('third')]);
              throw new Boom();
            })
            .catch((e: unknown) => e);
          expect(error).toBeInstanceOf(Boom);
        }),
      );
      expect(await committedVersions(subject)).toEqual({ first: [1], second: [1] });
    } finally {
      await subject.cleanup();
    }
  });

  it('a projection processor on a pool of one: its listener takes no connection of the pool', async () => {
    const subject = await driver.createStoreOnPoolOfOne();
    const { store } = subject;
    const abort = new AbortController();
    try {
      const handled: string[] = [];
      const processor = new ProjectionProcessor(store, { batchSize: 10, pollIntervalMs: 500 });
      const run = processor.run(
        {
          name: 'pool-of-one',
          handle: (e) => {
            handled.push(e.aggregateId);
          },
        },
        { signal: abort.signal },
      );
      // Caught up on the empty log, the processor waits for events: its listener is open.
      await sleep(300);
      for (const id of ['first', 'second']) {
        await within(
          10_000,
          'an append on the pool of one while the processor listens',
          store.appendToStream(ExpectedVersion.noStream(), [event(id)]),
        );
      }
      await within(
        15_000,
        'the processor handles both events',
        (async () => {
          while (handled.length < 2) await sleep(20);
        })(),
      );
      expect(handled).toEqual(['first', 'second']);
      abort.abort();
      await within(5_000, 'the run ends after abort', run);
    } finally {
      abort.abort();
      await subject.cleanup();
    }
  });
});
