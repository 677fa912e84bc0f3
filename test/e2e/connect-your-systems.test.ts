/**
 * The README's "Connect your systems" config, run as written: an ERPNext ERP, an OpenBoxes WMS
 * and a Magento shop on MariaDB, built from those systems' table layouts (test/fixtures/presets/),
 * and a ShipBob 3PL answering in ShipBob's shape (test/helpers/api-stubs.ts). No SQL, no SKU map
 * imported: presets map the systems, `skuMap.match` ties them together (the WMS by barcode, the
 * shop and the 3PL by code), and the figures come out as worked by hand below.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/server/app.js';
import { hashKey, newKey } from '../../src/server/auth.js';
import { startShipBobStub, shipBobItem, type StubServer } from '../helpers/api-stubs.js';
import { createMariaDbDatabase, type TestDatabase } from '../helpers/databases.js';
import { createErpnextSchema } from '../fixtures/presets/erpnext.js';
import { createMagentoSchema } from '../fixtures/presets/magento.js';
import { createOpenboxesSchema } from '../fixtures/presets/openboxes.js';

const README = join(import.meta.dirname, '..', '..', 'README.md');
const TOKEN = 'shipbob-test-token';

/** The first yaml block of the README's "Connect your systems" section, as a user would copy it. */
function readmeConfig(): string {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('## Connect your systems'));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  if (m === null) throw new Error('README.md: no yaml block under "## Connect your systems"');
  return m[1] as string;
}

async function seedErpnext(t: TestDatabase): Promise<void> {
  await createErpnextSchema(t);
  await t.db('tabCompany').insert({ name: 'Acme Corp', company_name: 'Acme Corp', abbr: 'AC', default_currency: 'USD' });
  await t.db('tabWarehouse').insert({ name: 'Stores - AC', warehouse_name: 'Stores', company: 'Acme Corp', is_group: 0 });
  await t.db('tabItem').insert([
    { name: 'ITEM-1', item_code: 'ITEM-1', item_name: 'Blue mug', stock_uom: 'Nos' },
    { name: 'ITEM-2', item_code: 'ITEM-2', item_name: 'Red mug', stock_uom: 'Nos' },
    { name: 'ITEM-3', item_code: 'ITEM-3', item_name: 'Teapot', stock_uom: 'Nos' },
  ]);
  const modified = '2026-11-30 08:00:00';
  await t.db('tabBin').insert([
    { name: 'BIN-1', item_code: 'ITEM-1', warehouse: 'Stores - AC', actual_qty: '20.000000000', reserved_qty: '2.000000000', modified },
    { name: 'BIN-2', item_code: 'ITEM-2', warehouse: 'Stores - AC', actual_qty: '5.000000000', modified },
    { name: 'BIN-3', item_code: 'ITEM-3', warehouse: 'Stores - AC', actual_qty: '7.000000000', modified },
  ]);
  await t.db('tabItem Price').insert([
    { name: 'P-1', item_code: 'ITEM-1', price_list: 'Standard Buying', buying: 1, currency: 'USD', price_list_rate: '4.500000000' },
    { name: 'P-2', item_code: 'ITEM-2', price_list: 'Standard Buying', buying: 1, currency: 'USD', price_list_rate: '3.250000000' },
  ]);
  // 4 blue mugs picked in the warehouse on an open pick list: ERPNext still counts them (no delivery note yet)
  await t.db('tabPick List').insert({ name: 'PICK-00042', docstatus: 1, status: 'Open', purpose: 'Delivery', company: 'Acme Corp', modified });
  await t.db('tabPick List Item').insert({
    name: 'PLI-1',
    parent: 'PICK-00042',
    parenttype: 'Pick List',
    parentfield: 'locations',
    item_code: 'ITEM-1',
    warehouse: 'Stores - AC',
    qty: '4.000000000',
    picked_qty: '4.000000000',
  });
  // an EAN-13 and a 12-digit UPC: the WMS keeps the UPC as its 13-digit EAN form
  await t.db('tabItem Barcode').insert([
    { name: 'BC-1', parent: 'ITEM-1', parenttype: 'Item', parentfield: 'barcodes', barcode: '4006381333931', barcode_type: 'EAN' },
    { name: 'BC-2', parent: 'ITEM-2', parenttype: 'Item', parentfield: 'barcodes', barcode: '012345678905', barcode_type: 'UPC-A' },
  ]);
}

