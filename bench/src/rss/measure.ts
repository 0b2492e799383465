import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatMiB, formatRate, progress } from '../progress.js';
import type { SideResult, WorkloadResult } from '../results.js';
import type { BenchTarget, SideName, TargetConfig } from '../targets/types.js';
import type { Sizes } from '../workloads.js';
import type { RssChildResult, RssChildSpec } from './child.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Runs the child for one side and returns what it printed. */
function runChild(spec: RssChildSpec): Promise<RssChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', import.meta.resolve('tsx'), CHILD, JSON.stringify(spec)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`RSS child for ${spec.targetId}/${spec.side} exited with ${code}`));
        return;
      }
      try {
        resolve(JSON.parse(line) as RssChildResult);
      } catch {
        reject(new Error(`RSS child for ${spec.targetId}/${spec.side} printed no result: ${out}`));
      }
    });
  });
}

/**
 * `catch-up-rss`: preloads `sizes.rss` events with fast raw SQL, then catches them up once per
 * side, each in its own child process, sampling RSS. One A/B pair: the figure that matters is the
 * growth of RSS, not the rate (the `catch-up` workload measures the rate with several pairs).
 */
export async function runRssWorkload(
  target: BenchTarget,
  sizes: Sizes,
  config: TargetConfig,
): Promise<WorkloadResult> {
  const base = {
    target: target.id,
    adapter: target.adapter,
    driver: target.driver,
    workload: 'catch-up-rss',
    title: 'peak RSS of a catch-up (child process)',
    size: `${sizes.rss.toLocaleString('en-US')} events, batch ${sizes.batchSize}`,
    goals: [],
  };
  const unavailable = target.pupUnavailable();
  const sides: Exclude<SideName, 'peer'>[] = unavailable === null ? ['pup', 'raw'] : ['raw'];

  await target.resetTables();
  progress(`[${target.id}] catch-up-rss preloading ${sizes.rss.toLocaleString('en-US')} events`);
  const preloadStart = performance.now();
  await target.preload(sizes.rss, 100, (done) =>
    progress(`[${target.id}] catch-up-rss preloaded ${done.toLocaleString('en-US')}`),
  );
  progress(
    `[${target.id}] catch-up-rss preload took ${((performance.now() - preloadStart) / 1000).toFixed(1)} s`,
  );

  const results: Partial<Record<SideName, SideResult>> = {};
  for (const side of sides) {
    const spec: RssChildSpec = {
      targetId: target.id,
      config,
      side,
      total: sizes.rss,
      batchSize: sizes.batchSize,
    };
    // One retry: the child loads the packages afresh, which fails while another session's build
    // is rewriting their dist/.
    const r = await runChild(spec).catch(async (error: unknown) => {
      progress(`[${target.id}] catch-up-rss ${side} failed (${String(error)}); retrying once`);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      return runChild(spec);
    });
    if (r.events !== sizes.rss) {
      throw new Error(`${side} caught up ${r.events} of ${sizes.rss} events`);
    }
    const rate = r.events / r.seconds;
    results[side] = {
      eventsPerSec: rate,
      runs: [rate],
      rss: {
        startBytes: r.startBytes,
        peakBytes: r.peakBytes,
        endBytes: r.endBytes,
        growthBytes: r.peakBytes - r.startBytes,
        quarterPeakBytes: r.quarterPeakBytes,
        lateGrowthBytes: r.quarterPeakBytes[3]! - r.quarterPeakBytes[0]!,
      },
    };
    progress(
      `[${target.id}] catch-up-rss ${side} ${formatRate(rate)} events/s, ` +
        `peak RSS ${formatMiB(r.peakBytes)} (+${formatMiB(r.peakBytes - r.startBytes)})`,
    );
  }
  if (unavailable !== null) {
    return { ...base, status: 'raw-only', reason: unavailable, raw: results.raw! };
  }
  const ratio = results.pup!.eventsPerSec / results.raw!.eventsPerSec;
  return {
    ...base,
    status: 'ok',
    pup: results.pup!,
    raw: results.raw!,
    ratio: { median: ratio, min: ratio, max: ratio, pairs: [ratio] },
  };
}
