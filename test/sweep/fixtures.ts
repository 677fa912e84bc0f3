/**
 * What the sweep's tests share: a WMS and an ERP as SQL sources (tables `wms_stock` and
 * `erp_inv`, so their statements can be told from the store's), a config that reads them with
 * a sweep, and the store's anomalies read straight from its table.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Backend, TestDatabase } from '../helpers/databases.js';

export interface StockRow {
  code: string;
  location: string;
  qty: number;
  /** When the figure was true; default now. */
  asOf?: Date;
}

export async function createWms(t: TestDatabase, backend: Backend, rows: readonly StockRow[]): Promise<void> {
  await t.db.schema.createTable('wms_stock', (c) => {
    c.string('sku_code', 64);
    c.string('loc', 32);
    c.integer('qty');
    c.specificType('updated_at', backend.types.datetime);
  });
  await addWms(t, rows);
}

export async function addWms(t: TestDatabase, rows: readonly StockRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 200)
    await t
      .db('wms_stock')
      .insert(rows.slice(i, i + 200).map((r) => ({ sku_code: r.code, loc: r.location, qty: r.qty, updated_at: sqlTime(r.asOf ?? new Date()) })));
}

export async function createErp(t: TestDatabase, rows: readonly StockRow[]): Promise<void> {
  await t.db.schema.createTable('erp_inv', (c) => {
    c.string('item', 64);
    c.string('site', 32);
    c.integer('qty');
  });
  for (let i = 0; i < rows.length; i += 200) await t.db('erp_inv').insert(rows.slice(i, i + 200).map((r) => ({ item: r.code, site: r.location, qty: r.qty })));
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as both SQLite text and a MariaDB DATETIME keep it. */
export const sqlTime = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

export interface ConfigOptions {
  store: { client: string; connection: string };
  wms: { backend: Backend; connection: string };
  erp: { backend: Backend; connection: string };
  sweep?: string;
  /** `maxAgeSeconds` of the WMS; none by default. */
  wmsMaxAge?: number;
  maxSkusPerQuery?: number;
}

export function configYaml(o: ConfigOptions): string {
  return `store: { client: ${o.store.client}, connection: ${JSON.stringify(o.store.connection)} }
auth: { open: true }
server: { maxSkusPerQuery: ${o.maxSkusPerQuery ?? 500} }
sources:
  wms:
    kind: sql
    client: ${o.wms.backend.client}
    connection: ${JSON.stringify(o.wms.connection)}
${o.wmsMaxAge === undefined ? '' : `    maxAgeSeconds: ${o.wmsMaxAge}\n`}    stock: { table: wms_stock, columns: { sku: sku_code, location: loc, onHand: qty, asOf: updated_at } }
  erp:
    kind: sql
    client: ${o.erp.backend.client}
    connection: ${JSON.stringify(o.erp.connection)}
    stock: { table: erp_inv, columns: { sku: item, location: site, onHand: qty } }
locations:
  - { id: DC-EAST, codes: { wms: EAST, erp: E1 } }
  - { id: STORE-NYC, codes: { erp: NYC } }
precedence:
  quantity: [wms, erp]
sweep: ${o.sweep ?? '{ intervalSeconds: 0 }'}
log: { level: warn }
`;
}

export function writeConfig(dir: string, o: ConfigOptions, name = 'inventory-graph.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, configYaml(o));
  return file;
}

/** A long SKU map CSV (sku,system,code). */
export function skuMapCsv(dir: string, rows: readonly [sku: string, system: string, code: string][], name = 'sku-map.csv'): string {
  const file = join(dir, name);
  writeFileSync(file, `sku,system,code\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  return file;
}

export interface StoredAnomaly {
  id: number;
  kind: string;
  sku: string | null;
  location: string | null;
  source: string | null;
  code: string | null;
  status: string;
  resolved_by: string | null;
  resolution_note: string | null;
}

export async function anomalies(db: Knex, kind?: string): Promise<StoredAnomaly[]> {
  const q = db('anomalies').orderBy('id').select('id', 'kind', 'sku', 'location', 'source', 'code', 'status', 'resolved_by', 'resolution_note');
  if (kind !== undefined) q.where({ kind });
  return (await q) as StoredAnomaly[];
}
