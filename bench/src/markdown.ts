/**
 * Prints the figures of a `--json` report as Markdown tables, one per target, for BENCHMARKS.md:
 *
 *   npx tsx src/markdown.ts results/full.json
 */
import { readFileSync } from 'node:fs';
import { formatMiB, formatMs, formatRate } from './progress.js';
import { SIDE_SHORT } from './report.js';
import type { BenchReport, Ratio, SideResult, WorkloadResult } from './results.js';
import { workerScalingMarkdown } from './worker-scaling/render.js';

/** Column names of the sides. */
const SIDE_NAMES: Record<string, string> = {
  pup: 'pup',
  raw: 'raw',
  rawPlus: 'raw+',
  peer: 'peer',
};

function ratio(value: Ratio | undefined): string {
  if (value === undefined) return '—';
  if (value.pairs.length === 1) return value.median.toFixed(2);
  return `**${value.median.toFixed(2)}** (${value.min.toFixed(2)}–${value.max.toFixed(2)})`;
}

function latency(side: SideResult | undefined): string {
  return side?.p50Ms === undefined ? '—' : `${formatMs(side.p50Ms)} / ${formatMs(side.p99Ms)}`;
}

function goal(r: WorkloadResult): string {
  if (r.goals.length === 0) return '—';
  return r.goals
    .map(
      (g) =>
        `≥ ${g.ratio} of ${SIDE_SHORT[g.against]}` +
        (g.met === undefined ? '' : g.met ? ' ✅' : ' ❌'),
    )
    .join('; ');
}

function memory(side: SideResult | undefined): string {
  if (side?.rss === undefined) return '—';
  const { peakBytes, growthBytes, lateGrowthBytes } = side.rss;
  return `${formatMiB(peakBytes)} peak, +${formatMiB(growthBytes)} from start, ${lateGrowthBytes >= 0 ? '+' : ''}${formatMiB(lateGrowthBytes)} Q4−Q1`;
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: markdown.ts <report.json>');
  const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  const out: string[] = [];
  for (const target of [...new Set(report.results.map((r) => r.target))]) {
    const rows = report.results.filter((r) => r.target === target);
    out.push(`### ${target} (${rows[0]!.driver})`, '');
    const peer = rows.some((r) => r.peer !== undefined);
    out.push(
      `| workload | size | pup ev/s | raw ev/s | pup/raw (min–max) | raw+ ev/s | pup/raw+ |${peer ? ' peer ev/s | pup/peer |' : ''} goal | p50 / p99 ms pup | p50 / p99 ms raw |`,
      `|---|---|---:|---:|---:|---:|---:|${peer ? '---:|---:|' : ''}---|---:|---:|`,
    );
    for (const r of rows) {
      const peerCells = peer
        ? ` ${formatRate(r.peer?.eventsPerSec)} | ${ratio(r.ratioPeer)} |`
        : '';
      out.push(
        `| ${r.workload} | ${r.size} | ${formatRate(r.pup?.eventsPerSec)} | ${formatRate(r.raw?.eventsPerSec)} | ${r.status === 'failed' ? `FAILED: ${r.reason}` : ratio(r.ratio)} | ${formatRate(r.rawPlus?.eventsPerSec)} | ${ratio(r.ratioPlus)} |${peerCells} ${goal(r)} | ${latency(r.pup)} | ${latency(r.raw)} |`,
      );
    }
    for (const r of rows) {
      if (r.sides === undefined) continue;
      const sides = Object.entries(r.sides).map(([side, what]) => `${SIDE_NAMES[side]} = ${what}`);
      out.push('', `\`${r.workload}\`: ${sides.join('; ')}.`);
    }
    const rss = rows.find((r) => r.workload === 'catch-up-rss');
    if (rss !== undefined) {
      out.push('', `RSS of the ${rss.size} catch-up (child process):`, '');
      out.push(`- pup: ${memory(rss.pup)}`, `- raw: ${memory(rss.raw)}`);
    }
    const scaling = workerScalingMarkdown(rows);
    if (scaling.length > 0) out.push('', ...scaling);
    out.push('');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
