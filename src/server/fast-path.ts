/**
 * The fast path: a trusted document (src/server/documents.ts) called by id, posted as JSON, is
 * answered here without Apollo's HTTP and request machinery; everything else goes to Apollo,
 * arbitrary query text always. It exists because that machinery's fixed cost per request
 * (looking up and hashing the document, content negotiation, a dozen plugin hooks, response
 * cloning) was the largest part of what the gateway spends over its floor on small queries
 * (bench/RESULTS.md).
 *
 * Each document is parsed, validated and compiled by graphql-jit once, at start, as Apollo and
 * the jit executor (src/server/executor.ts) would. A request is then: the limits of the
 * caller's role measured on the stored document (src/server/limits.ts), the compiled operation
 * run, and the answer finished by the response finalizer that Apollo's plugin applies too
 * (src/server/finalize.ts). What is left here is Apollo's own response handling for a single
 * answer (errors formatted and masked, `extensions.http` into the status and headers), so that
 * the answer is byte for byte Apollo's to the same request, refusals by the limits and refused
 * variables included (test/e2e/fast-path.test.ts compares the two).
 *
 * It steps aside, before anything has run, for Apollo to answer, unless the request is a JSON
 * POST of `{ extensions: { persistedQuery: { version: 1, sha256Hash } }, operationName?,
 * variables? }` (no `query`) whose hash is a published query's, from a client that takes plain
 * JSON: an unknown id gets Apollo's PERSISTED_QUERY_NOT_FOUND, a mutation Apollo's pipeline.
 */
