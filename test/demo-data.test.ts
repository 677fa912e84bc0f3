import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import knexFactory, { type Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { demoCommand, generateDemo, type DemoResult, type FactName } from '../src/cli/demo-data.js';
import { loadConfig, type SqlSourceConfig } from '../src/config/index.js';
import { createKnex } from '../src/db/knex.js';

const NOW = new Date('2025-03-14T12:00:00Z');
const N = 300;
/** The systems kept in databases; the 3PL sends daily CSV files (3pl/inventory-YYYY-MM-DD.csv). */
const SYSTEMS = ['erp', 'wms', 'shop'] as const;
const TABLES: Record<string, string> = {
  'erp.items': 'item_no',
  'erp.inv_balance': 'item_no, site',
  'erp.item_cost': 'item_no',
  'wms.bin_stock': 'item_code, wh, bin_id',
  'wms.pick_orders': 'order_ref',
  'shop.products': 'id',
  'shop.variants': 'id',
};
const SHOP_ITEMS = 'select v.sku as sku, p.title as name from variants v join products p on p.id = v.product_id where v.deleted_at is null';

type Row = Record<string, unknown>;
type MapRow = { sku: string; name: string; erp: string; wms: string; shop: string; tpl: string };
interface TplRow {
  facility: string;
  snapshot_at: string;
  on_hand: number;
  allocated: number;
}

/** The 3PL's files, newest last, and the newest one's rows per client SKU (lots summed). */
function readTpl(dir: string): { files: string[]; newest: Map<string, TplRow>; snapshots: Set<string> } {
  const files = readdirSync(join(dir, '3pl')).sort();
  const rows = parse(readFileSync(join(dir, '3pl', files.at(-1) ?? ''), 'utf8'), { columns: true }) as Record<string, string>[];
  const newest = new Map<string, TplRow>();
  const snapshots = new Set<string>();
  for (const r of rows) {
    snapshots.add(`${r.facility}|${r.snapshot_at}`);
    const p = newest.get(r.client_sku as string);
    const on = Number(r.on_hand);
    const al = Number(r.allocated);
    newest.set(
      r.client_sku as string,
      p === undefined
        ? { facility: r.facility as string, snapshot_at: r.snapshot_at as string, on_hand: on, allocated: al }
        : { ...p, on_hand: p.on_hand + on, allocated: p.allocated + al },
    );
  }
  return { files, newest, snapshots };
}
/** A source known to be `kind: sql`, for reading its SQL-only keys. */
const sql = (s: unknown) => s as SqlSourceConfig | undefined;

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ig-demo-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

function readSkuMap(path: string): MapRow[] {
  return parse(readFileSync(path, 'utf8'), { columns: true }) as MapRow[];
}

function dumpSqlite(dir: string): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const [key, order] of Object.entries(TABLES)) {
    const [system, table] = key.split('.') as [string, string];
    const db = new Database(join(dir, `${system}.sqlite`), { readonly: true });
    out[key] = db.prepare(`select * from ${table} order by ${order}`).all() as Row[];
    db.close();
  }
  return out;
}

