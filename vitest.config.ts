import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file gets its own databases and emulator ports; two workers fit the 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
  },
});
