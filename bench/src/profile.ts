/**
 * Runs one side of one workload on one target for profiling, without the A/B machinery:
 *
 *   node --cpu-prof --cpu-prof-dir=results/profiles --import tsx src/profile.ts \
 *     <target> <workload> <side> [scale]
 *
 * e.g. `postgres-pg append-1 pup 2`. Summarize the profile with `src/profile-summary.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { progress } from './progress.js';
import { dropScratch, targetConfig } from './targets/config.js';
import { targetEntry } from './targets/index.js';
import type { SideName } from './targets/types.js';
import { sizesFor, WORKLOADS } from './workloads.js';

async function main(): Promise<void> {
  const [targetId, workloadId, side, scaleText] = process.argv.slice(2);
  const workload = WORKLOADS.find((w) => w.id === workloadId);
  if (targetId === undefined || workload === undefined || side === undefined) {
    throw new Error('usage: profile.ts <target> <workload> <pup|raw|rawPlus|peer> [scale]');
  }
  const scratch = mkdtempSync(join(tmpdir(), 'pup-profile-'));
  const config = targetConfig(`pup_profile_${process.pid}`, join(scratch, 'profile.sqlite'));
  const entry = targetEntry(targetId);
  const target = await entry.create(config);
  await target.open();
  const sides = [side as SideName];
  if (side === 'peer') await target.peer?.open();
  try {
    const sizes = sizesFor(entry.adapter, false);
    await workload.setup(target, sizes, sides);
    await workload.beforeRun(target, sides);
    await workload.run(target, side as SideName, sizes, 0.2);
    await workload.beforeRun(target, sides);
    const measure = await workload.run(target, side as SideName, sizes, Number(scaleText ?? 1));
    progress(
      `${targetId} ${workload.id} ${side}: ${Math.round(measure.events / measure.seconds)} events/s`,
    );
  } finally {
    await target.close();
    rmSync(scratch, { recursive: true, force: true });
    await dropScratch(config, [entry.adapter]);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
