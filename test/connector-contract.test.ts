/**
 * The Connector contract, run against every backend the SQL connector supports (SQLite,
 * MariaDB and, for sources only, PostgreSQL): one suite, the same fixtures, the same assertions. A new connector kind joins by
 * adding itself to the loop, not by copying the suite.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { csvSourceSchema, httpSourceSchema, sqlSourceSchema } from '../src/config/schema.js';
import type { Entity, MovementRecord, StockRecord } from '../src/domain/records.js';
import { MappingError, type Connector, type IdentifierRow, type StatementMeter } from '../src/sources/connector.js';
import { createCsvConnector } from '../src/sources/csv.js';
import { createHttpConnector } from '../src/sources/http.js';
import { createSqlConnector } from '../src/sources/sql.js';
import { startRowsStub } from './helpers/api-stubs.js';
import { createMariaDbDatabase, createPostgresDatabase, SOURCE_BACKENDS, type Backend, type TestDatabase } from './helpers/databases.js';
import * as erpnextFixture from './fixtures/presets/erpnext.js';
import * as magentoFixture from './fixtures/presets/magento.js';
import * as odooFixture from './fixtures/presets/odoo.js';
import * as openboxesFixture from './fixtures/presets/openboxes.js';
import * as woocommerceFixture from './fixtures/presets/woocommerce.js';
import { presetSource } from './helpers/preset-gateway.js';

/** A source's config as written in YAML, less what the backend supplies. */
type SourceInput = Omit<z.input<typeof sqlSourceSchema>, 'kind' | 'client' | 'connection'>;

const CODES = ['A-100', 'B-200', 'C-300', 'D-400', 'E-500'];
const MANY = Array.from({ length: 25 }, (_, i) => `M-${String(i + 1).padStart(2, '0')}`);

const STOCK_COLUMNS = { sku: 'item_code', location: 'wh', onHand: 'qty', committed: 'picked', asOf: 'updated_at' };

/** Bins: A-100 has three at EAST (summed) and one at WEST; C-300 is cancelled, D-400 deleted, E-500 on hold. */
const BINS = [
  { item_code: 'A-100', wh: 'EAST', warehouse_id: 1, qty: 5, picked: 1, updated_at: '2024-05-01 10:00:00', status: 'A', deleted_at: null },
  { item_code: 'A-100', wh: 'EAST', warehouse_id: 1, qty: 7, picked: 2, updated_at: '2024-05-02 08:30:00', status: 'A', deleted_at: null },
  { item_code: 'A-100', wh: 'EAST', warehouse_id: 1, qty: 3, picked: 0, updated_at: '2024-04-30 23:59:59', status: 'A', deleted_at: null },
  { item_code: 'A-100', wh: 'WEST', warehouse_id: 2, qty: 4, picked: 0, updated_at: '2024-05-01 12:00:00', status: 'A', deleted_at: null },
  { item_code: 'B-200', wh: 'EAST', warehouse_id: 1, qty: 10, picked: 5, updated_at: '2024-05-03 00:00:00', status: 'A', deleted_at: null },
  { item_code: 'C-300', wh: 'EAST', warehouse_id: 1, qty: 9, picked: 0, updated_at: '2024-05-03 00:00:00', status: 'X', deleted_at: null },
  { item_code: 'D-400', wh: 'WEST', warehouse_id: 2, qty: 2, picked: 0, updated_at: '2024-05-03 00:00:00', status: 'A', deleted_at: '2024-05-04 00:00:00' },
  { item_code: 'E-500', wh: 'WEST', warehouse_id: 2, qty: 6, picked: 1, updated_at: '2024-05-03 00:00:00', status: 'H', deleted_at: null },
  ...MANY.map((code, i) => ({
    item_code: code,
    wh: 'EAST',
    warehouse_id: 1,
    qty: i + 1,
    picked: 0,
    updated_at: '2024-05-01 00:00:00',
    status: 'A',
    deleted_at: null,
  })),
];

/** Every stock record of the fixture, as a table mapping without `where` must return it. */
const ALL_STOCK: StockRecord[] = [
  { code: 'A-100', location: 'EAST', onHand: 15, committed: 3, asOf: new Date('2024-05-02T08:30:00.000Z') },
  { code: 'A-100', location: 'WEST', onHand: 4, committed: 0, asOf: new Date('2024-05-01T12:00:00.000Z') },
  { code: 'B-200', location: 'EAST', onHand: 10, committed: 5, asOf: new Date('2024-05-03T00:00:00.000Z') },
  { code: 'C-300', location: 'EAST', onHand: 9, committed: 0, asOf: new Date('2024-05-03T00:00:00.000Z') },
  { code: 'D-400', location: 'WEST', onHand: 2, committed: 0, asOf: new Date('2024-05-03T00:00:00.000Z') },
  { code: 'E-500', location: 'WEST', onHand: 6, committed: 1, asOf: new Date('2024-05-03T00:00:00.000Z') },
];

/** Bins of a warehouse table joined to its codes, the way a `query` mapping reads a real WMS. */
const STOCK_QUERY = `
  select b.item_code as sku, w.code as location, b.qty as onHand, b.picked as committed, b.updated_at as asOf
  from bins b join warehouses w on w.id = b.warehouse_id`;

/** A-100 has two barcodes (and one row twice), C-300 a row without a barcode, K-1 and k-1 differ by case only. */
const BARCODES = [
  { name: 'b1', parent: 'A-100', barcode: '0012345678905', barcode_type: 'EAN' },
  { name: 'b2', parent: 'A-100', barcode: '012345678905', barcode_type: 'UPC-A' },
  { name: 'b3', parent: 'B-200', barcode: ' 4006381333931 ', barcode_type: 'EAN' },
  { name: 'b4', parent: 'C-300', barcode: null, barcode_type: null },
  { name: 'b5', parent: 'C-300', barcode: 'CODE-39-X', barcode_type: 'CODE-39' },
  { name: 'b6', parent: 'k-1', barcode: '222', barcode_type: 'EAN' },
  { name: 'b7', parent: 'K-1', barcode: '111', barcode_type: 'EAN' },
  { name: 'b8', parent: 'A-100', barcode: '0012345678905', barcode_type: 'EAN' },
  ...MANY.map((code, i) => ({ name: `m${i}`, parent: code, barcode: `2000000000${String(i).padStart(3, '0')}`, barcode_type: 'EAN' })),
];

