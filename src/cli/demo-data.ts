/**
 * `inventory-graph demo`: builds four small-but-realistic source systems (an ERP, a WMS, a
 * shop and a 3PL snapshot), the SKU map that ties their codes together and a gateway config
 * that reads them, so the API can be tried, tested and benchmarked without a real ERP. The
 * systems disagree on purpose (negative bins, picked-not-invoiced stock, orphan codes, a stale
 * snapshot, ...) and `DemoFacts` names the SKUs concerned, so tests can aim at each case.
 *
 * Every SKU's data is a pure function of (seed, SKU number): each table is filled by its own
 * loop, block by block, so memory stays flat at a million SKUs and MariaDB fills tables in
 * parallel, while a SQLite file simply queues them on its one connection.
 */
import knexFactory, { type Knex } from 'knex';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKnex, mysqlConnection } from '../db/knex.js';
import { csvRows, type CsvCell } from './csv-out.js';
import { runCommand, UsageError, type ParsedArgs } from './args.js';
import { DEMO, DEMO_AMQP_QUEUE, DEMO_AMQP_URL, DEMO_EVENTS_EXCHANGE } from './commands.js';

export interface DemoOptions {
  dir: string;
  /** Canonical SKUs to generate. Defaults to 2000. */
  skus?: number;
  /** Defaults to 42. */
  seed?: number;
  /** Write MariaDB/MySQL databases on this server instead of SQLite files, e.g. mysql://root@127.0.0.1:3306/test. */
  mysqlUrl?: string;
  /** Database names are `${prefix}_erp`, ... Defaults to `ig_demo`. */
  databasePrefix?: string;
  /**
   * Canonical locations, 5 (the default) to 30. Beyond the five standard ones, each extra
   * location is a regional DC known to the WMS (its own warehouse code, 1 to 3 bins per SKU)
   * and to the ERP (its own site, agreeing with the WMS). The extras draw from their own random
   * stream, so the first five locations, and every fact, are the same whatever this number.
   */
  locations?: number;
  /** The moment the data describes. Defaults to the current time. */
  now?: Date;
  onProgress?: (msg: string) => void;
}

/**
 * Canonical SKUs that show each kind of trouble. Lists hold at most `FACT_LIMIT` SKUs, in
 * ascending order; `counts` has the full numbers.
 */
export interface DemoFacts {
  skus: number;
  /** The WMS total over EAST bins is negative (every 97th SKU). */
  negativeWms: string[];
  /** WMS item codes with stock at EAST that the SKU map does not contain. */
  orphanWmsCodes: string[];
  /** ERP qty at 'East DC - ACME' differs from the WMS total at EAST: pickedNotInvoiced and unexplained together. Every other mapped SKU agrees. */
  erpWmsDisagree: string[];
  /** ERP = WMS qty + picked_qty at EAST, picked_qty > 0. */
  pickedNotInvoiced: string[];
  /** ERP differs from the WMS at EAST by an amount picking does not explain; includes every negativeWms SKU (ERP shows 0). */
  unexplained: string[];
  /** ERP has a positive qty at 'Central DC' but the WMS has no CENTRAL bin. */
  missingInWmsCentral: string[];
  /** Stocked at the 3PL, whose snapshot is ~50 hours old (older than maxAgeSeconds). */
  staleTpl: string[];
  /** The shop has no variant at all; the SKU map's shop cell is empty. */
  notInShop: string[];
  /** The shop's only variant is soft-deleted (deleted_at set), so the shop gives no name. */
  deletedInShop: string[];
  /** ERP status 'X', filtered out by the items `where`. */
  discontinued: string[];
  /** In the SKU map with no code in any system, and in no system's tables. */
  unmapped: string[];
  counts: Record<FactName, number>;
}

export type FactName = Exclude<keyof DemoFacts, 'skus' | 'counts'>;

export interface DemoResult {
  configPath: string;
  skuMapPath: string;
  facts: DemoFacts;
  /** Rows per table, keyed `system.table`. */
  sizes: Record<string, number>;
}

export const FACT_LIMIT = 200;
const BLOCK = 5000;
const ROWS_PER_INSERT = 1000;
const ORPHANS = 5;

