// Fault tests against the real server (MariaDB here, MySQL 8 where a container runs), bounded in
// time: connections killed (`KILL`) during appends, reads and projection batches, a transaction
// left idle past `idle_transaction_timeout`, statement and lock-wait timeouts, an abort during a
// checkpoint-lock wait. Only connections of this file's own pools are ever killed: their ids are
// collected as the pool opens them.
import { randomUUID } from 'node:crypto';
import { ConnectionLostError, DatabaseError, ExpectedVersion, type NewEvent } from '@pup/core';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import {
  assertLogInvariants,
  assertTypedError,
  FaultLedger,
  ProjectionUnderFaults,
  type RawEventRow,
  readLogOnceVisible,
  readWholeLog,
  retried,
  runFaultWorkload,
  runLockTimeoutScenario,
  runLockWaitAbortScenario,
  startKilling,
  streamOrderInversions,
} from '../../core/test/support/faults.js';
import { runWriterKillTest } from '../../core/test/support/writer-kill.js';
import type { MysqlEventStore } from '../src/index.js';
import { adminQuery, createTestStore, mysqlUrl, sleep, type TestStore } from './support.js';

/** A store on a pool of its own whose connection ids are known, so only they are killed. */
interface KillableStore {
  subject: TestStore;
  store: MysqlEventStore;
  pool: mysql.Pool;
  /** Server ids of the pool's connections opened so far and not yet killed. */
  ids: Set<number>;
  /** Kills one of them at random; whether there was one. */
  killOne(): Promise<boolean>;
  cleanup(): Promise<void>;
}

async function killableStore(connectionLimit = 8): Promise<KillableStore> {
  const pool = mysql.createPool({ uri: mysqlUrl(), connectionLimit });
  const ids = new Set<number>();
  pool.on('connection', (conn) => {
    ids.add((conn as unknown as { threadId: number }).threadId);
  });
  const subject = await createTestStore(undefined, pool);
  return {
    subject,
    store: subject.store,
    pool,
    ids,
    async killOne() {
      const candidates = [...ids];
      if (candidates.length === 0) return false;
      const id = candidates[Math.floor(Math.random() * candidates.length)]!;
      ids.delete(id);
      try {
        await adminQuery(`KILL ${Number(id)}`);
        return true;
      } catch (error) {
        // ER_NO_SUCH_THREAD: the pool closed it already.
        if ((error as { errno?: number }).errno === 1094) return false;
        throw error;
      }
    },
    async cleanup() {
      await subject.cleanup();
      await pool.end();
    },
  };
}

/** Whether the server is MariaDB (else MySQL). */
async function isMariaDb(): Promise<boolean> {
  const rows = await adminQuery('SELECT VERSION() AS version');
  return /mariadb/i.test(String(rows[0].version));
}

