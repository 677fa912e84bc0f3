/**
 * Several instances as one (docs/scaling.md): two gateways on two ports in this process, sharing
 * one MariaDB store and one Redis (real, 127.0.0.1:6379, reached through a TCP proxy the test can
 * stop), over real HTTP:
 *
 * - the rate budget per key is shared: a key that spends it half on A, half on B is refused on
 *   both, after as many operations as one instance alone would allow; the refusal is the one a
 *   single instance gives (RATE_LIMITED, HTTP 429, Retry-After);
 * - Redis down: every request is still answered, each instance limits by itself (twice as many
 *   operations go through in all), and /status.json and /status say so;
 * - a breaker that opens on B (its `shop` database is unreachable from B alone) is open on A too;
 * - events: N reservation events are delivered exactly once with both instances running (one
 *   publisher, the lease holder); the holder closed, the other takes the lease and delivers what
 *   was written meanwhile, each once;
 * - the sweep runs on the lease holder only;
 * - the same anomaly written by both instances at once is one row and one `anomaly.opened` event;
 * - the last units reserved through both at once are never oversold (the full race with 200
 *   checkouts is test/reservations/concurrency.test.ts);
 * - closing both leaves no Redis connection of theirs behind (CLIENT LIST).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/server/app.js';
import type { NewAnomaly } from '../../src/store/anomaly-store.js';
import { startReceiver, type Receiver } from '../events/receiver.js';
import { eventually } from '../feeds/feed-helpers.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { AVAILABILITY, createReserveDemo, gql, reserve, unitsOf, type InProcessGateway, type ReserveDemo } from '../reservations/helpers.js';

const PREFIX = `ig-test-${randomBytes(4).toString('hex')}:`;
/** The budget of the storefront and analyst keys, in cost points a minute. */
const POINTS = 400;

let demo: ReserveDemo;
let proxy: TcpProxy;
let receiver: Receiver;
let redis: Redis;
let a: InProcessGateway;
let b: InProcessGateway;
let bClosed = false;
let aClosed = false;

async function start(instanceId: string, edit?: (c: Config) => void): Promise<InProcessGateway> {
  const config = loadConfig(demo.file);
  config.cluster.instanceId = instanceId;
  edit?.(config);
  const app = await createApp(config, { logger: createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'silent') });
  const url = await app.listen(0, '127.0.0.1');
  return { app, url, close: () => app.close({ graceMs: 2_000 }) };
}

/** This deployment's Redis connections (named `<prefix><instance>` by the gateways). */
async function ourConnections(): Promise<string[]> {
  const list = (await redis.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .map((l) => /(?:^| )name=(\S*)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(PREFIX))
    .sort();
}

async function statusJson(g: InProcessGateway): Promise<{
  cluster: { instanceId: string; redis: string; limits: string; unreachableSince: string | null; leases: Array<{ name: string; holder: string | null }> };
}> {
  const r = await fetch(new URL('/status.json', g.url), { headers: { authorization: `Bearer ${demo.keys.admin}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as never;
}

async function statusHtml(g: InProcessGateway): Promise<string> {
  const r = await fetch(new URL('/status', g.url), { headers: { authorization: `Bearer ${demo.keys.admin}` } });
  return r.text();
}

beforeAll(async () => {
  redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
  await redis.connect();
  proxy = await startTcpProxy({ targetPort: 6379 });
  receiver = await startReceiver();
  demo = await createReserveDemo({
    tag: 'cluster',
    yaml: (doc) => {
      doc.set('cluster', { redis: `redis://127.0.0.1:${proxy.port}`, keyPrefix: PREFIX, leaseSeconds: 2 });
      doc.set('limits', { storefront: { pointsPerMinute: POINTS }, analyst: { pointsPerMinute: POINTS }, admin: { pointsPerMinute: 0 } });
      doc.set('events', {
        pollIntervalMs: 50,
        sourceCheckSeconds: 3600,
        sinks: {
          hook: { kind: 'webhook', url: receiver.url, filter: { types: ['reservation.*', 'anomaly.*'] }, maxAttempts: 1000, baseDelayMs: 50, maxDelayMs: 200 },
        },
      });
      doc.set('sweep', { intervalSeconds: 1, startAfterSeconds: 0 });
      // one failure opens a breaker, for a minute (the trip B shares)
      doc.setIn(['sources', 'shop', 'breaker'], { failureThreshold: 1, resetAfterMs: 60_000 });
      doc.setIn(['sources', 'shop', 'healthCheck'], { intervalSeconds: 3600 });
    },
  });
  expect(await ourConnections()).toEqual([]);
  // A first: it takes every lease (its first try is before its jobs start)
  a = await start('instance-a');
  // B cannot reach the shop database (a path that does not exist from B): its breaker opens
  b = await start('instance-b', (c) => {
    const shop = c.sources.shop as { connection: string };
    shop.connection = '/nonexistent/cluster-test/shop.sqlite';
  });
  expect(new URL(a.url).port).not.toBe(new URL(b.url).port);
}, 60_000);

