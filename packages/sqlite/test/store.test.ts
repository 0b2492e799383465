import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  DatabaseError,
  DuplicateEventIdError,
  ExpectedVersion,
  InvalidConfigError,
  OptimisticConcurrencyError,
  SchemaVersionError,
  StoreClosedError,
} from '@pup/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSqliteEventStore, type SqliteEventStore, sqliteSchemaSql } from '../src/index.js';
import { SCHEMA_VERSION } from '../src/schema.js';
import { openDatabase, tempDir } from './harness.js';
import { countRows, eventsOf, newStream, sleep } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function memoryStore(options?: Parameters<typeof createSqliteEventStore>[1]) {
  const { db, dispose } = openDatabase('memory');
  const store = createSqliteEventStore(db, options);
  cleanups.push(dispose, () => store.close());
  await store.migrate();
  return { db, store };
}

describe('configuration', () => {
  const spiedDatabase = () => {
    const db = new Database(':memory:');
    cleanups.push(() => db.close());
    return Object.assign(db, {
      prepare: vi.fn(db.prepare.bind(db)),
      exec: vi.fn(db.exec.bind(db)),
      pragma: vi.fn(db.pragma.bind(db)),
    });
  };

  it.each([
    ['a space', { tables: { events: 'my events' } }],
    ['a quote', { tables: { aggregateHeads: 'heads"; DROP TABLE x; --' } }],
    ['three parts', { tables: { checkpoints: 'a.b.c' } }],
    ['a repeated name', { tables: { events: 'same', aggregateHeads: 'same' } }],
    ['an unknown table key', { tables: { snapshots: 'snapshots' } as never }],
    ['a negative busy timeout', { busyTimeoutMs: -1 }],
    ['a fractional busy timeout', { busyTimeoutMs: 1.5 }],
    ['a non-boolean wal', { wal: 'yes' as never }],
  ])('rejects %s with InvalidConfigError before any SQL runs', (_, options) => {
    const db = spiedDatabase();
    expect(() => createSqliteEventStore(db, options)).toThrow(InvalidConfigError);
    expect(db.prepare).not.toHaveBeenCalled();
    expect(db.exec).not.toHaveBeenCalled();
    expect(db.pragma).not.toHaveBeenCalled();
  });

  it('rejects something that is not a better-sqlite3 Database', () => {
    expect(() => createSqliteEventStore({} as never)).toThrow(InvalidConfigError);
  });

  it('switches a file database to WAL and sets the busy timeout', () => {
    const { db, dispose } = openDatabase('file');
    cleanups.push(dispose);
    createSqliteEventStore(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('honours busyTimeoutMs, busyTimeoutMs: null and wal: false', () => {
    const { db, dispose } = openDatabase('file');
    cleanups.push(dispose);
    createSqliteEventStore(db, { busyTimeoutMs: 1234, wal: false });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    db.pragma('busy_timeout = 777');
    createSqliteEventStore(db, { busyTimeoutMs: null, wal: false });
    expect(db.pragma('busy_timeout', { simple: true })).toBe(777);
  });

  it('leaves an in-memory database’s journal mode alone', () => {
    const { db, dispose } = openDatabase('memory');
    cleanups.push(dispose);
    createSqliteEventStore(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('memory');
  });
});

describe('migrate', () => {
  it('is idempotent and keeps the data', async () => {
    const { db, store } = await memoryStore();
    await store.append(db, ExpectedVersion.noStream(), eventsOf(newStream(), 3));
    await store.migrate();
    await store.migrate();
    expect(countRows(db, 'events')).toBe(3);
    expect(countRows(db, 'aggregate_heads')).toBe(1);
  });

  it('applies exactly sqliteSchemaSql', async () => {
    const tables = { events: 'main.log', aggregateHeads: 'heads', checkpoints: 'main.cps' };
    const { db, dispose } = openDatabase('memory');
    cleanups.push(dispose);
    const exec = vi.spyOn(db, 'exec');
    const store = createSqliteEventStore(db, { tables });
    cleanups.push(() => store.close());
    await store.migrate();
    expect(exec.mock.calls).toEqual([[sqliteSchemaSql(tables)]]);
    const created = db
      .prepare(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('log', 'heads', 'cps', 'cps_leases', 'cps_dead_letters', 'log_meta') ORDER BY rowid",
      )
      .pluck()
      .all();
    // SQLite stores CREATE TABLE without IF NOT EXISTS and without the schema prefix.
    const statements = sqliteSchemaSql(tables).trimEnd().replace(/;$/, '').split(';\n\n');
    expect(statements).toHaveLength(7);
    expect(statements[3]).toContain(`"main"."cps_leases"`);
    expect(statements[4]).toContain(`"main"."cps_dead_letters"`);
    expect(statements[6]).toContain(`INSERT INTO "main"."log_meta"`);
    const expected = statements
      .slice(0, 6)
      .map((sql) =>
        sql.replace('CREATE TABLE IF NOT EXISTS ', 'CREATE TABLE ').replace('"main".', ''),
      );
    expect(created).toEqual(expected);
  });

  it('records the schema version, upgrades an older one and refuses a newer one', async () => {
    const { db, dispose } = openDatabase('memory');
    cleanups.push(dispose);
    const store = createSqliteEventStore(db);
    cleanups.push(() => store.close());
    await store.migrate();
    const version = () =>
      db.prepare("SELECT value FROM events_meta WHERE name = 'schema_version'").pluck().get();
    expect(version()).toBe(SCHEMA_VERSION);
    db.exec("UPDATE events_meta SET value = 0 WHERE name = 'schema_version'");
    await store.migrate();
    expect(version()).toBe(SCHEMA_VERSION);
    db.exec(`UPDATE events_meta SET value = ${SCHEMA_VERSION + 1}`);
    db.exec('DROP TABLE projection_checkpoints');
    const error = await store.migrate().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect(error).toMatchObject({ code: 'SCHEMA_VERSION', found: SCHEMA_VERSION + 1 });
    // Nothing ran: the dropped table is still missing.
    expect(
      db
        .prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'projection_checkpoints'")
        .pluck()
        .get(),
    ).toBe(0);
  });

  it('gives the default tables without arguments and rejects bad names like the factory', () => {
    expect(sqliteSchemaSql()).toBe(
      sqliteSchemaSql({
        events: 'events',
        aggregateHeads: 'aggregate_heads',
        checkpoints: 'projection_checkpoints',
      }),
    );
    expect(sqliteSchemaSql()).toContain('CREATE TABLE IF NOT EXISTS "events" (');
    expect(() => sqliteSchemaSql({ events: 'my events' })).toThrow(InvalidConfigError);
  });

  it('takes table names of the longest valid length (derived tables shortened to fit)', async () => {
    const { db, dispose } = openDatabase('memory');
    cleanups.push(dispose);
    const events = 'e'.repeat(63);
    const store = createSqliteEventStore(db, { tables: { events } });
    cleanups.push(() => store.close());
    await store.migrate();
    const stream = newStream('long-names');
    await store.appendToStream(ExpectedVersion.noStream(), eventsOf(stream, 2));
    expect(countRows(db, events)).toBe(2);
    expect(
      db
        .prepare(`SELECT value FROM "${'e'.repeat(58)}_meta" WHERE name = 'schema_version'`)
        .pluck()
        .get(),
    ).toBe(SCHEMA_VERSION);
    expect(() => createSqliteEventStore(db, { tables: { aggregateHeads: 'events_meta' } })).toThrow(
      InvalidConfigError,
    );
  });

  it('works end to end with schema-qualified custom names', async () => {
    const tables = {
      events: 'main.pup_events',
      aggregateHeads: 'main.pup_heads',
      checkpoints: 'pup_cps',
    };
    const { db, store } = await memoryStore({ tables });
    const stream = newStream();
    await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(stream, 2));
      await store.saveCheckpoint(tx, 'p', '0000000000000002');
    });
    expect(countRows(db, 'pup_events')).toBe(2);
    expect(countRows(db, 'pup_heads')).toBe(1);
    expect(countRows(db, 'pup_cps')).toBe(1);
    expect((await store.readAggregateStream(db, stream)).version).toBe(2);
    expect(await store.getCheckpoint(db, 'p')).toBe('0000000000000002');
  });
});

describe('constraint mapping', () => {
  it('maps a duplicate event id to DuplicateEventIdError with the id and the driver error as cause', async () => {
    const { db, store } = await memoryStore();
    const first = await store.append(db, ExpectedVersion.noStream(), eventsOf(newStream()));
    const eventId = first.events[0]!.eventId;
    const error = await store
      .append(
        db,
        ExpectedVersion.any(),
        eventsOf(newStream(), 3).map((e, i) => (i === 2 ? { ...e, eventId } : e)),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateEventIdError);
    expect(error).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventId });
    expect((error as Error).cause).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(countRows(db, 'events')).toBe(1);
    expect(countRows(db, 'aggregate_heads')).toBe(1);
  });

  it('maps a (stream, version) collision to OptimisticConcurrencyError', async () => {
    const { db, store } = await memoryStore();
    const stream = newStream();
    // An event written behind the store's back, without moving the head.
    db.prepare(
      'INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, payload, created_at) VALUES (?, ?, ?, 1, ?, ?, ?, 0)',
    ).run(
      stream.boundedContext,
      stream.aggregateType,
      stream.aggregateId,
      crypto.randomUUID(),
      'Manual',
      Buffer.from('{}'),
    );
    const error = await store
      .append(db, ExpectedVersion.any(), eventsOf(stream))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptimisticConcurrencyError);
    expect(error).toMatchObject({ code: 'OPTIMISTIC_CONCURRENCY', actualVersion: 1 });
    expect((error as Error).cause).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(countRows(db, 'aggregate_heads')).toBe(0);
  });

  it('maps the collision inside a caller’s transaction and restores the head', async () => {
    const { db, store } = await memoryStore();
    const stream = newStream();
    await store.append(db, ExpectedVersion.noStream(), eventsOf(stream, 2));
    const result = await store.transaction(async (tx) => {
      const duplicate = (await store.readAggregateStream(tx, stream)).events[0]!.eventId;
      await store
        .append(tx, ExpectedVersion.exact(2), eventsOf(stream, 1, { eventId: duplicate }))
        .catch(() => undefined);
      // The head is back at 2, so the next append with exact(2) succeeds in the same transaction.
      return store.append(tx, ExpectedVersion.exact(2), eventsOf(stream));
    });
    expect(result).toMatchObject({ fromVersion: 2, toVersion: 3, globalPositions: [3] });
  });
});

