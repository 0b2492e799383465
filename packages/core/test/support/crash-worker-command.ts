// Repository test plumbing shared by the adapters' crash tests (not part of the published suite).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CrashWorkerCommand } from '@pup/core/conformance';

const here = dirname(fileURLToPath(import.meta.url));
const coreSources = join(here, '../../src');

/**
 * The command that runs the TypeScript worker at `workerUrl` with tsx (resolved from the worker's
 * own package, which must list it in devDependencies), mapping `@pup/core` to core's sources as
 * vitest does, so the worker runs the code under test. The worker runs as
 * `node --import <tsx loader>`, one process, so SIGKILL reaches the worker itself (tsx's CLI would
 * run it in a child process of its own, which would survive and keep SQLite locked).
 */
export function crashWorkerCommand(
  workerUrl: URL,
  env: Record<string, string>,
): { worker: CrashWorkerCommand; dispose: () => void } {
  const loader = createRequire(workerUrl).resolve('tsx');
  const dir = mkdtempSync(join(tmpdir(), 'pup-crash-tsconfig-'));
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(here, '../../../../tsconfig.base.json'),
      compilerOptions: {
        paths: {
          '@pup/core': [join(coreSources, 'index.ts')],
          '@pup/core/adapter': [join(coreSources, 'adapter/index.ts')],
          '@pup/core/conformance': [join(coreSources, 'conformance/index.ts')],
        },
      },
    }),
  );
  return {
    worker: {
      command: process.execPath,
      args: ['--import', pathToFileURL(loader).href, fileURLToPath(workerUrl)],
      env: { ...env, TSX_TSCONFIG_PATH: tsconfig },
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
