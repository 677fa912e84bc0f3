/**
 * The HTTP front door on plain node:http: GraphQL at /graphql (a trusted document called by id
 * through the fast path, src/server/fast-path.ts; everything else through Apollo's
 * executeHTTPGraphQLRequest), the offline explorer for browsers, the health endpoints, and the
 * operator pages (/status, /status.json, /metrics), and `POST /ingest/<source>` for the webhook
 * feeds of mirrored sources (src/feeds/webhook.ts: signed, so no API key, and outside GraphQL's
 * auth and limits); every request is reported once when done
 * (`onResponse`: the request log line and the metrics).
 * Owning this layer keeps routing, body limits and request ids in one small file.
 * `createFrontDoor` is the node:http server around it: connection limits (a cap, and time limits
 * for idle keep-alive connections, for headers and for whole requests, so that connections that
 * ask nothing cannot pile up) and a graceful stop (in-flight requests finish, a request that
 * arrives on an idle keep-alive connection as the stop begins is still answered, connections
 * close without a reset, then the process may let go).
 */
import { HeaderMap, type ApolloServer } from '@apollo/server';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '../errors.js';
import type { IngestResponse, WebhookFeed } from '../feeds/webhook.js';
import type { AuthResult, Principal } from './auth.js';
import type { GatewayContext } from './context.js';
import type { FastPath } from './fast-path.js';
import type { StaticResponse } from './explorer.js';
import type { RequestRecord } from './request-log.js';
import type { OperatorResponse } from './status-page.js';
import { tracing } from '../tracing.js';
import { traceRequest } from './tracing.js';

export interface HttpOptions {
  graphql: ApolloServer<GatewayContext>;
  /** Answers trusted documents called by id without Apollo's pipeline (src/server/fast-path.ts), or leaves the request to Apollo. */
  fastPath?: FastPath;
  /** Who is asking; a failure is HTTP 401 and nothing executes. */
  authenticate: (headers: IncomingMessage['headers'], search: URLSearchParams) => AuthResult;
  context: (requestId: string, principal: Principal) => GatewayContext;
  /** Answers explorer pages and assets, or undefined; a page filled in from the data comes as a promise. */
  explorer?: (method: string, path: string, accept: string | undefined) => StaticResponse | Promise<StaticResponse> | undefined;
  /** Readiness: resolves when the gateway can serve (store reachable, config loaded). */
  ready: () => Promise<void>;
  /** Per-source health for `/readyz`: reported, never a reason to be unready (one source down costs only its figures). */
  sources?: () => Record<string, unknown>;
  /** True once shutdown began: `/readyz` answers 503 so a load balancer stops sending traffic. */
  draining?: () => boolean;
  /** How long the readiness check may take, in ms. Defaults to 2000. */
  readyTimeoutMs?: number;
  /** Largest request body accepted, in bytes. Defaults to 1 MiB. */
  maxBodyBytes?: number;
  /** Operator pages (/status, /status.json, /metrics: src/server/status-page.ts), or undefined for other paths. */
  operator?: (req: IncomingMessage, url: URL) => Promise<OperatorResponse | undefined>;
  /** Told once per request when its response is done or abandoned: the request log and metrics (src/server/request-log.ts). */
  onResponse?: (r: RequestRecord) => void;
  /** The webhook feed of a mirrored source, for `POST /ingest/<source>`, or undefined (404). */
  ingest?: (source: string) => WebhookFeed | undefined;
}