describe('appendToStream', () => {
  it('waits for the running transaction, then appends in a transaction of its own', async () => {
    const { db, store } = await memoryStore();
    const order: string[] = [];
    const running = store.transaction(async (tx) => {
      await sleep(5);
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream('first')));
      order.push('transaction');
    });
    const stream = newStream('own');
    const appended = store
      .appendToStream(ExpectedVersion.noStream(), eventsOf(stream, 2))
      .then((result) => {
        order.push('appendToStream');
        return result;
      });
    await Promise.all([running, appended]);
    expect(order).toEqual(['transaction', 'appendToStream']);
    expect(await appended).toMatchObject({ fromVersion: 0, toVersion: 2, globalPositions: [2, 3] });
    expect(db.inTransaction).toBe(false);
    await expect(
      store.appendToStream(ExpectedVersion.noStream(), eventsOf(stream)),
    ).rejects.toMatchObject({ code: 'OPTIMISTIC_CONCURRENCY', actualVersion: 2 });
    expect(countRows(db, 'events')).toBe(3);
  });

  it('gives up with OperationAbortedError when its signal aborts while it waits for its turn', async () => {
    const { db, store } = await memoryStore();
    const controller = new AbortController();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = store.transaction(() => gate);
    const waiting = store
      .appendToStream(ExpectedVersion.noStream(), eventsOf(newStream()), {
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    await sleep(1);
    controller.abort();
    release();
    await running;
    expect(await waiting).toMatchObject({ name: 'OperationAbortedError', code: 'ABORTED' });
    expect(countRows(db, 'events')).toBe(0);
  });
});

