/**
 * Events delivered to a webhook sink (issue #17), end to end: a demo gateway writes events as
 * holds are made (reservation.created, and availability.changed per channel on every change),
 * and its publisher POSTs them to a real receiver (./receiver.ts, which checks the Standard
 * Webhooks signature of each itself). The gateway's clock is the test's: a backoff of minutes
 * passes in seconds, with the default retry policy (15 attempts, 1 s doubling to 5 minutes).
 *
 * - A receiver down for five minutes then up: every event written is delivered, none is lost
 *   or invented, each ordering key's (a SKU's, a reservation's) events arrive in the order they
 *   were written, a duplicate is only the same id with the same body, every signature verifies,
 *   the events that waited spent fewer attempts than the sink allows, and nothing is a dead
 *   letter. On a SQLite store and on a MariaDB one.
 * - A receiver answering 429 with Retry-After: the sink waits as long as it asks (nothing is
 *   sent before), then delivers everything.
 * - A storm of 503s: every event arrives once it ends, in order, none dead-lettered.
 * - A sweep of the catalogue running while holds change: each change is published, and
 *   delivered, once (the sweep and the change's recompute do not both announce it).
 * - A receiver that takes events but answers too late gets them again: the duplicates are the
 *   same ids with the same bodies, and the order per key holds for the first arrivals.
 *
 * Counts and contents only: nothing measures how long anything took; conditions are polled.
 */
import { parseDocument } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.js';
import { eventually, sleep } from '../feeds/feed-helpers.js';
import { createMariaDbDatabase } from '../helpers/databases.js';
import type { DemoApp } from '../helpers/demo-app.js';
import { bodyOf, movingClock, orderBreaks, outbox, reserveOne, startEventsDemo, stockedSkus, webhookSecret } from './helpers.js';
import { startReceiver, type Receiver } from './receiver.js';

const SINK = 'hook';
/** The default retry policy's limit (config: events.sinks.*.maxAttempts). */
const MAX_ATTEMPTS = 15;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => undefined);
});

interface Setup {
  demo: DemoApp;
  receiver: Receiver;
  clock: ReturnType<typeof movingClock>;
  tag: string;
}

/** A receiver, and a demo gateway (its store SQLite or MariaDB) with one webhook sink to it, default policy. */
async function setUp(store: 'sqlite' | 'mariadb' = 'sqlite', sink: Record<string, unknown> = {}): Promise<Setup> {
  const secret = webhookSecret();
  const receiver = await startReceiver({ secret });
  cleanups.push(() => receiver.close());
  let editConfig: ((yaml: string) => string) | undefined;
  if (store === 'mariadb') {
    const db = await createMariaDbDatabase();
    cleanups.push(() => db.cleanup());
    editConfig = (yaml) => {
      const doc = parseDocument(yaml);
      doc.set('store', doc.createNode({ client: 'mysql2', connection: db.connection }));
      return doc.toString();
    };
  }
  const clock = movingClock();
  const demo = await startEventsDemo({
    skus: 60,
    now: clock.now,
    // holds outlive the clock's jumps
    override: { reservations: { defaultTtlSeconds: 7200 } },
    ...(editConfig === undefined ? {} : { editConfig }),
    events: {
      pollIntervalMs: 50,
      // no source.* events in the way: the first check would come after an hour
      sourceCheckSeconds: 3600,
      availability: { everyChange: true, lowStock: { default: 5 } },
      sinks: { [SINK]: { kind: 'webhook', url: receiver.url, secret, ...sink } },
    },
  });
  cleanups.push(() => demo.close());
  return { demo, receiver, clock, tag: Math.random().toString(36).slice(2, 8) };
}

/** `perSku` holds of 1 unit at DC-EAST on each SKU, one after the other per SKU, the SKUs at once; answers the reservation ids. */
async function hold(s: Setup, skus: readonly string[], perSku: number): Promise<string[]> {
  const ids = await Promise.all(
    skus.map(async (sku) => {
      const got: string[] = [];
      for (let i = 0; i < perSku; i++) got.push(await reserveOne(s.demo.gql, `${s.tag}-${sku}-${i}`, sku, 1, 'DC-EAST'));
      return got;
    }),
  );
  await s.demo.app.events?.availability.flush(30_000);
  return ids.flat();
}

const pending = async (d: DemoApp) => (await d.app.store.events.counts()).find((c) => c.sink === SINK)?.pending ?? -1;
const stats = (d: DemoApp) => d.app.events?.publisher.stats().find((p) => p.name === SINK);

/** Moves the clock `stepMs` at every poll until `check` passes (a paused sink sees the time pass). */
const tickUntil = <T>(s: Setup, check: () => T | Promise<T>, stepMs = 5000) =>
  eventually(async () => {
    s.clock.advance(stepMs);
    return check();
  }, 60_000);