describe('generateDemo on SQLite', () => {
  let dir: string;
  let result: DemoResult;
  let map: MapRow[];
  let bySku: Map<string, MapRow>;
  let erp: Database.Database;
  let wms: Database.Database;
  let shop: Database.Database;
  let tpl: ReturnType<typeof readTpl>;

  beforeAll(async () => {
    dir = await tempDir();
    result = await generateDemo({ dir, skus: N, seed: 42, now: NOW });
    map = readSkuMap(result.skuMapPath);
    bySku = new Map(map.map((r) => [r.sku, r]));
    [erp, wms, shop] = SYSTEMS.map((s) => new Database(join(dir, `${s}.sqlite`), { readonly: true })) as [
      Database.Database,
      Database.Database,
      Database.Database,
    ];
    tpl = readTpl(dir);
  }, 60_000);
  afterAll(() => {
    for (const db of [erp, wms, shop]) db?.close();
  });

  const code = (sku: string, system: keyof Omit<MapRow, 'sku' | 'name'>) => {
    const c = bySku.get(sku)?.[system];
    if (c === undefined || c === '') throw new Error(`${sku} has no ${system} code`);
    return c;
  };
  const wmsTotal = (sku: string, wh: string) =>
    wms
      .prepare('select count(*) as bins, coalesce(sum(qty), 0) as qty, coalesce(sum(picked_qty), 0) as picked from bin_stock where item_code = ? and wh = ?')
      .get(code(sku, 'wms'), wh) as {
      bins: number;
      qty: number;
      picked: number;
    };
  const erpQty = (sku: string, site: string) =>
    (erp.prepare('select qty from inv_balance where item_no = ? and site = ?').get(code(sku, 'erp'), site) as { qty: number } | undefined)?.qty;

  it("writes the three databases, the 3PL's two daily files, the SKU map and the config", () => {
    for (const f of ['erp.sqlite', 'wms.sqlite', 'shop.sqlite', 'sku-map.csv', 'inventory-graph.yaml']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(existsSync(join(dir, 'tpl.sqlite'))).toBe(false);
    const day = (daysBack: number) =>
      new Date(Math.floor((NOW.getTime() - 50 * 3_600_000) / 3_600_000) * 3_600_000 - daysBack * 86_400_000).toISOString().slice(0, 10);
    expect(tpl.files).toEqual([`inventory-${day(1)}.csv`, `inventory-${day(0)}.csv`]);
    expect(result.configPath).toBe(join(dir, 'inventory-graph.yaml'));
    expect(result.skuMapPath).toBe(join(dir, 'sku-map.csv'));
  });

  it('reports the row count of every table', () => {
    const dump = dumpSqlite(dir);
    expect(
      Object.keys(result.sizes)
        .filter((k) => !k.startsWith('tpl.'))
        .sort(),
    ).toEqual(Object.keys(TABLES).sort());
    const newestFile = `tpl.3pl/${tpl.files.at(-1)}`;
    expect(Object.keys(result.sizes).filter((k) => k.startsWith('tpl.'))).toEqual(tpl.files.map((f) => `tpl.3pl/${f}`));
    for (const [table, rows] of Object.entries(dump)) expect(result.sizes[table], table).toBe(rows.length);
    const mapped = N - 1;
    expect(result.sizes['erp.items']).toBe(mapped);
    expect(result.sizes['erp.inv_balance']).toBe(mapped * 5);
    expect(result.sizes['erp.item_cost']).toBe(mapped);
    expect(result.sizes['shop.products']).toBe(result.sizes['shop.variants']);
    expect(result.sizes['shop.variants']).toBeGreaterThan(mapped * 0.8);
    expect(result.sizes['shop.variants']).toBeLessThan(mapped * 0.97);
    // one row per SKU and lot: every tenth SKU has two lots
    expect(tpl.newest.size).toBeGreaterThan(mapped * 0.2);
    expect(tpl.newest.size).toBeLessThan(mapped * 0.4);
    expect(result.sizes[newestFile]).toBeGreaterThan(tpl.newest.size);
    expect(result.sizes[newestFile]).toBeLessThan(tpl.newest.size * 1.15);
    expect(result.sizes['wms.bin_stock']).toBeGreaterThan(mapped * 2);
    expect(result.sizes['wms.bin_stock']).toBeLessThanOrEqual(mapped * 6 + 5);
  });

  it('writes a config the loader accepts', () => {
    const config = loadConfig(result.configPath, {});
    expect(Object.keys(config.sources)).toEqual(['erp', 'wms', 'shop', 'tpl']);
    for (const s of SYSTEMS) {
      expect(sql(config.sources[s])?.client).toBe('better-sqlite3');
      expect(sql(config.sources[s])?.connection).toBe(join(dir, `${s}.sqlite`));
    }
    expect(config.store).toEqual({ client: 'better-sqlite3', connection: join(dir, 'gateway.sqlite') });
    expect(config.locations.map((l) => l.id)).toEqual(['DC-EAST', 'DC-CENTRAL', 'STORE-NYC', '3PL-WEST', 'IN-TRANSIT']);
    expect(config.locations[0]?.codes).toEqual({ wms: 'EAST', erp: 'East DC - ACME' });
    expect(config.locations[3]?.codes).toEqual({ tpl: 'W01', erp: '3PL West' });
    expect(config.locations[4]?.sellable).toBe(false);
    expect(config.precedence).toEqual({ quantity: ['wms', 'tpl', 'erp'], cost: ['erp'], name: ['shop', 'erp'] });
    expect(config.sources.wms).toMatchObject({ timeoutMs: 2000, maxAgeSeconds: 3600 });
    expect(config.sources.tpl).toMatchObject({ maxAgeSeconds: 93600, stalePolicy: 'count' });
    expect(sql(config.sources.erp)?.items?.where).toEqual({ status: 'A' });
    expect(sql(config.sources.shop)?.items?.query).toBe(SHOP_ITEMS);
    expect(config.sources.tpl).toMatchObject({ kind: 'csv', path: join(dir, '3pl', 'inventory-*.csv') });
    expect(sql(config.sources.wms)?.movements).toEqual([
      { kind: 'pickedNotInvoiced', table: 'bin_stock', columns: { sku: 'item_code', location: 'wh', quantity: 'picked_qty', asOf: 'updated_at' } },
    ]);
    expect(readFileSync(result.configPath, 'utf8')).toMatch(/^# Generated by `inventory-graph demo --skus 300 --seed 42`/);
  });

  it('mirrors the WMS with a poll on updated_at and the 3PL file with picks from RabbitMQ, with no lag limit', () => {
    const config = loadConfig(result.configPath, {});
    expect(config.sources.wms?.sync).toMatchObject({
      mode: 'mirror',
      feeds: [{ kind: 'poll', changedSince: 'updated_at', intervalSeconds: 2, overlapSeconds: 5, fullResyncSeconds: 3600 }],
    });
    expect(config.sources.tpl?.sync).toMatchObject({
      mode: 'mirror',
      feeds: [{ kind: 'amqp', url: 'amqp://guest:guest@127.0.0.1:5672', queue: 'inventory-graph.demo.3pl' }],
    });
    // a demo without RabbitMQ serves the file's figures, never flagged for lag
    expect(config.sources.tpl?.sync.maxLagSeconds).toBeUndefined();
    expect(config.sources.wms?.sync.maxLagSeconds).toBeUndefined();
    const elsewhere = loadConfig(result.configPath, { INVENTORY_GRAPH_DEMO_AMQP_URL: 'amqps://u:p@mq.example:5671' });
    expect(elsewhere.sources.tpl?.sync.feeds).toMatchObject([{ kind: 'amqp', url: 'amqps://u:p@mq.example:5671' }]);
  });

  it("writes one SKU-map row per canonical SKU in each system's code style", () => {
    const lines = readFileSync(result.skuMapPath, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(N + 1);
    expect(lines[0]).toBe('sku,name,erp,wms,shop,tpl');
    expect(map.map((r) => r.sku)).toEqual(Array.from({ length: N }, (_, k) => `SKU-${String(k + 1).padStart(6, '0')}`));
    for (const r of map.filter((r) => r.erp !== '')) {
      const num = Number(r.sku.slice(4));
      expect(r.name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+ \d\d [A-Z][a-z]+$/);
      expect(r.erp).toBe(`100-${String(num).padStart(6, '0')}`);
      expect(r.wms).toBe(`ITM${String(num).padStart(7, '0')}`);
      if (r.shop !== '') expect(r.shop).toMatch(new RegExp(`^ACME-${String(num).padStart(6, '0')}-[A-Z]{3}$`));
      if (r.tpl !== '') expect(r.tpl).toBe(`ACM${num}`);
    }
  });

  it('gives every mapped SKU ERP rows at all five sites and WMS bins at EAST', () => {
    const sites = ['East DC - ACME', 'Central DC', 'NYC Flagship', '3PL West', 'Transit'];
    const rows = erp.prepare('select item_no, site, qty from inv_balance').all() as { item_no: string; site: string; qty: number }[];
    const perItem = new Map<string, string[]>();
    for (const r of rows) {
      perItem.set(r.item_no, [...(perItem.get(r.item_no) ?? []), r.site]);
      expect(r.qty).toBeGreaterThanOrEqual(0);
      expect(r.qty).toBeLessThanOrEqual(r.site === 'Transit' ? 10 : 200);
    }
    const mapped = map.filter((r) => r.erp !== '');
    expect(perItem.size).toBe(mapped.length);
    for (const r of mapped) {
      expect(perItem.get(r.erp)?.sort()).toEqual([...sites].sort());
      const east = wmsTotal(r.sku, 'EAST');
      expect(east.bins).toBeGreaterThanOrEqual(1);
      expect(east.bins).toBeLessThanOrEqual(3);
    }
    const withCentral = mapped.filter((r) => wmsTotal(r.sku, 'CENTRAL').bins > 0).length;
    expect(withCentral / mapped.length).toBeGreaterThan(0.9);
  });

  it('stores cost as exact decimal text and timestamps as ISO-8601 UTC', () => {
    const costs = erp.prepare('select std_cost, ccy from item_cost').all() as { std_cost: unknown; ccy: string }[];
    for (const c of costs) {
      expect(c.std_cost).toMatch(/^\d+\.\d{4}$/);
      expect(c.ccy).toBe('USD');
    }
    // the poll feed's change column is indexed
    const indexed = wms.prepare("select il.name from pragma_index_list('bin_stock') il, pragma_index_info(il.name) ii where ii.name = 'updated_at'").all();
    expect(indexed).toHaveLength(1);
    const times = wms.prepare('select updated_at from bin_stock').all() as { updated_at: string }[];
    for (const { updated_at } of times) {
      expect(updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const age = NOW.getTime() - Date.parse(updated_at);
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(3_600_000);
    }
    const snapshots = [...tpl.snapshots].map((k) => ({ facility: k.split('|')[0], snapshot_at: k.split('|')[1] }));
    expect(snapshots).toHaveLength(1);
    const ageHours = (NOW.getTime() - Date.parse(snapshots[0]?.snapshot_at ?? '')) / 3_600_000;
    expect(snapshots[0]?.facility).toBe('W01');
    expect(ageHours).toBeGreaterThan(48);
    expect(ageHours).toBeLessThan(52);
  });

  it('lists every kind of trouble with a few SKUs, counted in full', () => {
    const names = Object.keys(result.facts.counts) as FactName[];
    expect(names.sort()).toEqual(
      [
        'negativeWms',
        'orphanWmsCodes',
        'erpWmsDisagree',
        'pickedNotInvoiced',
        'unexplained',
        'missingInWmsCentral',
        'staleTpl',
        'notInShop',
        'deletedInShop',
        'discontinued',
        'unmapped',
      ].sort(),
    );
    for (const k of names) {
      expect(result.facts[k].length, k).toBeGreaterThan(0);
      expect(result.facts[k].length, k).toBe(result.facts.counts[k]);
    }
    expect(result.facts.skus).toBe(N);
    expect(result.facts.orphanWmsCodes).toHaveLength(5);
    expect(result.facts.unmapped).toEqual(['SKU-000300']);
  });

  it('negativeWms: the bins at EAST sum to less than zero, and no other SKU does', () => {
    const negatives = map.filter((r) => r.wms !== '' && wmsTotal(r.sku, 'EAST').qty < 0).map((r) => r.sku);
    expect(negatives).toEqual(result.facts.negativeWms);
  });

  it('orphanWmsCodes: stocked in the WMS, absent from the SKU map', () => {
    const known = new Set(map.map((r) => r.wms));
    for (const c of result.facts.orphanWmsCodes) {
      expect(known.has(c), c).toBe(false);
      const row = wms.prepare("select sum(qty) as qty from bin_stock where item_code = ? and wh = 'EAST'").get(c) as { qty: number | null };
      expect(row.qty, c).toBeGreaterThan(0);
    }
    const all = wms.prepare('select distinct item_code from bin_stock').all() as { item_code: string }[];
    expect(all.map((r) => r.item_code).filter((c) => !known.has(c))).toEqual(result.facts.orphanWmsCodes);
  });

  it('erpWmsDisagree: exactly these SKUs differ at EAST, picked-not-invoiced or unexplained', () => {
    const differ = map
      .filter((r) => r.erp !== '')
      .filter((r) => erpQty(r.sku, 'East DC - ACME') !== wmsTotal(r.sku, 'EAST').qty)
      .map((r) => r.sku);
    expect(differ).toEqual(result.facts.erpWmsDisagree);
    expect([...result.facts.pickedNotInvoiced, ...result.facts.unexplained].sort()).toEqual(result.facts.erpWmsDisagree);
    for (const sku of result.facts.pickedNotInvoiced) {
      const east = wmsTotal(sku, 'EAST');
      expect(east.picked, sku).toBeGreaterThan(0);
      expect(erpQty(sku, 'East DC - ACME'), sku).toBe(east.qty + east.picked);
    }
    for (const sku of result.facts.unexplained) {
      const east = wmsTotal(sku, 'EAST');
      const e = erpQty(sku, 'East DC - ACME');
      expect(e, sku).not.toBe(east.qty);
      expect(e, sku).not.toBe(east.qty + east.picked);
    }
    expect(result.facts.pickedNotInvoiced.length).toBeGreaterThan(result.facts.unexplained.length - result.facts.negativeWms.length);
    expect(result.facts.unexplained).toEqual(expect.arrayContaining(result.facts.negativeWms));
  });

  it('missingInWmsCentral: ERP has stock at Central DC, the WMS has no CENTRAL bin', () => {
    for (const sku of result.facts.missingInWmsCentral) {
      expect(wmsTotal(sku, 'CENTRAL').bins, sku).toBe(0);
      expect(erpQty(sku, 'Central DC'), sku).toBeGreaterThan(0);
    }
    const missing = map.filter((r) => r.wms !== '' && wmsTotal(r.sku, 'CENTRAL').bins === 0).map((r) => r.sku);
    expect(missing).toEqual(result.facts.missingInWmsCentral);
  });

  it('staleTpl: stocked at the 3PL with a snapshot older than maxAgeSeconds', () => {
    const maxAge = loadConfig(result.configPath, {}).sources.tpl?.maxAgeSeconds ?? 0;
    const stocked = map.filter((r) => r.tpl !== '').map((r) => r.sku);
    expect(result.facts.staleTpl).toEqual(stocked);
    for (const sku of result.facts.staleTpl) {
      const row = tpl.newest.get(code(sku, 'tpl')) as TplRow;
      expect(row.facility).toBe('W01');
      expect(NOW.getTime() - Date.parse(String(row.snapshot_at))).toBeGreaterThan(maxAge * 1000);
      expect(row.allocated as number).toBeLessThanOrEqual(row.on_hand as number);
      expect(erpQty(sku, '3PL West')).toBe(row.on_hand);
    }
  });

  it('notInShop and deletedInShop: the shop gives no name, ERP has one', () => {
    const named = new Set((shop.prepare(SHOP_ITEMS).all() as { sku: string }[]).map((r) => r.sku));
    expect(named.size).toBe(result.sizes['shop.variants']! - result.facts.deletedInShop.length);
    for (const sku of result.facts.notInShop) {
      expect(bySku.get(sku)?.shop).toBe('');
      const variant = shop.prepare('select count(*) as c from variants where sku like ?').get(`ACME-${sku.slice(4)}-%`) as { c: number };
      expect(variant.c, sku).toBe(0);
      expect(erp.prepare('select description from items where item_no = ?').get(code(sku, 'erp'))).toBeDefined();
    }
    expect(map.filter((r) => r.erp !== '' && r.shop === '').map((r) => r.sku)).toEqual(result.facts.notInShop);
    for (const sku of result.facts.deletedInShop) {
      const v = shop.prepare('select deleted_at from variants where sku = ?').get(code(sku, 'shop')) as { deleted_at: string | null };
      expect(v.deleted_at, sku).not.toBeNull();
      expect(named.has(code(sku, 'shop')), sku).toBe(false);
    }
  });

  it('discontinued: ERP status X; every other item is A', () => {
    const x = (erp.prepare("select item_no from items where status = 'X' order by item_no").all() as { item_no: string }[]).map((r) => r.item_no);
    expect(x).toEqual(result.facts.discontinued.map((s) => code(s, 'erp')));
    const other = erp.prepare("select count(*) as c from items where status not in ('A', 'X')").get() as { c: number };
    expect(other.c).toBe(0);
  });

  it('unmapped: in the SKU map with no codes, and in no system', () => {
    for (const sku of result.facts.unmapped) {
      const r = bySku.get(sku);
      expect(r?.name).not.toBe('');
      expect([r?.erp, r?.wms, r?.shop, r?.tpl]).toEqual(['', '', '', '']);
      const num = Number(sku.slice(4));
      expect(erp.prepare('select count(*) as c from items where item_no = ?').get(`100-${String(num).padStart(6, '0')}`)).toEqual({ c: 0 });
      expect(wms.prepare('select count(*) as c from bin_stock where item_code = ?').get(`ITM${String(num).padStart(7, '0')}`)).toEqual({ c: 0 });
    }
  });

  it('is deterministic: the same seed gives the same files, another seed different data', async () => {
    const again = await tempDir();
    const second = await generateDemo({ dir: again, skus: N, seed: 42, now: NOW });
    expect(second.facts).toEqual(result.facts);
    expect(second.sizes).toEqual(result.sizes);
    expect(dumpSqlite(again)).toEqual(dumpSqlite(dir));
    expect(readFileSync(second.skuMapPath, 'utf8')).toBe(readFileSync(result.skuMapPath, 'utf8'));
    expect(readFileSync(second.configPath, 'utf8')).toBe(readFileSync(result.configPath, 'utf8'));

    const other = await tempDir();
    await generateDemo({ dir: other, skus: N, seed: 7, now: NOW });
    expect(dumpSqlite(other)['erp.inv_balance']).not.toEqual(dumpSqlite(dir)['erp.inv_balance']);
  }, 60_000);

  it('replaces an earlier demo in the same directory', async () => {
    const d = await tempDir();
    await generateDemo({ dir: d, skus: 50, now: NOW });
    const small = await generateDemo({ dir: d, skus: 20, now: NOW });
    expect(dumpSqlite(d)['erp.items']).toHaveLength(19);
    expect(small.sizes['erp.items']).toBe(19);
  });
});

describe('demoCommand', () => {
  async function run(argv: string[]) {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const out = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const code = await demoCommand(argv);
      return { code, stderr: err.mock.calls.map((c) => c.join(' ')).join('\n'), stdout: out.mock.calls.map((c) => c.join(' ')).join('\n') };
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  }

  it.each([
    [['--skus', 'abc'], /--skus must be a whole number/],
    [['--skus', '0'], /skus must be a whole number from 1/],
    [['--seed', '1.5'], /--seed must be a whole number/],
    [['--bogus'], /unknown flag --bogus/],
    [['--dir'], /--dir needs a value/],
    [['stray'], /unexpected argument/],
    [['--prefix', 'bad-name;'], /database prefix/],
    [['--mysql', 'postgres://x'], /not a mysql:\/\/ URL/],
  ])('rejects %j with exit code 2', async (argv, message) => {
    const { code, stderr } = await run(argv);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toMatch(message);
  });

  it('generates and prints a summary', async () => {
    const dir = await tempDir();
    const { code, stdout } = await run(['--dir', dir, '--skus', '25', '--seed', '3']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/25 SKUs written in \d+\.\ds/);
    expect(stdout).toMatch(/erp\.inv_balance\s+120 rows/);
    expect(stdout).toContain(join(dir, 'inventory-graph.yaml'));
    expect(() => loadConfig(join(dir, 'inventory-graph.yaml'), {})).not.toThrow();
  });
});

describe('generateDemo on MariaDB', () => {
  const server = 'mysql://root@127.0.0.1:3306/';
  const prefix = `ig_test_demo_${randomBytes(4).toString('hex')}`;
  let admin: Knex;
  let dir: string;
  let result: DemoResult;

  beforeAll(async () => {
    admin = knexFactory({ client: 'mysql2', connection: { host: '127.0.0.1', port: 3306, user: 'root', connectTimeout: 5000 }, pool: { min: 0, max: 1 } });
    try {
      await admin.raw('select 1');
    } catch (e) {
      throw new Error(
        `MariaDB is not reachable at 127.0.0.1:3306 as root without a password (${(e as Error).message}). ` +
          'These tests need it: start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`.',
        { cause: e },
      );
    }
    dir = await tempDir();
    result = await generateDemo({ dir, skus: N, seed: 42, now: NOW, mysqlUrl: server, databasePrefix: prefix });
  }, 60_000);

  afterAll(async () => {
    if (admin === undefined) return;
    for (const s of SYSTEMS) await admin.raw(`drop database if exists \`${prefix}_${s}\``).catch(() => {});
    await admin.destroy();
  });

  async function withSource<T>(system: string, fn: (db: Knex) => Promise<T>): Promise<T> {
    const connection = sql(loadConfig(result.configPath, {}).sources[system])?.connection ?? '';
    const db = createKnex({ client: 'mysql2', connection });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  it('creates the four databases and reports their row counts', async () => {
    const dbs = (await admin.raw('show databases like ?', [`${prefix}\\_%`]))[0] as Row[];
    expect(dbs.map((r) => Object.values(r)[0]).sort()).toEqual(SYSTEMS.map((s) => `${prefix}_${s}`).sort());
    for (const key of Object.keys(TABLES)) {
      const [system, table] = key.split('.') as [string, string];
      const [row] = (await admin.raw(`select count(*) as c from \`${prefix}_${system}\`.\`${table}\``))[0] as { c: number }[];
      expect(row?.c, key).toBe(result.sizes[key]);
    }
    expect(result.sizes['erp.inv_balance']).toBe((N - 1) * 5);
  });

  it('writes a config with one mysql:// URL per system', () => {
    const config = loadConfig(result.configPath, {});
    for (const s of SYSTEMS) {
      expect(sql(config.sources[s])?.client).toBe('mysql2');
      expect(sql(config.sources[s])?.connection).toBe(`mysql://root@127.0.0.1:3306/${prefix}_${s}`);
    }
    {
      expect(config.sources.tpl).toMatchObject({ kind: 'csv', path: join(dir, '3pl', 'inventory-*.csv') });
    }
    expect(config.store).toEqual({ client: 'better-sqlite3', connection: join(dir, 'gateway.sqlite') });
    expect(readFileSync(result.configPath, 'utf8')).toContain(`--mysql ${server} --prefix ${prefix}`);
  });

  it('uses DECIMAL for cost and DATETIME for WMS timestamps', async () => {
    const [cols] = (await admin.raw(
      'select table_schema as db, column_name as col, column_type as type from information_schema.columns where table_schema like ? and column_name in (?, ?)',
      [`${prefix}\\_%`, 'std_cost', 'updated_at'],
    )) as [Row[]];
    expect(cols.map((c) => `${String(c.col)} ${String(c.type)}`).sort()).toEqual(['std_cost decimal(12,4)', 'updated_at datetime']);
  });

  it('holds the same data as the SQLite demo with the same seed', async () => {
    const sqliteDir = await tempDir();
    const lite = await generateDemo({ dir: sqliteDir, skus: N, seed: 42, now: NOW });
    expect(result.facts).toEqual(lite.facts);
    expect(result.sizes).toEqual(lite.sizes);
    expect(readFileSync(result.skuMapPath, 'utf8')).toBe(readFileSync(lite.skuMapPath, 'utf8'));
    const expected = dumpSqlite(sqliteDir);
    for (const [key, order] of Object.entries(TABLES)) {
      const [system, table] = key.split('.') as [string, string];
      const rows = await withSource(system, async (db) => (await db.raw(`select * from ${table} order by ${order}`))[0] as Row[]);
      const normal = rows.map((r) => ({ ...r, ...(r.updated_at !== undefined ? { updated_at: `${String(r.updated_at).replace(' ', 'T')}Z` } : {}) }));
      expect(normal, key).toEqual(expected[key]);
    }
  }, 60_000);

  it('runs the shop items query as written in the config', async () => {
    const query = sql(loadConfig(result.configPath, {}).sources.shop)?.items?.query ?? '';
    const rows = await withSource('shop', async (db) => (await db.raw(query))[0] as Row[]);
    expect(rows).toHaveLength(result.sizes['shop.variants']! - result.facts.deletedInShop.length);
  });

  it('drops and recreates the databases on a second run', async () => {
    const d = await tempDir();
    const small = await generateDemo({ dir: d, skus: 40, now: NOW, mysqlUrl: server, databasePrefix: prefix });
    const [row] = (await admin.raw(`select count(*) as c from \`${prefix}_erp\`.items`))[0] as { c: number }[];
    expect(row?.c).toBe(39);
    expect(small.sizes['erp.items']).toBe(39);
  }, 60_000);
});
