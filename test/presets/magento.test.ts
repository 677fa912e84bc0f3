/**
 * The `magento` preset on Magento 2 MSI's own tables (test/fixtures/presets/magento.ts, on
 * MariaDB): quantity per enabled source, reservations (orders placed, minus what shipping
 * compensated) as committed at each stock's first source, the store-0 name and the cost
 * attribute in the base currency, sales order increment ids as orders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMariaDbDatabase, type TestDatabase } from '../helpers/databases.js';
import { createMagentoSchema } from '../fixtures/presets/magento.js';
import { FIGURES, ITEM, presetConnector, startPresetGateway, type PresetGateway, type Figures } from '../helpers/preset-gateway.js';

let t: TestDatabase;
let gw: PresetGateway;

const meta = (event: string, n: number) =>
  JSON.stringify({ event_type: event, object_type: 'order', object_id: String(n), object_increment_id: String(n).padStart(9, '0') });

async function seed(): Promise<void> {
  await createMagentoSchema(t);
  await t.db('inventory_source').insert([
    { source_code: 'default', name: 'Default Source', enabled: 1 },
    { source_code: 'nyc', name: 'New York', enabled: 1 },
    { source_code: 'old_wh', name: 'Closed warehouse', enabled: 0 },
  ]);
  await t.db('inventory_stock').insert([
    { stock_id: 1, name: 'Default Stock' },
    { stock_id: 2, name: 'US Stock' },
  ]);
  await t.db('inventory_source_stock_link').insert([
    { stock_id: 1, source_code: 'default', priority: 1 },
    { stock_id: 2, source_code: 'nyc', priority: 1 },
    { stock_id: 2, source_code: 'default', priority: 2 },
  ]);
  await t.db('inventory_source_item').insert([
    { source_code: 'default', sku: '24-MB01', quantity: '100.0000', status: 1 },
    { source_code: 'nyc', sku: '24-MB01', quantity: '20.0000', status: 1 },
    { source_code: 'old_wh', sku: '24-MB01', quantity: '50.0000', status: 1 },
    { source_code: 'default', sku: '24-MB02', quantity: '0.0000', status: 0 },
    { source_code: 'nyc', sku: '24-MB02', quantity: '7.0000', status: 1 },
  ]);
  await t.db('inventory_reservation').insert([
    // stock 1: order 1 placed (3), order 2 placed (2) and shipped (+2): 3 still to ship
    { stock_id: 1, sku: '24-MB01', quantity: '-3.0000', metadata: meta('order_placed', 1) },
    { stock_id: 1, sku: '24-MB01', quantity: '-2.0000', metadata: meta('order_placed', 2) },
    { stock_id: 1, sku: '24-MB01', quantity: '2.0000', metadata: meta('shipment_created', 2) },
    // stock 2's first source is nyc
    { stock_id: 2, sku: '24-MB01', quantity: '-4.0000', metadata: meta('order_placed', 3) },
    { stock_id: 2, sku: '24-MB02', quantity: '-1.0000', metadata: meta('order_placed', 4) },
  ]);
  await t.db('catalog_product_entity').insert([
    { entity_id: 1, attribute_set_id: 15, type_id: 'simple', sku: '24-MB01' },
    { entity_id: 2, attribute_set_id: 15, type_id: 'simple', sku: '24-MB02' },
  ]);
  await t.db('catalog_product_entity_varchar').insert([
    { attribute_id: 73, store_id: 0, entity_id: 1, value: 'Joust Duffle Bag' },
    { attribute_id: 73, store_id: 1, entity_id: 1, value: 'Sac Joust' },
    { attribute_id: 73, store_id: 0, entity_id: 2, value: 'Fusion Backpack' },
    // a category's name has the same code under another entity type
    { attribute_id: 45, store_id: 0, entity_id: 1, value: 'Bags' },
  ]);
  await t.db('catalog_product_entity_decimal').insert([{ attribute_id: 81, store_id: 0, entity_id: 1, value: '12.500000' }]);
  await t.db('core_config_data').insert([{ scope: 'default', scope_id: 0, path: 'currency/options/base', value: 'EUR' }]);
  await t.db('sales_order').insert([
    { entity_id: 1, increment_id: '000000001', state: 'new', status: 'pending' },
    { entity_id: 2, increment_id: '000000002', state: 'complete', status: 'complete' },
  ]);
}

const source = () => ({ preset: 'magento', client: 'mysql2', connection: t.connection });

beforeAll(async () => {
  t = await createMariaDbDatabase();
  await seed();
  gw = await startPresetGateway({
    source: source(),
    locations: { MAIN: 'default', NYC: 'nyc', OLD: 'old_wh' },
    codes: ['24-MB01', '24-MB02'],
    precedence: ['quantity', 'cost', 'name'],
  });
});

afterAll(async () => {
  await gw?.close();
  await t?.cleanup();
});

describe('preset: magento', () => {
  it('gives each enabled source’s quantity, with its stock’s open reservations as committed', async () => {
    const r = await gw.gql<Figures>(FIGURES, { skus: ['24-MB01', '24-MB02'] });
    expect(r.errors).toBeUndefined();
    const [bag, backpack] = r.data!.availability;
    expect(bag!.byLocation.map((l) => [l.location.id, l.onHand, l.committed, l.available])).toEqual([
      ['MAIN', 100, 3, 97],
      ['NYC', 20, 4, 16],
    ]);
    // the disabled source's 50 are not read: OLD has no figure
    expect([bag!.onHand, bag!.committed, bag!.available]).toEqual([120, 7, 113]);
    expect([backpack!.onHand, backpack!.committed, backpack!.available]).toEqual([7, 1, 6]);
  });

  it('takes the default store’s name and the cost attribute in the base currency', async () => {
    const bag = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: '24-MB01' });
    const backpack = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: '24-MB02' });
    expect(bag.data!.inventoryItem).toEqual({ sku: '24-MB01', name: 'Joust Duffle Bag', unitCost: { amount: '12.500000', currency: 'EUR', source: 'sys' } });
    expect(backpack.data!.inventoryItem).toEqual({ sku: '24-MB02', name: 'Fusion Backpack', unitCost: null });
  });

  it('hands reservations over to placed orders by increment id, and pings every mapping', async () => {
    const c = presetConnector(source());
    try {
      await expect(c.ping()).resolves.toBeUndefined();
      expect([...(await c.orderReferences!(['000000001', '000000009']))]).toEqual(['000000001']);
    } finally {
      await c.close();
    }
  });

  it('reads prefixed tables when told the prefix', async () => {
    await t.exec('create table mg_inventory_source like inventory_source');
    await t.exec('insert into mg_inventory_source select * from inventory_source');
    for (const table of ['inventory_source_item', 'inventory_reservation', 'inventory_source_stock_link']) {
      await t.exec(`create table mg_${table} like ${table}`);
      await t.exec(`insert into mg_${table} select * from ${table}`);
    }
    await t.exec("update mg_inventory_source_item set quantity = 1 where sku = '24-MB02' and source_code = 'nyc'");
    const c = presetConnector({
      ...source(),
      presetOptions: { tablePrefix: 'mg_' },
      items: { table: 'catalog_product_entity', columns: { sku: 'sku', name: 'type_id' } },
      cost: { query: "select sku, 1 as unitCost, 'EUR' as currency from catalog_product_entity" },
      orders: { table: 'sales_order', columns: { reference: 'increment_id' } },
    });
    try {
      const [r] = await c.fetch('stock', ['24-MB02']).then((rs) => rs.filter((x) => x.location === 'nyc'));
      expect([r!.onHand, r!.committed]).toEqual([1, 1]);
    } finally {
      await c.close();
    }
  });
});
