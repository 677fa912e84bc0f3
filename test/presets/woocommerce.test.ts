/**
 * The `woocommerce` preset on WordPress's and WooCommerce's own tables
 * (test/fixtures/presets/woocommerce.ts, on MariaDB): `_stock` of products and variations that
 * manage stock, checkouts' unexpired holds as committed, one shop location, post titles as
 * names, the cost of goods in the shop currency, GTINs from `_global_unique_id`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMariaDbDatabase, type TestDatabase } from '../helpers/databases.js';
import { createWoocommerceSchema, insertProduct } from '../fixtures/presets/woocommerce.js';
import {
  FIGURES,
  ITEM,
  identifierRows,
  presetConnector,
  presetSource,
  startPresetGateway,
  type PresetGateway,
  type Figures,
} from '../helpers/preset-gateway.js';

let t: TestDatabase;
let gw: PresetGateway;
const CODES = ['woo-hoodie', 'woo-beanie', 'woo-tshirt-blue', 'woo-tshirt-red', 'woo-mug'];

async function seed(): Promise<void> {
  await createWoocommerceSchema(t);
  await insertProduct(t, {
    id: 10,
    title: 'Hoodie',
    modifiedGmt: '2024-05-02 08:30:00',
    meta: { _sku: 'woo-hoodie', _manage_stock: 'yes', _stock: '12', _stock_status: 'instock', _global_unique_id: '0012345678905', _cogs_total_value: '18.50' },
  });
  // a product that does not manage stock has no figure, whatever `_stock` says
  await insertProduct(t, {
    id: 11,
    title: 'Beanie',
    meta: { _sku: 'woo-beanie', _manage_stock: 'no', _stock: '40', _stock_status: 'instock', _global_unique_id: '' },
  });
  await insertProduct(t, { id: 12, title: 'T-Shirt', meta: { _sku: 'woo-tshirt', _manage_stock: 'no', _stock_status: 'instock' } });
  await insertProduct(t, {
    id: 13,
    title: 'T-Shirt - Blue',
    type: 'product_variation',
    parent: 12,
    meta: { _sku: 'woo-tshirt-blue', _manage_stock: 'yes', _stock: '5' },
  });
  await insertProduct(t, {
    id: 15,
    title: 'T-Shirt - Red',
    type: 'product_variation',
    parent: 12,
    meta: { _sku: 'woo-tshirt-red', _manage_stock: 'yes', _stock: '-2' },
  });
  await insertProduct(t, { id: 14, title: 'Old mug', status: 'trash', meta: { _sku: 'woo-mug', _manage_stock: 'yes', _stock: '3' } });
  await t.db('wp_wc_reserved_stock').insert([
    { order_id: 100, product_id: 10, stock_quantity: 2, timestamp: '2024-05-02 08:00:00', expires: '2099-01-01 00:00:00' },
    { order_id: 101, product_id: 10, stock_quantity: 4, timestamp: '2020-01-01 00:00:00', expires: '2020-01-01 00:10:00' },
  ]);
  await t.db('wp_options').insert([{ option_name: 'woocommerce_currency', option_value: 'GBP' }]);
}

const source = () => ({ preset: 'woocommerce', client: 'mysql2', connection: t.connection });

beforeAll(async () => {
  t = await createMariaDbDatabase();
  await seed();
  gw = await startPresetGateway({ source: source(), locations: { WEB: 'shop' }, codes: CODES, precedence: ['quantity', 'cost', 'name'] });
});

afterAll(async () => {
  await gw?.close();
  await t?.cleanup();
});

describe('preset: woocommerce', () => {
  it('reads _stock of products and variations that manage stock, unexpired checkout holds as committed', async () => {
    const r = await gw.gql<Figures>(FIGURES, { skus: CODES });
    expect(r.errors).toBeUndefined();
    const by = Object.fromEntries(r.data!.availability.map((a) => [a.sku, a]));
    expect([by['woo-hoodie']!.onHand, by['woo-hoodie']!.committed, by['woo-hoodie']!.available]).toEqual([12, 2, 10]);
    expect([by['woo-tshirt-blue']!.onHand, by['woo-tshirt-blue']!.available]).toEqual([5, 5]);
    // negative stock (backorders) promises nothing and is flagged
    expect(by['woo-tshirt-red']!.available).toBe(0);
    expect(by['woo-tshirt-red']!.byLocation[0]!.flags).toContain('NEGATIVE_ON_HAND');
    // no stock management, or in the trash: no figure
    expect(by['woo-beanie']!.byLocation).toEqual([]);
    expect(by['woo-mug']!.byLocation).toEqual([]);
  });

  it('takes names from the post titles and the cost of goods in the shop currency', async () => {
    const hoodie = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: 'woo-hoodie' });
    const blue = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: 'woo-tshirt-blue' });
    expect(hoodie.data!.inventoryItem).toEqual({ sku: 'woo-hoodie', name: 'Hoodie', unitCost: { amount: '18.50', currency: 'GBP', source: 'sys' } });
    expect(blue.data!.inventoryItem).toEqual({ sku: 'woo-tshirt-blue', name: 'T-Shirt - Blue', unitCost: null });
  });

  it('maps _global_unique_id as the gtin identifier', async () => {
    expect(await identifierRows(t.db, presetSource(source()).identifiers!.barcode!)).toEqual([['woo-hoodie', '0012345678905']]);
  });

  it('names its one location as told, asOf the product’s modification time, and pings every mapping', async () => {
    const c = presetConnector({ ...source(), presetOptions: { location: 'web-shop' } });
    try {
      await expect(c.ping()).resolves.toBeUndefined();
      const [r] = await c.fetch('stock', ['woo-hoodie']);
      expect([r!.location, r!.onHand, r!.committed, r!.asOf.toISOString()]).toEqual(['web-shop', 12, 2, '2024-05-02T08:30:00.000Z']);
    } finally {
      await c.close();
    }
  });
});