/**
 * Everything written reached the receiver, as written, signed; nothing else did; each ordering
 * key's first arrivals in outbox order; a repeat is the same id with the same body; no dead letters.
 */
async function expectAllDelivered(s: Setup): Promise<{ written: StoredEvent[]; duplicates: number }> {
  const { demo, receiver } = s;
  await tickUntil(s, async () => expect(await pending(demo)).toBe(0));
  const written = await outbox(demo.app.store.events);
  const byId = new Map(written.map((e) => [e.id, e]));
  const ok = receiver.received.filter((r) => r.status === 200);
  const ids = ok.map((r) => r.id as string);
  expect(written.filter((e) => !ids.includes(e.id)).map((e) => `#${e.seq} ${e.type}`)).toEqual([]);
  expect(receiver.received.filter((r) => !byId.has(r.id ?? '')).map((r) => r.body)).toEqual([]);
  for (const r of receiver.received) {
    expect(r.verified).toBe(true);
    // the body as written: a retry or a repeat carries the same id and the same JSON
    expect(r.json).toEqual(bodyOf(byId.get(r.id as string) as StoredEvent));
    expect(r.headers['idempotency-key']).toBe(r.id);
  }
  // the order holds for what the receiver took, and for every first arrival (a refused one too)
  expect(orderBreaks(ids, written)).toEqual([]);
  expect(
    orderBreaks(
      receiver.received.map((r) => r.id as string),
      written,
    ),
  ).toEqual([]);
  expect(await demo.app.store.events.deadLetters({ limit: 10 })).toEqual([]);
  return { written, duplicates: ids.length - new Set(ids).size };
}

/** Per SKU and channel, in outbox order: each event's previous figure is the one before's current, falling by the units held. */
function expectFiguresChain(written: readonly StoredEvent[], skus: readonly string[]): void {
  for (const sku of skus) {
    for (const channel of ['web', 'retail']) {
      const list = written.filter((e) => e.type === 'availability.changed' && e.sku === sku && e.channel === channel);
      expect(list.length, `${sku} ${channel}`).toBeGreaterThan(0);
      for (let i = 1; i < list.length; i++) {
        const prev = (list[i - 1] as StoredEvent).data.current as { available: number };
        const e = (list[i] as StoredEvent).data as { previous: { available: number }; current: { available: number } };
        expect(e.previous.available).toBe(prev.available);
        expect(e.current.available).toBeLessThan(prev.available);
      }
    }
  }
}

describe.each(['sqlite', 'mariadb'] as const)('a webhook receiver down for five minutes, then up (a %s store)', (store) => {
  it('gets every event, in order per SKU and per reservation, none lost or invented; a duplicate is the same id and body', async () => {
    const s = await setUp(store);
    const { demo, receiver, clock } = s;
    await receiver.down();
    const skus = await stockedSkus(demo, 10, 25);
    const reservations = await hold(s, skus, 20);
    const before = await outbox(demo.app.store.events);
    expect(before.filter((e) => e.type === 'reservation.created')).toHaveLength(200);
    expect(new Set(reservations).size).toBe(200);

    // five minutes of the gateway's clock, 5 s at a time, the receiver down all along
    for (let t = 0; t < 300_000; t += 5000) {
      clock.advance(5000);
      await sleep(25);
    }
    expect(receiver.received).toHaveLength(0);
    const waiting = await demo.app.store.events.pending(SINK, 10_000);
    const held = before.filter((e) => e.type === 'reservation.created' || e.type === 'availability.changed').map((e) => e.id);
    expect(waiting.map((d) => d.event.id)).toEqual(expect.arrayContaining(held));
    const attempts = waiting.map((d) => d.attempts);
    const tried = attempts.filter((a) => a > 0).length;
    // the sink retried through the outage: only the head of each of its 4 lanes spent attempts, fewer than it may
    expect(Math.max(...attempts)).toBeGreaterThan(3);
    expect(Math.max(...attempts)).toBeLessThan(MAX_ATTEMPTS);
    expect(tried).toBeLessThanOrEqual(4);
    expect(stats(demo)?.failedAttempts).toBeGreaterThan(3);

    await receiver.up();
    const { written, duplicates } = await expectAllDelivered(s);
    expect(written.length).toBeGreaterThanOrEqual(before.length);
    expectFiguresChain(written, skus);
    console.info(
      `${store}: ${written.length} events; the head waited ${Math.max(...attempts)} attempts through the outage; ${receiver.received.length} POSTs, ${duplicates} duplicate(s)`,
    );
  }, 180_000);
});

