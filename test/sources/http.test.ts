/**
 * `kind: http` sources against local stubs in the real shapes of ShipBob's inventory levels and
 * Shopify's Admin GraphQL (test/helpers/api-stubs.ts), over real HTTP: mappings by JSON path,
 * both kinds of pagination, batching by code, rate limits inside and beyond the deadline, auth
 * and HTTP errors in clear words, bounded answers, next links kept on the origin, records that
 * cannot be read marked, and a read cut at its deadline leaving no socket open.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, type ConfigError, type HttpSourceConfig } from '../../src/config/index.js';
import { httpSourceSchema } from '../../src/config/schema.js';
import { countingMeter } from '../../src/sources/connector.js';
import { createHttpConnector, nextLink, retryAfterMs } from '../../src/sources/http.js';
import { applyPresets } from '../../src/sources/presets/index.js';
import { shipBobItem, startShipBobStub, startShopifyStub, type ShopifyItem, type StubServer } from '../helpers/api-stubs.js';

const TOKEN = 'sb-secret-token-123';
const SHOP_TOKEN = 'shpat_secret_456';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A source as written in YAML (after interpolation), presets expanded, parsed by the schema. */
function source(s: Record<string, unknown>): HttpSourceConfig {
  const problems: string[] = [];
  const raw = applyPresets({ sources: { api: s } }, problems) as { sources: { api: unknown } };
  expect(problems).toEqual([]);
  return httpSourceSchema.parse(raw.sources.api);
}

function connector(s: Record<string, unknown>) {
  const c = createHttpConnector('api', source(s));
  cleanup.push(() => c.close());
  return c;
}

async function stub<T extends StubServer>(s: Promise<T>): Promise<T> {
  const started = await s;
  cleanup.push(() => started.close());
  return started;
}

/** Five ShipBob items at fulfillment centers 10 and 20. */
const SHIPBOB_ITEMS = [
  shipBobItem(1, 'A-1', { 10: [9, 2], 20: [4, 0] }),
  shipBobItem(2, 'A-2', { 10: [5, 5] }),
  shipBobItem(3, 'B-1', { 20: [12, 1] }),
  shipBobItem(4, 'B-2', { 10: [0, 0], 20: [3, 3] }),
  shipBobItem(5, 'C-1', { 10: [7, 0] }),
];

const shipbob = (url: string, extra: Record<string, unknown> = {}) => ({ preset: 'shipbob', baseUrl: url, auth: { bearer: TOKEN }, ...extra });

describe('ShipBob preset', () => {
  it('reads per-location quantities through every `next` page, keeping only the codes asked', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector(shipbob(sb.url, { stock: { params: { PageSize: 2 } } }));
    const counts = new Map<string, number>();
    const records = await c.fetch('stock', ['A-1', 'B-2', 'NOPE'], countingMeter(counts));
    expect(records.map(({ asOf: _, ...r }) => r).sort((a, b) => `${a.code}${a.location}`.localeCompare(`${b.code}${b.location}`))).toEqual([
      { code: 'A-1', location: '10', onHand: 9, committed: 2 },
      { code: 'A-1', location: '20', onHand: 4, committed: 0 },
      { code: 'B-2', location: '10', onHand: 0, committed: 0 },
      { code: 'B-2', location: '20', onHand: 3, committed: 3 },
    ]);
    // five items, two a page: three pages, each one request and one statement
    expect(sb.log).toEqual([
      '/2.0/inventory-level/locations?PageSize=2',
      '/2.0/inventory-level/locations?Cursor=2&PageSize=2',
      '/2.0/inventory-level/locations?Cursor=4&PageSize=2',
    ]);
    expect(counts).toEqual(new Map([['api/stock', 3]]));
    expect(c.kind).toBe('http');
    expect([...c.entities]).toEqual(['stock', 'items']);
  });

  it('reads item names from the same listing, and lists codes in order', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector(shipbob(sb.url));
    expect(await c.fetch('items', ['C-1', 'A-2'])).toEqual([
      { code: 'A-2', name: 'Item A-2' },
      { code: 'C-1', name: 'Item C-1' },
    ]);
    const meter = countingMeter(new Map());
    expect(await c.listCodes(null, 3, meter)).toEqual(['A-1', 'A-2', 'B-1']);
    expect(await c.listCodes('B-1', 3)).toEqual(['B-2', 'C-1']);
    expect(await c.listCodes('C-1', 3)).toEqual([]);
  });

  it('sends nothing for no codes, and rejects what it does not map', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector(shipbob(sb.url));
    await expect(c.fetch('stock', [])).resolves.toEqual([]);
    await expect(c.fetch('cost', ['A-1'])).rejects.toThrow(/maps no cost/);
    expect(sb.requests).toBe(0);
  });

  it('streams the whole listing, page by page, for a mirror to load', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector(shipbob(sb.url, { stock: { params: { PageSize: 2 } } }));
    const batches: number[] = [];
    expect(await c.scan('stock', (b) => void batches.push(b.length))).toBe(7);
    expect(batches).toEqual([3, 3, 1]);
  });

  it('pings with one request', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS, pageSize: 1 }));
    await connector(shipbob(sb.url)).ping();
    expect(sb.requests).toBe(1);
  });
});

