/**
 * Times every statement of a workload's sides, outside the A/B runner: the same target code,
 * driven in alternating blocks per side, with the driver's `query` wrapped to time each
 * statement and count the statements per call.
 *
 *   npx tsx src/step-timings.ts <mysql|postgres-pg> <append|append-stream|catch-up> [rounds]
 *
 * `append`: one event per transaction (pup, raw, raw+). `append-stream`: pup's
 * `appendToStream`, the raw transaction and the raw single statement. `catch-up`: whole
 * catch-ups of a 200,000-event log, pup at default settings and raw in pages of 100.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { eventsFor, runTag, streamOf } from './fixtures.js';
import { median } from './stats.js';
import { dropScratch, targetConfig } from './targets/config.js';
import { targetEntry } from './targets/index.js';
import type { BenchTarget, SideOps } from './targets/types.js';

/** Statement timings of the side being measured, by statement (normalized SQL prefix). */
const timings = new Map<string, number[]>();
let recording = false;
let inDriver = 0;
let statements = 0;

function record(sql: unknown, started: number): void {
  const ms = performance.now() - started;
  inDriver += ms;
  statements += 1;
  if (!recording) return;
  const text =
    typeof sql === 'string'
      ? sql
      : ((sql as { sql?: string; text?: string; name?: string })?.sql ??
        (sql as { text?: string })?.text ??
        (sql as { name?: string })?.name ??
        '?');
  const key = String(text)
    .replace(/\s+/g, ' ')
    .replace(/`?pup_steps_\d+`?\./g, '')
    .replace(/"pup_steps_\d+"\./g, '')
    .slice(0, 48);
  const list = timings.get(key) ?? [];
  list.push(ms);
  timings.set(key, list);
}

/** Wraps the drivers' query methods so that every statement is timed. */
function instrumentDrivers(): void {
  const createPool = mysql.createPool;
  (mysql as { createPool: typeof mysql.createPool }).createPool = ((options: mysql.PoolOptions) => {
    const pool = createPool(options);
    const getConnection = pool.getConnection.bind(pool);
    pool.getConnection = async () => {
      const conn = await getConnection();
      const query = conn.query.bind(conn) as (...args: unknown[]) => Promise<unknown>;
      (conn as { query: unknown }).query = async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await query(...args);
        } finally {
          record(args[0], started);
        }
      };
      return conn;
    };
    return pool;
  }) as typeof mysql.createPool;
  const clientQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as { query: unknown }).query = function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    const started = performance.now();
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      // Callback form (pg-pool's `pool.query`): time until the callback.
      args[args.length - 1] = (...results: unknown[]) => {
        record(args[0], started);
        return (last as (...r: unknown[]) => unknown)(...results);
      };
      return clientQuery.apply(this, args);
    }
    const result = clientQuery.apply(this, args);
    if (result instanceof Promise) return result.finally(() => record(args[0], started));
    return result;
  };
}

type Call = (target: BenchTarget, n: number) => Promise<number>;

/** The calls each side makes per step, by mode. */
function callsOf(mode: string): Record<string, Call> {
  const one =
    (pick: (t: BenchTarget) => (events: ReturnType<typeof eventsFor>) => Promise<void>): Call =>
    async (t, n) => {
      await pick(t)(eventsFor(streamOf(runTag(), n), 1));
      return 1;
    };
  const stream = (ops: SideOps) => ops.appendToStream!.bind(ops);
  if (mode === 'append') {
    return {
      pup: one((t) => (e) => t.pup.append(e)),
      raw: one((t) => (e) => t.raw.append(e)),
      'raw+': one((t) => (e) => t.rawPlus.append(e)),
    };
  }
  if (mode === 'append-stream') {
    return {
      'pup appendToStream': one((t) => stream(t.pup)),
      'raw transaction': one((t) => (e) => t.raw.append(e)),
      'raw single statement': one((t) => stream(t.raw)),
    };
  }
  return {
    pup: (t) => t.pup.catchUp({ total: LOG, batchSize: 100 }),
    raw: (t) => t.raw.catchUp({ total: LOG, batchSize: 100 }),
  };
}

const LOG = 200_000;
const BLOCK = 40;

async function main(): Promise<void> {
  const [targetId, mode = 'append', roundsText] = process.argv.slice(2);
  if (targetId === undefined || !['append', 'append-stream', 'catch-up'].includes(mode)) {
    throw new Error(
      'usage: step-timings.ts <mysql|postgres-pg> <append|append-stream|catch-up> [rounds]',
    );
  }
  const rounds = Number(roundsText ?? (mode === 'catch-up' ? 2 : 25));
  instrumentDrivers();
  const config = targetConfig(`pup_steps_${process.pid}`, '');
  const entry = targetEntry(targetId);
  const target = await entry.create(config);
  await target.open();
  const calls = callsOf(mode);
  const totals = new Map<
    string,
    { ms: number[]; outside: number[]; statements: number; count: number }
  >();
  const perSide = new Map<string, Map<string, number[]>>();
  try {
    await target.resetTables();
    if (mode === 'catch-up') await target.preload(LOG, 100);
    for (let round = 0; round < rounds + 1; round++) {
      for (const [side, call] of Object.entries(calls)) {
        timings.clear();
        recording = round > 0;
        const steps = mode === 'catch-up' ? 1 : BLOCK;
        for (let i = 0; i < steps; i++) {
          inDriver = 0;
          statements = 0;
          const started = performance.now();
          const events = await call(target, i);
          const ms = performance.now() - started;
          if (round === 0) continue;
          const total = totals.get(side) ?? { ms: [], outside: [], statements: 0, count: 0 };
          total.ms.push(mode === 'catch-up' ? events / (ms / 1000) : ms);
          total.outside.push(ms - inDriver);
          total.statements += statements;
          total.count += 1;
          totals.set(side, total);
        }
        const own = perSide.get(side) ?? new Map<string, number[]>();
        for (const [key, list] of timings) own.set(key, [...(own.get(key) ?? []), ...list]);
        perSide.set(side, own);
      }
    }
  } finally {
    await target.close();
    await dropScratch(config, [entry.adapter]);
  }
  for (const [side, total] of totals) {
    const figure =
      mode === 'catch-up'
        ? `${Math.round(median(total.ms)).toLocaleString('en-US')} events/s (median of ${total.count} runs)`
        : `${median(total.ms).toFixed(3)} ms per call (median of ${total.count}), ` +
          `${median(total.outside).toFixed(3)} ms outside the driver, ` +
          `${(total.statements / total.count).toFixed(2)} statements per call`;
    process.stdout.write(`${side}: ${figure}\n`);
    for (const [key, list] of perSide.get(side) ?? []) {
      process.stdout.write(
        `  ${key.padEnd(48)} n=${String(list.length).padStart(6)}  median ${median(list).toFixed(3)} ms\n`,
      );
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