export function createHttpHandler(o: HttpOptions) {
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;

  // telemetry.tracing: each request in its SERVER span (src/server/tracing.ts); off, nothing in between
  if (tracing.enabled) return (req: IncomingMessage, res: ServerResponse) => traceRequest(req, res, (traceId) => handle(req, res, traceId));
  return (req: IncomingMessage, res: ServerResponse) => handle(req, res, undefined);

  async function handle(req: IncomingMessage, res: ServerResponse, traceId: string | undefined): Promise<void> {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    // what the request log and metrics learn about the request as it goes
    const seen: Pick<RequestRecord, 'route' | 'principal' | 'context' | 'fastPath' | 'refusedWith' | 'traceId'> = { route: 'other' };
    if (traceId !== undefined) seen.traceId = traceId;
    if (o.onResponse !== undefined) {
      const done = o.onResponse;
      const started = performance.now();
      res.once('close', () =>
        done({
          requestId,
          method,
          path: url.pathname,
          status: res.statusCode,
          durationMs: performance.now() - started,
          completed: res.writableFinished,
          ...seen,
        }),
      );
    }
    try {
      if (url.pathname === '/healthz' || url.pathname === '/readyz') seen.route = 'health';
      if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
      // browsers ask for it on every page (explorer, status): no icon, and no 404 in their console
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204, { 'cache-control': 'public, max-age=86400' });
        res.end();
        return;
      }
      if (url.pathname === '/readyz') {
        const sources = o.sources?.();
        if (o.draining?.() === true) return json(res, 503, { status: 'draining', sources });
        try {
          await withTimeout(o.ready(), o.readyTimeoutMs ?? 2_000);
          return json(res, 200, { status: 'ready', sources });
        } catch {
          return json(res, 503, { status: 'not ready', sources });
        }
      }
      if (url.pathname.startsWith(INGEST_PREFIX)) {
        seen.route = 'ingest';
        return await ingest(req, res, url.pathname.slice(INGEST_PREFIX.length), o.ingest);
      }
      const operator = await o.operator?.(req, url);
      if (operator !== undefined) {
        seen.route = operator.route;
        seen.principal = operator.principal;
        res.writeHead(operator.status, operator.headers);
        res.end(operator.body);
        return;
      }
      const page = await o.explorer?.(method, url.pathname, req.headers.accept);
      if (page !== undefined) {
        seen.route = 'explorer';
        res.writeHead(page.status, page.headers);
        res.end(page.body);
        return;
      }
      if (url.pathname !== '/graphql') return json(res, 404, { error: `Nothing at ${url.pathname}; GraphQL is at /graphql.` });
      seen.route = 'graphql';
      if (method !== 'GET' && method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        seen.refusedWith = ErrorCode.METHOD_NOT_ALLOWED;
        return json(res, 405, { errors: [{ message: `Method ${method} is not allowed on /graphql.`, extensions: { code: ErrorCode.METHOD_NOT_ALLOWED } }] });
      }

      const auth = o.authenticate(req.headers, url.searchParams);
      if (!auth.ok) {
        req.resume();
        res.setHeader('www-authenticate', 'Bearer');
        seen.refusedWith = ErrorCode.UNAUTHENTICATED;
        return json(res, 401, { errors: [{ message: auth.message, extensions: { code: ErrorCode.UNAUTHENTICATED } }] });
      }
      seen.principal = auth.principal;

      let body: unknown;
      if (method === 'POST') {
        const text = await readBody(req, maxBody);
        if (text === undefined) {
          seen.refusedWith = ErrorCode.PAYLOAD_TOO_LARGE;
          return json(res, 413, { errors: [{ message: `Request body larger than ${maxBody} bytes.`, extensions: { code: ErrorCode.PAYLOAD_TOO_LARGE } }] });
        }
        const type = req.headers['content-type'] ?? '';
        if (/^application\/(graphql-response\+)?json\b/i.test(type)) {
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            seen.refusedWith = ErrorCode.BAD_REQUEST;
            return json(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: ErrorCode.BAD_REQUEST } }] });
          }
        } else {
          body = text;
        }
      }

      if (o.fastPath !== undefined && method === 'POST') {
        const fast = await o.fastPath(body, req.headers, () => (seen.context = o.context(requestId, auth.principal)));
        seen.fastPath = fast !== undefined;
        if (fast !== undefined) {
          for (const [k, v] of Object.entries(fast.headers)) res.setHeader(k, v);
          res.statusCode = fast.status;
          res.end(fast.body);
          return;
        }
      }
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      const result = await o.graphql.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers, search: url.search, body },
        context: async () => (seen.context = o.context(requestId, auth.principal)),
      });
      for (const [k, v] of result.headers) res.setHeader(k, v);
      res.statusCode = result.status ?? 200;
      if (result.body.kind === 'complete') {
        res.end(result.body.string);
      } else {
        for await (const chunk of result.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } catch {
      if (seen.route === 'graphql' && !res.headersSent) seen.refusedWith = ErrorCode.INTERNAL_SERVER_ERROR;
      if (!res.headersSent) json(res, 500, { errors: [{ message: 'Internal server error.', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] });
      else res.end();
    }
  }
}

