/**
 * The webhook feed over real HTTP on 127.0.0.1: the front door of src/server/http.ts (no
 * runtime: GraphQL is a stub that must never be reached) with `POST /ingest/<source>` routed to
 * webhook feeds whose sink is a recording ChangeSink written here. Signatures are computed in
 * this file, independently of the feed's own code: HMAC-SHA256 over `id.timestamp.body` with
 * the key decoded from the `whsec_` secret, as the Standard Webhooks spec describes.
 */
import type { ApolloServer } from '@apollo/server';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { feedSchema } from '../../src/config/schema.js';
import { createFeed } from '../../src/feeds/registry.js';
import type { MirrorControl } from '../../src/feeds/mirror.js';
import type { ChangeSink, Delivery, FeedContext, Outcome } from '../../src/feeds/types.js';
import { createWebhookFeed, jsonDepth, type WebhookFeed, type WebhookFeedConfig } from '../../src/feeds/webhook.js';
import type { Logger } from '../../src/logger.js';
import type { GatewayContext } from '../../src/server/context.js';
import { createFrontDoor, createHttpHandler, type FrontDoor } from '../../src/server/http.js';
import type { RequestRecord } from '../../src/server/request-log.js';
import { openConnection } from '../helpers/raw-http.js';

const KEY = randomBytes(32);
const SECRET = `whsec_${KEY.toString('base64')}`;
const SMALL_LIMIT = 4096;

/** Records what it is handed; applies a change (an object with a string id) once, dead-letters anything else. */
class RecordingSink implements ChangeSink {
  readonly received: Array<{ feed: string; delivery: Delivery }> = [];
  readonly seen = new Set<string>();
  /** When set, `receive` rejects with it (the store is down) and records nothing. */
  failWith: Error | undefined;

  async receive(feed: string, deliveries: readonly Delivery[]): Promise<Outcome[]> {
    await new Promise((r) => setImmediate(r));
    if (this.failWith !== undefined) throw this.failWith;
    return deliveries.map((delivery) => {
      this.received.push({ feed, delivery });
      const id = changeId(JSON.parse(delivery.body));
      if (id === undefined) return 'dead';
      if (this.seen.has(id)) return 'duplicate';
      this.seen.add(id);
      return 'applied';
    });
  }

  reset(): void {
    this.received.length = 0;
    this.seen.clear();
    this.failWith = undefined;
  }
}

/** The id of something shaped like a change (an object with a string id and op set or delta), else undefined. */
function changeId(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  return typeof o.id === 'string' && (o.op === 'set' || o.op === 'delta') ? o.id : undefined;
}

const warnings: Array<Record<string, unknown> | undefined> = [];
const logger: Logger = { debug() {}, info() {}, warn: (_m, f) => void warnings.push(f), error() {} };

function context(source: string, sink: ChangeSink): FeedContext {
  // a webhook feed hands everything to its sink and never touches the mirror (only poll feeds do)
  return { source, sink, logger, mirror: { source } as unknown as MirrorControl };
}

function webhookConfig(o: Partial<WebhookFeedConfig> = {}): WebhookFeedConfig {
  const parsed = feedSchema.parse({ kind: 'webhook', secret: SECRET, ...o });
  if (parsed.kind !== 'webhook') throw new Error('not a webhook config');
  return parsed;
}

/** The Standard Webhooks headers for `body`, signed here with `key` (not with the feed's code). */
function signed(
  body: string | Buffer,
  o: { key?: Buffer; id?: string; timestamp?: number | string; signatures?: (sig: string) => string } = {},
): Record<string, string> {
  const id = o.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const mac = createHmac('sha256', o.key ?? KEY);
  mac.update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]));
  const sig = `v1,${mac.digest('base64')}`;
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': o.signatures?.(sig) ?? sig,
  };
}

let changeSeq = 0;
function change(o: Record<string, unknown> = {}): Record<string, unknown> {
  changeSeq++;
  return { id: `pick-${changeSeq}`, op: 'delta', code: 'W-100', location: 'EAST', onHandDelta: -1, eventTime: '2026-12-01T07:00:05Z', ...o };
}

const sink = new RecordingSink();
const smallSink = new RecordingSink();
let wms: WebhookFeed;
let small: WebhookFeed;
let front: FrontDoor;
let base: string;
let port: number;
const records: RequestRecord[] = [];
let authCalls = 0;

