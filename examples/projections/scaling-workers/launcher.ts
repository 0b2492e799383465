// Starts ProjectionWorker processes on one projection while it appends orders continuously,
// scales them 1 → 4 → 2 (one of the four is killed with SIGKILL, one stopped with SIGTERM),
// waits until the projection has caught up with the last append, and checks through the read
// model that every event was applied exactly once. The whole run is bounded by RUN_LIMIT_MS;
// DEBUG_LEASES=1 prints the lease table while it waits for the workers to rebalance.
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type AppendResult,
  ExpectedVersion,
  getProjectionWorkerStatus,
  type NewEventOf,
  type ProjectionWorkerStatus,
  waitForProjection,
} from '@pup/core';
import { openExampleDatabase, type Total } from '../shared/database.js';
import { check, type ShopEvent } from '../shared/shop.js';
import { createEventApplications, EXAMPLE, LEASE_TTL_MS, PROJECTION, SEGMENTS } from './shared.js';

const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface WorkerProcess {
  id: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const workers: WorkerProcess[] = [];
let nextWorker = 1;

/** Starts a worker process, in the launcher's process group (so run-all's timeout stops it too). */
function startWorker(): WorkerProcess {
  const id = `worker-${nextWorker++}`;
  const child = spawn(process.execPath, ['--import', tsx, join(here, 'worker.ts')], {
    env: { ...process.env, WORKER_ID: id },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const worker = { id, child, exited };
  workers.push(worker);
  return worker;
}

/** Kills every worker still running: on any exit of the launcher, clean or not. */
function killWorkers(): void {
  for (const { child } of workers) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.once('exit', killWorkers);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killWorkers();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

// A watchdog: a run that hangs fails (and takes its workers down) instead of waiting forever.
const RUN_LIMIT_MS = 90_000;
setTimeout(() => {
  console.error(`check failed: the run took longer than ${RUN_LIMIT_MS / 1000}s`);
  process.exit(1);
}, RUN_LIMIT_MS).unref();

const db = await openExampleDatabase(EXAMPLE, { reset: true });
const appended = new Set<string>();
let lastAppend: AppendResult<ShopEvent> | undefined;
let appending = true;
let nextOrder = 1;

/** Appends a few orders (each its own stream) per transaction, until told to stop. */
async function appendContinuously(): Promise<void> {
  while (appending) {
    await db.store.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) {
        const n = nextOrder++;
        const order = {
          boundedContext: 'sales',
          aggregateType: 'Order',
          aggregateId: `order-${n}`,
        };
        const events: NewEventOf<ShopEvent>[] = [
          { ...order, eventType: 'OrderPlaced', payload: { customer: `c${n % 7}`, amount: n } },
          { ...order, eventType: 'OrderShipped', payload: {} },
        ];
        const result = await db.store.append(tx, ExpectedVersion.noStream(), events);
        for (const event of result.events) appended.add(event.eventId);
        lastAppend = result;
      }
    });
    await sleep(20);
  }
}

const status = () => getProjectionWorkerStatus(db.store, PROJECTION, { segments: SEGMENTS });

/**
 * Polls the lease table until `done(status)`, or fails after `timeoutMs`. Generous: on a loaded
 * machine, starting three worker processes at once takes seconds before their first heartbeat.
 */
async function waitForLeases(
  what: string,
  done: (s: ProjectionWorkerStatus) => boolean,
  timeoutMs = 30_000,
): Promise<ProjectionWorkerStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status();
    if (done(s)) return s;
    check(Date.now() < deadline, `${what} within ${timeoutMs} ms (${describe(s)})`);
    if (process.env.DEBUG_LEASES)
      console.log(`[${elapsed()}] ${s.workers.join(',')} / ${describe(s)}`);
    await sleep(100);
  }
}

/** Segments per owner, e.g. `worker-1: 4, worker-4: 4`. */
function describe(s: ProjectionWorkerStatus): string {
  const owned = new Map<string, number>();
  for (const segment of s.segmentStatus) {
    const owner = segment.owner ?? 'nobody';
    owned.set(owner, (owned.get(owner) ?? 0) + 1);
  }
  return [...owned].map(([owner, n]) => `${owner}: ${n}`).join(', ');
}