describe('appends larger than one INSERT', () => {
  it('writes 300 events with consecutive versions and positions', async () => {
    const { db, store } = await memoryStore();
    const stream = newStream();
    const result = await store.append(db, ExpectedVersion.noStream(), eventsOf(stream, 300));
    expect(result.toVersion).toBe(300);
    expect(result.globalPositions).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const read = await store.readAggregateStream(db, stream);
    expect(read.events.map((e) => e.payload)).toEqual(
      Array.from({ length: 300 }, (_, i) => ({ n: i + 1 })),
    );
  });

  it('writes nothing and burns no position when the last chunk fails', async () => {
    const { db, store } = await memoryStore();
    const seed = await store.append(db, ExpectedVersion.noStream(), eventsOf(newStream()));
    const stream = newStream();
    const events = eventsOf(stream, 300);
    events[299] = { ...events[299]!, eventId: seed.events[0]!.eventId };
    await store.transaction(async (tx) => {
      const error = await store.append(tx, ExpectedVersion.noStream(), events).catch((e) => e);
      expect(error).toBeInstanceOf(DuplicateEventIdError);
      // The clash is the last event, not one of the 128 the first INSERT had already written.
      expect(error).toMatchObject({ eventId: seed.events[0]!.eventId });
    });
    expect(countRows(db, 'events')).toBe(1);
    const next = await store.append(db, ExpectedVersion.noStream(), eventsOf(stream));
    expect(next.globalPositions).toEqual([2]);
  });
});

