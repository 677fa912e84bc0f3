/**
 * The Apollo Server: the schema from schema/*.graphql with the resolvers, and the
 * cross-cutting behaviour as plugins, not in resolvers:
 * - source failures of a request become one SOURCE_UNAVAILABLE error per source, beside the
 *   data (HTTP 200, never a null response);
 * - any error that is not ours is masked (no SQL, stack or path) and logged with the request id.
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvers } from '../../resolvers/index.js';
import { ErrorCode, InvalidSourceDataError, SourceUnavailableError } from '../errors.js';
import { errorFields, type Logger } from '../logger.js';
import { authDirectiveTransformer } from './auth-directive.js';
import type { GatewayContext } from './context.js';
import { compiledExecutorGateway, type CompiledCacheObserver } from './executor.js';
import { createFastPath, type FastPath } from './fast-path.js';
import { createOperationLimits, type LimitsPluginOptions } from './limits.js';

export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema');

/** The executable schema: every .graphql file in schema/, in name order. */
export function createSchema(dir = SCHEMA_DIR): GraphQLSchema {
  const typeDefs = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
  return authDirectiveTransformer(makeExecutableSchema({ typeDefs, resolvers }));
}

/**
 * One SOURCE_UNAVAILABLE error per source that failed during the request, and one
 * INVALID_SOURCE_DATA error per source that sent records that could not be used, as the
 * answer carries them (after the execution's own errors).
 */
export function sourceErrorsOf(context: GatewayContext): GraphQLFormattedError[] {
  const { failures, invalidData } = context.diagnostics;
  if (failures.size === 0 && invalidData.size === 0) return [];
  return [
    ...[...failures.values()].map((f) => new SourceUnavailableError(f.source, f.reason).toJSON()),
    ...[...invalidData].map(([source, records]) => new InvalidSourceDataError(source, records).toJSON()),
  ];
}

const sourceFailuresPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        const errors = sourceErrorsOf(contextValue);
        if (errors.length === 0 || response.body.kind !== 'single') return;
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
export function statementsHeaderOf(context: GatewayContext): string {
  const counts = [...context.diagnostics.statements].map(([k, n]) => `${k}=${n}`).join(', ');
  return counts === '' ? 'none' : counts;
}

const statementsHeaderPlugin: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        response.http.headers.set('x-source-statements', statementsHeaderOf(contextValue));
      },
    };
  },
};

/**
 * An error Apollo raises itself about the request with a 4xx status and no code (a persisted
 * query whose hash does not match its text, an unsupported persisted-query version): the
 * client's mistake, answered as BAD_REQUEST and never logged as an internal fault.
 */
function isUncodedClientError(e: unknown): boolean {
  if (!(e instanceof GraphQLError) || e.extensions.code !== undefined) return false;
  const status = (e.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Logs, with the request id, every error that will reach the client masked. */
export function logInternalErrors(logger: Logger, context: GatewayContext, errors: readonly GraphQLError[]): void {
  for (const e of errors) {
    if ((e.extensions.code === undefined || e.extensions.code === ErrorCode.INTERNAL_SERVER_ERROR) && !isUncodedClientError(e)) {
      logger.error('internal error', { requestId: context.requestId, path: e.path, ...errorFields(unwrapResolverError(e)) });
    }
  }
}

function internalErrorLogPlugin(logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      return {
        async didEncounterErrors({ errors }) {
          logInternalErrors(logger, contextValue, errors);
        },
      };
    },
  };
}

