// Fault tests against the real server, bounded in time: backends killed during appends, reads and
// projection batches, idle_in_transaction_session_timeout, statement and lock timeouts. Only
// connections this file opened are ever terminated: each store's connections carry an
// application_name of their own, and only backends with that name are killed.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConnectionLostError,
  DatabaseError,
  ExpectedVersion,
  type NewEvent,
  OperationAbortedError,
  PupError,
} from '@pup/core';
import pg from 'pg';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import {
  assertLogInvariants,
  assertTypedError,
  FaultLedger,
  ProjectionUnderFaults,
  type RawEventRow,
  readLogOnceVisible,
  runFaultWorkload,
  runLockTimeoutScenario,
  runLockWaitAbortScenario,
  startKilling,
  streamOrderInversions,
} from '../../core/test/support/faults.js';
import { runWriterKillTest } from '../../core/test/support/writer-kill.js';
import {
  createPgEventStore,
  createPostgresJsEventStore,
  type PostgresEventStore,
} from '../src/index.js';
import { admin, dropSchema, postgresUrl, qualifyTables, sleep, uniqueSchema } from './support.js';

/** A migrated store in a schema of its own whose connections all carry `tag` as application_name. */
interface TaggedStore {
  store: PostgresEventStore<any>;
  tag: string;
  schema: string;
  /** Runs raw SQL inside a transaction handle of this driver. */
  run(tx: any, text: string): Promise<any[]>;
  cleanup(): Promise<void>;
}

interface FaultDriver {
  name: 'pg' | 'postgres.js';
  open(max?: number): Promise<TaggedStore>;
}

async function tagged(
  make: (
    tag: string,
    tables: never,
  ) => {
    store: PostgresEventStore<any>;
    run(tx: any, text: string): Promise<any[]>;
    end(): Promise<void>;
  },
): Promise<TaggedStore> {
  const tag = `pup-faults-${randomBytes(5).toString('hex')}`;
  const schema = uniqueSchema();
  await admin().query(`CREATE SCHEMA ${schema}`);
  const { store, run, end } = make(tag, qualifyTables(schema, null) as never);
  await store.migrate();
  return {
    store,
    tag,
    schema,
    run,
    cleanup: async () => {
      await store.close();
      await end();
      await dropSchema(schema);
    },
  };
}

const drivers: FaultDriver[] = [
  {
    name: 'pg',
    open: (max = 8) =>
      tagged((tag, tables) => {
        const pool = new pg.Pool({ connectionString: postgresUrl(), max, application_name: tag });
        // An idle pooled client whose backend is killed emits `error` on the pool.
        pool.on('error', () => {});
        return {
          store: createPgEventStore(pool, { tables }),
          run: async (tx: pg.PoolClient, text: string) => (await tx.query(text)).rows,
          end: () => pool.end(),
        };
      }),
  },
  {
    name: 'postgres.js',
    open: (max = 8) =>
      tagged((tag, tables) => {
        const sql = postgres(postgresUrl(), {
          max,
          onnotice: () => {},
          connection: { application_name: tag },
          // postgres.js 3.4.9 fetches array types on a new connection; a kill during that query
          // is an unhandled rejection inside the driver (the store never sees it). The store
          // needs no fetched types: it binds arrays as literals.
          fetch_types: false,
        });
        return {
          store: createPostgresJsEventStore(sql, { tables }),
          run: async (tx: postgres.TransactionSql, text: string) => [...(await tx.unsafe(text))],
          // After backends were killed, postgres.js' end() can wait out its whole timeout.
          end: () => sql.end({ timeout: 1 }),
        };
      }),
  },
];

/** Terminates one random backend carrying `tag` (never another's); whether there was one. */
async function killOne(tag: string): Promise<boolean> {
  const { rows } = await admin().query(
    `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
     WHERE application_name = $1 AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1`,
    [tag],
  );
  return rows[0]?.killed === true;
}