import {
  getOperationAST,
  parse,
  validate,
  type DocumentNode,
  type GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { IncomingHttpHeaders } from 'node:http';
import { ensureGraphQLError, ErrorCode } from '../errors.js';
import type { GatewayContext } from './context.js';
import type { PersistedQueryManifest } from './documents.js';
import { compileOperation, refusedVariables } from './executor.js';
import { maskInternalError, type ResponseFinalizer } from './finalize.js';
import type { OperationLimits } from './limits.js';
import { tracing } from '../tracing.js';
import { endOperation, startOperation } from './tracing.js';

export interface FastPathOptions {
  schema: GraphQLSchema;
  /** The documents callable by id. */
  documents: PersistedQueryManifest;
  limits: OperationLimits;
  /** What the server adds to every answer, as Apollo's plugin does (src/server/finalize.ts). */
  finalize: ResponseFinalizer;
  /** Apollo's parser's token cap: a document over it is left to Apollo, which refuses it as it would its text. */
  maxTokens: number;
}

export interface FastAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Answers `body` (a parsed JSON request body) or returns undefined for Apollo to answer; `context` is made only when the fast path runs. */
export type FastPath = (body: unknown, headers: IncomingHttpHeaders, context: () => GatewayContext) => Promise<FastAnswer | undefined>;

/** A trusted document ready to run. */
interface Prepared {
  name: string;
  body: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  compiled: CompiledQuery;
}

/** Throws when a published document does not validate or compile: a release that cannot answer its own documents must not start. */
export function createFastPath(o: FastPathOptions): FastPath {
  const byId = new Map<string, Prepared>();
  for (const d of o.documents.operations) {
    let document: DocumentNode;
    try {
      document = parse(d.body, { maxTokens: o.maxTokens });
    } catch {
      // over the parser's token cap: Apollo refuses it by id as it would its text
      continue;
    }
    const invalid = validate(o.schema, document);
    if (invalid.length > 0) throw new Error(`Trusted document ${d.name} does not validate: ${invalid.map((e) => e.message).join('; ')}`);
    const operation = getOperationAST(document, d.name);
    if (operation === null || operation === undefined) throw new Error(`Trusted document ${d.name} has no operation named ${d.name}`);
    // a mutation goes through Apollo's pipeline
    if (operation.operation !== 'query') continue;
    const compiled = compileOperation(o.schema, document, d.name);
    if (!isCompiledQuery(compiled)) throw new Error(`Trusted document ${d.name} does not compile: ${compiled.errors?.map((e) => e.message).join('; ')}`);
    byId.set(d.id, { name: d.name, body: d.body, document, operation, compiled });
  }

  return async function fastPath(body, headers, makeContext) {
    const request = trustedRequest(body, headers);
    if (request === undefined) return undefined;
    const p = byId.get(request.id);
    // another operation name than the document's: Apollo words that refusal
    if (p === undefined || (request.operationName !== undefined && request.operationName !== p.name)) return undefined;
    const variables = request.variables ?? {};
    const context = makeContext();
    if (!tracing.enabled) return run(context, p, variables);
    // the operation span Apollo's plugin makes on the other path (src/server/tracing.ts)
    const span = startOperation();
    try {
      return await run(context, p, variables);
    } finally {
      endOperation(span, context.diagnostics, request.id);
    }
  };

  /** The limits, then the compiled operation, answered. */
  async function run(context: GatewayContext, p: Prepared, variables: Record<string, unknown>): Promise<FastAnswer> {
    try {
      await o.limits.check(context, p.body, variables, p.document, p.operation);
    } catch (e) {
      // refused before anything ran: errors only, and 500 unless the error says otherwise
      return answer(context, p, { errors: [ensureGraphQLError(e)] }, 500);
    }
    return answer(context, p, refusedVariables(await p.compiled.query(undefined, context, variables)), undefined);
  }

  /** The HTTP answer to a result, as Apollo makes it: errors formatted (their `extensions.http` taken into the head), the finalizer's additions, `{ errors, data }` as JSON. */
  function answer(
    context: GatewayContext,
    p: Prepared,
    result: { data?: unknown; errors?: readonly GraphQLError[] },
    fallbackStatus: number | undefined,
  ): FastAnswer {
    const head = { status: undefined as number | undefined, headers: {} as Record<string, string> };
    const raised = result.errors !== undefined && result.errors.length > 0 ? result.errors : undefined;
    const formatted = raised?.map((e) => formatError(e, head));
    // Apollo answers refused variables (no data at all) with 400 when no error says otherwise
    if (raised !== undefined && result.data === undefined && head.status === undefined) head.status = fallbackStatus ?? 400;
    const added = o.finalize(context, { operation: p.operation, errors: raised, formatted });
    return {
      status: head.status ?? 200,
      headers: { ...head.headers, ...Object.fromEntries(added.headers), 'content-type': 'application/json; charset=utf-8' },
      body: `${JSON.stringify({ errors: added.errors, data: result.data })}\n`,
    };
  }
}

interface TrustedRequest {
  id: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
}

/**
 * The request when it is a JSON body of `extensions.persistedQuery` (version 1, a hash) with
 * at most `operationName` and `variables` beside it (of the right types), from a client that
 * takes plain JSON. Other extensions (a client library's name, say) are Apollo's to ignore, and ours.
 */
function trustedRequest(body: unknown, headers: IncomingHttpHeaders): TrustedRequest | undefined {
  if (!/^application\/json\b/i.test(headers['content-type'] ?? '')) return undefined;
  const accept = headers.accept;
  if (accept !== undefined && accept !== '*/*' && accept !== 'application/json') return undefined;
  if (!isRecord(body)) return undefined;
  for (const k in body) if (k !== 'extensions' && k !== 'operationName' && k !== 'variables') return undefined;
  const { extensions, operationName, variables } = body;
  const persisted = isRecord(extensions) ? extensions.persistedQuery : undefined;
  if (!isRecord(persisted) || persisted.version !== 1 || typeof persisted.sha256Hash !== 'string') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  if (variables !== undefined && variables !== null && !isRecord(variables)) return undefined;
  // null is as good as absent, as Apollo reads them
  return { id: persisted.sha256Hash, operationName: operationName ?? undefined, variables: variables ?? undefined };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** An error as Apollo formats it: its code (INTERNAL_SERVER_ERROR if none), `extensions.http` taken out into the answer's status and headers, then our `formatError`. */
function formatError(e: GraphQLError, head: { status: number | undefined; headers: Record<string, string> }): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { ...e.extensions, code: e.extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR };
  const http = extensions.http as { status?: unknown; headers?: unknown } | undefined;
  if (
    http !== null &&
    typeof http === 'object' &&
    (!('status' in http) || typeof http.status === 'number') &&
    (!('headers' in http) || http.headers instanceof Map)
  ) {
    if (typeof http.status === 'number' && http.status !== 0) head.status = http.status;
    if (http.headers instanceof Map) for (const [k, v] of http.headers as Map<string, string>) head.headers[k.toLowerCase()] = v;
    delete extensions.http;
  }
  return maskInternalError({ ...e.toJSON(), extensions }, e);
}
