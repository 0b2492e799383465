import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, platform, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type CliOptions, parseCli, USAGE } from './cli.js';
import { progress } from './progress.js';
import { renderReport } from './report.js';
import type { BenchReport, WorkloadResult } from './results.js';
import { runRssWorkload } from './rss/measure.js';
import { runWorkload } from './runner.js';
import { dropScratch, targetConfig } from './targets/config.js';
import { adapterUnavailable, KNOWN_ADAPTERS, TARGETS } from './targets/index.js';
import type { AdapterName, BenchTarget } from './targets/types.js';
import {
  runWorkerScaling,
  workerScalingApplies,
  workerScalingOptions,
} from './worker-scaling/measure.js';
import { sizesFor, WORKLOADS } from './workloads.js';

const ALL_WORKLOADS = [...WORKLOADS.map((w) => w.id), 'catch-up-rss', 'worker-scaling'];

async function selectAdapters(options: CliOptions): Promise<AdapterName[]> {
  const selected: AdapterName[] = [];
  for (const adapter of options.adapters.length > 0 ? options.adapters : KNOWN_ADAPTERS) {
    const reason = await adapterUnavailable(adapter);
    if (reason === null) selected.push(adapter);
    else if (options.adapters.length > 0) throw new Error(`cannot benchmark ${adapter}: ${reason}`);
    else progress(`skipping ${adapter}: ${reason}`);
  }
  return selected;
}

function gitState(): BenchReport['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim().length > 0;
    return { commit, dirty };
  } catch {
    return null;
  }
}

function failed(target: BenchTarget, workload: string, error: unknown): WorkloadResult {
  const reason = error instanceof Error ? error.message : String(error);
  progress(`[${target.id}] ${workload} FAILED: ${reason}`);
  return {
    target: target.id,
    adapter: target.adapter,
    driver: target.driver,
    workload,
    title: workload,
    size: '—',
    status: 'failed',
    reason,
    goals: [],
  };
}

/** A quick run passes only when every workload ran both sides and produced numbers. */
function incomplete(results: readonly WorkloadResult[]): string[] {
  return results
    .filter(
      (r) =>
        r.status !== 'ok' ||
        !(r.pup!.eventsPerSec > 0) ||
        !(r.raw!.eventsPerSec > 0) ||
        !Number.isFinite(r.ratio!.median),
    )
    .map((r) => `${r.target} ${r.workload}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
}

async function main(): Promise<number> {
  const options = parseCli(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const unknown = options.workloads.filter((w) => !ALL_WORKLOADS.includes(w));
  if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(', ')}`);
  const wanted = (id: string) => options.workloads.length === 0 || options.workloads.includes(id);

  const adapters = await selectAdapters(options);
  const scratch = mkdtempSync(join(tmpdir(), 'pup-bench-'));
  const config = targetConfig(`pup_bench_${process.pid}`, join(scratch, 'bench.sqlite'));
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: ['pnpm', 'bench', ...process.argv.slice(2).filter((a) => a !== '--')].join(' '),
    quick: options.quick,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      platform: `${platform()} ${process.arch}`,
      node: process.version,
    },
    git: gitState(),
    environments: {},
    results: [],
  };

  const entries = TARGETS.filter((t) => adapters.includes(t.adapter));
  // Load every module up front: other builds may clean the packages' dist/ during a long run.
  await Promise.all(entries.map((entry) => entry.load()));
  try {
    for (const entry of entries) {
      let target: BenchTarget;
      try {
        target = await entry.create(config);
        await target.open();
      } catch (error) {
        const reason =
          `cannot open ${entry.id}: ${error instanceof Error ? error.message : String(error)}` +
          (entry.adapter === 'postgres'
            ? ` (set PUP_BENCH_POSTGRES_URL or PUP_TEST_POSTGRES_URL; tried ${config.postgresUrl})`
            : entry.adapter === 'mysql'
              ? ` (set PUP_BENCH_MYSQL_URL or PUP_TEST_MYSQL_URL; tried ${config.mysqlUrl})`
              : '');
        progress(reason);
        report.results.push({
          target: entry.id,
          adapter: entry.adapter,
          driver: '?',
          workload: '*',
          title: 'open the target',
          size: '—',
          status: 'failed',
          reason,
          goals: [],
        });
        continue;
      }
      if (target.peer !== undefined) {
        await target.peer.open();
        const reason = target.peer.unavailable();
        if (reason !== null) {
          progress(`[${target.id}] without ${target.peer.name}: ${reason}`);
          report.results.push({
            target: target.id,
            adapter: entry.adapter,
            driver: target.driver,
            workload: '*',
            title: `open the peer ${target.peer.name}`,
            size: '—',
            status: 'failed',
            reason,
            goals: [],
          });
        }
      }
      try {
        const unavailable = target.pupUnavailable();
        if (unavailable !== null) progress(`[${target.id}] raw only: ${unavailable}`);
        const sizes = { ...sizesFor(entry.adapter, options.quick) };
        if (options.batchSize !== undefined) sizes.batchSize = options.batchSize;
        if (options.pairs !== undefined) {
          sizes.pairs = options.pairs;
          sizes.catchUpPairs = options.pairs;
        }
        for (const workload of WORKLOADS) {
          if (!wanted(workload.id) || !workload.appliesTo(target)) continue;
          progress(`[${target.id}] ${workload.id}: ${workload.describe(sizes)}`);
          try {
            report.results.push(await runWorkload(target, workload, sizes));
          } catch (error) {
            report.results.push(failed(target, workload.id, error));
          }
        }
        if (wanted('catch-up-rss')) {
          try {
            report.results.push(await runRssWorkload(target, sizes, config));
          } catch (error) {
            report.results.push(failed(target, 'catch-up-rss', error));
          }
        }
        if (wanted('worker-scaling') && workerScalingApplies(target)) {
          const scaling = { ...workerScalingOptions(options.quick), ...options.workerScaling };
          if (options.pairs !== undefined) scaling.pairs = options.pairs;
          if (options.batchSize !== undefined) scaling.batchSize = options.batchSize;
          progress(
            `[${target.id}] worker-scaling: ${scaling.events.toLocaleString('en-US')} events over ` +
              `${scaling.aggregates.toLocaleString('en-US')} aggregates, ${scaling.processes.join('/')} processes`,
          );
          try {
            report.results.push(...(await runWorkerScaling(target, config, scaling)));
          } catch (error) {
            report.results.push(failed(target, 'worker-scaling', error));
          }
        }
        report.environments[target.id] = {
          driver: target.driver,
          ...(await target.environment()),
          ...(target.peer?.unavailable() === null ? target.peer.environment() : {}),
        };
      } finally {
        await target.close();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await dropScratch(config, adapters);
  }
  report.finishedAt = new Date().toISOString();

  const table = renderReport(report);
  if (options.json === '-') {
    process.stderr.write(table);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(table);
    if (options.json !== undefined) {
      // pnpm runs the script in bench/; a relative path means the caller's directory.
      const file = resolve(process.env.INIT_CWD ?? process.cwd(), options.json);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      progress(`wrote ${file}`);
    }
  }

  const failures = report.results.filter((r) => r.status === 'failed');
  if (options.quick) {
    const missing = incomplete(report.results);
    if (report.results.length === 0) missing.push('no workload ran');
    if (missing.length > 0) {
      process.stderr.write(`quick run incomplete:\n  ${missing.join('\n  ')}\n`);
      return 1;
    }
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