describe('waitForEvents', () => {
  /**
   * Makes the store listen for commits. A store's first wait resolves, once, when its listener
   * opens (commits made while it opened would otherwise be missed), so the tests below start
   * from a listening store to see which commits wake a wait and when.
   */
  async function listening(store: SqliteEventStore<Database.Database>): Promise<void> {
    await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 50 });
  }

  /** A wait that records when it resolved. */
  function startWaiting(store: SqliteEventStore<Database.Database>, timeoutMs = 10_000) {
    const started = Date.now();
    const state = { woke: false, afterMs: -1 };
    const done = store
      .waitForEvents({ signal: new AbortController().signal, timeoutMs })
      .then(() => {
        state.woke = true;
        state.afterMs = Date.now() - started;
      });
    return { state, done };
  }

  it('wakes right after an appending transaction commits, not before', async () => {
    const { store } = await memoryStore();
    await listening(store);
    const waiting = startWaiting(store);
    await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
      await sleep(5);
      expect(waiting.state.woke).toBe(false);
    });
    await waiting.done;
    expect(waiting.state.afterMs).toBeLessThan(1000);
  });

  it('does not wake for a rolled-back append', async () => {
    const { store } = await memoryStore();
    await listening(store);
    const waiting = startWaiting(store, 60);
    await store
      .transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
        throw new Error('no');
      })
      .catch(() => undefined);
    await waiting.done;
    expect(waiting.state.afterMs).toBeGreaterThanOrEqual(50);
  });

  it('wakes after a caller-opened transaction that appended commits', async () => {
    const { db, store } = await memoryStore();
    await listening(store);
    db.exec('BEGIN IMMEDIATE');
    await store.append(db, ExpectedVersion.noStream(), eventsOf(newStream()));
    // The append itself wakes the waits of that moment (core cannot see the caller's COMMIT); a
    // wait that starts after it is woken by the COMMIT, which the store watches for.
    const waiting = startWaiting(store);
    await sleep(20);
    expect(waiting.state.woke).toBe(false);
    db.exec('COMMIT');
    await waiting.done;
    expect(waiting.state.afterMs).toBeLessThan(1000);
  });

  it('wakes after a store transaction inside a caller-opened transaction commits with it', async () => {
    const { db, store } = await memoryStore();
    await listening(store);
    db.exec('BEGIN IMMEDIATE');
    await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())),
    );
    const waiting = startWaiting(store);
    await sleep(20);
    expect(waiting.state.woke).toBe(false);
    db.exec('COMMIT');
    await waiting.done;
    expect(waiting.state.afterMs).toBeLessThan(1000);
  });

  it('wakes every store on the Database when one of them commits an append', async () => {
    const { db, store } = await memoryStore();
    const reader = createSqliteEventStore(db);
    cleanups.push(() => reader.close());
    await listening(reader);
    const waiting = startWaiting(reader);
    await store.append(db, ExpectedVersion.noStream(), eventsOf(newStream()));
    await waiting.done;
    expect(waiting.state.afterMs).toBeLessThan(1000);

    // An append made through a third store, nested in the writer's transaction, counts too.
    const other = createSqliteEventStore(db);
    cleanups.push(() => other.close());
    const again = startWaiting(reader);
    await store.transaction(async () => {
      await other.transaction((tx) =>
        other.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())),
      );
      await sleep(5);
      expect(again.state.woke).toBe(false);
    });
    await again.done;
    expect(again.state.afterMs).toBeLessThan(1000);
  });

  it('resolves on timeout, on abort, and at once for an aborted signal', async () => {
    const { store } = await memoryStore();
    await listening(store);
    const started = Date.now();
    await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 30 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    const controller = new AbortController();
    const waiting = store.waitForEvents({ signal: controller.signal, timeoutMs: 10_000 });
    controller.abort();
    await waiting;
    await store.waitForEvents({ signal: AbortSignal.abort(), timeoutMs: 10_000 });
  });

  it('is woken by close(), which leaves the database open', async () => {
    const { db, store } = await memoryStore();
    await listening(store);
    const waiting = startWaiting(store);
    await store.close();
    await waiting.done;
    expect(waiting.state.afterMs).toBeLessThan(1000);
    expect(db.open).toBe(true);
  });
});