describe('Link header pagination', () => {
  it('follows rel="next" until there is none', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS, pageSize: 2, paging: 'link' }));
    const c = connector({
      kind: 'http',
      baseUrl: sb.url,
      auth: { bearer: TOKEN },
      stock: {
        path: '/2.0/inventory-level/locations',
        pagination: { kind: 'next' },
        records: 'items[*]',
        each: 'locations[*]',
        fields: { sku: '^.sku', location: 'name', onHand: 'on_hand_quantity' },
      },
    });
    const records = await c.fetch('stock', ['C-1']);
    expect(records).toEqual([{ code: 'C-1', location: 'FC 10', onHand: 7, committed: 0, asOf: expect.any(Date) }]);
    expect(sb.requests).toBe(3);
  });

  it('reads the next link of a Link header among others', () => {
    expect(nextLink('<https://a.example/x?page=1>; rel="first", <https://a.example/x?page=2>; rel="next"')).toBe('https://a.example/x?page=2');
    expect(nextLink('<https://a.example/x?page=1>; rel="prev"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });
});

/** Shopify items: SH-n at two locations, the second with `committed`. */
const SHOPIFY_ITEMS: ShopifyItem[] = Array.from({ length: 5 }, (_, i) => ({
  id: `gid://shopify/InventoryItem/${i + 1}`,
  sku: `SH-${i + 1}`,
  unitCost: { amount: `${i + 1}.50`, currencyCode: 'USD' },
  displayName: `Shirt ${i + 1}`,
  levels: [
    {
      location: { id: 'gid://shopify/Location/1', name: 'Shop East' },
      quantities: { available: 10 - i, on_hand: 10 + i, committed: 2 * i },
      updatedAt: '2026-11-30T10:00:00Z',
    },
    {
      location: { id: 'gid://shopify/Location/2', name: 'Shop West' },
      quantities: { available: 1, on_hand: 1, committed: 0 },
      updatedAt: '2026-11-30T11:00:00Z',
    },
  ],
}));

const shopify = (url: string, extra: Record<string, unknown> = {}) => ({
  preset: 'shopify',
  baseUrl: url,
  auth: { header: 'X-Shopify-Access-Token', value: SHOP_TOKEN },
  ...extra,
});

describe('Shopify preset', () => {
  it('asks for the codes in search strings, codesPerRequest at a time, and reads on_hand and committed per location', async () => {
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items: SHOPIFY_ITEMS }));
    const c = connector(shopify(shop.url, { stock: { codesPerRequest: 2 } }));
    const counts = new Map<string, number>();
    const records = await c.fetch('stock', ['SH-1', 'SH-3', 'SH-4', 'SH-5', 'SH-9'], countingMeter(counts));
    expect(records.filter((r) => r.location === 'gid://shopify/Location/1').sort((a, b) => a.code.localeCompare(b.code))).toEqual([
      { code: 'SH-1', location: 'gid://shopify/Location/1', onHand: 10, committed: 0, asOf: new Date('2026-11-30T10:00:00Z') },
      { code: 'SH-3', location: 'gid://shopify/Location/1', onHand: 12, committed: 4, asOf: new Date('2026-11-30T10:00:00Z') },
      { code: 'SH-4', location: 'gid://shopify/Location/1', onHand: 13, committed: 6, asOf: new Date('2026-11-30T10:00:00Z') },
      { code: 'SH-5', location: 'gid://shopify/Location/1', onHand: 14, committed: 8, asOf: new Date('2026-11-30T10:00:00Z') },
    ]);
    expect(records).toHaveLength(8);
    // five codes, two a request: three requests
    expect(shop.queries.map((q) => q.variables.query).sort()).toEqual(['sku:"SH-1" OR sku:"SH-3"', 'sku:"SH-4" OR sku:"SH-5"', 'sku:"SH-9"']);
    expect(counts).toEqual(new Map([['api/stock', 3]]));
  });

  it('follows endCursor while hasNextPage, sending it as the cursor variable', async () => {
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items: SHOPIFY_ITEMS }));
    const c = connector(shopify(shop.url, { stock: { variables: { first: 2 } } }));
    const codes = SHOPIFY_ITEMS.map((i) => i.sku);
    expect(await c.fetch('stock', codes)).toHaveLength(10);
    expect(shop.queries.map((q) => q.variables.cursor ?? null)).toEqual([null, 'Mg==', 'NA==']);
  });

  it('reads cost and item names', async () => {
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items: SHOPIFY_ITEMS }));
    const c = connector(shopify(shop.url));
    expect(await c.fetch('cost', ['SH-2'])).toEqual([{ code: 'SH-2', amount: '2.50', currency: 'USD' }]);
    expect(await c.fetch('items', ['SH-2'])).toEqual([{ code: 'SH-2', name: 'Shirt 2' }]);
  });

  it('fails a read answered with GraphQL errors, quoting the first', async () => {
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items: SHOPIFY_ITEMS }));
    const c = connector(shopify(shop.url, { stock: { variables: { first: 500 } } }));
    await expect(c.fetch('stock', ['SH-1'])).rejects.toThrow(
      'source "api": GraphQL error from /admin/api/2025-10/graphql.json: first must be between 1 and 250',
    );
  });

  it('fails a read whose token is refused, naming the status and the path, never the token', async () => {
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items: SHOPIFY_ITEMS }));
    const c = connector(shopify(shop.url, { auth: { header: 'X-Shopify-Access-Token', value: 'wrong' } }));
    const e = await c.fetch('stock', ['SH-1']).catch((x: unknown) => x as Error);
    expect((e as Error).message).toBe('source "api": HTTP 401 from /admin/api/2025-10/graphql.json (check the source’s `auth`)');
  });
});