async function seedOpenboxes(t: TestDatabase): Promise<void> {
  await createOpenboxesSchema(t);
  const dates = { date_created: '2026-11-30 09:00:00', last_updated: '2026-11-30 09:00:00' };
  const uuid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
  await t.db('location').insert({ id: uuid(1), name: 'Main Warehouse', ...dates });
  await t.db('product').insert([
    { id: uuid(11), name: 'Mug, blue', product_code: 'OB-1', upc: '4006381333931', ...dates },
    { id: uuid(12), name: 'Mug, red', product_code: 'OB-2', upc: '0012345678905', ...dates },
  ]);
  // OB-1 in two bins (10 + 6, one unit allocated), OB-2 in one
  const rows = [
    { id: 21, product: 11, code: 'OB-1', bin: 'A-01', onHand: 10, allocated: 1 },
    { id: 22, product: 11, code: 'OB-1', bin: 'A-02', onHand: 6, allocated: 0 },
    { id: 23, product: 12, code: 'OB-2', bin: 'B-01', onHand: 3, allocated: 0 },
  ];
  for (const r of rows) {
    await t.db('inventory_item').insert({ id: uuid(r.id + 100), product_id: uuid(r.product), ...dates });
    await t.db('product_availability').insert({
      id: uuid(r.id),
      location_id: uuid(1),
      product_id: uuid(r.product),
      product_code: r.code,
      inventory_item_id: uuid(r.id + 100),
      bin_location_name: r.bin,
      quantity_on_hand: r.onHand,
      quantity_allocated: r.allocated,
      quantity_available_to_promise: r.onHand - r.allocated,
      ...dates,
    });
  }
}

async function seedMagento(t: TestDatabase): Promise<void> {
  await createMagentoSchema(t);
  await t.db('inventory_source').insert({ source_code: 'default', name: 'Default Source', enabled: 1 });
  await t.db('inventory_stock').insert({ stock_id: 1, name: 'Default Stock' });
  await t.db('inventory_source_stock_link').insert({ stock_id: 1, source_code: 'default', priority: 1 });
  // the shop still believes in 30 blue mugs (one sold and not yet shipped): it promises 29
  await t.db('inventory_source_item').insert([
    { source_code: 'default', sku: 'ITEM-1', quantity: '30.0000', status: 1 },
    { source_code: 'default', sku: 'ITEM-2', quantity: '3.0000', status: 1 },
  ]);
  await t.db('inventory_reservation').insert({ stock_id: 1, sku: 'ITEM-1', quantity: '-1.0000', metadata: '{"object_type":"order","object_id":"1"}' });
}

interface Level {
  location: { id: string };
  onHand: number;
  committed: number;
  available: number;
  flags: string[];
  provenance: { source: string | null };
}
interface Answer {
  data?: {
    availability: {
      sku: string;
      available: number;
      flags: string[];
      byLocation: Level[];
      channelViews: { source: string; promised: number; available: number; overstatement: number }[];
    }[];
    item: { name: string; unitCost: { amount: string; currency: string; source: string } | null; aliases: { system: string; code: string }[] } | null;
  };
  errors?: { message: string }[];
}