/** Waits (up to 5 s) until a backend carrying `tag` waits for a lock, or until none does. */
async function waitForLockWait(tag: string, waiting: boolean): Promise<void> {
  const until = performance.now() + 5_000;
  for (;;) {
    const { rows } = await admin().query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [tag],
    );
    if (rows[0].n > 0 === waiting) return;
    if (performance.now() > until) {
      throw new Error(waiting ? 'no backend waits for a lock' : 'a backend still waits for a lock');
    }
    await sleep(10);
  }
}

/** The log and the heads of a store's schema, read with raw SQL on the admin pool. */
async function rawLog(schema: string): Promise<{
  rows: RawEventRow[];
  heads: Map<string, number>;
}> {
  const events = await admin().query(
    `SELECT bounded_context || '/' || aggregate_type || '/' || aggregate_id AS stream,
            aggregate_version, event_id::text AS event_id, global_position
     FROM ${schema}.events`,
  );
  const heads = await admin().query(
    `SELECT bounded_context || '/' || aggregate_type || '/' || aggregate_id AS stream,
            aggregate_version FROM ${schema}.aggregate_heads`,
  );
  return {
    rows: events.rows.map((r) => ({
      stream: r.stream,
      aggregateVersion: Number(r.aggregate_version),
      eventId: r.event_id,
      globalPosition: Number(r.global_position),
    })),
    heads: new Map(heads.rows.map((r) => [r.stream, Number(r.aggregate_version)])),
  };
}

/** The whole log once `count` events are readable, naming the transaction that holds them back. */
function wholeLogOnceVisible(store: PostgresEventStore<any>, count: number) {
  return readLogOnceVisible(store, count, () => store.getOldestRunningTransaction());
}

function event(aggregateId: string, n = 0): NewEvent {
  return {
    boundedContext: 'faults',
    aggregateType: 'Thing',
    aggregateId,
    eventId: randomUUID(),
    eventType: 'Happened',
    payload: { n },
  };
}

