/**
 * A WMS mirrored by message feeds, in the real gateway over the real demo (SQLite), with the real
 * brokers behind TCP proxies the test controls:
 *
 * - `maxLagSeconds` with a broker feed: while the amqp (then the nats) connection is a black hole
 *   the feed stops hearing from its broker; once the gateway's clock (injected: `createApp(config,
 *   { now })`, which mirrors and feeds share) is past maxLagSeconds since, the WMS figures are
 *   flagged STALE and the mirror is `lagging`; when the connection flows again the feed catches up
 *   (a change published during the cut is applied) and the flag clears.
 * - The webhook through the real app: `POST /ingest/wms` signed the Standard Webhooks way (the
 *   HMAC computed here) is applied and visible in the API; a bad signature is refused with 401 and
 *   nothing is applied.
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
  natsTarget,
  pickTargets,
  postIngest,
  signedHeaders,
  webhookFeed,
  wmsLevels,
  WmsModel,
  type AmqpTarget,
  type Change,
  type Demo,
  type NatsTarget,
  type Target,
} from './message-demo.js';

const MAX_LAG_SECONDS = 60;

let demo: Demo;
let app: App;
let url: string;
let base: string;
let amqp: AmqpTarget;
let nats: NatsTarget;
const proxies: Record<'amqp' | 'nats', TcpProxy> = {} as Record<'amqp' | 'nats', TcpProxy>;
let targets: Target[];
/** The gateway's clock: real time moved on by `skew` ms (the lag is judged by it, not by waiting). */
let skew = 0;
const clock = () => new Date(Date.now() + skew);

beforeAll(async () => {
  demo = await createDemo({ skus: 50, mysql: false });
  [amqp, nats] = await Promise.all([amqpTarget(), natsTarget({ ackWaitMs: 5000 })]);
  proxies.amqp = await startTcpProxy({ targetPort: BROKER_PORT.amqp });
  proxies.nats = await startTcpProxy({ targetPort: BROKER_PORT.nats });
  const file = demo.variant('mirrored', {
    mode: 'mirror',
    maxLagSeconds: MAX_LAG_SECONDS,
    feeds: [amqp.feed(proxies.amqp.port), nats.feed(proxies.nats.port), webhookFeed()],
  });
  app = await createApp(loadConfig(file), { logger: createLogger('silent'), now: clock });
  url = await app.listen(0, '127.0.0.1');
  base = url.replace(/\/graphql$/, '');
  await app.mirrorsLoaded;
  await eventually(() => expect(app.runtime.feeds.every((f) => f.stats().connected)).toBe(true), 30_000);
  targets = await pickTargets(await WmsModel.load(demo, 'lag'), url, demo.adminKey, 3);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([proxies.amqp?.close(), proxies.nats?.close()]);
  await Promise.all([amqp?.close(), nats?.close()]);
  await demo?.close();
});

const feed = (kind: string): Feed => app.runtime.feeds.find((f) => f.name === `wms/${kind}`) as Feed;
const mirrorState = () => app.runtime.mirrors.get('wms')?.mirror.stats().state;
const skus = () => [...new Set(targets.map((t) => t.sku))];

describe('maxLagSeconds with a broker feed', () => {
  for (const kind of ['amqp', 'nats'] as const) {
    it(`flags the WMS STALE while the ${kind} connection is cut past maxLagSeconds, and clears once the feed catches up`, async () => {
      const t = targets[kind === 'amqp' ? 0 : 1] as Target;
      await eventually(async () => {
        expect(mirrorState()).toBe('current');
        expect((await wmsLevels(url, demo.adminKey, skus())).every((l) => !l.stale && !l.flags.includes('STALE'))).toBe(true);
      }, 30_000);

      proxies[kind].blackHole();
      // the feed hears nothing more from its broker: its heardAt stays where it was
      const frozen = feed(kind).stats().heardAt;
      skew += (MAX_LAG_SECONDS + 1) * 1000;
      await eventually(async () => {
        expect(mirrorState()).toBe('lagging');
        const levels = await wmsLevels(url, demo.adminKey, skus());
        expect(levels.length).toBeGreaterThan(0);
        expect(levels.every((l) => l.stale && l.flags.includes('STALE'))).toBe(true);
      }, 30_000);
      expect(feed(kind).stats().heardAt).toEqual(frozen);

      // a change published during the cut arrives once the connection flows again
      const change: Change = { id: `during-cut-${kind}`, op: 'delta', code: t.code, location: t.wh, onHandDelta: 5, eventTime: new Date().toISOString() };
      if (kind === 'amqp') await amqp.publish([JSON.stringify(change)], () => change.id);
      else await nats.publish([JSON.stringify(change)]);
      proxies[kind].pass();
      await eventually(async () => {
        expect(mirrorState()).toBe('current');
        expect((await wmsLevels(url, demo.adminKey, skus())).every((l) => !l.stale && !l.flags.includes('STALE'))).toBe(true);
        expect((await answeredLevels(url, demo.adminKey, [t])).values().next().value).toBe(t.base + 5);
      }, 60_000);
      t.base += 5;
    }, 120_000);
  }
});

describe('POST /ingest/wms through the real app', () => {
  const stamp = () => Math.floor(clock().getTime() / 1000);

  it('applies a signed change, visible in the API', async () => {
    const t = targets[2] as Target;
    const change: Change = { id: 'ingest-1', op: 'set', code: t.code, location: t.wh, onHand: 777, eventTime: new Date().toISOString() };
    const r = await postIngest(base, JSON.stringify(change), { timestamp: stamp() });
    expect(r).toEqual({ status: 202, body: { accepted: 1, outcomes: { applied: 1, duplicate: 0, ignored: 0, dead: 0 } } });
    expect((await answeredLevels(url, demo.adminKey, [t])).values().next().value).toBe(777);
    t.base = 777;
  });

  it('refuses a bad signature with 401 and applies nothing', async () => {
    const t = targets[2] as Target;
    const s0 = feed('webhook').stats();
    const change: Change = { id: 'ingest-forged', op: 'set', code: t.code, location: t.wh, onHand: 1, eventTime: new Date().toISOString() };
    const body = JSON.stringify(change);
    // signed with another key
    const forged = await postIngest(base, body, { timestamp: stamp(), key: Buffer.alloc(32, 7) });
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ error: { code: 'WEBHOOK_SIGNATURE_INVALID' } });
    // signed right, but the body changed on the way
    const res = await fetch(`${base}/ingest/wms`, {
      method: 'POST',
      headers: signedHeaders(body, { timestamp: stamp() }),
      body: body.replace('"onHand":1', '"onHand":2'),
    });
    expect(res.status).toBe(401);
    // unsigned
    const bare = await fetch(`${base}/ingest/wms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(bare.status).toBe(401);

    expect((await answeredLevels(url, demo.adminKey, [t])).values().next().value).toBe(777);
    expect(feed('webhook').stats()).toMatchObject({ applied: s0.applied, duplicates: s0.duplicates, deadLetters: s0.deadLetters });
    const rows: { n: number | string }[] = await app.store.db('feed_changes').where({ message_id: 'ingest-forged' }).count({ n: '*' });
    expect(Number(rows[0]?.n)).toBe(0);
  });
});
