/**
 * The events transports (src/events/transports/) against real receivers: one contract over the
 * three kinds (webhook: a real HTTP receiver, ./receiver.ts; amqp: RabbitMQ at 127.0.0.1:5672;
 * nats: NATS JetStream at 127.0.0.1:4222), then what is particular to each. The broker
 * transports connect through a TCP proxy (test/helpers/tcp-proxy.ts) a test can stop or cut.
 * Each test has its own receiver, exchange and queue, or stream and subject prefix, deleted
 * afterwards. Nothing waits a fixed time for a result: conditions are polled (`eventually`).
 */
import { connect as amqpConnect, type Channel, type ChannelModel, type ConsumeMessage, type GetMessage } from 'amqplib';
import { connect as natsConnect, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventSinkConfig } from '../../src/config/index.js';
import { eventSinkSchema } from '../../src/config/schema.js';
import { eventBody, type EventType, type StoredEvent } from '../../src/domain/events.js';
import { createTransport } from '../../src/events/transports/registry.js';
import type { Attempt, EventTransport } from '../../src/events/transports/types.js';
import { silentLogger } from '../../src/logger.js';
import { eventually, suffix } from '../feeds/feed-helpers.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startReceiver, type Receiver } from './receiver.js';

type Kind = EventSinkConfig['kind'];
const BROKER = 'amqp://guest:guest@127.0.0.1:5672';
/** A whole second, for `webhook-timestamp` and the AMQP timestamp. */
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const never = new AbortController().signal;
const SKIPPED: Attempt = { ok: false, skipped: true };
const ok = (n: number): Attempt[] => Array.from({ length: n }, () => ({ ok: true }));

let amqp: ChannelModel;
let amqpCh: Channel;
let nc: NatsConnection;
let jsm: JetStreamManager;
let js: JetStreamClient;
/** Undone after each test, the last first (transports close before what they publish to goes). */
const cleanups: (() => Promise<unknown>)[] = [];
const later = (f: () => Promise<unknown>) => cleanups.push(f);

beforeAll(async () => {
  amqp = await amqpConnect(BROKER);
  amqpCh = await amqp.createChannel();
  nc = await natsConnect({ servers: '127.0.0.1:4222' });
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});

afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
});

afterAll(async () => {
  await amqp.close();
  await nc.close();
});

/** A sink config as the app would have it (the schema's defaults applied). */
function sink(raw: Record<string, unknown>): EventSinkConfig {
  return eventSinkSchema.parse(raw);
}

function open(config: EventSinkConfig, now?: () => number): EventTransport {
  const t = createTransport(config, { name: `test_${config.kind}`, logger: silentLogger, ...(now === undefined ? {} : { now }) });
  later(() => t.close());
  return t;
}

const SHAPES: [EventType, string | null][] = [
  ['availability.changed', 'web'],
  ['anomaly.opened', null],
  ['reservation.created', 'b2b.eu'],
];
const KEYS = ['availability.changed.web', 'anomaly.opened._', 'reservation.created.b2b_eu'];

/** `n` events, cycling through SHAPES, ids unique to this run. */
function events(n: number): StoredEvent[] {
  const tag = suffix();
  return Array.from({ length: n }, (_, i) => {
    const [type, channel] = SHAPES[i % SHAPES.length] as [EventType, string | null];
    const sku = channel === null ? null : `SKU-${i}`;
    const occurredAt = new Date(NOW + i * 1000);
    return { seq: i + 1, id: `evt_${tag}_${i}`, type, sku, channel, occurredAt, data: { n: i, note: 'ünïcode ✓' }, orderingKey: sku ?? 'anomaly' };
  });
}

/** What the receiving end got: the event id, the routing key (null for a webhook), the body. */
type Got = { id: string; key: string | null; body: unknown };

/** One kind's receiving end, for one test. */
interface Harness {
  /** A sink reaching it (a broker through its proxy). */
  config(): EventSinkConfig;
  /** The same kind of sink on a closed port. */
  unreachable(): EventSinkConfig;
  got(): Promise<Got[]>;
  /** Refuses connections, dropping the open ones / accepts them again. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Connections open now / accepted so far. */
  connections(): number;
  accepted(): number;
}

