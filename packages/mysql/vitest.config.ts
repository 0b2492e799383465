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
    // Each test file works in databases of its own; files run one after the other so timing
    // tests (held-open writers, lock turns) do not share the machine's two cores with others.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