/** Apollo's `formatError`: any error that is not ours (no code of its own) is masked, but for Apollo's own 4xx refusals of a request. */
export function maskInternalError(formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError {
  // ours and Apollo's own (parse, validation, bad variables) carry a code; anything else is an internal fault
  if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
  if (isUncodedClientError(error)) return { message: formatted.message, extensions: { ...formatted.extensions, code: ErrorCode.BAD_REQUEST } };
  return {
    message: 'Internal server error (the server log has the details under this response\'s x-request-id).',
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    ...(formatted.path ? { path: formatted.path } : {}),
  };
}

export interface GraphQLServerOptions {
  logger: Logger;
  limits: Omit<LimitsPluginOptions, 'schema'>;
  /** The parser's token cap: the largest of the roles' `maxTokens`, so no document is lexed further. */
  maxTokens: number;
  /**
   * `jit` (default): operations are compiled once by graphql-jit and kept in a bounded LRU
   * (src/server/executor.ts); `graphql-js`: Apollo's own executor. Else from
   * $INVENTORY_GRAPH_EXECUTOR, a switch back to graphql-js without a release.
   */
  executor?: 'jit' | 'graphql-js';
  /**
   * Apollo's cache-control plugin, which runs a hook on every resolved field to compute
   * `Cache-Control` from `@cacheControl` hints. No type has hints (every answer is live), so
   * it is off by default; else from $INVENTORY_GRAPH_CACHE_CONTROL=on.
   */
  cacheControl?: boolean;
  /**
   * Known queries posted as JSON answered without Apollo's request pipeline, the same answer
   * (src/server/fast-path.ts). Default: on with the jit executor and cache-control off; else
   * from $INVENTORY_GRAPH_FAST_PATH=on|off.
   */
  fastPath?: boolean;
  /** Most compiled operations the jit executor keeps (the fast path answers from the same ones). Defaults to 500. */
  compiledOperations?: number;
  /** Runs after ours: the request log's operation tracker (src/server/request-log.ts). */
  plugins?: ApolloServerPlugin<GatewayContext>[];
  /** Told of the jit executor's compiled-operation cache and each lookup in it, for /metrics (src/server/metrics.ts). */
  compiledCache?: CompiledCacheObserver;
}

/** The execution settings: the options, else the environment, else the fast defaults. */
export function executionSettings(o: Pick<GraphQLServerOptions, 'executor' | 'cacheControl' | 'fastPath'>, env = process.env) {
  const executor = o.executor ?? env.INVENTORY_GRAPH_EXECUTOR ?? 'jit';
  if (executor !== 'jit' && executor !== 'graphql-js') throw new Error(`INVENTORY_GRAPH_EXECUTOR must be jit or graphql-js, got "${executor}"`);
  const cc = env.INVENTORY_GRAPH_CACHE_CONTROL;
  if (cc !== undefined && cc !== 'on' && cc !== 'off') throw new Error(`INVENTORY_GRAPH_CACHE_CONTROL must be on or off, got "${cc}"`);
  const fp = env.INVENTORY_GRAPH_FAST_PATH;
  if (fp !== undefined && fp !== 'on' && fp !== 'off') throw new Error(`INVENTORY_GRAPH_FAST_PATH must be on or off, got "${fp}"`);
  const cacheControl = o.cacheControl ?? cc === 'on';
  // the fast path answers as the jit executor does, and sets no Cache-Control
  const fastPath = executor === 'jit' && !cacheControl && (o.fastPath ?? fp !== 'off');
  return { executor, cacheControl, fastPath } as const;
}

export function createGraphQLServer(o: GraphQLServerOptions): ApolloServer<GatewayContext> {
  return createGraphQL(o).server;
}

/** Apollo with our plugins, and the fast path beside it (undefined when it is off). */
export function createGraphQL(o: GraphQLServerOptions): { server: ApolloServer<GatewayContext>; fastPath: FastPath | undefined } {
  const run = executionSettings(o);
  const schema = createSchema();
  const gateway = run.executor === 'jit' ? compiledExecutorGateway(schema, { maxOperations: o.compiledOperations, onLookup: o.compiledCache?.lookup }) : undefined;
  if (gateway !== undefined) o.compiledCache?.watch(gateway.operations);
  const limits = createOperationLimits({ ...o.limits, schema });
  const server = new ApolloServer<GatewayContext>({
    ...(gateway !== undefined ? { gateway } : { schema }),
    // allowed here, refused per role by the limits plugin (analyst and admin only)
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // the CLI stops the server itself, after in-flight requests (Apollo's own handler would stop
    // executing them first, then re-raise the signal and kill the process with it)
    stopOnTerminationSignals: false,
    hideSchemaDetailsFromClientErrors: true,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    parseOptions: { maxTokens: o.maxTokens },
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ...(run.cacheControl ? [] : [ApolloServerPluginCacheControlDisabled()]),
      limits.plugin,
      sourceFailuresPlugin,
      statementsHeaderPlugin,
      internalErrorLogPlugin(o.logger),
      ...(o.plugins ?? []),
    ],
    formatError: maskInternalError,
  });
  const fastPath =
    run.fastPath && gateway !== undefined
      ? createFastPath({
        operations: gateway.operations,
        limits,
        formatError: maskInternalError,
        sourceErrors: sourceErrorsOf,
        statementsHeader: statementsHeaderOf,
        logInternalErrors: (context, errors) => logInternalErrors(o.logger, context, errors),
      })
      : undefined;
  return { server, fastPath };
}
