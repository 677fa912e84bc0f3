/**
 * Reservations over real HTTP on the real gateway (issue #16): holds at a location and placed by
 * the routing strategy, availability down by exactly what is held, all-or-nothing and partial,
 * expiry and extension under a controlled clock (nothing sleeps), release, confirm, the hand-over
 * of a confirmed hold to a source's own committed figure, idempotency keys, bad input with its
 * code, the analysts' listing, and Mutation.routeOrder holding the plan it returns.
 *
 * Stock is set per test in the demo's SQLite source files (the WMS wins quantity at DC-EAST and
 * DC-CENTRAL, the ERP at STORE-NYC), each test on SKUs of its own. The whole suite runs on the
 * SQLite store and again on a MariaDB store (127.0.0.1:3306, a database of its own, dropped after).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlConnection } from '../../src/db/knex.js';
import type { Feed } from '../../src/feeds/types.js';
import { MARIADB_URL, startDemoApp, type DemoApp, type GqlResult, wmsMirroredByPoll } from '../helpers/demo-app.js';
import type { Shortfall as DomainShortfall } from '../../src/domain/reservations.js';

const RES = `id status expiresAt reference channel createdAt confirmedAt endedAt handedOverAt handedOverBy counting countsUntil
  lines { line sku quantity location { id } }`;
const SHORT = 'line sku locationId requested reserved available code detail';
const RESERVE = `mutation R($input: ReserveInput!) { reserve(input: $input) { replayed reservation { ${RES} } shortfalls { ${SHORT} } } }`;
const GET = `query G($id: ID!) { reservation(id: $id) { ${RES} } }`;
const CONFIRM = `mutation C($id: ID!, $reference: String) { confirmReservation(id: $id, reference: $reference) { ${RES} } }`;
const RELEASE = `mutation L($id: ID!) { releaseReservation(id: $id) { ${RES} } }`;
const EXTEND = `mutation E($id: ID!, $ttl: Int!) { extendReservation(id: $id, ttlSeconds: $ttl) { ${RES} } }`;
const AVAIL = `query A($skus: [ID!]!, $channel: String) { availability(skus: $skus, channel: $channel) {
  sku available reserved onHand committed byLocation { location { id } available reserved onHand committed counted }
} }`;
const ROUTE_MUTATION = `mutation O($order: RouteOrderInput!, $reserve: Boolean, $key: String, $ttl: Int, $reference: String) {
  routeOrder(order: $order, reserve: $reserve, idempotencyKey: $key, ttlSeconds: $ttl, reference: $reference) {
    replayed
    plan { complete shipments { location { id } lines { sku quantity } } unfulfilled { sku quantity } }
    reservation { ${RES} }
  }
}`;
const ROUTE_QUERY = `query Q($order: RouteOrderInput!) { routeOrder(order: $order) { complete shipments { location { id } lines { sku quantity } } unfulfilled { sku quantity } } }`;
const LIST = `query L($sku: ID, $status: ReservationStatus, $first: Int, $after: String) {
  reservations(sku: $sku, status: $status, first: $first, after: $after) {
    nodes { id status owner lines { sku quantity } }
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Line {
  line: number;
  sku: string;
  quantity: number;
  location: { id: string };
}
interface Reservation {
  id: string;
  status: string;
  expiresAt: string;
  reference: string | null;
  channel: string | null;
  createdAt: string;
  confirmedAt: string | null;
  endedAt: string | null;
  handedOverAt: string | null;
  handedOverBy: string | null;
  counting: boolean;
  countsUntil: string | null;
  lines: Line[];
}
type Shortfall = Omit<DomainShortfall, 'code'> & { code: string };
interface ReserveResult {
  replayed: boolean;
  reservation: Reservation | null;
  shortfalls: Shortfall[];
}
interface Plan {
  complete: boolean;
  shipments: Array<{ location: { id: string }; lines: Array<{ sku: string; quantity: number }> }>;
  unfulfilled: Array<{ sku: string; quantity: number }>;
}
interface Figures {
  available: number;
  reserved: number;
  onHand: number;
  at: Record<string, { available: number; reserved: number; onHand: number; committed: number; counted: boolean }>;
}

const ms = (iso: string | null) => (iso === null ? null : new Date(iso).getTime());

/** WMS item code and ERP item number of a demo SKU (SKU-000042: ITM0000042, 100-000042). */
const codes = (sku: string) => {
  const n = Number(sku.slice(4));
  return { wms: `ITM${String(n).padStart(7, '0')}`, erp: `100-${String(n).padStart(6, '0')}` };
};

