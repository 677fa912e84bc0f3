/**
 * What the other systems say, side by side, through the real gateway over HTTP: a WMS on
 * MariaDB, an ERP and a web platform on SQLite files, a marketplace's file. The web platform
 * (`channelView: { channel: web }`) promises more of SKU-A than the web can ship: flag and one
 * anomaly; the marketplace file (`channelView: { channel: retail }`) promises exactly what
 * retail has: nothing. Costs are compared within `costs.tolerancePercent: 1`; inventory value
 * is exact; orphans come with their stock; statements are counted from `x-source-statements`.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import { hashKey, newKey } from '../../src/server/auth.js';
import { createMariaDbDatabase, createSqliteDatabase, type TestDatabase } from '../helpers/databases.js';
import { statements, type GqlResult } from '../helpers/demo-app.js';

let dir: string;
let wms: TestDatabase;
let erp: TestDatabase;
let shop: TestDatabase;
let app: App;
let url: string;
const keys = { admin: newKey(), storefront: newKey() };

async function gql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, key = keys.admin): Promise<GqlResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-side-'));
  [wms, erp, shop] = await Promise.all([createMariaDbDatabase(), createSqliteDatabase(), createSqliteDatabase()]);
  await wms.exec('create table bins (sku varchar(64), wh varchar(16), qty int, picked int)');
  await wms.exec('create table item_cost (sku varchar(64), cost decimal(21,9), ccy char(3))');
  await wms.db('bins').insert([
    { sku: 'SKU-A', wh: 'EAST', qty: 10, picked: 2 },
    { sku: 'SKU-B', wh: 'EAST', qty: 20, picked: 0 },
    { sku: 'SKU-C', wh: 'EAST', qty: 4, picked: 0 },
    { sku: 'ORPH-1', wh: 'EAST', qty: 6, picked: 0 },
    { sku: 'ORPH-1', wh: 'ZZ', qty: 2, picked: 0 },
    { sku: 'ORPH-2', wh: 'EAST', qty: 1, picked: 0 },
  ]);
  await wms.db('item_cost').insert([
    { sku: 'SKU-A', cost: '12.400000000', ccy: 'USD' },
    { sku: 'SKU-B', cost: '10.200000000', ccy: 'USD' },
    { sku: 'SKU-C', cost: '8.000000000', ccy: 'USD' },
  ]);
  await erp.exec('create table stock (item text, site text, qty integer)');
  await erp.exec('create table costs (item text, amount text, ccy text)');
  await erp.db('stock').insert([
    { item: 'SKU-A', site: 'E1', qty: 11 },
    { item: 'SKU-A', site: 'S1', qty: 5 },
    { item: 'SKU-A', site: 'T', qty: 3 },
    { item: 'SKU-B', site: 'S1', qty: -4 },
  ]);
  await erp.db('costs').insert([
    { item: 'SKU-A', amount: '12.345678901', ccy: 'USD' },
    { item: 'SKU-B', amount: '10.00', ccy: 'USD' },
    { item: 'SKU-C', amount: '7.50', ccy: 'EUR' },
  ]);
  await shop.exec('create table salable (code text, stock_id text, qty integer, reserved integer)');
  await shop.db('salable').insert([
    { code: 'web-A', stock_id: 'default', qty: 12, reserved: 1 },
    { code: 'web-B', stock_id: 'default', qty: 15, reserved: 0 },
  ]);
  mkdirSync(join(dir, 'market'));
  // the marketplace's file is two days old (its mtime is its asOf): older than its maxAgeSeconds
  const marketFile = join(dir, 'market', 'salable.csv');
  writeFileSync(marketFile, 'sku,location,qty\nSKU-A,R1,13\n');
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
  utimesSync(marketFile, twoDaysAgo, twoDaysAgo);
  const file = join(dir, 'inventory-graph.yaml');
  writeFileSync(
    file,
    `
store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  wms:
    kind: sql
    client: mysql2
    connection: ${wms.connection}
    skuCodes: canonical
    stock: { table: bins, columns: { sku: sku, location: wh, onHand: qty, committed: picked } }
    cost: { table: item_cost, columns: { sku: sku, unitCost: cost, currency: ccy } }
  erp:
    kind: sql
    client: better-sqlite3
    connection: ${erp.connection}
    skuCodes: canonical
    stock: { table: stock, columns: { sku: item, location: site, onHand: qty } }
    cost: { table: costs, columns: { sku: item, unitCost: amount, currency: ccy } }
  shop:
    kind: sql
    client: better-sqlite3
    connection: ${shop.connection}
    channelView: { channel: web }
    stock: { table: salable, columns: { sku: code, location: stock_id, onHand: qty, committed: reserved } }
  market:
    kind: csv
    path: ./market/salable*.csv
    skuCodes: canonical
    maxAgeSeconds: 3600
    channelView: { channel: retail }
    stock: { columns: { sku: sku, location: location, onHand: qty } }
locations:
  - { id: DC-EAST, codes: { wms: EAST, erp: E1, market: R1 }, channels: [web, retail] }
  - { id: STORE-1, codes: { erp: S1 }, channels: [retail] }
  - { id: TRANSIT, codes: { erp: T }, sellable: false }
precedence:
  quantity: [wms, erp]
  cost: [erp]
costs: { tolerancePercent: 1 }
auth:
  keys:
    - { name: admin, role: admin, hash: "${hashKey(keys.admin)}" }
    - { name: web, role: storefront, hash: "${hashKey(keys.storefront)}" }
`,
  );
  configFile = file;
  ({ app, url } = await serve(file));
});

let configFile: string;
/** The gateway on `file` (graphql-js executor with `executor`), its SKU map filled. */
async function serve(file: string, executor?: 'graphql-js'): Promise<{ app: App; url: string }> {
  const config = loadConfig(file);
  const a = await createApp(executor === undefined ? config : { ...config, server: { ...config.server, executor } }, { logger: createLogger('silent') });
  await a.store.skus.import([
    { sku: 'SKU-A', name: 'A', aliases: [{ system: 'shop', code: 'web-A' }] },
    { sku: 'SKU-B', name: 'B', aliases: [{ system: 'shop', code: 'web-B' }] },
    { sku: 'SKU-C', name: 'C', aliases: [] },
  ]);
  return { app: a, url: await a.listen(0, '127.0.0.1') };
}