/** Every (code, value) of BARCODES, distinct, without the null, in byte order. */
const ALL_BARCODES = [
  ...[
    ...new Map(
      BARCODES.filter((b) => b.barcode !== null).map((b) => [`${b.parent}\u0000${b.barcode}`, { code: b.parent, value: b.barcode as string }]),
    ).values(),
  ],
].sort((a, b) => Buffer.compare(Buffer.from(`${a.code}\u0000${a.value}`), Buffer.from(`${b.code}\u0000${b.value}`)));

/** Two WooCommerce products: SKU and GTIN are postmeta rows of one post; post 3 has no GTIN. */
const POSTMETA = [
  { meta_id: 1, post_id: 1, meta_key: '_sku', meta_value: 'woo-a' },
  { meta_id: 2, post_id: 1, meta_key: '_global_unique_id', meta_value: '12345678905' },
  { meta_id: 3, post_id: 2, meta_key: '_sku', meta_value: 'woo-b' },
  { meta_id: 4, post_id: 2, meta_key: '_global_unique_id', meta_value: '4006381333931' },
  { meta_id: 5, post_id: 3, meta_key: '_sku', meta_value: 'woo-c' },
];
const GTIN_QUERY = `select s.meta_value as sku, g.meta_value as value
  from wp_postmeta s join wp_postmeta g on g.post_id = s.post_id and g.meta_key = '_global_unique_id'
  where s.meta_key = '_sku'`;

async function createFixtures(t: TestDatabase, backend: Backend): Promise<void> {
  const { decimal, datetime } = backend.types;
  await t.exec(`create table warehouses (id integer not null primary key, code varchar(32) not null)`);
  await t.exec(
    `create table bins (item_code varchar(64) not null, wh varchar(32) not null, warehouse_id integer not null,
       qty integer not null, picked integer not null, updated_at ${datetime} not null,
       status varchar(8) not null, deleted_at ${datetime} null)`,
  );
  await t.exec(`create table item_cost (item_no varchar(64) not null primary key, std_cost ${decimal} not null, ccy varchar(3) not null)`);
  await t.exec(`create table items (item_no varchar(64) not null primary key, title varchar(255) not null, status varchar(8) not null)`);
  // a quantity column that holds text, as a badly typed legacy table would
  await t.exec(`create table cased_bins (item_code varchar(64) not null, wh varchar(32) not null, qty integer not null)`);
  await t.exec(`create table loose_bins (item_code varchar(64) not null, wh varchar(32) not null, qty varchar(16) not null)`);

  // item barcodes shaped like ERPNext's `tabItem Barcode` (a child table of tabItem), and a
  // WooCommerce-like postmeta with `_sku` and `_global_unique_id`
  await t.db.schema.createTable('tabItem Barcode', (tb) => {
    tb.string('name', 64).notNullable().primary();
    tb.string('parent', 64).notNullable();
    tb.string('barcode', 64).nullable();
    tb.string('barcode_type', 16).nullable();
  });
  await t.exec(
    'create table wp_postmeta (meta_id integer not null primary key, post_id integer not null, meta_key varchar(64) not null, meta_value varchar(255) null)',
  );
  await t.db('tabItem Barcode').insert(BARCODES);
  await t.db('wp_postmeta').insert(POSTMETA);
  await t.db('warehouses').insert([
    { id: 1, code: 'EAST' },
    { id: 2, code: 'WEST' },
  ]);
  await t.db('bins').insert(BINS);
  await t.db('item_cost').insert([
    { item_no: 'A-100', std_cost: '12.3400', ccy: 'USD' },
    { item_no: 'B-200', std_cost: '0.5000', ccy: 'EUR' },
    { item_no: 'C-300', std_cost: '1234.5678', ccy: 'USD' },
  ]);
  await t.db('items').insert([
    { item_no: 'A-100', title: 'Widget', status: 'A' },
    { item_no: 'B-200', title: 'Gadget, blue', status: 'A' },
    { item_no: 'C-300', title: 'Discontinued thing', status: 'D' },
  ]);
  await t.db('cased_bins').insert([
    { item_code: 'K-1', wh: 'EAST', qty: 1 },
    { item_code: 'k-1', wh: 'EAST', qty: 2 },
  ]);
  await t.db('loose_bins').insert([
    { item_code: 'L-1', wh: 'EAST', qty: '5' },
    { item_code: 'L-2', wh: 'EAST', qty: 'abc' },
    { item_code: 'L-3', wh: 'EAST', qty: '3' },
    { item_code: 'L-3', wh: 'EAST', qty: '4abc' },
    { item_code: 'L-4', wh: 'EAST', qty: '2.5' },
  ]);
}

