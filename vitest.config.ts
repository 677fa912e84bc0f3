import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Real databases and real HTTP: tests take seconds, not milliseconds, and files run in
// parallel on separate SQLite files and separately named MariaDB databases.
export default defineConfig({
  resolve: {
    // Node resolves `graphql` to its CommonJS entry (the package has no `exports`), and so do
    // the libraries vitest leaves to Node (Apollo, graphql-tools, graphql-jit); vite would take
    // the `module` entry for our own files, and a schema built by one copy fails the other's
    // instanceof checks. One copy, as in production.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // the command's tests run dist/: rebuilt first when the sources changed
    globalSetup: ['test/helpers/build.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