afterAll(async () => {
  await app?.close();
  await Promise.all([wms?.cleanup(), erp?.cleanup(), shop?.cleanup()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface View {
  source: string;
  channel: string;
  promised: number;
  available: number;
  overstatement: number;
  asOf: string | null;
  stale: boolean;
}
interface Answer {
  sku: string;
  available: number;
  flags: string[];
  channelViews: View[];
}
const SKUS = ['SKU-A', 'SKU-B', 'SKU-C'];
const VIEWS = `query V($skus: [ID!]!, $channel: String, $locationIds: [ID!]) {
  availability(skus: $skus, channel: $channel, locationIds: $locationIds) {
    sku available flags channelViews { source channel promised available overstatement asOf stale }
  }
}`;

async function openAnomalies(kind: string) {
  await app.store.anomalies.flush();
  const r = await gql<{ anomalies: { nodes: { kind: string; sku: string; source: string; detail: string; occurrences: number }[] } }>(
    'query O($kind: AnomalyKind!) { anomalies(filter: { statuses: [OPEN], kinds: [$kind] }, first: 1000) { nodes { kind sku source detail occurrences } } }',
    { kind },
  );
  return r.body.data!.anomalies.nodes;
}

describe('channel views', () => {
  it('show each view beside our figure for its channel, and flag the one that overstates', async () => {
    const r = await gql<{ availability: Answer[] }>(VIEWS, { skus: SKUS });
    expect(r.body.errors).toBeUndefined();
    const [a, b, c] = r.body.data!.availability;
    // web: DC-EAST only (8); retail: DC-EAST 8 + STORE-1 5
    expect(a!.flags).toContain('CHANNEL_OVERSTATES');
    expect(a!.channelViews).toEqual([
      { source: 'shop', channel: 'web', promised: 11, available: 8, overstatement: 3, asOf: expect.any(String), stale: false },
      { source: 'market', channel: 'retail', promised: 13, available: 13, overstatement: 0, asOf: expect.any(String), stale: true },
    ]);
    // a view is dated by its records, and judged by its own maxAgeSeconds
    expect(Date.parse(a!.channelViews[1]!.asOf!)).toBeLessThan(Date.now() - 86_400_000);
    // B: the web promises 15 of 20; the marketplace holds a code for it (canonical) and no record: promises 0
    expect(b!.flags).not.toContain('CHANNEL_OVERSTATES');
    expect(b!.channelViews).toEqual([
      { source: 'shop', channel: 'web', promised: 15, available: 20, overstatement: 0, asOf: expect.any(String), stale: false },
      { source: 'market', channel: 'retail', promised: 0, available: 20, overstatement: 0, asOf: null, stale: false },
    ]);
    // C: the SKU map gives the web platform no code: its view says nothing and is left out
    expect(c!.channelViews.map((v) => v.source)).toEqual(['market']);
    expect(c!.flags).not.toContain('CHANNEL_OVERSTATES');
  });

  it('record one CHANNEL_OVERSTATES anomaly, however often it is seen, naming source, channel and both figures', async () => {
    await gql(VIEWS, { skus: SKUS });
    await gql(VIEWS, { skus: ['SKU-A'] });
    const found = await openAnomalies('CHANNEL_OVERSTATES');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ sku: 'SKU-A', source: 'shop', detail: 'shop (channel web) promises 11 of SKU-A; 8 available for web: overstates by 3' });
  });

  it('cost one statement per view source, and none when channelViews is not selected', async () => {
    const without = await gql<{ availability: Answer[] }>('query($skus: [ID!]!) { availability(skus: $skus) { sku available flags } }', { skus: SKUS });
    expect(Object.fromEntries(statements(without.headers))).toEqual({ 'wms/stock': 1, 'erp/stock': 1 });
    expect(without.body.data!.availability[0]!.flags).not.toContain('CHANNEL_OVERSTATES');

    const withViews = await gql(VIEWS, { skus: SKUS });
    expect(Object.fromEntries(statements(withViews.headers))).toEqual({ 'wms/stock': 1, 'erp/stock': 1, 'shop/stock': 1, 'market/stock': 1 });

    // a fragment selecting it counts as selecting it
    const fragment = await gql<{ availability: Answer[] }>(
      'query($skus: [ID!]!) { availability(skus: $skus) { sku ...V } } fragment V on Availability { flags channelViews { source } }',
      { skus: SKUS },
    );
    expect(fragment.body.data!.availability[0]!.flags).toContain('CHANNEL_OVERSTATES');
    expect(statements(fragment.headers).get('shop/stock')).toBe(1);
  });

  it('are read by a scan that asks for CHANNEL_OVERSTATES: inventoryItems(filter:) finds the SKU that overstates', async () => {
    const q = 'query($f: InventoryItemFilter) { inventoryItems(filter: $f, first: 10) { nodes { sku } totalCount } }';
    const r = await gql<{ inventoryItems: { nodes: { sku: string }[]; totalCount: number } }>(q, { f: { flags: ['CHANNEL_OVERSTATES'] } });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.inventoryItems).toEqual({ nodes: [{ sku: 'SKU-A' }], totalCount: 1 });
    expect(Object.fromEntries(statements(r.headers))).toEqual({ 'wms/stock': 1, 'erp/stock': 1, 'shop/stock': 1, 'market/stock': 1 });
    // any other filter leaves the views unread
    const stale = await gql(q, { f: { flags: ['STALE'] } });
    expect(Object.fromEntries(statements(stale.headers))).toEqual({ 'wms/stock': 1, 'erp/stock': 1 });
  });

  it('read only the asked channel’s views, and none with locationIds', async () => {
    const retail = await gql<{ availability: Answer[] }>(VIEWS, { skus: SKUS, channel: 'retail' });
    expect(retail.body.data!.availability[0]!.channelViews.map((v) => v.source)).toEqual(['market']);
    expect(retail.body.data!.availability[0]!.flags).not.toContain('CHANNEL_OVERSTATES');
    expect(statements(retail.headers).has('shop/stock')).toBe(false);
    expect(statements(retail.headers).get('market/stock')).toBe(1);

    const narrowed = await gql<{ availability: Answer[] }>(VIEWS, { skus: SKUS, locationIds: ['DC-EAST'] });
    expect(narrowed.body.data!.availability.map((a) => a.channelViews)).toEqual([[], [], []]);
    expect(Object.fromEntries(statements(narrowed.headers))).toEqual({ 'wms/stock': 1, 'erp/stock': 1 });
  });

  it('are read and compared the same under the graphql-js executor', async () => {
    const other = await serve(configFile, 'graphql-js');
    try {
      const jit = await gql<{ availability: Answer[] }>(VIEWS, { skus: SKUS });
      const res = await fetch(other.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': keys.admin },
        body: JSON.stringify({ query: VIEWS, variables: { skus: SKUS } }),
      });
      // the web platform's records have no asOf column: they are as of the moment they were read
      const undated = (b: { data?: { availability: Answer[] } | null }) =>
        b.data!.availability.map((a) => ({ ...a, channelViews: a.channelViews.map((v) => ({ ...v, asOf: v.source === 'shop' ? 'read' : v.asOf })) }));
      const body = JSON.parse(await res.text()) as GqlResult<{ availability: Answer[] }>['body'];
      expect(body.errors).toBeUndefined();
      expect(undated(body)).toEqual(undated(jit.body));
      expect(Object.fromEntries(statements(res.headers))).toEqual(Object.fromEntries(statements(jit.headers)));
    } finally {
      await other.app.close();
    }
  });

  it('leave out a view whose source fails, naming it, and change nothing else', async () => {
    await shop.exec('alter table salable rename to salable_gone');
    try {
      const r = await gql<{ availability: Answer[] }>(VIEWS, { skus: ['SKU-A'] });
      expect(r.body.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'SOURCE_UNAVAILABLE', source: 'shop' }) })]);
      expect(r.body.data!.availability[0]).toMatchObject({ available: 13, flags: [] });
      expect(r.body.data!.availability[0]!.channelViews.map((v) => v.source)).toEqual(['market']);
    } finally {
      await shop.exec('alter table salable_gone rename to salable');
    }
  });

  it('are left out of reconciliation, even where a location maps their code: a promise is not a count', async () => {
    const r = await gql<{ reconciliation: { lines: { systems: { source: string }[] }[] } }>(
      '{ reconciliation(skus: ["SKU-A", "SKU-B"]) { lines { systems { source } } } }',
    );
    const systems = new Set(r.body.data!.reconciliation.lines.flatMap((l) => l.systems.map((x) => x.source)));
    expect([...systems].sort()).toEqual(['erp', 'wms']);
  });

  it('are shown to a storefront key (no cost in them), unknown SKUs have none', async () => {
    const r = await gql<{ availability: Answer[] }>(VIEWS, { skus: ['SKU-A', 'NOPE'] }, keys.storefront);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.availability[0]!.channelViews).toHaveLength(2);
    expect(r.body.data!.availability[1]).toMatchObject({ flags: ['UNKNOWN_SKU'], channelViews: [] });
  });
});