describe('close', () => {
  it('makes every method reject with StoreClosedError; a second close is harmless', async () => {
    const { db, store } = await memoryStore();
    const stream = newStream();
    const appended = await store.append(db, ExpectedVersion.noStream(), eventsOf(stream));
    await store.close();
    const calls: Record<string, () => Promise<unknown>> = {
      transaction: () => store.transaction(async () => 1),
      append: () => store.append(db, ExpectedVersion.exact(1), eventsOf(stream)),
      readEvents: () => store.readEvents(db, { limit: 10 }),
      readAggregateStream: () => store.readAggregateStream(db, stream),
      getCheckpoint: () => store.getCheckpoint(db, 'p'),
      saveCheckpoint: () => store.saveCheckpoint(db, 'p', appended.events[0]!.checkpoint),
      readProjectionBatch: () => store.readProjectionBatch(db, 'p', { limit: 10 }),
      getLogStatus: () => store.getLogStatus(db),
      migrate: () => store.migrate(),
      waitForEvents: () =>
        store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 10_000 }),
    };
    for (const [method, call] of Object.entries(calls)) {
      const error = await call().then(
        () => new Error(`${method} resolved`),
        (e: unknown) => e,
      );
      expect(error, method).toBeInstanceOf(StoreClosedError);
      expect(error, method).toMatchObject({ code: 'STORE_CLOSED' });
    }
    await store.close();
    expect(countRows(db, 'events')).toBe(1);
    expect(countRows(db, 'projection_checkpoints')).toBe(0);
    expect(db.open).toBe(true);
  });

  it('rolls back a running transaction that calls the closed store, and frees the connection', async () => {
    const { db, store } = await memoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
      await gate;
      await store.append(tx, ExpectedVersion.noStream(), eventsOf(newStream()));
    });
    await sleep(1);
    await store.close();
    release();
    await expect(running).rejects.toBeInstanceOf(StoreClosedError);
    expect(db.inTransaction).toBe(false);
    expect(countRows(db, 'events')).toBe(0);
    // The connection's queue moved on: another store on the Database works.
    const next = createSqliteEventStore(db);
    cleanups.push(() => next.close());
    const result = await next.transaction((tx) =>
      next.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())),
    );
    expect(result.globalPositions).toEqual([1]);
  });
});