const ERP_SITES = ['East DC - ACME', 'Central DC', 'NYC Flagship', '3PL West', 'Transit'] as const;
const STANDARD_LOCATIONS = ERP_SITES.length;
/** Where the extra regional DCs are (`locations` > 5): one city each, in this order. */
const REGIONAL_CITIES: readonly (readonly [string, number, number])[] = [
  ['Atlanta', 33.749, -84.388],
  ['Dallas', 32.7767, -96.797],
  ['Denver', 39.7392, -104.9903],
  ['Seattle', 47.6062, -122.3321],
  ['Phoenix', 33.4484, -112.074],
  ['Miami', 25.7617, -80.1918],
  ['Boston', 42.3601, -71.0589],
  ['Minneapolis', 44.9778, -93.265],
  ['Salt Lake City', 40.7608, -111.891],
  ['Kansas City', 39.0997, -94.5786],
  ['Nashville', 36.1627, -86.7816],
  ['Portland', 45.5152, -122.6784],
  ['Charlotte', 35.2271, -80.8431],
  ['Columbus', 39.9612, -82.9988],
  ['Houston', 29.7604, -95.3698],
  ['Detroit', 42.3314, -83.0458],
  ['Las Vegas', 36.1699, -115.1398],
  ['Memphis', 35.1495, -90.049],
  ['Pittsburgh', 40.4406, -79.9959],
  ['Sacramento', 38.5816, -121.4944],
  ['St. Louis', 38.627, -90.1994],
  ['Indianapolis', 39.7684, -86.1581],
  ['Baltimore', 39.2904, -76.6122],
  ['Albuquerque', 35.0844, -106.6504],
  ['Reno', 39.5296, -119.8138],
];
/** The j-th extra location (1-based): its canonical id, WMS warehouse code and ERP site. */
const regional = (j: number) => ({ id: `DC-R${pad(j, 2)}`, wms: `R${pad(j, 2)}`, erp: `Regional DC ${pad(j, 2)}` });
const MODELS = ['Trail', 'Road', 'Summit', 'Harbor', 'Canyon', 'Metro', 'Alpine', 'Coastal', 'Ridge', 'Prairie'];
const KINDS = ['Runner', 'Hiker', 'Jacket', 'Pack', 'Boot', 'Fleece', 'Cap', 'Bottle', 'Tent', 'Glove'];
const COLOURS = [
  ['Blue', 'BLU'],
  ['Red', 'RED'],
  ['Black', 'BLK'],
  ['Green', 'GRN'],
  ['Grey', 'GRY'],
  ['White', 'WHT'],
  ['Orange', 'ORG'],
  ['Navy', 'NVY'],
] as const;

type System = 'erp' | 'wms' | 'shop' | 'tpl';
type Value = string | number | null;

interface Env {
  seed: number;
  n: number;
  /** Extra regional DCs beyond the five standard locations. */
  extraLocations: number;
  width: number;
  now: number;
  mysql: boolean;
}

interface Bin {
  id: string;
  /** EAST, CENTRAL, or an extra regional DC's code (R01, ...). */
  wh: string;
  qty: number;
  picked: number;
  updatedAt: number;
}

type EastCase = 'agree' | 'negative' | 'picked' | 'unexplained';

interface Sku {
  i: number;
  sku: string;
  name: string;
  colour: string;
  mapped: boolean;
  codes: { erp: string; wms: string; shop: string | null; tpl: string | null };
  east: EastCase;
  missingCentral: boolean;
  discontinued: boolean;
  shopDeleted: boolean;
  cost: string;
  siteQty: number[];
  bins: Bin[];
  tplOnHand: number;
  tplAllocated: number;
}