interface Backend {
  name: 'sqlite' | 'mariadb';
  /** Config keys for the store, and what to do after the suite. */
  store(): Promise<{ override?: Record<string, unknown>; drop(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  { name: 'sqlite', store: async () => ({ drop: async () => {} }) },
  {
    name: 'mariadb',
    async store() {
      const database = `ig_test_res_${process.pid}_${randomBytes(4).toString('hex')}`;
      const admin = knexFactory({ client: 'mysql2', connection: mysqlConnection(MARIADB_URL) });
      await admin.raw('create database ??', [database]);
      const url = new URL(MARIADB_URL);
      url.pathname = `/${database}`;
      return {
        override: { client: 'mysql2', connection: url.toString() },
        async drop() {
          try {
            await admin.raw('drop database if exists ??', [database]);
          } finally {
            await admin.destroy();
          }
        },
      };
    },
  },
];

/** The settings the suite runs with: short windows so the clock needs moving only minutes, and no sweeps but the test's own. */
const SETTINGS = { sweepIntervalSeconds: 3600, idempotencyWindowSeconds: 60, confirmedHoldSeconds: 120 };

/** A clock the gateway reads: the real time plus what the test moved it by. */
function testClock() {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(seconds: number) {
      offset += seconds * 1000;
    },
  };
}

/**
 * Everything a test needs on one demo: stock setting, the GraphQL calls as each role, figures.
 * `fresh()` hands out a SKU no other test uses.
 */
function harness(demo: DemoApp, clock: ReturnType<typeof testClock>) {
  const wms = new Database(join(demo.dir, 'wms.sqlite'));
  const erp = new Database(join(demo.dir, 'erp.sqlite'));
  const avoid = new Set([...demo.facts.unmapped, ...demo.facts.negativeWms]);
  let next = 1;
  const as = (role: keyof DemoApp['keys']) => ({ 'x-api-key': demo.keys[role] });
  const h = {
    wms,
    erp,
    fresh(): string {
      for (;;) {
        const sku = `SKU-${String(next++).padStart(6, '0')}`;
        if (next > demo.facts.skus + 1) throw new Error('out of demo SKUs');
        if (!avoid.has(sku)) return sku;
      }
    },
    /**
     * Sets a SKU's stock where the tests reserve: the WMS's one bin at EAST and CENTRAL (as of a
     * second ago by the gateway's clock, so never stale or in the future), the ERP's NYC store,
     * and nothing at the ERP's 3PL site (the 3PL's own file is stale, so never promised).
     */
    stock(sku: string, at: { east?: number; central?: number; nyc?: number }) {
      const c = codes(sku);
      const asOf = new Date(clock.now().getTime() - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      wms.transaction(() => {
        wms.prepare(`delete from bin_stock where item_code = ? and wh in ('EAST', 'CENTRAL')`).run(c.wms);
        const add = wms.prepare('insert into bin_stock (bin_id, wh, item_code, qty, picked_qty, updated_at) values (?, ?, ?, ?, 0, ?)');
        add.run(`E99-${c.wms}`, 'EAST', c.wms, at.east ?? 0, asOf);
        add.run(`C99-${c.wms}`, 'CENTRAL', c.wms, at.central ?? 0, asOf);
      })();
      erp.transaction(() => {
        erp.prepare(`delete from inv_balance where item_no = ? and site in ('NYC Flagship', '3PL West')`).run(c.erp);
        erp.prepare('insert into inv_balance (item_no, site, qty) values (?, ?, ?)').run(c.erp, 'NYC Flagship', at.nyc ?? 0);
      })();
    },
    as,
    async reserve(input: Record<string, unknown>, role: keyof DemoApp['keys'] = 'storefront') {
      return demo.gql<{ reserve: ReserveResult }>(RESERVE, { input }, as(role));
    },
    /** A reserve that must succeed and hold something. */
    async hold(input: Record<string, unknown>): Promise<Reservation> {
      const r = await h.reserve(input);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.reserve.shortfalls).toEqual([]);
      return r.body.data!.reserve.reservation!;
    },
    async get(id: string, role: keyof DemoApp['keys'] = 'storefront') {
      const r = await demo.gql<{ reservation: Reservation | null }>(GET, { id }, as(role));
      expect(r.body.errors).toBeUndefined();
      return r.body.data!.reservation;
    },
    async figures(sku: string, channel?: string): Promise<Figures> {
      const r = await demo.gql<{
        availability: Array<{
          available: number;
          reserved: number;
          onHand: number;
          byLocation: Array<{ location: { id: string }; available: number; reserved: number; onHand: number; committed: number; counted: boolean }>;
        }>;
      }>(AVAIL, { skus: [sku], channel }, as('storefront'));
      expect(r.body.errors).toBeUndefined();
      const a = r.body.data!.availability[0]!;
      return {
        available: a.available,
        reserved: a.reserved,
        onHand: a.onHand,
        at: Object.fromEntries(a.byLocation.map((l) => [l.location.id, l])),
      };
    },
    sweep: () => demo.app.runtime.sweeper.sweep(),
    close() {
      wms.close();
      erp.close();
    },
  };
  return h;
}

/** The single error of an answer, with its code. */
function onlyError(r: GqlResult<unknown>) {
  expect(r.body.errors).toHaveLength(1);
  return r.body.errors![0]!;
}

describe.each(BACKENDS)('reservations over HTTP, $name store', (backend) => {
  let demo: DemoApp;
  let h: ReturnType<typeof harness>;
  let drop: () => Promise<void> = async () => {};
  const clock = testClock();
  let n = 0;
  /** An idempotency key no other request of this suite uses. */
  const key = (what: string) => `${backend.name}-${what}-${++n}`;

  beforeAll(async () => {
    const store = await backend.store();
    drop = store.drop;
    demo = await startDemoApp({
      skus: 90,
      now: clock.now,
      override: { reservations: SETTINGS, ...(store.override ? { store: store.override } : {}) },
    });
    expect(demo.app.config.sources.wms).toMatchObject({ orders: { table: 'pick_orders', columns: { reference: 'order_ref' } } });
    h = harness(demo, clock);
  });
  afterAll(async () => {
    h?.close();
    await demo?.close();
    await drop();
  });

  describe('reserve', () => {
    it('is never done by a GET (a link, a prefetch, a crawler): refused, nothing held', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 4 });
      const q = `mutation { reserve(input: { idempotencyKey: "${key('get')}", lines: [{ sku: "${sku}", quantity: 1, locationId: "DC-EAST" }] }) { reservation { id } } }`;
      const res = await fetch(`${demo.url}?query=${encodeURIComponent(q)}`, { headers: { ...h.as('storefront'), 'apollo-require-preflight': 'true' } });
      expect(res.status).toBe(405);
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 4 });
    });

    it('holds units at the location asked: its lines, the default TTL, and availability down by exactly the units held', async () => {
      const sku = h.fresh();
      const other = h.fresh();
      h.stock(sku, { east: 10, central: 7 });
      h.stock(other, { east: 5 });
      const before = await h.figures(sku);
      expect(before.at['DC-EAST']).toMatchObject({ onHand: 10, reserved: 0, available: 10 });

      const r = await h.reserve({
        idempotencyKey: key('at'),
        lines: [
          { sku, quantity: 3, locationId: 'DC-EAST' },
          { sku: other, quantity: 5, locationId: 'DC-EAST' },
        ],
        reference: 'cart-1',
        channel: 'web',
      });
      expect(r.body.errors).toBeUndefined();
      const { reservation: res, shortfalls, replayed } = r.body.data!.reserve;
      expect(replayed).toBe(false);
      expect(shortfalls).toEqual([]);
      expect(res!.id).toMatch(/^res_[A-Za-z0-9_-]{20}$/);
      expect(res).toMatchObject({
        status: 'ACTIVE',
        reference: 'cart-1',
        channel: 'web',
        counting: true,
        confirmedAt: null,
        endedAt: null,
        handedOverAt: null,
      });
      expect(res!.lines).toEqual([
        { line: 0, sku, quantity: 3, location: { id: 'DC-EAST' } },
        { line: 1, sku: other, quantity: 5, location: { id: 'DC-EAST' } },
      ]);
      // the default TTL, 900 s; it counts until it expires
      expect(ms(res!.expiresAt)! - ms(res!.createdAt)!).toBe(900_000);
      expect(res!.countsUntil).toBe(res!.expiresAt);

      const after = await h.figures(sku);
      expect(after.at['DC-EAST']).toMatchObject({ onHand: 10, reserved: 3, available: 7 });
      expect(after.at['DC-CENTRAL']).toEqual(before.at['DC-CENTRAL']);
      expect(after.reserved - before.reserved).toBe(3);
      expect(before.available - after.available).toBe(3);
      expect(after.onHand).toBe(before.onHand);
      // the last unit of `other` is held: nothing left to promise there
      expect((await h.figures(other)).at['DC-EAST']).toMatchObject({ onHand: 5, reserved: 5, available: 0 });

      // anyone with the id reads it back as it is
      expect(await h.get(res!.id)).toEqual(res);
    });

    it('takes a given ttlSeconds, and never holds a store’s safety stock', async () => {
      const sku = h.fresh();
      h.stock(sku, { nyc: 5 });
      const r = await h.reserve({ idempotencyKey: key('ttl'), lines: [{ sku, quantity: 4, locationId: 'STORE-NYC' }], ttlSeconds: 120 });
      // 5 on hand, 2 of safety stock: 3 can be promised
      expect(r.body.data!.reserve).toMatchObject({
        reservation: null,
        shortfalls: [{ line: 0, sku, locationId: 'STORE-NYC', requested: 4, reserved: 0, available: 3, code: 'INSUFFICIENT_STOCK' }],
      });
      const res = await h.hold({ idempotencyKey: key('ttl'), lines: [{ sku, quantity: 3, locationId: 'STORE-NYC' }], ttlSeconds: 120 });
      expect(ms(res.expiresAt)! - ms(res.createdAt)!).toBe(120_000);
      expect((await h.figures(sku)).at['STORE-NYC']).toMatchObject({ onHand: 5, reserved: 3, available: 0 });
    });

    it('places lines without a location by the routing strategy, split when no one location has enough, and routeOrder plans around the holds', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 4, central: 6, nyc: 0 });
      const before = await h.figures(sku, 'web');
      const res = await h.hold({ idempotencyKey: key('routed'), lines: [{ sku, quantity: 8 }], channel: 'web' });
      expect(res.lines.every((l) => l.line === 0 && l.sku === sku)).toBe(true);
      expect(res.lines.reduce((s, l) => s + l.quantity, 0)).toBe(8);
      const heldAt = Object.fromEntries(res.lines.map((l) => [l.location.id, l.quantity]));
      expect(Object.keys(heldAt).sort()).toEqual(['DC-CENTRAL', 'DC-EAST']);
      expect(heldAt['DC-EAST']).toBeLessThanOrEqual(4);
      expect(heldAt['DC-CENTRAL']).toBeLessThanOrEqual(6);

      const after = await h.figures(sku, 'web');
      for (const id of ['DC-EAST', 'DC-CENTRAL']) {
        expect(after.at[id]!.reserved).toBe(heldAt[id]);
        expect(before.at[id]!.available - after.at[id]!.available).toBe(heldAt[id]);
      }
      expect(after.reserved - before.reserved).toBe(8);
      expect(before.available - after.available).toBe(8);

      // the plan a routeOrder gives now counts only the 2 units not held
      const q = await demo.gql<{ routeOrder: Plan }>(ROUTE_QUERY, { order: { lines: [{ sku, quantity: 3 }], channel: 'web' } }, h.as('oms'));
      expect(q.body.errors).toBeUndefined();
      const plan = q.body.data!.routeOrder;
      expect(plan.complete).toBe(false);
      expect(plan.unfulfilled).toEqual([{ sku, quantity: 1 }]);
      for (const s of plan.shipments) expect(s.lines[0]!.quantity).toBeLessThanOrEqual(after.at[s.location.id]!.available);
      // and another routed reserve finds the same 2
      const r = await h.reserve({ idempotencyKey: key('routed'), lines: [{ sku, quantity: 3 }], channel: 'web' });
      expect(r.body.data!.reserve.shortfalls).toEqual([
        expect.objectContaining({ line: 0, sku, locationId: null, requested: 3, reserved: 0, available: 2, code: 'INSUFFICIENT_STOCK' }),
      ]);
    });

    it('a routed line counts what the request’s own located lines take, and two routed lines of one SKU share the plan', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 5, central: 5 });
      const res = await h.hold({
        idempotencyKey: key('mixed'),
        channel: 'web',
        lines: [
          { sku, quantity: 4, locationId: 'DC-EAST' },
          { sku, quantity: 6 },
        ],
      });
      const byLine = (i: number) => Object.fromEntries(res.lines.filter((l) => l.line === i).map((l) => [l.location.id, l.quantity]));
      expect(byLine(0)).toEqual({ 'DC-EAST': 4 });
      // DC-EAST has 1 left for the routed line, DC-CENTRAL 5
      expect(byLine(1)).toEqual({ 'DC-EAST': 1, 'DC-CENTRAL': 5 });
      expect((await h.figures(sku, 'web')).at).toMatchObject({ 'DC-EAST': { reserved: 5, available: 0 }, 'DC-CENTRAL': { reserved: 5, available: 0 } });

      const two = h.fresh();
      h.stock(two, { east: 4, central: 3 });
      const r = await h.hold({
        idempotencyKey: key('mixed'),
        channel: 'web',
        lines: [
          { sku: two, quantity: 3 },
          { sku: two, quantity: 4 },
        ],
      });
      expect(r.lines.filter((l) => l.line === 0).reduce((n, l) => n + l.quantity, 0)).toBe(3);
      expect(r.lines.filter((l) => l.line === 1).reduce((n, l) => n + l.quantity, 0)).toBe(4);
      expect(await h.figures(two, 'web')).toMatchObject({ reserved: 7 });
    });

    it('never promises a stale location’s stock (routing.useStaleStock is off), though availability counts it', async () => {
      const sku = demo.facts.staleTpl.find((s) => !demo.facts.unmapped.includes(s) && !demo.facts.negativeWms.includes(s))!;
      const tpl = (await h.figures(sku)).at['3PL-WEST']!;
      expect(tpl.available).toBeGreaterThan(0);
      const r = await h.reserve({ idempotencyKey: key('stale'), lines: [{ sku, quantity: 1, locationId: '3PL-WEST' }] });
      expect(r.body.data!.reserve).toMatchObject({ reservation: null, shortfalls: [{ locationId: '3PL-WEST', requested: 1, available: 0 }] });
      // the refusal says why, since availability shows the stock
      expect(r.body.data!.reserve.shortfalls[0]!.detail).toBe(
        `lines[0] ${sku} at 3PL-WEST: 1 requested, 0 could be held (its figure from tpl is STALE and routing.useStaleStock is false)`,
      );
    });

    it('all or nothing: a short line holds nothing at all, and says why with figures', async () => {
      const plenty = h.fresh();
      const short = h.fresh();
      h.stock(plenty, { east: 10 });
      h.stock(short, { east: 5 });
      const r = await h.reserve({
        idempotencyKey: key('aon'),
        lines: [
          { sku: plenty, quantity: 2, locationId: 'DC-EAST' },
          { sku: short, quantity: 6, locationId: 'DC-EAST' },
        ],
      });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.reserve).toEqual({
        replayed: false,
        reservation: null,
        shortfalls: [
          {
            line: 1,
            sku: short,
            locationId: 'DC-EAST',
            requested: 6,
            reserved: 0,
            available: 5,
            code: 'INSUFFICIENT_STOCK',
            detail: `lines[1] ${short} at DC-EAST: 6 requested, 5 could be held`,
          },
        ],
      });
      for (const sku of [plenty, short]) expect((await h.figures(sku)).reserved).toBe(0);
    });

    it('allowPartial holds what it can and reports the short line', async () => {
      const plenty = h.fresh();
      const short = h.fresh();
      h.stock(plenty, { east: 10 });
      h.stock(short, { east: 5 });
      const input = {
        idempotencyKey: key('partial'),
        allowPartial: true,
        lines: [
          { sku: plenty, quantity: 2, locationId: 'DC-EAST' },
          { sku: short, quantity: 6, locationId: 'DC-EAST' },
        ],
      };
      const r = await h.reserve(input);
      expect(r.body.errors).toBeUndefined();
      const out = r.body.data!.reserve;
      expect(out.reservation!.lines).toEqual([
        { line: 0, sku: plenty, quantity: 2, location: { id: 'DC-EAST' } },
        { line: 1, sku: short, quantity: 5, location: { id: 'DC-EAST' } },
      ]);
      expect(out.shortfalls).toEqual([expect.objectContaining({ line: 1, sku: short, requested: 6, reserved: 5, available: 5, code: 'INSUFFICIENT_STOCK' })]);
      expect((await h.figures(short)).at['DC-EAST']).toMatchObject({ reserved: 5, available: 0 });
      expect((await h.figures(plenty)).at['DC-EAST']).toMatchObject({ reserved: 2, available: 8 });

      // a retry answers the same, short line and all, and holds nothing more
      expect((await h.reserve(input)).body.data!.reserve).toEqual({ ...out, replayed: true });
      expect((await h.figures(plenty)).at['DC-EAST']).toMatchObject({ reserved: 2, available: 8 });

      // nothing at all to hold: no reservation even with allowPartial
      const none = await h.reserve({ idempotencyKey: key('partial'), allowPartial: true, lines: [{ sku: short, quantity: 1, locationId: 'DC-EAST' }] });
      expect(none.body.data!.reserve).toMatchObject({ reservation: null, shortfalls: [{ requested: 1, reserved: 0, available: 0 }] });
    });

    it('two lines of one SKU at one location share what is free, in line order', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const r = await h.reserve({
        idempotencyKey: key('same'),
        allowPartial: true,
        lines: [
          { sku, quantity: 8, locationId: 'DC-EAST' },
          { sku, quantity: 5, locationId: 'DC-EAST' },
        ],
      });
      expect(r.body.data!.reserve.reservation!.lines.map((l) => [l.line, l.quantity])).toEqual([
        [0, 8],
        [1, 2],
      ]);
      expect(r.body.data!.reserve.shortfalls).toEqual([expect.objectContaining({ line: 1, requested: 5, reserved: 2, available: 2 })]);
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 10, available: 0 });
    });
  });

  describe('the life of a hold', () => {
    it('expiry: past expiresAt the hold stops counting at once, reads EXPIRED before and after the sweep, and can no longer change', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const res = await h.hold({ idempotencyKey: key('exp'), lines: [{ sku, quantity: 4, locationId: 'DC-EAST' }], ttlSeconds: 60 });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 4, available: 6 });

      clock.advance(59);
      expect((await h.get(res.id))!.status).toBe('ACTIVE');
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 4, available: 6 });

      clock.advance(2);
      // not swept yet: it already counts for nothing
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 10 });
      const unswept = await h.get(res.id);
      expect(unswept).toMatchObject({ status: 'EXPIRED', counting: false, countsUntil: null, endedAt: res.expiresAt });

      const swept = await h.sweep();
      expect(swept.expired).toBeGreaterThanOrEqual(1);
      const after = await h.get(res.id);
      expect(after).toMatchObject({ status: 'EXPIRED', counting: false, countsUntil: null });
      // it ended when it expired, whenever the sweeper got to it
      expect(after!.endedAt).toBe(res.expiresAt);
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 10 });

      for (const [query, vars, role] of [
        [EXTEND, { id: res.id, ttl: 60 }, 'storefront'],
        [CONFIRM, { id: res.id, reference: 'o-1' }, 'oms'],
        [RELEASE, { id: res.id }, 'storefront'],
      ] as const) {
        const e = onlyError(await demo.gql(query, vars, h.as(role)));
        expect(e.extensions).toMatchObject({ code: 'INVALID_RESERVATION_STATE', status: 'EXPIRED', id: res.id });
        expect(e.message).toContain(`Reservation ${res.id} is EXPIRED`);
      }
    });

    it('extension: an ACTIVE hold lasts ttlSeconds from now; over the maximum is BAD_USER_INPUT', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const res = await h.hold({ idempotencyKey: key('ext'), lines: [{ sku, quantity: 4, locationId: 'DC-EAST' }], ttlSeconds: 60 });
      clock.advance(30);
      const from = clock.now().getTime();
      const e = await demo.gql<{ extendReservation: Reservation }>(EXTEND, { id: res.id, ttl: 300 }, h.as('storefront'));
      expect(e.body.errors).toBeUndefined();
      const extended = e.body.data!.extendReservation;
      expect(extended.status).toBe('ACTIVE');
      expect(ms(extended.expiresAt)).toBeGreaterThanOrEqual(from + 300_000);
      expect(ms(extended.expiresAt)).toBeLessThanOrEqual(clock.now().getTime() + 300_000);
      expect(extended.countsUntil).toBe(extended.expiresAt);

      // past the first expiry it still holds
      clock.advance(60);
      expect(await h.get(res.id)).toMatchObject({ status: 'ACTIVE', counting: true });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 4, available: 6 });
      await h.sweep();
      expect((await h.get(res.id))!.status).toBe('ACTIVE');

      for (const ttl of [14_401, 0, -5]) {
        const bad = onlyError(await demo.gql(EXTEND, { id: res.id, ttl }, h.as('storefront')));
        expect(bad.extensions?.code).toBe('BAD_USER_INPUT');
        expect(bad.message).toContain(String(ttl));
      }
      expect(onlyError(await demo.gql(EXTEND, { id: res.id, ttl: 14_401 }, h.as('storefront'))).message).toBe(
        'ttlSeconds 14401 is over the maximum of 14400 (reservations.maxTtlSeconds).',
      );
      // the maximum itself is fine; a bad extension changed nothing
      expect(
        ms(
          (await demo.gql<{ extendReservation: Reservation }>(EXTEND, { id: res.id, ttl: 14_400 }, h.as('storefront'))).body.data!.extendReservation.expiresAt,
        ),
      ).toBeGreaterThan(ms(extended.expiresAt)!);

      // only ACTIVE holds are extended
      await demo.gql(CONFIRM, { id: res.id, reference: 'ord-ext' }, h.as('oms'));
      const c = onlyError(await demo.gql(EXTEND, { id: res.id, ttl: 60 }, h.as('storefront')));
      expect(c.extensions).toMatchObject({ code: 'INVALID_RESERVATION_STATE', status: 'CONFIRMED' });
    });

    it('release: the units are free at once; releasing twice is INVALID_RESERVATION_STATE with status RELEASED', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const res = await h.hold({ idempotencyKey: key('rel'), lines: [{ sku, quantity: 5, locationId: 'DC-EAST' }] });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 5, available: 5 });

      const r = await demo.gql<{ releaseReservation: Reservation }>(RELEASE, { id: res.id }, h.as('storefront'));
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.releaseReservation).toMatchObject({ id: res.id, status: 'RELEASED', counting: false, countsUntil: null });
      expect(r.body.data!.releaseReservation.endedAt).not.toBeNull();
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 10 });

      const again = await demo.gql<{ releaseReservation: Reservation | null }>(RELEASE, { id: res.id }, h.as('storefront'));
      expect(again.status).toBe(200);
      expect(again.body.data!.releaseReservation).toBeNull();
      const e = onlyError(again);
      expect(e.extensions).toMatchObject({ code: 'INVALID_RESERVATION_STATE', status: 'RELEASED', id: res.id });
      expect(e.message).toBe(`Reservation ${res.id} is RELEASED: only ACTIVE or CONFIRMED reservations can be released.`);
      // nor confirmed, nor extended
      expect(onlyError(await demo.gql(CONFIRM, { id: res.id }, h.as('oms'))).extensions).toMatchObject({
        code: 'INVALID_RESERVATION_STATE',
        status: 'RELEASED',
      });
      expect(onlyError(await demo.gql(EXTEND, { id: res.id, ttl: 60 }, h.as('storefront'))).extensions).toMatchObject({
        code: 'INVALID_RESERVATION_STATE',
        status: 'RELEASED',
      });
      // and the sweeper leaves it RELEASED
      clock.advance(901);
      await h.sweep();
      expect((await h.get(res.id))!.status).toBe('RELEASED');
    });

    it('confirm: OMS only; a CONFIRMED hold outlives its TTL and counts until confirmedHoldSeconds; the same reference twice is fine', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const res = await h.hold({ idempotencyKey: key('conf'), lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }], ttlSeconds: 60 });

      const sf = await demo.gql<{ confirmReservation: Reservation | null }>(CONFIRM, { id: res.id, reference: 'ORD-1' }, h.as('storefront'));
      expect(sf.body.data!.confirmReservation).toBeNull();
      expect(onlyError(sf).extensions?.code).toBe('FORBIDDEN');
      expect((await h.get(res.id))!.status).toBe('ACTIVE');

      const from = clock.now().getTime();
      const c = await demo.gql<{ confirmReservation: Reservation }>(CONFIRM, { id: res.id, reference: 'ORD-1' }, h.as('oms'));
      expect(c.body.errors).toBeUndefined();
      const confirmed = c.body.data!.confirmReservation;
      expect(confirmed).toMatchObject({ status: 'CONFIRMED', reference: 'ORD-1', counting: true, handedOverAt: null, handedOverBy: null });
      expect(ms(confirmed.confirmedAt)).toBeGreaterThanOrEqual(from);
      // counts for confirmedHoldSeconds (120 in this suite) from the confirmation
      expect(ms(confirmed.countsUntil)! - ms(confirmed.confirmedAt)!).toBe(SETTINGS.confirmedHoldSeconds * 1000);

      // the same reference again, or none: the same confirmation, unchanged
      for (const reference of ['ORD-1', null]) {
        const again = await demo.gql<{ confirmReservation: Reservation }>(CONFIRM, { id: res.id, reference }, h.as('oms'));
        expect(again.body.errors).toBeUndefined();
        expect(again.body.data!.confirmReservation).toEqual(confirmed);
      }
      // another reference is another order
      const other = onlyError(await demo.gql(CONFIRM, { id: res.id, reference: 'ORD-2' }, h.as('oms')));
      expect(other.extensions).toMatchObject({ code: 'INVALID_RESERVATION_STATE' });
      expect(other.message).toContain('"ORD-1"');

      // past its TTL it still counts: confirmed, not expired, and the sweeper leaves it so
      clock.advance(61);
      expect(await h.get(res.id)).toMatchObject({ status: 'CONFIRMED', counting: true });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 3, available: 7 });
      await h.sweep();
      expect(await h.get(res.id)).toMatchObject({ status: 'CONFIRMED', counting: true });

      // its order never showed up in a source: after confirmedHoldSeconds it stops counting
      clock.advance(SETTINGS.confirmedHoldSeconds);
      expect(await h.get(res.id)).toMatchObject({ status: 'CONFIRMED', counting: false, countsUntil: null, handedOverAt: null });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 10 });
    });

    it('a CONFIRMED hold can still be released, and its units are free at once', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const res = await h.hold({ idempotencyKey: key('confrel'), lines: [{ sku, quantity: 6, locationId: 'DC-EAST' }] });
      await demo.gql(CONFIRM, { id: res.id, reference: 'ORD-CANCELLED' }, h.as('oms'));
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 6, available: 4 });
      const r = await demo.gql<{ releaseReservation: Reservation }>(RELEASE, { id: res.id }, h.as('storefront'));
      expect(r.body.data!.releaseReservation).toMatchObject({ status: 'RELEASED', counting: false });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 10 });
    });
  });

  describe('idempotency keys', () => {
    it('the same key and input answer the first reservation, replayed, and hold nothing more', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const k = key('idem');
      const input = { idempotencyKey: k, lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }] };
      const first = await h.reserve(input);
      const id = first.body.data!.reserve.reservation!.id;
      for (let i = 0; i < 3; i++) {
        const again = await h.reserve(input);
        expect(again.body.errors).toBeUndefined();
        expect(again.body.data!.reserve).toEqual({ ...first.body.data!.reserve, replayed: true });
      }
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 3, available: 7 });
      // defaults resolved: ttlSeconds 900 and allowPartial false are the input as first sent
      const explicit = await h.reserve({ ...input, ttlSeconds: 900, allowPartial: false });
      expect(explicit.body.data!.reserve).toMatchObject({ replayed: true, reservation: { id } });

      // replayed as it is now
      await demo.gql(RELEASE, { id }, h.as('storefront'));
      const afterRelease = await h.reserve(input);
      expect(afterRelease.body.data!.reserve).toMatchObject({ replayed: true, reservation: { id, status: 'RELEASED' } });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 0, available: 10 });
    });

    it('the same key with another input is IDEMPOTENCY_CONFLICT (HTTP 422), and nothing is held', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const k = key('conflict');
      const first = await h.hold({ idempotencyKey: k, lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }] });
      for (const input of [
        { idempotencyKey: k, lines: [{ sku, quantity: 4, locationId: 'DC-EAST' }] },
        { idempotencyKey: k, lines: [{ sku, quantity: 3 }] },
        { idempotencyKey: k, lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }], ttlSeconds: 60 },
        { idempotencyKey: k, lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }], reference: 'x' },
      ]) {
        const r = await h.reserve(input);
        expect(r.status).toBe(422);
        expect(r.body.data?.reserve ?? null).toBeNull();
        const e = onlyError(r);
        expect(e.extensions?.code).toBe('IDEMPOTENCY_CONFLICT');
        expect(e.message).toContain(JSON.stringify(k));
      }
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 3, available: 7 });
      expect(await h.get(first.id)).toMatchObject({ status: 'ACTIVE', lines: first.lines });
    });

    it('the same key sent several times at once: one hold, and every answer names it', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const input = { idempotencyKey: key('burst'), lines: [{ sku, quantity: 2, locationId: 'DC-EAST' }] };
      const answers = await Promise.all(Array.from({ length: 8 }, () => h.reserve(input)));
      for (const a of answers) expect(a.body.errors).toBeUndefined();
      const results = answers.map((a) => a.body.data!.reserve);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      const first = results.find((r) => !r.replayed)!.reservation!;
      for (const r of results) expect(r.reservation?.id).toBe(first.id);
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 2, available: 8 });

      const order = { lines: [{ sku, quantity: 1 }], channel: 'web' };
      const k = key('burst-route');
      const routed = await Promise.all(
        Array.from({ length: 8 }, () =>
          demo.gql<{ routeOrder: { replayed: boolean; plan: Plan; reservation: Reservation | null } }>(ROUTE_MUTATION, { order, key: k }, h.as('oms')),
        ),
      );
      for (const a of routed) expect(a.body.errors).toBeUndefined();
      const ids = new Set(routed.map((a) => a.body.data!.routeOrder.reservation?.id ?? null));
      expect([...ids]).toHaveLength(1);
      expect([...ids][0]).toMatch(/^res_/);
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 3, available: 7 });
    });

    it('keys are per API key: the same key from another caller is its own request', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const input = { idempotencyKey: key('owner'), lines: [{ sku, quantity: 2, locationId: 'DC-EAST' }] };
      const a = await h.reserve(input, 'storefront');
      const b = await h.reserve(input, 'oms');
      expect(b.body.data!.reserve.replayed).toBe(false);
      expect(b.body.data!.reserve.reservation!.id).not.toBe(a.body.data!.reserve.reservation!.id);
      expect((await h.figures(sku)).at['DC-EAST']!.reserved).toBe(4);
    });

    it('a key past idempotencyWindowSeconds is new', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const input = { idempotencyKey: key('window'), lines: [{ sku, quantity: 2, locationId: 'DC-EAST' }] };
      const first = await h.hold(input);
      clock.advance(SETTINGS.idempotencyWindowSeconds - 1);
      expect((await h.reserve(input)).body.data!.reserve).toMatchObject({ replayed: true, reservation: { id: first.id } });
      clock.advance(2);
      const later = await h.reserve(input);
      expect(later.body.errors).toBeUndefined();
      expect(later.body.data!.reserve.replayed).toBe(false);
      expect(later.body.data!.reserve.reservation!.id).not.toBe(first.id);
      expect((await h.figures(sku)).at['DC-EAST']!.reserved).toBe(4);
      // and is kept anew: a retry now replays the second
      expect((await h.reserve(input)).body.data!.reserve).toMatchObject({ replayed: true, reservation: { id: later.body.data!.reserve.reservation!.id } });
      // a pruned key is gone too, and the new one stays
      clock.advance(SETTINGS.idempotencyWindowSeconds + 1);
      expect((await h.sweep()).keysPruned).toBeGreaterThanOrEqual(1);
      expect((await h.reserve({ ...input, lines: [{ sku, quantity: 1, locationId: 'DC-EAST' }] })).body.data!.reserve.replayed).toBe(false);
    });

    it('a failed all-or-nothing attempt stores nothing: the same key succeeds once stock arrives', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10 });
      const input = { idempotencyKey: key('retry'), lines: [{ sku, quantity: 12, locationId: 'DC-EAST' }] };
      const failed = await h.reserve(input);
      expect(failed.body.data!.reserve).toMatchObject({ replayed: false, reservation: null, shortfalls: [{ requested: 12, available: 10 }] });
      // tried again before stock arrives: decided again, not replayed
      expect((await h.reserve(input)).body.data!.reserve).toMatchObject({ replayed: false, reservation: null });
      h.stock(sku, { east: 15 });
      const ok = await h.reserve(input);
      expect(ok.body.errors).toBeUndefined();
      expect(ok.body.data!.reserve).toMatchObject({ replayed: false, shortfalls: [], reservation: { lines: [{ quantity: 12 }] } });
      expect((await h.reserve(input)).body.data!.reserve).toMatchObject({ replayed: true, reservation: { id: ok.body.data!.reserve.reservation!.id } });
      expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 12, available: 3 });
    });
  });

  describe('bad input', () => {
    const bad = async (input: Record<string, unknown>) => {
      const r = await h.reserve(input);
      const e = onlyError(r);
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.body.data?.reserve ?? null).toBeNull();
      return { e, problems: (e.extensions?.problems ?? []) as string[] };
    };

    it('names each bad value, with its code, and holds nothing', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 10, nyc: 10 });
      const line = (l: Record<string, unknown>) => ({ idempotencyKey: key('bad'), lines: [{ sku, quantity: 1, locationId: 'DC-EAST', ...l }] });
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['unknown SKU', line({ sku: 'NOPE-404' }), 'lines[0]: unknown sku "NOPE-404" (not in the SKU map)'],
        ['quantity 0', line({ quantity: 0 }), `lines[0] (${sku}): quantity must be at least 1, got 0`],
        ['negative quantity', line({ quantity: -3 }), `lines[0] (${sku}): quantity must be at least 1, got -3`],
        ['absurd quantity', line({ quantity: 1_000_000_001 }), `lines[0] (${sku}): quantity 1000000001 is over 1000000000`],
        ['TTL over the maximum', { ...line({}), ttlSeconds: 14_401 }, 'ttlSeconds 14401 is over the maximum of 14400 (reservations.maxTtlSeconds)'],
        ['TTL 0', { ...line({}), ttlSeconds: 0 }, 'ttlSeconds must be a whole number of seconds, at least 1, got 0'],
        ['blank key', { ...line({}), idempotencyKey: '   ' }, 'idempotencyKey must not be blank'],
        ['empty key', { ...line({}), idempotencyKey: '' }, 'idempotencyKey must not be blank'],
        ['too long a key', { ...line({}), idempotencyKey: 'k'.repeat(256) }, 'idempotencyKey is 256 characters long; at most 255'],
        ['too long a reference', { ...line({}), reference: 'r'.repeat(192) }, 'reference is 192 characters long; at most 191'],
        ['unknown location', line({ locationId: 'MOON-BASE' }), 'lines[0]: unknown locationId "MOON-BASE"'],
        ['not sellable', line({ locationId: 'IN-TRANSIT' }), 'lines[0]: location IN-TRANSIT is not sellable'],
        [
          'not in the channel',
          { ...line({ locationId: 'STORE-NYC' }), channel: 'web' },
          'lines[0]: location STORE-NYC does not serve channel web (serves retail)',
        ],
        ['no such channel', { ...line({ locationId: null }), channel: 'fax' }, 'unknown channel "fax" (known: web, retail)'],
        ['no lines', { idempotencyKey: key('bad'), lines: [] }, 'a reservation needs at least one line'],
      ];
      for (const [what, input, problem] of cases) {
        const { e, problems } = await bad(input);
        expect(problems, what).toEqual([problem]);
        expect(e.message, what).toBe(`Invalid reservation: ${problem}.`);
      }
      expect((await h.figures(sku)).reserved).toBe(0);
    });

    it('names every problem at once', async () => {
      const sku = h.fresh();
      const { problems } = await bad({
        idempotencyKey: ' ',
        ttlSeconds: 100_000,
        channel: 'fax',
        lines: [
          { sku, quantity: 0, locationId: 'DC-EAST' },
          { sku: 'NOPE-1', quantity: 1, locationId: 'NOWHERE' },
        ],
      });
      expect(problems).toEqual([
        'idempotencyKey must not be blank',
        'unknown channel "fax" (known: web, retail)',
        `lines[0] (${sku}): quantity must be at least 1, got 0`,
        'lines[1]: unknown locationId "NOWHERE"',
        'ttlSeconds 100000 is over the maximum of 14400 (reservations.maxTtlSeconds)',
      ]);
    });

    it('a key missing altogether is refused before anything runs (HTTP 400)', async () => {
      const r = await h.reserve({ lines: [{ sku: 'SKU-000001', quantity: 1 }] });
      expect(r.status).toBe(400);
      const e = onlyError(r);
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toContain('idempotencyKey');
    });

    it('too many lines: more than reservations.maxLines (100)', async () => {
      const sku = h.fresh();
      const lines = Array.from({ length: 101 }, () => ({ sku, quantity: 1, locationId: 'DC-EAST' }));
      const { e } = await bad({ idempotencyKey: key('lines'), lines });
      expect(e.message).toContain('too many lines: 101, at most 100 (reservations.maxLines)');
    });

    it('an unknown reservation id is RESERVATION_NOT_FOUND for every step, and null to read', async () => {
      const id = 'res_AAAAAAAAAAAAAAAAAAAA';
      for (const [query, vars, role] of [
        [CONFIRM, { id, reference: 'o' }, 'oms'],
        [RELEASE, { id }, 'storefront'],
        [EXTEND, { id, ttl: 60 }, 'storefront'],
      ] as const) {
        const e = onlyError(await demo.gql(query, vars, h.as(role)));
        expect(e.extensions).toMatchObject({ code: 'RESERVATION_NOT_FOUND', id });
        expect(e.message).toBe(`No reservation has the id "${id}".`);
      }
      expect(await h.get(id)).toBeNull();
    });
  });

  describe('reservations (analysts)', () => {
    it('pages newest first, by SKU and by status, with the owner', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 50 });
      const made: Reservation[] = [];
      for (let i = 0; i < 5; i++) {
        made.push(await h.hold({ idempotencyKey: key('list'), lines: [{ sku, quantity: 1 + i, locationId: 'DC-EAST' }] }));
        clock.advance(0.002); // distinct createdAt; the order among equal ones is by id
      }
      await demo.gql(RELEASE, { id: made[1]!.id }, h.as('storefront'));
      await demo.gql(CONFIRM, { id: made[3]!.id, reference: 'ORD-L' }, h.as('oms'));
      const list = (vars: Record<string, unknown>, role: keyof DemoApp['keys'] = 'analyst') =>
        demo.gql<{
          reservations: {
            nodes: Array<{ id: string; status: string; owner: string }>;
            edges: Array<{ cursor: string; node: { id: string } }>;
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        }>(LIST, vars, h.as(role));
      const newestFirst = [...made].reverse().map((r) => r.id);

      // two at a time, through the whole list
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; ; page++) {
        const r = await list({ sku, first: 2, after });
        expect(r.body.errors).toBeUndefined();
        const p = r.body.data!.reservations;
        expect(p.edges.map((e) => e.cursor)).toEqual(p.nodes.map((x) => x.id));
        expect(p.nodes.every((x) => x.owner === 'demo-storefront')).toBe(true);
        seen.push(...p.nodes.map((x) => x.id));
        expect(p.pageInfo.endCursor).toBe(p.nodes.at(-1)?.id ?? null);
        if (!p.pageInfo.hasNextPage) break;
        after = p.pageInfo.endCursor;
        expect(page).toBeLessThan(3);
      }
      expect(seen).toEqual(newestFirst);

      const ids = async (vars: Record<string, unknown>) => (await list({ sku, ...vars })).body.data!.reservations.nodes.map((x) => x.id);
      expect(await ids({ status: 'RELEASED' })).toEqual([made[1]!.id]);
      expect(await ids({ status: 'CONFIRMED' })).toEqual([made[3]!.id]);
      expect(await ids({ status: 'ACTIVE' })).toEqual([made[4]!.id, made[2]!.id, made[0]!.id]);
      expect(await ids({ status: 'EXPIRED' })).toEqual([]);
      // past their TTL, unswept: EXPIRED already, not ACTIVE
      clock.advance(901);
      expect(await ids({ status: 'EXPIRED' })).toEqual([made[4]!.id, made[2]!.id, made[0]!.id]);
      expect(await ids({ status: 'ACTIVE' })).toEqual([]);
      await h.sweep();
      expect(await ids({ status: 'EXPIRED' })).toEqual([made[4]!.id, made[2]!.id, made[0]!.id]);
      // another SKU's list does not have them
      const others = await list({ sku: h.fresh() });
      expect(others.body.data!.reservations).toEqual({ nodes: [], edges: [], pageInfo: { hasNextPage: false, endCursor: null } });

      // bad paging
      for (const vars of [{ first: 0 }, { first: 1001 }, { after: 'res_nope' }]) {
        expect(onlyError(await list(vars)).extensions?.code).toBe('BAD_USER_INPUT');
      }
      // analysts only
      for (const role of ['storefront', 'oms'] as const) {
        const r = await list({ sku }, role);
        expect(onlyError(r).extensions?.code).toBe('FORBIDDEN');
        expect(r.body.data?.reservations ?? null).toBeNull();
      }
    });
  });

  describe('Mutation.routeOrder', () => {
    it('reserve: true holds exactly the plan it returns; a retry with the key answers the same plan and hold', async () => {
      const a = h.fresh();
      const b = h.fresh();
      h.stock(a, { east: 4, central: 6 });
      h.stock(b, { central: 3 });
      const order = {
        lines: [
          { sku: a, quantity: 7 },
          { sku: b, quantity: 2 },
        ],
        channel: 'web',
      };
      const k = key('route');
      const r = await demo.gql<{ routeOrder: { replayed: boolean; plan: Plan; reservation: Reservation } }>(
        ROUTE_MUTATION,
        { order, key: k, reference: 'ORD-R', ttl: 300 },
        h.as('oms'),
      );
      expect(r.body.errors).toBeUndefined();
      const { plan, reservation, replayed } = r.body.data!.routeOrder;
      expect(replayed).toBe(false);
      expect(plan.complete).toBe(true);
      const planned = plan.shipments.flatMap((s) => s.lines.map((l) => `${l.sku}@${s.location.id}=${l.quantity}`)).sort();
      const held = reservation.lines.map((l) => `${l.sku}@${l.location.id}=${l.quantity}`).sort();
      expect(held).toEqual(planned);
      expect(reservation).toMatchObject({ status: 'ACTIVE', reference: 'ORD-R', channel: 'web' });
      expect(ms(reservation.expiresAt)! - ms(reservation.createdAt)!).toBe(300_000);
      const figuresA = await h.figures(a);
      const figuresB = await h.figures(b);
      expect(figuresA.reserved).toBe(7);
      expect(figuresB.reserved).toBe(2);
      for (const l of reservation.lines) expect((l.sku === a ? figuresA : figuresB).at[l.location.id]!.reserved).toBeGreaterThanOrEqual(l.quantity);

      const again = await demo.gql<{ routeOrder: { replayed: boolean; plan: Plan; reservation: Reservation } }>(
        ROUTE_MUTATION,
        { order, key: k, reference: 'ORD-R', ttl: 300 },
        h.as('oms'),
      );
      expect(again.body.errors).toBeUndefined();
      expect(again.body.data!.routeOrder).toEqual({ replayed: true, plan, reservation });
      expect((await h.figures(a)).reserved).toBe(7);

      // the same key for another order
      const conflict = await demo.gql(
        ROUTE_MUTATION,
        { order: { ...order, lines: [{ sku: a, quantity: 1 }] }, key: k, reference: 'ORD-R', ttl: 300 },
        h.as('oms'),
      );
      expect(conflict.status).toBe(422);
      expect(onlyError(conflict).extensions?.code).toBe('IDEMPOTENCY_CONFLICT');

      // storefronts do not route orders
      const sf = await demo.gql(ROUTE_MUTATION, { order, key: key('route') }, h.as('storefront'));
      expect(onlyError(sf).extensions?.code).toBe('FORBIDDEN');
      expect((await h.figures(a)).reserved).toBe(7);
    });

    it('holds only what the plan ships when it cannot ship everything', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 2, central: 1 });
      const r = await demo.gql<{ routeOrder: { plan: Plan; reservation: Reservation } }>(
        ROUTE_MUTATION,
        { order: { lines: [{ sku, quantity: 5 }], channel: 'web' }, key: key('route-part') },
        h.as('oms'),
      );
      expect(r.body.errors).toBeUndefined();
      const { plan, reservation } = r.body.data!.routeOrder;
      expect(plan.complete).toBe(false);
      expect(plan.unfulfilled).toEqual([{ sku, quantity: 2 }]);
      expect(reservation.lines.reduce((s, l) => s + l.quantity, 0)).toBe(3);
      expect(await h.figures(sku, 'web')).toMatchObject({ reserved: 3 });
    });

    it('reserve: false plans only; reserve without a key is BAD_USER_INPUT', async () => {
      const sku = h.fresh();
      h.stock(sku, { east: 5 });
      const order = { lines: [{ sku, quantity: 2 }], channel: 'web' };
      const r = await demo.gql<{ routeOrder: { replayed: boolean; plan: Plan; reservation: null } }>(ROUTE_MUTATION, { order, reserve: false }, h.as('oms'));
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.routeOrder).toMatchObject({ replayed: false, reservation: null, plan: { complete: true } });
      expect(r.body.data!.routeOrder.plan.shipments).toEqual([{ location: { id: 'DC-EAST' }, lines: [{ sku, quantity: 2 }] }]);
      expect((await h.figures(sku)).reserved).toBe(0);

      for (const k of [undefined, '', '  ']) {
        const e = onlyError(await demo.gql(ROUTE_MUTATION, { order, key: k }, h.as('oms')));
        expect(e.extensions?.code).toBe('BAD_USER_INPUT');
        expect(e.message).toBe('Invalid reservation: idempotencyKey is required to reserve (or pass reserve: false).');
      }
      const ttl = onlyError(await demo.gql(ROUTE_MUTATION, { order, key: key('route-ttl'), ttl: 99_999 }, h.as('oms')));
      expect(ttl.message).toContain('ttlSeconds 99999 is over the maximum of 14400');
      expect((await h.figures(sku)).reserved).toBe(0);
    });
  });
});

