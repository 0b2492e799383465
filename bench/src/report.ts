import { formatMiB, formatMs, formatRate } from './progress.js';
import type { BenchReport, Ratio, SideResult, WorkloadResult } from './results.js';
import { renderWorkerScaling } from './worker-scaling/render.js';

function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function latency(side: SideResult | undefined): string {
  if (side?.p50Ms === undefined) return '—';
  return `${formatMs(side.p50Ms)} / ${formatMs(side.p99Ms)}`;
}

function ratio(result: WorkloadResult, value: Ratio | undefined): string {
  if (result.status === 'failed') return 'FAILED';
  if (result.status === 'raw-only') return 'no pup';
  if (value === undefined) return '—';
  return `${value.median.toFixed(2)} (${value.min.toFixed(2)}–${value.max.toFixed(2)})`;
}

/** Short names of the sides in goal cells. */
export const SIDE_SHORT = { raw: 'raw', rawPlus: 'raw+', peer: 'peer' } as const;

function goal(result: WorkloadResult): string {
  if (result.goals.length === 0) return '—';
  return result.goals
    .map(
      (g) =>
        `≥${g.ratio} ${SIDE_SHORT[g.against]}` +
        (g.met === undefined ? '' : g.met ? ' ok' : ' MISS'),
    )
    .join(', ');
}

function rss(side: SideResult | undefined): string {
  if (side?.rss === undefined) return '—';
  const { peakBytes, growthBytes, lateGrowthBytes } = side.rss;
  const late = lateGrowthBytes >= 0 ? `+${formatMiB(lateGrowthBytes)}` : formatMiB(lateGrowthBytes);
  return `${formatMiB(peakBytes)} (+${formatMiB(growthBytes)}; Q4−Q1 ${late})`;
}

/** The results as plain-text tables: rates and ratios, then the RSS of the big catch-up. */
export function renderReport(report: BenchReport): string {
  const rows = report.results.map((r) => [
    r.target,
    r.workload,
    r.size,
    formatRate(r.pup?.eventsPerSec),
    formatRate(r.raw?.eventsPerSec),
    ratio(r, r.ratio),
    goal(r),
    formatRate(r.rawPlus?.eventsPerSec),
    ratio(r, r.ratioPlus),
    formatRate(r.peer?.eventsPerSec),
    ratio(r, r.ratioPeer),
    latency(r.pup),
    latency(r.raw),
  ]);
  const parts = [
    renderTable(
      [
        'target',
        'workload',
        'size',
        'pup ev/s',
        'raw ev/s',
        'pup/raw (min–max)',
        'goal',
        'raw+ ev/s',
        'pup/raw+',
        'peer ev/s',
        'pup/peer',
        'pup p50/p99 ms',
        'raw p50/p99 ms',
      ],
      rows,
    ),
  ];
  const memory = report.results.filter((r) => r.workload === 'catch-up-rss');
  if (memory.length > 0) {
    parts.push(
      renderTable(
        [
          'target',
          'workload',
          'size',
          'pup peak RSS (growth; Q4−Q1)',
          'raw peak RSS (growth; Q4−Q1)',
        ],
        memory.map((r) => [r.target, r.workload, r.size, rss(r.pup), rss(r.raw)]),
      ),
    );
  }
  const scaling = renderWorkerScaling(report.results, renderTable);
  if (scaling !== null) parts.push(scaling);
  const notes: string[] = [];
  const reasons = new Set<string>();
  for (const r of report.results) {
    if (r.reason !== undefined && r.status === 'raw-only') {
      const line = `${r.target}: raw only, ${r.reason}`;
      if (!reasons.has(line)) notes.push(line);
      reasons.add(line);
    } else if (r.reason !== undefined) {
      notes.push(`${r.target} ${r.workload}: ${r.reason}`);
    }
    if (r.sides !== undefined) {
      const sides = Object.entries(r.sides).map(([side, what]) => `${side} = ${what}`);
      notes.push(`${r.target} ${r.workload}: ${sides.join('; ')}`);
    }
    if (r.note !== undefined) notes.push(`${r.target} ${r.workload}: ${r.note}`);
  }
  if (notes.length > 0) parts.push(notes.join('\n'));
  return `${parts.join('\n\n')}\n`;
}