/** mulberry32, seeded with a hash of (seed, SKU number): one independent stream per SKU, so any SKU can be generated on its own. */
class Rng {
  private a: number;
  constructor(seed: number, i: number) {
    let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
    this.a = (h ^ (h >>> 16)) >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
}

const pad = (v: number, width: number) => String(v).padStart(width, '0');
const canonical = (env: Env, i: number) => `SKU-${pad(i, env.width)}`;
const isoSeconds = (ms: number) => new Date(ms).toISOString().slice(0, 19) + 'Z';
const wmsCode = (i: number) => `ITM${pad(i, 7)}`;

function addBin(bins: Bin[], r: Rng, env: Env, wh: Bin['wh'], k: number, qty: number, picked: number): void {
  const id = `${wh[0]}${pad(r.int(1, 40), 2)}-${pad(r.int(1, 60), 2)}-${'ABC'[k]}`;
  bins.push({ id, wh, qty, picked, updatedAt: env.now - r.int(60, 3000) * 1000 });
}

/** `total` split over 1 to 3 bins; `picked` lands on one of them. */
function spreadBins(bins: Bin[], r: Rng, env: Env, wh: Bin['wh'], total: number, picked: number): void {
  const count = r.int(1, 3);
  const bounds = [0, total];
  for (let k = 1; k < count; k++) bounds.push(r.int(0, total));
  bounds.sort((a, b) => a - b);
  const pickedAt = r.int(0, count - 1);
  for (let k = 0; k < count; k++) addBin(bins, r, env, wh, k, (bounds[k + 1] as number) - (bounds[k] as number), k === pickedAt ? picked : 0);
}

function skuAt(env: Env, i: number): Sku {
  const r = new Rng(env.seed, i);
  const model = r.pick(MODELS);
  const kind = r.pick(KINDS);
  const size = r.int(30, 49);
  const [colour, colourCode] = r.pick(COLOURS);
  const shopDeleted = i % 53 === 21;
  const inShop = r.next() >= 0.1 || shopDeleted;
  const inTpl = r.next() < 0.3;
  const east: EastCase = i % 97 === 0 ? 'negative' : i % 13 === 5 ? 'picked' : i % 37 === 11 ? 'unexplained' : 'agree';
  const missingCentral = i % 19 === 7;
  const bins: Bin[] = [];

  let erpEast: number;
  if (east === 'negative') {
    const shelf = r.int(0, 5);
    addBin(bins, r, env, 'EAST', 0, shelf, 0);
    addBin(bins, r, env, 'EAST', 1, -(shelf + r.int(1, 20)), 0);
    erpEast = 0;
  } else {
    const total = r.int(0, 185);
    const picked = east === 'picked' ? r.int(1, 5) : 0;
    spreadBins(bins, r, env, 'EAST', total, picked);
    const delta = r.int(1, 15) * (r.next() < 0.5 ? -1 : 1);
    erpEast = east === 'picked' ? total + picked : east === 'unexplained' ? total + (total + delta < 0 ? -delta : delta) : total;
  }
  let erpCentral: number;
  if (missingCentral) {
    erpCentral = r.int(1, 200);
  } else {
    erpCentral = r.int(0, 200);
    spreadBins(bins, r, env, 'CENTRAL', erpCentral, 0);
  }
  const tplOnHand = r.int(0, 120);
  const tplAllocated = Math.min(tplOnHand, r.int(0, 10));
  const siteQty = [erpEast, erpCentral, r.int(0, 40), inTpl ? tplOnHand : 0, r.next() < 0.8 ? 0 : r.int(1, 6)];
  const cost = r.int(20_000, 2_500_000);
  // the extra regional DCs draw from their own stream, so the standard locations stay as they are
  if (env.extraLocations > 0) {
    const x = new Rng(env.seed ^ 0x27d4eb2f, i);
    for (let j = 1; j <= env.extraLocations; j++) {
      const total = x.int(0, 150);
      spreadBins(bins, x, env, regional(j).wms, total, 0);
      siteQty.push(total);
    }
  }

  return {
    i,
    sku: canonical(env, i),
    name: `${model} ${kind} ${size} ${colour}`,
    colour,
    mapped: !(i === env.n && env.n > 1),
    codes: {
      erp: `100-${pad(i, 6)}`,
      wms: wmsCode(i),
      shop: inShop ? `ACME-${pad(i, 6)}-${colourCode}` : null,
      tpl: inTpl ? `ACM${i}` : null,
    },
    east,
    missingCentral,
    discontinued: i % 61 === 30,
    shopDeleted,
    cost: `${Math.floor(cost / 10_000)}.${pad(cost % 10_000, 4)}`,
    siteQty,
    bins,
    tplOnHand,
    tplAllocated,
  };
}

interface Table {
  system: DbSystem;
  name: string;
  columns: string[];
  create(t: Knex.CreateTableBuilder, env: Env): void;
  rows(s: Sku, env: Env): Value[][];
  /** Rows that belong to no canonical SKU, written after the last block. */
  tail?(env: Env): Value[][];
}

/** TEXT in SQLite (as the source systems declare it), VARCHAR in MySQL so it can be indexed. */
const text = (t: Knex.CreateTableBuilder, name: string, env: Env, length = 64) => (env.mysql ? t.string(name, length) : t.text(name));

const TABLES: Table[] = [
  {
    system: 'erp',
    name: 'items',
    columns: ['item_no', 'description', 'status'],
    create(t, env) {
      text(t, 'item_no', env, 32).primary();
      text(t, 'description', env, 200);
      text(t, 'status', env, 1);
    },
    rows: (s) => [[s.codes.erp, s.name.toUpperCase(), s.discontinued ? 'X' : 'A']],
  },
  {
    system: 'erp',
    name: 'inv_balance',
    columns: ['item_no', 'site', 'qty'],
    create(t, env) {
      text(t, 'item_no', env, 32);
      text(t, 'site', env, 64);
      t.integer('qty');
      t.primary(['item_no', 'site']);
    },
    rows: (s, env) => erpSites(env).map((site, k) => [s.codes.erp, site, s.siteQty[k] as number]),
  },
  {
    system: 'erp',
    name: 'item_cost',
    columns: ['item_no', 'std_cost', 'ccy'],
    create(t, env) {
      text(t, 'item_no', env, 32).primary();
      if (env.mysql) t.decimal('std_cost', 12, 4);
      else t.text('std_cost');
      text(t, 'ccy', env, 3);
    },
    rows: (s) => [[s.codes.erp, s.cost, 'USD']],
  },
  {
    system: 'wms',
    name: 'bin_stock',
    columns: ['bin_id', 'wh', 'item_code', 'qty', 'picked_qty', 'updated_at'],
    create(t, env) {
      text(t, 'bin_id', env, 32);
      text(t, 'wh', env, 16);
      text(t, 'item_code', env, 32).index();
      t.integer('qty');
      t.integer('picked_qty');
      // the change column: `demo traffic` bumps it with every pick and receipt, the poll feed reads rows newer than it saw
      if (env.mysql) t.datetime('updated_at').index();
      else t.text('updated_at').index();
    },
    rows: (s, env) => s.bins.map((b) => [b.id, b.wh, s.codes.wms, b.qty, b.picked, wmsTime(b.updatedAt, env)]),
    tail: (env) =>
      Array.from({ length: ORPHANS }, (_, k) => [`E99-0${k + 1}-A`, 'EAST', wmsCode(env.n + k + 1), 5 + 3 * k, 0, wmsTime(env.now - 600_000, env)]),
  },
  {
    // orders the WMS has taken over, by the shop's order reference: a confirmed reservation whose
    // reference shows up here is handed over to the WMS's own figures (docs/reservations.md); empty at first
    system: 'wms',
    name: 'pick_orders',
    columns: ['order_ref', 'item_code', 'wh', 'qty', 'picked_at'],
    create(t, env) {
      text(t, 'order_ref', env, 64).index();
      text(t, 'item_code', env, 32);
      text(t, 'wh', env, 16);
      t.integer('qty');
      text(t, 'picked_at', env, 20);
    },
    rows: () => [],
  },
  {
    system: 'shop',
    name: 'products',
    columns: ['id', 'title'],
    create(t, env) {
      t.integer('id').primary();
      text(t, 'title', env, 200);
    },
    rows: (s) => (s.codes.shop === null ? [] : [[s.i, s.name]]),
  },
  {
    system: 'shop',
    name: 'variants',
    columns: ['id', 'product_id', 'sku', 'option1', 'deleted_at'],
    create(t, env) {
      t.integer('id').primary();
      t.integer('product_id');
      text(t, 'sku', env, 32).index();
      text(t, 'option1', env, 32);
      text(t, 'deleted_at', env, 20).nullable();
    },
    rows: (s, env) => (s.codes.shop === null ? [] : [[s.i, s.i, s.codes.shop, s.colour, s.shopDeleted ? isoSeconds(env.now - 30 * 86_400_000) : null]]),
  },
];

const wmsTime = (ms: number, env: Env) => (env.mysql ? isoSeconds(ms).replace('T', ' ').slice(0, 19) : isoSeconds(ms));
/** The 3PL's newest daily file, taken on the hour about 50 hours before `now`; the one before it a day earlier. */
const tplSnapshotAt = (env: Env) => Math.floor((env.now - 50 * 3_600_000) / 3_600_000) * 3_600_000;
const TPL_DAYS = 2;
/** `3pl/inventory-YYYY-MM-DD.csv`, dated by the day (UTC) of its snapshot. */
export const tplFileName = (snapshotAt: number) => `3pl/inventory-${new Date(snapshotAt).toISOString().slice(0, 10)}.csv`;

/** The systems kept in databases; the 3PL sends files (see writeTplFiles). */
type DbSystem = Exclude<System, 'tpl'>;
const SYSTEMS: DbSystem[] = ['erp', 'wms', 'shop'];

/**
 * The 3PL's daily inventory files, as a 3PL sends them: a header, one row per SKU and lot
 * (every tenth SKU is split over two lots, summed by the connector), and the snapshot time in
 * a column. The newest file (`daysBack` 0) holds the figures the facts and the ERP agree with;
 * the day before differs by a few units. Written block by block: memory stays flat.
 */
async function writeTplFiles(dir: string, env: Env): Promise<Record<string, number>> {
  await mkdir(join(dir, '3pl'), { recursive: true });
  const sizes: Record<string, number> = {};
  for (let daysBack = TPL_DAYS - 1; daysBack >= 0; daysBack--) {
    const at = tplSnapshotAt(env) - daysBack * 86_400_000;
    const name = tplFileName(at);
    const file = await open(join(dir, name), 'w');
    let rows = 0;
    try {
      await file.write('client_sku,facility,lot,on_hand,allocated,snapshot_at\n');
      for (let from = 1; from <= env.n; from += BLOCK) {
        let out = '';
        for (let i = from; i <= Math.min(env.n, from + BLOCK - 1); i++) {
          const s = skuAt(env, i);
          if (!s.mapped || s.codes.tpl === null) continue;
          let onHand = s.tplOnHand;
          let allocated = s.tplAllocated;
          if (daysBack > 0) {
            const r = new Rng(env.seed ^ 0x3c6ef372 ^ daysBack, i);
            onHand = Math.max(0, onHand + r.int(-6, 6));
            allocated = Math.min(onHand, r.int(0, 10));
          }
          const when = isoSeconds(at);
          if (i % 10 === 3 && onHand > 1) {
            const first = Math.floor(onHand / 2);
            out += `${s.codes.tpl},W01,L${i}A,${first},${allocated},${when}\n${s.codes.tpl},W01,L${i}B,${onHand - first},0,${when}\n`;
            rows += 2;
          } else {
            out += `${s.codes.tpl},W01,L${i}A,${onHand},${allocated},${when}\n`;
            rows++;
          }
        }
        await file.write(out);
      }
    } finally {
      await file.close();
    }
    sizes[`tpl.${name}`] = rows;
  }
  return sizes;
}

/** The ERP's sites: the five standard ones, then one per extra regional DC. */
const erpSites = (env: Env): string[] => [...ERP_SITES, ...Array.from({ length: env.extraLocations }, (_, k) => regional(k + 1).erp)];

/** A problem with the options, as one line, or undefined. */
export function checkDemoOptions(o: Pick<DemoOptions, 'skus' | 'seed' | 'mysqlUrl' | 'databasePrefix' | 'locations'>): string | undefined {
  const most = STANDARD_LOCATIONS + REGIONAL_CITIES.length;
  if (o.locations !== undefined && (!Number.isSafeInteger(o.locations) || o.locations < STANDARD_LOCATIONS || o.locations > most)) {
    return `locations must be a whole number from ${STANDARD_LOCATIONS} to ${most}, got ${String(o.locations)}`;
  }
  if (o.skus !== undefined && (!Number.isSafeInteger(o.skus) || o.skus < 1 || o.skus > 99_999_999)) {
    return `skus must be a whole number from 1 to 99999999, got ${String(o.skus)}`;
  }
  if (o.seed !== undefined && (!Number.isSafeInteger(o.seed) || Math.abs(o.seed) > 2 ** 31)) return `seed must be a 32-bit integer, got ${String(o.seed)}`;
  if (o.databasePrefix !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,50}$/.test(o.databasePrefix)) {
    return `database prefix must be letters, digits and _ (at most 51), got "${o.databasePrefix}"`;
  }
  if (o.mysqlUrl !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(o.mysqlUrl);
    } catch {
      u = undefined;
    }
    if (u?.protocol !== 'mysql:' || u.hostname === '') return `not a mysql:// URL: "${o.mysqlUrl}"`;
  }
  return undefined;
}

