/**
 * Exactly-once effect of the message feeds in the real gateway over the real demo (SQLite), with
 * the real brokers: the WMS mirrored by an amqp, a nats and a webhook feed at once, the brokers
 * reached through TCP proxies the test controls (the machine's brokers are never restarted: other
 * suites use them).
 *
 * - The same change delivered three times (RabbitMQ: three messages with the same message id;
 *   JetStream: three messages, no Nats-Msg-Id, so the stream does not dedupe them itself; the
 *   webhook: the same request POSTed three times) is applied once: the level moves once, the
 *   feed counts two duplicates.
 * - A broker connection cut mid-stream (every connection reset, then the proxy refusing for a
 *   while, as a broker restart looks from the gateway) loses nothing and applies nothing twice:
 *   after 1,000 deltas of -1/+1 with unique ids, every touched level is its base plus the sum of
 *   its deltas, exactly, and the store holds each id once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Feed } from '../../src/feeds/types.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { eventually } from './feed-helpers.js';
import {
  amqpTarget,
  answeredLevels,
  BROKER_PORT,
  createDemo,
  expectedLevels,
  natsTarget,
  pickTargets,
  postIngest,
  randomDeltas,
  webhookFeed,
  WmsModel,
  type AmqpTarget,
  type Change,
  type Demo,
  type NatsTarget,
  type Target,
} from './message-demo.js';

let demo: Demo;
let app: App;
let url: string;
let base: string;
let amqp: AmqpTarget;
let nats: NatsTarget;
const proxies: Record<'amqp' | 'nats', TcpProxy> = {} as Record<'amqp' | 'nats', TcpProxy>;
let targets: Target[];

beforeAll(async () => {
  demo = await createDemo({ skus: 100, mysql: false });
  [amqp, nats] = await Promise.all([amqpTarget(), natsTarget({ ackWaitMs: 5000 })]);
  proxies.amqp = await startTcpProxy({ targetPort: BROKER_PORT.amqp });
  proxies.nats = await startTcpProxy({ targetPort: BROKER_PORT.nats });
  const file = demo.variant('mirrored', { mode: 'mirror', feeds: [amqp.feed(proxies.amqp.port), nats.feed(proxies.nats.port), webhookFeed()] });
  app = await createApp(loadConfig(file), { logger: createLogger('silent') });
  url = await app.listen(0, '127.0.0.1');
  base = url.replace(/\/graphql$/, '');
  await app.mirrorsLoaded;
  await eventually(() => expect(app.runtime.feeds.every((f) => f.stats().connected)).toBe(true), 30_000);
  targets = await pickTargets(await WmsModel.load(demo, 'once'), url, demo.adminKey, 12);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([proxies.amqp?.close(), proxies.nats?.close()]);
  await Promise.all([amqp?.close(), nats?.close()]);
  await demo?.close();
});

const feed = (kind: string): Feed => app.runtime.feeds.find((f) => f.name === `wms/${kind}`) as Feed;
const level = async (t: Target) => (await answeredLevels(url, demo.adminKey, [t])).values().next().value;

describe('the same change delivered three times', () => {
  for (const kind of ['amqp', 'nats', 'webhook'] as const) {
    it(`is applied once (${kind})`, async () => {
      const t = targets[['amqp', 'nats', 'webhook'].indexOf(kind)] as Target;
      const before = await level(t);
      expect(before).toBe(t.base);
      const change: Change = { id: `thrice-${kind}`, op: 'delta', code: t.code, location: t.wh, onHandDelta: -3, eventTime: new Date().toISOString() };
      const body = JSON.stringify(change);
      const s0 = feed(kind).stats();
      if (kind === 'amqp') await amqp.publish([body, body, body], () => 'same-message-id');
      else if (kind === 'nats') await nats.publish([body, body, body]);
      else {
        const outcomes: unknown[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await postIngest(base, body, { id: 'same-webhook-id' });
          expect(r.status).toBe(202);
          outcomes.push((r.body as { outcomes: unknown }).outcomes);
        }
        expect(outcomes).toEqual([
          { applied: 1, duplicate: 0, ignored: 0, dead: 0 },
          { applied: 0, duplicate: 1, ignored: 0, dead: 0 },
          { applied: 0, duplicate: 1, ignored: 0, dead: 0 },
        ]);
      }
      await eventually(() => expect(feed(kind).stats().duplicates - s0.duplicates).toBe(2), 30_000);
      expect(feed(kind).stats().applied - s0.applied).toBe(1);
      expect(await level(t)).toBe(t.base - 3);
      t.base -= 3;
    });
  }
});

describe('a broker connection cut mid-stream', () => {
  for (const kind of ['amqp', 'nats'] as const) {
    it(`loses nothing and applies nothing twice (${kind})`, async () => {
      const N = 1000;
      const changes = randomDeltas(targets, N, `cut-${kind}`, kind === 'amqp' ? 11 : 12);
      const expected = expectedLevels(targets, changes);
      const bodies = changes.map((c) => JSON.stringify(c));
      const publish = (from: number, to: number) =>
        kind === 'amqp' ? amqp.publish(bodies.slice(from, to), (i) => changes[from + i]?.id) : nats.publish(bodies.slice(from, to));
      const s0 = feed(kind).stats();
      const applied = () => feed(kind).stats().applied - s0.applied;
      const proxy = proxies[kind];

      // 700 are published; once some of them are applied (the rest on their way, a batch with
      // the sink, acks in flight), every connection is reset and the proxy refuses (the broker
      // "restarts") while the rest are published
      await publish(0, 700);
      await eventually(() => expect(applied()).toBeGreaterThan(100), 30_000);
      await proxy.stop();
      await eventually(() => expect(feed(kind).stats().connected).toBe(false), 30_000);
      await publish(700, N);
      expect(applied()).toBeLessThan(N);
      await proxy.start();

      await eventually(() => expect(applied()).toBe(N), 60_000);
      // drained: nothing left with the broker, and nothing more is applied
      await eventually(async () => {
        if (kind === 'amqp') expect((await amqp.inspect()).messageCount).toBe(0);
        else expect(await nats.pending()).toEqual({ pending: 0, ackPending: 0 });
      }, 30_000);
      expect(applied()).toBe(N);
      expect(feed(kind).stats()).toMatchObject({ connected: true, deadLetters: s0.deadLetters });
      expect(Object.fromEntries(await answeredLevels(url, demo.adminKey, targets))).toEqual(Object.fromEntries(expected));
      const rows: { n: number | string }[] = await app.store.db('feed_changes').where('message_id', 'like', `cut-${kind}-%`).count({ n: '*' });
      expect(Number(rows[0]?.n)).toBe(N);
      for (const t of targets) t.base = expected.get(`${t.sku} ${t.location}`) as number;
    }, 120_000);
  }
});
