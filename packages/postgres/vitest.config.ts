import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const core = (path: string) => fileURLToPath(new URL(`../core/src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@pup\/core\/conformance$/, replacement: core('conformance/index.ts') },
      { find: /^@pup\/core\/adapter$/, replacement: core('adapter/index.ts') },
      { find: /^@pup\/core$/, replacement: core('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Readers see only transactions older than the oldest running one in the whole cluster, so
    // test files writing in parallel would hold each other's readers back: run them one by one.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
