import type { NewEvent } from '@pup/core';
import { eventsFor, preloadedStream, runTag, streamOf } from './fixtures.js';
import type { Goal } from './results.js';
import { LatencyRecorder } from './stats.js';
import type { AdapterName, BenchTarget, SideName, SideOps } from './targets/types.js';

/** How much work each workload does on one adapter. */
export interface Sizes {
  /** Appends (= transactions) per run of `append-1` and `append-1-stream`. */
  append1: number;
  /** Transactions per run of `append-100`. */
  append100: number;
  /** Appends per run of `append-1x8`, shared by the 8 writers. */
  concurrent: number;
  /** Appends per run of `append-held-open`, shared by its 4 writers. */
  heldOpen: number;
  /** Streams of 100 events preloaded for `read-stream-100`. */
  readStreams: number;
  /** Stream reads per run of `read-stream-100`. */
  reads: number;
  /** Events in the log caught up by `catch-up` and `catch-up-1000`. */
  catchUp: number;
  /** Events in the log caught up by `catch-up-peer` (pup, raw and the peer library). */
  peerCatchUp: number;
  /** Events in the log caught up by `catch-up-rss` (in a child process). */
  rss: number;
  /** Events per batch of the catch-up workloads (the processor's default `batchSize`). */
  batchSize: number;
  /** A/B pairs per workload. */
  pairs: number;
  /** A/B pairs of the catch-ups (their runs are the longest). */
  catchUpPairs: number;
  /** Slices per run of the sliced workloads, interleaved across the sides. */
  slices: number;
}

/** Full sizes for a database server (each commit waits for the server's disk). */
const SERVER_SIZES: Sizes = {
  append1: 1_500,
  append100: 200,
  concurrent: 4_000,
  heldOpen: 2_000,
  readStreams: 500,
  reads: 1_500,
  catchUp: 200_000,
  peerCatchUp: 20_000,
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
    heldOpen: 10_000,
    readStreams: 500,
    reads: 2_000,
    catchUp: 300_000,
    peerCatchUp: 20_000,
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
  heldOpen: 200,
  readStreams: 50,
  reads: 200,
  catchUp: 5_000,
  peerCatchUp: 2_000,
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
  /** Whether the workload runs on this target at all. */
  appliesTo(target: BenchTarget): boolean;
  /** The ratios the issues ask for on this adapter (none: an empty list). */
  goals(adapter: AdapterName): Goal[];
  /** Size of one run, for the report. */
  describe(sizes: Sizes): string;
  /**
   * The sides that run on this target, pup first, and what each does when a side does not have
   * its usual meaning in this workload. The runner drops pup and the peer when they cannot run.
   */
  sides(target: BenchTarget): { names: SideName[]; labels?: Partial<Record<SideName, string>> };
  /** Fresh tables (and preloaded rows) for the whole workload; untimed. */
  setup(target: BenchTarget, sizes: Sizes, sides: readonly SideName[]): Promise<void>;
  /** Brings the tables back to the same state before every pair; untimed. */
  beforeRun(target: BenchTarget, sides: readonly SideName[]): Promise<void>;
  /**
   * Whether a run can be cut into slices that the runner interleaves with the other sides'
   * slices, so every side sees the same background load (everything but the catch-up).
   */
  readonly sliced: boolean;
  /** A/B pairs of this workload. */
  pairs(sizes: Sizes): number;
  /** One timed run of one side, or the `scale` share of one (a slice, or the warm-up). */
  run(target: BenchTarget, side: SideName, sizes: Sizes, scale: number): Promise<RunMeasure>;
}

/** The operations of one side of a target. */
export function opsOf(target: BenchTarget, side: SideName): SideOps {
  if (side !== 'peer') return target[side];
  if (target.peer === undefined) throw new Error(`${target.id} has no peer library`);
  return target.peer.ops;
}

/** Whether the target's peer library runs this workload. */
function peerRuns(target: BenchTarget, workload: string): boolean {
  const peer = target.peer;
  return peer !== undefined && peer.unavailable() === null && peer.workloads.includes(workload);
}

