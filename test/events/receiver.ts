/**
 * A real webhook receiver for the events tests: a node:http server on 127.0.0.1 (a port of its
 * own) that records every POST and answers what the test tells it to.
 *
 *   const r = await startReceiver({ secret });   // secret: check Standard Webhooks signatures
 *   r.url                                        // http://127.0.0.1:<port>/hook
 *   r.received                                   // every POST, in arrival order (Received)
 *   r.respond(503) / r.respond(429, { retryAfter: '2' }) / r.respond(200)   // from now on
 *   r.respond('hang')                            // never answer (until respond() again or close)
 *   await r.down() / await r.up()                // refuse connections / listen again, same port
 *   r.connections, r.accepted                    // open connections now / accepted so far
 *   await r.close()
 *
 * The signature is checked here, independently of the code under test (node:crypto): the key is
 * the base64 after `whsec_`, else the secret's UTF-8 bytes; `v1,<base64 HMAC-SHA256>` over
 * `<webhook-id>.<webhook-timestamp>.<raw body>`, any listed v1 signature matching.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface Received {
  /** `webhook-id`, `webhook-timestamp`, `webhook-signature` (undefined when absent). */
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  /** The request's path and query, e.g. `/hook?token=x`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as UTF-8. */
  body: string;
  /** The body parsed, or undefined when it is not JSON. */
  json: unknown;
  /** Whether a v1 signature matches (false too when a header is missing); null when the receiver has no secret. */
  verified: boolean | null;
  /** The status this request was answered (null: it was held, `hang`). */
  status: number | null;
}

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** Connections open right now. */
  readonly connections: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** What every request is answered from now on (200 at first); `hang`: not answered at all. */
  respond(status: number | 'hang', o?: { retryAfter?: string; headers?: Record<string, string> }): void;
  /** Stops listening (connections are refused) and drops every open connection. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(o: { secret?: string } = {}): Promise<Receiver> {
  const key = o.secret === undefined ? undefined : keyOf(o.secret);
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<ServerResponse>();
  let accepted = 0;
  let answer: { status: number | 'hang'; headers: Record<string, string> } = { status: 200, headers: {} };
  let listening = false;
  let port = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const h = (n: string) => (typeof req.headers[n] === 'string' ? (req.headers[n] as string) : undefined);
      const r: Received = {
        id: h('webhook-id'),
        timestamp: h('webhook-timestamp'),
        signature: h('webhook-signature'),
        path: req.url ?? '',
        headers: req.headers,
        body: raw.toString('utf8'),
        json: parse(raw.toString('utf8')),
        verified: key === undefined ? null : verify(key, h('webhook-id'), h('webhook-timestamp'), h('webhook-signature'), raw),
        status: null,
      };
      received.push(r);
      const { status, headers } = answer;
      if (status === 'hang') {
        held.add(res);
        return;
      }
      r.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ status }));
    });
  });
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        listening = true;
        resolve();
      });
    });
  }

  async function down(): Promise<void> {
    if (!listening) return;
    listening = false;
    held.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of sockets) s.destroy();
    await closed;
  }

  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}/hook`;
    },
    get port() {
      return port;
    },
    received,
    get connections() {
      return sockets.size;
    },
    get accepted() {
      return accepted;
    },
    respond(status, opts = {}) {
      answer = { status, headers: { ...opts.headers, ...(opts.retryAfter === undefined ? {} : { 'retry-after': opts.retryAfter }) } };
      if (status !== 'hang') {
        for (const res of held) res.writeHead(status, answer.headers).end();
        held.clear();
      }
    },
    down,
    up: async () => {
      if (!listening) await listen();
    },
    close: down,
  };
}

function keyOf(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

function verify(key: Buffer, id: string | undefined, timestamp: string | undefined, signatures: string | undefined, body: Buffer): boolean {
  if (id === undefined || timestamp === undefined || signatures === undefined) return false;
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
  return signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .some((s) => {
      const given = Buffer.from(s.slice(3), 'base64');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