function byCodeAndLocation<T extends { code: string; location?: string }>(records: readonly T[]): T[] {
  const key = (r: T) => `${r.code}\u0000${r.location ?? ''}`;
  return [...records].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Movements added up per (code, location, kind), documents dropped, the newest asOf kept. */
function perKind(records: readonly MovementRecord[]): MovementRecord[] {
  const out = new Map<string, MovementRecord>();
  for (const { reference: _reference, ...r } of records) {
    const k = `${r.code}\u0000${r.location}\u0000${r.kind}`;
    const was = out.get(k);
    if (was === undefined) out.set(k, { ...r });
    else {
      was.quantity += r.quantity;
      if (r.asOf > was.asOf) was.asOf = r.asOf;
    }
  }
  return [...out.values()];
}

function countingMeter(): StatementMeter & { calls: { source: string; entity: Entity | 'identifiers' }[] } {
  const calls: { source: string; entity: Entity | 'identifiers' }[] = [];
  return { calls, statement: (source, entity) => void calls.push({ source, entity }) };
}

for (const backend of SOURCE_BACKENDS) {
  describe(`SQL connector on ${backend.name}`, () => {
    let t: TestDatabase;
    let open: Connector[] = [];

    /** A connector on the fixture database; every one is closed after its test. */
    function connector(source: SourceInput, o: { connection?: string; chunkSize?: number } = {}): Connector {
      const config = sqlSourceSchema.parse({ kind: 'sql', client: backend.client, connection: o.connection ?? t.connection, ...source });
      const c = createSqlConnector(`${backend.name}-source`, config, o.chunkSize);
      open.push(c);
      return c;
    }

    beforeAll(async () => {
      t = await backend.create();
      await createFixtures(t, backend);
    });

    afterAll(async () => {
      await t?.cleanup();
    });

    afterEach(async () => {
      const closing = open;
      open = [];
      // close() is awaited exactly once per connector and always resolves
      for (const c of closing) await expect(c.close()).resolves.toBeUndefined();
    });

    describe('stock', () => {
      it('sums bins per (code, location), adds committed and keeps the newest asOf', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS } });
        expect(c.kind).toBe('sql');
        expect([...c.entities]).toEqual(['stock']);

        const records = await c.fetch('stock', ['A-100', 'B-200']);

        expect(byCodeAndLocation(records)).toEqual(ALL_STOCK.filter((r) => r.code === 'A-100' || r.code === 'B-200'));
        const east = records.find((r) => r.code === 'A-100' && r.location === 'EAST');
        expect(east?.asOf).toBeInstanceOf(Date);
        expect(east?.asOf.toISOString()).toBe('2024-05-02T08:30:00.000Z');
        for (const r of records) {
          expect(typeof r.onHand).toBe('number');
          expect(typeof r.committed).toBe('number');
        }
      });

      it('gives committed 0 and asOf = read time when the mapping has neither', async () => {
        const c = connector({ stock: { table: 'bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } } });

        const before = Date.now();
        const records = await c.fetch('stock', ['A-100']);
        const after = Date.now();

        expect(byCodeAndLocation(records).map(({ code, location, onHand, committed }) => ({ code, location, onHand, committed }))).toEqual([
          { code: 'A-100', location: 'EAST', onHand: 15, committed: 0 },
          { code: 'A-100', location: 'WEST', onHand: 4, committed: 0 },
        ]);
        for (const r of records) {
          expect(r.asOf).toBeInstanceOf(Date);
          expect(r.asOf.getTime()).toBeGreaterThanOrEqual(before);
          expect(r.asOf.getTime()).toBeLessThanOrEqual(after);
        }
      });

      it('applies a scalar `where` as equality', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS, where: { status: 'A' } } });

        const records = await c.fetch('stock', CODES);

        expect(byCodeAndLocation(records)).toEqual(ALL_STOCK.filter((r) => ['A-100', 'B-200', 'D-400'].includes(r.code)));
      });

      it('applies a list `where` as IN', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS, where: { status: ['A', 'H'] } } });

        const records = await c.fetch('stock', CODES);

        expect(byCodeAndLocation(records)).toEqual(ALL_STOCK.filter((r) => r.code !== 'C-300'));
      });

      it('applies a null `where` as IS NULL', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS, where: { deleted_at: null } } });

        const records = await c.fetch('stock', CODES);

        expect(byCodeAndLocation(records)).toEqual(ALL_STOCK.filter((r) => r.code !== 'D-400'));
      });

      it('combines several `where` keys', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS, where: { status: ['A', 'H'], deleted_at: null } } });

        const records = await c.fetch('stock', CODES);

        expect(byCodeAndLocation(records)).toEqual(ALL_STOCK.filter((r) => r.code !== 'C-300' && r.code !== 'D-400'));
      });

      it('reads a `query` mapping (a join, aliased to canonical names) exactly like the table mapping', async () => {
        const byTable = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS } });
        const byQuery = connector({ stock: { query: STOCK_QUERY } });
        // a trailing semicolon is allowed in the config and must not break the derived table
        const withSemicolon = connector({ stock: { query: `${STOCK_QUERY};` } });

        const [table, query, semicolon] = await Promise.all([
          byTable.fetch('stock', CODES),
          byQuery.fetch('stock', CODES),
          withSemicolon.fetch('stock', CODES),
        ]);

        expect(byCodeAndLocation(query)).toEqual(ALL_STOCK);
        expect(byCodeAndLocation(query)).toEqual(byCodeAndLocation(table));
        expect(byCodeAndLocation(semicolon)).toEqual(ALL_STOCK);
      });

      // SUM() coerces non-numeric text on both engines ('abc' as 0, '3' + '4abc' as 7): the
      // connector must notice and mark the record invalid, never return a silent zero, and
      // never fail the rest of the batch for it
      it('marks a non-numeric quantity invalid instead of reading it as 0, and keeps the rest of the batch', async () => {
        const c = connector({ stock: { table: 'loose_bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } } });

        const records = byCodeAndLocation(await c.fetch('stock', ['L-1', 'L-2']));

        expect(records.map((r) => [r.code, r.invalid])).toEqual([
          ['L-1', undefined],
          ['L-2', expect.stringMatching(/quantity is not a number in 1 row/)],
        ]);
        expect(records[0]!.onHand).toBe(5);
      });

      it('marks a bin whose quantity only starts with a number invalid', async () => {
        const c = connector({ stock: { table: 'loose_bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } } });

        const [record] = await c.fetch('stock', ['L-3']);

        expect(record!.invalid).toMatch(/quantity is not a number/);
      });

      it('marks a fractional quantity invalid', async () => {
        const c = connector({ stock: { table: 'loose_bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } } });

        const [record] = await c.fetch('stock', ['L-4']);

        expect(record!.invalid).toMatch(/onHand is not a whole number: 2\.5/);
      });

      it('reads a numeric quantity held as text', async () => {
        const c = connector({ stock: { table: 'loose_bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } } });

        const records = await c.fetch('stock', ['L-1']);

        expect(records.map(({ code, location, onHand }) => ({ code, location, onHand }))).toEqual([{ code: 'L-1', location: 'EAST', onHand: 5 }]);
      });
    });

    describe('cost', () => {
      it('returns the amount as the exact decimal string, with the currency column', async () => {
        const c = connector({ cost: { table: 'item_cost', columns: { sku: 'item_no', unitCost: 'std_cost', currency: 'ccy' } } });

        const records = await c.fetch('cost', ['A-100', 'B-200', 'C-300']);

        expect(byCodeAndLocation(records)).toEqual([
          { code: 'A-100', amount: '12.3400', currency: 'USD' },
          { code: 'B-200', amount: '0.5000', currency: 'EUR' },
          { code: 'C-300', amount: '1234.5678', currency: 'USD' },
        ]);
      });

      it('uses the mapping’s fixed `currency` when no column is mapped', async () => {
        const c = connector({ cost: { table: 'item_cost', columns: { sku: 'item_no', unitCost: 'std_cost' }, currency: 'GBP' } });

        const records = await c.fetch('cost', ['A-100', 'B-200']);

        expect(byCodeAndLocation(records)).toEqual([
          { code: 'A-100', amount: '12.3400', currency: 'GBP' },
          { code: 'B-200', amount: '0.5000', currency: 'GBP' },
        ]);
      });

      it('reads cost through a `query` mapping', async () => {
        const c = connector({ cost: { query: 'select item_no as sku, std_cost as unitCost, ccy as currency from item_cost' } });

        const records = await c.fetch('cost', ['C-300']);

        expect(records).toEqual([{ code: 'C-300', amount: '1234.5678', currency: 'USD' }]);
      });
    });

    describe('items', () => {
      it('returns names', async () => {
        const c = connector({ items: { table: 'items', columns: { sku: 'item_no', name: 'title' } } });

        const records = await c.fetch('items', ['A-100', 'B-200', 'C-300']);

        expect(byCodeAndLocation(records)).toEqual([
          { code: 'A-100', name: 'Widget' },
          { code: 'B-200', name: 'Gadget, blue' },
          { code: 'C-300', name: 'Discontinued thing' },
        ]);
      });

      it('excludes rows a `where` filters out', async () => {
        const c = connector({ items: { table: 'items', columns: { sku: 'item_no', name: 'title' }, where: { status: 'A' } } });

        const records = await c.fetch('items', ['A-100', 'B-200', 'C-300']);

        expect(byCodeAndLocation(records).map((r) => r.code)).toEqual(['A-100', 'B-200']);
      });
    });

    describe('query mappings: the columns a query gives', () => {
      const source = `${backend.name}-source`;
      const STOCK_ONLY_REQUIRED = `select b.item_code as sku, w.code as location, b.qty as onHand from bins b join warehouses w on w.id = b.warehouse_id`;

      it('reads a stock `query` without `committed` and `asOf` (committed 0, asOf the read time), and pings it', async () => {
        const c = connector({ stock: { query: STOCK_ONLY_REQUIRED } });

        const before = Date.now();
        const records = await c.fetch('stock', ['A-100']);

        expect(byCodeAndLocation(records).map(({ code, location, onHand, committed }) => ({ code, location, onHand, committed }))).toEqual([
          { code: 'A-100', location: 'EAST', onHand: 15, committed: 0 },
          { code: 'A-100', location: 'WEST', onHand: 4, committed: 0 },
        ]);
        for (const r of records) expect(r.asOf.getTime()).toBeGreaterThanOrEqual(before);
        await expect(c.ping()).resolves.toBeUndefined();
        // a whole-source read (how a mirror loads) builds its statement from the same columns
        let scanned = 0;
        await c.scan?.('stock', (batch) => void (scanned += batch.length));
        expect(scanned).toBe(BINS.length);
      });

      it('reads a cost `query` without a `currency` alias next to a fixed `currency`', async () => {
        const c = connector({ cost: { query: 'select item_no as sku, std_cost as unitCost from item_cost', currency: 'GBP' } });

        expect(byCodeAndLocation(await c.fetch('cost', ['A-100', 'C-300']))).toEqual([
          { code: 'A-100', amount: '12.3400', currency: 'GBP' },
          { code: 'C-300', amount: '1234.5678', currency: 'GBP' },
        ]);
        await expect(c.ping()).resolves.toBeUndefined();
      });

      it('reads a movements `query` without `asOf`, its kind fixed or aliased, and asks for a kind when it has neither', async () => {
        const picks = 'select item_code as sku, wh as location, picked as quantity from bins';
        const fixed = connector({ stock: { query: STOCK_ONLY_REQUIRED }, movements: { query: picks, kind: 'pickedNotInvoiced' } });
        const aliased = connector({
          stock: { query: STOCK_ONLY_REQUIRED },
          movements: { query: `select item_code as sku, wh as location, picked as quantity, 'inTransit' as kind from bins` },
        });

        const before = Date.now();
        const records = await fixed.fetch('movements', ['A-100']);
        expect(records.map(({ code, location, kind, quantity }) => ({ code, location, kind, quantity }))).toEqual([
          { code: 'A-100', location: 'EAST', kind: 'pickedNotInvoiced', quantity: 3 },
        ]);
        expect(records[0]?.asOf.getTime()).toBeGreaterThanOrEqual(before);
        expect((await aliased.fetch('movements', ['A-100'])).map((r) => r.kind)).toEqual(['inTransit']);

        const neither = connector({ stock: { query: STOCK_ONLY_REQUIRED }, movements: { query: picks } });
        await expect(neither.fetch('movements', ['A-100'])).rejects.toThrow(
          `source "${source}" movements: its query gives no \`kind\` column (or set a fixed \`kind\` on the mapping); it gives sku, location, quantity`,
        );
      });

      it('learns a query’s columns once, with a statement that reads no row', async () => {
        const c = connector({ stock: { query: STOCK_ONLY_REQUIRED } });
        const spy = backend.spyOnStatements();
        try {
          await c.fetch('stock', ['A-100']);
          await c.fetch('stock', ['B-200']);
          await c.ping();
        } finally {
          spy.restore();
        }

        // MariaDB and PostgreSQL run it once (their answer carries the field list); SQLite only prepares it (a prepared statement knows its columns)
        const learning = spy.sql.filter((sql) => /limit 0/i.test(sql));
        expect(learning).toHaveLength(backend.client === 'better-sqlite3' ? 0 : 1);
        for (const sql of learning) expect(sql).toMatch(/^select \* from \(/i);
        // and besides it, one statement per fetch and one for the ping
        expect(spy.sql.filter((sql) => /\bbins\b/.test(sql) && !/limit 0/i.test(sql))).toHaveLength(3);
      });

      it('names the source, the entity and the missing alias when a query lacks a required one', async () => {
        const c = connector({ stock: { query: 'select item_code as sku, wh as location, qty from bins' } });
        const expected = `source "${source}" stock: its query gives no \`onHand\` column; it gives sku, location, qty`;

        await expect(c.fetch('stock', ['A-100'])).rejects.toThrow(expected);
        await expect(c.ping()).rejects.toThrow(expected);
        await expect(c.fetch('stock', ['A-100'])).rejects.toBeInstanceOf(MappingError);
      });

      it('asks for a `currency` alias or a fixed `currency` on a cost query with neither', async () => {
        const c = connector({ cost: { query: 'select item_no as sku, std_cost as unitCost from item_cost' } });

        await expect(c.fetch('cost', ['A-100'])).rejects.toThrow(
          `source "${source}" cost: its query gives no \`currency\` column (or set a fixed \`currency\` on the mapping); it gives sku, ${backend.client === 'pg' ? 'unitcost' : 'unitCost'}`, // PostgreSQL folds an unquoted alias to lower case
        );
      });

      it('says which table or column does not exist, per entity, and ping() reports every wrong mapping', async () => {
        const c = connector({
          stock: { table: 'bins', columns: STOCK_COLUMNS },
          cost: { table: 'tabItem Price', columns: { sku: 'item_no', unitCost: 'std_cost' }, currency: 'USD' },
          items: { table: 'items', columns: { sku: 'item_no', name: 'no_such_column' } },
        });

        const cost = await c.fetch('cost', ['A-100']).catch((e: unknown) => e);
        expect(cost).toBeInstanceOf(MappingError);
        expect((cost as MappingError).message).toBe(`source "${source}" cost: table "tabItem Price" does not exist`);
        await expect(c.fetch('items', ['A-100'])).rejects.toThrow(`source "${source}" items: column "no_such_column" does not exist`);
        // the stock mapping is right and answers
        expect(await c.fetch('stock', ['B-200'])).toHaveLength(1);

        const ping = await c.ping().catch((e: unknown) => e);
        expect(ping).toBeInstanceOf(MappingError);
        expect((ping as MappingError).all().map((e) => [e.entity, e.reason])).toEqual([
          ['cost', 'table "tabItem Price" does not exist'],
          ['items', 'column "no_such_column" does not exist'],
        ]);
      });

      it('probes each mapping: what it holds, or what is wrong', async () => {
        const c = connector({
          stock: { query: STOCK_ONLY_REQUIRED },
          cost: { table: 'tabItem Price', columns: { sku: 'item_no', unitCost: 'std_cost' }, currency: 'USD' },
          items: { table: 'items', columns: { sku: 'item_no', name: 'title' } },
        });

        expect(await c.probe?.()).toEqual([
          { entity: 'stock', ok: true, detail: `${new Set(BINS.map((b) => b.item_code)).size} codes` },
          { entity: 'cost', ok: false, reason: 'table "tabItem Price" does not exist' },
          { entity: 'items', ok: true, detail: '3 codes' },
        ]);
      });

      it('rejects probe() when the source cannot be reached', async () => {
        const c = connector({ stock: { query: STOCK_ONLY_REQUIRED }, timeoutMs: 2000 }, { connection: backend.unreachable() });

        await expect(c.probe?.()).rejects.toThrow();
      });
    });

    describe('codes', () => {
      const full = {
        stock: { table: 'bins', columns: STOCK_COLUMNS },
        cost: { table: 'item_cost', columns: { sku: 'item_no', unitCost: 'std_cost', currency: 'ccy' } },
        items: { table: 'items', columns: { sku: 'item_no', name: 'title' } },
      };

      it('returns no record for a code the source lacks', async () => {
        const c = connector(full);

        const [stock, cost, items] = await Promise.all([
          c.fetch('stock', ['A-100', 'NOPE-1']),
          c.fetch('cost', ['NOPE-1', 'B-200']),
          c.fetch('items', ['NOPE-1']),
        ]);

        expect(new Set(stock.map((r) => r.code))).toEqual(new Set(['A-100']));
        expect(cost.map((r) => r.code)).toEqual(['B-200']);
        expect(items).toEqual([]);
      });

      it('returns [] for an empty code list without sending a statement', async () => {
        const c = connector(full);
        const meter = countingMeter();

        await expect(c.fetch('stock', [], meter)).resolves.toEqual([]);
        await expect(c.fetch('cost', [], meter)).resolves.toEqual([]);
        await expect(c.fetch('items', [], meter)).resolves.toEqual([]);
        expect(meter.calls).toEqual([]);
      });

      it('binds codes as values: an injection attempt matches nothing and does not error', async () => {
        const c = connector(full);
        const hostile = ["x' OR 1=1 --", "A-100' --", '") OR ("1"="1', 'A-100; drop table bins'];

        await expect(c.fetch('stock', hostile)).resolves.toEqual([]);
        await expect(c.fetch('cost', hostile)).resolves.toEqual([]);
        await expect(c.fetch('items', hostile)).resolves.toEqual([]);
        // the table is still there and intact
        expect(await c.fetch('stock', ['B-200'])).toHaveLength(1);
      });

      // MariaDB's default collation matches codes case-insensitively: 'K-1' and 'k-1' must still
      // come back as two records, never summed under one spelling
      it('matches codes exactly, as the loader does', async () => {
        const c = connector({ stock: { table: 'cased_bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } } });

        const lower = await c.fetch('stock', ['k-1']);
        const both = await c.fetch('stock', ['K-1', 'k-1']);

        expect(lower.map(({ code, onHand }) => ({ code, onHand }))).toEqual([{ code: 'k-1', onHand: 2 }]);
        expect(byCodeAndLocation(both).map(({ code, onHand }) => ({ code, onHand }))).toEqual([
          { code: 'K-1', onHand: 1 },
          { code: 'k-1', onHand: 2 },
        ]);
      });

      it('rejects an entity the source does not map', async () => {
        const c = connector({ stock: full.stock });

        await expect(c.fetch('cost', ['A-100'])).rejects.toThrow(/maps no cost/);
      });
    });

    describe('identifiers', () => {
      const barcode = { table: 'tabItem Barcode', columns: { sku: 'parent', value: 'barcode' } };

      it('pages every distinct (code, value) in byte order, rows without a value left out, one statement per page', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS }, identifiers: { barcode } });
        const meter = countingMeter();
        const spy = backend.spyOnStatements();
        const seen: IdentifierRow[] = [];
        let after: IdentifierRow | null = null;
        try {
          for (;;) {
            const page: IdentifierRow[] = await (c.identifiers as NonNullable<Connector['identifiers']>)('barcode', after, 7, meter);
            seen.push(...page);
            if (page.length < 7) break;
            after = page.at(-1) as IdentifierRow;
          }
        } finally {
          spy.restore();
        }
        expect(seen).toEqual(ALL_BARCODES);
        // the value as the source has it (spaces and all): comparing is the matcher's business
        expect(seen.find((r) => r.code === 'B-200')?.value).toBe(' 4006381333931 ');
        const pages = Math.ceil((ALL_BARCODES.length + 1) / 7);
        expect(meter.calls).toEqual(Array.from({ length: pages }, () => ({ source: `${backend.name}-source`, entity: 'identifiers' })));
        expect(spy.sql.filter((sql) => /tabItem Barcode/.test(sql))).toHaveLength(pages);
      });

      it('keeps codes that differ by case apart, in byte order (K-1 before k-1 after M-25)', async () => {
        const c = connector({ identifiers: { barcode } });
        const rows = await (c.identifiers as NonNullable<Connector['identifiers']>)('barcode', { code: 'M-25', value: '2000000000024' }, 100);
        expect(rows).toEqual([{ code: 'k-1', value: '222' }]);
        const before = await (c.identifiers as NonNullable<Connector['identifiers']>)('barcode', { code: 'C-300', value: 'CODE-39-X' }, 1);
        expect(before).toEqual([{ code: 'K-1', value: '111' }]);
      });

      it('applies `where`, and reads a `query` mapping aliased to sku and value', async () => {
        const c = connector({
          identifiers: { ean: { ...barcode, where: { barcode_type: 'EAN' } }, gtin: { query: GTIN_QUERY } },
        });
        const ean = await (c.identifiers as NonNullable<Connector['identifiers']>)('ean', null, 1000);
        expect(ean.map((r) => r.code)).not.toContain('C-300');
        expect(ean).toEqual(ALL_BARCODES.filter((r) => r.value !== '012345678905' && r.code !== 'C-300'));
        const gtin = await (c.identifiers as NonNullable<Connector['identifiers']>)('gtin', null, 1000);
        expect(gtin).toEqual([
          { code: 'woo-a', value: '12345678905' },
          { code: 'woo-b', value: '4006381333931' },
        ]);
      });

      it('has no `identifiers` without mappings, and rejects an identifier it does not map', async () => {
        expect(connector({ stock: { table: 'bins', columns: STOCK_COLUMNS } }).identifiers).toBeUndefined();
        const c = connector({ identifiers: { barcode } });
        await expect((c.identifiers as NonNullable<Connector['identifiers']>)('gtin', null, 10)).rejects.toThrow(/maps no identifier "gtin"/);
      });

      it('binds the page key as a value: a hostile one matches nothing past it and does not error', async () => {
        const c = connector({ identifiers: { barcode } });
        const rows = await (c.identifiers as NonNullable<Connector['identifiers']>)('barcode', { code: "zz' OR 1=1 --", value: "' or '1'='1" }, 10);
        expect(rows).toEqual([]);
      });
    });

    describe('batching', () => {
      it('sends one statement per chunk: 25 codes in chunks of 10 are exactly 3 statements', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS } }, { chunkSize: 10 });
        const meter = countingMeter();
        const spy = backend.spyOnStatements();
        let records: StockRecord[];
        try {
          records = await c.fetch('stock', MANY, meter);
        } finally {
          spy.restore();
        }

        expect(meter.calls).toEqual(Array.from({ length: 3 }, () => ({ source: `${backend.name}-source`, entity: 'stock' })));
        // independently of the meter: the SQL the driver really received
        const sent = spy.sql.filter((sql) => /\bbins\b/.test(sql));
        expect(sent).toHaveLength(3);
        for (const sql of sent) expect(sql.toLowerCase()).toMatch(/group by/);
        // and the three chunks together cover every code, each once
        expect(records.map((r) => r.code).sort()).toEqual(MANY);
        expect(records.find((r) => r.code === 'M-25')?.onHand).toBe(25);
      });

      it('sends a single statement for the default chunk size', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS } });
        const meter = countingMeter();

        const records = await c.fetch('stock', [...MANY, ...CODES], meter);

        expect(meter.calls).toHaveLength(1);
        expect(new Set(records.map((r) => r.code)).size).toBe(MANY.length + CODES.length);
      });
    });

    describe('failure', () => {
      it('rejects when the mapping names a missing table, and so does ping()', async () => {
        const c = connector({ stock: { table: 'no_such_table', columns: STOCK_COLUMNS } });

        await expect(c.fetch('stock', ['A-100'])).rejects.toThrow(/no_such_table/);
        // ping() runs every mapping with an empty IN list, so a wrong mapping shows at start-up
        await expect(c.ping()).rejects.toThrow(/no_such_table/);
      });

      it('pings a mapping that names a missing column as broken', async () => {
        const c = connector({ stock: { table: 'bins', columns: { ...STOCK_COLUMNS, onHand: 'no_such_column' } } });

        await expect(c.ping()).rejects.toThrow(/no_such_column/);
      });

      it('pings a good source', async () => {
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS } });

        await expect(c.ping()).resolves.toBeUndefined();
      });

      it('rejects fetch and ping promptly when the source cannot be reached', async () => {
        const connection = backend.unreachable();
        const c = connector({ stock: { table: 'bins', columns: STOCK_COLUMNS }, timeoutMs: 2000 }, { connection });

        const started = Date.now();
        await expect(c.fetch('stock', ['A-100'])).rejects.toThrow();
        await expect(c.ping()).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(5_000);
        // a source is opened read-only: a missing SQLite file is an error, never created empty
        if (backend.client === 'better-sqlite3') expect(existsSync(connection)).toBe(false);
      });

      it('closes a connector that never connected', async () => {
        const config = sqlSourceSchema.parse({
          kind: 'sql',
          client: backend.client,
          connection: t.connection,
          stock: { table: 'bins', columns: STOCK_COLUMNS },
        });
        const c = createSqlConnector('idle', config);

        await expect(c.close()).resolves.toBeUndefined();
      });
    });
  });
}

