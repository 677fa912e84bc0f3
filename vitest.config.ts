import { defineConfig } from 'vitest/config';

// Real databases and real HTTP: tests take seconds, not milliseconds, and files run in
// parallel on separate SQLite files and separately named MariaDB databases.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