const INGEST_PREFIX = '/ingest/';

/**
 * `POST /ingest/<source>`: the source's webhook feed checks the signature and hands the changes
 * to its sink. The body is read up to the feed's `maxBodyBytes`; one byte more and the answer is
 * 413 at once, the rest of the body discarded as it arrives (not buffered), so a keep-alive
 * connection stays usable. Errors are `{ error: { code, message } }`.
 */
async function ingest(req: IncomingMessage, res: ServerResponse, rawSource: string, feeds: HttpOptions['ingest']): Promise<void> {
  const source = decodeSegment(rawSource);
  const feed = source === undefined ? undefined : feeds?.(source);
  if (feed === undefined) {
    req.resume();
    const named = JSON.stringify(source ?? rawSource);
    return ingestError(res, 404, 'NOT_FOUND', `No webhook feed for source ${named}: POST /ingest/<source> takes a mirrored source with a webhook feed.`);
  }
  const method = req.method ?? 'GET';
  if (method !== 'POST') {
    req.resume();
    res.setHeader('allow', 'POST');
    return ingestError(res, 405, ErrorCode.METHOD_NOT_ALLOWED, `Method ${method} is not allowed on /ingest/${source}; send POST.`);
  }
  const type = req.headers['content-type'];
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) {
    req.resume();
    return ingestError(
      res,
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json, not ${type === undefined ? 'missing' : JSON.stringify(type)}.`,
    );
  }
  const body = await readBytes(req, feed.maxBodyBytes);
  send(res, body === undefined ? feed.tooLarge() : await feed.ingest(req.headers, body));
}

/** A path segment decoded, or undefined when it is not one (`%zz`, an empty name). */
function decodeSegment(raw: string): string | undefined {
  try {
    const s = decodeURIComponent(raw);
    return s === '' || raw.includes('/') ? undefined : s;
  } catch {
    return undefined;
  }
}

function ingestError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, { status, body: { error: { code, message } } });
}

/** An ingest answer, with its Content-Length (a sender's HTTP client need not handle chunked answers). */
function send(res: ServerResponse, r: IngestResponse): void {
  const text = JSON.stringify(r.body);
  res.writeHead(r.status, { ...r.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The body's bytes, or undefined as soon as more than `limit` arrived (or were declared): from
 * then on what still comes is read and dropped, so the connection can carry the next request.
 */
function readBytes(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const over = () => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.resume();
      resolve(undefined);
    };
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) over();
      else chunks.push(c);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    if (Number(req.headers['content-length'] ?? 0) > limit) return over();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** Rejects when `p` has not settled within `ms` (and never leaves `p`'s own rejection unhandled). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => {});
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** The node:http server in front of the handler, and its graceful stop. */
export interface FrontDoor {
  server: Server;
  /** Requests being answered right now. */
  readonly inFlight: number;
  /** True once `shutdown` began. */
  readonly draining: boolean;
  /**
   * Stops accepting connections and lets the requests in flight finish; every response from
   * then on carries `connection: close`, so a busy connection closes cleanly after its answer.
   * An idle keep-alive connection is not cut: for `drainIdleMs` a request arriving on it is
   * still answered (with `connection: close`), then it is half-closed (see `endGracefully`).
   * After `graceMs` whatever is still open is cut. Resolves when every connection has closed,
   * with how many requests were cut short.
   */
  shutdown(graceMs: number): Promise<{ cutShort: number }>;
}

/** What the front door allows a connection: the `server` keys of the config (src/config/schema.ts). */
export interface ConnectionLimits {
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  drainIdleMs: number;
}

export function createFrontDoor(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, limits: ConnectionLimits): FrontDoor {
  let inFlight = 0;
  let draining = false;
  /** Set `drainIdleMs` into a stop: from then on a connection is half-closed as soon as it is idle. */
  let closingIdle = false;
  const open = new Set<ServerResponse>();
  /** Every open connection, with how many of its responses are under way (0: idle). */
  const connections = new Map<Socket, number>();
  const server = createServer(serverOptions(limits), (req, res) => {
    const socket = req.socket;
    // a request that crossed the half-close of its connection cannot be answered: the client sees the close
    if (draining && socket.writableEnded) return void req.resume();
    inFlight++;
    open.add(res);
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    if (draining) res.setHeader('connection', 'close');
    res.on('close', () => {
      inFlight--;
      open.delete(res);
      const busy = (connections.get(socket) ?? 1) - 1;
      if (connections.has(socket)) connections.set(socket, busy);
      if (closingIdle && busy === 0) endGracefully(socket);
    });
    void handle(req, res);
  });
  // one connection over the cap is closed as soon as it is accepted (node:net)
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });
  return {
    server,
    get inFlight() {
      return inFlight;
    },
    get draining() {
      return draining;
    },
    async shutdown(graceMs) {
      draining = true;
      for (const res of open) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = stopListening(server);
      const idleOver = setTimeout(
        () => {
          closingIdle = true;
          for (const [socket, busy] of connections) if (busy === 0) endGracefully(socket);
        },
        Math.min(limits.drainIdleMs, graceMs),
      );
      let graceOver: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([closed.then(() => true), new Promise<false>((resolve) => (graceOver = setTimeout(() => resolve(false), graceMs)))]);
      clearTimeout(idleOver);
      clearTimeout(graceOver);
      const cutShort = inFlight;
      if (!inTime) {
        for (const socket of connections.keys()) socket.destroy();
        await closed;
      }
      return { cutShort };
    },
  };
}

/**
 * Stops accepting connections; resolves once the last open one has closed. Not node:http's
 * close() as it is: since Node 19 it also destroys every idle keep-alive connection at once,
 * and a request that a client has just sent on one is then lost to a reset (ECONNRESET): the
 * race a graceful stop must not have. Its other half (no more timeout checks) is kept.
 */
function stopListening(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  server.closeIdleConnections = () => {};
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  Reflect.deleteProperty(server, 'closeIdleConnections');
  return closed;
}

/** How long a client may take to close its side of a connection the front door half-closed; then it is cut. */
const LINGER_MS = 1_000;

/**
 * Closes an idle connection without a reset: FIN first (`end`), then reading goes on until the
 * client closes its side, so a request that crossed the FIN is read and dropped (the client
 * sees the connection closed, no RST). A client that does not close is cut after LINGER_MS.
 */
function endGracefully(socket: Socket): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.end();
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

/**
 * node:http's time limits. Node checks headers and request times only every
 * `connectionsCheckingInterval` (30 s by default, which would let a slowloris stay up to 30 s
 * past `headersTimeoutMs`): here at most 1 s, or a quarter of the headers' time when shorter.
 */
function serverOptions(l: ConnectionLimits): ServerOptions {
  return {
    keepAliveTimeout: l.keepAliveTimeoutMs,
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(l.headersTimeoutMs / 4))),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** The body as text, or undefined when it exceeds `limit` (the rest is drained, not buffered). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
