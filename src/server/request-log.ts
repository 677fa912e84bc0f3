/**
 * One structured log line per HTTP request, written when the response is done (or the client
 * went away): request id, route, HTTP status, duration, the API key's configured name and role
 * (never the key), and for GraphQL the operation's name and type, the sources it touched, the
 * statements it sent (per source and entity, and in total), the sources that failed and the
 * distinct error codes of the answer.
 *
 * GraphQL requests, /status and refused requests are logged at info; health probes, metric
 * scrapes and explorer assets at debug (a load balancer probing every few seconds would drown
 * the rest).
 *
 * The front door (src/server/http.ts) hands each finished request over as a RequestRecord;
 * what the request did is read from its diagnostics (src/server/diagnostics.ts), where the
 * response finalizer noted the operation, whichever path answered.
 */
import type { Logger } from '../logger.js';
import type { Principal } from './auth.js';
import type { GatewayContext } from './context.js';
import { sourcesTouched } from './diagnostics.js';

/** What the front door knows about a request once its response is done. */
export interface RequestRecord {
  requestId: string;
  method: string;
  path: string;
  /** What answered it. */
  route: 'graphql' | 'explorer' | 'status' | 'metrics' | 'health' | 'ingest' | 'other';
  status: number;
  durationMs: number;
  /** False when the connection closed before the whole response was sent. */
  completed: boolean;
  /** Who asked, once authenticated. */
  principal?: Principal;
  /** The GraphQL context, when a GraphQL operation was started. */
  context?: GatewayContext;
  /** True when the fast path answered (src/server/fast-path.ts), false when Apollo did. */
  fastPath?: boolean;
  /** The trace id of the request's span, when tracing is on (telemetry.tracing): the line and the trace are found from each other. */
  traceId?: string;
  /** The code of the GraphQL error the front door answered with itself (405, 401, 413, bad JSON, 500), before any GraphQL context. */
  refusedWith?: string;
}

/** Routes whose lines are debug, not info. */
const QUIET: ReadonlySet<RequestRecord['route']> = new Set(['health', 'metrics', 'explorer']);

/** The log line's fields for a request (exported for tests). */
export function requestFields(r: RequestRecord): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    requestId: r.requestId,
    method: r.method,
    path: r.path,
    route: r.route,
    status: r.status,
    durationMs: Math.round(r.durationMs * 100) / 100,
    keyName: r.principal?.name ?? null,
    role: r.principal?.role ?? null,
  };
  if (!r.completed) fields.aborted = true;
  if (r.traceId !== undefined) fields.traceId = r.traceId;
  const d = r.context?.diagnostics;
  if (d === undefined) return fields;
  const op = d.operation;
  const failed = [...d.failures.keys()];
  const { sources, statements } = sourcesTouched(d);
  return {
    ...fields,
    operation: op?.name ?? null,
    operationType: op?.type ?? null,
    sources,
    statements,
    statementsBy: Object.fromEntries(d.statements),
    ...(failed.length > 0 ? { failedSources: failed.sort() } : {}),
    ...(op !== undefined && op.errorCodes.length > 0 ? { errors: op.errorCodes } : {}),
    ...(d.cost !== undefined ? { cost: d.cost } : {}),
    ...(r.fastPath === true ? { fastPath: true } : {}),
  };
}

/** Writes one line per request: `{"msg":"request", requestId, status, durationMs, operation, ...}`. */
export function createRequestLog(logger: Logger): (r: RequestRecord) => void {
  return (r) => {
    const level = QUIET.has(r.route) && r.status < 400 ? 'debug' : 'info';
    if (logger.enabled?.(level) === false) return;
    logger[level]('request', requestFields(r));
  };
}