afterAll(async () => {
  if (!aClosed) await a?.close();
  if (!bClosed) await b?.close();
  await receiver?.close();
  await proxy?.close();
  await demo?.cleanup();
  await redis?.quit();
});

it('both instances see each other through the store and Redis: one holder per lease, Redis connected, limits shared', async () => {
  const [sa, sb] = await Promise.all([statusJson(a), statusJson(b)]);
  expect(sa.cluster).toMatchObject({ instanceId: 'instance-a', redis: 'connected', limits: 'shared', unreachableSince: null });
  expect(sb.cluster).toMatchObject({ instanceId: 'instance-b', redis: 'connected', limits: 'shared' });
  for (const s of [sa, sb]) {
    expect(s.cluster.leases.map((l) => [l.name, l.holder]).sort()).toEqual([
      ['events-publisher', 'instance-a'],
      ['sku-matcher', 'instance-a'],
      ['sweep', 'instance-a'],
    ]);
  }
  expect(await statusHtml(b)).toContain('events publisher: held by instance-a');
  // two connections each (commands, and breaker trips' pub/sub)
  expect(await ourConnections()).toEqual([`${PREFIX}instance-a`, `${PREFIX}instance-a:sub`, `${PREFIX}instance-b`, `${PREFIX}instance-b:sub`]);
});

/** Sends the same availability query with `key`, alternately to A and B, until one is refused; answers the successes and the refusal. */
async function spendAlternately(key: string, sku: string) {
  let ok = 0;
  for (let i = 0; i < 500; i++) {
    const g = i % 2 === 0 ? a : b;
    const r = await fetch(g.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: AVAILABILITY, variables: { skus: [sku] } }),
    });
    const body = (await r.json()) as { errors?: Array<{ message: string; extensions: { code: string } }> };
    if (body.errors === undefined) {
      expect(r.status).toBe(200);
      ok++;
      continue;
    }
    return { ok, status: r.status, retryAfter: r.headers.get('retry-after'), error: body.errors[0], refusedOn: g };
  }
  throw new Error('never refused');
}

async function refusedOnBoth(key: string, sku: string): Promise<void> {
  for (const g of [a, b]) {
    const r = await gql<unknown>(g.url, key, AVAILABILITY, { skus: [sku] });
    expect(r.status).toBe(429);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  }
}

let sharedOk = 0;