export async function generateDemo(opts: DemoOptions): Promise<DemoResult> {
  const problem = checkDemoOptions(opts);
  if (problem !== undefined) throw new RangeError(problem);
  const n = opts.skus ?? 2000;
  const env: Env = {
    seed: opts.seed ?? 42,
    n,
    extraLocations: (opts.locations ?? STANDARD_LOCATIONS) - STANDARD_LOCATIONS,
    width: Math.max(6, String(n).length),
    now: Math.floor((opts.now ?? new Date()).getTime() / 1000) * 1000,
    mysql: opts.mysqlUrl !== undefined,
  };
  const prefix = opts.databasePrefix ?? 'ig_demo';
  const progress = opts.onProgress ?? (() => {});
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });

  const connections = Object.fromEntries(
    SYSTEMS.map((s) => [s, opts.mysqlUrl === undefined ? `./${s}.sqlite` : databaseUrl(opts.mysqlUrl, `${prefix}_${s}`)]),
  ) as Record<DbSystem, string>;
  // earlier demos: the 3PL's files, and its SQLite snapshot from before it sent files
  await rm(join(dir, '3pl'), { recursive: true, force: true });
  await Promise.all(['', '-journal', '-wal', '-shm'].map((x) => rm(join(dir, `tpl.sqlite${x}`), { force: true })));
  if (opts.mysqlUrl === undefined) {
    await Promise.all(SYSTEMS.flatMap((s) => ['', '-journal', '-wal', '-shm'].map((x) => rm(join(dir, `${s}.sqlite${x}`), { force: true }))));
  } else {
    await recreateDatabases(
      opts.mysqlUrl,
      SYSTEMS.map((s) => `${prefix}_${s}`),
    );
  }

  const dbs = Object.fromEntries(
    SYSTEMS.map((s) => [
      s,
      env.mysql
        ? createKnex({ client: 'mysql2', connection: connections[s], pool: 4, acquireTimeoutMs: 60_000 })
        : createKnex({ client: 'better-sqlite3', connection: join(dir, `${s}.sqlite`), acquireTimeoutMs: 600_000 }),
    ]),
  ) as Record<DbSystem, Knex>;
  const sizes: Record<string, number> = {};
  const skuMapPath = join(dir, 'sku-map.csv');
  let facts: DemoFacts;
  try {
    if (!env.mysql) await Promise.all(SYSTEMS.map((s) => dbs[s].raw('pragma synchronous = off')));
    for (const t of TABLES) await dbs[t.system].schema.createTable(t.name, (b) => t.create(b, env));
    progress(`writing ${n} SKUs to ${env.mysql ? `MariaDB databases ${prefix}_*` : dir}`);
    const done = new Map<string, number>();
    let reported = 0;
    const advance = (table: string, upTo: number) => {
      done.set(table, upTo);
      const least = done.size < TABLES.length ? 0 : Math.min(...done.values());
      const tenth = Math.floor((least / n) * 10);
      if (tenth > reported && tenth < 10) progress(`${tenth * 10}% of ${n} SKUs written`);
      reported = Math.max(reported, tenth);
    };
    const [mapFacts, counts, files] = await Promise.all([
      writeSkuMap(skuMapPath, env),
      Promise.all(TABLES.map((t) => fillTable(dbs[t.system], t, env, (upTo) => advance(`${t.system}.${t.name}`, upTo)))),
      writeTplFiles(dir, env),
    ]);
    facts = mapFacts;
    TABLES.forEach((t, k) => (sizes[`${t.system}.${t.name}`] = counts[k] as number));
    Object.assign(sizes, files);
  } finally {
    await Promise.all(SYSTEMS.map((s) => dbs[s].destroy()));
  }

  const configPath = join(dir, 'inventory-graph.yaml');
  await writeFile(configPath, configYaml(opts, env, connections));
  progress(`wrote ${configPath}`);
  return { configPath, skuMapPath, facts, sizes };
}

