import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/build-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Integration files each run a real etcd and PostgreSQL cluster: one at a time keeps their
    // timings honest on a 2-core machine.
    fileParallelism: false,
  },
});
