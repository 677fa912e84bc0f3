/**
 * The fast path: a query the gateway has already seen, posted as JSON, is answered here
 * without Apollo's request pipeline; everything else goes to Apollo. It exists because the
 * pipeline's fixed cost per request (hashing the query text, content negotiation, a dozen
 * plugin hooks, response cloning) was the largest part of what the gateway spends over its
 * floor on small queries (bench/RESULTS.md).
 *
 * It answers with what Apollo would, byte for byte (test/e2e/fast-path.test.ts compares the
 * two): the same compiled operation (graphql-jit), the same limits check, errors formatted and
 * masked the same way, the source errors and the `x-source-statements` header added the same
 * way, the operation noted for the request log and metrics. It steps aside, before anything
 * has run, whenever Apollo has something else to say:
 * - the request is not a JSON POST of `{ query, operationName?, variables? }`, or its Accept
 *   header asks for more than plain JSON;
 * - Apollo has not yet run this query (text and operation name): the first request of each
 *   goes through Apollo, which parses and validates it, and the jit executor keeps it compiled
 *   (src/server/executor.ts); documents with errors never get there, and mutations stay Apollo's;
 * - the limits refuse the operation, or the variables are refused (Apollo words the error).
 */
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { isCompiledQuery } from 'graphql-jit';
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode } from '../errors.js';
import type { GatewayContext } from './context.js';
import type { CompiledOperations } from './executor.js';
import type { OperationLimits } from './limits.js';
import { maskInternalError, type ResponseFinalizer } from './finalize.js';

export interface FastPathOptions {
  /** The operations the jit executor has compiled for Apollo. */
  operations: CompiledOperations;
  limits: OperationLimits;
  /** What the server adds to every answer, as Apollo's plugin does (src/server/finalize.ts). */
  finalize: ResponseFinalizer;
}

export interface FastAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Answers `body` (a parsed JSON request body) or returns undefined for Apollo to answer; `context` is made only when the fast path runs. */
export type FastPath = (body: unknown, headers: IncomingHttpHeaders, context: () => GatewayContext) => Promise<FastAnswer | undefined>;

export function createFastPath(o: FastPathOptions): FastPath {
  return async function fastPath(body, headers, makeContext) {
    const request = plainRequest(body, headers);
    if (request === undefined) return undefined;
    const { query, operationName, variables } = request;
    const p = o.operations.get(operationName, query);
    if (p === undefined || p.operation.operation !== 'query' || !isCompiledQuery(p.compiled)) return undefined;
    const compiled = p.compiled;

    const context = makeContext();
    try {
      o.limits.check(context, query, variables ?? {}, p.document, p.operation);
    } catch {
      return undefined;
    }
    const result = await compiled.query(undefined, context, variables ?? {});
    // no data at all: the variables were refused before anything ran (Apollo words that error,
    // and checks the limits again)
    if (result.data === undefined) {
      o.limits.refund(context);
      return undefined;
    }

    const head = { status: 200, headers: {} as Record<string, string> };
    const raised = result.errors !== undefined && result.errors.length > 0 ? result.errors : undefined;
    const added = o.finalize(context, { operation: p.operation, errors: raised, formatted: raised?.map((e) => formatError(e, head)) });
    return {
      status: head.status,
      headers: { ...head.headers, 'content-type': 'application/json; charset=utf-8', ...Object.fromEntries(added.headers) },
      body: `${JSON.stringify({ errors: added.errors, data: result.data })}\n`,
    };
  };
}

interface PlainRequest {
  query: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
}

/** The request when it is a JSON body of only `query`, `operationName` and `variables` (of the right types) from a client that takes plain JSON. */
function plainRequest(body: unknown, headers: IncomingHttpHeaders): PlainRequest | undefined {
  if (!/^application\/json\b/i.test(headers['content-type'] ?? '')) return undefined;
  const accept = headers.accept;
  if (accept !== undefined && accept !== '*/*' && accept !== 'application/json') return undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  for (const k in body) if (k !== 'query' && k !== 'operationName' && k !== 'variables') return undefined;
  const { query, operationName, variables } = body as Record<string, unknown>;
  if (typeof query !== 'string') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  // null is as good as absent, as Apollo reads them
  return { query, operationName: operationName ?? undefined, variables: (variables ?? undefined) as Record<string, unknown> | undefined };
}

/** An execution error as Apollo formats it: its code (INTERNAL_SERVER_ERROR if none), `extensions.http` taken out into the response's status and headers, then our `formatError`. */
function formatError(e: GraphQLError, head: { status: number; headers: Record<string, string> }): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { ...e.extensions, code: e.extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR };
  const http = extensions.http as { status?: unknown; headers?: unknown } | undefined;
  if (http !== null && typeof http === 'object' && (!('status' in http) || typeof http.status === 'number') && (!('headers' in http) || http.headers instanceof Map)) {
    if (typeof http.status === 'number') head.status = http.status;
    if (http.headers instanceof Map) for (const [k, v] of http.headers as Map<string, string>) head.headers[k] = v;
    delete extensions.http;
  }
  return maskInternalError({ ...e.toJSON(), extensions }, e);
}
