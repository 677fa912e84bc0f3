/**
 * The Apollo Server: the schema from schema/*.graphql with the resolvers, and the
 * cross-cutting behaviour as plugins, not in resolvers:
 * - source failures of a request become one SOURCE_UNAVAILABLE error per source, beside the
 *   data (HTTP 200, never a null response);
 * - any error that is not ours is masked (no SQL, stack or path) and logged with the request id.
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvers } from '../../resolvers/index.js';
import { ErrorCode, SourceUnavailableError } from '../errors.js';
import { errorFields, type Logger } from '../logger.js';
import type { GatewayContext } from './context.js';

export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema');

/** The executable schema: every .graphql file in schema/, in name order. */
export function createSchema(dir = SCHEMA_DIR): GraphQLSchema {
  const typeDefs = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
  return makeExecutableSchema({ typeDefs, resolvers });
}

/** Appends one SOURCE_UNAVAILABLE error per source that failed during the request. */
const sourceFailuresPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        const failures = contextValue.inventory.failures;
        if (failures.size === 0 || response.body.kind !== 'single') return;
        const errors = [...failures.values()].map((f) => new SourceUnavailableError(f.source, f.reason).toJSON());
        const result = response.body.singleResult;
        result.errors = [...(result.errors ?? []), ...errors];
      },
    };
  },
};

/**
 * Tells the client what the request cost in source I/O: `x-source-statements:
 * erp/stock=1, wms/stock=1` (statements sent per source and entity). Benchmarks and tests
 * read it; an operator can too.
 */
const statementsHeaderPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        const counts = [...contextValue.inventory.statements].map(([k, n]) => `${k}=${n}`).join(', ');
        response.http.headers.set('x-source-statements', counts === '' ? 'none' : counts);
      },
    };
  },
};

/** Logs, with the request id, every error that will reach the client masked. */
function internalErrorLogPlugin(logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didEncounterErrors({ errors }) {
          for (const e of errors) {
            if (e.extensions.code === undefined || e.extensions.code === ErrorCode.INTERNAL_SERVER_ERROR) {
              logger.error('internal error', { requestId: contextValue.requestId, path: e.path, ...errorFields(unwrapResolverError(e)) });
            }
          }
        },
      };
    },
  };
}

export function createGraphQLServer(logger: Logger): ApolloServer<GatewayContext> {
  return new ApolloServer<GatewayContext>({
    schema: createSchema(),
    introspection: true,
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginLandingPageDisabled(), sourceFailuresPlugin, statementsHeaderPlugin, internalErrorLogPlugin(logger)],
    formatError(formatted) {
      // ours and Apollo's own (parse, validation, bad variables) carry a code; anything else is an internal fault
      if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
      return {
        message: 'Internal server error (the server log has the details under this response\'s x-request-id).',
        extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
        ...(formatted.path ? { path: formatted.path } : {}),
      };
    },
  });
}
