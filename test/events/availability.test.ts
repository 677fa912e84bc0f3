/**
 * Threshold edges (exactly at LOW_STOCK, flapping around zero) give one event per crossing,
 * through real changes to the demo's systems and a real webhook receiver (./receiver.ts):
 * (a) the WMS's bin_stock rows changed and read by its real poll feed (a mirrored source),
 * (b) holds taken and released, (c) with `everyChange`, one event per change (crossing null when
 * none) and none for a recompute that changed nothing, (d) a WMS outage: a figure it flags
 * SOURCE_UNAVAILABLE is never published (no false OUT_OF_STOCK); its mark stays, and once the
 * WMS is back the leftover scan publishes the true figure.
 *
 * Each SKU's figure is set to come from its WMS bins only: its ERP balances are zeroed, it has no
 * 3PL code. Each step waits until the recompute holds the step's figure (its baseline in the
 * store) and the publisher is idle, so every step is one figure.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { EventBody } from '../../src/domain/events.js';
import type { PollFeed } from '../../src/feeds/poll.js';
import type { App } from '../../src/server/app.js';
import { eventually } from '../feeds/feed-helpers.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { startReceiver, type Receiver } from './receiver.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
/** SKUs with a WMS and an ERP code and none at the 3PL (the demo's SKU-000003..6 are such). */
const [SKU_A, SKU_B, SKU_C, SKU_D] = ['SKU-000003', 'SKU-000004', 'SKU-000006', 'SKU-000010'] as const;
const AVAILABILITY = `query A($skus: [ID!]!, $channel: String) { availability(skus: $skus, channel: $channel) {
  sku available byLocation { location { id } available flags provenance { source } } } }`;