function withPeer(target: BenchTarget, workload: string, names: SideName[]): SideName[] {
  return peerRuns(target, workload) ? [...names, 'peer'] : names;
}

const goal = (against: Goal['against'], ratio: number, source?: string): Goal =>
  source === undefined ? { against, ratio } : { against, ratio, source };

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

type AppendFn = (events: readonly NewEvent[]) => Promise<void>;

/** Runs the appends with `writers` concurrent async writers; records each append's latency. */
async function timeAppends(
  append: AppendFn,
  appends: NewEvent[][],
  writers: number,
): Promise<RunMeasure> {
  const latencies = new LatencyRecorder();
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < appends.length; i = next++) {
      const begin = performance.now();
      await append(appends[i]!);
      latencies.add(performance.now() - begin);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  const seconds = (performance.now() - start) / 1000;
  const events = appends.reduce((sum, events) => sum + events.length, 0);
  return { events, seconds, latencies };
}

/** Empties the tables of pup (and raw) and of the peer when it takes part. */
async function emptyAll(target: BenchTarget, sides: readonly SideName[]): Promise<void> {
  await target.emptyTables();
  if (sides.includes('peer')) await target.peer!.empty();
}

/** Fresh tables for pup (and raw), empty ones for the peer when it takes part. */
async function resetAll(target: BenchTarget, sides: readonly SideName[]): Promise<void> {
  await target.resetTables();
  if (sides.includes('peer')) await target.peer!.empty();
}

interface AppendSpec {
  id: string;
  title: string;
  perAppend: number;
  writers: number;
  count: (sizes: Sizes) => number;
  goals: (adapter: AdapterName) => Goal[];
}

/** Appends to new streams through each side's `append` (one transaction per append). */
function appendWorkload(spec: AppendSpec): Workload {
  const { id, perAppend, writers, count } = spec;
  return {
    id,
    title: spec.title,
    appliesTo: () => true,
    goals: spec.goals,
    describe: (sizes) =>
      `${count(sizes).toLocaleString('en-US')} tx × ${perAppend} event${perAppend > 1 ? 's' : ''}` +
      (writers > 1 ? `, ${writers} writers` : ''),
    sides: (t) => ({ names: withPeer(t, id, ['pup', 'raw', 'rawPlus']) }),
    sliced: true,
    pairs: (sizes) => sizes.pairs,
    setup: (t, _sizes, sides) => resetAll(t, sides),
    beforeRun: emptyAll,
    run: (t, side, sizes, scale) => {
      const ops = opsOf(t, side);
      return timeAppends(
        (events) => ops.append(events),
        newStreamAppends(scaled(count(sizes), scale), perAppend),
        writers,
      );
    },
  };
}

/**
 * One event per call to a new stream without a transaction around the call: pup's
 * `store.appendToStream` (one autocommit statement on PostgreSQL; a store transaction where the
 * adapter has no one-statement path) against the raw three-round-trip transaction, a raw single
 * autocommit statement and the peer's own append.
 */
const appendToStreamWorkload: Workload = {
  id: 'append-1-stream',
  title: 'append 1 event through appendToStream, new streams, 1 writer',
  appliesTo: () => true,
  goals: (a) =>
    a === 'postgres' ? [goal('raw', 1.3, 'issue 13'), goal('peer', 1.5, 'issue 13')] : [],
  describe: (sizes) => `${sizes.append1.toLocaleString('en-US')} calls × 1 event`,
  sides: (t) => ({
    names: withPeer(t, 'append-1-stream', ['pup', 'raw', 'rawPlus']),
    labels: {
      pup: 'store.appendToStream(noStream, [e])',
      raw: 'raw transaction: BEGIN; INSERT; COMMIT (three round trips)',
      rawPlus: 'raw single autocommit INSERT (one round trip)',
      peer: "the peer's appendToStream",
    },
  }),
  sliced: true,
  pairs: (sizes) => sizes.pairs,
  setup: (t, _sizes, sides) => resetAll(t, sides),
  beforeRun: emptyAll,
  run: (t, side, sizes, scale) => {
    let append: AppendFn;
    if (side === 'raw') append = (events) => t.raw.append(events);
    else {
      const ops = side === 'rawPlus' ? t.raw : opsOf(t, side);
      if (ops.appendToStream === undefined) throw new Error(`${side} has no appendToStream`);
      append = (events) => ops.appendToStream!(events);
    }
    return timeAppends(append, newStreamAppends(scaled(sizes.append1, scale), 1), 1);
  },
};

