import { formatMs, formatRate, progress } from './progress.js';
import { type SideResult, sideOrder, type WorkloadResult } from './results.js';
import { LatencyRecorder, median, percentile } from './stats.js';
import type { BenchTarget, SideName } from './targets/types.js';
import type { RunMeasure, Sizes, Workload } from './workloads.js';

/** Share of a full run used to warm up each side (JIT, statement caches, buffer cache). */
const WARM_UP_SCALE = 0.1;

/**
 * Runs one workload on one target: fresh tables, a warm-up run of each side, then `pairs` A/B
 * pairs in alternating order. Without a pup side (adapter not landed yet) it measures raw alone.
 */
export async function runWorkload(
  target: BenchTarget,
  workload: Workload,
  sizes: Sizes,
): Promise<WorkloadResult> {
  const base = {
    target: target.id,
    adapter: target.adapter,
    driver: target.driver,
    workload: workload.id,
    title: workload.title,
    size: workload.describe(sizes),
    goal: workload.target(target.adapter),
    note: target.notes(workload.id),
  };
  const unavailable = target.pupUnavailable();
  const sides: SideName[] = unavailable === null ? ['pup', 'raw'] : ['raw'];
  const label = `[${target.id}] ${workload.id}`;

  await workload.setup(target, sizes);
  for (const side of sides) {
    await workload.beforeRun(target);
    await workload.run(target[side], sizes, WARM_UP_SCALE);
  }

  const measures: Record<SideName, RunMeasure[]> = { pup: [], raw: [] };
  for (let pair = 0; pair < sizes.pairs; pair++) {
    for (const side of sideOrder(pair)) {
      if (!sides.includes(side)) continue;
      await workload.beforeRun(target);
      const measure = await workload.run(target[side], sizes, 1);
      measures[side].push(measure);
      progress(
        `${label} pair ${pair + 1}/${sizes.pairs} ${side} ` +
          `${formatRate(measure.events / measure.seconds)} events/s` +
          (measure.latencies
            ? ` p50 ${formatMs(percentile(measure.latencies.values(), 50))} ms`
            : ''),
      );
    }
  }

  const raw = summarize(measures.raw);
  if (unavailable !== null) return { ...base, status: 'raw-only', reason: unavailable, raw };
  const pup = summarize(measures.pup);
  const pairs = measures.pup.map(
    (m, i) => m.events / m.seconds / (measures.raw[i]!.events / measures.raw[i]!.seconds),
  );
  const ratio = {
    median: median(pairs),
    min: Math.min(...pairs),
    max: Math.max(...pairs),
    pairs,
  };
  return {
    ...base,
    status: 'ok',
    pup,
    raw,
    ratio,
    ...(base.goal === null ? {} : { met: ratio.median >= base.goal }),
  };
}

function summarize(measures: RunMeasure[]): SideResult {
  const runs = measures.map((m) => m.events / m.seconds);
  const result: SideResult = { eventsPerSec: median(runs), runs };
  if (measures.every((m) => m.latencies !== undefined)) {
    const all = new LatencyRecorder();
    for (const m of measures) all.addAll(m.latencies!);
    result.p50Ms = percentile(all.values(), 50);
    result.p99Ms = percentile(all.values(), 99);
  }
  return result;
}