/** Whether exactly `ids` are live and share every segment fairly. */
const balancedOver =
  (ids: string[]) =>
  (s: ProjectionWorkerStatus): boolean => {
    if (s.workers.length !== ids.length || !ids.every((id) => s.workers.includes(id))) return false;
    const owned = new Map(ids.map((id) => [id, 0]));
    for (const segment of s.segmentStatus) {
      if (segment.owner === null || !owned.has(segment.owner)) return false;
      if (segment.leaseExpiresInMs !== null && segment.leaseExpiresInMs <= 0) return false;
      owned.set(segment.owner, owned.get(segment.owner)! + 1);
    }
    const fair = Math.floor(SEGMENTS / ids.length);
    return [...owned.values()].every((n) => n === fair || n === fair + 1);
  };

const ids = (list: WorkerProcess[]) => list.map((w) => w.id);

async function stopGracefully(worker: WorkerProcess): Promise<void> {
  worker.child.kill('SIGTERM');
  const { code, signal } = await worker.exited;
  check(code === 0, `${worker.id} exits cleanly after SIGTERM (exit ${code ?? signal})`);
}

let appender: Promise<void> | undefined;
try {
  await createEventApplications(db);
  appender = appendContinuously();

  // 1 worker: it leases all the segments.
  const first = startWorker();
  let live = [first];
  await waitForLeases('1 worker holds all segments', balancedOver(ids(live)));
  console.log(`[${elapsed()}] 1 worker: ${describe(await status())}`);

  // 1 → 4: the newcomers get a fair share, the first worker releases the rest.
  live = [...live, startWorker(), startWorker(), startWorker()];
  await waitForLeases('4 workers share the segments', balancedOver(ids(live)));
  console.log(`[${elapsed()}] 4 workers: ${describe(await status())}`);
  await sleep(500);

  // 4 → 2: one killed mid-batch (its leases expire after the TTL), one stopped cleanly.
  const [, killed, stopped] = live as [WorkerProcess, WorkerProcess, WorkerProcess];
  killed.child.kill('SIGKILL');
  const death = await killed.exited;
  check(death.signal === 'SIGKILL', `${killed.id} was killed`);
  console.log(`[${elapsed()}] SIGKILL ${killed.id}; its leases expire in ${LEASE_TTL_MS} ms`);
  await stopGracefully(stopped);
  console.log(`[${elapsed()}] SIGTERM ${stopped.id}: stopped, its segments released`);
  live = live.filter((w) => w !== killed && w !== stopped);
  await waitForLeases('2 workers share the segments', balancedOver(ids(live)));
  console.log(`[${elapsed()}] 2 workers: ${describe(await status())}`);
  await sleep(500);

  // Stop appending, then wait until every segment has committed past the last append.
  appending = false;
  await appender;
  check(lastAppend !== undefined, 'events were appended');
  await waitForProjection(db.store, PROJECTION, lastAppend!, {
    totalPartitions: SEGMENTS,
    timeoutMs: 30_000,
  });
  const final = await status();
  check(final.caughtUp, 'every segment has read the whole log');
  const moves = final.segmentStatus.reduce((sum, s) => sum + Math.max(0, s.epoch - 1), 0);
  console.log(`[${elapsed()}] caught up`);
  for (const worker of live) await stopGracefully(worker);

  // Exactly once: one row per appended event, each applied once, and nothing else.
  const table = db.table('event_applications');
  const rows = await db.query<{ event_id: string; applications: Total }>(
    null,
    `SELECT event_id, applications FROM ${table}`,
  );
  const seen = new Map(rows.map((row) => [row.event_id, Number(row.applications)]));
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  const missing = [...appended].filter((id) => !seen.has(id)).length;
  const unknown = [...seen.keys()].filter((id) => !appended.has(id)).length;
  console.log(
    `workers: ${workers.length} started (1 → 4 → 2, 1 SIGKILLed), segments: ${SEGMENTS}, ` +
      `segment moves: ${moves}, events: ${appended.size}, applied: ${rows.length}, ` +
      `duplicates: ${duplicates}, missing: ${missing}, unknown: ${unknown} (${db.kind}, ${elapsed()})`,
  );
  check(duplicates === 0, `${duplicates} event(s) applied more than once`);
  check(missing === 0, `${missing} event(s) never applied`);
  check(unknown === 0, `${unknown} applied event(s) that were never appended`);
  check(moves > 0, 'segments moved between workers');
  console.log(`ok: every one of ${appended.size} events applied exactly once (${db.kind})`);
} finally {
  appending = false;
  await appender?.catch(() => {});
  killWorkers();
  await db.close();
}
