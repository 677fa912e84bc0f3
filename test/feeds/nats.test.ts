/**
 * The NATS JetStream feed against the real server (127.0.0.1:4222), through a TCP proxy the test
 * can cut or stop where a connection fault is the point. Each test has its own stream, subject
 * and durable, deleted afterwards. Nothing waits a fixed time for a result: conditions are
 * polled (`eventually`).
 */
import { AckPolicy, connect, nanos, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACK_WAIT_MS, createNatsFeed, subjectCovers, type NatsFeedConfig, type NatsFeedOptions } from '../../src/feeds/nats.js';
import type { Feed } from '../../src/feeds/types.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { RecordingSink, eventually, feedContext, missing, recordingLogger, sleep, suffix } from './feed-helpers.js';

let nc: NatsConnection;
let jsm: JetStreamManager;
let js: JetStreamClient;
const streams: string[] = [];
const feeds: Feed[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  nc = await connect({ servers: '127.0.0.1:4222' });
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();
});

afterEach(async () => {
  await Promise.all(feeds.splice(0).map((f) => f.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  for (const s of streams.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
});

afterAll(async () => {
  await nc.close();
});

interface Names {
  stream: string;
  subject: string;
  durable: string;
}

function names(): Names {
  const id = suffix();
  const n = { stream: `ig_test_feed_${id}`, subject: `ig.test.${id}.stock`, durable: `ig_test_durable_${id}` };
  streams.push(n.stream);
  return n;
}

function config(n: Names, o: { port?: number; batch?: number } = {}): NatsFeedConfig {
  return { kind: 'nats', servers: [`nats://127.0.0.1:${o.port ?? 4222}`], stream: n.stream, subject: n.subject, durable: n.durable, batch: o.batch ?? 500 };
}

function feedFor(cfg: NatsFeedConfig, sink: RecordingSink, options: NatsFeedOptions = {}) {
  const { logger, lines } = recordingLogger();
  const feed = createNatsFeed(cfg, feedContext(sink, logger), { backoff: { initialMs: 100, maxMs: 1000 }, ...options });
  feeds.push(feed);
  return { feed, lines };
}

async function proxy(): Promise<TcpProxy> {
  const p = await startTcpProxy({ targetPort: 4222 });
  proxies.push(p);
  return p;
}

/** Publishes `bodies` on the subject with message ids `id-<body>` (unless `ids` is false); acknowledged by the stream. */
async function publish(n: Names, bodies: readonly string[], ids = true): Promise<void> {
  for (const b of bodies) await js.publish(n.subject, new TextEncoder().encode(b), ids ? { msgID: `id-${b}` } : {});
}

async function consumerState(n: Names) {
  const i = await jsm.consumers.info(n.stream, n.durable);
  return { pending: i.num_pending, ackPending: i.num_ack_pending };
}

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('nats feed', () => {
  it('creates a missing stream over its subject and a durable pull consumer with explicit ack', async () => {
    const n = names();
    const sink = new RecordingSink();
    const { feed, lines } = feedFor(config(n), sink);
    await feed.start();
    expect(feed.name).toBe('tpl/nats');
    expect(feed.stats()).toMatchObject({ name: 'tpl/nats', kind: 'nats', connected: true, lastError: null });
    const s = await jsm.streams.info(n.stream);
    expect(s.config.subjects).toEqual([n.subject]);
    const c = await jsm.consumers.info(n.stream, n.durable);
    expect(c.config).toMatchObject({
      durable_name: n.durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: -1,
      filter_subject: n.subject,
    });
    expect(c.config.deliver_subject).toBeUndefined();
    expect(lines.some((l) => /created its stream/.test(l.msg))).toBe(true);
  });

  it('hands messages over in batches with their ids, and acks them once receive resolves', async () => {
    const n = names();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n), sink);
    await feed.start();
    // what arrives while a batch is with the sink waits, and goes as one batch
    const bodies = range('m', 50);
    sink.hold();
    await publish(n, bodies.slice(0, 1));
    await eventually(() => expect(sink.pending()).toHaveLength(1));
    await publish(n, bodies.slice(1));
    await publish(n, ['no-id'], false);
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 51 })); // all sent to the feed, none acked
    sink.release();
    await eventually(() => expect(sink.applied()).toEqual([...bodies, 'no-id']));
    expect(sink.calls.length).toBeLessThan(51); // batched
    expect(sink.calls.every((c) => c.feed === 'tpl/nats')).toBe(true);
    const all = sink.calls.flatMap((c) => c.deliveries);
    expect(all[0]).toEqual({ body: 'm0', transportId: 'id-m0' });
    expect(all[50]).toEqual({ body: 'no-id', transportId: `${n.stream}:51` });
    await eventually(() => expect(feed.stats().applied).toBe(51));
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 0 }));
  });

  it('uses an existing stream whose subjects take the feed subject, as it is', async () => {
    const n = names();
    const wide = n.subject.replace(/\.stock$/, '.>');
    await jsm.streams.add({ name: n.stream, subjects: [wide], max_msgs: 10_000 });
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n), sink);
    await feed.start();
    expect(feed.stats()).toMatchObject({ connected: true, lastError: null });
    expect((await jsm.streams.info(n.stream)).config).toMatchObject({ subjects: [wide], max_msgs: 10_000 });
    await js.publish(n.subject.replace(/\.stock$/, '.other'), new TextEncoder().encode('other'));
    await publish(n, ['mine']);
    await eventually(() => expect(sink.applied()).toEqual(['mine']));
  });

  it('does not alter a stream that exists over other subjects: an error, logged once, in lastError, until it is fixed', async () => {
    const n = names();
    const elsewhere = `ig.elsewhere.${suffix()}`;
    await jsm.streams.add({ name: n.stream, subjects: [elsewhere] });
    const sink = new RecordingSink();
    const { feed, lines } = feedFor(config(n), sink, { backoff: { initialMs: 100, maxMs: 300 } });
    await feed.start();
    expect(feed.stats()).toMatchObject({ connected: false, lastError: expect.stringMatching(/exists over .* which does not take/) });
    await sleep(1500); // several retries
    expect((await jsm.streams.info(n.stream)).config.subjects).toEqual([elsewhere]);
    await expect(jsm.consumers.info(n.stream, n.durable)).rejects.toThrow(/consumer not found/);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);

    // the operator adds the subject: the feed starts consuming
    const info = await jsm.streams.info(n.stream);
    await jsm.streams.update(n.stream, { ...info.config, subjects: [elsewhere, n.subject] });
    await eventually(() => expect(feed.stats()).toMatchObject({ connected: true, lastError: null }));
    await publish(n, ['fixed']);
    await eventually(() => expect(sink.applied()).toEqual(['fixed']));
  });

  it('never acks before receive resolves: a feed closed while its sink works leaves the messages to the next one', async () => {
    const n = names();
    const sink = new RecordingSink();
    // unacked messages come back after the consumer's ack wait: short here
    const { feed } = feedFor(config(n), sink, { closeTimeoutMs: 500, ackWaitMs: 3000 });
    await feed.start();
    sink.hold();
    const bodies = range('k', 5);
    await publish(n, bodies);
    await eventually(() => expect(sink.pending()).toHaveLength(1));
    // delivered, none acked
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 5 }));
    await feed.close(); // the sink never answered in time

    const next = new RecordingSink();
    const { feed: again } = feedFor(config(n), next);
    await again.start();
    await eventually(() => expect(missing(next.applied(), bodies)).toEqual([]));
    sink.release(); // the first sink finishing late changes nothing
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 0 }));
  });

  it('a connection cut while the sink works loses nothing: acked over the reconnected connection', async () => {
    const n = names();
    const p = await proxy();
    const sink = new RecordingSink();
    // what the cut catches on its way to the client is redelivered after the ack wait: short here
    const { feed } = feedFor(config(n, { port: p.port }), sink, { ackWaitMs: 3000 });
    await feed.start();
    sink.hold();
    const bodies = range('c', 5);
    await publish(n, bodies);
    await eventually(() => expect(sink.pending()).toHaveLength(1));
    p.cutAll();
    await eventually(() => expect(p.accepted).toBeGreaterThan(1)); // the client reconnected
    sink.release();
    await eventually(() => expect(missing(sink.applied(), bodies)).toEqual([]));
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 0 }));
    await eventually(() => expect(feed.stats()).toMatchObject({ connected: true, lastError: null }));
  });

  it('naks a batch when receive rejects: redelivered later, not lost, lastError meanwhile', async () => {
    const n = names();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n), sink, { nakDelayMs: 200, retryPauseMs: 200 });
    await feed.start();
    sink.failing = true;
    await publish(n, ['r0', 'r1', 'r2']);
    await eventually(() => expect(sink.calls.filter((c) => c.state === 'rejected').length).toBeGreaterThanOrEqual(2));
    expect(feed.stats().lastError).toMatch(/sink could not take/);
    expect(feed.stats().applied).toBe(0);
    sink.failing = false;
    await eventually(() => expect(missing(sink.applied(), ['r0', 'r1', 'r2'])).toEqual([]));
    await eventually(() => expect(feed.stats()).toMatchObject({ applied: 3, lastError: null }));
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 0 }));
  });

  it('survives the server going away: not connected, lastError, heardAt frozen; back, it gets what was published meanwhile', async () => {
    const n = names();
    const p = await proxy();
    const sink = new RecordingSink();
    const { feed, lines } = feedFor(config(n, { port: p.port }), sink);
    await feed.start();
    await publish(n, ['b0', 'b1']);
    await eventually(() => expect(sink.applied()).toEqual(['b0', 'b1']));
    await eventually(() => expect(feed.stats().heardAt).not.toBeNull());

    await p.stop();
    await eventually(() => expect(feed.stats()).toMatchObject({ connected: false, lastError: expect.stringMatching(/disconnected/) }));
    const frozen = feed.stats().heardAt;
    await publish(n, ['b2', 'b3', 'b4']); // directly, not through the proxy
    await sleep(2500); // several check periods pass
    expect(feed.stats().heardAt).toEqual(frozen);
    expect(feed.stats().connected).toBe(false);
    expect(lines.filter((l) => l.level === 'warn' && /disconnected/.test(l.msg))).toHaveLength(1);

    await p.start();
    await eventually(() => expect(sink.applied()).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']));
    await eventually(() => expect(feed.stats()).toMatchObject({ connected: true, lastError: null }));
    await eventually(() => expect(feed.stats().heardAt!.getTime()).toBeGreaterThan(frozen!.getTime()));
  });

  it('start() does not reject when the server is down, and consumes once it is up', async () => {
    const n = names();
    const p = await proxy();
    await p.stop();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n, { port: p.port }), sink);
    await feed.start();
    expect(feed.stats()).toMatchObject({ connected: false, heardAt: null, lastError: expect.stringMatching(/cannot connect/) });
    await p.start();
    await eventually(() => expect(feed.stats()).toMatchObject({ connected: true, lastError: null }));
    await publish(n, ['late']);
    await eventually(() => expect(sink.applied()).toEqual(['late']));
  });

  it('heardAt advances while caught up, and not while a delivered message is unacknowledged', async () => {
    const n = names();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n), sink);
    await feed.start();
    const h1 = await eventually(() => {
      const h = feed.stats().heardAt;
      expect(h).not.toBeNull();
      return h!;
    });
    await eventually(() => expect(feed.stats().heardAt!.getTime()).toBeGreaterThan(h1.getTime()));

    sink.hold();
    const before = new Date();
    await publish(n, ['held']);
    await eventually(() => expect(sink.pending()).toHaveLength(1));
    await sleep(2500); // nothing pending in the stream (the message is with the feed), but it is not applied
    expect(feed.stats().heardAt!.getTime()).toBeLessThanOrEqual(before.getTime());
    sink.release();
    await eventually(() => expect(feed.stats().heardAt!.getTime()).toBeGreaterThan(before.getTime()));
  });

  it('close waits for the batch in flight, closes its connection, and a second close is the same', async () => {
    const n = names();
    const p = await proxy();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n, { port: p.port }), sink);
    await feed.start();
    sink.hold();
    await publish(n, ['c0']);
    await eventually(() => expect(sink.pending()).toHaveLength(1));
    let done = false;
    const closing = feed.close().then(() => (done = true));
    await sleep(300);
    expect(done).toBe(false);
    sink.release();
    await closing;
    expect(feed.close()).toBe(feed.close());
    expect(feed.stats().connected).toBe(false);
    await eventually(async () => expect(await consumerState(n)).toEqual({ pending: 0, ackPending: 0 })); // acked
    await eventually(() => expect(p.connections).toBe(0));
    const accepted = p.accepted;
    await sleep(1500);
    expect(p.accepted).toBe(accepted); // no reconnect after close
  });

  it('close while the server is down stops the retries', async () => {
    const n = names();
    const p = await proxy();
    await p.stop();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n, { port: p.port }), sink, { backoff: { initialMs: 50, maxMs: 100 } });
    await feed.start();
    await feed.close();
    await p.start();
    await sleep(1000);
    expect(p.accepted).toBe(0);
  });

  it('a deleted consumer is created again and consumption resumes', async () => {
    const n = names();
    const sink = new RecordingSink();
    const { feed } = feedFor(config(n), sink, { retryPauseMs: 200 });
    await feed.start();
    await publish(n, ['before']);
    await eventually(() => expect(sink.applied()).toEqual(['before']));
    await jsm.consumers.delete(n.stream, n.durable);
    await eventually(async () => expect((await jsm.consumers.info(n.stream, n.durable)).name).toBe(n.durable));
    await publish(n, ['after']);
    await eventually(() => expect(sink.applied()).toContain('after'));
  });
});

describe('subjectCovers', () => {
  it('matches tokens, * and >', () => {
    expect(subjectCovers('a.b', 'a.b')).toBe(true);
    expect(subjectCovers('a.*', 'a.b')).toBe(true);
    expect(subjectCovers('a.*', 'a.*')).toBe(true);
    expect(subjectCovers('a.>', 'a.b.c')).toBe(true);
    expect(subjectCovers('a.>', 'a.>')).toBe(true);
    expect(subjectCovers('>', 'a')).toBe(true);
    expect(subjectCovers('a.b', 'a.*')).toBe(false);
    expect(subjectCovers('a.*', 'a.b.c')).toBe(false);
    expect(subjectCovers('a.*', 'a.>')).toBe(false);
    expect(subjectCovers('a.>', 'a')).toBe(false);
    expect(subjectCovers('a.b.c', 'a.b')).toBe(false);
  });
});
