import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CrashWorkerCommand } from '@pup/core/conformance';

const here = dirname(fileURLToPath(import.meta.url));
const coreSources = join(here, '../../core/src');

/**
 * tsx's loader: a dependency when declared, otherwise the copy the workspace installs. The worker
 * runs as `node --import <loader>`, one process, so SIGKILL reaches the worker itself (tsx's CLI
 * would run it in a child process of its own).
 */
function findTsxLoader(): string {
  try {
    return createRequire(import.meta.url).resolve('tsx');
  } catch {
    for (let dir = here; dir !== dirname(dir); dir = dirname(dir)) {
      for (const candidate of [
        join(dir, 'node_modules/tsx/dist/loader.mjs'),
        join(dir, 'node_modules/.pnpm/node_modules/tsx/dist/loader.mjs'),
      ]) {
        if (existsSync(candidate)) return candidate;
      }
    }
  }
  throw new Error('the crash test runs its worker with tsx: add tsx to devDependencies');
}

/**
 * The command that runs the TypeScript worker `file` (in this directory) with tsx, resolving
 * `@pup/core` to core's sources as vitest does, so the worker runs the code under test.
 */
export function crashWorkerCommand(
  file: string,
  env: Record<string, string>,
): { worker: CrashWorkerCommand; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pup-crash-tsconfig-'));
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(here, '../../../tsconfig.base.json'),
      compilerOptions: {
        paths: {
          '@pup/core': [join(coreSources, 'index.ts')],
          '@pup/core/conformance': [join(coreSources, 'conformance/index.ts')],
        },
      },
    }),
  );
  return {
    worker: {
      command: process.execPath,
      args: ['--import', pathToFileURL(findTsxLoader()).href, join(here, file)],
      env: { ...env, TSX_TSCONFIG_PATH: tsconfig },
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
