import { formatRate } from '../progress.js';
import type { WorkloadResult } from '../results.js';
import type { ReadModelCheck } from './db.js';

type Row = WorkloadResult & { workerScaling: NonNullable<WorkloadResult['workerScaling']> };

function rowsOf(results: readonly WorkloadResult[]): Row[] {
  return results.filter((r): r is Row => r.workerScaling !== undefined);
}

function range(value: { median: number; min: number; max: number; pairs: number[] }): string {
  if (value.pairs.length === 1) return value.median.toFixed(2);
  return `${value.median.toFixed(2)} (${value.min.toFixed(2)}–${value.max.toFixed(2)})`;
}

function cores(value: number | null): string {
  return value === null ? '—' : value.toFixed(2);
}

/** CPU time per event of the workers and of the database, in µs. */
function perEvent(cpu: { workers: number | null; database: number | null }, rate?: number): string {
  if (rate === undefined || !(rate > 0)) return '—';
  const us = (value: number | null) => (value === null ? '—' : Math.round((value / rate) * 1e6));
  return `${us(cpu.workers)} + ${us(cpu.database)}`;
}

function readModel(check: ReadModelCheck): string {
  const wrong = check.missing + check.short + check.doubled + check.outOfOrder + check.wrongBalance;
  return wrong === 0 && check.extra === 0
    ? `${check.rows.toLocaleString('en-US')} ok`
    : `${check.missing} missing, ${check.doubled} doubled`;
}

function filtering(row: Row): string {
  const option = row.workerScaling.serverSideFiltering;
  return option === undefined
    ? row.workerScaling.filtering
    : `${row.workerScaling.filtering} (${option})`;
}

const HEADER = [
  'target',
  'filtering (serverSideFiltering)',
  'procs',
  'pup ev/s',
  'speedup vs 1',
  'raw ev/s',
  'pup/raw',
  'leases settled ms',
  'CPU workers',
  'CPU db',
  'CPU others',
  'CPU machine',
  'raw CPU proc / db',
  'CPU µs/event workers + db',
  'read model',
];

function cells(row: Row): string[] {
  const w = row.workerScaling;
  return [
    row.target,
    filtering(row),
    String(w.processes),
    formatRate(row.pup?.eventsPerSec),
    range(w.speedup),
    formatRate(row.raw?.eventsPerSec),
    row.ratio === undefined ? '—' : range(row.ratio),
    String(Math.round(w.leasesSettledMs)),
    cores(w.cpu.workers),
    cores(w.cpu.database),
    cores(w.cpu.others),
    cores(w.cpu.machine),
    `${cores(w.rawCpu.workers)} / ${cores(w.rawCpu.database)}`,
    perEvent(w.cpu, row.pup?.eventsPerSec),
    readModel(w.readModel),
  ];
}

/**
 * The `worker-scaling` rows as one plain-text table (CPU in cores: 1.00 = one core busy for the
 * whole run), or null when the report has none.
 */
export function renderWorkerScaling(
  results: readonly WorkloadResult[],
  renderTable: (header: string[], rows: string[][]) => string,
): string | null {
  const rows = rowsOf(results);
  if (rows.length === 0) return null;
  return renderTable(HEADER, rows.map(cells));
}

/** The `worker-scaling` rows of one target as a Markdown table, or none. */
export function workerScalingMarkdown(results: readonly WorkloadResult[]): string[] {
  const rows = rowsOf(results);
  if (rows.length === 0) return [];
  const header = HEADER.slice(1);
  return [
    `Worker scaling (${rows[0]!.size.replace(/, \d+ proc.*$/, '')}; CPU in cores, 1.00 = one core busy throughout):`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${cells(row).slice(1).join(' | ')} |`),
  ];
}
