/**
 * Summarizes a `.cpuprofile`: self time per function and per package (pup, driver, node
 * internals, GC, idle), so pup's own share of a hot path is visible at a glance.
 *
 *   npx tsx src/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which part of the stack a frame belongs to. */
function bucketOf(url: string, name: string): string {
  if (name === '(idle)') return 'idle (waiting for I/O)';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8/native (program)';
  if (url.includes('/packages/core/')) return 'pup core';
  if (url.includes('/packages/sqlite/')) return 'pup sqlite';
  if (url.includes('/packages/postgres/')) return 'pup postgres';
  if (url.includes('/bench/src/')) return 'bench harness';
  if (/node_modules\/(\.pnpm\/)?(pg|pg-[a-z-]+|pgpass|postgres-[a-z]+)[@/]/.test(url))
    return 'pg driver';
  if (/node_modules\/(\.pnpm\/)?postgres[@/]/.test(url)) return 'postgres.js driver';
  if (url.includes('better-sqlite3')) return 'better-sqlite3';
  if (url.startsWith('node:') || url === '') return 'node internals/native';
  return 'other';
}

function main(): void {
  const [file, topText] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const bucket = bucketOf(url, functionName);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + micros);
    const short = url.replace(/^.*\/(packages|node_modules|bench)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
  process.stdout.write(`total ${(total / 1e6).toFixed(2)} s sampled\n\nby part:\n`);
  for (const [bucket, micros] of [...buckets].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`  ${pct(micros)}  ${bucket}\n`);
  }
  process.stdout.write('\nby function (self time):\n');
  const top = Number(topText ?? 30);
  for (const [key, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${pct(micros)}  ${key}\n`);
  }
}

main();