type Data = {
  crossing: string | null;
  lowStockThreshold: number;
  band: string;
  previous: { available: number; band: string } | null;
  current: { available: number; band: string; flags: string[] };
  locations: Array<{ id: string; source: string | null; available: number }>;
  sources: string[];
  cause: string[] | string;
};
const dataOf = (e: EventBody) => e.data as unknown as Data;

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const codesOf = (dir: string) =>
  new Map(
    readFileSync(join(dir, 'sku-map.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .map((c) => [c[0] as string, { erp: c[2] as string, wms: c[3] as string, tpl: c[5] ?? '' }]),
  );

/** `sku` set to `units` in one WMS bin at EAST, 0 in its other bins (a new updated_at on each). */
function setWms(dir: string, sku: string, units: number): void {
  const c = codesOf(dir).get(sku);
  if (c === undefined || c.wms === '' || c.tpl !== '') throw new Error(`${sku} is not a WMS-only SKU`);
  const db = new Database(join(dir, 'wms.sqlite'));
  try {
    const at = now();
    db.prepare('update bin_stock set qty = 0, picked_qty = 0, updated_at = ? where item_code = ?').run(at, c.wms);
    const east = db.prepare("select rowid as id from bin_stock where item_code = ? and wh = 'EAST' order by rowid limit 1").get(c.wms) as
      { id: number } | undefined;
    if (east === undefined) db.prepare("insert into bin_stock values ('E99-99-Z', 'EAST', ?, ?, 0, ?)").run(c.wms, units, at);
    else db.prepare('update bin_stock set qty = ? where rowid = ?').run(units, east.id);
  } finally {
    db.close();
  }
}

/** Before the gateway starts: each SKU at `units` in the WMS and 0 in the ERP. */
function prepareSkus(dir: string, skus: readonly string[], units: number): void {
  const erp = new Database(join(dir, 'erp.sqlite'));
  try {
    for (const sku of skus) erp.prepare('update inv_balance set qty = 0 where item_no = ?').run(codesOf(dir).get(sku)?.erp);
  } finally {
    erp.close();
  }
  for (const sku of skus) setWms(dir, sku, units);
}

interface Setup {
  demo: DemoApp;
  hook: Receiver;
  /** The app serving now (the demo's, or the one started again over its files). */
  app: App;
}

async function startSetup(o: {
  mirrors: boolean;
  availability: Record<string, unknown>;
  skus: string[];
  edit?: (doc: ReturnType<typeof parseDocument>) => void;
}) {
  const hook = await startReceiver({ secret: SECRET });
  const demo = await startDemoApp({
    skus: 60,
    mirrors: o.mirrors,
    events: true,
    editConfig: (yaml) => {
      const doc = parseDocument(yaml);
      doc.set('events', {
        availability: o.availability,
        sinks: { hook: { kind: 'webhook', url: hook.url, secret: SECRET, filter: { types: ['availability.changed'] } } },
        pollIntervalMs: 100,
      });
      o.edit?.(doc);
      return doc.toString();
    },
    prepare: (dir) => prepareSkus(dir, o.skus, 10),
  });
  await demo.app.eventsStarted;
  return { demo, hook, app: demo.app };
}

async function closeSetup(s: Setup | undefined): Promise<void> {
  if (s === undefined) return;
  await s.app.close();
  await s.demo.close();
  await s.hook.close();
}

/** Waits until the recompute published `sku`'s figure `available` for `channel` and the publisher is idle. */
/**
 * Waits until the API answers `available` for `sku` in `channel` and the recompute has handled
 * the change: no mark left in the store (a change's mark is written before its figure shows, and
 * deleted by the recompute that saw it), none waiting in memory; then until the publisher is idle.
 */
async function settled(s: Setup, sku: string, available: number, channel = 'web'): Promise<void> {
  await eventually(async () => {
    await s.app.events?.availability.flush();
    const r = await gqlOn(s, AVAILABILITY, { skus: [sku], channel });
    expect((r.data as { availability: Array<{ available: number }> }).availability[0]?.available).toBe(available);
    expect(await s.app.store.events.triggered(Date.now() + 1, 10)).toEqual([]);
    expect(s.app.events?.availability.stats().queued).toBe(0);
  });
  await s.app.events?.publisher.drain(10_000);
}

/** The availability.changed events of `sku` in the outbox, oldest first. */
async function outbox(s: Setup, sku: string): Promise<EventBody[]> {
  const list = await s.app.store.events.list({ limit: 1000, types: ['availability.changed'], sku });
  return list.reverse().map((e) => ({ id: e.id, type: e.type, occurredAt: e.occurredAt.toISOString(), sku: e.sku, channel: e.channel, data: e.data }));
}

/** What the receiver got for `sku` (once it holds as many as the outbox), each signed. */
async function received(s: Setup, sku: string): Promise<EventBody[]> {
  const expected = (await outbox(s, sku)).length;
  return eventually(() => {
    const got = s.hook.received.filter((r) => (r.json as EventBody | undefined)?.sku === sku);
    expect(got.length).toBe(expected);
    expect(got.every((r) => r.verified === true && r.status === 200)).toBe(true);
    return got.map((r) => r.json as EventBody);
  });
}

/**
 * Checks the events of `channel`: each as `<crossing or NONE> <previous available>→<current>`
 * (so the crossings and the chain of figures), the sources, the cause and the location figures.
 */
function expectWalk(events: EventBody[], channel: string, walk: string[], cause: string[]) {
  const mine = events.filter((e) => e.channel === channel);
  expect(mine.map((e) => `${dataOf(e).crossing ?? 'NONE'} ${dataOf(e).previous?.available ?? 'null'}→${dataOf(e).current.available}`)).toEqual(walk);
  for (const e of mine) {
    const d = dataOf(e);
    expect(e.type).toBe('availability.changed');
    expect(d.sources).toContain('wms');
    expect(d.cause).toEqual(cause);
    expect(d.current.flags).not.toContain('SOURCE_UNAVAILABLE');
    expect(d.locations.find((l) => l.id === 'DC-EAST')).toMatchObject({ source: 'wms', available: d.current.available });
  }
}

const RESERVE = `mutation R($input: ReserveInput!) { reserve(input: $input) { reservation { id } shortfalls { code detail } } }`;
const RELEASE = `mutation L($id: ID!) { releaseReservation(id: $id) { id status } }`;
const EXTEND = `mutation E($id: ID!) { extendReservation(id: $id, ttlSeconds: 1200) { id } }`;

async function hold(s: Setup, sku: string, quantity: number): Promise<string> {
  const r = await gqlOn(s, RESERVE, {
    input: { idempotencyKey: `avail-${randomBytes(8).toString('hex')}`, channel: 'web', lines: [{ sku, quantity, locationId: 'DC-EAST' }] },
  });
  const id = (r.data as { reserve: { reservation: { id: string } | null; shortfalls: unknown[] } }).reserve.reservation?.id;
  if (id === undefined) throw new Error(`nothing held: ${JSON.stringify(r)}`);
  return id;
}

async function gqlOn(s: Setup, query: string, variables: Record<string, unknown>): Promise<{ data?: unknown; errors?: unknown[] }> {
  const url = s.app === s.demo.app ? s.demo.url : `http://127.0.0.1:${(s.app.http.address() as { port: number }).port}/graphql`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': s.demo.keys.admin },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: unknown[] };
  if (body.errors !== undefined && query !== AVAILABILITY) throw new Error(JSON.stringify(body.errors));
  return body;
}

async function webFigure(s: Setup, sku: string) {
  const r = await gqlOn(s, AVAILABILITY, { skus: [sku], channel: 'web' });
  return (
    r.data as {
      availability: Array<{ available: number; byLocation: Array<{ location: { id: string }; flags: string[]; provenance: { source: string | null } }> }>;
    }
  ).availability[0]!;
}

describe('availability.changed from a mirrored WMS and from holds (lowStock 5 on web, 0 on retail)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await startSetup({
      mirrors: true,
      availability: { lowStock: { default: 5, channels: { retail: 0 } } },
      skus: [SKU_A, SKU_B],
      edit: (doc) => {
        // the WMS mirrored by its poll feed, read when the test asks (pollNow); the 3PL read live (no shared queue)
        doc.setIn(
          ['sources', 'wms', 'sync', 'feeds'],
          [{ kind: 'poll', changedSince: 'updated_at', intervalSeconds: 3600, overlapSeconds: 5, fullResyncSeconds: 0 }],
        );
        doc.deleteIn(['sources', 'tpl', 'sync']);
      },
    });
  });
  afterAll(() => closeSetup(s));

  it('(a) bin_stock changes read by the poll feed: one event per crossing, exactly at the threshold is LOW', async () => {
    const poll = s.app.runtime.feeds.find((f) => f.name === 'wms/poll') as PollFeed;
    const first = await webFigure(s, SKU_A);
    // the whole web figure is the WMS's: its EAST bin and nothing elsewhere
    expect(first.available).toBe(10);
    expect(first.byLocation.filter((l) => l.provenance.source === 'wms').map((l) => l.location.id)).toEqual(expect.arrayContaining(['DC-EAST', 'DC-CENTRAL']));
    for (const units of [10, 6, 5, 4, 0, 1, 0, 1, 0]) {
      setWms(s.demo.dir, SKU_A, units);
      await poll.pollNow();
      await settled(s, SKU_A, units);
      await settled(s, SKU_A, units, 'retail');
    }
    const events = await outbox(s, SKU_A);
    // `previous` is the figure last published (10, recorded when first seen; 6 and 4 published nothing)
    expectWalk(
      events,
      'web',
      ['LOW_STOCK 10→5', 'OUT_OF_STOCK 5→0', 'BACK_IN_STOCK 0→1', 'OUT_OF_STOCK 1→0', 'BACK_IN_STOCK 0→1', 'OUT_OF_STOCK 1→0'],
      ['wms'],
    );
    expect(events.filter((e) => e.channel === 'web').map((e) => dataOf(e).lowStockThreshold)).toEqual([5, 5, 5, 5, 5, 5]);
    // retail has no LOW band (lowStock 0): only the zero crossings
    expectWalk(events, 'retail', ['OUT_OF_STOCK 10→0', 'BACK_IN_STOCK 0→1', 'OUT_OF_STOCK 1→0', 'BACK_IN_STOCK 0→1', 'OUT_OF_STOCK 1→0'], ['wms']);
    expect(events).toHaveLength(11);
    // the receiver got exactly these, signed, in order per channel
    const got = await received(s, SKU_A);
    for (const channel of ['web', 'retail']) expect(got.filter((e) => e.channel === channel)).toEqual(events.filter((e) => e.channel === channel));
  });

  it('(b) holds taken and released move the figure across LOW and 0: the same crossings, caused by reservations', async () => {
    await hold(s, SKU_B, 4);
    await settled(s, SKU_B, 6);
    await hold(s, SKU_B, 1);
    await settled(s, SKU_B, 5);
    await hold(s, SKU_B, 1);
    await settled(s, SKU_B, 4);
    for (let i = 0; i < 2; i++) {
      const h = await hold(s, SKU_B, 4);
      await settled(s, SKU_B, 0);
      await gqlOn(s, RELEASE, { id: h });
      await settled(s, SKU_B, 4);
    }
    await hold(s, SKU_B, 4);
    await settled(s, SKU_B, 0);
    const events = await outbox(s, SKU_B);
    expectWalk(
      events,
      'web',
      ['LOW_STOCK 10→5', 'OUT_OF_STOCK 5→0', 'BACK_IN_STOCK 0→4', 'OUT_OF_STOCK 4→0', 'BACK_IN_STOCK 0→4', 'OUT_OF_STOCK 4→0'],
      ['reservations'],
    );
    expectWalk(events, 'retail', ['OUT_OF_STOCK 10→0', 'BACK_IN_STOCK 0→4', 'OUT_OF_STOCK 4→0', 'BACK_IN_STOCK 0→4', 'OUT_OF_STOCK 4→0'], ['reservations']);
    expect(events).toHaveLength(11);
    const got = await received(s, SKU_B);
    for (const channel of ['web', 'retail']) expect(got.filter((e) => e.channel === channel)).toEqual(events.filter((e) => e.channel === channel));
  });
});

