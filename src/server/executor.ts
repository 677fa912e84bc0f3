/**
 * A compiled executor for Apollo Server: operations run through graphql-jit, which turns each
 * operation into a JavaScript function once (resolvers, null bubbling, leaf serialization
 * and variable coercion specialised for that selection) instead of walking the AST per field
 * per request as graphql-js does.
 *
 * Apollo Server 5 has no `executor` option; its one public seam for a different executor is
 * the gateway interface (`gateway: { load, onSchemaLoadOrUpdate, stop }`), which is what
 * this module provides for a fixed, local schema. Everything in front of execution stays
 * Apollo's: parsing, validation and the parsed-document cache, operation resolution, the
 * plugins (limits, source failures, statement counts, error logging), error formatting and
 * masking, the HTTP status rules. Resolvers are the schema's own (the `@auth` wrapper
 * included), so what a field may do and which errors it raises are unchanged.
 *
 * Compiled operations are kept in a bounded LRU keyed by Apollo's query hash (SHA-256 of the
 * text) and operation name. Variables the compiled operation refuses are BAD_USER_INPUT with
 * HTTP 400, as Apollo answers them for graphql-js.
 */
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

type Gateway = ApolloServerOptionsWithGateway<Record<string, unknown>>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

export interface CompiledExecutorOptions {
  /** Most compiled operations kept; the least recently used is dropped. Defaults to 500. */
  maxOperations?: number;
}

/** A query operation Apollo has parsed, validated and run once, ready for the fast path (src/server/fast-path.ts). */
export interface PreparedQuery {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  compiled: CompiledQuery;
}

/** The key of a prepared query: the operation name the client asked for (or none) and the query text. */
export function preparedKey(operationName: string | undefined, query: string): string {
  return `${operationName ?? ''}\u0000${query}`;
}

/** A `gateway` for ApolloServer that serves `schema` with graphql-jit. */
export function compiledExecutorGateway(
  schema: GraphQLSchema,
  o: CompiledExecutorOptions = {},
): Gateway & { readonly cache: Lru<string, CompiledQuery | ExecutionResult>; readonly prepared: Lru<string, PreparedQuery> } {
  const cache = new Lru<string, CompiledQuery | ExecutionResult>(o.maxOperations ?? 500);
  const prepared = new Lru<string, PreparedQuery>(o.maxOperations ?? 500);

  const executor: Executor = async (rc) => {
    // Apollo could not pick the operation (an unknown name, or several and none named):
    // graphql-js would answer with this error and no data, and Apollo expects the same here
    // (rc.operationName is the resolved operation's; the name the client asked for is the request's)
    const asked = rc.request.operationName ?? undefined;
    const operation = getOperationAST(rc.document, asked);
    if (operation === null || operation === undefined) {
      const message = asked ? `Unknown operation named "${asked}".` : 'Must provide operation name if query contains multiple operations.';
      return { errors: [new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE', http: { status: 400 } } })] };
    }
    const key = `${rc.queryHash}\u0000${rc.operationName ?? ''}`;
    let compiled = cache.get(key);
    if (compiled === undefined) {
      // Apollo has parsed and validated the document: jit refusing it is unexpected, and its errors say why
      compiled = compileQuery(schema, rc.document, rc.operationName ?? undefined, { disablingCapturingStackErrors: true });
      cache.set(key, compiled);
    }
    if (!isCompiledQuery(compiled)) return compiled;
    if (operation.operation === 'query' && rc.request.query !== undefined) {
      const k = preparedKey(asked, rc.request.query);
      if (prepared.get(k) === undefined) prepared.set(k, { document: rc.document, operation, compiled });
    }
    const result = await compiled.query(undefined, rc.context, rc.request.variables ?? {});
    // no data at all: the variables were refused before anything ran. Apollo recognises
    // graphql-js's wording of these as BAD_USER_INPUT with HTTP 400; jit words them differently
    if (result.data === undefined && result.errors !== undefined) {
      return { errors: result.errors.map((e) => badVariables(e)) };
    }
    return result;
  };

  return {
    cache,
    prepared,
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      // the schema is fixed for the life of the server: one load, no updates
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => {};
    },
    async stop() {
      cache.clear();
      prepared.clear();
    },
  };
}

/** jit's refusal of a variable as Apollo answers graphql-js's: BAD_USER_INPUT, HTTP 400, same locations. */
function badVariables(e: GraphQLError): GraphQLError {
  const err = new GraphQLError(e.message, { extensions: { ...e.extensions, code: 'BAD_USER_INPUT', http: { status: 400 } } });
  if (e.locations !== undefined) (err as { locations?: GraphQLError['locations'] }).locations = e.locations;
  return err;
}

/** A least-recently-used map of at most `max` entries (a Map keeps insertion order). */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`LRU size must be a positive integer, got ${max}`);
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