function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function recreateDatabases(serverUrl: string, names: string[]): Promise<void> {
  const { database: _ignored, ...server } = mysqlConnection(serverUrl);
  const admin = knexFactory({ client: 'mysql2', connection: server, pool: { min: 0, max: 1 } });
  try {
    for (const db of names) {
      await admin.raw(`drop database if exists \`${db}\``);
      await admin.raw(`create database \`${db}\` character set utf8mb4`);
    }
  } finally {
    await admin.destroy();
  }
}

/** Fills one table block by block, one transaction per block, `ROWS_PER_INSERT` rows per statement. */
async function fillTable(db: Knex, t: Table, env: Env, onBlock: (upTo: number) => void): Promise<number> {
  const head = `insert into ${t.name} (${t.columns.join(', ')}) values `;
  const tuple = `(${t.columns.map(() => '?').join(', ')})`;
  const statement = (rows: number) => head + Array<string>(rows).fill(tuple).join(', ');
  const full = statement(ROWS_PER_INSERT);
  let count = 0;
  for (let from = 1; from <= env.n; from += BLOCK) {
    const to = Math.min(env.n, from + BLOCK - 1);
    const rows: Value[][] = [];
    for (let i = from; i <= to; i++) {
      const s = skuAt(env, i);
      if (s.mapped) rows.push(...t.rows(s, env));
    }
    if (to === env.n && t.tail !== undefined) rows.push(...t.tail(env));
    await db.transaction(async (trx) => {
      for (let k = 0; k < rows.length; k += ROWS_PER_INSERT) {
        const chunk = rows.slice(k, k + ROWS_PER_INSERT);
        await trx.raw(chunk.length === ROWS_PER_INSERT ? full : statement(chunk.length), chunk.flat());
      }
    });
    count += rows.length;
    onBlock(to);
  }
  return count;
}

