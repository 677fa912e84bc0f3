/**
 * The `openboxes` preset on OpenBoxes's own tables (test/fixtures/presets/openboxes.ts, on
 * MariaDB): product_availability rows of lots and bins summed per facility, allocated and held
 * stock as committed, names, exact costs and UPC/NDC identifiers from `product`, picked stock
 * movements not yet shipped as movements, requisitions as orders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMariaDbDatabase, type TestDatabase } from '../helpers/databases.js';
import { createOpenboxesSchema } from '../fixtures/presets/openboxes.js';
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
const dates = { date_created: '2024-01-01 00:00:00', last_updated: '2024-05-01 00:00:00' };
const MAIN = 'f0000000-0000-0000-0000-000000000001';
const CLINIC = 'f0000000-0000-0000-0000-000000000002';
const PARA = 'p0000000-0000-0000-0000-000000000001';
const GAUZE = 'p0000000-0000-0000-0000-000000000002';

async function seed(): Promise<void> {
  await createOpenboxesSchema(t);
  await t.db('location').insert([
    { id: MAIN, name: 'Main Warehouse', location_number: 'MW-01', ...dates },
    { id: CLINIC, name: 'Clinic Store', location_number: 'CS-02', ...dates },
  ]);
  await t.db('product').insert([
    { id: PARA, name: 'Paracetamol 500mg', product_code: '10001', upc: '0300450444202', ndc: '50580-449', price_per_unit: '0.1250', ...dates },
    { id: GAUZE, name: 'Gauze pad', product_code: '10002', upc: '', price_per_unit: null, ...dates },
  ]);
  await t.db('inventory_item').insert([
    { id: 'i1', product_id: PARA, lot_number: 'A1', ...dates },
    { id: 'i2', product_id: PARA, lot_number: 'A2', ...dates },
    { id: 'i3', product_id: GAUZE, lot_number: null, ...dates },
  ]);
  const pa = (
    id: string,
    location_id: string,
    product_id: string,
    product_code: string,
    inventory_item_id: string,
    bin: string | null,
    q: number[],
    last_updated: string,
  ) => ({
    id,
    location_id,
    product_id,
    product_code,
    inventory_item_id,
    bin_location_name: bin,
    quantity_on_hand: q[0],
    quantity_allocated: q[1],
    quantity_on_hold: q[2],
    quantity_available_to_promise: (q[0] as number) - (q[1] as number) - (q[2] as number),
    date_created: '2024-01-01 00:00:00',
    last_updated,
  });
  await t.db('product_availability').insert([
    pa('a1', MAIN, PARA, '10001', 'i1', 'A-01-01', [100, 20, 0], '2024-05-02 08:30:00'),
    pa('a2', MAIN, PARA, '10001', 'i2', 'A-01-02', [50, 0, 0], '2024-05-01 10:00:00'),
    // a quarantine bin: on hand, not promisable
    pa('a3', MAIN, PARA, '10001', 'i1', 'HOLD-1', [10, 0, 10], '2024-05-01 11:00:00'),
    pa('a4', CLINIC, PARA, '10001', 'i1', null, [30, 0, 0], '2024-05-01 12:00:00'),
    pa('a5', MAIN, GAUZE, '10002', 'i3', 'B-02-01', [40, 5, 0], '2024-05-01 13:00:00'),
  ]);
  await t.db('requisition').insert([
    { id: 'r1', request_number: 'REQ-0001', status: 'PICKED', origin_id: MAIN, destination_id: CLINIC, ...dates },
    { id: 'r2', request_number: 'REQ-0002', status: 'ISSUED', origin_id: MAIN, destination_id: CLINIC, ...dates },
    { id: 'r3', request_number: 'REQ-0003', status: 'CANCELED', origin_id: MAIN, destination_id: CLINIC, ...dates },
  ]);
  await t.db('picklist').insert([
    { id: 'pk1', requisition_id: 'r1', ...dates },
    { id: 'pk2', requisition_id: 'r2', ...dates },
  ]);
  await t.db('picklist_item').insert([
    { id: 'pi1', picklist_id: 'pk1', inventory_item_id: 'i1', quantity: 20, quantity_picked: 20, ...dates },
    { id: 'pi2', picklist_id: 'pk2', inventory_item_id: 'i1', quantity: 5, quantity_picked: 5, ...dates },
  ]);
}

const source = () => ({ preset: 'openboxes', client: 'mysql2', connection: t.connection });

beforeAll(async () => {
  t = await createMariaDbDatabase();
  await seed();
  gw = await startPresetGateway({
    source: source(),
    locations: { MAIN: 'Main Warehouse', CLINIC: 'Clinic Store' },
    codes: ['10001', '10002'],
    precedence: ['quantity', 'cost', 'name'],
  });
});

afterAll(async () => {
  await gw?.close();
  await t?.cleanup();
});

describe('preset: openboxes', () => {
  it('sums lots and bins per facility, allocated and on hold as committed', async () => {
    const r = await gw.gql<Figures>(FIGURES, { skus: ['10001', '10002'] });
    expect(r.errors).toBeUndefined();
    const [para, gauze] = r.data!.availability;
    expect(para!.byLocation.map((l) => [l.location.id, l.onHand, l.committed, l.available])).toEqual([
      ['MAIN', 160, 30, 130],
      ['CLINIC', 30, 0, 30],
    ]);
    expect([gauze!.onHand, gauze!.committed, gauze!.available]).toEqual([40, 5, 35]);
  });

  it('takes names and the exact price per unit from product; a product without a price has no cost', async () => {
    const para = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: '10001' });
    const gauze = await gw.gql<{ inventoryItem: unknown }>(ITEM, { sku: '10002' });
    expect(para.data!.inventoryItem).toEqual({ sku: '10001', name: 'Paracetamol 500mg', unitCost: { amount: '0.1250', currency: 'USD', source: 'sys' } });
    expect(gauze.data!.inventoryItem).toEqual({ sku: '10002', name: 'Gauze pad', unitCost: null });
  });

  it('maps UPC and NDC as identifiers', async () => {
    const s = presetSource(source());
    expect(await identifierRows(t.db, s.identifiers!.barcode!)).toEqual([['10001', '0300450444202']]);
    expect(await identifierRows(t.db, s.identifiers!.ndc!)).toEqual([['10001', '50580-449']]);
  });

  it('reads picked stock movements not yet issued as movements, live requisitions as orders, by location number when asked', async () => {
    const c = presetConnector({ ...source(), presetOptions: { locationCodes: 'number', currency: 'EUR' } });
    try {
      await expect(c.ping()).resolves.toBeUndefined();
      const moves = await c.fetch('movements', ['10001']);
      // with the requisition it was picked for, which the reconciliation line names
      expect(moves.map(({ location, kind, quantity, reference }) => [location, kind, quantity, reference])).toEqual([
        ['MW-01', 'pickedNotDelivered', 20, expect.stringMatching(/\S/)],
      ]);
      const stock = await c.fetch('stock', ['10001']);
      expect(stock.map((r) => [r.location, r.onHand, r.asOf.toISOString()]).sort()).toEqual([
        ['CS-02', 30, '2024-05-01T12:00:00.000Z'],
        ['MW-01', 160, '2024-05-02T08:30:00.000Z'],
      ]);
      expect(await c.fetch('cost', ['10001'])).toEqual([{ code: '10001', amount: '0.1250', currency: 'EUR' }]);
      expect([...(await c.orderReferences!(['REQ-0001', 'REQ-0002', 'REQ-0003']))].sort()).toEqual(['REQ-0001', 'REQ-0002']);
    } finally {
      await c.close();
    }
  });
});
