import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ProjectionProcessor } from '../../projection/processor.js';
import type { Projection } from '../../projection/types.js';
import type { EventStore, PersistedEvent } from '../../types.js';
import {
  appendEvents,
  itIf,
  readCheckpoint,
  readWholeLog,
  sleep,
  withFreshStore,
} from '../helpers.js';
import { limitTime, testTimeLimit } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { assertConsistentWithCheckpoint, CheckpointTableReadModel } from './support.js';

/** The crash test may take this many times the harness's time limit (it has four phases). */
const CRASH_TEST_LIMIT_FACTOR = 4;

/** Prefix of every line the crash worker writes to stdout. */
const LINE_PREFIX = 'pup-crash ';

/** Environment variables the driver passes to the crash worker. */
export const CRASH_WORKER_ENV = {
  /** Name of the projection (and prefix of its read model). */
  projection: 'PUP_CRASH_PROJECTION',
  /** Batch size of the worker's processor. */
  batchSize: 'PUP_CRASH_BATCH_SIZE',
  /** After handling this many events, hang inside the batch (transaction open) until killed. */
  pauseAfter: 'PUP_CRASH_PAUSE_AFTER',
  /** Milliseconds the handler waits after each event, to make a kill land mid-batch. */
  eventDelayMs: 'PUP_CRASH_EVENT_DELAY_MS',
} as const;

/** How to start the crash worker: a program that opens the store and calls
 * {@link runProjectionCrashWorker}. */
export interface CrashWorkerCommand {
  /** Executable, such as `process.execPath`. */
  command: string;
  /** Its arguments, such as `['--import', 'tsx', 'test/crash-worker.ts']`. */
  args?: readonly string[];
  /** Extra environment (the database location, typically); the driver adds its own variables. */
  env?: Record<string, string | undefined>;
  /** Working directory. @default process.cwd() */
  cwd?: string;
}

/** Options of {@link runProjectionCrashScenario}. */
export interface ProjectionCrashScenarioOptions {
  /** A store in this process over the same database the worker opens (migrated). */
  store: EventStore<any>;
  /** How to start the worker process. */
  worker: CrashWorkerCommand;
  /** Events in the log at the end (two thirds before the crashes, the rest after). @default 300 */
  events?: number;
  /** The worker's batch size. @default 20 */
  batchSize?: number;
  /** Time limit of each phase (start, catch-up, exit), in milliseconds. @default 60000 */
  phaseTimeoutMs?: number;
  /** Receives a line per phase, for the test's output. */
  log?: (message: string) => void;
}

/** One SIGKILL of the scenario. */
export interface CrashRecord {
  /** `'paused mid-batch'`: killed while a handler hung inside a batch; `'running'`: at a random point. */
  when: 'paused mid-batch' | 'running';
  /** Events the killed process handed to its handler (committed or not). */
  handledBeforeKill: number;
  /** Events of the log covered by the checkpoint after the kill. */
  committedAfterKill: number;
}

/** What {@link runProjectionCrashScenario} did. */
export interface ProjectionCrashScenarioReport {
  /** Name of the projection (unique per run). */
  projectionName: string;
  /** Events in the log at the end, each applied exactly once. */
  events: number;
  /** The kills, in order. */
  crashes: CrashRecord[];
}

/**
 * Crash test of exactly-once projections, for any adapter: a worker process runs a projection
 * that writes a read model in its batch transactions, and is killed with SIGKILL twice, first
 * while a handler hangs in the middle of a batch (its transaction open, some events handled but
 * not committed), then at a random point while it runs. After each kill the read model must hold
 * exactly the events up to the saved checkpoint. More events are appended while no worker runs;
 * a last worker catches up and is stopped with SIGTERM; the read model must then hold every
 * event's effect exactly once.
 *
 * The worker is a small program of the adapter's test suite: it opens the same database and calls
 * {@link runProjectionCrashWorker} with its store. The read model is kept in the checkpoints
 * table (see the projection conformance groups), so nothing beyond the store contract is needed.
 * Rejects (an `AssertionError`) on any violation; resolves with a report.
 *
 * @example
 * await runProjectionCrashScenario({
 *   store,
 *   worker: {
 *     command: process.execPath,
 *     args: ['--import', 'tsx', 'test/crash-worker.ts'],
 *     env: { DB_FILE: file },
 *   },
 * });
 */