describe('two connections to one file', () => {
  const requireFromHere = createRequire(import.meta.url);

  /** Holds the write lock of `file` from another thread for `holdMs`. */
  function holdWriteLock(file: string, holdMs: number): Promise<{ released: Promise<void> }> {
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const Database = require(workerData.driver);
       const db = new Database(workerData.file);
       db.exec('BEGIN IMMEDIATE');
       parentPort.postMessage('locked');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
       db.exec('COMMIT');
       db.close();`,
      {
        eval: true,
        workerData: { driver: requireFromHere.resolve('better-sqlite3'), file, holdMs },
      },
    );
    const released = new Promise<void>((resolve, reject) => {
      worker.once('exit', () => resolve());
      worker.once('error', reject);
    });
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve({ released }));
      worker.once('error', reject);
    });
  }

  async function twoStores(options?: Parameters<typeof createSqliteEventStore>[1]) {
    const { dir, remove } = tempDir();
    const file = join(dir, 'shared.db');
    const a = new Database(file);
    const b = new Database(file);
    const storeA = createSqliteEventStore(a, options);
    const storeB = createSqliteEventStore(b, options);
    cleanups.push(
      remove,
      () => b.close(),
      () => a.close(),
    );
    await storeA.migrate();
    await storeB.migrate();
    return { file, a, b, storeA, storeB };
  }

  it('waits for another connection’s write lock (busy timeout) and then appends', async () => {
    const { file, a, storeA } = await twoStores();
    const { released } = await holdWriteLock(file, 300);
    const started = Date.now();
    const result = await storeA.append(a, ExpectedVersion.noStream(), eventsOf(newStream()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(result.globalPositions).toEqual([1]);
    await released;
  });

  it('fails with SQLITE_BUSY once the busy timeout runs out', async () => {
    const { file, a, storeA } = await twoStores({ busyTimeoutMs: 20 });
    const { released } = await holdWriteLock(file, 400);
    const error = await storeA
      .transaction((tx) => storeA.append(tx, ExpectedVersion.noStream(), eventsOf(newStream())))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ code: 'DATABASE_ERROR', database: 'SQLite' });
    expect((error as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(a.inTransaction).toBe(false);
    await released;
  });

  it('keeps versions and positions consistent across connections', async () => {
    const { a, b, storeA, storeB } = await twoStores();
    const stream = newStream();
    const stores: SqliteEventStore<Database.Database>[] = [storeA, storeB];
    for (let v = 0; v < 10; v++) {
      const store = stores[v % 2]!;
      const result = await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.exact(v), eventsOf(stream)),
      );
      expect(result.globalPositions).toEqual([v + 1]);
    }
    await expect(
      storeA.append(a, ExpectedVersion.exact(3), eventsOf(stream)),
    ).rejects.toMatchObject({ code: 'OPTIMISTIC_CONCURRENCY', actualVersion: 10 });
    const fromB = await storeB.readEvents(b, { limit: 100 });
    expect(fromB.map((e) => e.aggregateVersion)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  });
});