/**
 * Writes sku-map.csv (csv-out.ts, like every CSV of the CLI; the demo's codes and names never
 * start with a character it guards, so `skus import` reads back exactly what was generated) and
 * collects the facts on the way, since both walk every SKU once.
 */
async function writeSkuMap(path: string, env: Env): Promise<DemoFacts> {
  const names: FactName[] = [
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
  ];
  const lists = Object.fromEntries(names.map((k) => [k, [] as string[]])) as Record<FactName, string[]>;
  const counts = Object.fromEntries(names.map((k) => [k, 0])) as Record<FactName, number>;
  const note = (k: FactName, sku: string) => {
    counts[k]++;
    if (lists[k].length < FACT_LIMIT) lists[k].push(sku);
  };
  const file = await open(path, 'w');
  try {
    await file.write(csvRows([['sku', 'name', 'erp', 'wms', 'shop', 'tpl']]));
    for (let from = 1; from <= env.n; from += BLOCK) {
      const rows: CsvCell[][] = [];
      for (let i = from; i <= Math.min(env.n, from + BLOCK - 1); i++) {
        const s = skuAt(env, i);
        const c = s.mapped ? s.codes : { erp: '', wms: '', shop: '', tpl: '' };
        rows.push([s.sku, s.name, c.erp, c.wms, c.shop ?? '', c.tpl ?? '']);
        if (!s.mapped) {
          note('unmapped', s.sku);
          continue;
        }
        if (s.east === 'negative') note('negativeWms', s.sku);
        if (s.east !== 'agree') note('erpWmsDisagree', s.sku);
        if (s.east === 'picked') note('pickedNotInvoiced', s.sku);
        if (s.east === 'unexplained' || s.east === 'negative') note('unexplained', s.sku);
        if (s.missingCentral) note('missingInWmsCentral', s.sku);
        if (s.codes.tpl !== null) note('staleTpl', s.sku);
        if (s.codes.shop === null) note('notInShop', s.sku);
        if (s.shopDeleted) note('deletedInShop', s.sku);
        if (s.discontinued) note('discontinued', s.sku);
      }
      await file.write(csvRows(rows));
    }
  } finally {
    await file.close();
  }
  for (let k = 1; k <= ORPHANS; k++) note('orphanWmsCodes', wmsCode(env.n + k));
  return { skus: env.n, ...lists, counts };
}