beforeAll(async () => {
  wms = createWebhookFeed(webhookConfig(), context('wms', sink));
  small = createWebhookFeed(webhookConfig({ maxBodyBytes: SMALL_LIMIT }), context('small', smallSink));
  await Promise.all([wms.start(), small.start()]);
  const feeds = new Map([
    ['wms', wms],
    ['small', small],
  ]);
  const handler = createHttpHandler({
    // never reached by /ingest: a call would fail the request with 500
    graphql: {} as ApolloServer<GatewayContext>,
    authenticate: () => {
      authCalls++;
      return { ok: false, message: 'no key' };
    },
    context: () => {
      throw new Error('no GraphQL context for ingest');
    },
    ready: async () => {},
    ingest: (source) => feeds.get(source),
    onResponse: (r) => void records.push(r),
  });
  front = createFrontDoor(handler, { keepAliveTimeoutMs: 5_000, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1_000, drainIdleMs: 100 });
  await new Promise<void>((resolve) => front.server.listen(0, '127.0.0.1', resolve));
  port = (front.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await front?.shutdown(1_000);
  await Promise.all([wms?.close(), small?.close()]);
});

afterEach(() => {
  sink.reset();
  smallSink.reset();
  warnings.length = 0;
});

interface Answer {
  status: number;
  headers: Headers;
  body: { accepted?: number; outcomes?: Record<Outcome, number>; error?: { code: string; message: string } };
}

async function post(path: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

/** POSTs `body` to /ingest/wms, signed unless `headers` are given. */
function ingest(body: string | Buffer, headers: Record<string, string> = signed(body)): Promise<Answer> {
  return post('/ingest/wms', body, headers);
}

describe('POST /ingest/<source>: accepted', () => {
  it('answers 202 for one signed change, after the sink took it, with the webhook-id as transportId', async () => {
    const text = JSON.stringify(change({ id: 'pick-4711' }));
    const headers = signed(text, { id: 'msg_one' });
    const before = records.length;
    const r = await ingest(text, headers);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 1, outcomes: { applied: 1, duplicate: 0, ignored: 0, dead: 0 } });
    expect(sink.received).toEqual([{ feed: 'wms/webhook', delivery: { body: text, transportId: 'msg_one' } }]);
    // reported as route ingest, with no API key asked for
    const rec = records.slice(before).find((x) => x.path === '/ingest/wms');
    expect(rec).toMatchObject({ route: 'ingest', status: 202, method: 'POST' });
    expect(rec?.principal).toBeUndefined();
    expect(authCalls).toBe(0);
  });

  it('hands the sink one delivery per change of an array; what is JSON but no change is the sink’s to dead-letter', async () => {
    const a = change();
    const b = change();
    const body = JSON.stringify([a, b, { hello: 'world' }, 42, a]);
    const headers = signed(body, { id: 'msg_batch' });
    const r = await ingest(body, headers);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: 5, outcomes: { applied: 2, duplicate: 1, ignored: 0, dead: 2 } });
    expect(sink.received.map((x) => JSON.parse(x.delivery.body))).toEqual([a, b, { hello: 'world' }, 42, a]);
    expect(new Set(sink.received.map((x) => x.delivery.transportId))).toEqual(new Set(['msg_batch']));
  });

  it('accepts when any one of several listed signatures is right (key rotation), ignoring other versions', async () => {
    const body = JSON.stringify(change());
    const wrong = `v1,${createHmac('sha256', randomBytes(32)).update('x').digest('base64')}`;
    const r = await ingest(body, signed(body, { signatures: (good) => `${wrong} v1a,AAAA v1,not-base64! ${good} v2,xyz` }));
    expect(r.status).toBe(202);
    expect(sink.received).toHaveLength(1);
  });

  it('counts outcomes in stats and is caught up while started', async () => {
    const feed = createWebhookFeed(webhookConfig(), context('stats', new RecordingSink()));
    expect(feed.stats()).toMatchObject({ name: 'stats/webhook', kind: 'webhook', connected: false, heardAt: null, applied: 0 });
    await feed.start();
    const c = change();
    const body = JSON.stringify([c, c, 'junk']);
    const r = await feed.ingest(signed(body), Buffer.from(body));
    expect(r.status).toBe(202);
    const s = feed.stats();
    expect(s).toMatchObject({ connected: true, applied: 1, duplicates: 1, deadLetters: 1, lastError: null });
    expect(Math.abs((s.heardAt?.getTime() ?? 0) - Date.now())).toBeLessThan(1_000);
    await feed.close();
    expect(feed.stats()).toMatchObject({ connected: false, heardAt: null });
    const after = await feed.ingest(signed(body), Buffer.from(body));
    expect(after.status).toBe(503);
    expect(after.body).toMatchObject({ error: { code: 'FEED_NOT_RUNNING' } });
  });

  it('takes a secret without whsec_ as its UTF-8 bytes, and is the registry’s webhook kind', async () => {
    const plain = 'a-plain-shared-secret-of-some-length';
    const feed = createFeed(webhookConfig({ secret: plain }), context('plain', new RecordingSink())) as WebhookFeed;
    expect(feed.name).toBe('plain/webhook');
    await feed.start();
    const body = JSON.stringify(change());
    expect((await feed.ingest(signed(body, { key: Buffer.from(plain, 'utf8') }), Buffer.from(body))).status).toBe(202);
    expect((await feed.ingest(signed(body, { key: Buffer.from(plain, 'base64') }), Buffer.from(body))).status).toBe(401);
    await feed.close();
  });

  it('refuses a whsec_ secret that is not base64 when the feed is built', () => {
    expect(() => createWebhookFeed(webhookConfig({ secret: 'whsec_not*base64*at*all' }), context('bad', sink))).toThrow(/not base64/);
  });
});

