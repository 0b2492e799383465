import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Checkpoint } from '@pup/core';
import { formatRate, progress } from '../progress.js';
import type { SideResult, WorkloadResult } from '../results.js';
import { median } from '../stats.js';
import type { BenchTarget, TargetConfig } from '../targets/types.js';
import { CpuMeter, type CpuSample, type CpuUse, databaseProcessNames } from './cpu.js';
import { exactlyOnce, SCALING_TARGETS, type ScalingTargetId } from './db.js';
import type {
  AgentEvent,
  AgentReply,
  AgentRequest,
  AgentSpec,
  FilteringSupport,
  PreloadResult,
  ReadModelCheck,
  StopResult,
  WorkerSettings,
} from './protocol.js';
import type { CoresUsed, WorkerScalingFigures } from './types.js';

const AGENT = fileURLToPath(new URL('./agent.ts', import.meta.url));

/** How big one run of `worker-scaling` is and how often it runs. */
export interface WorkerScalingOptions {
  /** Events in the log (spread evenly over the aggregates). */
  events: number;
  aggregates: number;
  /** Worker process counts to measure, ascending; the first is the speedup's base. */
  processes: number[];
  segments: number;
  /** Pairs: every run (raw, each count with each filtering) once per pair. */
  pairs: number;
  /** The processor's `batchSize` (batches grow to its default `maxBatchSize` 1000 while behind). */
  batchSize: number;
  /** Longest warm-up of the workers, in ms (it stops earlier once caught up); 0: none. */
  warmUpMs: number;
  /** Whether to refresh statistics and write the preload's dirty pages out before timing. */
  settle: boolean;
}

/**
 * Defaults: 50,000 events over 2,500 aggregates (20 each), 2 pairs: about 3 minutes per target on
 * 2 cores; `--worker-events 200000 --worker-aggregates 10000` for the issue's example size.
 * `--quick`: 2,000 events over 100 aggregates, one pair.
 */
export function workerScalingOptions(quick: boolean): WorkerScalingOptions {
  return quick
    ? {
        events: 2_000,
        aggregates: 100,
        processes: [1, 2, 4],
        segments: 8,
        pairs: 1,
        batchSize: 100,
        warmUpMs: 0,
        settle: false,
      }
    : {
        events: 50_000,
        aggregates: 2_500,
        processes: [1, 2, 4],
        segments: 8,
        pairs: 2,
        batchSize: 100,
        warmUpMs: 3_000,
        settle: true,
      };
}

/** Lease settings of the workers: short, so that the workers share the segments soon. */
const LEASE_TTL_MS = 3_000;
const HEARTBEAT_MS = 250;
/** Rows per transaction of the raw floor (pup's batches grow to 1000 while behind). */
const RAW_BATCH = 1_000;
/** Concurrent appenders of the preload. */
const PRELOAD_WRITERS = 8;
/** Appends per aggregate in the preload: its events lie in this many places of the log. */
const PRELOAD_ROUNDS = 2;

/** Whether the workload runs on this target (PostgreSQL through pg, and MySQL/MariaDB). */
export function workerScalingApplies(target: BenchTarget): boolean {
  return (SCALING_TARGETS as readonly string[]).includes(target.id);
}

