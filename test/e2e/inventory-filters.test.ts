/**
 * `inventoryItems(filter:)` over real HTTP on the demo (negative WMS totals every 97th SKU, a
 * 3PL snapshot two days old, ERP fallbacks at DC-CENTRAL): every page of a filtered scan, read
 * with `first`/`after` to the end, must be exactly the SKUs a hand filter keeps over the whole
 * catalogue's availability, on SQLite sources and on MariaDB sources; a scan stops at
 * `server.maxScanSkus` with the cursor where it stopped; each batch costs one statement per
 * source; the filter is for analysts; unknown locations and sources are named.
 * MariaDB at 127.0.0.1:3306 is required: when it is unreachable this file fails.
 */
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlConnection } from '../../src/db/knex.js';
import { MARIADB_URL, startDemoApp, statements, type DemoApp, type GqlResult, wmsMirroredByPoll } from '../helpers/demo-app.js';

interface Level {
  location: { id: string };
  available: number;
  flags: string[];
  provenance: { source: string | null };
}
interface Avail {
  sku: string;
  available: number;
  flags: string[];
  byLocation: Level[];
}
interface Filter {
  flags?: string[];
  sources?: string[];
  locations?: string[];
  availableBelow?: number;
}
interface Page {
  nodes: Array<{ sku: string }>;
  edges: Array<{ cursor: string; node: { sku: string } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number | null;
  scanned: number;
}

const ITEMS = `query I($filter: InventoryItemFilter, $first: Int, $after: String) {
  inventoryItems(filter: $filter, first: $first, after: $after) {
    nodes { sku } edges { cursor node { sku } } pageInfo { hasNextPage endCursor } totalCount scanned
  }
}`;
const AVAILABILITY = `query A($skus: [ID!]!, $locationIds: [ID!]) {
  availability(skus: $skus, locationIds: $locationIds) { sku available flags byLocation { location { id } available flags provenance { source } } }
}`;

/** What the filter keeps of one SKU's availability (read over the filter's locations), as docs/api.md says. */
function keeps(a: Avail, f: Filter): boolean {
  if (f.flags !== undefined && !f.flags.some((x) => a.flags.includes(x) || a.byLocation.some((l) => l.flags.includes(x)))) return false;
  if (f.sources !== undefined && !a.byLocation.some((l) => l.provenance.source !== null && f.sources!.includes(l.provenance.source))) return false;
  if (f.availableBelow !== undefined && !(a.available < f.availableBelow)) return false;
  return true;
}

/** The whole catalogue in SKU order, by the unfiltered connection. */
async function catalogue(demo: DemoApp, pageSize: number): Promise<string[]> {
  const out: string[] = [];
  let after: string | null = null;
  for (;;) {
    const r: GqlResult<{ inventoryItems: Page }> = await demo.gql<{ inventoryItems: Page }>(ITEMS, { first: pageSize, after });
    expect(r.body.errors).toBeUndefined();
    const p: Page = r.body.data!.inventoryItems;
    out.push(...p.nodes.map((n) => n.sku));
    if (!p.pageInfo.hasNextPage) return out;
    after = p.pageInfo.endCursor;
  }
}

/** The hand filter: every SKU's availability, read by `availability` a page at a time. */
async function byHand(demo: DemoApp, skus: readonly string[], f: Filter, pageSize: number): Promise<string[]> {
  const kept: string[] = [];
  for (let i = 0; i < skus.length; i += pageSize) {
    const r = await demo.gql<{ availability: Avail[] }>(AVAILABILITY, { skus: skus.slice(i, i + pageSize), locationIds: f.locations ?? null });
    expect(r.body.errors).toBeUndefined();
    for (const a of r.body.data!.availability) if (keeps(a, f)) kept.push(a.sku);
  }
  return kept;
}

/** Every page of a filtered scan, `first` at a time from the start. */
async function scanAll(demo: DemoApp, filter: Filter, first: number): Promise<{ skus: string[]; pages: Page[] }> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 1000; guard++) {
    const r: GqlResult<{ inventoryItems: Page }> = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter, first, after });
    expect(r.body.errors).toBeUndefined();
    const p: Page = r.body.data!.inventoryItems;
    pages.push(p);
    expect(p.edges.map((e) => e.cursor)).toEqual(p.nodes.map((n) => n.sku));
    expect(p.nodes.length).toBeLessThanOrEqual(first);
    if (!p.pageInfo.hasNextPage) break;
    expect(p.pageInfo.endCursor).not.toBeNull();
    after = p.pageInfo.endCursor;
  }
  return { skus: pages.flatMap((p) => p.nodes.map((n) => n.sku)), pages };
}