it('the rate budget of a key is shared: spent half on A, half on B, the next request on either is refused, as one instance refuses it', async () => {
  const sku = demo.spareSkus[10] as string;
  const r = await spendAlternately(demo.keys.storefront, sku);
  sharedOk = r.ok;
  // both instances spent some of it
  expect(r.ok).toBeGreaterThanOrEqual(2);
  expect(r.status).toBe(429);
  expect(r.error?.extensions.code).toBe('RATE_LIMITED');
  expect(r.error?.message).toMatch(/^Rate budget spent: this operation costs \d+ points? and \d+ are left; retry in \d+ s\.$/);
  expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  const cost = Number(/costs (\d+) point/.exec(r.error?.message ?? '')?.[1]);
  // as many operations went through as the budget pays for, in all: not per instance
  expect(r.ok).toBe(Math.floor(POINTS / cost));
  // known spent: refused on both (before any walk, as a single instance does)
  await refusedOnBoth(demo.keys.storefront, sku);
  const refusal = await gql<unknown>(b.url, demo.keys.storefront, AVAILABILITY, { skus: [sku] });
  // the refused ones spent nothing
  expect(refusal.body.errors?.[0]?.message).toMatch(
    new RegExp(`^Rate budget spent: this operation costs ${cost} points and ${POINTS - r.ok * cost} are left; retry in \\d+ s\\.$`),
  );
});

it('a breaker opened on B is open on A as well, without A reading the source', async () => {
  const shopOf = async (g: InProcessGateway) => g.app.health.list().find((h) => h.name === 'shop');
  // B's reads of shop fail: one failure opens its breaker (a name is read from shop)
  await gql(b.url, demo.keys.admin, 'query ($s: ID!) { inventoryItem(sku: $s) { sku name } }', { s: demo.spareSkus[11] });
  await eventually(async () => expect((await shopOf(b))?.breaker).toBe('OPEN'));
  await eventually(async () => expect((await shopOf(a))?.breaker).toBe('OPEN'));
  const statsA = await shopOf(a);
  // A never failed a read of its own
  expect(statsA?.lastError ?? null).toBeNull();
});

it('Redis down: requests are still answered, each instance limits by itself, and /status says so', async () => {
  await proxy.stop();
  await eventually(async () => {
    const [sa, sb] = await Promise.all([statusJson(a), statusJson(b)]);
    expect(sa.cluster).toMatchObject({ redis: 'unreachable', limits: 'per instance' });
    expect(sb.cluster).toMatchObject({ redis: 'unreachable', limits: 'per instance' });
    expect(sa.cluster.unreachableSince).not.toBeNull();
  });
  expect(await statusHtml(a)).toMatch(/cluster: <span class="bad">redis unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z, limits per instance<\/span>/);
  const r = await spendAlternately(demo.keys.analyst, demo.spareSkus[12] as string);
  // each instance had the whole budget: twice as many operations went through
  expect(r.ok).toBe(2 * sharedOk);
  expect(r.status).toBe(429);
  expect(r.error?.extensions.code).toBe('RATE_LIMITED');
  // no request failed otherwise (an admin key has no budget)
  for (const g of [a, b]) {
    const ok = await gql<{ availability: unknown[] }>(g.url, demo.keys.admin, AVAILABILITY, { skus: [demo.spareSkus[12]] });
    expect(ok.status).toBe(200);
    expect(ok.body.errors).toBeUndefined();
  }
  await proxy.start();
  await eventually(async () => {
    for (const g of [a, b]) expect((await statusJson(g)).cluster).toMatchObject({ redis: 'connected', limits: 'shared', unreachableSince: null });
  });
  // the shared budget is back: the storefront key is still spent on both
  await refusedOnBoth(demo.keys.storefront, demo.spareSkus[10] as string);
});

it('the sweep runs on the lease holder only', async () => {
  await eventually(() => expect(a.app.runtime.sweep.status()?.last?.status).toBe('COMPLETED'), 30_000);
  // B's schedule came round too (every second) and left it to A
  expect(b.app.runtime.sweep.status()?.last ?? null).toBeNull();
});

it('the same anomaly written by both instances at once is one row and one anomaly.opened event', async () => {
  const anomaly: NewAnomaly = {
    kind: 'NEGATIVE_ON_HAND',
    sku: 'CLUSTER-1',
    location: 'DC-EAST',
    source: 'wms',
    code: 'CL-1',
    detail: 'written by both instances',
  };
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).app.store.anomalies.record([{ ...anomaly, detail: `${anomaly.detail} (${i})` }])),
  );
  const rows = await demo.store('anomalies').where({ sku: 'CLUSTER-1' }).select('id', 'status');
  expect(rows).toHaveLength(1);
  expect(await demo.store('events').where({ type: 'anomaly.opened', sku: 'CLUSTER-1' }).select('id')).toHaveLength(1);
});