/** Writers that keep up while another transaction stays open after appending (MySQL). */
const HELD_OPEN_WRITERS = 4;

/**
 * pup writers appending while one more pup transaction has appended and stays open, against the
 * same writers with nothing held open: how much a held-open writer slows the others down.
 */
const heldOpenWorkload: Workload = {
  id: 'append-held-open',
  title: `append 1 event/tx, ${HELD_OPEN_WRITERS} writers, while a 5th transaction stays open`,
  appliesTo: (t) => t.holdOpenTransaction !== undefined,
  goals: (a) => (a === 'mysql' ? [goal('raw', 0.5, 'issue 10')] : []),
  describe: (sizes) =>
    `${sizes.heldOpen.toLocaleString('en-US')} tx × 1 event, ${HELD_OPEN_WRITERS} writers`,
  sides: () => ({
    names: ['pup', 'raw'],
    labels: {
      pup: `${HELD_OPEN_WRITERS} pup writers while another pup transaction has appended and stays open`,
      raw: `the same ${HELD_OPEN_WRITERS} pup writers, nothing held open (pup/raw = throughput kept)`,
    },
  }),
  sliced: true,
  pairs: (sizes) => sizes.pairs,
  setup: (t) => t.resetTables(),
  beforeRun: (t) => t.emptyTables(),
  async run(t, side, sizes, scale) {
    const appends = newStreamAppends(scaled(sizes.heldOpen, scale), 1);
    const append: AppendFn = (events) => t.pup.append(events);
    if (side === 'raw') return timeAppends(append, appends, HELD_OPEN_WRITERS);
    const release = await t.holdOpenTransaction!();
    try {
      return await timeAppends(append, appends, HELD_OPEN_WRITERS);
    } finally {
      await release();
    }
  },
};

/**
 * Catch-up of a preloaded log: core's `ProjectionProcessor` at its default settings (`batchSize`
 * 100, batches growing up to `maxBatchSize` 1000 while behind) or at a fixed larger batch, with a
 * no-op handler (one transaction per batch: lock and read the checkpoint, read the batch, save
 * the checkpoint, commit), against a raw keyset read of the same rows and columns in pages of
 * `batchSize` (one query per page, no transaction, no checkpoint). Whole runs alternate; the log
 * is read, never changed, so no reset in between.
 */
function catchUpWorkload(options: {
  id: string;
  title: string;
  batchOf: (sizes: Sizes) => number;
  eventsOf: (sizes: Sizes) => number;
  withPeer: boolean;
  goals: (adapter: AdapterName) => Goal[];
}): Workload {
  const { id, batchOf, eventsOf } = options;
  return {
    id,
    title: options.title,
    appliesTo: (t) => !options.withPeer || peerRuns(t, id),
    goals: options.goals,
    describe: (s) => `${eventsOf(s).toLocaleString('en-US')} events, batch ${batchOf(s)}`,
    sides: (t) => ({
      names: options.withPeer ? withPeer(t, id, ['pup', 'raw']) : ['pup', 'raw', 'rawPlus'],
    }),
    sliced: false,
    pairs: (sizes) => sizes.catchUpPairs,
    async setup(t, s, sides) {
      await t.resetTables();
      await t.preload(eventsOf(s), 100);
      if (sides.includes('peer')) {
        await t.peer!.empty();
        await t.peer!.preload(eventsOf(s), 100);
      }
    },
    beforeRun: async () => undefined,
    async run(t, side, sizes, scale) {
      // A warm-up reads a part of the log; pup's growing batches may read past it.
      const batchSize = batchOf(sizes);
      const log = eventsOf(sizes);
      const total = Math.min(log, scaled(log / batchSize, scale) * batchSize);
      const start = performance.now();
      const events = await opsOf(t, side).catchUp({ total, batchSize });
      const seconds = (performance.now() - start) / 1000;
      if (events < total || (total === log && events !== log)) {
        throw new Error(`${side} caught up ${events} of ${total} events`);
      }
      return { events, seconds };
    },
  };
}