describe('a webhook receiver asking to slow down or failing for a while', () => {
  it('429 with Retry-After: the sink waits as long as asked, then delivers everything', async () => {
    const s = await setUp();
    const { demo, receiver, clock } = s;
    receiver.respond(429, { retryAfter: '120' });
    const skus = await stockedSkus(demo, 2, 5);
    await hold(s, skus, 2);
    // the round that was refused is over once its pause is set
    const paused = await eventually(() => {
      const st = stats(demo);
      expect(st?.lastError).toBe('HTTP 429');
      expect(st?.pausedUntil).toBeInstanceOf(Date);
      return st?.pausedUntil as Date;
    });
    // the pause is the receiver's two minutes, not the first backoff's second
    expect(paused.getTime() - clock.now().getTime()).toBeGreaterThan(100_000);
    const asked = receiver.received.length;
    expect(asked).toBeGreaterThan(0);
    expect(receiver.received.every((r) => r.status === 429)).toBe(true);

    // a minute later on the gateway's clock, and a dozen polls: still waiting, nothing sent
    clock.advance(60_000);
    await sleep(600);
    expect(receiver.received).toHaveLength(asked);
    expect(await pending(demo)).toBeGreaterThan(0);

    receiver.respond(200);
    clock.advance(61_000);
    const { written } = await expectAllDelivered(s);
    expect(written.filter((e) => e.type === 'reservation.created')).toHaveLength(4);
    // each event refused with 429 came again, and was taken
    for (const r of receiver.received.filter((x) => x.status === 429)) expect(receiver.received.some((x) => x.id === r.id && x.status === 200)).toBe(true);
  }, 120_000);

  it('a storm of 503s: every event arrives once it ends, in order, none dead-lettered', async () => {
    const s = await setUp();
    const { demo, receiver } = s;
    receiver.respond(503);
    const skus = await stockedSkus(demo, 4, 8);
    await hold(s, skus, 6);
    // the sink keeps trying through the storm (the clock moving on), and is refused every time
    await tickUntil(s, () => expect(receiver.received.length).toBeGreaterThanOrEqual(20), 2000);
    expect(receiver.received.every((r) => r.status === 503)).toBe(true);
    expect(await pending(demo)).toBeGreaterThan(0);

    receiver.respond(200);
    const { written } = await expectAllDelivered(s);
    expect(written.filter((e) => e.type === 'reservation.created')).toHaveLength(24);
    expectFiguresChain(written, skus);
    expect(stats(demo)).toMatchObject({ lastError: null, pausedUntil: null });
    expect(stats(demo)?.delivered).toBe(new Set(receiver.received.filter((r) => r.status === 200).map((r) => r.id)).size);
  }, 120_000);

  it('a receiver that answers too late gets the events again: the same ids and bodies, in order', async () => {
    const s = await setUp('sqlite', { timeoutMs: 300 });
    const { demo, receiver } = s;
    receiver.respond('hang');
    const skus = await stockedSkus(demo, 2, 5);
    await hold(s, skus, 3);
    // taken, never answered: each POST times out, and the sink tries again after its backoff
    await tickUntil(s, () => expect(new Set(receiver.received.map((r) => r.id)).size).toBeLessThan(receiver.received.length), 2000);
    // the held POSTs are dropped unanswered (their connections cut), then every POST is answered
    await receiver.down();
    receiver.respond(200);
    await receiver.up();
    await expectAllDelivered(s);
    // the same events arrived more than once (expectAllDelivered: each time with its id's body)
    expect(receiver.received.length).toBeGreaterThan(new Set(receiver.received.map((r) => r.id)).size);
    const unanswered = receiver.received.filter((r) => r.status === null);
    expect(unanswered.length).toBeGreaterThan(0);
    for (const r of unanswered) expect(receiver.received.some((x) => x.id === r.id && x.status === 200)).toBe(true);
  }, 120_000);
});

describe('availability recomputed by a sweep and by changes at once', () => {
  it('a sweep of the catalogue while holds change: each change is delivered once, the figures a chain', async () => {
    const s = await setUp('mariadb');
    const { demo } = s;
    const [sku] = (await stockedSkus(demo, 1, 40)) as [string];
    const availability = demo.app.events?.availability;
    for (let i = 0; i < 30; i++) {
      // a sweep (as events.availability.sweepIntervalSeconds runs one) under way as the hold commits
      const sweep = availability?.sweep();
      await sleep(i % 10);
      await reserveOne(demo.gql, `${s.tag}-sweep-${i}`, sku, 1, 'DC-EAST');
      await sweep;
    }
    await availability?.flush(30_000);
    const { written } = await expectAllDelivered(s);
    expectFiguresChain(written, [sku]);
  }, 120_000);
});