describe('availability.changed with everyChange, and through a WMS outage (the WMS read live, web only)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await startSetup({
      mirrors: false,
      // retrySeconds: a put-off mark is taken again after 0.5 s (the periodic leftover scan)
      availability: { lowStock: { default: 5 }, everyChange: true, channels: ['web'], retrySeconds: 0.5 },
      skus: [SKU_C, SKU_D],
      edit: (doc) => doc.setIn(['sources', 'wms', 'breaker'], { failureThreshold: 2, resetAfterMs: 300 }),
    });
  });
  afterAll(() => closeSetup(s));

  it('(c) everyChange: an event per change of the figure, crossing null when none, none when nothing changed', async () => {
    await hold(s, SKU_C, 2);
    await settled(s, SKU_C, 8);
    const h2 = await hold(s, SKU_C, 1);
    await settled(s, SKU_C, 7);
    const h3 = await hold(s, SKU_C, 2);
    await settled(s, SKU_C, 5);
    // a recompute that finds the same figure (the hold extended) publishes nothing
    const compared = s.app.events!.availability.stats().compared;
    await gqlOn(s, EXTEND, { id: h3 });
    await eventually(() => expect(s.app.events!.availability.stats().compared).toBeGreaterThan(compared));
    const h4 = await hold(s, SKU_C, 5);
    await settled(s, SKU_C, 0);
    for (const [id, units] of [
      [h4, 5],
      [h3, 7],
      [h2, 8],
    ] as const) {
      await gqlOn(s, RELEASE, { id });
      await settled(s, SKU_C, units);
    }
    const events = await outbox(s, SKU_C);
    expectWalk(events, 'web', ['NONE null→8', 'NONE 8→7', 'LOW_STOCK 7→5', 'OUT_OF_STOCK 5→0', 'BACK_IN_STOCK 0→5', 'NONE 5→7', 'NONE 7→8'], ['reservations']);
    expect(events).toHaveLength(7);
    expect(await received(s, SKU_C)).toEqual(events);
  });

  it('(d) a figure the WMS outage flags SOURCE_UNAVAILABLE is not published; the leftover scan publishes the true one once it is back', async () => {
    const h1 = await hold(s, SKU_D, 3);
    await settled(s, SKU_D, 7);
    expect((await outbox(s, SKU_D)).map((e) => dataOf(e).current.available)).toEqual([7]);

    // the WMS's table goes away: its EAST figure falls back to the ERP's 0, flagged
    const wms = new Database(join(s.demo.dir, 'wms.sqlite'));
    try {
      wms.exec('alter table bin_stock rename to bin_stock_away');
      const during = await webFigure(s, SKU_D);
      expect(during.available).toBe(0);
      expect(during.byLocation.find((l) => l.location.id === 'DC-EAST')?.flags).toContain('SOURCE_UNAVAILABLE');

      // a hold released: the SKU is recomputed, and its figure (0, flagged) put off, not published
      const deferred = s.app.events!.availability.stats().deferred;
      await gqlOn(s, RELEASE, { id: h1 });
      await s.app.events?.availability.flush();
      await s.app.events?.publisher.drain(10_000);
      expect((await outbox(s, SKU_D)).map((e) => dataOf(e).current.available)).toEqual([7]);
      await eventually(() => expect(s.app.events!.availability.stats().deferred).toBeGreaterThan(deferred));
      expect((await s.app.store.events.triggered(Date.now() + 1, 1000)).filter((m) => m.code === SKU_D)).toEqual([expect.objectContaining({ source: '' })]);
    } finally {
      wms.exec('alter table bin_stock_away rename to bin_stock');
      wms.close();
    }
    // the WMS answers again (past the breaker's trial read)
    await eventually(async () => {
      const f = await webFigure(s, SKU_D);
      expect(f.byLocation.flatMap((l) => l.flags)).not.toContain('SOURCE_UNAVAILABLE');
      expect(f.available).toBe(10);
    });

    // the periodic leftover scan takes the put-off mark again (retrySeconds) and publishes the true figure
    await settled(s, SKU_D, 10);
    const events = await outbox(s, SKU_D);
    expectWalk(events, 'web', ['NONE null→7', 'NONE 7→10'], ['reservations']);
    expect(events.some((e) => dataOf(e).crossing === 'OUT_OF_STOCK' || dataOf(e).current.available === 0)).toBe(false);
    expect((await s.app.store.events.triggered(Date.now() + 1, 1000)).filter((m) => m.code === SKU_D)).toEqual([]);
    expect(await received(s, SKU_D)).toEqual(events);
  });
});
