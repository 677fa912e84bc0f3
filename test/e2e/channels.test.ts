/**
 * An unknown `channel` over real HTTP: every GraphQL argument `channel` (availability,
 * InventoryItem.availability, routeOrder as query and mutation, reserve) is checked against the
 * channels the config knows (the demo's locations name web and retail) and refused with
 * BAD_USER_INPUT naming the known ones. A config whose locations declare no channels serves
 * every channel from every location, so any channel is accepted there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const CALLS: [string, string][] = [
  ['availability', `query Q($c: String) { availability(skus: ["SKU-000001"], channel: $c) { sku available } }`],
  ['InventoryItem.availability', `query Q($c: String) { inventoryItem(sku: "SKU-000001") { sku availability(channel: $c) { available } } }`],
  ['routeOrder', `query Q($c: String) { routeOrder(order: { lines: [{ sku: "SKU-000001", quantity: 1 }], channel: $c }) { complete } }`],
  [
    'Mutation.routeOrder',
    `mutation M($c: String) { routeOrder(order: { lines: [{ sku: "SKU-000001", quantity: 1 }], channel: $c }, reserve: false) { plan { complete } } }`,
  ],
  [
    'reserve',
    `mutation M($c: String) { reserve(input: { idempotencyKey: "channel-check", channel: $c, lines: [{ sku: "SKU-000001", quantity: 1 }], ttlSeconds: 60 }) { reservation { id } shortfalls { code } } }`,
  ],
];

describe('a demo whose locations name channels web and retail', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 20 });
  });
  afterAll(() => demo?.close());

  it.each(CALLS)('%s: an unknown channel is BAD_USER_INPUT naming the known ones', async (_what, query) => {
    const r = await demo.gql(query, { c: 'wbe' });
    expect(r.body.errors).toHaveLength(1);
    const e = r.body.errors![0]!;
    expect(e.extensions?.code).toBe('BAD_USER_INPUT');
    expect(e.message).toMatch(/unknown channel "wbe" \(known: web, retail\)/i);
  });

  it.each(CALLS)('%s: a known channel is answered', async (_what, query) => {
    const r = await demo.gql(query, { c: 'web' });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data).not.toBeNull();
  });
});

describe('a config whose locations declare no channels', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 20, editConfig: (y) => y.replace(/, channels: \[[^\]]*\]/g, '') });
  });
  afterAll(() => demo?.close());

  it('accepts any channel: every location serves it', async () => {
    const any = await demo.gql<{ availability: { available: number }[] }>(CALLS[0]![1], { c: 'anything' });
    const none = await demo.gql<{ availability: { available: number }[] }>(CALLS[0]![1], { c: null });
    expect(any.body.errors).toBeUndefined();
    expect(any.body.data!.availability[0]!.available).toBe(none.body.data!.availability[0]!.available);
  });
});