export async function runProjectionCrashScenario(
  options: ProjectionCrashScenarioOptions,
): Promise<ProjectionCrashScenarioReport> {
  const { store, worker } = options;
  const total = options.events ?? 300;
  const batchSize = options.batchSize ?? 20;
  const timeoutMs = options.phaseTimeoutMs ?? 60_000;
  const log = options.log ?? (() => {});
  const first = Math.ceil((total * 2) / 3);
  const pauseAfter = batchSize + Math.ceil(batchSize / 2);
  assert.ok(first > pauseAfter + 2, `events (${total}) must be at least 3 batches (${batchSize})`);

  const projectionName = `crash-${randomUUID()}`;
  const readModel = new CheckpointTableReadModel(store, projectionName);
  const crashes: CrashRecord[] = [];
  const start = (env: Record<string, string>) =>
    WorkerProcess.start(worker, {
      [CRASH_WORKER_ENV.projection]: projectionName,
      [CRASH_WORKER_ENV.batchSize]: String(batchSize),
      ...env,
    });
  const committed = async (events: PersistedEvent[], what: string) =>
    assertConsistentWithCheckpoint(
      readModel,
      events,
      await readCheckpoint(store, projectionName),
      what,
    );

  await appendEvents(store, streamsFor(first), 7);
  let events = await readWholeLog(store);
  log(`appended ${events.length} events`);

  // 1. Killed while a handler hangs in its second batch: one batch committed, half a batch not.
  const paused = await start({ [CRASH_WORKER_ENV.pauseAfter]: String(pauseAfter) });
  try {
    await paused.waitFor((line) => line === 'paused', timeoutMs, 'the worker to pause mid-batch');
    await paused.kill('SIGKILL', timeoutMs);
  } finally {
    paused.dispose();
  }
  const afterPause = await committed(events, 'after SIGKILL mid-batch');
  assert.equal(afterPause, batchSize, 'only the first batch was committed before the kill');
  crashes.push({
    when: 'paused mid-batch',
    handledBeforeKill: paused.handled,
    committedAfterKill: afterPause,
  });
  log(`SIGKILL mid-batch: ${paused.handled} handled, ${afterPause} committed`);

  // 2. Killed at a random point while it runs.
  const target = randomInt(1, first - afterPause);
  const running = await start({ [CRASH_WORKER_ENV.eventDelayMs]: '2' });
  try {
    await running.waitFor(
      () => running.handled >= target,
      timeoutMs,
      `the worker to handle ${target} events`,
    );
    await running.kill('SIGKILL', timeoutMs);
  } finally {
    running.dispose();
  }
  const afterRandom = await committed(events, 'after SIGKILL while running');
  assert.ok(afterRandom >= afterPause, 'the checkpoint never moves back');
  crashes.push({
    when: 'running',
    handledBeforeKill: running.handled,
    committedAfterKill: afterRandom,
  });
  log(`SIGKILL while running: ${running.handled} handled, ${afterRandom} committed`);

  // 3. More events while no worker runs; a restart finishes and stops cleanly.
  await appendEvents(store, streamsFor(total - first), 5);
  events = await readWholeLog(store);
  const last = events.at(-1)!.checkpoint;
  const finisher = await start({});
  try {
    const deadline = Date.now() + timeoutMs;
    while ((await readCheckpoint(store, projectionName)) !== last) {
      assert.ok(finisher.exitCode === undefined, `the worker exited early${finisher.describe()}`);
      assert.ok(
        Date.now() < deadline,
        `the restarted worker did not catch up${finisher.describe()}`,
      );
      await sleep(25);
    }
    const exit = await finisher.kill('SIGTERM', timeoutMs);
    assert.equal(exit.code, 0, `the worker exits with 0 after SIGTERM${finisher.describe()}`);
    assert.ok(finisher.lines.includes('stopped'), 'the worker reports a clean stop');
  } finally {
    finisher.dispose();
  }
  await readModel.assertApplied(events, () => true, 'after the restart');
  log(`restart: all ${events.length} events applied exactly once`);
  return { projectionName, events: events.length, crashes };
}

function streamsFor(count: number) {
  const streams = Math.max(1, Math.ceil(count / 15));
  return Array.from({ length: streams }, (_, i) => ({
    aggregateType: 'CrashTest',
    count: Math.floor(count / streams) + (i < count % streams ? 1 : 0),
  }));
}