async function receiver(o: { secret?: string } = {}): Promise<Receiver> {
  const r = await startReceiver(o);
  later(() => r.close());
  return r;
}

/** A proxy to the broker on `port`, and the part of a harness it plays. */
async function proxyTo(port: number) {
  const proxy = await startTcpProxy({ targetPort: port });
  later(() => proxy.close());
  const ends = { down: () => proxy.stop(), up: () => proxy.start(), connections: () => proxy.connections, accepted: () => proxy.accepted };
  return { proxy, ends };
}

/** A port nothing listens on (fetch refuses port 1 itself, as a "bad port", before any connection). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function webhookHarness(): Promise<Harness> {
  const r = await receiver();
  const closed = await closedPort();
  return {
    config: () => sink({ kind: 'webhook', url: r.url }),
    unreachable: () => sink({ kind: 'webhook', url: `http://127.0.0.1:${closed}/hook` }),
    got: async () => r.received.map((x) => ({ id: x.id ?? '', key: null, body: x.json })),
    down: () => r.down(),
    up: () => r.up(),
    connections: () => r.connections,
    accepted: () => r.accepted,
  };
}

/** A unique exchange, a queue bound to it with `#` and consumed. */
async function amqpHarness(): Promise<Harness & { proxy: TcpProxy; messages: ConsumeMessage[] }> {
  const exchange = `ig_test_events_${suffix()}`;
  await amqpCh.assertExchange(exchange, 'topic', { durable: true });
  later(() => amqpCh.deleteExchange(exchange));
  const { queue } = await amqpCh.assertQueue('', { exclusive: true });
  later(() => amqpCh.deleteQueue(queue));
  await amqpCh.bindQueue(queue, exchange, '#');
  const messages: ConsumeMessage[] = [];
  const { consumerTag } = await amqpCh.consume(queue, (m) => void (m !== null && messages.push(m)), { noAck: true });
  later(() => amqpCh.cancel(consumerTag));
  const { proxy, ends } = await proxyTo(5672);
  return {
    proxy,
    messages,
    config: () => sink({ kind: 'amqp', url: `amqp://guest:guest@127.0.0.1:${proxy.port}`, exchange }),
    unreachable: () => sink({ kind: 'amqp', url: 'amqp://guest:guest@127.0.0.1:1', exchange }),
    got: async () => messages.map((m) => ({ id: String(m.properties.messageId), key: m.fields.routingKey, body: JSON.parse(m.content.toString('utf8')) })),
    ...ends,
  };
}

/** A unique stream and subject prefix (the transport creates the stream), read by an ordered consumer once it exists. */
async function natsHarness(): Promise<Harness & { stream: string; prefix: string }> {
  const id = suffix();
  const stream = `ig_test_events_${id}`;
  const prefix = `ig.test.events.${id}`;
  later(() => jsm.streams.delete(stream));
  const { proxy, ends } = await proxyTo(4222);
  const msgs: JsMsg[] = [];
  let consuming = false;
  return {
    stream,
    prefix,
    config: () => sink({ kind: 'nats', servers: `nats://127.0.0.1:${proxy.port}`, stream, subjectPrefix: prefix }),
    unreachable: () => sink({ kind: 'nats', servers: 'nats://127.0.0.1:1', stream, subjectPrefix: prefix }),
    async got() {
      if (!consuming) {
        if ((await jsm.streams.info(stream).catch(() => undefined)) === undefined) return [];
        consuming = true;
        const iter = await (await js.consumers.get(stream)).consume();
        later(() => iter.close());
        void (async () => {
          for await (const m of iter) msgs.push(m);
        })();
      }
      return msgs.map((m) => ({ id: m.headers?.get('Nats-Msg-Id') ?? '', key: m.subject.slice(prefix.length + 1), body: m.json() }));
    },
    ...ends,
  };
}