describe('the hand-over of a confirmed hold to the source that takes its order', () => {
  let demo: DemoApp;
  let h: ReturnType<typeof harness>;
  const clock = testClock();

  beforeAll(async () => {
    demo = await startDemoApp({
      skus: 30,
      now: clock.now,
      override: { reservations: SETTINGS },
      // the demo's WMS shows the orders it has taken over in pick_orders, by the shop's order
      // reference, mapped as its `orders` (src/cli/demo-data.ts)
      prepare: (dir) => {
        const db = new Database(join(dir, 'wms.sqlite'), { readonly: true });
        expect(db.prepare('select count(*) as n from pick_orders').get()).toEqual({ n: 0 });
        db.close();
      },
    });
    h = harness(demo, clock);
  });
  afterAll(async () => {
    h?.close();
    await demo?.close();
  });

  it('counts the units once at every step: held, confirmed, taken by the WMS, handed over', async () => {
    const sku = h.fresh();
    const { wms: item } = codes(sku);
    h.stock(sku, { east: 10 });
    const free = async () => (await h.figures(sku)).at['DC-EAST']!;
    expect(await free()).toMatchObject({ onHand: 10, reserved: 0, available: 10 });

    const res = await h.hold({ idempotencyKey: 'handover-1', lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }], ttlSeconds: 60 });
    expect(await free()).toMatchObject({ onHand: 10, reserved: 3, available: 7 });

    const c = await demo.gql<{ confirmReservation: Reservation }>(CONFIRM, { id: res.id, reference: 'R-1001' }, h.as('oms'));
    expect(c.body.data!.confirmReservation).toMatchObject({ status: 'CONFIRMED', counting: true });
    expect(await free()).toMatchObject({ onHand: 10, reserved: 3, available: 7 });
    // the WMS has not seen the order: a sweep changes nothing, even past the hold's TTL
    clock.advance(61);
    expect((await h.sweep()).handedOver).toBe(0);
    expect(await h.get(res.id)).toMatchObject({ status: 'CONFIRMED', counting: true, handedOverAt: null });
    expect(await free()).toMatchObject({ onHand: 10, reserved: 3, available: 7 });

    // the WMS takes the order and picks it (it deducts at pick): for now the units count twice, never free
    h.wms.transaction(() => {
      h.wms.prepare('insert into pick_orders (order_ref, item_code, wh, qty) values (?, ?, ?, ?)').run('R-1001', item, 'EAST', 3);
      h.wms.prepare(`update bin_stock set qty = qty - 3 where item_code = ? and wh = 'EAST'`).run(item);
    })();
    expect(await free()).toMatchObject({ onHand: 7, reserved: 3, available: 4 });

    // the sweep hands the hold over: the WMS's own figure counts the units now, once
    const swept = await h.sweep();
    expect(swept.handedOver).toBe(1);
    const after = await h.get(res.id);
    expect(after).toMatchObject({ status: 'CONFIRMED', counting: false, countsUntil: null, handedOverBy: 'wms' });
    expect(ms(after!.handedOverAt)).toBeGreaterThanOrEqual(ms(after!.confirmedAt)!);
    expect(await free()).toMatchObject({ onHand: 7, reserved: 0, available: 7 });
    // and stays so: handed over once, not again
    expect((await h.sweep()).handedOver).toBe(0);
    clock.advance(SETTINGS.confirmedHoldSeconds + 1);
    expect(await free()).toMatchObject({ onHand: 7, reserved: 0, available: 7 });
    expect((await h.get(res.id))!.handedOverBy).toBe('wms');
  });

  it('leaves holds alone whose reference the source does not have, or that have none', async () => {
    const sku = h.fresh();
    h.stock(sku, { east: 10 });
    const withRef = await h.hold({ idempotencyKey: 'handover-2', lines: [{ sku, quantity: 2, locationId: 'DC-EAST' }], reference: 'R-2002' });
    const noRef = await h.hold({ idempotencyKey: 'handover-3', lines: [{ sku, quantity: 1, locationId: 'DC-EAST' }] });
    await demo.gql(CONFIRM, { id: withRef.id }, h.as('oms'));
    await demo.gql(CONFIRM, { id: noRef.id }, h.as('oms'));
    // an order with another reference, and one that only starts with it
    h.wms
      .prepare('insert into pick_orders (order_ref, item_code, wh, qty) values (?, ?, ?, ?), (?, ?, ?, ?)')
      .run('R-2003', 'x', 'EAST', 1, 'R-2002-B', 'x', 'EAST', 1);
    expect((await h.sweep()).handedOver).toBe(0);
    expect(await h.get(withRef.id)).toMatchObject({ status: 'CONFIRMED', reference: 'R-2002', counting: true, handedOverAt: null });
    expect(await h.get(noRef.id)).toMatchObject({ status: 'CONFIRMED', reference: null, counting: true });
    expect((await h.figures(sku)).at['DC-EAST']).toMatchObject({ reserved: 3, available: 7 });
    // the reference given at reserve time is the one matched
    h.wms.prepare('insert into pick_orders (order_ref, item_code, wh, qty) values (?, ?, ?, ?)').run('R-2002', 'x', 'EAST', 2);
    expect((await h.sweep()).handedOver).toBe(1);
    expect(await h.get(withRef.id)).toMatchObject({ handedOverBy: 'wms', counting: false });
    expect(await h.get(noRef.id)).toMatchObject({ handedOverAt: null, counting: true });
  });
});

