import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { onTestFinished } from 'vitest';
import { cliPath } from './paths.js';

/** What one run of the command gave. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `pup-migrate-gen` with `args` in `cwd`, as a child process. */
export function runCli(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): CliRun {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A new empty folder, removed when the test ends. */
export function temporaryFolder(prefix = 'pup-migrate-gen-'): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

/** Every file and folder below `folder`, relative to it, sorted. */
export function listTree(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .map((entry) => relative(folder, join(folder, entry)))
    .sort();
}

/**
 * Runs the command in `folder` and returns the SQL file it wrote (it prints the path), failing
 * with the command's stderr otherwise.
 */
export function generateFile(args: readonly string[], folder: string): string {
  const run = runCli(args, folder);
  if (run.status !== 0) {
    throw new Error(`pup-migrate-gen ${args.join(' ')} exited with ${run.status}: ${run.stderr}`);
  }
  return join(folder, run.stdout.trim());
}