const harness = (kind: Kind): Promise<Harness> => ({ webhook: webhookHarness, amqp: amqpHarness, nats: natsHarness })[kind]();

/** Polls until the receiving end holds at least `n` messages. */
const gotAtLeast = (h: Harness, n: number) =>
  eventually(async () => {
    const g = await h.got();
    expect(g.length).toBeGreaterThanOrEqual(n);
    return g;
  });

const json = (e: StoredEvent): unknown => JSON.parse(JSON.stringify(eventBody(e)));

describe.each(['webhook', 'amqp', 'nats'] as const)('%s transport: the contract', (kind) => {
  it('delivers each event, in order, with its body, id and routing key, answering ok for each', async () => {
    const h = await harness(kind);
    const t = open(h.config());
    expect([t.kind, t.name, t.lanes]).toEqual([kind, `test_${kind}`, kind === 'webhook' ? 4 : 1]);
    const evs = events(3);
    expect(await t.deliver(evs, never)).toEqual(ok(3));
    const got = await gotAtLeast(h, 3);
    expect(got.map((g) => g.id)).toEqual(evs.map((e) => e.id));
    expect(got.map((g) => g.body)).toEqual(evs.map(json));
    if (kind !== 'webhook') expect(got.map((g) => g.key)).toEqual(KEYS);
    expect(await t.deliver([], never)).toEqual([]);
  });

  it('answers retryable failures when its receiver is unreachable, and never throws', async () => {
    const h = await harness(kind);
    const t = open(h.unreachable());
    for (let round = 0; round < 2; round++) {
      const attempts = await t.deliver(events(3), never);
      expect(attempts).toHaveLength(3);
      expect(attempts[0]).toMatchObject({ ok: false, retry: true, reason: expect.any(String) });
      // a webhook stops at its first failure; a broker answers each event
      for (const a of attempts.slice(1)) expect(a).toEqual(kind === 'webhook' ? SKIPPED : attempts[0]);
      expect(JSON.stringify(attempts)).not.toContain('guest:guest');
    }
  });

  it('recovers once its receiver is reachable again', async () => {
    const h = await harness(kind);
    const t = open(h.config());
    const [a, b, c] = events(3) as [StoredEvent, StoredEvent, StoredEvent];
    expect(await t.deliver([a], never)).toEqual(ok(1));
    await h.down();
    const failed = await t.deliver([b, c], never);
    expect(failed[0]).toMatchObject({ ok: false, retry: true });
    expect(failed.some((x) => x.ok)).toBe(false);
    await h.up();
    expect(await t.deliver([b, c], never)).toEqual(ok(2));
    const ids = (await gotAtLeast(h, 3)).map((g) => g.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
    expect(ids.lastIndexOf(b.id)).toBeLessThan(ids.lastIndexOf(c.id));
  });

  it('answers retryable failures at once when its signal is already aborted', async () => {
    const h = await harness(kind);
    const t = open(h.config());
    const aborted = new AbortController();
    aborted.abort();
    const attempts = await t.deliver(events(2), aborted.signal);
    expect(attempts[0]).toMatchObject({ ok: false, retry: true });
    expect(attempts.some((x) => x.ok)).toBe(false);
  });

  it('closes idempotently, leaving no connection open, and connects no more after', async () => {
    const h = await harness(kind);
    const t = open(h.config());
    expect(await t.deliver(events(2), never)).toEqual(ok(2));
    expect(h.accepted()).toBeGreaterThan(0);
    await t.close();
    await t.close();
    const accepted = h.accepted();
    expect((await t.deliver(events(1), never))[0]).toMatchObject({ ok: false, retry: true });
    expect(h.accepted()).toBe(accepted);
    // a webhook's keep-alive socket belongs to fetch's pool: it goes once idle (seconds)
    await eventually(() => expect(h.connections()).toBe(0));
  });
});

describe('webhook transport', () => {
  const webhook = (url: string, o: { secret?: string; previousSecrets?: string[]; timeoutMs?: number } = {}) =>
    open(sink({ kind: 'webhook', url, ...o }), () => NOW);

  it('signs each POST per Standard Webhooks: webhook-id and idempotency-key are the event id', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const r = await receiver({ secret });
    const evs = events(2);
    expect(await webhook(r.url, { secret }).deliver(evs, never)).toEqual(ok(2));
    expect(r.received.map((x) => x.verified)).toEqual([true, true]);
    const [first] = r.received;
    expect(first).toMatchObject({ id: evs[0]?.id, timestamp: String(NOW / 1000), body: JSON.stringify(eventBody(evs[0] as StoredEvent)) });
    expect(first?.signature).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(first?.headers).toMatchObject({ 'content-type': 'application/json', 'user-agent': 'inventory-graph', 'idempotency-key': evs[0]?.id });
  });

  it('a receiver with another secret finds the signature wrong; a secret without whsec_ signs with its bytes', async () => {
    const wrong = await receiver({ secret: 'the-receivers-own-secret' });
    const right = await receiver({ secret: 'a-plain-text-secret-0123' });
    expect(await webhook(wrong.url, { secret: 'a-plain-text-secret-0123' }).deliver(events(1), never)).toEqual(ok(1));
    expect(await webhook(right.url, { secret: 'a-plain-text-secret-0123' }).deliver(events(1), never)).toEqual(ok(1));
    expect([wrong.received[0]?.verified, right.received[0]?.verified]).toEqual([false, true]);
  });

  it('while a secret is rotated, signs with the new one and the previous ones: a receiver on either verifies, one on neither does not', async () => {
    const [current, previous, other] = ['new', 'old', 'other'].map((n) => `whsec_${Buffer.from(`${n}-secret-0123456789abcdef`).toString('base64')}`) as [
      string,
      string,
      string,
    ];
    const rs = await Promise.all([current, previous, other].map((secret) => receiver({ secret })));
    for (const r of rs) expect(await webhook(r.url, { secret: current, previousSecrets: [previous] }).deliver(events(1), never)).toEqual(ok(1));
    expect(rs.map((r) => r.received[0]?.verified)).toEqual([true, true, false]);
    expect(rs[0]?.received[0]?.signature?.split(' ')).toHaveLength(2);
  });

  it('sends unsigned POSTs without a secret', async () => {
    const r = await receiver();
    const [e] = events(1) as [StoredEvent];
    expect(await webhook(r.url).deliver([e], never)).toEqual(ok(1));
    expect(r.received[0]).toMatchObject({ id: e.id, timestamp: String(NOW / 1000), signature: undefined, verified: null });
    expect(r.received[0]?.headers).not.toHaveProperty('webhook-signature');
  });

  it.each([
    [503, {}, { ok: false, retry: true, reason: 'HTTP 503' }],
    [500, {}, { ok: false, retry: true, reason: 'HTTP 500' }],
    [408, {}, { ok: false, retry: true, reason: 'HTTP 408' }],
    [429, { retryAfter: '2' }, { ok: false, retry: true, reason: 'HTTP 429', retryAfterMs: 2000 }],
    [503, { retryAfter: new Date(NOW + 30_000).toUTCString() }, { ok: false, retry: true, reason: 'HTTP 503', retryAfterMs: 30_000 }],
    [503, { retryAfter: '86400' }, { ok: false, retry: true, reason: 'HTTP 503', retryAfterMs: 3_600_000 }],
    [400, {}, { ok: false, retry: false, reason: 'HTTP 400' }],
    [410, { retryAfter: '2' }, { ok: false, retry: false, gone: true, reason: 'HTTP 410 Gone: the receiver takes no more events' }],
    [308, { headers: { location: 'http://127.0.0.1:1/elsewhere' } }, { ok: false, retry: false, reason: expect.stringMatching(/^HTTP 308 /) }],
  ])('HTTP %i (%j) answers %j for the first event and stops: the rest are skipped', async (status, answer, first) => {
    const r = await receiver();
    r.respond(status, answer);
    expect(await webhook(r.url).deliver(events(3), never)).toEqual([first, SKIPPED, SKIPPED]);
    expect(r.received).toHaveLength(1);
  });

  it('times out a POST that gets no answer (retryable), and the signal cuts one in flight', async () => {
    const r = await receiver();
    r.respond('hang');
    const timedOut = await webhook(r.url, { timeoutMs: 300 }).deliver(events(2), never);
    expect(timedOut).toEqual([{ ok: false, retry: true, reason: expect.stringContaining('within 300 ms') }, SKIPPED]);
    const stop = new AbortController();
    const cut = webhook(r.url).deliver(events(2), stop.signal);
    await eventually(() => expect(r.received).toHaveLength(2));
    stop.abort();
    expect(await cut).toEqual([{ ok: false, retry: true, reason: 'aborted (shutting down)' }, SKIPPED]);
  });

  it('sends URL credentials as Basic authorization and never names them, the query or the secret in a reason', async () => {
    const secret = 'a-secret-never-to-be-shown';
    const r = await receiver({ secret });
    const url = `${r.url.replace('http://', 'http://ig:pa55word@')}?token=s3cr3t`;
    expect(await webhook(url, { secret }).deliver(events(1), never)).toEqual(ok(1));
    expect(r.received[0]).toMatchObject({ path: '/hook?token=s3cr3t', verified: true });
    expect(r.received[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ig:pa55word').toString('base64')}`);
    const port = await closedPort();
    const [down] = await webhook(`http://ig:pa55word@127.0.0.1:${port}/hook?token=s3cr3t`, { secret }).deliver(events(1), never);
    expect(down).toMatchObject({ ok: false, retry: true, reason: expect.stringContaining(`http://127.0.0.1:${port}/hook failed: connect ECONNREFUSED`) });
    for (const s of ['pa55word', 's3cr3t', secret]) expect(JSON.stringify(down)).not.toContain(s);
  });
});

describe('amqp transport', () => {
  it('declares its exchange when missing and publishes persistent JSON with the event id, type and timestamp', async () => {
    const exchange = `ig_test_events_${suffix()}`;
    later(() => amqpCh.deleteExchange(exchange));
    const t = open(sink({ kind: 'amqp', url: BROKER, exchange }), () => NOW);
    const evs = events(2);
    expect(await t.deliver(evs, never)).toEqual(ok(2));
    // on a channel of its own: checking a missing exchange closes the channel
    const check = await amqp.createChannel();
    check.on('error', () => undefined);
    await check.checkExchange(exchange);
    await check.close();
    const { queue } = await amqpCh.assertQueue('', { exclusive: true });
    later(() => amqpCh.deleteQueue(queue));
    await amqpCh.bindQueue(queue, exchange, '#');
    expect(await t.deliver(evs, never)).toEqual(ok(2));
    const got: GetMessage[] = [];
    await eventually(async () => {
      const m = await amqpCh.get(queue, { noAck: true });
      if (m !== false) got.push(m);
      expect(got).toHaveLength(2);
    });
    got.forEach((m, i) => {
      const e = evs[i] as StoredEvent;
      expect(m.fields.routingKey).toBe(KEYS[i]);
      expect(m.properties).toMatchObject({ deliveryMode: 2, contentType: 'application/json', messageId: e.id, type: e.type, timestamp: NOW / 1000 });
      expect(m.properties.headers).toEqual({ 'event-id': e.id });
      expect(JSON.parse(m.content.toString('utf8'))).toEqual(json(e));
    });
  });

  it('a connection cut mid-batch: its unconfirmed events fail retryable, and the next call connects again', async () => {
    const h = await amqpHarness();
    const t = open(h.config());
    const evs = events(50);
    expect(await t.deliver(evs.slice(0, 1), never)).toEqual(ok(1));
    const cut = t.deliver(evs.slice(1), never);
    h.proxy.cutAll();
    const attempts = await cut;
    expect(attempts).toHaveLength(49);
    expect(attempts.every((a) => !a.ok && 'retry' in a && a.retry)).toBe(true);
    expect(await t.deliver(evs.slice(1), never)).toEqual(ok(49));
    expect(h.proxy.accepted).toBe(2);
    await eventually(async () => expect(new Set((await h.got()).map((g) => g.id))).toEqual(new Set(evs.map((e) => e.id))));
  });
});

describe('nats transport', () => {
  it('creates its stream over <subjectPrefix>.>, and stores an event delivered twice once (Nats-Msg-Id)', async () => {
    const h = await natsHarness();
    const t = open(h.config());
    const [a] = events(1) as [StoredEvent];
    expect(await t.deliver([a], never)).toEqual(ok(1));
    expect(await t.deliver([a], never)).toEqual(ok(1));
    const info = await jsm.streams.info(h.stream);
    expect([info.config.subjects, info.state.messages]).toEqual([[`${h.prefix}.>`], 1]);
    const m = await jsm.streams.getMessage(h.stream, { seq: 1 });
    expect([m.subject, m.header.get('Nats-Msg-Id')]).toEqual([`${h.prefix}.availability.changed.web`, a.id]);
  });

  it('leaves an existing stream as it is, and creates a deleted one again on the next call', async () => {
    const h = await natsHarness();
    await jsm.streams.add({ name: h.stream, subjects: [`${h.prefix}.>`], max_msgs: 100 });
    const t = open(h.config());
    const [a, b] = events(2) as [StoredEvent, StoredEvent];
    expect(await t.deliver([a], never)).toEqual(ok(1));
    expect((await jsm.streams.info(h.stream)).config.max_msgs).toBe(100);
    await jsm.streams.delete(h.stream);
    expect((await t.deliver([b], never))[0]).toMatchObject({ ok: false, retry: true });
    expect(await t.deliver([b], never)).toEqual(ok(1));
    const info = await jsm.streams.info(h.stream);
    expect([info.config.max_msgs, info.state.messages]).toEqual([-1, 1]);
  });
});

describe('trace context (telemetry.tracing)', () => {
  // what the publisher passes per event: its delivery span's traceparent and tracestate
  const traced = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ traceparent: `00-${'a'.repeat(31)}${i}-${'b'.repeat(15)}${i}-01`, tracestate: `ig=${i}` }));

  it('webhook: each POST carries its event’s traceparent and tracestate headers', async () => {
    const r = await receiver();
    const t = open(sink({ kind: 'webhook', url: r.url }));
    const evs = events(2);
    expect(await t.deliver(evs, never, traced(2))).toEqual(ok(2));
    expect(r.received.map((x) => [x.id, x.headers.traceparent, x.headers.tracestate])).toEqual(evs.map((e, i) => [e.id, traced(2)[i]?.traceparent, `ig=${i}`]));
  });

  it('amqp: each message carries them as headers beside event-id', async () => {
    const h = await amqpHarness();
    const t = open(h.config());
    const evs = events(2);
    expect(await t.deliver(evs, never, traced(2))).toEqual(ok(2));
    await gotAtLeast(h, 2);
    expect(h.messages.map((m) => m.properties.headers)).toEqual(evs.map((e, i) => ({ 'event-id': e.id, ...traced(2)[i] })));
  });

  it('nats: each message carries them as NATS headers beside Nats-Msg-Id', async () => {
    const h = await natsHarness();
    const t = open(h.config());
    const evs = events(2);
    expect(await t.deliver(evs, never, traced(2))).toEqual(ok(2));
    for (const [i, e] of evs.entries()) {
      const m = await jsm.streams.getMessage(h.stream, { seq: i + 1 });
      expect([m.header.get('Nats-Msg-Id'), m.header.get('traceparent'), m.header.get('tracestate')]).toEqual([e.id, traced(2)[i]?.traceparent, `ig=${i}`]);
    }
  });

  it('without them (tracing off) no trace header is sent', async () => {
    const r = await receiver();
    const t = open(sink({ kind: 'webhook', url: r.url }));
    expect(await t.deliver(events(1), never)).toEqual(ok(1));
    expect(r.received[0]?.headers).not.toHaveProperty('traceparent');
  });
});
