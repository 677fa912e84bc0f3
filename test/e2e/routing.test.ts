/**
 * routeOrder over HTTP against the demo systems: plans that never exceed what availability
 * says, stale and negative locations never used, a source down leaving its locations out,
 * one batched read per source, and bad orders refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';

const PLAN = `query R($order: RouteOrderInput!) {
  routeOrder(order: $order) {
    complete strategy method methodDetail
    shipments { location { id } lines { sku quantity } distanceKm }
    unfulfilled { sku quantity reason detail }
    trace { location { id } used rank distanceKm reasons detail figures { sku requested available allocated flags } }
  }
}`;

interface Plan {
  complete: boolean;
  method: 'PRIORITY_ORDER' | 'DISTANCE_ORDER' | 'EXHAUSTIVE_SEARCH' | 'GREEDY_HEURISTIC';
  methodDetail: string;
  shipments: Array<{ location: { id: string }; lines: Array<{ sku: string; quantity: number }>; distanceKm: number | null }>;
  unfulfilled: Array<{ sku: string; quantity: number; reason: string; detail: string }>;
  trace: Array<{
    location: { id: string };
    used: boolean;
    rank: number | null;
    reasons: string[];
    detail: string;
    figures: Array<{ sku: string; available: number; allocated: number; flags: string[] }>;
  }>;
}

const CHICAGO = { latitude: 41.88, longitude: -87.63 };
const sku = (i: number) => `SKU-${String(i).padStart(6, '0')}`;

describe('routeOrder on the demo', () => {
  let demo: DemoApp;
  const plan = async (order: Record<string, unknown>) => {
    const r = await demo.gql<{ routeOrder: Plan }>(PLAN, { order });
    expect(r.body.errors).toBeUndefined();
    return { plan: r.body.data!.routeOrder, headers: r.headers };
  };
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 300 });
  });
  afterAll(() => demo?.close());

  it('never assigns more than availability promises, reading each source once', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => ({ sku: sku(i * 5 + 1), quantity: 20 + (i % 7) * 15 }));
    const { plan: p, headers } = await plan({ lines, destination: CHICAGO, channel: 'web' });
    const counts = statements(headers);
    expect([...counts.keys()].sort()).toEqual(['erp/stock', 'tpl/stock', 'wms/stock']);
    for (const n of counts.values()) expect(n).toBe(1);

    const avail = await demo.gql<{
      availability: Array<{
        sku: string;
        byLocation: Array<{ location: { id: string }; available: number; counted: boolean; provenance: { stale: boolean } }>;
      }>;
    }>('query A($skus: [ID!]!) { availability(skus: $skus) { sku byLocation { location { id } available counted provenance { stale } } } }', {
      skus: lines.map((l) => l.sku),
    });
    const can = new Map<string, number>();
    for (const a of avail.body.data!.availability) {
      for (const l of a.byLocation) if (l.counted && !l.provenance.stale) can.set(`${a.sku}@${l.location.id}`, l.available);
    }
    let shippedUnits = 0;
    for (const s of p.shipments) {
      expect(['DC-EAST', 'DC-CENTRAL']).toContain(s.location.id); // web channel, 3PL stale, store retail-only
      for (const l of s.lines) {
        expect(l.quantity).toBeLessThanOrEqual(can.get(`${l.sku}@${s.location.id}`) ?? 0);
        shippedUnits += l.quantity;
      }
    }
    const unfilled = p.unfulfilled.reduce((n, u) => n + u.quantity, 0);
    expect(shippedUnits + unfilled).toBe(lines.reduce((n, l) => n + l.quantity, 0));
    expect(p.trace.map((t) => t.location.id).sort()).toEqual(['3PL-WEST', 'DC-CENTRAL', 'DC-EAST', 'IN-TRANSIT', 'STORE-NYC']);
    expect(p.trace.find((t) => t.location.id === 'STORE-NYC')?.reasons).toEqual(['NOT_IN_CHANNEL']);
    expect(p.trace.find((t) => t.location.id === 'IN-TRANSIT')?.reasons).toEqual(['NOT_SELLABLE']);
  });

  it('never uses the stale 3PL snapshot', async () => {
    const s = demo.facts.staleTpl[0]!;
    const { plan: p } = await plan({ lines: [{ sku: s, quantity: 1 }], excludeLocationIds: ['DC-EAST', 'DC-CENTRAL', 'STORE-NYC'] });
    expect(p.complete).toBe(false);
    const tpl = p.trace.find((t) => t.location.id === '3PL-WEST')!;
    expect(tpl).toMatchObject({ used: false, reasons: ['NO_STOCK', 'STALE_EXCLUDED'] });
    expect(tpl.figures[0]!.flags).toContain('STALE');
  });

  it('never uses a location with a negative on-hand', async () => {
    const s = demo.facts.negativeWms[0]!;
    const { plan: p } = await plan({ lines: [{ sku: s, quantity: 1 }], strategy: 'DISTANCE', destination: { latitude: 40.71, longitude: -74.0 } });
    expect(p.shipments.map((x) => x.location.id)).not.toContain('DC-EAST');
    expect(p.trace.find((t) => t.location.id === 'DC-EAST')).toMatchObject({ used: false, reasons: ['NO_STOCK', 'NEGATIVE_ON_HAND'] });
  });

  it('DISTANCE ships from the nearest location that has the stock', async () => {
    const { plan: p } = await plan({ lines: [{ sku: sku(2), quantity: 1 }], strategy: 'DISTANCE', destination: CHICAGO, channel: 'web' });
    expect(p.shipments.map((x) => x.location.id)).toEqual(['DC-CENTRAL']);
    expect(p.shipments[0]!.distanceKm).toBeLessThan(5);
    expect(p.method).toBe('DISTANCE_ORDER');
    expect(p.methodDetail).toMatch(/^distance order over \d+ candidate location\(s\)$/);
  });

  it('refuses bad orders with BAD_USER_INPUT naming every problem', async () => {
    const r = await demo.gql(PLAN, { order: { lines: [{ sku: sku(1), quantity: 0 }], strategy: 'DISTANCE', excludeLocationIds: ['MOON'] } });
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toBe(
      'Invalid order: lines[0] (SKU-000001): quantity must be at least 1, got 0; strategy DISTANCE needs a destination; unknown location id(s) in excludeLocationIds: "MOON".',
    );
    expect(statements(r.headers).size).toBe(0);
  });
});

describe('routeOrder with the WMS down', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 50, editConfig: (y) => y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite') });
  });
  afterAll(() => demo?.close());

  it('leaves the WMS locations out, says so, and names the source', async () => {
    const r = await demo.gql<{ routeOrder: Plan }>(PLAN, { order: { lines: [{ sku: sku(1), quantity: 1 }], channel: 'web' } });
    expect(r.status).toBe(200);
    expect(r.body.errors).toEqual([expect.objectContaining({ extensions: { code: 'SOURCE_UNAVAILABLE', source: 'wms' } })]);
    const p = r.body.data!.routeOrder;
    expect(p.shipments.map((s) => s.location.id)).not.toContain('DC-EAST');
    expect(p.shipments.map((s) => s.location.id)).not.toContain('DC-CENTRAL');
    for (const id of ['DC-EAST', 'DC-CENTRAL']) {
      expect(p.trace.find((t) => t.location.id === id)?.reasons).toEqual(['NO_STOCK', 'SOURCE_UNAVAILABLE']);
    }
  });
});
