/**
 * The HTTP front door on plain node:http: GraphQL at /graphql (through Apollo's
 * executeHTTPGraphQLRequest), the offline explorer for browsers, and the health endpoints.
 * Owning this layer keeps routing, body limits and request ids in one small file.
 */
import { HeaderMap, type ApolloServer } from '@apollo/server';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayContext } from './context.js';
import type { StaticResponse } from './explorer.js';

export interface HttpOptions {
  graphql: ApolloServer<GatewayContext>;
  context: (requestId: string) => GatewayContext;
  /** Answers explorer pages and assets, or undefined. */
  explorer?: (method: string, path: string, accept: string | undefined) => StaticResponse | undefined;
  /** Readiness: resolves when the gateway can serve (store reachable, config loaded). */
  ready: () => Promise<void>;
  /** Largest request body accepted, in bytes. Defaults to 1 MiB. */
  maxBodyBytes?: number;
}

export function createHttpHandler(o: HttpOptions) {
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    try {
      if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
      if (url.pathname === '/readyz') {
        try {
          await o.ready();
          return json(res, 200, { status: 'ready' });
        } catch {
          return json(res, 503, { status: 'not ready' });
        }
      }
      const page = o.explorer?.(method, url.pathname, req.headers.accept);
      if (page !== undefined) {
        res.writeHead(page.status, page.headers);
        res.end(page.body);
        return;
      }
      if (url.pathname !== '/graphql') return json(res, 404, { error: `Nothing at ${url.pathname}; GraphQL is at /graphql.` });
      if (method !== 'GET' && method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        return json(res, 405, { errors: [{ message: `Method ${method} is not allowed on /graphql.`, extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
      }

      let body: unknown;
      if (method === 'POST') {
        const text = await readBody(req, maxBody);
        if (text === undefined) {
          return json(res, 413, { errors: [{ message: `Request body larger than ${maxBody} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
        }
        const type = req.headers['content-type'] ?? '';
        if (/^application\/(graphql-response\+)?json\b/i.test(type)) {
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            return json(res, 400, { errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
          }
        } else {
          body = text;
        }
      }

      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      const result = await o.graphql.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers, search: url.search, body },
        context: async () => o.context(requestId),
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
      if (!res.headersSent) json(res, 500, { errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.end();
    }
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
