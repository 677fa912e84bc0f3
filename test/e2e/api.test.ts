/**
 * The API over real HTTP against the embedded demo (four SQLite source systems, SQLite store):
 * what a storefront, an OMS and an analyst would send, and what they must get back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';

const AVAILABILITY = `query A($skus: [ID!]!, $locationIds: [ID!], $channel: String) {
  availability(skus: $skus, locationIds: $locationIds, channel: $channel) {
    sku available onHand committed safetyStock flags
    byLocation {
      location { id }
      onHand committed safetyStock available counted flags
      provenance { source asOf stale fallback rule }
    }
  }
}`;

interface Level {
  location: { id: string };
  onHand: number;
  committed: number;
  safetyStock: number;
  available: number;
  counted: boolean;
  flags: string[];
  provenance: { source: string | null; asOf: string | null; stale: boolean; fallback: boolean; rule: string };
}
interface Avail {
  sku: string;
  available: number;
  onHand: number;
  committed: number;
  safetyStock: number;
  flags: string[];
  byLocation: Level[];
}

let demo: DemoApp;
const at = (a: Avail, id: string) => a.byLocation.find((l) => l.location.id === id);
const availability = async (skus: string[], extra: Record<string, unknown> = {}) => {
  const r = await demo.gql<{ availability: Avail[] }>(AVAILABILITY, { skus, ...extra });
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.availability;
};

beforeAll(async () => {
  demo = await startDemoApp({ skus: 400 });
});
afterAll(async () => {
  await demo?.close();
});

describe('availability', () => {
  it('answers one entry per requested SKU in request order, unknown and hostile SKUs included', async () => {
    const skus = ['SKU-000003', 'NOPE', 'SKU-000001', "x' OR 1=1 --", 'SKU-000003', ''];
    const a = await availability(skus);
    expect(a.map((x) => x.sku)).toEqual(skus);
    expect(a[1]).toEqual({ sku: 'NOPE', available: 0, onHand: 0, committed: 0, safetyStock: 0, flags: ['UNKNOWN_SKU'], byLocation: [] });
    expect(a[3]?.flags).toEqual(['UNKNOWN_SKU']);
    expect(a[4]).toEqual(a[0]);
  });

  it('gives every location a figure with provenance, and totals the counted ones', async () => {
    const [a] = await availability(['SKU-000001']);
    expect(a!.byLocation.length).toBeGreaterThan(0);
    for (const l of a!.byLocation) {
      expect(l.provenance.source).toMatch(/^(wms|tpl|erp)$/);
      expect(Number.isNaN(Date.parse(l.provenance.asOf ?? ''))).toBe(false);
      expect(l.provenance.rule).toMatch(/^quantity: /);
      expect(l.available).toBe(l.counted || !l.flags.includes('NEGATIVE_ON_HAND') ? Math.max(0, l.onHand - l.committed - l.safetyStock) : 0);
    }
    const counted = a!.byLocation.filter((l) => l.counted);
    expect(a!.available).toBe(counted.reduce((s, l) => s + l.available, 0));
    expect(a!.onHand).toBe(counted.reduce((s, l) => s + l.onHand, 0));
    expect(at(a!, 'DC-EAST')?.provenance).toMatchObject({ source: 'wms', fallback: false, stale: false, rule: 'quantity: wms > erp' });
    expect(at(a!, 'STORE-NYC')).toMatchObject({ safetyStock: 2, provenance: { source: 'erp', rule: 'quantity: erp' } });
    expect(at(a!, 'IN-TRANSIT')).toMatchObject({ counted: false, flags: ['NOT_SELLABLE'] });
  });

  it('prefers the WMS over the ERP where they disagree', async () => {
    const sku = demo.facts.pickedNotInvoiced[0]!;
    const [a] = await availability([sku], { locationIds: ['DC-EAST'] });
    expect(a!.byLocation).toHaveLength(1);
    expect(at(a!, 'DC-EAST')?.provenance.source).toBe('wms');
  });

  it('holds a negative WMS on-hand at 0, flags it, and records one anomaly', async () => {
    const sku = demo.facts.negativeWms[0]!;
    const [a] = await availability([sku]);
    const east = at(a!, 'DC-EAST')!;
    expect(east.onHand).toBeLessThan(0);
    expect(east).toMatchObject({ available: 0, counted: false });
    expect(east.flags).toContain('NEGATIVE_ON_HAND');
    expect(a!.flags).toContain('NEGATIVE_ON_HAND');
    await availability([sku]);
    await demo.app.store.anomalies.flush();
    const r = await demo.gql<{ anomalies: { nodes: unknown[] } }>(
      'query N($sku: ID!) { anomalies(filter: { statuses: [OPEN], skus: [$sku] }) { nodes { kind sku location { id } locationCode source status } } }',
      { sku },
    );
    expect(r.body.data!.anomalies.nodes).toEqual([
      { kind: 'NEGATIVE_ON_HAND', sku, location: { id: 'DC-EAST' }, locationCode: null, source: 'wms', status: 'OPEN' },
    ]);
  });

  it('falls back to the ERP where the WMS lacks the record', async () => {
    const [a] = await availability([demo.facts.missingInWmsCentral[0]!], { locationIds: ['DC-CENTRAL'] });
    expect(at(a!, 'DC-CENTRAL')).toMatchObject({
      flags: ['FALLBACK'],
      provenance: { source: 'erp', fallback: true, rule: 'quantity: wms > erp (wms: no record)' },
    });
  });

  it('flags the old 3PL snapshot as STALE (and, under `count`, still counts it)', async () => {
    const [a] = await availability([demo.facts.staleTpl[0]!], { locationIds: ['3PL-WEST'] });
    expect(at(a!, '3PL-WEST')).toMatchObject({ counted: true, flags: ['STALE'], provenance: { source: 'tpl', stale: true } });
  });

  it('narrows to a channel: the retail-only store does not serve web', async () => {
    const [a] = await availability(['SKU-000001'], { channel: 'web' });
    expect(a!.byLocation.map((l) => l.location.id)).not.toContain('STORE-NYC');
    const [r] = await availability(['SKU-000001'], { channel: 'retail' });
    expect(r!.byLocation.map((l) => l.location.id)).not.toContain('3PL-WEST');
  });

  it('answers an empty list with an empty list', async () => {
    expect(await availability([])).toEqual([]);
  });

  it('costs one statement per source per entity for 200 SKUs', async () => {
    const skus = Array.from({ length: 200 }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`);
    const r = await demo.gql<{ availability: Avail[] }>(AVAILABILITY, { skus });
    expect(r.body.data!.availability).toHaveLength(200);
    const counts = statements(r.headers);
    expect([...counts.keys()].sort()).toEqual(['erp/stock', 'tpl/stock', 'wms/stock']);
    for (const n of counts.values()) expect(n).toBe(1);
  });

  it('costs one statement per source per entity for a catalogue page with names, costs and availability', async () => {
    const r = await demo.gql<{ inventoryItems: { nodes: unknown[] } }>(
      '{ inventoryItems(first: 100) { nodes { sku name unitCost { amount } availability { available } } } }',
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.inventoryItems.nodes).toHaveLength(100);
    const counts = statements(r.headers);
    expect([...counts.keys()].sort()).toEqual(['erp/cost', 'erp/items', 'erp/stock', 'shop/items', 'tpl/stock', 'wms/stock']);
    for (const n of counts.values()) expect(n).toBe(1);
  });
});

describe('bad input', () => {
  it('names an unknown location id', async () => {
    const r = await demo.gql(AVAILABILITY, { skus: ['SKU-000001'], locationIds: ['DC-EAST', 'MOON'] });
    expect(r.status).toBe(200);
    expect(r.body.errors?.[0]).toMatchObject({ message: expect.stringContaining('"MOON"'), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('refuses more SKUs than the limit (default 500)', async () => {
    const r = await demo.gql(AVAILABILITY, { skus: Array.from({ length: 501 }, (_, i) => `S${i}`) });
    expect(r.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^Too many SKUs: the operation asks about 501 in all/),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(statements(r.headers).size).toBe(0);
  });

  it('reports a wrong variable type without running anything', async () => {
    const r = await demo.gql(AVAILABILITY, { skus: 'SKU-000001', locationIds: [1, { a: 1 }] });
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(statements(r.headers).size).toBe(0);
  });

  it('answers syntax and validation errors with their codes', async () => {
    expect((await demo.gql('{ availability(skus: ["a"] { sku } }')).body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect((await demo.gql('{ availability(skus: ["a"]) { price } }')).body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const res = await fetch(demo.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': demo.keys.admin },
      body: JSON.stringify({ query: `{ locations { id } } #${'x'.repeat(1_100_000)}` }),
    });
    expect(res.status).toBe(413);
    expect((await demo.gql('{ locations { id } }')).status).toBe(200);
  });

  it('refuses invalid JSON with 400', async () => {
    const res = await fetch(demo.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': demo.keys.admin }, body: '{"query": ' });
    expect(res.status).toBe(400);
  });
});

describe('items, SKU map, locations, sources', () => {
  it('gives an item its name by precedence, exact cost, aliases and availability', async () => {
    const r = await demo.gql<{
      inventoryItem: {
        sku: string;
        name: string;
        unitCost: { amount: string; currency: string; source: string };
        aliases: Array<{ system: string; code: string }>;
        availability: { sku: string };
      };
    }>('{ inventoryItem(sku: "SKU-000001") { sku name unitCost { amount currency source } aliases { system code } availability { sku } } }');
    const item = r.body.data!.inventoryItem;
    expect(item.unitCost.amount).toMatch(/^\d+\.\d{4}$/);
    expect(item.unitCost).toMatchObject({ currency: 'USD', source: 'erp' });
    expect(item.aliases).toContainEqual({ system: 'erp', code: '100-000001' });
    expect(item.aliases).toContainEqual({ system: 'wms', code: 'ITM0000001' });
    expect(item.availability.sku).toBe('SKU-000001');
    expect(item.name.length).toBeGreaterThan(0);
  });

  it('falls back to the ERP name when the shop lacks the SKU', async () => {
    const sku = demo.facts.notInShop.find((s) => !demo.facts.discontinued.includes(s))!;
    const r = await demo.gql<{ inventoryItem: { name: string | null; aliases: Array<{ system: string }> } }>(
      `{ inventoryItem(sku: "${sku}") { name aliases { system } } }`,
    );
    expect(r.body.data!.inventoryItem.aliases.map((a) => a.system)).not.toContain('shop');
    expect(r.body.data!.inventoryItem.name).toBeTruthy();
  });

  it('returns null for an unknown item', async () => {
    expect((await demo.gql('{ inventoryItem(sku: "NOPE") { sku } }')).body).toEqual({ data: { inventoryItem: null } });
  });

  it('walks the catalogue with cursors', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r: Awaited<
        ReturnType<
          typeof demo.gql<{
            inventoryItems: { edges: Array<{ cursor: string; node: { sku: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
          }>
        >
      > = await demo.gql(
        'query P($after: String) { inventoryItems(first: 150, after: $after) { edges { cursor node { sku } } pageInfo { hasNextPage endCursor } } }',
        { after },
      );
      const page = r.body.data!.inventoryItems;
      seen.push(...page.edges.map((e) => e.node.sku));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(400);
    expect([...seen].sort()).toEqual(seen);
    expect((await demo.gql('{ inventoryItems(first: 0) { nodes { sku } } }')).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('resolves a system code to its canonical SKU, and an orphan code to null', async () => {
    const r = await demo.gql<{ a: { sku: string } | null; b: { sku: string } | null }>(
      `{ a: resolveSku(system: "wms", code: "ITM0000002") { sku } b: resolveSku(system: "wms", code: "${demo.facts.orphanWmsCodes[0]}") { sku } }`,
    );
    expect(r.body.data).toEqual({ a: { sku: 'SKU-000002' }, b: null });
  });

  it('lists locations and sources', async () => {
    const r = await demo.gql<{
      locations: Array<{ id: string; sellable: boolean; codes: Array<{ system: string; code: string }> }>;
      sources: Array<{ name: string; kind: string; entities: string[]; stalePolicy: string }>;
    }>('{ locations { id sellable codes { system code } } sources { name kind entities maxAgeSeconds stalePolicy } }');
    expect(r.body.data!.locations.map((l) => l.id)).toEqual(['DC-EAST', 'DC-CENTRAL', 'STORE-NYC', '3PL-WEST', 'IN-TRANSIT']);
    expect(r.body.data!.locations[0]!.codes).toEqual([
      { system: 'wms', code: 'EAST' },
      { system: 'erp', code: 'East DC - ACME' },
    ]);
    expect(r.body.data!.sources.map((s) => s.name).sort()).toEqual(['erp', 'shop', 'tpl', 'wms']);
    // the closed sets are enums: the config's `sql`, `csv`, `count` upper-cased
    expect(Object.fromEntries(r.body.data!.sources.map((s) => [s.name, [s.kind, s.stalePolicy]]))).toEqual({
      erp: ['SQL', 'COUNT'],
      wms: ['SQL', 'COUNT'],
      shop: ['SQL', 'COUNT'],
      tpl: ['CSV', 'COUNT'],
    });
  });
});

describe('HTTP', () => {
  it('serves health and readiness', async () => {
    const base = demo.url.replace(/\/graphql$/, '');
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    // readiness reports each source's health beside it (a source down never makes the instance unready)
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({
      status: 'ready',
      sources: { wms: { status: 'UP', breaker: 'CLOSED', lastError: null }, erp: { status: 'UP', breaker: 'CLOSED' } },
    });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  it('serves the explorer to a browser and echoes a request id', async () => {
    const res = await fetch(demo.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/graphiql/i);
    const r = await demo.gql('{ locations { id } }', {}, { 'x-request-id': 'abc-123' });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
  });
});