describe('POST /ingest/<source>: refused signatures (401)', () => {
  const body = JSON.stringify(change());

  it('a wrong secret', async () => {
    const r = await ingest(body, signed(body, { key: randomBytes(32), id: 'msg_wrong' }));
    expect(r.status).toBe(401);
    expect(r.body.error?.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    expect(r.body.error?.message).toMatch(/None of the 1 v1 signature in webhook-signature matches the body of webhook-id "msg_wrong"/);
    expect(sink.received).toEqual([]);
    expect(warnings).toEqual([expect.objectContaining({ feed: 'wms/webhook', code: 'WEBHOOK_SIGNATURE_INVALID' })]);
  });

  it('a body changed after signing', async () => {
    const headers = signed(body);
    const r = await ingest(body.replace('-1', '-100'), headers);
    expect(r.status).toBe(401);
    expect(r.body.error?.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    expect(sink.received).toEqual([]);
  });

  it('a signature for another id or timestamp', async () => {
    const headers = signed(body, { id: 'msg_a' });
    expect((await ingest(body, { ...headers, 'webhook-id': 'msg_b' })).status).toBe(401);
    expect((await ingest(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) })).status).toBe(401);
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('a missing %s header, named', async (name) => {
    const headers = signed(body);
    delete headers[name];
    const r = await ingest(body, headers);
    expect(r.status).toBe(401);
    expect(r.body.error).toEqual({ code: 'WEBHOOK_SIGNATURE_INVALID', message: `Missing header ${name} (Standard Webhooks).` });
  });

  it('no signature headers at all, named', async () => {
    const r = await ingest(body, { 'content-type': 'application/json' });
    expect(r.status).toBe(401);
    expect(r.body.error?.message).toBe('Missing headers webhook-id, webhook-timestamp, webhook-signature (Standard Webhooks).');
  });

  it('a signature list without v1, and a timestamp that is not unix seconds', async () => {
    const noV1 = await ingest(body, signed(body, { signatures: () => 'v1a,abc v2,def' }));
    expect(noV1.status).toBe(401);
    expect(noV1.body.error?.message).toMatch(/no "v1,<base64>" signature \(got "v1a,abc v2,def"\)/);
    const iso = await ingest(body, signed(body, { timestamp: '2026-12-01T07:00:00Z' }));
    expect(iso.status).toBe(401);
    expect(iso.body.error?.message).toMatch(/webhook-timestamp must be unix seconds \(digits only\), not "2026-12-01T07:00:00Z"/);
  });

  it('a timestamp too old or too new, saying by how much', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await ingest(body, signed(body, { timestamp: now - 400 }));
    expect(old.status).toBe(401);
    expect(old.body.error?.code).toBe('WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE');
    expect(old.body.error?.message).toMatch(new RegExp(`webhook-timestamp ${now - 400} is 40\\d s in the past; at most 300 s either way`));
    const ahead = await ingest(body, signed(body, { timestamp: now + 3_600 }));
    expect(ahead.status).toBe(401);
    expect(ahead.body.error?.message).toMatch(/is 3\d{3} s in the future; at most 300 s/);
    // within tolerance either way
    expect((await ingest(body, signed(body, { timestamp: now - 200 }))).status).toBe(202);
    expect((await ingest(body, signed(body, { timestamp: now + 200 }))).status).toBe(202);
  });

  it('checks the signature before looking at the body', async () => {
    const r = await ingest('not json at all', signed('something else'));
    expect(r.status).toBe(401);
  });
});

describe('POST /ingest/<source>: the store unavailable (503)', () => {
  it('answers 503 with Retry-After, acknowledges and counts nothing, and takes the same request once the store is back', async () => {
    const before = wms.stats();
    const text = JSON.stringify([change(), change()]);
    const headers = signed(text);
    sink.failWith = new Error('SQLITE_FULL: database or disk is full');
    const r = await ingest(text, headers);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.body.error?.code).toBe('STORE_UNAVAILABLE');
    expect(r.body.error?.message).toBe('The 2 changes could not be stored just now; nothing was accepted. Deliver again after 5 s.');
    expect(sink.received).toEqual([]);
    const during = wms.stats();
    expect([during.applied, during.duplicates, during.deadLetters]).toEqual([before.applied, before.duplicates, before.deadLetters]);
    expect(during.lastError).toBe('the store could not take 2 changes: SQLITE_FULL: database or disk is full');
    expect(warnings).toEqual([expect.objectContaining({ feed: 'wms/webhook', error: during.lastError })]);
    // the sender delivers again
    sink.failWith = undefined;
    const again = await ingest(text, headers);
    expect(again.status).toBe(202);
    expect(wms.stats()).toMatchObject({ applied: before.applied + 2, lastError: null });
  });
});

