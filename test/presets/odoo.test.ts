/**
 * The `odoo` preset on Odoo's own tables on PostgreSQL (test/fixtures/presets/odoo.ts): quants
 * of internal locations only, summed per warehouse (sub-locations and lots added up) or kept per
 * location, reserved quantities as committed, write dates read as UTC, names from the jsonb of
 * translations (or a varchar, before Odoo 16), barcodes and vendor codes, confirmed sale orders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nameText } from '../../src/sources/presets/odoo.js';
import { createPostgresDatabase, type TestDatabase } from '../helpers/databases.js';
import { createOdooSchema } from '../fixtures/presets/odoo.js';
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

async function seed(): Promise<void> {
  await createOdooSchema(t);
  await t.db('stock_warehouse').insert([
    { id: 1, name: 'San Francisco', code: 'WH', company_id: 1, active: true },
    { id: 2, name: 'Chicago', code: 'CHI', company_id: 1, active: true },
  ]);
  await t.db('stock_location').insert([
    { id: 1, name: 'WH', complete_name: 'WH', usage: 'view', warehouse_id: 1, active: true },
    { id: 2, name: 'Stock', complete_name: 'WH/Stock', usage: 'internal', location_id: 1, warehouse_id: 1, active: true },
    { id: 3, name: 'Shelf 1', complete_name: 'WH/Stock/Shelf 1', usage: 'internal', location_id: 2, warehouse_id: 1, active: true },
    { id: 4, name: 'Customers', complete_name: 'Partners/Customers', usage: 'customer', active: true },
    { id: 5, name: 'Stock', complete_name: 'CHI/Stock', usage: 'internal', warehouse_id: 2, active: true },
    { id: 6, name: 'Inventory adjustment', complete_name: 'Virtual Locations/Inventory adjustment', usage: 'inventory', active: true },
  ]);
  await t.db('product_template').insert([
    { id: 1, name: { en_US: 'Office Chair', fr_FR: 'Chaise de bureau' }, detailed_type: 'product', type: 'product', active: true },
    { id: 2, name: { en_US: 'Desk Lamp' }, detailed_type: 'product', type: 'product', active: true },
    { id: 3, name: { en_US: 'No reference' }, detailed_type: 'product', type: 'product', active: true },
  ]);
  await t.db('product_product').insert([
    { id: 1, product_tmpl_id: 1, default_code: 'FURN_0001', barcode: '601647855631', active: true },
    { id: 2, product_tmpl_id: 2, default_code: 'LAMP-1', active: true },
    { id: 3, product_tmpl_id: 3, default_code: null, barcode: '999', active: true },
  ]);
  await t.db('stock_lot').insert([
    { id: 1, name: 'LOT-A', product_id: 2, company_id: 1 },
    { id: 2, name: 'LOT-B', product_id: 2, company_id: 1 },
  ]);
  const quant = (product_id: number, location_id: number, quantity: string, reserved_quantity: string, write_date: string, lot_id: number | null = null) => ({
    product_id,
    location_id,
    lot_id,
    company_id: 1,
    quantity,
    reserved_quantity,
    in_date: '2024-04-01 00:00:00',
    write_date,
  });
  await t.db('stock_quant').insert([
    quant(1, 2, '10.000', '2.000', '2024-05-02 08:30:00'),
    quant(1, 3, '5.000', '0.000', '2024-05-01 10:00:00'),
    // delivered to a customer, and the other side of an inventory adjustment: not the company's stock
    quant(1, 4, '7.000', '0.000', '2024-05-03 00:00:00'),
    quant(1, 6, '-15.000', '0.000', '2024-05-03 00:00:00'),
    quant(1, 5, '4.000', '0.000', '2024-05-01 12:00:00'),
    quant(2, 2, '3.000', '1.000', '2024-05-01 09:00:00', 1),
    quant(2, 2, '2.000', '0.000', '2024-05-01 09:30:00', 2),
    quant(3, 2, '9.000', '0.000', '2024-05-01 09:30:00'),
  ]);
  await t.db('product_supplierinfo').insert([
    { partner_id: 7, product_code: 'V-CHAIR-9', product_tmpl_id: 1, product_id: null, min_qty: 0, price: '80.00', currency_id: 1, delay: 1 },
    { partner_id: 7, product_code: 'V-LAMP', product_tmpl_id: 2, product_id: 2, min_qty: 0, price: '8.00', currency_id: 1, delay: 1 },
    { partner_id: 8, product_code: null, product_tmpl_id: 2, product_id: 2, min_qty: 0, price: '7.00', currency_id: 1, delay: 1 },
  ]);
  await t.db('sale_order').insert([
    { name: 'S00001', state: 'sale', date_order: '2024-05-01 00:00:00', partner_id: 9, company_id: 1 },
    { name: 'S00002', state: 'draft', date_order: '2024-05-01 00:00:00', partner_id: 9, company_id: 1 },
    { name: 'S00003', state: 'cancel', date_order: '2024-05-01 00:00:00', partner_id: 9, company_id: 1 },
  ]);
}

const source = (presetOptions?: Record<string, unknown>) => ({ preset: 'odoo', connection: t.connection, ...(presetOptions ? { presetOptions } : {}) });

beforeAll(async () => {
  t = await createPostgresDatabase();
  await seed();
  gw = await startPresetGateway({
    source: source(),
    locations: { SF: 'WH', CHICAGO: 'CHI' },
    codes: ['FURN_0001', 'LAMP-1'],
    precedence: ['quantity', 'name'],
  });
});

afterAll(async () => {
  await gw?.close();
  await t?.cleanup();
});

describe('preset: odoo', () => {
  it('sums the quants of internal locations per warehouse, reserved as committed, with only `preset` and a postgres:// connection', async () => {
    const r = await gw.gql<Figures>(FIGURES, { skus: ['FURN_0001', 'LAMP-1'] });
    expect(r.errors).toBeUndefined();
    const [chair, lamp] = r.data!.availability;
    // WH: WH/Stock 10 + WH/Stock/Shelf 1 5; the customer's 7 and the adjustment's -15 are not stock
    expect(chair!.byLocation.map((l) => [l.location.id, l.onHand, l.committed])).toEqual([
      ['SF', 15, 2],
      ['CHICAGO', 4, 0],
    ]);
    expect([chair!.onHand, chair!.committed, chair!.available]).toEqual([19, 2, 17]);
    // two lots in one location, added up
    expect([lamp!.onHand, lamp!.committed, lamp!.available]).toEqual([5, 1, 4]);
  });

  it('answers the same figures mirrored (the load streams PostgreSQL rows)', async () => {
    const mirrored = await startPresetGateway({
      source: { ...source(), sync: { mode: 'mirror' } },
      locations: { SF: 'WH', CHICAGO: 'CHI' },
      codes: ['FURN_0001', 'LAMP-1'],
      precedence: ['quantity', 'name'],
    });
    try {
      const live = await gw.gql<Figures>(FIGURES, { skus: ['FURN_0001', 'LAMP-1'] });
      let r = await mirrored.gql<Figures>(FIGURES, { skus: ['FURN_0001', 'LAMP-1'] });
      // the first answers may come before the mirror's first load is complete
      for (let i = 0; i < 100 && (r.errors !== undefined || r.data?.availability[0]?.onHand !== 19); i++) {
        await new Promise((done) => setTimeout(done, 100));
        r = await mirrored.gql<Figures>(FIGURES, { skus: ['FURN_0001', 'LAMP-1'] });
      }
      expect(r.errors).toBeUndefined();
      expect(r.data).toEqual(live.data);
    } finally {
      await mirrored.close();
    }
  });

  it('reads names from the jsonb of translations', async () => {
    const r = await gw.gql<{ inventoryItem: { name: string } }>(ITEM, { sku: 'FURN_0001' });
    expect(r.data!.inventoryItem.name).toBe('Office Chair');
    const c = presetConnector(source({ lang: 'fr_FR' }));
    try {
      const names = await c.fetch('items', ['FURN_0001', 'LAMP-1']);
      // a name with no French translation falls back to en_US
      expect(names.sort((a, b) => a.code.localeCompare(b.code))).toEqual([
        { code: 'FURN_0001', name: 'Chaise de bureau' },
        { code: 'LAMP-1', name: 'Desk Lamp' },
      ]);
    } finally {
      await c.close();
    }
  });

  it('reads a name kept as varchar, as before Odoo 16', async () => {
    const r = (await t.db.raw(`select ${nameText('s.name', 'en_US')} as name from (select 'Office Chair'::varchar as name) s`)) as { rows: { name: string }[] };
    expect(r.rows).toEqual([{ name: 'Office Chair' }]);
  });

  it('keeps quants per location by full name when asked, asOf the newest write date read as UTC', async () => {
    const c = presetConnector(source({ locationCodes: 'location' }));
    try {
      await expect(c.ping()).resolves.toBeUndefined();
      const stock = await c.fetch('stock', ['FURN_0001']);
      expect(stock.map((r) => [r.location, r.onHand, r.committed, r.asOf.toISOString()]).sort()).toEqual([
        ['CHI/Stock', 4, 0, '2024-05-01T12:00:00.000Z'],
        ['WH/Stock', 10, 2, '2024-05-02T08:30:00.000Z'],
        ['WH/Stock/Shelf 1', 5, 0, '2024-05-01T10:00:00.000Z'],
      ]);
      expect([...(await c.orderReferences!(['S00001', 'S00002', 'S00003']))]).toEqual(['S00001']);
    } finally {
      await c.close();
    }
  });

  it('maps barcodes and vendor product codes (of a variant, or of its template) as identifiers', async () => {
    const s = presetSource(source());
    expect(s.client).toBe('pg');
    expect(await identifierRows(t.db, s.identifiers!.barcode!)).toEqual([['FURN_0001', '601647855631']]);
    expect(await identifierRows(t.db, s.identifiers!.supplierPart!)).toEqual([
      ['FURN_0001', 'V-CHAIR-9'],
      ['LAMP-1', 'V-LAMP'],
    ]);
  });
});