/** A URL fit for a comment: the password, if any, replaced by `***`. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.toString();
}

function configYaml(opts: DemoOptions, env: Env, connections: Record<DbSystem, string>): string {
  const client = env.mysql ? 'mysql2' : 'better-sqlite3';
  const command = [
    'inventory-graph demo',
    `--skus ${env.n}`,
    `--seed ${env.seed}`,
    ...(env.extraLocations > 0 ? [`--locations ${STANDARD_LOCATIONS + env.extraLocations}`] : []),
    ...(opts.mysqlUrl !== undefined ? [`--mysql ${withoutPassword(opts.mysqlUrl)}`, `--prefix ${opts.databasePrefix ?? 'ig_demo'}`] : []),
  ].join(' ');
  const q = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : JSON.stringify(s));
  return `# Generated by \`${command}\`; regenerate rather than edit.
# Four demo source systems that disagree on purpose, each with its own tables and SKU codes.
# Their codes map to canonical SKUs in ./sku-map.csv (import it into the store).
# \`inventory-graph demo traffic\` writes picks and receipts into the WMS and publishes the 3PL's picks to RabbitMQ.

store: { client: better-sqlite3, connection: ./gateway.sqlite }

# switches the environment may set, as before they were config keys (docs/configuration.md)
server:
  executor: "\${INVENTORY_GRAPH_EXECUTOR:-jit}"
  fastPath: "\${INVENTORY_GRAPH_FAST_PATH:-on}"
  cacheControl: "\${INVENTORY_GRAPH_CACHE_CONTROL:-off}"
  loopbackStatus: "\${INVENTORY_GRAPH_LOOPBACK_STATUS:-off}"
log:
  level: "\${LOG_LEVEL:-info}"

sources:
  erp: # financial truth: balances per site, standard cost, item master
    kind: sql
    client: ${client}
    connection: ${q(connections.erp)}
    timeoutMs: 2000
    stalePolicy: count
    skuCodes: mapped
    stock: { table: inv_balance, columns: { sku: item_no, location: site, onHand: qty } }
    cost: { table: item_cost, columns: { sku: item_no, unitCost: std_cost, currency: ccy } }
    items: { table: items, where: { status: A }, columns: { sku: item_no, name: description } }
  wms: # operational truth: bins, summed per warehouse
    kind: sql
    client: ${client}
    connection: ${q(connections.wms)}
    timeoutMs: 2000
    maxAgeSeconds: 3600
    stalePolicy: count
    skuCodes: mapped
    stock: # qty is already net of picks (the WMS deducts at pick), so picked_qty is not committed again
      table: bin_stock
      columns: { sku: item_code, location: wh, onHand: qty, asOf: updated_at }
    movements: # picked, not yet invoiced: the WMS has deducted it, the ERP (deducts at invoice) not yet
      kind: pickedNotInvoiced
      table: bin_stock
      columns: { sku: item_code, location: wh, quantity: picked_qty, asOf: updated_at }
    orders: # orders the WMS has picked, by reference: a confirmed reservation for one stops counting (docs/reservations.md)
      table: pick_orders
      columns: { reference: order_ref }
    sync: # mirrored in memory: every 2 s the bins changed since the last read (updated_at, indexed) are read again
      mode: mirror
      feeds: [{ kind: poll, changedSince: updated_at, intervalSeconds: 2, overlapSeconds: 5, fullResyncSeconds: 3600 }]
  shop: # e-commerce platform: product titles, soft-deleted variants
    kind: sql
    client: ${client}
    connection: ${q(connections.shop)}
    timeoutMs: 2000
    skuCodes: mapped
    items:
      query: select v.sku as sku, p.title as name from variants v join products p on p.id = v.product_id where v.deleted_at is null
  tpl: # 3PL: one inventory file a day, usually a day or two old; the newest good file wins
    kind: csv
    path: ./3pl/inventory-*.csv
    maxAgeSeconds: 93600
    stalePolicy: count
    skuCodes: mapped
    stock:
      columns: { sku: client_sku, location: facility, onHand: on_hand, committed: allocated, asOf: snapshot_at }
    sync: # mirrored: the newest file plus the picks since its snapshot_at, from RabbitMQ; no lag limit, so without RabbitMQ the feed stays disconnected (see /status) and the file serves alone
      mode: mirror
      feeds:
        - kind: amqp
          url: "\${INVENTORY_GRAPH_DEMO_AMQP_URL:-${DEMO_AMQP_URL}}"
          queue: ${DEMO_AMQP_QUEUE}

locations:
  - { id: DC-EAST, name: "East distribution centre", codes: { wms: EAST, erp: "East DC - ACME" }, latitude: 40.7128, longitude: -74.006, priority: 1, channels: [web, retail] }
  - { id: DC-CENTRAL, name: "Central distribution centre", codes: { wms: CENTRAL, erp: "Central DC" }, latitude: 41.8781, longitude: -87.6298, priority: 2, channels: [web, retail] }
  - { id: STORE-NYC, name: "NYC flagship store", codes: { erp: "NYC Flagship" }, latitude: 40.758, longitude: -73.9855, priority: 3, channels: [retail], safetyStock: 2 }
  - { id: 3PL-WEST, name: "3PL West (Los Angeles)", codes: { tpl: W01, erp: "3PL West" }, latitude: 34.0522, longitude: -118.2437, priority: 4, channels: [web] }
  - { id: IN-TRANSIT, name: "In transit", codes: { erp: Transit }, sellable: false }
${regionalYaml(env)}
precedence:
  quantity: [wms, tpl, erp]
  cost: [erp]
  name: [shop, erp]

events: # pushed out (docs/events.md): a figure reaching 0 or leaving it, or falling to 5 or below, per channel; anomalies, holds, sources going down; \`inventory-graph events tail\` prints them live. Without RabbitMQ they wait in the store, retried with backoff
  availability: { lowStock: { default: 5 } }
  sinks:
    broker: { kind: amqp, url: "\${INVENTORY_GRAPH_DEMO_AMQP_URL:-${DEMO_AMQP_URL}}", exchange: ${DEMO_EVENTS_EXCHANGE} }
`;
}

/** One config line per extra regional DC (none for the default five locations). */
function regionalYaml(env: Env): string {
  let out = '';
  for (let j = 1; j <= env.extraLocations; j++) {
    const r = regional(j);
    const [city, latitude, longitude] = REGIONAL_CITIES[j - 1] as readonly [string, number, number];
    out += `  - { id: ${r.id}, name: "Regional DC ${city}", codes: { wms: ${r.wms}, erp: "${r.erp}" }, latitude: ${latitude}, longitude: ${longitude}, priority: ${4 + j}, channels: [web, retail] }\n`;
  }
  return out;
}

