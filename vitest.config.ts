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
    // `npm test` runs with coverage (`--coverage`); the floors are the level the whole suite
    // measured when they were set (issue 9, 2026-11-30, with every door and the deploy checks,
    // rounded down), so a change that drops it fails the suite instead of going unseen. A single
    // file run by hand (`npx vitest run test/x.test.ts`) has no coverage and so no floors. Code
    // run in child processes (the local Lambda host's containers, `npm start`) is not counted.
    coverage: {
      provider: 'v8',
      include: ['{src,lambdas,runtime,infra,dq,db,bench,web}/**/*.ts'],
      // The dashboard's page code runs in Chromium (dashboard-browser.test.ts), where v8 coverage
      // of this process cannot see it; its build and budget code in web/*.ts is measured.
      exclude: ['web/src/**'],
      reporter: ['text-summary', 'json-summary'],
      reportOnFailure: true,
      thresholds: {
        lines: 78,
        statements: 76,
        functions: 79,
        branches: 66,
        'src/**': { lines: 94, statements: 92, functions: 93, branches: 86 },
        'dq/**': { lines: 86, statements: 83, functions: 91, branches: 75 },
        'infra/**': { lines: 81, statements: 79, functions: 88, branches: 68 },
      },
    },
  },
});
