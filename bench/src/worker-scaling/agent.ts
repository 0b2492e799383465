/**
 * Child process of the `worker-scaling` workload: one "agent" with its own pup store and pool.
 * The parent forks several and drives them over the IPC channel: some run a `ProjectionWorker`
 * each, one preloads the log, waits for the projection to catch up, runs the raw floor and checks
 * the read model. Loaded once per target, so no run pays for starting Node and tsx.
 */
import {
  type AppendResult,
  type Checkpoint,
  compareCheckpoints,
  ExpectedVersion,
  type Projection,
  ProjectionProcessor,
  ProjectionWorker,
  type ProjectionWorkerConfig,
  waitForProjection,
} from '@pup/core';
import { eventsFor, streamOf } from '../fixtures.js';
import { openScalingDb, type ScalingDb } from './db.js';
import type {
  AgentEvent,
  AgentReply,
  AgentRequest,
  AgentSpec,
  FilteringSupport,
  PreloadResult,
  StopResult,
  WorkerSettings,
} from './protocol.js';

/** Aggregate ids of the workload's log: `ws-<n>`. */
const AGGREGATE_TAG = 'ws';

interface Running {
  controller: AbortController;
  done: Promise<void>;
  handled: () => number;
  error: unknown;
  lastLeaseChangeMs: number;
  worker: ProjectionWorker<any>;
  watch: ReturnType<typeof setInterval>;
}

function send(message: AgentReply | AgentEvent): void {
  process.send?.(message);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function preload(
  db: ScalingDb,
  aggregates: number,
  perAggregate: number,
  rounds: number,
  writers: number,
): Promise<PreloadResult> {
  const start = performance.now();
  const sizes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    sizes.push(Math.floor(perAggregate / rounds) + (r < perAggregate % rounds ? 1 : 0));
  }
  let last: Checkpoint | null = null;
  let events = 0;
  let version = 0;
  for (const size of sizes.filter((s) => s > 0)) {
    let next = 0;
    const writer = async () => {
      for (let i = next++; i < aggregates; i = next++) {
        const expected =
          version === 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(version);
        const result: AppendResult = await db.store.appendToStream(
          expected,
          eventsFor(streamOf(AGGREGATE_TAG, i), size),
        );
        const checkpoint = result.events[result.events.length - 1]!.checkpoint;
        if (last === null || compareCheckpoints(checkpoint, last) > 0) last = checkpoint;
        events += result.events.length;
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    version += size;
  }
  if (last === null) throw new Error('nothing preloaded');
  return { events, checkpoint: last, seconds: (performance.now() - start) / 1000 };
}

function startWorker(db: ScalingDb, projection: string, settings: WorkerSettings): Running {
  let handled = 0;
  const config: ProjectionWorkerConfig & { serverSideFiltering?: boolean } = {
    segments: settings.segments,
    leaseTtlMs: settings.leaseTtlMs,
    heartbeatMs: settings.heartbeatMs,
    batchSize: settings.batchSize,
    ...(settings.serverSideFiltering === undefined
      ? {}
      : { serverSideFiltering: settings.serverSideFiltering }),
  };
  const worker = new ProjectionWorker(db.store, config);
  const definition: Projection<any> = {
    name: projection,
    async handle(event, { tx }) {
      handled += 1;
      const payload = event.payload as { amount: number };
      await db.upsert(tx, event.aggregateId, payload.amount, event.aggregateVersion);
    },
  };
  const controller = new AbortController();
  const started = performance.now();
  let owned = '';
  const running: Running = {
    controller,
    done: Promise.resolve(),
    handled: () => handled,
    error: undefined,
    lastLeaseChangeMs: 0,
    worker,
    watch: setInterval(() => {
      const now = worker.ownedSegments().join(',');
      if (now !== owned) {
        owned = now;
        running.lastLeaseChangeMs = performance.now() - started;
      }
    }, 10),
  };
  running.done = worker.run(definition, { signal: controller.signal }).catch((error: unknown) => {
    running.error = error;
    if (!controller.signal.aborted) send({ type: 'workerFailed', error: describe(error) });
  });
  return running;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as AgentSpec;
  const db = await openScalingDb(spec.targetId, spec.config, spec.poolSize);
  let running: Running | undefined;

  const handle = async (request: AgentRequest): Promise<unknown> => {
    switch (request.type) {
      case 'resetReadModel':
        return db.resetReadModel();
      case 'preload':
        return preload(
          db,
          request.aggregates,
          request.perAggregate,
          request.rounds,
          request.writers,
        );
      case 'settle':
        return db.settle();
      case 'filtering': {
        const processor = new ProjectionProcessor(db.store, {});
        const hash = await db.hashColumn();
        const support: FilteringSupport = {
          option:
            typeof (processor.config as { serverSideFiltering?: unknown }).serverSideFiltering ===
            'boolean',
          hashColumn: hash.exists,
          unhashedRows: hash.unhashedRows,
        };
        return support;
      }
      case 'start':
        if (running !== undefined) throw new Error('a worker is already running');
        running = startWorker(db, request.projection, request.settings);
        return undefined;
      case 'stop': {
        const current = running;
        if (current === undefined) throw new Error('no worker is running');
        running = undefined;
        // Stopping releases every segment: that is no lease move of the run.
        clearInterval(current.watch);
        const segments = current.worker.ownedSegments();
        current.controller.abort();
        await current.done;
        const result: StopResult = {
          handled: current.handled(),
          lastLeaseChangeMs: current.lastLeaseChangeMs,
          segments,
          ...(current.error === undefined ? {} : { error: describe(current.error) }),
        };
        return result;
      }
      case 'await':
        await waitForProjection(db.store, request.projection, request.checkpoint, {
          totalPartitions: request.segments,
          pollIntervalMs: 50,
          timeoutMs: request.timeoutMs,
        });
        return undefined;
      case 'raw':
        return db.rawCatchUp(request.batchSize, request.limit);
      case 'verify':
        return db.verify();
      case 'connectionIds':
        return db.connectionIds();
      case 'otherClients':
        return db.otherClients(request.mine);
      case 'exit':
        if (running !== undefined) {
          running.controller.abort();
          await running.done;
          clearInterval(running.watch);
        }
        await db.close();
        setImmediate(() => process.disconnect?.());
        return undefined;
    }
  };

  process.on('message', (request: AgentRequest) => {
    handle(request).then(
      (value) => send({ id: request.id, ok: true, value: value ?? null }),
      (error: unknown) => send({ id: request.id, ok: false, error: describe(error) }),
    );
  });
  // The parent is gone (killed, or crashed): nobody will ask this process to stop.
  process.on('disconnect', () => process.exit(1));
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`${describe(error)}\n`);
  process.exit(1);
});