/**
 * The contract across connector kinds, where it applies: the SQL connector on each backend and
 * the file connector (a 3PL's CSV) hold the same bins and must answer the same way: sums per
 * (code, location) with the newest asOf, exact codes, no statement for no codes, paged code
 * lists for orphan detection, and movements per kind.
 */
interface KindUnderTest {
  name: string;
  /** Whether the kind maps movements (an API source does not). Default true. */
  movements?: boolean;
  setup(): Promise<{ connector(o?: { chunkSize?: number }): Connector; cleanup(): Promise<void> }>;
  /** Where the kind's system cannot hold the shared fixture as it is (a preset's real tables). */
  differs?: {
    /** The stock records it can hold (a shop is one location). */
    stock?: (all: readonly StockRecord[]) => StockRecord[];
    /** The system keeps no time of change: records are compared without asOf. */
    noAsOf?: true;
    /** It maps no movements: reading them is refused. */
    noMovements?: true;
    /** The kind its picks are (an ERP that has not deducted them yet: pickedNotDelivered). Default pickedNotInvoiced. */
    movementKind?: string;
    /** The entity it does not map, for the refusal (default cost; null: it maps every one). */
    unmapped?: Entity | null;
  };
}

const MOVEMENT_COLUMNS = { sku: 'item_code', location: 'wh', quantity: 'picked', asOf: 'updated_at' };

