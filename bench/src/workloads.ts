import type { NewEvent } from '@pup/core';
import { eventsFor, preloadedStream, runTag, streamOf } from './fixtures.js';
import { LatencyRecorder } from './stats.js';
import type { AdapterName, BenchTarget, SideOps } from './targets/types.js';

/** How much work each workload does on one adapter. */
export interface Sizes {
  /** Appends (= transactions) per run of `append-1`. */
  append1: number;
  /** Transactions per run of `append-100`. */
  append100: number;
  /** Appends per run of `append-1x8`, shared by the 8 writers. */
  concurrent: number;
  /** Streams of 100 events preloaded for `read-stream-100`. */
  readStreams: number;
  /** Stream reads per run of `read-stream-100`. */
  reads: number;
  /** Events in the log caught up by `catch-up`. */
  catchUp: number;
  /** Events in the log caught up by `catch-up-rss` (in a child process). */
  rss: number;
  /** Events per batch of both catch-up workloads (the processor's default). */
  batchSize: number;
  /** A/B pairs per workload. */
  pairs: number;
  /** A/B pairs of `catch-up` (its runs are the longest). */
  catchUpPairs: number;
  /** Slices per run of the sliced workloads, interleaved across the sides. */
  slices: number;
}

/** Full sizes for a database server (each commit waits for the server's disk). */
const SERVER_SIZES: Sizes = {
  append1: 1_500,
  append100: 200,
  concurrent: 4_000,
  readStreams: 500,
  reads: 1_500,
  catchUp: 200_000,
  rss: 1_000_000,
  batchSize: 100,
  pairs: 5,
  catchUpPairs: 3,
  slices: 10,
};

const FULL: Record<AdapterName, Sizes> = {
  sqlite: {
    append1: 10_000,
    append100: 400,
    concurrent: 10_000,
    readStreams: 500,
    reads: 2_000,
    catchUp: 300_000,
    rss: 1_000_000,
    batchSize: 100,
    pairs: 5,
    catchUpPairs: 3,
    slices: 10,
  },
  postgres: SERVER_SIZES,
  mysql: SERVER_SIZES,
};

const QUICK: Sizes = {
  append1: 200,
  append100: 10,
  concurrent: 400,
  readStreams: 50,
  reads: 200,
  catchUp: 5_000,
  rss: 20_000,
  batchSize: 100,
  pairs: 2,
  catchUpPairs: 2,
  slices: 2,
};

/** The sizes for an adapter; `--quick` shrinks every workload to a smoke test. */
export function sizesFor(adapter: AdapterName, quick: boolean): Sizes {
  return quick ? QUICK : FULL[adapter];
}

/** What one timed run of one side measured. */
export interface RunMeasure {
  events: number;
  seconds: number;
  latencies?: LatencyRecorder;
}

/** A workload run A/B in-process by the runner. */
export interface Workload {
  readonly id: string;
  readonly title: string;
  /** The pup/raw ratio the issue asks for, or null when none is set. */
  target(adapter: AdapterName): number | null;
  /** Size of one run, for the report. */
  describe(sizes: Sizes): string;
  /** Fresh tables (and preloaded rows) for the whole workload; untimed. */
  setup(target: BenchTarget, sizes: Sizes): Promise<void>;
  /** Brings the tables back to the same state before every pair; untimed. */
  beforeRun(target: BenchTarget): Promise<void>;
  /**
   * Whether a run can be cut into slices that the runner interleaves with the other sides'
   * slices, so every side sees the same background load (everything but the catch-up).
   */
  readonly sliced: boolean;
  /** Whether the raw+ baseline runs too (raw + head row, or raw + decoding). */
  readonly withPlusBaseline: boolean;
  /** A/B pairs of this workload. */
  pairs(sizes: Sizes): number;
  /** One timed run, or the `scale` share of one (a slice, or the warm-up). */
  run(side: SideOps, sizes: Sizes, scale: number): Promise<RunMeasure>;
}

const APPEND_TARGET: Record<AdapterName, number> = { sqlite: 0.85, postgres: 0.85, mysql: 0.85 };

function scaled(n: number, scale: number): number {
  return Math.max(1, Math.round(n * scale));
}

/** Builds the input of `count` appends of `perAppend` events to new streams (untimed). */
function newStreamAppends(count: number, perAppend: number): NewEvent[][] {
  const tag = runTag();
  const appends: NewEvent[][] = new Array(count);
  for (let i = 0; i < count; i++) appends[i] = eventsFor(streamOf(tag, i), perAppend);
  return appends;
}

