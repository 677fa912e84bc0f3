/**
 * The Apollo Server: the schema from schema/*.graphql with the resolvers, and the
 * cross-cutting behaviour as plugins, not in resolvers: the operation limits
 * (src/server/limits.ts), and the response finalizer (src/server/finalize.ts: source errors
 * beside the data, the statements header, masked errors logged, the operation noted for the
 * request log and metrics), which the fast path applies to its answers too.
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolvers } from '../../resolvers/index.js';
import type { Logger } from '../logger.js';
import { authDirectiveTransformer } from './auth-directive.js';
import type { GatewayContext } from './context.js';
import { compiledExecutorGateway, type CompiledCacheObserver } from './executor.js';
import { createFastPath, type FastPath } from './fast-path.js';
import { readTypeDefs, subgraphSchema } from './federation.js';
import { createResponseFinalizer, finalizerPlugin, maskInternalError } from './finalize.js';
import { TrustedDocumentCache, trustedDocuments } from './documents.js';
import { createOperationLimits, type LimitsPluginOptions } from './limits.js';
import { tracing } from '../tracing.js';
import { operationTracingPlugin } from './tracing.js';

export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema');

/**
 * The executable schema: every .graphql file in schema/, in name order, as a federation
 * subgraph (`_service`, `_entities`: src/server/federation.ts), `@auth` enforced on every field.
 */
export function createSchema(dir = SCHEMA_DIR): GraphQLSchema {
  return authDirectiveTransformer(subgraphSchema(readTypeDefs(dir), resolvers));
}

export interface GraphQLServerOptions {
  logger: Logger;
  limits: Omit<LimitsPluginOptions, 'schema'>;
  /** The parser's token cap: the largest of the roles' `maxTokens`, so no document is lexed further. */
  maxTokens: number;
  /** `server.executor`: `jit` (default), operations compiled once by graphql-jit and kept in a bounded LRU (src/server/executor.ts), or `graphql-js`, Apollo's own executor. */
  executor?: 'jit' | 'graphql-js';
  /** `server.cacheControl`: Apollo's cache-control plugin (off by default: no type has `@cacheControl` hints). */
  cacheControl?: boolean;
  /**
   * `server.fastPath`: trusted documents called by id answered without Apollo's request
   * pipeline, the same answer (src/server/fast-path.ts). Default on; it applies with the jit
   * executor and cache-control off only.
   */
  fastPath?: boolean;
  /** Most compiled operations the jit executor keeps. Defaults to 500. */
  compiledOperations?: number;
  /** Run after ours (they see the answer with the source errors added). */
  plugins?: ApolloServerPlugin<GatewayContext>[];
  /** Told of the jit executor's compiled-operation cache and each lookup in it, for /metrics (src/server/metrics.ts). */
  compiledCache?: CompiledCacheObserver;
}

/** The execution settings: the options, else the fast defaults (the config's defaults too). */
export function executionSettings(o: Pick<GraphQLServerOptions, 'executor' | 'cacheControl' | 'fastPath'>) {
  const executor = o.executor ?? 'jit';
  const cacheControl = o.cacheControl ?? false;
  // the fast path answers as the jit executor does, and sets no Cache-Control
  const fastPath = executor === 'jit' && !cacheControl && (o.fastPath ?? true);
  return { executor, cacheControl, fastPath } as const;
}

/** Apollo with our plugins, and the fast path beside it (undefined when it is off). */
export function createGraphQL(o: GraphQLServerOptions): { server: ApolloServer<GatewayContext>; fastPath: FastPath | undefined } {
  const run = executionSettings(o);
  const schema = createSchema();
  const gateway =
    run.executor === 'jit' ? compiledExecutorGateway(schema, { maxOperations: o.compiledOperations, onLookup: o.compiledCache?.lookup }) : undefined;
  if (gateway !== undefined) o.compiledCache?.watch(gateway.operations);
  const limits = createOperationLimits({ ...o.limits, schema });
  const finalize = createResponseFinalizer(o.logger);
  // the published trusted documents, callable by id (src/server/documents.ts)
  const documents = trustedDocuments();
  // every trusted document's id is in Apollo's persisted-query cache from the start, for good
  const persisted = new TrustedDocumentCache(documents);
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
    persistedQueries: { cache: persisted },
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Apollo turns on federated tracing (ftv1) for a subgraph schema by itself, announcing it on
      // stdout, and then answers any client sending `apollo-federation-include-trace: ftv1` with
      // its resolvers' timings: off (traces are OpenTelemetry's)
      ApolloServerPluginInlineTraceDisabled(),
      ...(run.cacheControl ? [] : [ApolloServerPluginCacheControlDisabled()]),
      limits.plugin,
      finalizerPlugin(finalize),
      // after the finalizer: the operation span reads what it noted (telemetry.tracing; absent when off)
      ...(tracing.enabled ? [operationTracingPlugin(new Set(documents.operations.map((d) => d.id)))] : []),
      ...(o.plugins ?? []),
    ],
    formatError: maskInternalError,
  });
  // documents clients register (automatic persisted queries) go where Apollo would keep them by default
  persisted.registrations = server.cache;
  const fastPath = run.fastPath ? createFastPath({ schema, documents, limits, finalize, maxTokens: o.maxTokens }) : undefined;
  return { server, fastPath };
}
