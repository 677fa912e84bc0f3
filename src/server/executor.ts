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
 * Leaf values (Int, Float, String, Boolean, ID and enums) are written as the resolvers give
 * them, without graphql-js's coercion of each one (`disableLeafSerialization`): on a page of
 * 500 SKUs that coercion, a function call and a try/catch per leaf, cost as much as building
 * the answer by hand (bench/RESULTS.md). The values are already of their GraphQL type: the
 * connectors turn codes and names into strings, the validation rules refuse quantities that
 * are not whole (src/domain/validation.ts), the domain computes every flag and boolean, and
 * test/e2e/executor-parity.test.ts compares every kind of answer with graphql-js's, which
 * still coerces (INVENTORY_GRAPH_EXECUTOR=graphql-js). Custom scalars (DateTime, Decimal) are
 * still serialized. One difference is left: a total beyond Int's 32 bits (only when records
 * near the ±1e9 a record may hold add up) is written as the number it is, where graphql-js
 * would refuse it with a field error.
 *
 * Compiled operations are kept in one bounded LRU keyed by the operation name the client asked
 * for and the query text. The fast path (src/server/fast-path.ts) compiles the trusted
 * documents at start the same way (`compileOperation`). Variables a compiled operation refuses
 * are BAD_USER_INPUT with HTTP 400 (`refusedVariables`), as Apollo answers them for graphql-js.
 */
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { BadUserInputError, OperationResolutionError } from '../errors.js';
import { Lru } from '../lru.js';

type Gateway = ApolloServerOptionsWithGateway<Record<string, unknown>>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

export interface CompiledExecutorOptions {
  /** Most compiled operations kept; the least recently used is dropped. Defaults to 500. */
  maxOperations?: number;
  /** Told of each lookup by the executor: reused (true) or compiled now (false). */
  onLookup?: (hit: boolean) => void;
}

/** The compiled operations kept (by the operation name the client asked for, or none, and the query text). */
export interface CompiledOperations {
  readonly size: number;
}

/** Who watches the compiled operations: their number, and each lookup the executor makes (for /metrics). */
export interface CompiledCacheObserver {
  watch(operations: { readonly size: number }): void;
  lookup(hit: boolean): void;
}

const keyOf = (operationName: string | undefined, query: string) => `${operationName ?? ''}\u0000${query}`;

/** A `gateway` for ApolloServer that serves `schema` with graphql-jit. */
export function compiledExecutorGateway(schema: GraphQLSchema, o: CompiledExecutorOptions = {}): Gateway & { readonly operations: CompiledOperations } {
  // an operation Apollo has parsed and validated, compiled once (or jit's refusal of it, kept so it is not tried again)
  const cache = new Lru<string, CompiledQuery | ExecutionResult>(o.maxOperations ?? 500);
  const operations: CompiledOperations = {
    get size() {
      return cache.size;
    },
  };

  const executor: Executor = async (rc) => {
    // Apollo could not pick the operation (an unknown name, or several and none named):
    // graphql-js would answer with this error and no data, and Apollo expects the same here
    // (rc.operationName is the resolved operation's; the name the client asked for is the request's)
    const asked = rc.request.operationName ?? undefined;
    const operation = getOperationAST(rc.document, asked);
    if (operation === null || operation === undefined) {
      const message = asked ? `Unknown operation named "${asked}".` : 'Must provide operation name if query contains multiple operations.';
      return { errors: [new OperationResolutionError(message)] };
    }
    // rc.source: the query text, also when the client sent only its persisted-query hash
    const key = keyOf(asked, rc.source);
    let compiled = cache.get(key);
    o.onLookup?.(compiled !== undefined);
    if (compiled === undefined) {
      // Apollo has parsed and validated the document: jit refusing it is unexpected, and its errors say why
      cache.set(key, (compiled = compileOperation(schema, rc.document, rc.operationName ?? undefined)));
    }
    if (!isCompiledQuery(compiled)) return compiled;
    return refusedVariables(await compiled.query(undefined, rc.context, rc.request.variables ?? {}));
  };

  return {
    operations,
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
    },
  };
}

/** graphql-jit's compilation of an operation, as every operation is run: leaf values written as the resolvers give them. */
export function compileOperation(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): CompiledQuery | ExecutionResult {
  return compileQuery(schema, document, operationName, { disablingCapturingStackErrors: true, disableLeafSerialization: true });
}

/**
 * A compiled operation's result, with refused variables worded as Apollo answers graphql-js's.
 * No data at all: the variables were refused before anything ran. Apollo recognises
 * graphql-js's wording of these as BAD_USER_INPUT with HTTP 400; jit words them differently.
 */
export function refusedVariables(result: ExecutionResult): ExecutionResult {
  if (result.data !== undefined || result.errors === undefined) return result;
  // jit's refusal of a variable as Apollo answers graphql-js's
  return { errors: result.errors.map((e) => BadUserInputError.variable(e)) };
}