describe('rate limits', () => {
  it('waits out a Retry-After that ends before the deadline, and counts both requests', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    sb.faults.rateLimit = { times: 1, retryAfter: '1' };
    const c = connector(shipbob(sb.url, { timeoutMs: 5000 }));
    const counts = new Map<string, number>();
    expect(await c.fetch('stock', ['B-1'], countingMeter(counts))).toEqual([{ code: 'B-1', location: '20', onHand: 12, committed: 1, asOf: expect.any(Date) }]);
    expect(sb.requests).toBe(2);
    expect(counts.get('api/stock')).toBe(2);
  });

  it('fails at once when Retry-After, in seconds or as a date, goes past the deadline', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector(shipbob(sb.url, { timeoutMs: 2000 }));
    sb.faults.rateLimit = { times: 1, retryAfter: '30' };
    await expect(c.fetch('stock', ['B-1'])).rejects.toThrow('source "api": rate limited by the API: Retry-After 30 s exceeds the 2000 ms deadline');
    sb.faults.rateLimit = { times: 1, retryAfter: new Date(Date.now() + 60_000).toUTCString() };
    await expect(c.fetch('stock', ['B-1'])).rejects.toThrow(/^source "api": rate limited by the API: Retry-After (59|60) s exceeds the 2000 ms deadline$/);
    expect(sb.requests).toBe(2);
  });

  it('waits out a Shopify THROTTLED answer by its query cost, or fails when that is past the deadline', async () => {
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items: SHOPIFY_ITEMS }));
    const c = connector(shopify(shop.url, { timeoutMs: 5000 }));
    // 102 points asked, 2 left, 100 a second: a one-second wait
    shop.faults.throttle = { times: 1, available: 2 };
    expect(await c.fetch('stock', ['SH-1'])).toHaveLength(2);
    expect(shop.requests).toBe(2);
    // 102 asked, 2 left, 10 a second: ten seconds, past the deadline
    shop.faults.throttle = { times: 1, available: 2, restoreRate: 10 };
    await expect(c.fetch('stock', ['SH-1'])).rejects.toThrow(
      'source "api": rate limited by the API: throttled (GraphQL cost): 10 s to wait exceeds the 5000 ms deadline',
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs(undefined, now)).toBeNull();
  });
});

