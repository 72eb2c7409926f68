import { defineConfig } from 'vitest/config';

// Each test file gets its own database (see test/support/db.ts); PGlite instances are ~850 MB RSS each,
// so the worker count is kept low on 2-core / 24 GiB machines.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