/** The log and the heads of a store's database, read with raw SQL on the admin pool. */
async function rawLog(subject: TestStore): Promise<{
  rows: RawEventRow[];
  heads: Map<string, number>;
}> {
  const stream = `CONCAT(CAST(bounded_context AS CHAR), '/', CAST(aggregate_type AS CHAR), '/', CAST(aggregate_id AS CHAR))`;
  const events = await adminQuery(
    `SELECT ${stream} AS stream, aggregate_version, LOWER(HEX(event_id)) AS event_id, global_position
     FROM ${subject.sql.events}`,
  );
  const heads = await adminQuery(
    `SELECT ${stream} AS stream, aggregate_version FROM ${subject.sql.heads}`,
  );
  const dashed = (hex: string) =>
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return {
    rows: events.map((r) => ({
      stream: r.stream,
      aggregateVersion: Number(r.aggregate_version),
      eventId: dashed(r.event_id),
      globalPosition: Number(r.global_position),
    })),
    heads: new Map(heads.map((r) => [r.stream, Number(r.aggregate_version)])),
  };
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

/** Resolves with what `promise` settles to, rejection included. */
function settled<T>(promise: Promise<T>): Promise<T | unknown> {
  return promise.catch((e: unknown) => e);
}

describe('faults on MySQL / MariaDB', () => {
  it('connections killed during appends, reads and projection batches: typed errors, an exact log, a projection applied exactly once', async () => {
    const killable = await killableStore();
    const { store, subject } = killable;
    const ledger = new FaultLedger();
    const projection = new ProjectionUnderFaults(store);
    try {
      await projection.start();
      const killer = startKilling(() => killable.killOne());
      const restart = sleep(1_200).then(() => projection.start());
      await runFaultWorkload(store, ledger, { durationMs: 2_500, transactionTimeoutMs: 5_000 });
      await restart;
      const kills = await killer.stop();
      console.log(`mysql2: ${kills} connections killed; ${ledger.summary()}`);
      expect(kills).toBeGreaterThan(5);
      expect(ledger.acknowledged.size).toBeGreaterThan(20);
      expect([...ledger.errors.keys()].some((k) => k.startsWith('ConnectionLostError'))).toBe(true);

      const { rows, heads } = await rawLog(subject);
      assertLogInvariants(rows, ledger, heads);
      console.log(`stream versions out of log order: ${streamOrderInversions(rows)}`);

      const log = await retried(() => readWholeLog(store));
      expect(log.map((e) => e.eventId).sort()).toEqual(rows.map((r) => r.eventId).sort());
      const last = log[log.length - 1]!.checkpoint;
      await projection.catchUp(last, () =>
        store.transaction((tx) => store.getCheckpoint(tx, projection.name)),
      );
      await projection.assertExactlyOnce(log);
      expect(projection.handlerFailures().map((f) => f.message)).toEqual([]);
    } finally {
      await projection.stop();
      await killable.cleanup();
    }
  });

  it('a transaction left idle past idle_transaction_timeout: ConnectionLostError, nothing of it committed', async () => {
    const killable = await killableStore(2);
    const { store, subject } = killable;
    try {
      // MariaDB ends sessions idle in a transaction; MySQL 8 only idle sessions (wait_timeout).
      const idleTimeout = (await isMariaDb()) ? 'idle_transaction_timeout' : 'wait_timeout';
      const error = await settled(
        store.transaction(async (tx) => {
          await tx.query(`SET SESSION ${idleTimeout} = 1`);
          await store.append(tx, ExpectedVersion.noStream(), [event('idle')]);
          // The server ends the session while the transaction is idle.
          await sleep(1_600);
          await store.append(tx, ExpectedVersion.exact(1), [event('idle', 1)]);
        }),
      );
      assertTypedError(error);
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect((await rawLog(subject)).rows).toEqual([]);
      const next = await store.appendToStream(ExpectedVersion.noStream(), [event('idle')]);
      expect(next.toVersion).toBe(1);
    } finally {
      await killable.cleanup();
    }
  });

  it('statement and lock-wait timeouts end an append waiting for a lock: typed errors, nothing of the transaction committed', async () => {
    const killable = await killableStore(4);
    const { store, subject } = killable;
    try {
      // MySQL 8's max_execution_time only applies to SELECT: the statement timeout is MariaDB's.
      const blocked = await runLockTimeoutScenario(store, {
        settings: (await isMariaDb())
          ? ['max_statement_time = 0.2', 'innodb_lock_wait_timeout = 1']
          : ['innodb_lock_wait_timeout = 1'],
        // Session variables stay on the pooled connection: set back after the append.
        limit: async (tx, setting) => {
          await tx.query(`SET SESSION ${setting}`);
          return async () => {
            await tx.query(`SET SESSION ${setting.split(' ')[0]} = DEFAULT`);
          };
        },
        rawLog: () => rawLog(subject),
        event,
      });
      for (const error of Object.values(blocked)) expect(error).toBeInstanceOf(DatabaseError);
      expect((blocked['innodb_lock_wait_timeout = 1'] as DatabaseError).transient).toBe(true);
    } finally {
      await killable.cleanup();
    }
  });

  it('writer processes killed with SIGKILL at random: every acknowledged append once, contiguous versions, a projection applied exactly once', async () => {
    const killable = await killableStore(4);
    const { store, subject } = killable;
    const { worker, dispose } = crashWorkerCommand(new URL('./writer-worker.ts', import.meta.url), {
      PUP_WRITER_MYSQL_URL: mysqlUrl(),
      PUP_WRITER_MYSQL_TABLES: JSON.stringify(store.tables),
    });
    try {
      await runWriterKillTest(store, worker, {
        label: 'mysql2',
        rawLog: () => rawLog(subject),
        // A dead writer's block is given back when the server ends its session; readers wait.
        readLog: (count) => readLogOnceVisible(store, count),
      });
    } finally {
      dispose();
      await killable.cleanup();
    }
  });

  it('a processor waiting for another worker’s checkpoint lock stops promptly when its signal aborts', async () => {
    const killable = await killableStore(4);
    try {
      await runLockWaitAbortScenario(
        killable.store,
        { waitForLockWait: (waiting) => waitForLockWait(killable.ids, waiting) },
        event,
      );
    } finally {
      await killable.cleanup();
    }
  });
});

/**
 * Waits (up to 5 s) until one of the connections `ids` runs the checkpoint-lock statement (it
 * returns at once unless it waits for the lock), or until none does.
 */
async function waitForLockWait(ids: ReadonlySet<number>, waiting: boolean): Promise<void> {
  const until = performance.now() + 5_000;
  for (;;) {
    const rows = await adminQuery(
      `SELECT ID AS id FROM information_schema.PROCESSLIST
       WHERE INFO LIKE '%ON DUPLICATE KEY UPDATE position = LAST_INSERT_ID(position)%'`,
    );
    const mine = rows.some((r) => ids.has(Number(r.id)));
    if (mine === waiting) return;
    if (performance.now() > until) {
      throw new Error(waiting ? 'no connection waits for a lock' : 'a connection still waits');
    }
    await sleep(10);
  }
}
