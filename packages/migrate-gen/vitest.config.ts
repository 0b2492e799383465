import { defineConfig } from 'vitest/config';

// No aliases: the tests use the built packages (this one and the adapters), as a user does. The
// global setup builds this package; turbo builds the others first (`^build`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
