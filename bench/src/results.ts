import type { AdapterName, SideName } from './targets/types.js';
import type { WorkerScalingFigures } from './worker-scaling/types.js';

/** A ratio of events/s over the A/B pairs of one workload. */
export interface Ratio {
  median: number;
  min: number;
  max: number;
  pairs: number[];
}

/** One side's figures for a workload. */
export interface SideResult {
  /** Median events/s over the runs. */
  eventsPerSec: number;
  /** Events/s of each measured run, in run order. */
  runs: number[];
  /** Latency of one operation (append or stream read) over all measured runs, in ms. */
  p50Ms?: number;
  p99Ms?: number;
  /** Only for `catch-up-rss`: resident set size of the child process, in bytes. */
  rss?: {
    startBytes: number;
    peakBytes: number;
    endBytes: number;
    /** Peak minus start. */
    growthBytes: number;
    /** Highest RSS in each quarter of the catch-up. */
    quarterPeakBytes: number[];
    /**
     * Peak of the last quarter minus peak of the first: near zero when memory is bounded by the
     * batch size, growing with the log when it is not.
     */
    lateGrowthBytes: number;
  };
}

/** A ratio an issue asks for: pup events/s over a baseline's, at least `ratio`. */
export interface Goal {
  /** The side pup is measured against. */
  against: Exclude<SideName, 'pup'>;
  ratio: number;
  /** Where the goal comes from, such as `issue 13`. */
  source?: string;
}

/** A goal with the verdict of this run. */
export interface GoalResult extends Goal {
  /** Median ratio of this run against that side. */
  measured?: number;
  /** Whether the median ratio reaches the goal (absent without a ratio). */
  met?: boolean;
}

/** One workload on one target. */
export interface WorkloadResult {
  target: string;
  adapter: AdapterName;
  driver: string;
  workload: string;
  title: string;
  size: string;
  status: 'ok' | 'raw-only' | 'failed';
  /** Why the pup side did not run, or what failed. */
  reason?: string;
  /** What each side did in this workload, when it is not the usual meaning of the side. */
  sides?: Partial<Record<SideName, string>>;
  pup?: SideResult;
  raw?: SideResult;
  /** The raw+ baseline: raw plus the head row (appends) or the row decoding (reads). */
  rawPlus?: SideResult;
  /** The peer library (Emmett), where it takes part. */
  peer?: SideResult;
  /** pup/raw events/s: median, min and max of the A/B pairs. */
  ratio?: Ratio;
  /** pup/raw+ events/s over the same pairs. */
  ratioPlus?: Ratio;
  /** pup/peer events/s over the same pairs. */
  ratioPeer?: Ratio;
  /** The ratios the issues ask for, with this run's verdicts. */
  goals: GoalResult[];
  note?: string;
  /** Only for `worker-scaling`: processes, speedup over 1 process, CPU, the read model's check. */
  workerScaling?: WorkerScalingFigures;
}

/** Everything one `pnpm bench` run measured, as written by `--json`. */
export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string; node: string };
  git: { commit: string; dirty: boolean } | null;
  environments: Record<string, Record<string, string>>;
  results: WorkloadResult[];
}

/**
 * The order the sides run in for pair `index`: rotated from pair to pair (pup-raw, raw-pup; or
 * pup-raw-head, raw-head-pup, head-pup-raw, …) so drift and caching favour no side.
 */
export function sideOrder(sides: readonly SideName[], index: number): SideName[] {
  const shift = index % sides.length;
  return [...sides.slice(shift), ...sides.slice(0, shift)];
}
