/**
 * The layers the README promises, checked in `npm test` (`npm run lint:layers`):
 * - src/domain holds pure rules and entity types: it imports no sources, store, server,
 *   service, events, database driver, knex or HTTP;
 * - src/server speaks HTTP and GraphQL: it reaches databases only through the store and the
 *   connectors, never knex or a driver itself;
 * - resolvers/ call services, never the store, the sources or a driver;
 * - src/server is an edge: only the CLI reaches into it, and of the CLI only `start` (the
 *   command that serves) builds the app; the other commands run on the composition root
 *   (src/service/runtime.ts) and may use just the server modules they genuinely need.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain is rules and entity types only: I/O belongs to src/service, src/sources, src/store',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: {
        path: [
          '^src/(sources|store|server|service|events|cli|db)/',
          '(^|/)node_modules/(knex|better-sqlite3|mysql2|pg|dataloader)/',
          '^(node:)?(http|https|net|fs|child_process)$',
        ],
      },
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
    {
      name: 'only-start-serves',
      comment:
        'of the CLI only src/cli/start.ts builds the HTTP app (src/server/app.ts); the other commands run on createRuntime (src/service/runtime.ts). ' +
        'They may use the API-key hashing and roles (server/auth.ts: `keys`), the trusted documents (server/documents.ts) and the executable schema ' +
        '(createSchema in server/graphql.ts): `documents` checks documents against the schema the server serves. Nothing else in src/server.',
      severity: 'error',
      from: { path: '^src/cli/', pathNot: '^src/cli/start\\.ts$' },
      to: { path: '^src/server/', pathNot: '^src/server/(auth|documents|graphql)\\.ts$' },
    },
    {
      name: 'server-is-an-edge',
      comment: 'nothing below the server imports it: domain, service, sources, store, events, config and resolvers know nothing of HTTP or GraphQL serving',
      severity: 'error',
      from: { path: '^(src|resolvers)/', pathNot: '^src/(server|cli|generated)/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'generated-types-see-the-context',
      comment:
        'the generated resolver types (src/generated/graphql.ts) are typed against the GraphQL context (src/server/context.ts), nothing else in src/server',
      severity: 'error',
      from: { path: '^src/generated/' },
      to: { path: '^src/server/', pathNot: '^src/server/context\\.ts$' },
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
