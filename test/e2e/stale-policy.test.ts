/**
 * `stalePolicy: onHandOnly` through the real gateway over HTTP: the demo's 3PL file is about 50
 * hours old, past its 26-hour maxAgeSeconds. Under `onHandOnly` its figure still counts in the
 * on-hand totals but promises nothing: available 0 at 3PL-WEST, and neither routeOrder nor a
 * reservation can take it, even with `routing.useStaleStock: true`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

interface Level {
  location: { id: string };
  onHand: number;
  committed: number;
  available: number;
  counted: boolean;
  flags: string[];
  provenance: { source: string; stale: boolean };
}
interface Avail {
  sku: string;
  available: number;
  onHand: number;
  byLocation: Level[];
}

let demo: DemoApp;
beforeAll(async () => {
  demo = await startDemoApp({
    skus: 100,
    editConfig: (y) => y.replace(/(kind: csv[\s\S]*?stalePolicy: )count/, '$1onHandOnly'),
    override: { routing: { useStaleStock: true } },
  });
});
afterAll(() => demo?.close());

/** A SKU the 3PL holds units of (on hand above committed), with its availability. */
async function tplSku(): Promise<{ sku: string; a: Avail; west: Level }> {
  const skus = demo.facts.staleTpl.slice(0, 40);
  const r = await demo.gql<{ availability: Avail[] }>(
    `query A($skus: [ID!]!) { availability(skus: $skus, channel: "web") { sku available onHand byLocation { location { id } onHand committed available counted flags provenance { source stale } } } }`,
    { skus },
  );
  expect(r.body.errors).toBeUndefined();
  for (const a of r.body.data!.availability) {
    const west = a.byLocation.find((l) => l.location.id === '3PL-WEST');
    if (west !== undefined && west.onHand - west.committed > 0) return { sku: a.sku, a, west };
  }
  throw new Error('the demo has no 3PL SKU with stock to promise');
}

describe('a 3PL file older than maxAgeSeconds under stalePolicy: onHandOnly', () => {
  it('counts on hand, promises nothing', async () => {
    const { a, west } = await tplSku();
    expect(west).toMatchObject({ available: 0, counted: true, flags: ['STALE'], provenance: { source: 'tpl', stale: true } });
    const counted = a.byLocation.filter((l) => l.counted);
    // the 3PL's units are in the on-hand total, not in what can be promised
    expect(a.onHand).toBe(counted.reduce((s, l) => s + l.onHand, 0));
    expect(counted.map((l) => l.location.id)).toContain('3PL-WEST');
    expect(a.available).toBe(counted.filter((l) => l.location.id !== '3PL-WEST').reduce((s, l) => s + l.available, 0));
  });

  it('routeOrder cannot ship from it, though routing.useStaleStock is true', async () => {
    const { sku } = await tplSku();
    const others = ['DC-EAST', 'DC-CENTRAL', 'STORE-NYC', 'IN-TRANSIT'];
    const r = await demo.gql<{
      routeOrder: { complete: boolean; shipments: unknown[]; unfulfilled: { reason: string }[]; trace: { location: { id: string }; reasons: string[] }[] };
    }>(
      `query R($sku: ID!, $ex: [ID!]) { routeOrder(order: { lines: [{ sku: $sku, quantity: 1 }], channel: "web", excludeLocationIds: $ex }) { complete shipments { location { id } } unfulfilled { reason } trace { location { id } reasons } } }`,
      { sku, ex: others },
    );
    expect(r.body.errors).toBeUndefined();
    const plan = r.body.data!.routeOrder;
    expect(plan).toMatchObject({ complete: false, shipments: [], unfulfilled: [{ reason: 'INSUFFICIENT_STOCK' }] });
    expect(plan.trace.find((t) => t.location.id === '3PL-WEST')?.reasons).toEqual(['NO_STOCK', 'STALE_EXCLUDED']);
  });

  it('a reservation at it holds nothing, and says why', async () => {
    const { sku } = await tplSku();
    const r = await demo.gql<{ reserve: { reservation: unknown; shortfalls: { locationId: string; available: number; reserved: number; detail: string }[] } }>(
      `mutation M($sku: ID!) { reserve(input: { idempotencyKey: "stale-onhandonly-1", channel: "web", lines: [{ sku: $sku, quantity: 1, locationId: "3PL-WEST" }] }) { reservation { id } shortfalls { locationId available reserved detail } } }`,
      { sku },
    );
    expect(r.body.errors).toBeUndefined();
    const out = r.body.data!.reserve;
    expect(out.reservation).toBeNull();
    expect(out.shortfalls).toHaveLength(1);
    expect(out.shortfalls[0]).toMatchObject({ locationId: '3PL-WEST', available: 0, reserved: 0 });
    expect(out.shortfalls[0]?.detail).toMatch(/stalePolicy is onHandOnly/);
  });
});
