/**
 * The layers the README promises, checked in `npm test` (`npm run lint:layers`):
 * - src/domain holds pure rules and entity types: it imports no sources, store, server,
 *   service, events, database driver, knex or HTTP;
 * - src/server speaks HTTP and GraphQL: it reaches databases only through the store and the
 *   connectors, never knex or a driver itself;
 * - resolvers/ call services, never the store, the sources or a driver.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain is rules and entity types only: I/O belongs to src/service, src/sources, src/store',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: ['^src/(sources|store|server|service|events|cli|db)/', '(^|/)node_modules/(knex|better-sqlite3|mysql2|pg|dataloader)/', '^(node:)?(http|https|net|fs|child_process)$'] },
    },
    {
      name: 'server-has-no-sql',
      comment: 'src/server reads through the store and the connectors, never knex or a database driver',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: ['^src/db/', '(^|/)node_modules/(knex|better-sqlite3|mysql2|pg)/'] },
    },
    {
      name: 'resolvers-call-services',
      comment: 'resolvers map arguments to a service call: no store, source or driver',
      severity: 'error',
      from: { path: '^resolvers/' },
      to: { path: ['^src/(store|sources|db)/', '(^|/)node_modules/(knex|better-sqlite3|mysql2|pg)/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
