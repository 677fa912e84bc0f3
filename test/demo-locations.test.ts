/**
 * `generateDemo({ locations })`: more regional DCs for benchmarks, without touching the five
 * standard locations or any fact the other tests rely on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDemoOptions, generateDemo } from '../src/cli/demo-data.js';
import { loadConfig } from '../src/config/index.js';

const NOW = new Date('2025-03-14T12:00:00Z');
const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ig-demo-loc-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const rows = (d: string, system: string, sql: string) => {
  const db = new Database(join(d, `${system}.sqlite`), { readonly: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
};

describe('generateDemo locations', () => {
  it('adds regional DCs known to the WMS and the ERP, leaving the standard five and the facts as they are', async () => {
    const [five, ten] = [dir(), dir()];
    const a = await generateDemo({ dir: five, skus: 120, now: NOW });
    const b = await generateDemo({ dir: ten, skus: 120, now: NOW, locations: 10 });
    expect(b.facts).toEqual(a.facts);
    expect(readFileSync(join(ten, 'sku-map.csv'), 'utf8')).toBe(readFileSync(join(five, 'sku-map.csv'), 'utf8'));

    const config = loadConfig(join(ten, 'inventory-graph.yaml'));
    expect(config.locations).toHaveLength(10);
    expect(config.locations.slice(0, 5)).toEqual(loadConfig(join(five, 'inventory-graph.yaml')).locations);
    expect(config.locations[5]).toMatchObject({ id: 'DC-R01', codes: { wms: 'R01', erp: 'Regional DC 01' } });

    // the standard sites and warehouses hold exactly the rows they hold with five locations
    const standard = (d: string) => [
      rows(d, 'erp', "select * from inv_balance where site not like 'Regional DC %' order by item_no, site"),
      rows(d, 'wms', "select * from bin_stock where wh in ('EAST', 'CENTRAL') order by item_code, wh, bin_id"),
    ];
    expect(standard(ten)).toEqual(standard(five));
    // each regional DC: one ERP row per mapped SKU, agreeing with the WMS total there
    const erp = rows(ten, 'erp', "select site, count(*) as n, sum(qty) as q from inv_balance where site like 'Regional DC %' group by site order by site");
    const wms = rows(ten, 'wms', "select wh, sum(qty) as q from bin_stock where wh like 'R%' group by wh order by wh");
    expect(erp).toHaveLength(5);
    expect(erp.map((r) => r.n)).toEqual(Array(5).fill(119));
    expect(erp.map((r) => r.q)).toEqual(wms.map((r) => r.q));
  });

  it('refuses fewer than five locations or more than it has cities for', () => {
    expect(checkDemoOptions({ locations: 4 })).toMatch(/locations must be a whole number from 5 to 30/);
    expect(checkDemoOptions({ locations: 31 })).toMatch(/from 5 to 30/);
    expect(checkDemoOptions({ locations: 10 })).toBeUndefined();
  });
});