/** A request without its id (the agent handle numbers them). */
type AgentCall = AgentRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/** One agent process, driven over IPC. */
class Agent {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private exited: string | undefined;
  /** Called when the agent's worker fails unasked. */
  onWorkerFailure: ((error: string) => void) | undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    spec: AgentSpec,
  ) {
    this.child = fork(AGENT, [JSON.stringify(spec)], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      // The agents' stdout goes to stderr: stdout holds only the report.
      stdio: ['ignore', 2, 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: AgentReply | AgentEvent) => {
        if ('type' in message) {
          if (message.type === 'ready') resolve();
          else this.onWorkerFailure?.(message.error);
          return;
        }
        const waiting = this.pending.get(message.id);
        if (waiting === undefined) return;
        this.pending.delete(message.id);
        if (message.ok) waiting.resolve(message.value);
        else waiting.reject(new Error(`${this.name}: ${message.error}`));
      });
      this.child.on('exit', (code, signal) => {
        this.exited = `${this.name} exited (${signal ?? code})`;
        const error = new Error(this.exited);
        reject(error);
        for (const waiting of this.pending.values()) waiting.reject(error);
        this.pending.clear();
      });
      this.child.on('error', reject);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<T>(request: AgentCall): Promise<T> {
    if (this.exited !== undefined) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  /** Asks the agent to close its store and exit; kills it when it does not within 10 s. */
  async exit(): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.call({ type: 'exit' }).catch(() => this.child.kill('SIGKILL'));
    await gone;
    clearTimeout(timer);
  }
}

/** What one timed run measured. */
interface RunFigures {
  rate: number;
  cpu: CpuUse;
  settledMs: number;
  handled: number[];
  /** The read model's check; null after a warm-up (not checked). */
  check: ReadModelCheck | null;
}

function checked(check: ReadModelCheck, what: string): ReadModelCheck {
  if (!exactlyOnce(check)) {
    throw new Error(
      `${what}: the read model is not exactly once: ${check.aggregates} aggregates, ` +
        `${check.rows} rows, ${check.missing} missing, ${check.short} short, ` +
        `${check.doubled} doubled, ${check.outOfOrder} out of order, ` +
        `${check.wrongBalance} wrong balances, ${check.extra} extra`,
    );
  }
  return check;
}