describe('the README config over ERPNext, OpenBoxes, Magento and ShipBob', () => {
  const dbs: TestDatabase[] = [];
  let stub: StubServer;
  let dir: string;
  let app: Awaited<ReturnType<typeof createApp>>;
  let url: string;
  const key = newKey();

  const gql = async (query: string, variables: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Answer;
  };

  beforeAll(async () => {
    const [erp, wms, shop] = [await createMariaDbDatabase(), await createMariaDbDatabase(), await createMariaDbDatabase()] as const;
    dbs.push(erp, wms, shop);
    await seedErpnext(erp);
    await seedOpenboxes(wms);
    await seedMagento(shop);
    stub = await startShipBobStub({
      token: TOKEN,
      items: [shipBobItem(1, 'ITEM-1', { 10: [8, 1] }), shipBobItem(3, 'ITEM-3', { 10: [4, 0] })],
    });
    dir = mkdtempSync(join(tmpdir(), 'ig-readme-'));
    const file = join(dir, 'inventory-graph.yaml');
    // the README's config as it stands, plus the API key it tells the reader to add
    writeFileSync(file, `${readmeConfig()}auth: { keys: [{ name: analyst, role: analyst, hash: "${hashKey(key)}" }] }\n`);
    const config = loadConfig(file, {
      ERPNEXT_DATABASE_URL: erp.connection,
      OPENBOXES_DATABASE_URL: wms.connection,
      MAGENTO_DATABASE_URL: shop.connection,
      SHIPBOB_URL: stub.url,
      SHIPBOB_TOKEN: TOKEN,
    });
    app = await createApp(config, { logger: createLogger('silent') });
    url = await app.listen(0, '127.0.0.1');
    // matching runs in the background at start: wait until the WMS's and the 3PL's codes are mapped
    for (let i = 0; i < 300; i++) {
      const a = await gql('query { item: inventoryItem(sku: "ITEM-1") { name aliases { system code } } }');
      const systems = new Set(a.data?.item?.aliases.map((x) => x.system));
      if (systems.has('wms') && systems.has('tpl') && systems.has('shop')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await app?.close();
    await stub?.close();
    for (const d of dbs) await d.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('is under 40 lines and has no SQL', () => {
    const yaml = readmeConfig();
    expect(yaml.split('\n').filter((l) => l.trim() !== '').length).toBeLessThan(40);
    expect(yaml).not.toMatch(/\b(select|from|join|where)\b/i);
  });

  it('derives the SKU map from the systems: the WMS by barcode (UPC = its EAN form), the shop and the 3PL by code', async () => {
    const a = await gql('query { item: inventoryItem(sku: "ITEM-2") { name aliases { system code } } }');
    expect(a.errors).toBeUndefined();
    expect(a.data?.item?.aliases).toEqual([
      { system: 'erp', code: 'ITEM-2' },
      { system: 'shop', code: 'ITEM-2' },
      { system: 'wms', code: 'OB-2' },
    ]);
  });

  it('answers availability by precedence, with the shop beside it as the web channel’s own view', async () => {
    const a = await gql(
      `query { availability(skus: ["ITEM-1", "ITEM-2", "ITEM-3"], channel: "web") {
        sku available flags
        byLocation { location { id } onHand committed available flags provenance { source } }
        channelViews { source promised available overstatement } } }`,
    );
    expect(a.errors).toBeUndefined();
    const [one, two, three] = a.data?.availability ?? [];
    // ITEM-1: the WMS at DC-EAST (10 + 6 on hand, 1 allocated: 15), ShipBob at its FC (8 - 1: 7)
    expect(one?.available).toBe(22);
    expect(one?.byLocation.map((l) => [l.location.id, l.provenance.source, l.onHand, l.committed, l.available])).toEqual([
      ['DC-EAST', 'wms', 16, 1, 15],
      ['3PL-CICERO', 'tpl', 8, 1, 7],
    ]);
    // the shop promises 30 - 1 = 29 of them: the oversell waiting to happen
    expect(one?.channelViews).toEqual([{ source: 'shop', promised: 29, available: 22, overstatement: 7 }]);
    expect(one?.flags).toContain('CHANNEL_OVERSTATES');
    // ITEM-2: 3 in the WMS, what the shop promises too
    expect(two?.available).toBe(3);
    expect(two?.channelViews).toEqual([{ source: 'shop', promised: 3, available: 3, overstatement: 0 }]);
    expect(two?.flags).not.toContain('CHANNEL_OVERSTATES');
    // ITEM-3 has no barcode: the WMS has no code for it, ERPNext's 7 stand in at DC-EAST, ShipBob has 4
    expect(three?.byLocation.map((l) => [l.location.id, l.provenance.source, l.available])).toEqual([
      ['DC-EAST', 'erp', 7],
      ['3PL-CICERO', 'tpl', 4],
    ]);
    expect(three?.available).toBe(11);
  });

  it('explains the ERP being 4 above the WMS by the open pick list, naming it', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({
        query: '{ reconciliation(skus: ["ITEM-1"]) { lines { location { id } status authoritative quantity variance explained unexplained explanation } } }',
      }),
    });
    const body = (await res.json()) as { data?: { reconciliation: { lines: Record<string, unknown>[] } }; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    const east = body.data?.reconciliation.lines.find((l) => (l.location as { id: string }).id === 'DC-EAST');
    // the WMS (16) is authoritative; ERPNext says 20, and its pick list PICK-00042 holds the 4 the WMS has taken off the shelf
    expect(east).toMatchObject({
      status: 'EXPLAINED',
      authoritative: 'wms',
      quantity: 16,
      variance: 4,
      explained: 4,
      unexplained: 0,
      explanation: 'explained by pickedNotDelivered of PICK-00042',
    });
  });

  it('takes names and costs from ERPNext, exact', async () => {
    const a = await gql('query { item: inventoryItem(sku: "ITEM-1") { name unitCost { amount currency source } aliases { system code } } }');
    expect(a.data?.item?.name).toBe('Blue mug');
    expect(a.data?.item?.unitCost).toEqual({ amount: '4.500000000', currency: 'USD', source: 'erp' });
  });
});
