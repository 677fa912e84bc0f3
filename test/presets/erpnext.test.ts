/**
 * The `erpnext` preset on ERPNext's own tables (test/fixtures/presets/erpnext.ts, on MariaDB):
 * a config with `preset: erpnext` and a connection, no SQL, must give the figures ERPNext
 * itself shows: tabBin's actual and reserved quantities per warehouse of one company, a
 * disabled item and a fractional quantity kept out, the Standard Buying price as cost, item
 * names, barcodes and supplier part numbers, open pick lists as movements, submitted Sales
 * Orders as orders, and the ledger without its cancelled entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMariaDbDatabase, type TestDatabase } from '../helpers/databases.js';
import { createErpnextSchema } from '../fixtures/presets/erpnext.js';
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
const CODES = ['WIDGET', 'GADGET', 'OLDTHING', 'FRAC'];

async function seed(): Promise<void> {
  await createErpnextSchema(t);
  await t.db('tabCompany').insert([
    { name: 'Acme Corp', company_name: 'Acme Corp', abbr: 'AC', default_currency: 'USD' },
    { name: 'Beta Co', company_name: 'Beta Co', abbr: 'BC', default_currency: 'EUR' },
  ]);
  await t.db('tabWarehouse').insert([
    { name: 'All Warehouses - AC', warehouse_name: 'All Warehouses', company: 'Acme Corp', is_group: 1 },
    { name: 'Stores - AC', warehouse_name: 'Stores', company: 'Acme Corp', parent_warehouse: 'All Warehouses - AC' },
    { name: 'Finished Goods - AC', warehouse_name: 'Finished Goods', company: 'Acme Corp', parent_warehouse: 'All Warehouses - AC' },
    { name: 'Stores - BC', warehouse_name: 'Stores', company: 'Beta Co' },
  ]);
  await t.db('tabItem').insert([
    { name: 'WIDGET', item_code: 'WIDGET', item_name: 'Widget, blue', description: '<p>The blue widget</p>' },
    { name: 'GADGET', item_code: 'GADGET', item_name: 'Gadget' },
    { name: 'OLDTHING', item_code: 'OLDTHING', item_name: 'Old thing', disabled: 1 },
    { name: 'FRAC', item_code: 'FRAC', item_name: 'Cable by the metre' },
  ]);
  const bin = (name: string, item_code: string, warehouse: string, q: Record<string, string>, modified = '2024-05-02 08:30:00.000000') => ({
    name,
    item_code,
    warehouse,
    modified,
    ...q,
  });
  await t.db('tabBin').insert([
    bin('BIN-1', 'WIDGET', 'Stores - AC', {
      actual_qty: '12.000000000',
      reserved_qty: '3.000000000',
      reserved_qty_for_production: '1.000000000',
      projected_qty: '8.000000000',
    }),
    bin('BIN-2', 'WIDGET', 'Finished Goods - AC', { actual_qty: '4.000000000' }, '2024-05-01 10:00:00.000000'),
    bin('BIN-3', 'GADGET', 'Stores - AC', { actual_qty: '7.000000000', reserved_qty_for_sub_contract: '2.000000000' }),
    bin('BIN-4', 'OLDTHING', 'Stores - AC', { actual_qty: '5.000000000' }),
    bin('BIN-5', 'FRAC', 'Stores - AC', { actual_qty: '2.500000000' }),
    bin('BIN-6', 'WIDGET', 'Stores - BC', { actual_qty: '100.000000000' }),
  ]);
  const sle = (name: string, actual_qty: string, is_cancelled = 0) => ({
    name,
    item_code: 'WIDGET',
    warehouse: 'Stores - AC',
    posting_date: '2024-05-02',
    actual_qty,
    is_cancelled,
    docstatus: 1,
    company: 'Acme Corp',
  });
  // 10 in, a receipt of 5 cancelled (its entry and the reversal both flagged), 2 in: 12
  await t
    .db('tabStock Ledger Entry')
    .insert([sle('SLE-1', '10.000000000'), sle('SLE-2', '5.000000000', 1), sle('SLE-3', '-5.000000000', 1), sle('SLE-4', '2.000000000')]);
  const price = (name: string, item_code: string, price_list: string, rate: string, currency: string, more: Record<string, string> = {}) => ({
    name,
    item_code,
    price_list,
    price_list_rate: rate,
    currency,
    buying: price_list.endsWith('Buying') ? 1 : 0,
    selling: price_list.endsWith('Selling') ? 1 : 0,
    ...more,
  });
  await t
    .db('tabItem Price')
    .insert([
      price('PR-1', 'WIDGET', 'Standard Buying', '12.340000000', 'USD'),
      price('PR-2', 'WIDGET', 'Standard Selling', '20.000000000', 'USD'),
      price('PR-3', 'WIDGET', 'Standard Buying', '9.000000000', 'USD', { valid_from: '2019-01-01', valid_upto: '2020-01-01' }),
      price('PR-4', 'GADGET', 'Standard Buying', '0.500000000', 'EUR'),
      price('PR-5', 'GADGET', 'Standard Buying', '0.400000000', 'EUR', { supplier: 'Cheap Parts Ltd' }),
    ]);
  const child = (name: string, parent: string, parentfield: string, more: Record<string, string>) => ({
    name,
    parent,
    parentfield,
    parenttype: 'Item',
    ...more,
  });
  await t
    .db('tabItem Barcode')
    .insert([
      child('BC-1', 'WIDGET', 'barcodes', { barcode: '4006381333931', barcode_type: 'EAN' }),
      child('BC-2', 'WIDGET', 'barcodes', { barcode: '012345678905', barcode_type: 'UPC-A' }),
      child('BC-3', 'GADGET', 'barcodes', { barcode: '5901234123457', barcode_type: 'EAN' }),
    ]);
  await t
    .db('tabItem Supplier')
    .insert([
      child('IS-1', 'GADGET', 'supplier_items', { supplier: 'Cheap Parts Ltd', supplier_part_no: 'CP-G-1' }),
      child('IS-2', 'WIDGET', 'supplier_items', { supplier: 'No Number Inc', supplier_part_no: '' }),
    ]);
  await t.db('tabSales Order').insert([
    { name: 'SAL-ORD-2024-00001', docstatus: 1, status: 'To Deliver and Bill', customer: 'Shop', company: 'Acme Corp' },
    { name: 'SAL-ORD-2024-00002', docstatus: 0, status: 'Draft', customer: 'Shop', company: 'Acme Corp' },
    { name: 'SAL-ORD-2024-00003', docstatus: 2, status: 'Cancelled', customer: 'Shop', company: 'Acme Corp' },
  ]);
  await t.db('tabPick List').insert([
    { name: 'PICK-1', docstatus: 1, status: 'Open', purpose: 'Delivery', company: 'Acme Corp', modified: '2024-05-02 09:00:00.000000' },
    { name: 'PICK-2', docstatus: 1, status: 'Completed', purpose: 'Delivery', company: 'Acme Corp', modified: '2024-05-01 09:00:00.000000' },
    { name: 'PICK-3', docstatus: 0, status: 'Draft', purpose: 'Delivery', company: 'Acme Corp', modified: '2024-05-01 09:00:00.000000' },
  ]);
  const pick = (name: string, parent: string, picked_qty: string) => ({
    name,
    parent,
    parenttype: 'Pick List',
    parentfield: 'locations',
    item_code: 'WIDGET',
    warehouse: 'Stores - AC',
    qty: picked_qty,
    picked_qty,
    sales_order: 'SAL-ORD-2024-00001',
  });
  await t
    .db('tabPick List Item')
    .insert([pick('PLI-1', 'PICK-1', '2.000000000'), pick('PLI-2', 'PICK-2', '5.000000000'), pick('PLI-3', 'PICK-3', '1.000000000')]);
}

const source = () => ({ preset: 'erpnext', client: 'mysql2', connection: t.connection, presetOptions: { company: 'Acme Corp' } });

beforeAll(async () => {
  t = await createMariaDbDatabase();
  await seed();
  gw = await startPresetGateway({
    source: source(),
    locations: { STORES: 'Stores - AC', FG: 'Finished Goods - AC' },
    codes: CODES,
    precedence: ['quantity', 'cost', 'name'],
  });
});

afterAll(async () => {
  await gw?.close();
  await t?.cleanup();
});

describe('preset: erpnext', () => {
  it('gives tabBin’s actual and reserved quantities per warehouse of the company, with no SQL in the config', async () => {
    const r = await gw.gql<Figures>(FIGURES, { skus: ['WIDGET', 'GADGET'] });
    expect(r.errors).toBeUndefined();
    const [widget, gadget] = r.data!.availability;
    // Stores - AC: 12 on hand, reserved 3 for sales orders + 1 for production; Stores - BC is another company's
    expect(widget!.byLocation.map((l) => [l.location.id, l.onHand, l.committed, l.available])).toEqual([
      ['STORES', 12, 4, 8],
      ['FG', 4, 0, 4],
    ]);
    expect([widget!.onHand, widget!.committed, widget!.available]).toEqual([16, 4, 12]);
    // reserved for a subcontracting order counts as committed too
    expect([gadget!.onHand, gadget!.committed, gadget!.available]).toEqual([7, 2, 5]);
  });

  it('reads no stock of a disabled item, and refuses a fractional quantity rather than rounding it', async () => {
    const r = await gw.gql<Figures>(FIGURES, { skus: ['OLDTHING', 'FRAC'] });
    const [old, frac] = r.data!.availability;
    expect(old!.onHand).toBe(0);
    expect(old!.byLocation.every((l) => l.onHand === 0)).toBe(true);
    expect(frac!.onHand).toBe(0);
    expect(frac!.byLocation.find((l) => l.location.id === 'STORES')).toMatchObject({ onHand: 0, flags: ['INVALID_SOURCE_DATA'] });
  });

  it('takes names from tabItem and the unit cost from the Standard Buying price list, exactly', async () => {
    const widget = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: 'WIDGET' });
    const gadget = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: 'GADGET' });
    // the selling price, an expired price and a supplier's own price are not the cost
    expect(widget.data!.inventoryItem).toEqual({ sku: 'WIDGET', name: 'Widget, blue', unitCost: { amount: '12.340000000', currency: 'USD', source: 'sys' } });
    expect(gadget.data!.inventoryItem).toEqual({ sku: 'GADGET', name: 'Gadget', unitCost: { amount: '0.500000000', currency: 'EUR', source: 'sys' } });
  });

  it('maps barcodes and supplier part numbers as identifiers', async () => {
    const s = presetSource(source());
    expect(await identifierRows(t.db, s.identifiers!.barcode!)).toEqual([
      ['GADGET', '5901234123457'],
      ['WIDGET', '012345678905'],
      ['WIDGET', '4006381333931'],
    ]);
    expect(await identifierRows(t.db, s.identifiers!.supplierPart!)).toEqual([['GADGET', 'CP-G-1']]);
  });

  it('reads open pick lists as picked-not-invoiced, submitted Sales Orders as orders, and pings every mapping', async () => {
    const c = presetConnector(source());
    try {
      await expect(c.ping()).resolves.toBeUndefined();
      const moves = await c.fetch('movements', ['WIDGET']);
      // each with its pick list, which the reconciliation line names ("explained by pickedNotInvoiced of PICK-...")
      expect(moves.map(({ code, location, kind, quantity }) => ({ code, location, kind, quantity }))).toEqual([
        { code: 'WIDGET', location: 'Stores - AC', kind: 'pickedNotDelivered', quantity: 2 },
      ]);
      expect(moves[0]?.reference).toMatch(/\S/);
      const found = await c.orderReferences!(['SAL-ORD-2024-00001', 'SAL-ORD-2024-00002', 'SAL-ORD-2024-00003']);
      expect([...found]).toEqual(['SAL-ORD-2024-00001']);
    } finally {
      await c.close();
    }
  });

  it('sums the stock ledger without cancelled entries, and names warehouses without the abbreviation when asked', async () => {
    const c = presetConnector({ ...source(), presetOptions: { company: 'Acme Corp', stockFrom: 'ledger', locationCodes: 'warehouseName' } });
    try {
      const [r] = await c.fetch('stock', ['WIDGET']);
      expect([r!.location, r!.onHand, r!.committed, r!.asOf.toISOString()]).toEqual(['Stores', 12, 0, '2024-05-02T00:00:00.000Z']);
    } finally {
      await c.close();
    }
  });

  it('lets the user override one field of a mapping and replace a whole one', async () => {
    const s = presetSource({
      ...source(),
      items: { table: 'tabItem', columns: { sku: 'item_code', name: 'description' } },
      cost: { currency: 'GBP' },
      timeoutMs: 900,
    });
    expect(s.items).toEqual({ table: 'tabItem', columns: { sku: 'item_code', name: 'description' } });
    expect(s.cost?.query).toMatch(/tabItem Price/);
    expect(s.cost?.currency).toBe('GBP');
    expect(s.timeoutMs).toBe(900);
    const c = createItems(s);
    try {
      expect(await c.fetch('items', ['WIDGET'])).toEqual([{ code: 'WIDGET', name: '<p>The blue widget</p>' }]);
    } finally {
      await c.close();
    }
  });

  it('names a bad option by its key path', () => {
    expect(() => presetSource({ ...source(), presetOptions: { stockFrom: 'bins' } })).toThrow(/sources\.sys\.presetOptions\.stockFrom: /);
  });
});

function createItems(s: ReturnType<typeof presetSource>) {
  return presetConnector({ ...source(), items: s.items });
}