describe.each(drivers)('faults on PostgreSQL ($name)', (driver) => {
  it('backends killed during appends, reads and projection batches: typed errors, an exact log, a projection applied exactly once', async () => {
    const subject = await driver.open();
    const { store, tag, schema } = subject;
    const ledger = new FaultLedger();
    const projection = new ProjectionUnderFaults(store);
    try {
      await projection.start();
      const killer = startKilling(() => killOne(tag));
      // A restarted worker halfway through.
      const restart = sleep(1_200).then(() => projection.start());
      await runFaultWorkload(store, ledger, { durationMs: 2_500, transactionTimeoutMs: 5_000 });
      await restart;
      const kills = await killer.stop();
      console.log(`${driver.name}: ${kills} backends killed; ${ledger.summary()}`);
      expect(kills).toBeGreaterThan(5);
      expect(ledger.acknowledged.size).toBeGreaterThan(20);
      expect([...ledger.errors.keys()].some((k) => k.startsWith('ConnectionLostError'))).toBe(true);

      const { rows, heads } = await rawLog(schema);
      assertLogInvariants(rows, ledger, heads);
      console.log(`stream versions out of log order: ${streamOrderInversions(rows)}`);

      // The projection catches up on what is left and has applied every event exactly once.
      const log = await wholeLogOnceVisible(store, rows.length);
      expect(log.map((e) => e.eventId).sort()).toEqual(rows.map((r) => r.eventId).sort());
      const last = log[log.length - 1]!.checkpoint;
      await projection.catchUp(last, () =>
        store.transaction((tx) => store.getCheckpoint(tx, projection.name)),
      );
      await projection.assertExactlyOnce(log);
      // A lost connection is retried as a transient batch failure, never a handler failure.
      expect(projection.handlerFailures().map((f) => f.message)).toEqual([]);
    } finally {
      await projection.stop();
      await subject.cleanup();
    }
  });

  it('idle_in_transaction_session_timeout ends a transaction: ConnectionLostError, nothing of it committed, the process goes on', async () => {
    const subject = await driver.open(2);
    const { store, run, schema } = subject;
    try {
      const cut = event('idle');
      const error = await store
        .transaction(async (tx) => {
          await run(tx, `SET LOCAL idle_in_transaction_session_timeout = '100ms'`);
          await store.append(tx, ExpectedVersion.noStream(), [cut]);
          // The server ends the session while the transaction is idle.
          await sleep(400);
          await store.append(tx, ExpectedVersion.exact(1), [event('idle', 1)]);
        })
        .catch((e: unknown) => e);
      assertTypedError(error);
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect((error as ConnectionLostError).commitUnknown).toBe(false);
      const { rows } = await rawLog(schema);
      expect(rows).toEqual([]);
      // The pool replaces the connection; an idle one the server ends is no crash either.
      const next = await store.appendToStream(ExpectedVersion.noStream(), [event('idle')]);
      expect(next.toVersion).toBe(1);
      await sleep(100);
    } finally {
      await subject.cleanup();
    }
  });

  it('statement_timeout and lock_timeout end a statement waiting for a lock: typed errors, nothing of the transaction committed', async () => {
    const subject = await driver.open(4);
    const { store, run, schema } = subject;
    try {
      const blocked = await runLockTimeoutScenario(store, {
        settings: ['statement_timeout', 'lock_timeout'],
        limit: async (tx, setting) => {
          await run(tx, `SET LOCAL ${setting} = '150ms'`);
          return undefined;
        },
        rawLog: () => rawLog(schema),
        event,
      });
      expect(blocked.lock_timeout).toBeInstanceOf(DatabaseError);
      expect((blocked.lock_timeout as DatabaseError).transient).toBe(true);
      expect(blocked.statement_timeout).toBeInstanceOf(DatabaseError);
      expect(((blocked.statement_timeout as DatabaseError).cause as { code?: string }).code).toBe(
        '57014',
      );
      // A transaction's own timeout gives up on the lock wait too, without leaving a lock behind.
      const again = store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.exact(2), [event('locked', 3)]);
        await sleep(300);
      });
      await sleep(50);
      const timedOut = await store
        .transaction((tx) => store.append(tx, ExpectedVersion.any(), [event('locked', 4)]), {
          timeoutMs: 100,
        })
        .catch((e: unknown) => e);
      expect(timedOut).toBeInstanceOf(OperationAbortedError);
      await again;
      const after = await store.appendToStream(ExpectedVersion.exact(3), [event('locked', 5)]);
      expect(after.toVersion).toBe(4);
    } finally {
      await subject.cleanup();
    }
  });

  it('a processor waiting for another worker’s checkpoint lock stops promptly when its signal aborts', async () => {
    const subject = await driver.open(4);
    try {
      // Only this store's backends (its application_name) are watched.
      await runLockWaitAbortScenario(
        subject.store,
        { waitForLockWait: (waiting) => waitForLockWait(subject.tag, waiting) },
        event,
      );
    } finally {
      await subject.cleanup();
    }
  });

  it('writer processes killed with SIGKILL at random: every acknowledged append once, contiguous versions, a projection applied exactly once', async () => {
    const subject = await driver.open(4);
    const { store, schema } = subject;
    const { worker, dispose } = crashWorkerCommand(new URL('./writer-worker.ts', import.meta.url), {
      PUP_WRITER_PG_URL: postgresUrl(),
      PUP_WRITER_PG_TABLES: JSON.stringify(store.tables),
      PUP_WRITER_PG_DRIVER: driver.name,
    });
    try {
      await runWriterKillTest(store, worker, {
        label: driver.name,
        rawLog: () => rawLog(schema),
        readLog: (count) => wholeLogOnceVisible(store, count),
      });
    } finally {
      dispose();
      await subject.cleanup();
    }
  });

  it('every error seen under faults is a PupError (sanity of the checks themselves)', () => {
    expect(() => assertTypedError(new Error('raw'))).toThrow();
    expect(assertTypedError(new ConnectionLostError('PostgreSQL', 'x'))).toBeInstanceOf(PupError);
  });
});