/** Swallows a rejection that nobody may wait for any more (a race that was lost). */
function quiet(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

/**
 * `worker-scaling`: the log (`events` over `aggregates`, appended through pup) is caught up by
 * ONE projection whose handler upserts its aggregate's row of a read model in the batch's
 * transaction, run by 1, 2 and 4 `ProjectionWorker` processes, each time with
 * `serverSideFiltering: false` and `true` (when core has the option); against the raw floor, one
 * process reading the log in keyset batches and doing the same upserts by hand. Each run is timed
 * from the workers' start until every segment's checkpoint reached the log's end; then the read
 * model must hold every event exactly once (else the workload fails).
 */
export async function runWorkerScaling(
  target: BenchTarget,
  config: TargetConfig,
  options: WorkerScalingOptions,
): Promise<WorkloadResult[]> {
  const unavailable = target.pupUnavailable();
  if (unavailable !== null) throw new Error(`worker-scaling needs pup: ${unavailable}`);
  const targetId = target.id as ScalingTargetId;
  const { events, aggregates, processes, segments, pairs, batchSize } = options;
  if (events % aggregates !== 0) {
    throw new Error(
      `worker-scaling: ${events} events do not split evenly over ${aggregates} aggregates`,
    );
  }
  const label = `[${target.id}] worker-scaling`;
  const meter = new CpuMeter(
    target.adapter === 'mysql',
    databaseProcessNames(
      target.adapter === 'mysql' ? config.mysqlUrl : config.postgresUrl,
      target.adapter === 'mysql' ? 'mysql' : 'postgres',
    ),
  );

  await target.resetTables();
  const most = Math.max(...processes);
  let spawned: Agent[] = [];
  const spawnAll = (): { controller: Agent; workers: Agent[] } => {
    const spawn = (name: string, poolSize: number) => {
      const agent = new Agent(name, { targetId, config, poolSize, name });
      quiet(agent.ready);
      spawned.push(agent);
      return agent;
    };
    return {
      controller: spawn('controller', 12),
      workers: Array.from({ length: most }, (_, i) => spawn(`worker-${i + 1}`, segments + 2)),
    };
  };
  try {
    const spawnStart = performance.now();
    let agents = spawnAll();
    // Up to two retries: the agents load the packages afresh, which fails while another
    // session's build is rewriting their dist/.
    for (let attempt = 1; ; attempt++) {
      try {
        await Promise.all(spawned.map((agent) => agent.ready));
        break;
      } catch (error) {
        await Promise.all(spawned.map((agent) => agent.exit()));
        if (attempt === 3) throw error;
        progress(`${label}: an agent did not start (${String(error)}); retrying in 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        spawned = [];
        agents = spawnAll();
      }
    }
    const { controller, workers } = agents;
    progress(
      `${label}: ${spawned.length} processes ready after ` +
        `${((performance.now() - spawnStart) / 1000).toFixed(1)} s; preloading ${events.toLocaleString('en-US')} events`,
    );

    await controller.call({ type: 'resetReadModel' });
    const preload = await controller.call<PreloadResult>({
      type: 'preload',
      aggregates,
      perAggregate: events / aggregates,
      rounds: Math.min(PRELOAD_ROUNDS, events / aggregates),
      writers: PRELOAD_WRITERS,
    });
    if (preload.events !== events) {
      throw new Error(`preloaded ${preload.events} of ${events} events`);
    }
    if (options.settle) {
      const settleStart = performance.now();
      await controller.call({ type: 'settle' });
      progress(
        `${label}: settled the log (statistics, checkpoint) in ${((performance.now() - settleStart) / 1000).toFixed(1)} s`,
      );
    }
    const support = await controller.call<FilteringSupport>({ type: 'filtering' });
    progress(
      `${label}: preload took ${preload.seconds.toFixed(1)} s; serverSideFiltering option ` +
        `${support.option ? 'present' : 'absent'}, aggregate_hash column ` +
        `${support.hashColumn ? `present (${support.unhashedRows} rows without a hash)` : 'absent'}`,
    );
    // Without the option both settings would run the same code: measure client-side only.
    const modes: (boolean | undefined)[] = support.option ? [false, true] : [undefined];
    const filteringOf = (mode: boolean | undefined): WorkerScalingFigures['filtering'] =>
      mode === true && support.hashColumn ? 'server-side' : 'client-side';
    const timeoutMs = Math.min(2_147_483_647, Math.max(120_000, events * 5));
    const settingsOf = (mode: boolean | undefined): WorkerSettings => ({
      segments,
      leaseTtlMs: LEASE_TTL_MS,
      heartbeatMs: HEARTBEAT_MS,
      batchSize,
      serverSideFiltering: mode,
    });

    /** Other clients' server processes or threads, to leave out of the database's CPU. */
    const otherClients = async (agents: readonly Agent[]): Promise<number[]> => {
      const ids = await Promise.all(agents.map((a) => a.call<number[]>({ type: 'connectionIds' })));
      return controller.call<number[]>({ type: 'otherClients', mine: ids.flat() });
    };

    let runCounter = 0;
    const pupRun = async (count: number, mode: boolean | undefined, warmUp = false) => {
      await controller.call({ type: 'resetReadModel' });
      runCounter += 1;
      const projection = `ws_run_${runCounter}`;
      const team = workers.slice(0, count);
      let failure: ((error: Error) => void) | undefined;
      const failed = new Promise<never>((_, reject) => {
        failure = reject;
      });
      quiet(failed);
      for (const worker of team) {
        worker.onWorkerFailure = (error) => failure?.(new Error(`${worker.name}: ${error}`));
      }
      const pids = team.map((w) => w.pid);
      const benchPids = [process.pid, controller.pid];
      const before: CpuSample = meter.sample(pids, benchPids);
      const start = performance.now();
      const started = Promise.all(
        team.map((w) => w.call({ type: 'start', projection, settings: settingsOf(mode) })),
      );
      const caughtUp = controller.call({
        type: 'await',
        projection,
        segments,
        checkpoint: preload.checkpoint as Checkpoint,
        timeoutMs: warmUp ? options.warmUpMs : timeoutMs,
      });
      quiet(started);
      quiet(caughtUp);
      let seconds = 0;
      let after: CpuSample = before;
      let stops: StopResult[] = [];
      let timedOut = false;
      let others: number[] = [];
      try {
        await Promise.race([Promise.all([started, caughtUp]), failed]).catch((error: unknown) => {
          // A warm-up ends at its time limit whether or not the workers caught up.
          if (!warmUp || !String(error).includes('waitForProjection timed out')) throw error;
          timedOut = true;
        });
        seconds = (performance.now() - start) / 1000;
        after = meter.sample(pids, benchPids);
        others = await otherClients([controller, ...team]);
      } finally {
        stops = await Promise.all(team.map((w) => w.call<StopResult>({ type: 'stop' })));
        for (const worker of team) worker.onWorkerFailure = undefined;
      }
      const broken = stops.find((s) => s.error !== undefined);
      if (broken !== undefined) throw new Error(`a worker failed: ${broken.error}`);
      const check = warmUp
        ? null
        : checked(
            await controller.call<ReadModelCheck>({ type: 'verify' }),
            `${count} process(es)`,
          );
      const figures: RunFigures = {
        rate: events / seconds,
        cpu: meter.use(before, after, others),
        settledMs: Math.max(...stops.map((s) => s.lastLeaseChangeMs)),
        handled: stops.map((s) => s.handled),
        check,
      };
      if (warmUp) {
        progress(
          `${label} warm-up: ${count} processes ${timedOut ? 'stopped at the time limit' : 'caught up'}`,
        );
      }
      return figures;
    };

    const rawRun = async (limit: number): Promise<RunFigures> => {
      await controller.call({ type: 'resetReadModel' });
      const pids = [controller.pid];
      const before = meter.sample(pids, [process.pid]);
      const start = performance.now();
      const read = await controller.call<number>({ type: 'raw', batchSize: RAW_BATCH, limit });
      const seconds = (performance.now() - start) / 1000;
      const after = meter.sample(pids, [process.pid]);
      const others = await otherClients([controller]);
      if (limit >= events && read !== events) {
        throw new Error(`raw read ${read} of ${events} events`);
      }
      const check =
        limit >= events
          ? checked(await controller.call<ReadModelCheck>({ type: 'verify' }), 'raw')
          : null;
      return {
        rate: read / seconds,
        cpu: meter.use(before, after, others),
        settledMs: 0,
        handled: [read],
        check,
      };
    };

    // Warm-up: JIT, pools, statement caches and the buffer cache of every process.
    if (options.warmUpMs > 0) {
      await rawRun(Math.round(events / 10));
      await pupRun(most, modes[0], true);
    }

    const raw: RunFigures[] = [];
    const pup = new Map<string, RunFigures[]>();
    const key = (count: number, mode: boolean | undefined) => `${count}/${String(mode)}`;
    type Step = { kind: 'raw' } | { kind: 'pup'; count: number; mode: boolean | undefined };
    const steps: Step[] = [{ kind: 'raw' }];
    for (const mode of modes) {
      for (const count of processes) steps.push({ kind: 'pup', count, mode });
    }
    for (let pair = 0; pair < pairs; pair++) {
      // Every other pair runs backwards, so that drift over the pair favours no step.
      for (const step of pair % 2 === 0 ? steps : [...steps].reverse()) {
        if (step.kind === 'raw') {
          const figures = await rawRun(Number.MAX_SAFE_INTEGER);
          raw.push(figures);
          progress(`${label} pair ${pair + 1}/${pairs} raw ${formatRate(figures.rate)} events/s`);
          continue;
        }
        const figures = await pupRun(step.count, step.mode);
        const list = pup.get(key(step.count, step.mode)) ?? [];
        list.push(figures);
        pup.set(key(step.count, step.mode), list);
        progress(
          `${label} pair ${pair + 1}/${pairs} ${step.count} process(es), ` +
            `${filteringOf(step.mode)}${step.mode === undefined ? '' : ` (serverSideFiltering: ${step.mode})`} ` +
            `${formatRate(figures.rate)} events/s, handled ${figures.handled.join('+')}, ` +
            `leases settled after ${Math.round(figures.settledMs)} ms, CPU workers ` +
            `${cores(figures.cpu.workers)} db ${cores(figures.cpu.database)} others ${cores(figures.cpu.others)} machine ${cores(figures.cpu.machine)}`,
        );
      }
    }

    const rawSide = summarize(raw);
    const rawCpu = medianCpu(raw);
    const results: WorkloadResult[] = [];
    for (const mode of modes) {
      const base = pup.get(key(processes[0]!, mode))!;
      for (const count of processes) {
        const runs = pup.get(key(count, mode))!;
        const ratios = runs.map((r, i) => r.rate / raw[i]!.rate);
        const speedups = runs.map((r, i) => r.rate / base[i]!.rate);
        const filtering = filteringOf(mode);
        const first = results.length === 0;
        const notes: string[] = [];
        if (first && !support.option) {
          notes.push(
            '@pup/core has no serverSideFiltering option yet: client-side filtering only (every segment reads every row)',
          );
        } else if (first && !support.hashColumn) {
          notes.push(
            'the events table has no aggregate_hash column: serverSideFiltering true filters in the process too',
          );
        }
        results.push({
          target: target.id,
          adapter: target.adapter,
          driver: target.driver,
          workload: 'worker-scaling',
          title: 'one projection caught up by N worker processes, read-model upsert per event',
          size:
            `${events.toLocaleString('en-US')} events / ${aggregates.toLocaleString('en-US')} aggregates, ` +
            `${count} proc × ${segments} seg, ${filtering}`,
          status: 'ok',
          ...(first
            ? {
                sides: {
                  pup: `N ProjectionWorker processes (${segments} segments, lease TTL ${LEASE_TTL_MS} ms, heartbeat ${HEARTBEAT_MS} ms, batchSize ${batchSize}), handler upserts the aggregate's read-model row in context.tx; timed from their start until every segment's checkpoint reached the log's end`,
                  raw: `one process: keyset batches of ${RAW_BATCH} rows, per batch BEGIN; read; decode + upsert per event; save the position; COMMIT`,
                },
              }
            : {}),
          ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
          pup: summarize(runs),
          raw: rawSide,
          ratio: ratioOf(ratios),
          goals: [],
          workerScaling: {
            processes: count,
            segments,
            filtering,
            ...(mode === undefined ? {} : { serverSideFiltering: mode }),
            speedup: ratioOf(speedups),
            cpu: medianCpu(runs),
            rawCpu,
            leasesSettledMs: median(runs.map((r) => r.settledMs)),
            handledPerProcess: runs[runs.length - 1]!.handled,
            readModel: runs[runs.length - 1]!.check!,
          },
        });
      }
    }
    return results;
  } finally {
    await Promise.all(spawned.map((agent) => agent.exit()));
  }
}

function cores(value: number | null): string {
  return value === null ? '?' : value.toFixed(2);
}

function summarize(runs: readonly RunFigures[]): SideResult {
  const rates = runs.map((r) => r.rate);
  return { eventsPerSec: median(rates), runs: rates };
}

function ratioOf(values: number[]): WorkerScalingFigures['speedup'] {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    pairs: values,
  };
}

function medianCpu(runs: readonly RunFigures[]): CoresUsed {
  const of = (pick: (use: CpuUse) => number | null): number | null => {
    const values = runs.map((r) => pick(r.cpu)).filter((v): v is number => v !== null);
    return values.length === 0 ? null : median(values);
  };
  return {
    workers: of((c) => c.workers),
    database: of((c) => c.database),
    machine: of((c) => c.machine),
    others: of((c) => c.others),
  };
}
