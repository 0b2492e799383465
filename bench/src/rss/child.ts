/**
 * Child process of the `catch-up-rss` workload: opens one target, catches up the preloaded log
 * through one side and reports its RSS as one JSON line on stdout. Runs alone in its process so
 * the parent's heap does not blur the figures.
 */
import { Worker } from 'node:worker_threads';
import { progress } from '../progress.js';
import { targetEntry } from '../targets/index.js';
import type { SideName, TargetConfig } from '../targets/types.js';

/** What the parent passes as the only argument (JSON). */
export interface RssChildSpec {
  targetId: string;
  config: TargetConfig;
  side: Exclude<SideName, 'peer'>;
  total: number;
  batchSize: number;
}

/** What the child prints. */
export interface RssChildResult {
  events: number;
  seconds: number;
  startBytes: number;
  peakBytes: number;
  endBytes: number;
  /** Highest RSS seen in each quarter of the catch-up (about 40 main-thread samples per run). */
  quarterPeakBytes: number[];
}

/** Samples the whole process's RSS every 5 ms from its own thread (the main one may be blocked). */
const SAMPLER = `
const { workerData } = require('node:worker_threads');
const peak = new Float64Array(workerData);
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > peak[0]) peak[0] = rss;
}, 5);
`;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as RssChildSpec;
  const target = await targetEntry(spec.targetId).create(spec.config);
  await target.open();
  const shared = new SharedArrayBuffer(8);
  const peak = new Float64Array(shared);
  const sampler = new Worker(SAMPLER, { eval: true, workerData: shared });
  await new Promise((resolve) => setTimeout(resolve, 100));
  (globalThis as { gc?: () => void }).gc?.();
  const startBytes = process.memoryUsage.rss();
  peak[0] = startBytes;
  const quarterPeakBytes = [0, 0, 0, 0];
  const sample = (seen: number) => {
    const rss = process.memoryUsage.rss();
    if (rss > peak[0]!) peak[0] = rss;
    const quarter = Math.min(3, Math.floor((4 * Math.max(0, seen - 1)) / spec.total));
    if (rss > quarterPeakBytes[quarter]!) quarterPeakBytes[quarter] = rss;
  };
  const reportEvery = Math.max(spec.batchSize, Math.round(spec.total / 5));
  // About 40 main-thread samples per run (every 25,000 events of a million), on batch boundaries.
  const sampleEvery = Math.max(1, Math.floor(spec.total / 40 / spec.batchSize)) * spec.batchSize;
  const start = performance.now();
  const events = await target[spec.side].catchUp({
    total: spec.total,
    batchSize: spec.batchSize,
    onBatch: (seen) => {
      if (seen % sampleEvery < spec.batchSize) sample(seen);
      if (seen % reportEvery < spec.batchSize) {
        progress(
          `[${spec.targetId}] catch-up-rss ${spec.side} ${seen.toLocaleString('en-US')} events`,
        );
      }
    },
  });
  const seconds = (performance.now() - start) / 1000;
  sample(events);
  const endBytes = process.memoryUsage.rss();
  const result: RssChildResult = {
    events,
    seconds,
    startBytes,
    peakBytes: peak[0]!,
    endBytes,
    quarterPeakBytes,
  };
  await sampler.terminate();
  await target.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