const ITEMS = `{ inventoryItems(first: 3) { nodes {
  sku
  unitCost { amount currency source }
  costs { amount currency source }
  costComparison { reference { source amount } mismatch mismatches { cost { source amount } percentApart } notCompared { source currency } tolerancePercent }
  availability { value { amount currency source } byLocation { location { id } onHand flags value { amount currency source } } }
} } }`;

interface Money {
  amount: string;
  currency: string;
  source: string;
}
interface Item {
  sku: string;
  costs: Money[];
  costComparison: {
    reference: { source: string; amount: string } | null;
    mismatch: boolean;
    mismatches: { cost: { source: string; amount: string }; percentApart: string | null }[];
    notCompared: { source: string; currency: string }[];
    tolerancePercent: string;
  };
  availability: { value: Money | null; byLocation: { location: { id: string }; onHand: number; flags: string[]; value: Money | null }[] };
}

describe('costs and value', () => {
  let items: Item[];
  let headers: Headers;
  beforeAll(async () => {
    const r = await gql<{ inventoryItems: { nodes: Item[] } }>(ITEMS);
    expect(r.body.errors).toBeUndefined();
    items = r.body.data!.inventoryItems.nodes;
    headers = r.headers;
  });
  const item = (sku: string) => items.find((i) => i.sku === sku)!;

  it('lists every source’s cost, precedence.cost first, exactly as stored', () => {
    expect(item('SKU-A').costs).toEqual([
      { amount: '12.345678901', currency: 'USD', source: 'erp' },
      { amount: '12.400000000', currency: 'USD', source: 'wms' },
    ]);
  });

  it('accepts a cost within the tolerance (0.44 % apart, tolerance 1 %)', () => {
    expect(item('SKU-A').costComparison).toEqual({
      reference: { source: 'erp', amount: '12.345678901' },
      mismatch: false,
      mismatches: [],
      notCompared: [],
      tolerancePercent: '1',
    });
  });

  it('flags a cost beyond it (2 % apart) and records one COST_MISMATCH anomaly', async () => {
    expect(item('SKU-B').costComparison).toMatchObject({
      mismatch: true,
      mismatches: [{ cost: { source: 'wms', amount: '10.200000000' }, percentApart: '2' }],
    });
    await gql(ITEMS);
    const found = await openAnomalies('COST_MISMATCH');
    expect(found).toEqual([
      expect.objectContaining({
        sku: 'SKU-B',
        source: 'wms',
        detail: 'wms costs SKU-B at 10.200000000 USD, erp (reference) at 10.00 USD: 2% apart, tolerance 1%',
      }),
    ]);
  });

  it('lists a cost in another currency without comparing it', () => {
    expect(item('SKU-C').costComparison).toMatchObject({
      reference: { source: 'erp', amount: '7.50' },
      mismatch: false,
      notCompared: [{ source: 'wms', currency: 'USD' }],
    });
  });

  it('values every location shown at onHand x unit cost, exactly; a negative on-hand at 0', () => {
    const a = item('SKU-A').availability;
    const at = (id: string) => a.byLocation.find((l) => l.location.id === id)!.value;
    expect(at('DC-EAST')).toEqual({ amount: '123.456789010', currency: 'USD', source: 'erp' }); // 10 (wms) x 12.345678901
    expect(at('STORE-1')?.amount).toBe('61.728394505');
    expect(at('TRANSIT')?.amount).toBe('37.037036703'); // not sellable, still owned
    expect(a.value).toEqual({ amount: '222.222220218', currency: 'USD', source: 'erp' });
    const b = item('SKU-B').availability;
    expect(b.byLocation.find((l) => l.location.id === 'STORE-1')).toMatchObject({ onHand: -4, flags: ['NEGATIVE_ON_HAND'], value: { amount: '0.00' } });
    expect(b.value?.amount).toBe('200.00');
    expect(item('SKU-C').availability.value).toEqual({ amount: '30.00', currency: 'EUR', source: 'erp' });
  });

  it('cost one statement per source per entity for the page', () => {
    expect(Object.fromEntries(statements(headers))).toEqual({ 'erp/cost': 1, 'wms/cost': 1, 'wms/stock': 1, 'erp/stock': 1 });
  });

  it('are denied to a storefront key, field by field, the rest answered', async () => {
    const r = await gql<{ inventoryItem: Record<string, unknown> & { availability: { available: number; value: null; byLocation: { value: null }[] } } }>(
      '{ inventoryItem(sku: "SKU-A") { sku costs { amount } costComparison { mismatch } availability { available value { amount } byLocation { value { amount } } } } }',
      {},
      keys.storefront,
    );
    const forbidden = r.body.errors!.filter((e) => e.extensions?.code === 'FORBIDDEN').map((e) => e.path!.join('.'));
    expect(forbidden.sort()).toEqual(
      [
        'inventoryItem.availability.byLocation.0.value',
        'inventoryItem.availability.byLocation.1.value',
        'inventoryItem.availability.byLocation.2.value',
        'inventoryItem.availability.value',
        'inventoryItem.costComparison',
        'inventoryItem.costs',
      ].sort(),
    );
    expect(r.body.data!.inventoryItem).toMatchObject({ sku: 'SKU-A', costs: null, costComparison: null, availability: { available: 13, value: null } });
    expect(r.body.data!.inventoryItem.availability.byLocation.every((l) => l.value === null)).toBe(true);
    expect(r.text).not.toContain('12.345678901');
  });
});