describe('POST /ingest/<source>: bad requests', () => {
  it.each([
    ['not JSON', '{"id": "x", ', /not valid JSON/],
    ['an empty array', '[]', /empty array; send at least one change/],
    ['1,001 changes', JSON.stringify(Array.from({ length: 1001 }, () => change())), /holds 1001 changes; at most 1000 per request/],
    ['an empty body', '', /not valid JSON/],
  ])('%s: 400', async (_name, body, message) => {
    const r = await ingest(body);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('BAD_REQUEST');
    expect(r.body.error?.message).toMatch(message);
    expect(sink.received).toEqual([]);
  });

  it('1,000 changes are fine', async () => {
    const body = JSON.stringify(Array.from({ length: 1000 }, () => change()));
    const r = await ingest(body);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1000);
  });

  it('bytes that are not UTF-8: 400', async () => {
    const body = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = await ingest(body, signed(body));
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/not UTF-8/);
  });

  it('an unknown source, or one without a webhook feed: 404 naming it', async () => {
    const body = JSON.stringify(change());
    const r = await post('/ingest/erp', body, signed(body));
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(r.body.error?.message).toMatch(/No webhook feed for source "erp"/);
    expect((await post('/ingest/wms/extra', body, signed(body))).body.error?.message).toMatch(/source "wms\/extra"/);
    expect((await post('/ingest/%zz', body, signed(body))).status).toBe(404);
  });

  it('GET: 405 with Allow: POST', async () => {
    const res = await fetch(`${base}/ingest/wms`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toEqual({ error: { code: 'METHOD_NOT_ALLOWED', message: 'Method GET is not allowed on /ingest/wms; send POST.' } });
  });

  it('a Content-Type other than application/json: 415', async () => {
    const body = JSON.stringify(change());
    const r = await ingest(body, { ...signed(body), 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.body.error?.message).toBe('Content-Type must be application/json, not "text/plain".');
    expect((await ingest(body, { ...signed(body), 'content-type': 'application/json; charset=utf-8' })).status).toBe(202);
  });

  it('is not behind GraphQL’s API key, and GraphQL is not reachable through it', async () => {
    const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { role } }"}' });
    expect(res.status).toBe(401);
    expect(authCalls).toBe(1);
  });
});

