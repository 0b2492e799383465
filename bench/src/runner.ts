import { formatMs, formatRate, progress } from './progress.js';
import { type Ratio, type SideResult, sideOrder, type WorkloadResult } from './results.js';
import { LatencyRecorder, median, percentile } from './stats.js';
import type { BenchTarget, SideName } from './targets/types.js';
import type { RunMeasure, Sizes, Workload } from './workloads.js';

/** Share of a full run used to warm up each side (JIT, statement caches, buffer cache). */
const WARM_UP_SCALE = 0.1;

/**
 * Runs one workload on one target: fresh tables, a warm-up run of each side, then `pairs` rounds
 * of every side. A round of a sliced workload interleaves its slices (pup, raw, raw+, raw, raw+,
 * pup, …) so that every side sees the same background load; the catch-up alternates
 * whole runs in rotating order. Without a pup side (adapter not landed yet) it measures the raw
 * baselines alone.
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
  if (workload.withPlusBaseline) sides.push('rawPlus');
  const label = `[${target.id}] ${workload.id}`;

  await workload.setup(target, sizes);
  for (const side of sides) {
    await workload.beforeRun(target);
    await workload.run(target[side], sizes, WARM_UP_SCALE);
  }

  const measures: Record<SideName, RunMeasure[]> = { pup: [], raw: [], rawPlus: [] };
  const pairCount = workload.pairs(sizes);
  const slices = workload.sliced ? sizes.slices : 1;
  for (let pair = 0; pair < pairCount; pair++) {
    // Sliced: the sides share the pair's tables, interleaved. Whole runs: each gets its own.
    if (workload.sliced) await workload.beforeRun(target);
    const pairMeasures = new Map<SideName, RunMeasure>();
    for (let slice = 0; slice < slices; slice++) {
      for (const side of sideOrder(sides, pair * slices + slice)) {
        if (!workload.sliced) await workload.beforeRun(target);
        const measure = await workload.run(target[side], sizes, 1 / slices);
        pairMeasures.set(side, add(pairMeasures.get(side), measure));
      }
    }
    for (const side of sides) {
      const measure = pairMeasures.get(side)!;
      measures[side].push(measure);
      progress(
        `${label} pair ${pair + 1}/${pairCount} ${side} ` +
          `${formatRate(measure.events / measure.seconds)} events/s` +
          (measure.latencies
            ? ` p50 ${formatMs(percentile(measure.latencies.values(), 50))} ms`
            : ''),
      );
    }
  }

  const raw = summarize(measures.raw);
  const rawPlus = workload.withPlusBaseline ? summarize(measures.rawPlus) : undefined;
  const withPlus = rawPlus === undefined ? {} : { rawPlus };
  if (unavailable !== null) {
    return { ...base, status: 'raw-only', reason: unavailable, raw, ...withPlus };
  }
  const pup = summarize(measures.pup);
  const ratio = ratioOf(measures.pup, measures.raw);
  return {
    ...base,
    status: 'ok',
    pup,
    raw,
    ...withPlus,
    ratio,
    ...(rawPlus === undefined ? {} : { ratioPlus: ratioOf(measures.pup, measures.rawPlus) }),
    ...(base.goal === null ? {} : { met: ratio.median >= base.goal }),
  };
}

/** Sums the slices of one side in one pair. */
function add(total: RunMeasure | undefined, slice: RunMeasure): RunMeasure {
  if (total === undefined) return slice;
  const sum: RunMeasure = {
    events: total.events + slice.events,
    seconds: total.seconds + slice.seconds,
  };
  if (total.latencies !== undefined && slice.latencies !== undefined) {
    total.latencies.addAll(slice.latencies);
    sum.latencies = total.latencies;
  }
  return sum;
}

function rate(measure: RunMeasure): number {
  return measure.events / measure.seconds;
}

/** Ratio of each pair's rates, pup first. */
function ratioOf(pup: RunMeasure[], baseline: RunMeasure[]): Ratio {
  const pairs = pup.map((m, i) => rate(m) / rate(baseline[i]!));
  return { median: median(pairs), min: Math.min(...pairs), max: Math.max(...pairs), pairs };
}

function summarize(measures: RunMeasure[]): SideResult {
  const runs = measures.map(rate);
  const result: SideResult = { eventsPerSec: median(runs), runs };
  if (measures.every((m) => m.latencies !== undefined)) {
    const all = new LatencyRecorder();
    for (const m of measures) all.addAll(m.latencies!);
    result.p50Ms = percentile(all.values(), 50);
    result.p99Ms = percentile(all.values(), 99);
  }
  return result;
}