describe('orphanCodes', () => {
  it('gives each orphan its on-hand per source location, mapped where a location maps it, in one more statement', async () => {
    const r = await gql<{ orphanCodes: { nodes: unknown[] } }>(
      '{ orphanCodes(source: "wms", first: 10) { nodes { source code onHand locations { code onHand location { id } } } } }',
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.orphanCodes.nodes).toEqual([
      {
        source: 'wms',
        code: 'ORPH-1',
        onHand: 8,
        locations: [
          { code: 'EAST', onHand: 6, location: { id: 'DC-EAST' } },
          { code: 'ZZ', onHand: 2, location: null },
        ],
      },
      { source: 'wms', code: 'ORPH-2', onHand: 1, locations: [{ code: 'EAST', onHand: 1, location: { id: 'DC-EAST' } }] },
    ]);
    // one statement lists the codes, one reads the orphans' stock
    expect(Object.fromEntries(statements(r.headers))).toEqual({ 'wms/stock': 2 });
    // not selected: not read
    const codesOnly = await gql('{ orphanCodes(source: "wms", first: 10) { nodes { code } } }');
    expect(Object.fromEntries(statements(codesOnly.headers))).toEqual({ 'wms/stock': 1 });
  });

  it('leaves the quantities null, with the source named, when the source fails while they are read', async () => {
    // a page whose listing works and whose stock read fails: the stock table's column renamed under it
    await wms.exec('alter table bins change qty qty_renamed int');
    try {
      const r = await gql<{ orphanCodes: { nodes: { code: string; onHand: number | null; locations: unknown }[] } | null }>(
        '{ orphanCodes(source: "wms", first: 10) { nodes { code onHand locations { code } } } }',
      );
      expect(r.body.data!.orphanCodes!.nodes).toEqual([
        { code: 'ORPH-1', onHand: null, locations: null },
        { code: 'ORPH-2', onHand: null, locations: null },
      ]);
      expect(r.body.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'SOURCE_UNAVAILABLE', source: 'wms' }) })]);
    } finally {
      await wms.exec('alter table bins change qty_renamed qty int');
    }
  });
});
