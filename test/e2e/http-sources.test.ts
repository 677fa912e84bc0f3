/**
 * The real gateway over HTTP with two API sources named by preset only, `preset: shipbob` and
 * `preset: shopify`, against local stubs in those APIs' real shapes (test/helpers/api-stubs.ts),
 * tokens from the environment: availability per location and in total, provenance, cost and
 * names, the x-source-statements count of HTTP requests, and a rate-limited API costing only
 * its own figures with a clear SOURCE_UNAVAILABLE reason.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import { shipBobItem, startShipBobStub, startShopifyStub, type ShopifyItem } from '../helpers/api-stubs.js';
import { statements } from '../helpers/demo-app.js';

const SHIPBOB_TOKEN = 'pat-e2e-shipbob';
const SHOPIFY_TOKEN = 'shpat_e2e_shopify';

const CONFIG = `store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  shipbob:
    preset: shipbob
    baseUrl: \${SHIPBOB_URL}
    auth: { bearer: "\${SHIPBOB_TOKEN}" }
    stock: { params: { PageSize: 2 } }
  shop:
    preset: shopify
    baseUrl: \${SHOPIFY_URL}
    auth: { header: X-Shopify-Access-Token, value: "\${SHOPIFY_TOKEN}" }
locations:
  - { id: SB-CICERO, codes: { shipbob: "10" }, priority: 1 }
  - { id: SB-RENO, codes: { shipbob: "20" }, priority: 2 }
  - { id: SHOP-STORE, codes: { shop: "gid://shopify/Location/1" }, priority: 3 }
precedence: { quantity: [shipbob, shop], cost: [shop], name: [shop, shipbob] }
auth: { open: true }
`;

const SHOPIFY_ITEMS: ShopifyItem[] = [
  {
    id: 'gid://shopify/InventoryItem/1',
    sku: 'SH-TEE',
    unitCost: { amount: '4.20', currencyCode: 'USD' },
    displayName: 'Tee - Blue / M',
    levels: [
      {
        location: { id: 'gid://shopify/Location/1', name: 'Store' },
        quantities: { available: 3, on_hand: 5, committed: 2 },
        updatedAt: new Date().toISOString(),
      },
    ],
  },
  {
    id: 'gid://shopify/InventoryItem/2',
    sku: 'SH-CAP',
    unitCost: { amount: '2.00', currencyCode: 'USD' },
    displayName: 'Cap',
    levels: [{ location: { id: 'gid://shopify/Location/1', name: 'Store' }, quantities: { on_hand: 1, committed: 0 }, updatedAt: new Date().toISOString() }],
  },
];

const Q = `{ availability(skus: ["TEE-M", "CAP"]) {
  sku available onHand committed
  byLocation { location { id } onHand committed available provenance { source } }
} }`;

interface Level {
  location: { id: string };
  onHand: number;
  committed: number;
  available: number;
  provenance: { source: string | null };
}
interface Answer {
  status: number;
  headers: Headers;
  body: {
    data?: { availability: { sku: string; available: number; onHand: number; committed: number; byLocation: Level[] }[] };
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

describe('ShipBob and Shopify sources by preset, through the real gateway', () => {
  let dir: string;
  let app: App;
  let url: string;
  let sb: Awaited<ReturnType<typeof startShipBobStub>>;
  let shop: Awaited<ReturnType<typeof startShopifyStub>>;

  beforeAll(async () => {
    sb = await startShipBobStub({
      token: SHIPBOB_TOKEN,
      items: [shipBobItem(1, 'SB-TEE-M', { 10: [20, 4], 20: [6, 0] }), shipBobItem(2, 'SB-MUG', { 10: [3, 0] }), shipBobItem(3, 'SB-CAP', { 20: [2, 2] })],
    });
    shop = await startShopifyStub({ token: SHOPIFY_TOKEN, items: SHOPIFY_ITEMS });
    dir = mkdtempSync(join(tmpdir(), 'ig-e2e-http-'));
    writeFileSync(join(dir, 'inventory-graph.yaml'), CONFIG);
    const config = loadConfig(join(dir, 'inventory-graph.yaml'), { SHIPBOB_URL: sb.url, SHIPBOB_TOKEN, SHOPIFY_URL: shop.url, SHOPIFY_TOKEN });
    app = await createApp(config, { logger: createLogger('silent') });
    await app.store.skus.import([
      {
        sku: 'TEE-M',
        name: 'Tee',
        aliases: [
          { system: 'shipbob', code: 'SB-TEE-M' },
          { system: 'shop', code: 'SH-TEE' },
        ],
      },
      {
        sku: 'CAP',
        name: 'Cap',
        aliases: [
          { system: 'shipbob', code: 'SB-CAP' },
          { system: 'shop', code: 'SH-CAP' },
        ],
      },
    ]);
    url = await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close({ graceMs: 0 });
    await sb?.close();
    await shop?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function gql(query: string): Promise<Answer> {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
  }

  it('answers availability per location from both APIs, each counted in requests', async () => {
    const before = { sb: sb.requests, shop: shop.requests };
    const r = await gql(Q);
    expect(r.body.errors).toBeUndefined();
    const [tee, cap] = r.body.data!.availability;
    const at = (a: typeof tee, id: string) => a!.byLocation.find((l) => l.location.id === id);
    expect(at(tee, 'SB-CICERO')).toEqual({ location: { id: 'SB-CICERO' }, onHand: 20, committed: 4, available: 16, provenance: { source: 'shipbob' } });
    expect(at(tee, 'SB-RENO')).toMatchObject({ onHand: 6, committed: 0, available: 6, provenance: { source: 'shipbob' } });
    expect(at(tee, 'SHOP-STORE')).toMatchObject({ onHand: 5, committed: 2, available: 3, provenance: { source: 'shop' } });
    expect(tee).toMatchObject({ sku: 'TEE-M', onHand: 31, committed: 6, available: 25 });
    expect(cap).toMatchObject({ sku: 'CAP', onHand: 3, committed: 2, available: 1 });
    expect(at(cap, 'SB-RENO')).toMatchObject({ onHand: 2, committed: 2, available: 0 });
    // ShipBob cannot filter by SKU: its 3 items in pages of 2 (the preset's PageSize overridden); Shopify: one search for both codes
    expect(sb.requests - before.sb).toBe(2);
    expect(shop.requests - before.shop).toBe(1);
    expect(shop.queries.at(-1)?.variables.query).toBe('sku:"SH-TEE" OR sku:"SH-CAP"');
    expect(statements(r.headers)).toEqual(
      new Map([
        ['shipbob/stock', 2],
        ['shop/stock', 1],
      ]),
    );
  });

  it('lists both API sources as kind HTTP', async () => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ sources { name kind stalePolicy } }' }),
    });
    const body = (await r.json()) as { data: { sources: Array<{ name: string; kind: string; stalePolicy: string }> } };
    expect(body.data.sources.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'shipbob', kind: 'HTTP', stalePolicy: 'COUNT' },
      { name: 'shop', kind: 'HTTP', stalePolicy: 'COUNT' },
    ]);
  });

  it('takes cost and names from Shopify', async () => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ inventoryItem(sku: "TEE-M") { name unitCost { amount currency source } } }' }),
    });
    expect(await r.json()).toEqual({ data: { inventoryItem: { name: 'Tee - Blue / M', unitCost: { amount: '4.20', currency: 'USD', source: 'shop' } } } });
  });

  it('loses only the rate-limited API’s figures, saying why', async () => {
    sb.faults.rateLimit = { times: 1, retryAfter: '30' };
    const r = await gql(Q);
    expect(r.status).toBe(200);
    expect(r.body.errors).toEqual([
      {
        message:
          'Source "shipbob" is unavailable (rate limited by the API: Retry-After 30 s exceeds the 2000 ms deadline); its figures are missing or fell back to the next source.',
        extensions: { code: 'SOURCE_UNAVAILABLE', source: 'shipbob' },
      },
    ]);
    const tee = r.body.data!.availability[0]!;
    expect(tee.byLocation.find((l) => l.location.id === 'SHOP-STORE')).toMatchObject({ available: 3, provenance: { source: 'shop' } });
    expect(JSON.stringify(r.body)).not.toContain(SHIPBOB_TOKEN);
  });
});

describe('a ShipBob source mirrored: loaded once page by page, then answered from memory', () => {
  let dir: string;
  let app: App;
  let url: string;
  let sb: Awaited<ReturnType<typeof startShipBobStub>>;

  beforeAll(async () => {
    sb = await startShipBobStub({
      token: SHIPBOB_TOKEN,
      items: [shipBobItem(1, 'SB-TEE-M', { 10: [20, 4], 20: [6, 0] }), shipBobItem(2, 'SB-MUG', { 10: [3, 0] }), shipBobItem(3, 'SB-CAP', { 20: [2, 2] })],
    });
    dir = mkdtempSync(join(tmpdir(), 'ig-e2e-http-mirror-'));
    writeFileSync(
      join(dir, 'inventory-graph.yaml'),
      `store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  shipbob:
    preset: shipbob
    baseUrl: \${SHIPBOB_URL}
    auth: { bearer: "\${SHIPBOB_TOKEN}" }
    stock: { params: { PageSize: 2 } }
    sync: { mode: mirror }
locations:
  - { id: SB-CICERO, codes: { shipbob: "10" } }
  - { id: SB-RENO, codes: { shipbob: "20" } }
precedence: { quantity: [shipbob] }
auth: { open: true }
`,
    );
    app = await createApp(loadConfig(join(dir, 'inventory-graph.yaml'), { SHIPBOB_URL: sb.url, SHIPBOB_TOKEN }), { logger: createLogger('silent') });
    await app.store.skus.import([{ sku: 'TEE-M', name: 'Tee', aliases: [{ system: 'shipbob', code: 'SB-TEE-M' }] }]);
    url = await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close({ graceMs: 0 });
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the live figures with no request to the API per query', async () => {
    const ask = async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ availability(skus: ["TEE-M"]) { available byLocation { location { id } onHand committed } } }' }),
      });
      return { headers: res.headers, body: (await res.json()) as { data?: { availability: { available: number }[] }; errors?: unknown[] } };
    };
    // the first load reads the listing (3 items, pages of 2); answers before it is complete are not the figures yet
    let r = await ask();
    for (let i = 0; i < 100 && r.body.data?.availability[0]?.available !== 22; i++) {
      await new Promise((done) => setTimeout(done, 100));
      r = await ask();
    }
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data).toEqual({
      availability: [
        {
          available: 22,
          byLocation: [
            { location: { id: 'SB-CICERO' }, onHand: 20, committed: 4 },
            { location: { id: 'SB-RENO' }, onHand: 6, committed: 0 },
          ],
        },
      ],
    });
    const requests = sb.requests;
    for (let i = 0; i < 5; i++) expect((await ask()).body.errors).toBeUndefined();
    expect(sb.requests).toBe(requests);
    expect(statements((await ask()).headers).get('shipbob/stock') ?? 0).toBe(0);
  });
});