const KINDS: KindUnderTest[] = [
  ...SOURCE_BACKENDS.map((backend) => ({
    name: `sql on ${backend.name}`,
    async setup() {
      const t = await backend.create();
      await createFixtures(t, backend);
      const made: Connector[] = [];
      return {
        connector: (o: { chunkSize?: number } = {}) => {
          const config = sqlSourceSchema.parse({
            kind: 'sql',
            client: backend.client,
            connection: t.connection,
            stock: { table: 'bins', columns: STOCK_COLUMNS },
            movements: { kind: 'pickedNotInvoiced', table: 'bins', columns: MOVEMENT_COLUMNS },
          });
          const c = createSqlConnector('src', config, o.chunkSize);
          made.push(c);
          return c;
        },
        async cleanup() {
          for (const c of made) await c.close();
          await t.cleanup();
        },
      };
    },
  })),
  ...presetKinds(),
  {
    name: 'csv file',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'ig-contract-csv-'));
      const rows = BINS.map((b) => [b.item_code, b.wh, b.qty, b.picked, b.updated_at].join(','));
      writeFileSync(join(dir, 'bins-2024-05-03.csv'), `item_code,wh,qty,picked,updated_at\n${rows.join('\n')}\n`);
      return {
        connector: () =>
          createCsvConnector(
            'src',
            csvSourceSchema.parse({
              kind: 'csv',
              path: join(dir, 'bins-*.csv'),
              stock: { columns: STOCK_COLUMNS },
              movements: { kind: 'pickedNotInvoiced', columns: MOVEMENT_COLUMNS },
            }),
          ),
        async cleanup() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'http api',
    movements: false,
    async setup() {
      // the bins as an API lists them: one JSON row per bin, filtered by a `sku` parameter
      const api = await startRowsStub(BINS.map((b) => ({ ...b, updated_at: `${b.updated_at.replace(' ', 'T')}Z` })));
      const made: Connector[] = [];
      return {
        connector: () => {
          const c = createHttpConnector(
            'src',
            httpSourceSchema.parse({
              kind: 'http',
              baseUrl: api.url,
              stock: {
                path: '/rows',
                codes: { param: 'sku' },
                records: 'data[*]',
                fields: { sku: 'item_code', location: 'wh', onHand: 'qty', committed: 'picked', asOf: 'updated_at' },
              },
            }),
          );
          made.push(c);
          return c;
        },
        async cleanup() {
          for (const c of made) await c.close();
          await api.close();
        },
      };
    },
  },
];