/** Every in-process workload, in report order. */
export const WORKLOADS: readonly Workload[] = [
  appendWorkload({
    id: 'append-1',
    title: 'append 1 event/tx, new streams, 1 writer',
    perAppend: 1,
    writers: 1,
    count: (s) => s.append1,
    goals: (a) =>
      a === 'mysql'
        ? [goal('rawPlus', 0.85, 'issue 10')]
        : a === 'postgres'
          ? [goal('raw', 0.9, 'issue 13')]
          : [goal('raw', 0.85)],
  }),
  appendToStreamWorkload,
  appendWorkload({
    id: 'append-100',
    title: 'append 100 events/tx, new streams, 1 writer',
    perAppend: 100,
    writers: 1,
    count: (s) => s.append100,
    goals: (a) =>
      a === 'mysql'
        ? [goal('rawPlus', 0.8, 'issue 10')]
        : [goal('raw', a === 'sqlite' ? 0.85 : 0.8)],
  }),
  appendWorkload({
    id: 'append-1x8',
    title: 'append 1 event/tx, new streams, 8 writers',
    perAppend: 1,
    writers: 8,
    count: (s) => s.concurrent,
    goals: (a) =>
      a === 'mysql'
        ? [goal('raw', 0.35, 'issue 10')]
        : a === 'postgres'
          ? [goal('raw', 0.9, 'issue 13')]
          : [goal('raw', 0.85)],
  }),
  heldOpenWorkload,
  {
    id: 'read-stream-100',
    title: 'read a 100-event aggregate stream',
    appliesTo: () => true,
    goals: (a) => (a === 'postgres' ? [goal('raw', 0.9, 'issue 13')] : []),
    describe: (s) => `${s.reads.toLocaleString('en-US')} reads of ${s.readStreams} streams`,
    sides: (t) => ({ names: withPeer(t, 'read-stream-100', ['pup', 'raw', 'rawPlus']) }),
    sliced: true,
    pairs: (sizes) => sizes.pairs,
    async setup(t, s, sides) {
      await t.resetTables();
      await t.preload(s.readStreams * 100, 100);
      if (sides.includes('peer')) {
        await t.peer!.empty();
        await t.peer!.preload(s.readStreams * 100, 100);
      }
    },
    beforeRun: async () => undefined,
    async run(t, side, sizes, scale) {
      const ops = opsOf(t, side);
      const reads = scaled(sizes.reads, scale);
      const latencies = new LatencyRecorder();
      let events = 0;
      const start = performance.now();
      for (let i = 0; i < reads; i++) {
        const begin = performance.now();
        const read = await ops.readStream(preloadedStream(i % sizes.readStreams));
        latencies.add(performance.now() - begin);
        if (read !== 100) throw new Error(`read ${read} events of a 100-event stream`);
        events += read;
      }
      return { events, seconds: (performance.now() - start) / 1000, latencies };
    },
  },
  catchUpWorkload({
    id: 'catch-up',
    title: 'catch-up, no-op projection at default settings vs raw keyset read',
    batchOf: (s) => s.batchSize,
    eventsOf: (s) => s.catchUp,
    withPeer: false,
    goals: (a) => [goal('raw', 0.7, a === 'mysql' ? 'issue 10' : 'issue 13')],
  }),
  catchUpWorkload({
    id: 'catch-up-1000',
    title: 'catch-up, no-op projection, batch 1000 vs raw keyset read in pages of 1000',
    batchOf: () => 1000,
    eventsOf: (s) => s.catchUp,
    withPeer: false,
    goals: () => [],
  }),
  catchUpWorkload({
    id: 'catch-up-peer',
    title: 'catch-up of a small log: pup (default settings), raw keyset read, the peer library',
    batchOf: (s) => s.batchSize,
    eventsOf: (s) => s.peerCatchUp,
    withPeer: true,
    goals: () => [],
  }),
];