/** A running worker process and the lines it has written. */
class WorkerProcess {
  readonly lines: string[] = [];
  handled = 0;
  exitCode: number | null | undefined;
  private stderr = '';
  private readonly listeners = new Set<() => void>();
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(LINE_PREFIX)) return;
      const message = line.slice(LINE_PREFIX.length);
      this.lines.push(message);
      if (message.startsWith('handled ')) this.handled++;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  static async start(
    worker: CrashWorkerCommand,
    env: Record<string, string>,
  ): Promise<WorkerProcess> {
    const child = spawn(worker.command, [...(worker.args ?? [])], {
      cwd: worker.cwd,
      env: { ...process.env, ...worker.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = new WorkerProcess(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return started;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Resolves once `predicate` holds for a line (or for the worker's state); fails on timeout. */
  waitFor(predicate: (line: string) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.lines.some(predicate)) finish();
        else if (this.exitCode !== undefined) {
          finish(new Error(`the worker exited while waiting for ${what}${this.describe()}`));
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out waiting for ${what}${this.describe()}`)),
        timeoutMs,
      );
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals, timeoutMs: number) {
    if (this.exitCode === undefined) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the worker did not exit after ${signal}${this.describe()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the process if it still runs (cleanup after a failure). */
  dispose(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }

  describe(): string {
    return this.stderr ? `\n--- worker stderr ---\n${this.stderr}` : '';
  }
}

/** Options of {@link runProjectionCrashWorker}. */
export interface ProjectionCrashWorkerOptions {
  /** Where the settings come from. @default process.env */
  env?: Record<string, string | undefined>;
  /** Where progress lines go. @default process.stdout */
  write?: (line: string) => void;
}

/**
 * The worker side of {@link runProjectionCrashScenario}: runs the scenario's projection against
 * `store` with the settings the driver passes in the environment, until SIGTERM or SIGINT.
 * Reports progress as `pup-crash …` lines on stdout. Call it from the adapter's worker program,
 * then close the store.
 *
 * @example
 * // test/crash-worker.ts
 * const store = createSqliteEventStore(new Database(process.env.DB_FILE!));
 * await runProjectionCrashWorker(store);
 * await store.close();
 */
export async function runProjectionCrashWorker(
  store: EventStore<any>,
  options: ProjectionCrashWorkerOptions = {},
): Promise<void> {
  const env = options.env ?? process.env;
  const write =
    options.write ?? ((line: string) => void process.stdout.write(`${LINE_PREFIX}${line}\n`));
  const name = env[CRASH_WORKER_ENV.projection];
  assert.ok(name, `${CRASH_WORKER_ENV.projection} is not set`);
  const batchSize = Number(env[CRASH_WORKER_ENV.batchSize] ?? 20);
  const pauseAfter = Number(env[CRASH_WORKER_ENV.pauseAfter] ?? 0);
  const eventDelayMs = Number(env[CRASH_WORKER_ENV.eventDelayMs] ?? 0);

  const readModel = new CheckpointTableReadModel(store, name);
  let handled = 0;
  const projection: Projection<any> = {
    name,
    async handle(event, { tx }) {
      await readModel.apply(tx, event);
      handled++;
      write(`handled ${event.globalPosition}`);
      if (handled === pauseAfter) {
        write('paused');
        // Hang inside the batch, its transaction open, until the driver kills the process.
        await new Promise(() => setInterval(() => {}, 60_000));
      }
      if (eventDelayMs > 0) await sleep(eventDelayMs);
    },
  };
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    write('ready');
    await new ProjectionProcessor(store, { batchSize, pollIntervalMs: 20 }).run(projection, {
      signal: controller.signal,
    });
    write('stopped');
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/**
 * Registers the crash-recovery group: {@link runProjectionCrashScenario} against a fresh store of
 * the harness, with the worker from `harness.crashWorker`. Skipped with a reason unless the
 * harness declares `capabilities.crashRecovery` and provides `crashWorker`.
 */
export function describeProjectionCrashConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  const supported =
    harness.capabilities?.crashRecovery === true && typeof harness.crashWorker === 'function';
  api.describe('projections: crash recovery', () => {
    itIf(
      api,
      supported,
      'a worker killed with SIGKILL mid-batch restarts and applies every event exactly once',
      'the harness declares no crash worker (capabilities.crashRecovery and crashWorker)',
      () =>
        withFreshStore(harness, async (subject) => {
          const worker = await harness.crashWorker!(subject);
          const report = await runProjectionCrashScenario({
            store: subject.store,
            worker,
            phaseTimeoutMs: testTimeLimit(harness),
          });
          assert.equal(report.crashes.length, 2);
        }),
      { factor: CRASH_TEST_LIMIT_FACTOR },
    );
  });
}