for (const kind of KINDS) {
  describe(`Connector contract: ${kind.name}`, () => {
    let env: Awaited<ReturnType<KindUnderTest['setup']>>;
    beforeAll(async () => {
      env = await kind.setup();
    });
    afterAll(async () => {
      await env?.cleanup();
    });

    const expectedStock = kind.differs?.stock?.(ALL_STOCK) ?? ALL_STOCK;
    const withoutAsOf = ({ asOf: _, ...r }: StockRecord) => r;

    it('sums stock per (code, location), with committed and the newest asOf', async () => {
      const records = await env.connector().fetch('stock', CODES);
      const got = byCodeAndLocation(records).map(({ snapshotFallback: _, ...r }) => r);
      if (kind.differs?.noAsOf) expect(got.map(withoutAsOf)).toEqual(expectedStock.map(withoutAsOf));
      else expect(got).toEqual(expectedStock);
    });

    it('has no record for a missing code, matches codes exactly, and binds hostile codes as values', async () => {
      const c = env.connector();
      expect(await c.fetch('stock', ['NOPE', 'a-100', "A-100' OR 1=1 --"])).toEqual([]);
    });

    it('sends nothing for no codes, and rejects an entity it does not map', async () => {
      const c = env.connector();
      const meter = countingMeter();
      await expect(c.fetch('stock', [], meter)).resolves.toEqual([]);
      expect(meter.calls).toEqual([]);
      const unmapped = kind.differs?.unmapped === undefined ? 'cost' : kind.differs.unmapped;
      if (unmapped !== null) await expect(c.fetch(unmapped, ['A-100'])).rejects.toThrow(new RegExp(`maps no ${unmapped}`));
      else expect([...c.entities].sort()).toEqual(['cost', 'items', 'movements', 'stock']);
    });

    // a kind without movements (an API source) has no such test, rather than a skipped one
    if (kind.movements !== false) {
      it('reads movements per kind, summed per (code, location), zero quantities left out', async () => {
        if (kind.differs?.noMovements) {
          await expect(env.connector().fetch('movements', CODES)).rejects.toThrow(/maps no movements/);
          return;
        }
        const records = await env.connector().fetch('movements', CODES);
        // a kind whose system names each movement's document (a preset's pick lists) gives one record per document
        for (const r of records) if (r.reference !== undefined) expect(r.reference).toMatch(/\S/);
        const picks = kind.differs?.movementKind ?? 'pickedNotInvoiced';
        expect(byCodeAndLocation(perKind(records))).toEqual([
          { code: 'A-100', location: 'EAST', kind: picks, quantity: 3, asOf: new Date('2024-05-02T08:30:00.000Z') },
          { code: 'B-200', location: 'EAST', kind: picks, quantity: 5, asOf: new Date('2024-05-03T00:00:00.000Z') },
          { code: 'E-500', location: 'WEST', kind: picks, quantity: 1, asOf: new Date('2024-05-03T00:00:00.000Z') },
        ]);
      });
    }

    it('lists every distinct stock code once, in order, one statement per page', async () => {
      const c = env.connector();
      const meter = countingMeter();
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 1; ; pages++) {
        const page: string[] = await (c.listCodes as NonNullable<Connector['listCodes']>)(after, 7, meter);
        seen.push(...page);
        expect(meter.calls).toHaveLength(pages);
        if (page.length < 7) break;
        after = page.at(-1) as string;
      }
      expect(seen).toEqual([...new Set([...expectedStock.map((r) => r.code), ...MANY])].sort());
    });
  });
}