/** Runs the appends with `writers` concurrent async writers; records each append's latency. */
async function timeAppends(
  side: SideOps,
  appends: NewEvent[][],
  writers: number,
): Promise<RunMeasure> {
  const latencies = new LatencyRecorder();
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < appends.length; i = next++) {
      const begin = performance.now();
      await side.append(appends[i]!);
      latencies.add(performance.now() - begin);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  const seconds = (performance.now() - start) / 1000;
  const events = appends.reduce((sum, events) => sum + events.length, 0);
  return { events, seconds, latencies };
}

function appendWorkload(
  id: string,
  title: string,
  perAppend: number,
  writers: number,
  count: (sizes: Sizes) => number,
  target: (adapter: AdapterName) => number | null,
): Workload {
  return {
    id,
    title,
    target,
    describe: (sizes) =>
      `${count(sizes).toLocaleString('en-US')} tx × ${perAppend} event${perAppend > 1 ? 's' : ''}` +
      (writers > 1 ? `, ${writers} writers` : ''),
    sliced: true,
    withPlusBaseline: true,
    pairs: (sizes) => sizes.pairs,
    setup: (t) => t.resetTables(),
    beforeRun: (t) => t.emptyTables(),
    run: (side, sizes, scale) =>
      timeAppends(side, newStreamAppends(scaled(count(sizes), scale), perAppend), writers),
  };
}

/**
 * Catch-up of a preloaded log: core's `ProjectionProcessor` with a no-op handler (one transaction
 * per batch: read the checkpoint, read the batch, save the checkpoint, commit) against a raw keyset
 * read of the same rows and columns in the same batch size (one query per batch, no transaction,
 * no checkpoint). Whole runs alternate; the log is read, never changed, so no reset in between.
 */
function catchUpWorkload(id: string, batchOf: (sizes: Sizes) => number): Workload {
  return {
    id,
    title: 'catch-up, no-op projection vs raw keyset read',
    target: () => 0.7,
    describe: (s) => `${s.catchUp.toLocaleString('en-US')} events, batch ${batchOf(s)}`,
    sliced: false,
    withPlusBaseline: true,
    pairs: (sizes) => sizes.catchUpPairs,
    async setup(t, s) {
      await t.resetTables();
      await t.preload(s.catchUp, 100);
    },
    beforeRun: async () => undefined,
    async run(side, sizes, scale) {
      // Whole batches only (a warm-up is a shorter run), so both sides read the same rows.
      const batchSize = batchOf(sizes);
      const total = Math.min(sizes.catchUp, scaled(sizes.catchUp / batchSize, scale) * batchSize);
      const start = performance.now();
      const events = await side.catchUp({ total, batchSize });
      const seconds = (performance.now() - start) / 1000;
      if (events !== total) throw new Error(`caught up ${events} of ${total} events`);
      return { events, seconds };
    },
  };
}

/** Every in-process workload, in report order. */
export const WORKLOADS: readonly Workload[] = [
  appendWorkload(
    'append-1',
    'append 1 event/tx, new streams, 1 writer',
    1,
    1,
    (s) => s.append1,
    (a) => APPEND_TARGET[a],
  ),
  appendWorkload(
    'append-100',
    'append 100 events/tx, new streams, 1 writer',
    100,
    1,
    (s) => s.append100,
    (a) => (a === 'sqlite' ? 0.85 : 0.8),
  ),
  appendWorkload(
    'append-1x8',
    'append 1 event/tx, new streams, 8 writers',
    1,
    8,
    (s) => s.concurrent,
    (a) => (a === 'sqlite' ? 0.85 : 0.8),
  ),
  {
    id: 'read-stream-100',
    title: 'read a 100-event aggregate stream',
    target: () => null,
    describe: (s) => `${s.reads.toLocaleString('en-US')} reads of ${s.readStreams} streams`,
    sliced: true,
    withPlusBaseline: true,
    pairs: (sizes) => sizes.pairs,
    async setup(t, s) {
      await t.resetTables();
      await t.preload(s.readStreams * 100, 100);
    },
    beforeRun: async () => undefined,
    async run(side, sizes, scale) {
      const reads = scaled(sizes.reads, scale);
      const latencies = new LatencyRecorder();
      let events = 0;
      const start = performance.now();
      for (let i = 0; i < reads; i++) {
        const begin = performance.now();
        const read = await side.readStream(preloadedStream(i % sizes.readStreams));
        latencies.add(performance.now() - begin);
        if (read !== 100) throw new Error(`read ${read} events of a 100-event stream`);
        events += read;
      }
      return { events, seconds: (performance.now() - start) / 1000, latencies };
    },
  },
  catchUpWorkload('catch-up', (s) => s.batchSize),
  catchUpWorkload('catch-up-1000', () => 1000),
];