describe('the hand-over when the gateway reads the WMS through a mirror', () => {
  let demo: DemoApp;
  let h: ReturnType<typeof harness>;
  const clock = testClock();
  const poll = () => demo.app.runtime.feeds.find((f) => f.name === 'wms/poll') as Feed & { pollNow(): Promise<void> };

  beforeAll(async () => {
    demo = await startDemoApp({
      skus: 30,
      now: clock.now,
      mirrors: true,
      override: { reservations: SETTINGS },
      // the WMS mirrored by a poll feed the test drives itself (pollNow); the 3PL read live
      editConfig: wmsMirroredByPoll,
    });
    await demo.app.mirrorsLoaded;
    h = harness(demo, clock);
  });
  afterAll(async () => {
    h?.close();
    await demo?.close();
  });

  it('waits until the mirror has caught up with the order: the unit is never free twice', async () => {
    const sku = h.fresh();
    const { wms: item } = codes(sku);
    h.stock(sku, { east: 10 });
    await poll().pollNow();
    const free = async () => (await h.figures(sku)).at['DC-EAST']!;
    expect(await free()).toMatchObject({ onHand: 10, reserved: 0, available: 10 });

    const res = await h.hold({ idempotencyKey: 'mirror-1', lines: [{ sku, quantity: 3, locationId: 'DC-EAST' }] });
    await demo.gql(CONFIRM, { id: res.id, reference: 'R-3003' }, h.as('oms'));
    expect(await free()).toMatchObject({ onHand: 10, reserved: 3, available: 7 });

    // the WMS takes and picks the order; the mirror has not read it yet
    const stamp = new Date(clock.now().getTime()).toISOString().slice(0, 19) + 'Z';
    h.wms.transaction(() => {
      h.wms.prepare('insert into pick_orders (order_ref, item_code, wh, qty) values (?, ?, ?, ?)').run('R-3003', item, 'EAST', 3);
      h.wms.prepare(`update bin_stock set qty = qty - 3, updated_at = ? where item_code = ? and wh = 'EAST'`).run(stamp, item);
    })();
    // the sweeper sees the order in the WMS itself, but the mirror still shows the 10: no hand-over yet
    expect((await h.sweep()).handedOver).toBe(0);
    expect(await h.get(res.id)).toMatchObject({ status: 'CONFIRMED', counting: true, handedOverAt: null });
    expect(await free()).toMatchObject({ onHand: 10, reserved: 3, available: 7 });

    // the mirror reads the pick: counted twice for a moment, never free
    await poll().pollNow();
    expect(await free()).toMatchObject({ onHand: 7, reserved: 3, available: 4 });
    expect((await h.sweep()).handedOver).toBe(1);
    expect(await h.get(res.id)).toMatchObject({ handedOverBy: 'wms', counting: false });
    expect(await free()).toMatchObject({ onHand: 7, reserved: 0, available: 7 });
  });
});