/**
 * Each SQL preset on its system's own tables (test/fixtures/presets/), seeded with the shared
 * bins as that system keeps them (ERPNext and Magento one row per item × warehouse, Odoo and
 * OpenBoxes one per bin), read through the config loader with nothing but `preset` and a connection.
 */
function presetKinds(): KindUnderTest[] {
  const kind = (
    name: string,
    create: () => Promise<TestDatabase>,
    seed: (t: TestDatabase) => Promise<void>,
    source: (t: TestDatabase) => Record<string, unknown>,
    differs?: KindUnderTest['differs'],
  ): KindUnderTest => ({
    name: `preset ${name}`,
    ...(differs ? { differs } : {}),
    async setup() {
      const t = await create();
      await seed(t);
      const made: Connector[] = [];
      return {
        connector: (o: { chunkSize?: number } = {}) => {
          const c = createSqlConnector('src', presetSource(source(t)), o.chunkSize);
          made.push(c);
          return c;
        },
        async cleanup() {
          for (const c of made) await c.close();
          await t.cleanup();
        },
      };
    },
  });
  const mysql = (preset: string, presetOptions?: Record<string, unknown>) => (t: TestDatabase) => ({
    preset,
    client: 'mysql2',
    connection: t.connection,
    ...(presetOptions ? { presetOptions } : {}),
  });
  return [
    kind(
      'erpnext',
      createMariaDbDatabase,
      async (t) => {
        await erpnextFixture.createErpnextSchema(t);
        await erpnextFixture.seedBins(t, BINS);
      },
      mysql('erpnext'),
      // an ERP's open pick lists: picked, not yet deducted by the ERP
      { unmapped: null, movementKind: 'pickedNotDelivered' },
    ),
    kind(
      'odoo',
      createPostgresDatabase,
      async (t) => {
        await odooFixture.createOdooSchema(t);
        await odooFixture.seedBins(t, BINS);
      },
      (t) => ({ preset: 'odoo', connection: t.connection }),
      { noMovements: true },
    ),
    kind(
      'openboxes',
      createMariaDbDatabase,
      async (t) => {
        await openboxesFixture.createOpenboxesSchema(t);
        await openboxesFixture.seedBins(t, BINS);
      },
      mysql('openboxes'),
      // picked for a shipment not yet issued: OpenBoxes still counts it
      { unmapped: null, movementKind: 'pickedNotDelivered' },
    ),
    kind(
      'magento',
      createMariaDbDatabase,
      async (t) => {
        await magentoFixture.createMagentoSchema(t);
        await magentoFixture.seedBins(t, BINS);
      },
      mysql('magento'),
      { noAsOf: true, noMovements: true, unmapped: 'movements' },
    ),
    kind(
      'woocommerce',
      createMariaDbDatabase,
      async (t) => {
        await woocommerceFixture.createWoocommerceSchema(t);
        await woocommerceFixture.seedBins(t, BINS, 'EAST');
      },
      mysql('woocommerce', { location: 'EAST' }),
      { stock: (all) => all.filter((r) => r.location === 'EAST'), noMovements: true, unmapped: 'movements' },
    ),
  ];
}
