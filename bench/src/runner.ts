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
 * whole runs in rotating order. Without a pup side (adapter not landed yet) it measures the
 * baselines alone.
 */
export async function runWorkload(
  target: BenchTarget,
  workload: Workload,
  sizes: Sizes,
): Promise<WorkloadResult> {
  const unavailable = target.pupUnavailable();
  const plan = workload.sides(target);
  const sides = plan.names.filter(
    (side) =>
      (side !== 'pup' || unavailable === null) &&
      (side !== 'peer' || target.peer?.unavailable() === null),
  );
  const labels: Partial<Record<SideName, string>> = {};
  for (const side of sides) if (plan.labels?.[side] !== undefined) labels[side] = plan.labels[side];
  const notes = [target.notes(workload.id)];
  if (sides.includes('peer')) notes.push(target.peer!.notes(workload.id));
  const note = notes.filter((n): n is string => n !== undefined).join('; ');
  const base = {
    target: target.id,
    adapter: target.adapter,
    driver: target.driver,
    workload: workload.id,
    title: workload.title,
    size: workload.describe(sizes),
    ...(Object.keys(labels).length > 0 ? { sides: labels } : {}),
    ...(note.length > 0 ? { note } : {}),
  };
  const label = `[${target.id}] ${workload.id}`;

  await workload.setup(target, sizes, sides);
  for (const side of sides) {
    await workload.beforeRun(target, sides);
    await workload.run(target, side, sizes, WARM_UP_SCALE);
  }

  const measures: Record<SideName, RunMeasure[]> = { pup: [], raw: [], rawPlus: [], peer: [] };
  const pairCount = workload.pairs(sizes);
  const slices = workload.sliced ? sizes.slices : 1;
  for (let pair = 0; pair < pairCount; pair++) {
    // Sliced: the sides share the pair's tables, interleaved. Whole runs: each gets its own.
    if (workload.sliced) await workload.beforeRun(target, sides);
    const pairMeasures = new Map<SideName, RunMeasure>();
    for (let slice = 0; slice < slices; slice++) {
      for (const side of sideOrder(sides, pair * slices + slice)) {
        if (!workload.sliced) await workload.beforeRun(target, sides);
        const measure = await workload.run(target, side, sizes, 1 / slices);
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

  const results: Partial<Record<SideName, SideResult>> = {};
  for (const side of sides) results[side] = summarize(measures[side]);
  const goals = workload.goals(target.adapter);
  if (unavailable !== null) {
    return { ...base, status: 'raw-only', reason: unavailable, ...results, goals };
  }
  const ratios: Partial<Record<Exclude<SideName, 'pup'>, Ratio>> = {};
  for (const side of sides) {
    if (side !== 'pup') ratios[side] = ratioOf(measures.pup, measures[side]);
  }
  return {
    ...base,
    status: 'ok',
    ...results,
    ...(ratios.raw === undefined ? {} : { ratio: ratios.raw }),
    ...(ratios.rawPlus === undefined ? {} : { ratioPlus: ratios.rawPlus }),
    ...(ratios.peer === undefined ? {} : { ratioPeer: ratios.peer }),
    goals: goals.map((g) => {
      const measured = ratios[g.against]?.median;
      return measured === undefined ? { ...g } : { ...g, measured, met: measured >= g.ratio };
    }),
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