const FILTERS: Array<[string, Filter]> = [
  ['flags: NEGATIVE_ON_HAND', { flags: ['NEGATIVE_ON_HAND'] }],
  ['flags: STALE or FALLBACK', { flags: ['STALE', 'FALLBACK'] }],
  ['sources: tpl', { sources: ['tpl'] }],
  ['locations: DC-CENTRAL, availableBelow 40', { locations: ['DC-CENTRAL'], availableBelow: 40 }],
  ['availableBelow 60', { availableBelow: 60 }],
  ['combined', { flags: ['FALLBACK', 'STALE'], sources: ['erp', 'tpl'], locations: ['DC-CENTRAL', '3PL-WEST'], availableBelow: 150 }],
];

describe('inventoryItems(filter:) on SQLite sources', () => {
  let demo: DemoApp;
  let all: string[];
  beforeAll(async () => {
    // 4 batches of 100 read the 400 SKUs: one scan reaches the end
    demo = await startDemoApp({
      skus: 400,
      override: { server: { maxSkusPerQuery: 100, maxScanSkus: 1000 } },
      // no sweep: the scan must be what records the anomalies it finds
      editConfig: (yaml) => `${yaml}\nsweep:\n  intervalSeconds: 0\n`,
    });
    all = await catalogue(demo, 100);
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('records the anomalies the scan finds, as any availability read does', async () => {
    // the first read of any figure in this app: before it, no negative is recorded
    const kinds = { kinds: ['NEGATIVE_ON_HAND'] };
    expect((await demo.app.store.anomalies.list(kinds, 1000)).anomalies).toEqual([]);
    const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter: { availableBelow: 0 }, first: 5 });
    expect(r.body.data!.inventoryItems).toMatchObject({ nodes: [], scanned: 400, totalCount: 0 });
    await demo.app.store.anomalies.flush();
    const recorded = (await demo.app.store.anomalies.list(kinds, 1000)).anomalies.map((a) => a.sku).sort();
    expect(recorded).toEqual([...demo.facts.negativeWms].sort());
  });

  it('counts the catalogue without a filter, reading no source', async () => {
    const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { first: 10 });
    expect(r.body.data!.inventoryItems).toMatchObject({ totalCount: 400, scanned: 0, pageInfo: { hasNextPage: true, endCursor: all[9] } });
    expect(all).toHaveLength(400);
    expect(statements(r.headers).size).toBe(0);
  });

  for (const [name, filter] of FILTERS) {
    it(`${name}: the pages, to the end, are the hand filter over the whole catalogue`, async () => {
      const want = await byHand(demo, all, filter, 100);
      // the demo has SKUs on both sides of every filter
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(all.length);
      const { skus, pages } = await scanAll(demo, filter, 7);
      expect(skus).toEqual(want);
      // the first page started at the beginning: it knows the total only if it read to the end
      expect(pages[0]!.totalCount).toBe(pages.length === 1 ? want.length : null);
      for (const p of pages.slice(1)) expect(p.totalCount).toBeNull();
    });
  }

  it('answers totalCount when one call reads the whole catalogue', async () => {
    const filter = { flags: ['NEGATIVE_ON_HAND'] };
    const want = await byHand(demo, all, filter, 100);
    const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter, first: 100 });
    expect(r.body.data!.inventoryItems).toMatchObject({
      totalCount: want.length,
      scanned: 400,
      pageInfo: { hasNextPage: false, endCursor: want.at(-1) },
    });
    expect(r.body.data!.inventoryItems.nodes.map((n) => n.sku)).toEqual(want);
    // 4 batches: 4 statements per source that maps a location, none more
    expect(Object.fromEntries(statements(r.headers))).toEqual({ 'erp/stock': 4, 'tpl/stock': 4, 'wms/stock': 4 });
  });

  it('stops at `first` matches: the next page starts after the last one returned when the batch held more', async () => {
    const filter = { flags: ['STALE'] };
    const want = await byHand(demo, all, filter, 100);
    expect(want.length).toBeGreaterThan(3);
    const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter, first: 2 });
    const p: Page = r.body.data!.inventoryItems;
    expect(p.nodes.map((n) => n.sku)).toEqual(want.slice(0, 2));
    expect(p).toMatchObject({ totalCount: null, scanned: 100, pageInfo: { hasNextPage: true, endCursor: want[1] } });
  });

  it('reads the sources once per SKU when the page selects availability: the nodes reuse what the scan read', async () => {
    const filter = { flags: ['NEGATIVE_ON_HAND'] };
    const bare = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter, first: 100 });
    const withFigures = await demo.gql<{ inventoryItems: { nodes: Array<{ sku: string; availability: { available: number; flags: string[] } }> } }>(
      `query($filter: InventoryItemFilter) { inventoryItems(filter: $filter, first: 100) {
        nodes { sku name availability { available flags byLocation { location { id } available flags } } }
      } }`,
      { filter },
    );
    expect(withFigures.body.errors).toBeUndefined();
    const nodes = withFigures.body.data!.inventoryItems.nodes;
    expect(nodes.map((n) => n.sku)).toEqual(bare.body.data!.inventoryItems.nodes.map((n) => n.sku));
    for (const n of nodes) expect(n.availability.flags).toContain('NEGATIVE_ON_HAND');
    const s = statements(withFigures.headers);
    // the stock reads are the scan's 4 batches, not one more for the nodes; names are one read of the shop
    expect(s.get('wms/stock')).toBe(4);
    expect(s.get('erp/stock')).toBe(4);
    expect(s.get('tpl/stock')).toBe(4);
  });

  it('refuses the filter to storefront and OMS keys (FORBIDDEN), and serves them the catalogue', async () => {
    for (const role of ['storefront', 'oms'] as const) {
      const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter: { flags: ['STALE'] }, first: 5 }, { 'x-api-key': demo.keys[role] });
      expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // the field alone is null: the rest of an answer would come back
      expect(r.body.data).toEqual({ inventoryItems: null });
      expect(r.body.errors?.[0]?.message).toMatch(/Query\.inventoryItems\(filter:\) needs the analyst role; this key \(.*\) is (storefront|oms)/);
      expect(statements(r.headers).size).toBe(0);
      const plain = await demo.gql<{ inventoryItems: Page }>(ITEMS, { first: 5 }, { 'x-api-key': demo.keys[role] });
      expect(plain.body.errors).toBeUndefined();
      expect(plain.body.data!.inventoryItems.nodes).toHaveLength(5);
    }
    const analyst = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter: { flags: ['STALE'] }, first: 5 }, { 'x-api-key': demo.keys.analyst });
    expect(analyst.body.errors).toBeUndefined();
  });

  it('names an unknown location or source (BAD_USER_INPUT) and reads nothing', async () => {
    const loc = await demo.gql(ITEMS, { filter: { locations: ['DC-EAST', 'DC-NOWHERE'] }, first: 5 });
    expect(loc.body.errors?.[0]).toMatchObject({
      message: 'Unknown location id in filter.locations: "DC-NOWHERE". Known: DC-EAST, DC-CENTRAL, STORE-NYC, 3PL-WEST, IN-TRANSIT.',
      extensions: { code: 'BAD_USER_INPUT', argumentName: 'filter.locations', invalid: ['DC-NOWHERE'] },
    });
    const src = await demo.gql(ITEMS, { filter: { sources: ['wms', 'sap'] }, first: 5 });
    expect(src.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'filter.sources', invalid: ['sap'] });
    expect(src.body.errors?.[0]?.message).toMatch(/^Unknown source in filter\.sources: "sap"\. Known: .*\bwms\b.*\berp\b|Known: .*\berp\b.*\bwms\b/);
    expect(statements(loc.headers).size + statements(src.headers).size).toBe(0);
  });
});