/** Webhook POSTs of reservation events for `skus`, by event id. */
function deliveriesOf(skus: ReadonlySet<string>): Map<string, number> {
  const n = new Map<string, number>();
  for (const r of receiver.received) {
    const body = r.json as { type?: string; data?: { reservation?: { lines?: Array<{ sku: string }> } } } | undefined;
    if (body?.type?.startsWith('reservation.') !== true) continue;
    if (!(body.data?.reservation?.lines ?? []).some((l) => skus.has(l.sku))) continue;
    n.set(r.id ?? '', (n.get(r.id ?? '') ?? 0) + 1);
  }
  return n;
}

it('the last units reserved through both instances at once are never oversold', async () => {
  const sku = demo.spareSkus[13] as string;
  demo.setStock(sku, 5);
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => reserve((i % 2 === 0 ? a : b).url, demo.keys.admin, { idempotencyKey: `race-${i}`, lines: [{ sku, quantity: 1 }] })),
  );
  expect(answers.flatMap((r) => r.body.errors ?? [])).toEqual([]);
  expect(answers.reduce((n, r) => n + unitsOf(r.body.data?.reserve), 0)).toBe(5);
  const [{ n }] = (await demo.store('reservation_lines').where({ sku }).sum({ n: 'quantity' })) as [{ n: number | string }];
  expect(Number(n)).toBe(5);
});

it('events: N produced through both instances are delivered once each; the holder closed, the other takes over and delivers the rest once each', async () => {
  const skus = demo.spareSkus.slice(14, 20);
  for (const s of skus) demo.setStock(s, 100);
  const mine = new Set(skus);
  const N = 24;
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      reserve((i % 2 === 0 ? a : b).url, demo.keys.admin, { idempotencyKey: `ev-${i}`, lines: [{ sku: skus[i % skus.length] as string, quantity: 1 }] }),
    ),
  );
  await eventually(() => expect(deliveriesOf(mine).size).toBe(N));
  // held a little longer: a second publisher would have sent them again by now (poll every 50 ms)
  await new Promise((r) => setTimeout(r, 500));
  expect([...deliveriesOf(mine).values()].filter((c) => c !== 1)).toEqual([]);
  expect(a.app.events?.publisher.stats()[0]?.delivered).toBeGreaterThanOrEqual(N);
  expect(b.app.events?.publisher.stats()[0]?.delivered).toBe(0);

  // the receiver down, M more written through B: they wait in the outbox; then A (the holder) closes
  await receiver.down();
  const M = 10;
  for (let i = 0; i < M; i++)
    await reserve(b.url, demo.keys.admin, { idempotencyKey: `ev-late-${i}`, lines: [{ sku: skus[i % skus.length] as string, quantity: 1 }] });
  await a.close();
  aClosed = true;
  await receiver.up();
  // B took the lease over and delivered the rest, each once
  await eventually(() => expect(deliveriesOf(mine).size).toBe(N + M), 20_000);
  await new Promise((r) => setTimeout(r, 500));
  expect([...deliveriesOf(mine).values()].filter((c) => c !== 1)).toEqual([]);
  expect(b.app.events?.publisher.stats()[0]?.delivered).toBeGreaterThanOrEqual(M);
  const sb = await statusJson(b);
  expect(sb.cluster.leases.find((l) => l.name === 'events-publisher')?.holder).toBe('instance-b');
});

it('closing the instances closes their Redis connections', async () => {
  expect(await ourConnections()).toEqual([`${PREFIX}instance-b`, `${PREFIX}instance-b:sub`]);
  await b.close();
  bClosed = true;
  await eventually(async () => expect(await ourConnections()).toEqual([]));
});
