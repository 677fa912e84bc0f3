/**
 * A WMS mirrored through a message feed alone (no poll: the mirror learns only from messages)
 * answers byte-identically to the same WMS read live, for all 1,000 SKUs of the demo, after
 * 3,000 random changes, for each message feed: RabbitMQ (amqp), NATS JetStream (nats, over a
 * MariaDB WMS) and the signed webhook. Each change is made twice, as a WMS with an outbox makes
 * it: the UPDATE (or INSERT) of `bin_stock`, and the message (a `set` of the new sum of the
 * (code, warehouse) at the new updated_at, or a `delta` of the bin's change when the level was
 * last stated before it; test/feeds/message-demo.ts). The mirrored gateway sends the WMS no
 * stock statement. Real brokers, real databases, two gateways over the same source databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { Feed } from '../../src/feeds/types.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import { eventually } from './feed-helpers.js';
import {
  amqpTarget,
  createDemo,
  expectParity,
  natsTarget,
  postIngest,
  webhookFeed,
  WmsModel,
  type AmqpTarget,
  type Change,
  type Demo,
  type NatsTarget,
} from './message-demo.js';

const SKUS = 1000;

const cases = [
  { kind: 'amqp', mysql: false },
  { kind: 'nats', mysql: true },
  { kind: 'webhook', mysql: false },
] as const;

for (const c of cases) {
  describe(`a WMS mirrored by its ${c.kind} feed alone (${c.mysql ? 'MariaDB' : 'SQLite'})`, () => {
    let demo: Demo;
    let live: App;
    let mirrored: App;
    let liveUrl: string;
    let mirroredUrl: string;
    let model: WmsModel;
    let amqp: AmqpTarget | undefined;
    let nats: NatsTarget | undefined;
    let sent = 0;

    beforeAll(async () => {
      demo = await createDemo({ skus: SKUS, mysql: c.mysql });
      if (c.kind === 'amqp') amqp = await amqpTarget();
      if (c.kind === 'nats') nats = await natsTarget();
      const feed = amqp?.feed() ?? nats?.feed() ?? webhookFeed();
      const logger = createLogger('silent');
      live = await createApp(loadConfig(demo.file), { logger });
      mirrored = await createApp(loadConfig(demo.variant('mirrored', { mode: 'mirror', feeds: [feed] })), { logger });
      [liveUrl, mirroredUrl] = await Promise.all([live.listen(0, '127.0.0.1'), mirrored.listen(0, '127.0.0.1')]);
      await mirrored.mirrorsLoaded;
      model = await WmsModel.load(demo, `parity-${c.kind}`);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([live?.close(), mirrored?.close()]);
      await amqp?.close();
      await nats?.close();
      await demo?.close();
    });

    const feed = (): Feed => mirrored.runtime.feeds.find((f) => f.name === `wms/${c.kind}`) as Feed;

    /** Publishes `changes` through the feed under test, in order. */
    async function publish(changes: readonly Change[]): Promise<void> {
      const bodies = changes.map((x) => JSON.stringify(x));
      if (amqp !== undefined) return amqp.publish(bodies, (i) => changes[i]?.id);
      if (nats !== undefined) return nats.publish(bodies);
      // the webhook: arrays of 100, one request after the other (a sender keeps its order)
      const base = mirroredUrl.replace(/\/graphql$/, '');
      for (let i = 0; i < changes.length; i += 100) {
        const r = await postIngest(base, JSON.stringify(changes.slice(i, i + 100)));
        expect(r.status).toBe(202);
      }
    }

    /** Until the feed has taken every change sent (each applied: none a duplicate, none dead). */
    async function untilApplied(): Promise<void> {
      await eventually(() => {
        const s = feed().stats();
        expect(s.applied + s.duplicates + s.deadLetters).toBeGreaterThanOrEqual(sent);
      }, 60_000);
      expect(feed().stats()).toMatchObject({ applied: sent, duplicates: 0, deadLetters: 0, lastError: null });
    }

    it('answers exactly as the live WMS once loaded, with no WMS statement', async () => {
      expect(mirrored.runtime.mirrors.get('wms')?.mirror.stats().state).toBe('current');
      expect(feed().stats().connected).toBe(true);
      await expectParity(liveUrl, mirroredUrl, demo.adminKey, demo.skus);
    });

    it('stays identical after 3,000 random changes made in the WMS and published through the feed', async () => {
      for (const [round, n] of [
        [1, 2000],
        [2, 1000],
      ] as const) {
        const changes = await model.randomChanges(n, round, { codes: SKUS });
        // both kinds of message, many sharing a timestamp
        expect(changes.some((x) => x.op === 'delta')).toBe(true);
        expect(changes.some((x) => x.op === 'set')).toBe(true);
        await publish(changes);
        sent += changes.length;
        await untilApplied();
        await expectParity(liveUrl, mirroredUrl, demo.adminKey, demo.skus);
      }
      expect(mirrored.runtime.mirrors.get('wms')?.mirror.stats()).toMatchObject({ state: 'current', loadError: null });
      // every change is kept in the mirrored gateway's store, once
      const rows: { n: number | string }[] = await mirrored.store.db('feed_changes').where({ source: 'wms' }).count({ n: '*' });
      expect(Number(rows[0]?.n)).toBe(sent);
    }, 120_000);
  });
}