describe('POST /ingest/<source>: bodies over maxBodyBytes (413)', () => {
  const big = () => JSON.stringify(Array.from({ length: 60 }, () => change()));

  it('413 naming the limit, for a declared length; the sink sees nothing', async () => {
    const body = big();
    expect(Buffer.byteLength(body)).toBeGreaterThan(SMALL_LIMIT);
    const r = await post('/ingest/small', body, signed(body));
    expect(r.status).toBe(413);
    expect(r.body.error).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: `The request body is larger than ${SMALL_LIMIT} bytes (maxBodyBytes of small/webhook).`,
    });
    expect(smallSink.received).toEqual([]);
  });

  it('answers 413 as soon as a chunked body passes the limit, and the same connection carries the next request', async () => {
    const c = await openConnection(port);
    const chunk = 'x'.repeat(SMALL_LIMIT + 1);
    c.write(`POST /ingest/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    c.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    // the body is not finished: the answer comes anyway
    const first = await c.response();
    expect(first?.status).toBe(413);
    expect(first?.headers.connection).toBe('keep-alive');
    // the rest of the body is read and dropped
    for (let i = 0; i < 50; i++) c.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    c.write('0\r\n\r\n');
    const body = JSON.stringify(change());
    const h = signed(body);
    c.write(
      `POST /ingest/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nwebhook-id: ${h['webhook-id']}\r\n` +
        `webhook-timestamp: ${h['webhook-timestamp']}\r\nwebhook-signature: ${h['webhook-signature']}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const second = await c.response();
    expect(second?.status).toBe(202);
    expect(smallSink.received).toHaveLength(1);
    expect(c.error).toBeUndefined();
    c.socket.destroy();
  });

  it('a declared length over the limit with its body following: 413, then the connection is still usable', async () => {
    const c = await openConnection(port);
    const over = big();
    c.write(`POST /ingest/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(over)}\r\n\r\n${over}`);
    expect((await c.response())?.status).toBe(413);
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect((await c.response())?.status).toBe(200);
    c.socket.destroy();
  });
});

describe('POST /ingest/<source>: hostile input', () => {
  it('a 1 MB body of [[[[ is refused at once (400), and the server answers afterwards', async () => {
    const body = '['.repeat(1_000_000);
    const started = performance.now();
    const r = await ingest(body);
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/nested more than 32 levels deep/);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(sink.received).toEqual([]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('deeply nested valid JSON inside a change: 400, never handed on (JSON.stringify would recurse)', async () => {
    const n = 100_000;
    const body = `[{"id":"deep","op":${'['.repeat(n)}${']'.repeat(n)}}]`;
    const r = await ingest(body);
    expect(r.status).toBe(400);
    expect(sink.received).toEqual([]);
  });

  it('unsigned hostile bodies are refused before they are parsed', async () => {
    const r = await ingest('['.repeat(1_000_000), { 'content-type': 'application/json' });
    expect(r.status).toBe(401);
  });

  it('moderate nesting is JSON like any other: the sink dead-letters it', async () => {
    const body = JSON.stringify({ id: 'nested', op: [[[[{ a: ['[', '{"'] }]]]] });
    const r = await ingest(body);
    expect(r.status).toBe(202);
    expect(r.body.outcomes?.dead).toBe(1);
  });

  it('brackets inside strings are not nesting', () => {
    expect(jsonDepth(Buffer.from('{"a":"[[[[\\"[[[","b":[1]}'), 32)).toBe(2);
    expect(jsonDepth(Buffer.from('['.repeat(40)), 32)).toBe(33);
  });
});

describe('POST /ingest/<source>: concurrency', () => {
  it('answers 200 concurrent signed requests with 202, the sink seeing each change once', async () => {
    const bodies = Array.from({ length: 200 }, () => JSON.stringify(change()));
    const answers = await Promise.all(bodies.map((b) => ingest(b)));
    expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 202));
    expect(answers.every((a) => a.body.outcomes?.applied === 1)).toBe(true);
    const ids = sink.received.map((x) => (JSON.parse(x.delivery.body) as { id: string }).id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids)).toEqual(new Set(bodies.map((b) => (JSON.parse(b) as { id: string }).id)));
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
