/**
 * The server's spans (docs/observability.md): one SERVER span per HTTP request, the caller's W3C
 * `traceparent`/`tracestate` its parent, and under it one span per GraphQL operation, made by
 * Apollo's plugin (`operationTracingPlugin`) or by the fast path (`startOperation`), whichever
 * answers. Source reads (src/sources/resilience.ts) hang under the operation span through the
 * request's slot (src/tracing.ts `parentContext`), whichever executor runs the resolvers.
 *
 * Only used when `telemetry.tracing.enabled`: the HTTP handler and createGraphQL check once, at
 * start, and add nothing per request otherwise.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extractTraceContext, failSpan, SpanKind, SpanStatusCode, startSpan, operationSlot, withContext, withOperationSlot, type Span } from '../tracing.js';
import { trace } from '@opentelemetry/api';
import type { GatewayContext } from './context.js';
import type { RequestDiagnostics } from './diagnostics.js';

/** Paths not traced: probes and scrapes, asked every few seconds, would bury the requests that matter. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics', '/favicon.ico']);

/** A span name of bounded cardinality: the route, never a free path (a 404 is named by its method alone). */
function routeName(method: string, path: string): string {
  if (path === '/graphql' || path === '/status' || path === '/status.json') return `${method} ${path}`;
  if (path.startsWith('/ingest/')) return `${method} /ingest/{source}`;
  return method;
}

/**
 * Serves one request inside its SERVER span: `serve` is told the trace id (for the request log
 * line) and runs with the span active; the span ends when the response closes, with its status.
 */
export function traceRequest(req: IncomingMessage, res: ServerResponse, serve: (traceId: string | undefined) => Promise<void>): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (UNTRACED.has(path)) return serve(undefined);
  const method = req.method ?? 'GET';
  const parent = extractTraceContext(req.headers);
  const span = startSpan(
    routeName(method, path),
    {
      'http.request.method': method,
      'url.path': path,
      'url.scheme': 'http',
      ...(req.headers['user-agent'] !== undefined ? { 'user_agent.original': req.headers['user-agent'] } : {}),
    },
    SpanKind.SERVER,
    parent,
  );
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    const requestId = res.getHeader('x-request-id');
    if (typeof requestId === 'string') span.setAttribute('inventory.request_id', requestId);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${res.statusCode}` });
    if (!res.writableFinished) span.setAttribute('inventory.aborted', true);
    span.end();
  });
  const { ctx } = withOperationSlot(trace.setSpan(parent, span));
  return withContext(ctx, () => serve(span.spanContext().traceId));
}

/** The operation span of the request being served (a child of its HTTP span), noted in its slot so source reads hang under it. */
export function startOperation(): Span {
  const span = startSpan('GraphQL operation', {});
  const slot = operationSlot();
  if (slot !== undefined) slot.span = span;
  return span;
}

/**
 * Ends an operation span with what the answer's diagnostics say (name, type, cost, error codes:
 * src/server/diagnostics.ts, written by the finalizer before this runs) and the trusted
 * document's id when it was called by one.
 */
export function endOperation(span: Span, d: RequestDiagnostics, documentId: string | undefined): void {
  const op = d.operation;
  if (op?.type !== undefined && op.type !== null) {
    span.updateName(op.name === null ? op.type : `${op.type} ${op.name}`);
    span.setAttribute('graphql.operation.type', op.type);
  }
  if (op?.name !== undefined && op.name !== null) span.setAttribute('graphql.operation.name', op.name);
  if (documentId !== undefined) span.setAttribute('inventory.graphql.document_id', documentId);
  if (d.cost !== undefined) span.setAttribute('inventory.graphql.cost', d.cost);
  if (op !== undefined && op.errorCodes.length > 0) {
    span.setAttribute('inventory.graphql.error_codes', op.errorCodes);
    failSpan(span, undefined, op.errorCodes.join(', '));
  }
  span.end();
}

/** The operation span for answers Apollo makes (graphql-js or the jit executor alike); `trusted`: the published documents' ids. */
export function operationTracingPlugin(trusted: ReadonlySet<string>): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request }) {
      const span = startOperation();
      const hash = (request.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
      const documentId = typeof hash === 'string' && trusted.has(hash) ? hash : undefined;
      return {
        async willSendResponse({ contextValue }) {
          endOperation(span, contextValue.diagnostics, documentId);
        },
      };
    },
  };
}