describe('inventoryItems(filter:) on MariaDB sources, a scan bounded by maxScanSkus', () => {
  const prefix = `ig_test_filters_${process.pid}_${Date.now().toString(36)}`;
  let demo: DemoApp;
  let all: string[];
  beforeAll(async () => {
    // batches of 50, at most 120 SKUs a call: 50 + 50 + 20
    demo = await startDemoApp({
      skus: 300,
      mysql: { prefix },
      override: { server: { maxSkusPerQuery: 50, maxScanSkus: 120 }, routing: { maxLines: 50 }, reservations: { maxLines: 50 } },
    });
    all = await catalogue(demo, 50);
  });
  afterAll(async () => {
    await demo?.close();
    const db = knexFactory({ client: 'mysql2', connection: mysqlConnection(MARIADB_URL) });
    try {
      for (const s of ['erp', 'wms', 'shop', 'tpl']) await db.raw(`drop database if exists ??`, [`${prefix}_${s}`]);
    } finally {
      await db.destroy();
    }
  });

  it('stops after maxScanSkus SKUs with hasNextPage, the cursor at the last SKU read, no total; one statement per source per batch', async () => {
    const filter = { flags: ['NEGATIVE_ON_HAND'] };
    const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter, first: 50 });
    expect(r.body.errors).toBeUndefined();
    const p: Page = r.body.data!.inventoryItems;
    expect(p).toMatchObject({ scanned: 120, totalCount: null, pageInfo: { hasNextPage: true, endCursor: all[119] } });
    expect(p.nodes.map((n) => n.sku)).toEqual(await byHand(demo, all.slice(0, 120), filter, 50));
    expect(Object.fromEntries(statements(r.headers))).toEqual({ 'erp/stock': 3, 'tpl/stock': 3, 'wms/stock': 3 });
  });

  for (const [name, filter] of FILTERS) {
    it(`${name}: paging on from each endCursor to the end gives the hand filter`, async () => {
      const want = await byHand(demo, all, filter, 50);
      expect(want.length).toBeGreaterThan(0);
      const { skus, pages } = await scanAll(demo, filter, 9);
      expect(skus).toEqual(want);
      // no call reads 300 SKUs: the total is never known
      for (const p of pages) {
        expect(p.totalCount).toBeNull();
        expect(p.scanned).toBeLessThanOrEqual(120);
      }
      expect(pages.reduce((n, p) => n + p.scanned, 0)).toBeGreaterThanOrEqual(300);
    });
  }
});

describe('inventoryItems(filter:) with the WMS mirrored', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({
      skus: 120,
      mirrors: true,
      override: { server: { maxSkusPerQuery: 50 }, routing: { maxLines: 50 }, reservations: { maxLines: 50 } },
      // the WMS mirrored by a poll feed (loaded once at start); the 3PL read live
      editConfig: wmsMirroredByPoll,
    });
    await demo.app.mirrorsLoaded;
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('answers the mirrored source from memory: only the live sources cost a statement per batch', async () => {
    const all = await catalogue(demo, 50);
    const filter = { flags: ['NEGATIVE_ON_HAND', 'FALLBACK'] };
    const want = await byHand(demo, all, filter, 50);
    const r = await demo.gql<{ inventoryItems: Page }>(ITEMS, { filter, first: 50 });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.inventoryItems.nodes.map((n) => n.sku)).toEqual(want.slice(0, 50));
    expect(r.body.data!.inventoryItems.scanned).toBeGreaterThan(0);
    const batches = Math.ceil(r.body.data!.inventoryItems.scanned / 50);
    expect(Object.fromEntries(statements(r.headers))).toEqual({ 'erp/stock': batches, 'tpl/stock': batches });
  });
});
