import { randomUUID } from 'node:crypto';
import {
  ConnectionLostError,
  DatabaseError,
  DuplicateEventIdError,
  ExpectedVersion,
  OptimisticConcurrencyError,
} from '@pup/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMysqlError } from '../src/errors.js';
import { BLOCK_SIZE, type MysqlPoolConnection } from '../src/index.js';
import { adminQuery, createTestStore, ownTransaction, pool, type TestStore } from './support.js';

const stream = (label: string) => ({
  boundedContext: 'append',
  aggregateType: 'Thing',
  aggregateId: `${label}-${randomUUID()}`,
});
const events = (s: ReturnType<typeof stream>, count: number) =>
  Array.from({ length: count }, (_, i) => ({ ...s, eventType: 'Happened', payload: { i } }));

describe('appends on MySQL', () => {
  let subject: TestStore;
  beforeAll(async () => {
    subject = await createTestStore();
  });
  afterAll(() => subject.cleanup());

  it('writes the events of one transaction into one block, at consecutive positions', async () => {
    const { store } = subject;
    const a = stream('block-a');
    const b = stream('block-b');
    const [first, second] = await store.transaction(async (tx) => [
      await store.append(tx, ExpectedVersion.noStream(), events(a, 3)),
      await store.append(tx, ExpectedVersion.noStream(), events(b, 2)),
    ]);
    const positions = [...first!.globalPositions, ...second!.globalPositions];
    expect(positions.map((p) => p - positions[0]!)).toEqual([0, 1, 2, 3, 4]);
    expect(positions[0]! % BLOCK_SIZE).toBe(0);
    const rows = await adminQuery(
      `SELECT global_position, aggregate_version FROM ${subject.sql.events} WHERE global_position >= ? ORDER BY global_position`,
      [positions[0]],
    );
    expect(rows.map((r) => Number(r.global_position))).toEqual(positions);
  });

  it('maps a duplicate event id to DuplicateEventIdError and leaves the stream as it was', async () => {
    const { store } = subject;
    const s = stream('dup');
    const [first] = events(s, 1);
    const eventId = randomUUID();
    await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), [{ ...first!, eventId }]),
    );
    const other = stream('dup-other');
    const error = await store
      .transaction((tx) =>
        store.append(tx, ExpectedVersion.any(), [{ ...events(other, 1)[0]!, eventId }]),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateEventIdError);
    expect((error as DuplicateEventIdError).eventId).toBe(eventId);
    const heads = await adminQuery(
      `SELECT COUNT(*) AS n FROM ${subject.sql.heads} WHERE aggregate_id = ?`,
      [other.aggregateId],
    );
    expect(Number(heads[0].n)).toBe(0);
    // In the same transaction, a caught duplicate leaves the transaction usable and clean.
    const result = await store.transaction(async (tx) => {
      await expect(
        store.append(tx, ExpectedVersion.exact(1), [{ ...events(s, 1)[0]!, eventId }]),
      ).rejects.toBeInstanceOf(DuplicateEventIdError);
      return store.append(tx, ExpectedVersion.exact(1), events(s, 1));
    });
    expect(result.toVersion).toBe(2);
  });

  it('10 concurrent exact(v) appends to one stream: one wins, nine conflict with the actual version', async () => {
    const { store } = subject;
    const s = stream('race');
    await store.transaction((tx) => store.append(tx, ExpectedVersion.noStream(), events(s, 1)));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        store.transaction((tx) => store.append(tx, ExpectedVersion.exact(1), events(s, 2))),
      ),
    );
    const losers = outcomes.filter((o) => o.status === 'rejected');
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const loser of losers) {
      const reason = (loser as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(OptimisticConcurrencyError);
      expect((reason as OptimisticConcurrencyError).actualVersion).toBe(3);
    }
  });

  for (const kind of ['any', 'noStream'] as const) {
    it(`a creator that rolls back while three others wait to create the stream (${kind}()): no deadlock`, async () => {
      const { store } = subject;
      const s = stream(`creator-${kind}`);
      const expected = () => (kind === 'any' ? ExpectedVersion.any() : ExpectedVersion.noStream());
      let release!: () => void;
      const releasing = new Promise<void>((resolve) => {
        release = resolve;
      });
      let created!: () => void;
      const isCreated = new Promise<void>((resolve) => {
        created = resolve;
      });
      const creator = store
        .transaction(async (tx) => {
          await store.append(tx, expected(), events(s, 1));
          created();
          await releasing;
          throw new Error('creator rolls back');
        })
        .catch(() => undefined);
      await isCreated;
      const waiters = Array.from({ length: 3 }, () =>
        store.transaction((tx) => store.append(tx, expected(), events(s, 1))),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      release();
      await creator;
      const outcomes = await Promise.allSettled(waiters);
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
      if (kind === 'any') expect(failures).toEqual([]);
      else {
        expect(failures).toHaveLength(2);
        for (const failure of failures) expect(failure).toBeInstanceOf(OptimisticConcurrencyError);
      }
      const read = await store.transaction((tx) => store.readAggregateStream(tx, s));
      expect(read.version).toBe(kind === 'any' ? 3 : 1);
    });
  }

  it('appends inside a transaction the caller opened with the driver, committed or rolled back', async () => {
    const { store } = subject;
    const kept = stream('own-kept');
    await ownTransaction(async (conn) => {
      await store.append(conn, ExpectedVersion.noStream(), events(kept, 2));
      await conn.query(
        `INSERT INTO ${subject.sql.checkpoints} (projection_name, position) VALUES (?, 1)`,
        [`own-${randomUUID()}`],
      );
    });
    const read = await store.transaction((tx) => store.readAggregateStream(tx, kept));
    expect(read.version).toBe(2);
    const dropped = stream('own-dropped');
    await expect(
      ownTransaction(async (conn) => {
        await store.append(conn, ExpectedVersion.noStream(), events(dropped, 2));
        throw new Error('caller rolls back');
      }),
    ).rejects.toThrow('caller rolls back');
    expect((await store.transaction((tx) => store.readAggregateStream(tx, dropped))).version).toBe(
      0,
    );
    // The log stays readable past the block the rollback gave back.
    const next = await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), events(stream('after-own'), 1)),
    );
    const log = await store.transaction((tx) =>
      store.readEvents(tx, { after: null, limit: 100_000 }),
    );
    expect(log.map((e) => e.eventId)).toContain(next.events[0]!.eventId);
  });

  it('an append on a connection outside any transaction runs in a transaction of its own', async () => {
    const { store } = subject;
    const conn = (await pool().getConnection()) as unknown as MysqlPoolConnection & {
      release(): void;
    };
    try {
      const s = stream('autocommit');
      const result = await store.append(conn, ExpectedVersion.noStream(), events(s, 3));
      expect(result.toVersion).toBe(3);
      await expect(
        store.append(conn, ExpectedVersion.noStream(), events(s, 1)),
      ).rejects.toBeInstanceOf(OptimisticConcurrencyError);
      const [status] = await conn.query('SELECT @@in_transaction AS t');
      expect(Number((status as { t: number }[])[0]!.t)).toBe(0);
      expect((await store.transaction((tx) => store.readAggregateStream(tx, s))).version).toBe(3);
    } finally {
      conn.release();
    }
  });

  it('a nested transaction rolled back after appending leaves no trace and does not hold readers back', async () => {
    const { store } = subject;
    const outer = stream('nested-outer');
    const inner = stream('nested-inner');
    await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), events(outer, 1));
      await store
        .transaction(async (nested) => {
          await store.append(nested, ExpectedVersion.noStream(), events(inner, 2));
          throw new Error('inner rollback');
        })
        .catch(() => undefined);
      await store.append(tx, ExpectedVersion.exact(1), events(outer, 1));
    });
    expect((await store.transaction((tx) => store.readAggregateStream(tx, inner))).version).toBe(0);
    expect((await store.transaction((tx) => store.readAggregateStream(tx, outer))).version).toBe(2);
    const status = await store.transaction((tx) => store.getLogStatus(tx));
    expect(status.heldBackAt).toBeNull();
  });

  it('a lock wait timeout is a transient DatabaseError; a killed connection a ConnectionLostError', async () => {
    const { store } = subject;
    const s = stream('locked');
    await store.transaction((tx) => store.append(tx, ExpectedVersion.noStream(), events(s, 1)));
    let release!: () => void;
    const holding = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.exact(1), events(s, 1));
      locked();
      await holding;
    });
    await isLocked;
    try {
      const error = await ownTransaction(async (conn) => {
        await conn.query('SET SESSION innodb_lock_wait_timeout = 1');
        return store.append(conn, ExpectedVersion.any(), events(s, 1)).catch((e: unknown) => e);
      });
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as DatabaseError).transient).toBe(true);
    } finally {
      release();
      await holder;
    }

    const conn = await pool().getConnection();
    const [[{ id }]] = (await conn.query('SELECT CONNECTION_ID() AS id')) as unknown as [
      [{ id: number }],
    ];
    await adminQuery(`KILL ${Number(id)}`);
    const lost = await store
      .readEvents(conn as never, { after: null, limit: 1 })
      .catch((e: unknown) => e);
    conn.release();
    expect(lost).toBeInstanceOf(ConnectionLostError);
  });

  it('maps deadlocks to transient errors and leaves other driver errors to DatabaseError', () => {
    const deadlock = Object.assign(new Error('Deadlock found'), {
      errno: 1213,
      code: 'ER_LOCK_DEADLOCK',
    });
    expect(describeMysqlError(deadlock)).toBeInstanceOf(DatabaseError);
    expect((describeMysqlError(deadlock) as DatabaseError).transient).toBe(true);
    const gone = Object.assign(new Error('gone'), {
      code: 'PROTOCOL_CONNECTION_LOST',
      fatal: true,
    });
    const lost = describeMysqlError(gone, true);
    expect(lost).toBeInstanceOf(ConnectionLostError);
    expect((lost as ConnectionLostError).commitUnknown).toBe(true);
    expect(describeMysqlError(Object.assign(new Error('syntax'), { errno: 1064 }))).toBeUndefined();
  });
});