describe('failures in clear words', () => {
  it('names the status and the path of an error answer, without the query string or the token', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    sb.faults.status = 500;
    const e = (await connector(shipbob(sb.url))
      .fetch('stock', ['A-1'])
      .catch((x: unknown) => x)) as Error;
    expect(e.message).toBe('source "api": HTTP 500 from /2.0/inventory-level/locations');
    expect(JSON.stringify({ m: e.message, c: String((e as { cause?: unknown }).cause) })).not.toContain(TOKEN);
  });

  it('fails without a token with a 401 naming auth', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector({ ...shipbob(sb.url), auth: undefined });
    await expect(c.fetch('stock', ['A-1'])).rejects.toThrow('source "api": HTTP 401 from /2.0/inventory-level/locations (check the source’s `auth`)');
  });

  it('refuses an answer over maxResponseBytes', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    sb.faults.padBytes = 50_000;
    const c = connector(shipbob(sb.url, { maxResponseBytes: 4096 }));
    await expect(c.fetch('stock', ['A-1'])).rejects.toThrow(
      'source "api": the answer from /2.0/inventory-level/locations is over maxResponseBytes (4096 bytes)',
    );
  });

  it('refuses a next link to another origin, without following it', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS, pageSize: 2 }));
    sb.faults.nextOrigin = 'http://127.0.0.2:9';
    const c = connector(shipbob(sb.url, { stock: { params: { PageSize: 2 } } }));
    await expect(c.fetch('stock', ['A-1'])).rejects.toThrow('source "api": refused a next-page link from /2.0/inventory-level/locations to another origin');
    expect(sb.requests).toBe(1);
  });

  it('fails a read that would need more than maxPages pages', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    const c = connector(shipbob(sb.url, { stock: { params: { PageSize: 1 }, pagination: { maxPages: 3 } } }));
    await expect(c.fetch('stock', ['A-1'])).rejects.toThrow(/more than pagination.maxPages \(3\) pages/);
    expect(sb.requests).toBe(3);
  });

  it('cuts a slow answer at the deadline and leaves no socket open', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    sb.faults.slowMs = 5000;
    const c = connector(shipbob(sb.url, { timeoutMs: 300 }));
    const controller = new AbortController();
    const read = c.fetch('stock', ['A-1'], undefined, { deadline: Date.now() + 300, signal: controller.signal });
    await expect(read).rejects.toThrow('source "api": timed out after 300 ms');
    await vi.waitFor(async () => expect(await sb.connections()).toBe(0));
  });

  it('stops the read’s other requests as soon as one batch fails', async () => {
    // one code answers 500 at once, the other never answers
    const server = createServer((req, res) => {
      if ((req.url ?? '').includes('sku=FAIL')) res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    const c = connector({
      kind: 'http',
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      timeoutMs: 60_000,
      stock: { path: '/rows', codes: { param: 'sku' }, codesPerRequest: 1, records: 'data[*]', fields: { sku: 'sku', location: 'loc', onHand: 'qty' } },
    });
    await expect(c.fetch('stock', ['HANG', 'FAIL'])).rejects.toThrow('source "api": HTTP 500 from /rows');
    await vi.waitFor(() => new Promise<void>((resolve, reject) => server.getConnections((_e, n) => (n === 0 ? resolve() : reject(new Error(`${n} open`))))));
  });

  it('follows a redirect on its origin, and refuses one to another', async () => {
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/old')) res.writeHead(301, { location: '/rows' }).end();
      else if (url.startsWith('/away')) res.writeHead(302, { location: 'http://127.0.0.2:9/rows' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ sku: 'R-1', loc: 'X', qty: 2 }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    const at = (path: string) =>
      connector({
        kind: 'http',
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        stock: { path, records: 'data[*]', fields: { sku: 'sku', location: 'loc', onHand: 'qty' } },
      });
    expect(await at('/old').fetch('stock', ['R-1'])).toEqual([{ code: 'R-1', location: 'X', onHand: 2, committed: 0, asOf: expect.any(Date) }]);
    await expect(at('/away').fetch('stock', ['R-1'])).rejects.toThrow('source "api": HTTP 302 from /away: a redirect to another origin is not followed');
  });

  it('stops when the caller aborts before the deadline', async () => {
    const sb = await stub(startShipBobStub({ token: TOKEN, items: SHIPBOB_ITEMS }));
    sb.faults.slowMs = 5000;
    const c = connector(shipbob(sb.url, { timeoutMs: 10_000 }));
    const controller = new AbortController();
    const read = c.fetch('stock', ['A-1'], undefined, { signal: controller.signal });
    await vi.waitFor(() => expect(sb.requests).toBe(1));
    controller.abort(new Error('caller gone'));
    await expect(read).rejects.toThrow('caller gone');
    await vi.waitFor(async () => expect(await sb.connections()).toBe(0));
  });
});

describe('records that cannot be read', () => {
  it('are returned marked invalid, the rest of the batch standing', async () => {
    const items = [
      shipBobItem(1, 'OK-1', { 10: [5, '1'] }),
      shipBobItem(2, 'FRAC', { 10: [2.5, 0] }),
      shipBobItem(3, 'GONE', { 10: [undefined, 0] }),
      shipBobItem(4, 'TEXT', { 10: ['lots', 0] }),
    ];
    const sb = await stub(startShipBobStub({ token: TOKEN, items }));
    const records = await connector(shipbob(sb.url)).fetch('stock', ['OK-1', 'FRAC', 'GONE', 'TEXT']);
    const by = new Map(records.map((r) => [r.code, r]));
    expect(by.get('OK-1')).toMatchObject({ onHand: 5, committed: 1 });
    expect(by.get('OK-1')?.invalid).toBeUndefined();
    expect(by.get('FRAC')?.invalid).toBe('onHand is not a whole number: 2.5');
    expect(by.get('GONE')?.invalid).toBe('onHand is missing');
    expect(by.get('TEXT')?.invalid).toBe('onHand is not a whole number: "lots"');
  });

  it('marks an unparseable date and a missing location', async () => {
    const items: ShopifyItem[] = [
      { id: 'i1', sku: 'D-1', levels: [{ location: { id: 'L1', name: 'x' }, quantities: { on_hand: 1 }, updatedAt: 'yesterday' }] },
      { id: 'i2', sku: 'D-2', levels: [{ location: { id: '', name: 'x' }, quantities: { on_hand: 1 }, updatedAt: '2026-11-30T00:00:00Z' }] },
    ];
    const shop = await stub(startShopifyStub({ token: SHOP_TOKEN, items }));
    const records = await connector(shopify(shop.url)).fetch('stock', ['D-1', 'D-2']);
    expect(records.map((r) => [r.code, r.invalid])).toEqual([
      ['D-1', 'not a timestamp: "yesterday"'],
      ['D-2', 'location is missing'],
    ]);
  });
});

describe('configuration', () => {
  const yaml = (source: string) => `store: { client: better-sqlite3, connection: ./g.sqlite }
sources:
  sb:
${source}
locations: [{ id: FC, codes: { sb: "10" } }]
precedence: { quantity: [sb] }
`;

  const problems = (text: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseConfig(text, '/tmp/x.yaml', env);
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  it('takes the token from the environment, and names the variable when it is not set', () => {
    const text = yaml('    preset: shipbob\n    auth: { bearer: "${SHIPBOB_TOKEN}" }');
    const c = parseConfig(text, '/tmp/x.yaml', { SHIPBOB_TOKEN: 'abc' });
    expect(c.sources.sb).toMatchObject({ kind: 'http', baseUrl: 'https://api.shipbob.com', auth: { bearer: 'abc' } });
    expect(problems(text)).toContain('sources.sb.auth.bearer: environment variable SHIPBOB_TOKEN is not set');
  });

  it('names the key of a bad JSON path, and of a cursor with nowhere to go', () => {
    const text = yaml(`    kind: http
    baseUrl: https://api.example.com
    stock:
      path: /stock
      records: "items[*"
      pagination: { kind: cursor, from: next }
      fields: { sku: sku, location: "^.loc", onHand: qty }`);
    expect(problems(text)).toEqual([
      'sources.sb.stock.records: JSON path "items[*": unclosed [ at character 6',
      'sources.sb.stock.pagination: a cursor needs exactly one of `param` (a query-string parameter) or `variable` (GraphQL)',
    ]);
  });

  it('takes a bearer token or a header with its value, not a mix', () => {
    expect(problems(yaml('    preset: shipbob\n    auth: { header: X-Token }'))).toEqual(['sources.sb.auth: `header` and `value` go together']);
    expect(problems(yaml('    preset: shipbob\n    auth: { bearer: t, header: X-Token, value: v }'))).toEqual([
      'sources.sb.auth: needs either `bearer`, or `header` with `value`',
    ]);
  });

  it('needs `shop` or a baseUrl for Shopify', () => {
    expect(problems(yaml('    preset: shopify\n    auth: { header: X-Shopify-Access-Token, value: t }'))).toEqual(['sources.sb.baseUrl: required']);
    expect(parseConfig(yaml('    preset: shopify\n    presetOptions: { shop: acme }'), '/tmp/x.yaml').sources.sb).toMatchObject({
      baseUrl: 'https://acme.myshopify.com',
    });
  });
});

describe('the health check (Connector.check)', () => {
  it('is one HEAD of baseUrl with the auth headers: any answer but 401, 403 or a 5xx means the API answers', async () => {
    const seen: Array<{ method: string; url: string; auth: string | undefined }> = [];
    let status = 404;
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
      res.writeHead(status, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : '{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    const c = connector({
      kind: 'http',
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      auth: { bearer: 'secret-token' },
      stock: { path: '/rows', records: 'data[*]', fields: { sku: 'sku', location: 'loc', onHand: 'qty' } },
    });
    await c.check!();
    status = 405;
    await c.check!();
    status = 401;
    await expect(c.check!()).rejects.toThrow('HTTP 401 from /v1: credentials refused');
    status = 503;
    await expect(c.check!()).rejects.toThrow('HTTP 503 from /v1');
    expect(seen).toEqual(Array.from({ length: 4 }, () => ({ method: 'HEAD', url: '/v1', auth: 'Bearer secret-token' })));
  });
});