/** `inventory-graph demo` as the command (and `tsx src/cli/demo-data.ts`) runs it: flags, then the generation. */
export function demoCommand(argv: string[]): Promise<number> {
  return runCommand(DEMO, argv, runDemo);
}

/** The generation, for flags already read; a bad value is a UsageError. */
export async function runDemo({ values }: ParsedArgs): Promise<number> {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const whole = (k: string): number | undefined | string => {
    const v = str(k);
    if (v === undefined) return undefined;
    return /^-?\d+$/.test(v) ? Number(v) : `--${k} must be a whole number, got "${v}"`;
  };
  const skus = whole('skus');
  const seed = whole('seed');
  const locations = whole('locations');
  const opts: DemoOptions = {
    dir: str('dir') ?? './data/demo',
    ...(typeof skus === 'number' ? { skus } : {}),
    ...(typeof seed === 'number' ? { seed } : {}),
    ...(typeof locations === 'number' ? { locations } : {}),
    ...(str('mysql') !== undefined ? { mysqlUrl: str('mysql') } : {}),
    ...(str('prefix') !== undefined ? { databasePrefix: str('prefix') } : {}),
  };
  const problem = [skus, seed, locations].find((v) => typeof v === 'string') ?? checkDemoOptions(opts);
  if (problem !== undefined) throw new UsageError(problem);

  const started = performance.now();
  let result: DemoResult;
  try {
    result = await generateDemo({ ...opts, onProgress: (m) => console.error(m) });
  } catch (e) {
    console.error(`inventory-graph demo: ${(e as Error).message}`);
    return 1;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const width = Math.max(...Object.keys(result.sizes).map((k) => k.length));
  console.log(`Demo data for ${result.facts.skus} SKUs written in ${seconds}s:`);
  for (const [table, rows] of Object.entries(result.sizes)) console.log(`  ${table.padEnd(width)}  ${rows.toLocaleString('en-US')} rows`);
  console.log(`SKU map: ${result.skuMapPath}`);
  console.log(`Config:  ${result.configPath}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await demoCommand(process.argv.slice(2));
}
