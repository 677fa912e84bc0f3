/**
 * Source systems for the SKU matching tests, on a real SQLite file or MariaDB database: an
 * ERPNext-shaped ERP (`tabItem`, `tabItem Barcode`, `tabItem Supplier`, `tabBin`), a
 * WooCommerce-like shop (`wp_postmeta` with `_sku`, `_stock` and `_global_unique_id`) and a WMS
 * with an EAN and a vendor part number per item; and the config YAML that reads them.
 */
import type { Backend, TestDatabase } from '../helpers/databases.js';

export interface ErpItem {
  code: string;
  name?: string;
  barcodes?: string[];
  supplierParts?: string[];
  stock?: Record<string, number>;
}
export interface WooProduct {
  id: number;
  sku: string;
  gtin?: string;
  stock?: number;
}
export interface WmsItem {
  code: string;
  ean?: string;
  vendorPart?: string;
  stock?: Record<string, number>;
}

export async function createSystems(t: TestDatabase): Promise<void> {
  await t.exec('create table `tabItem` (name varchar(140) not null primary key, item_name varchar(140) not null)');
  await t.exec('create table `tabItem Barcode` (name varchar(140) not null primary key, parent varchar(140) not null, barcode varchar(140) null)');
  await t.exec(
    'create table `tabItem Supplier` (name varchar(140) not null primary key, parent varchar(140) not null, supplier varchar(140) not null, supplier_part_no varchar(140) null)',
  );
  await t.exec('create table `tabBin` (item_code varchar(140) not null, warehouse varchar(140) not null, actual_qty decimal(21,9) not null)');
  await t.exec(
    'create table wp_postmeta (meta_id integer not null primary key, post_id integer not null, meta_key varchar(255) not null, meta_value text null)',
  );
  await t.exec('create table wms_items (sku_code varchar(64) not null primary key, ean varchar(32) null, vendor_part varchar(64) null)');
  await t.exec('create table wms_stock (sku_code varchar(64) not null, loc varchar(32) not null, qty integer not null)');
}

let rowId = 0;
const next = () => `r${++rowId}`;

export async function addErpItems(t: TestDatabase, items: readonly ErpItem[]): Promise<void> {
  const insert = async (table: string, rows: Record<string, unknown>[]) => {
    for (let i = 0; i < rows.length; i += 200) await t.db(table).insert(rows.slice(i, i + 200));
  };
  await insert(
    'tabItem',
    items.map((i) => ({ name: i.code, item_name: i.name ?? i.code })),
  );
  await insert(
    'tabItem Barcode',
    items.flatMap((i) => (i.barcodes ?? []).map((b) => ({ name: next(), parent: i.code, barcode: b }))),
  );
  await insert(
    'tabItem Supplier',
    items.flatMap((i) => (i.supplierParts ?? []).map((p) => ({ name: next(), parent: i.code, supplier: 'ACME', supplier_part_no: p }))),
  );
  await insert(
    'tabBin',
    items.flatMap((i) => Object.entries(i.stock ?? {}).map(([wh, qty]) => ({ item_code: i.code, warehouse: wh, actual_qty: qty }))),
  );
}

let metaId = 0;
export async function addWooProducts(t: TestDatabase, products: readonly WooProduct[]): Promise<void> {
  const rows = products.flatMap((p) => [
    { meta_id: ++metaId, post_id: p.id, meta_key: '_sku', meta_value: p.sku },
    ...(p.gtin !== undefined ? [{ meta_id: ++metaId, post_id: p.id, meta_key: '_global_unique_id', meta_value: p.gtin }] : []),
    ...(p.stock !== undefined ? [{ meta_id: ++metaId, post_id: p.id, meta_key: '_stock', meta_value: String(p.stock) }] : []),
  ]);
  for (let i = 0; i < rows.length; i += 200) await t.db('wp_postmeta').insert(rows.slice(i, i + 200));
}

export async function addWmsItems(t: TestDatabase, items: readonly WmsItem[]): Promise<void> {
  for (const i of items) {
    await t.db('wms_items').insert({ sku_code: i.code, ean: i.ean ?? null, vendor_part: i.vendorPart ?? null });
    for (const [loc, qty] of Object.entries(i.stock ?? {})) await t.db('wms_stock').insert({ sku_code: i.code, loc, qty });
  }
}

/** The config: erp, woo and wms over `t`, a store, and `skuMap` as given (YAML text, indented two spaces). */
export function configYaml(backend: Backend, t: TestDatabase, store: { client: string; connection: string }, skuMap: string, server = ''): string {
  const src = `kind: sql\n    client: ${backend.client}\n    connection: ${JSON.stringify(t.connection)}`;
  return `${server}store: { client: ${store.client}, connection: ${JSON.stringify(store.connection)} }
sources:
  erp:
    ${src}
    stock: { table: tabBin, columns: { sku: item_code, location: warehouse, onHand: actual_qty } }
    items: { table: tabItem, columns: { sku: name, name: item_name } }
    identifiers:
      barcode: { table: tabItem Barcode, columns: { sku: parent, value: barcode } }
      supplierPart: { table: tabItem Supplier, columns: { sku: parent, value: supplier_part_no } }
  woo:
    ${src}
    stock:
      query: >-
        select s.meta_value as sku, 'web' as location, q.meta_value as onHand, 0 as committed, null as asOf
        from wp_postmeta s join wp_postmeta q on q.post_id = s.post_id and q.meta_key = '_stock'
        where s.meta_key = '_sku'
    identifiers:
      barcode:
        query: >-
          select s.meta_value as sku, g.meta_value as value
          from wp_postmeta s join wp_postmeta g on g.post_id = s.post_id and g.meta_key = '_global_unique_id'
          where s.meta_key = '_sku'
  wms:
    ${src}
    stock: { table: wms_stock, columns: { sku: sku_code, location: loc, onHand: qty } }
    identifiers:
      barcode: { table: wms_items, columns: { sku: sku_code, value: ean } }
      supplierPart: { table: wms_items, columns: { sku: sku_code, value: vendor_part } }
locations:
  - { id: DC-EAST, codes: { erp: "Stores - AC", wms: EAST } }
  - { id: WEB, codes: { woo: web } }
precedence:
  quantity: [wms, woo, erp]
skuMap:
${skuMap}
`;
}
