/**
 * The benchmark's data: the demo's four source systems at benchmark size, the SKU map loaded
 * into the store, and a gateway config that reads them with one admin API key.
 *
 * - `mariadb`: the demo's SQL systems as databases `${prefix}_erp`, `_wms`, `_shop` and the store
 *   `${prefix}_store` on the given server, its file systems (the 3PL's daily CSV files) and the
 *   config in `dir`. Generating 1,000,000 SKUs takes minutes, so a marker table in the store
 *   (`bench_dataset`) records what was generated, how long it took, the config and the
 *   databases; a later run asking for the same (skus, locations, seed), with `dir` still in
 *   place, reuses it. Drop it with `npm run bench -- --drop` (or `drop database` each
 *   `${prefix}_*` and remove `dir`).
 * - `sqlite`: the same as SQLite files in a directory (the smoke mode); nothing to keep.
 *
 * The SKU map is bulk-loaded into MariaDB (multi-row inserts, 4 connections, foreign keys
 * checked once by the data's construction rather than per row): the store's own `import`
 * (all or nothing, one transaction) is the right tool for a user's CSV, not for 1M rows.
 */
import { parse } from 'csv-parse';
import knexFactory, { type Knex } from 'knex';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { generateDemo } from '../../src/cli/demo-data.js';
import { readSkuMapCsv } from '../../src/cli/sku-import.js';
import { createKnex, mysqlConnection } from '../../src/db/knex.js';
import { openStore } from '../../src/store/index.js';

/** The bench's API key: loopback only, never a secret; its hash goes into the bench config. */
export const BENCH_API_KEY = 'ig_bench_loopback_only_key';

export interface DatasetOptions {
  backend: 'mariadb' | 'sqlite';
  skus: number;
  locations: number;
  seed?: number;
  /** mariadb: the server, e.g. mysql://root@127.0.0.1:3306/test. */
  mysqlUrl?: string;
  /** mariadb: database name prefix. */
  prefix?: string;
  /** Where the config (and for SQLite the data) is written. */
  dir: string;
  /** Regenerate even when a matching dataset exists. */
  fresh?: boolean;
  log?: (msg: string) => void;
}

export interface Dataset {
  configPath: string;
  skus: number;
  locations: number;
  /** Canonical SKU number i is `SKU-` + i zero-padded to this width (as the demo writes them). */
  width: number;
  backend: 'mariadb' | 'sqlite';
  reused: boolean;
  /** Seconds spent writing the source systems, and loading the SKU map (when generated). */
  generateSeconds: number;
  importSeconds: number;
  generatedAt: string;
  /** Source rows per table. */
  sizes: Record<string, number>;
  databases: string[];
}

export function skuName(i: number, width: number): string {
  return `SKU-${String(i).padStart(width, '0')}`;
}

export async function ensureDataset(o: DatasetOptions): Promise<Dataset> {
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 42;
  const width = Math.max(6, String(o.skus).length);
  mkdirSync(o.dir, { recursive: true });
  const configPath = join(o.dir, 'inventory-graph.yaml');

  if (o.backend === 'sqlite') {
    const t0 = performance.now();
    const r = await generateDemo({ dir: o.dir, skus: o.skus, seed, locations: o.locations });
    const generateSeconds = (performance.now() - t0) / 1000;
    writeFileSync(configPath, benchConfig(readFileSync(configPath, 'utf8'), { client: 'better-sqlite3', connection: './gateway.sqlite' }));
    const t1 = performance.now();
    const { loadConfig } = await import('../../src/config/index.js');
    const config = loadConfig(configPath);
    const store = await openStore(config.store);
    try {
      await store.skus.import(readSkuMapCsv(r.skuMapPath, Object.keys(config.sources)));
    } finally {
      await store.close();
    }
    return {
      configPath,
      skus: o.skus,
      locations: o.locations,
      width,
      backend: 'sqlite',
      reused: false,
      generateSeconds,
      importSeconds: (performance.now() - t1) / 1000,
      generatedAt: new Date().toISOString(),
      sizes: r.sizes,
      databases: [],
    };
  }

  const server = o.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test';
  const prefix = o.prefix ?? 'ig_bench';
  const storeDb = `${prefix}_store`;
  const storeUrl = databaseUrl(server, storeDb);

  if (o.fresh !== true) {
    const marker = await readMarker(server, storeDb);
    // the 3PL is a directory of CSV files next to the config: reuse only when they are still there
    const filesThere = existsSync(join(o.dir, '3pl')) && existsSync(join(o.dir, 'sku-map.csv'));
    if (marker !== undefined && filesThere && marker.skus === o.skus && marker.locations === o.locations && marker.seed === seed) {
      const databases = JSON.parse(marker.databases) as string[];
      await ensureChangeColumns(server, prefix, marker.generated_at, log);
      writeFileSync(configPath, benchConfig(marker.config, { client: 'mysql2', connection: storeUrl }));
      log(`reusing dataset ${prefix}_* in ${o.dir} (${o.skus} SKUs x ${o.locations} locations, generated ${marker.generated_at})`);
      return {
        configPath,
        skus: o.skus,
        locations: o.locations,
        width,
        backend: 'mariadb',
        reused: true,
        generateSeconds: marker.generate_seconds,
        importSeconds: marker.import_seconds,
        generatedAt: marker.generated_at,
        sizes: JSON.parse(marker.sizes) as Record<string, number>,
        databases,
      };
    }
  }

  log(`generating ${o.skus} SKUs x ${o.locations} locations into MariaDB databases ${prefix}_* (this takes a while at 1M)`);
  await dropDataset(server, prefix);
  const t0 = performance.now();
  const r = await generateDemo({ dir: o.dir, skus: o.skus, seed, locations: o.locations, mysqlUrl: server, databasePrefix: prefix, onProgress: log });
  const generateSeconds = (performance.now() - t0) / 1000;
  log(`source systems written in ${generateSeconds.toFixed(1)} s; loading the SKU map into ${storeDb}`);

  const t1 = performance.now();
  await recreateDatabase(server, storeDb);
  const store = await openStore({ client: 'mysql2', connection: storeUrl });
  await store.close();
  await bulkLoadSkuMap(storeUrl, r.skuMapPath, log);
  const importSeconds = (performance.now() - t1) / 1000;
  log(`SKU map loaded in ${importSeconds.toFixed(1)} s`);

  const config = readFileSync(configPath, 'utf8');
  writeFileSync(configPath, benchConfig(config, { client: 'mysql2', connection: storeUrl }));
  const generatedAt = new Date().toISOString();
  await ensureChangeColumns(server, prefix, generatedAt, log);
  const databases = await datasetDatabases(server, prefix);
  await writeMarker(storeUrl, {
    skus: o.skus,
    locations: o.locations,
    seed,
    config,
    generate_seconds: generateSeconds,
    import_seconds: importSeconds,
    generated_at: generatedAt,
    sizes: JSON.stringify(r.sizes),
    databases: JSON.stringify(databases),
  });
  return {
    configPath,
    skus: o.skus,
    locations: o.locations,
    width,
    backend: 'mariadb',
    reused: false,
    generateSeconds,
    importSeconds,
    generatedAt,
    sizes: r.sizes,
    databases,
  };
}

/**
 * Reads every index of every table of the dataset once, so the measurements start from a warm
 * buffer pool rather than paying for the first random reads. Returns the buffer pool's size and
 * the dataset's size in MiB: a pool smaller than the data means reads from disk (O_DIRECT), and
 * latency that grows with the catalogue. `SET GLOBAL innodb_buffer_pool_size = 4294967296`
 * (online in MariaDB 10.11, until the server restarts) gives the 1M dataset room.
 */
export async function warmDataset(server: string, databases: readonly string[], log: (m: string) => void): Promise<{ poolMiB: number; dataMiB: number }> {
  const admin = adminKnex(server);
  try {
    const [sizes] = (await admin.raw(
      'select round(sum(data_length + index_length) / 1048576) as mb, @@innodb_buffer_pool_size / 1048576 as pool from information_schema.tables where table_schema in (?)',
      [[...databases]],
    )) as [{ mb: number | string; pool: number | string }[]];
    const dataMiB = Number(sizes[0]?.mb ?? 0);
    const poolMiB = Number(sizes[0]?.pool ?? 0);
    if (poolMiB < dataMiB * 1.2) log(`warning: the InnoDB buffer pool (${poolMiB} MiB) is smaller than the dataset (${dataMiB} MiB): reads will go to disk`);
    const [indexes] = (await admin.raw(
      'select distinct table_schema as db, table_name as t, index_name as i from information_schema.statistics where table_schema in (?) order by 1, 2, 3',
      [[...databases]],
    )) as [{ db: string; t: string; i: string }[]];
    const t0 = performance.now();
    for (const x of indexes) await admin.raw('select count(*) from ??.?? force index (??)', [x.db, x.t, x.i]);
    log(`buffer pool warmed: ${indexes.length} indexes read in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { poolMiB, dataMiB };
  } finally {
    await admin.destroy();
  }
}

/**
 * The change column a poll feed reads (`sync.feeds: [{ kind: poll, changedSince: updated_at }]`)
 * on each SQL stock table of a MariaDB dataset, indexed. The WMS's `bin_stock.updated_at` is
 * the demo's own (its asOf); the ERP's `inv_balance` has none in the demo, so the bench adds
 * `updated_at` (DATETIME(3), every row at the dataset's generation time), not mapped as the
 * ERP's asOf: the answers stay as they were (ERP figures are as of the read).
 */
export const CHANGE_COLUMNS: readonly { system: 'erp' | 'wms'; table: string; column: string }[] = [
  { system: 'erp', table: 'inv_balance', column: 'updated_at' },
  { system: 'wms', table: 'bin_stock', column: 'updated_at' },
];

/** Adds what CHANGE_COLUMNS names where it is missing (a dataset generated before them): instant for the column, minutes at 1M for an index. */
async function ensureChangeColumns(server: string, prefix: string, generatedAt: string, log: (m: string) => void): Promise<void> {
  const admin = adminKnex(server);
  try {
    for (const c of CHANGE_COLUMNS) {
      const db = `${prefix}_${c.system}`;
      const [cols] = (await admin.raw('select count(*) as n from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?', [
        db,
        c.table,
        c.column,
      ])) as [{ n: number }[]];
      if (Number(cols[0]?.n ?? 0) === 0) {
        const at = generatedAt.replace('T', ' ').replace('Z', '').slice(0, 23);
        log(`adding ${db}.${c.table}.${c.column} (change column for poll feeds)`);
        await admin.raw(`alter table ??.?? add column ?? datetime(3) not null default '${at}'`, [db, c.table, c.column]);
      }
      const [idx] = (await admin.raw(
        'select count(*) as n from information_schema.statistics where table_schema = ? and table_name = ? and column_name = ? and seq_in_index = 1',
        [db, c.table, c.column],
      )) as [{ n: number }[]];
      if (Number(idx[0]?.n ?? 0) === 0) {
        const t0 = performance.now();
        log(`indexing ${db}.${c.table}.${c.column}`);
        await admin.raw('alter table ??.?? add index ?? (??)', [db, c.table, `${c.table}_${c.column}`, c.column]);
        log(`indexed ${db}.${c.table}.${c.column} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
  } finally {
    await admin.destroy();
  }
}

/** The databases of a MariaDB dataset: `${prefix}_` + one of the demo's systems or `store`. */
async function datasetDatabases(server: string, prefix: string, only: readonly string[] = ['erp', 'wms', 'shop', 'tpl', 'store']): Promise<string[]> {
  const admin = adminKnex(server);
  try {
    const [rows] = (await admin.raw('select schema_name as n from information_schema.schemata where schema_name in (?) order by 1', [
      only.map((s) => `${prefix}_${s}`),
    ])) as [{ n: string }[]];
    return rows.map((r) => r.n);
  } finally {
    await admin.destroy();
  }
}

/** Drops a MariaDB dataset's databases (all of them, or the systems named); returns their names. */
export async function dropDataset(server: string, prefix: string, only?: readonly string[]): Promise<string[]> {
  const names = await datasetDatabases(server, prefix, only);
  const admin = adminKnex(server);
  try {
    for (const n of names) await admin.raw('drop database if exists ??', [n]);
  } finally {
    await admin.destroy();
  }
  return names;
}

/**
 * The demo's config with the bench's store, one admin key, no per-key rate budget (the load
 * would otherwise spend it in seconds), and per source a deadline and a wait queue long enough
 * that 50 connections of 500 SKUs show up as latency, not as reads shed by the bulkhead or cut
 * by the deadline (the shipped 2 s / 64 do shed them: see the first runs in RESULTS.md); the
 * floor's reads wait for a pooled connection up to the same deadline. Everything else as the
 * demo writes it.
 */
function benchConfig(yaml: string, store: { client: string; connection: string }): string {
  const doc = parseDocument(yaml);
  const sources = doc.get('sources') as { items?: { key: unknown }[] } | undefined;
  for (const item of sources?.items ?? []) {
    const name = String((item.key as { value?: unknown }).value ?? item.key);
    doc.setIn(['sources', name, 'timeoutMs'], 60_000);
    doc.setIn(['sources', name, 'maxQueue'], 100_000);
  }
  doc.set('store', store);
  doc.set('server', { explorer: false });
  doc.set('auth', { keys: [{ name: 'bench', role: 'admin', hash: benchKeyHash() }] });
  doc.set('limits', { admin: { pointsPerMinute: 0 } });
  // reads are measured here; events have a bench of their own (bench/events.ts sets its sink)
  doc.delete('events');
  return doc.toString();
}

function benchKeyHash(): string {
  return `sha256:${createHash('sha256').update(BENCH_API_KEY, 'utf8').digest('hex')}`;
}

interface Marker {
  skus: number;
  locations: number;
  seed: number;
  config: string;
  generate_seconds: number;
  import_seconds: number;
  generated_at: string;
  sizes: string;
  /** JSON list of the dataset's databases. */
  databases: string;
}

async function readMarker(server: string, storeDb: string): Promise<Marker | undefined> {
  const admin = adminKnex(server);
  try {
    const [t] = (await admin.raw('select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?', [
      storeDb,
      'bench_dataset',
    ])) as [{ n: number }[]];
    if (Number(t[0]?.n ?? 0) === 0) return undefined;
    const [m] = (await admin.raw(`select * from \`${storeDb}\`.bench_dataset order by id desc limit 1`)) as [Record<string, unknown>[]];
    const row = m[0];
    if (row === undefined || typeof row.databases !== 'string') return undefined;
    const databases = JSON.parse(String(row.databases)) as string[];
    const [there] = (await admin.raw('select count(*) as n from information_schema.schemata where schema_name in (?)', [databases])) as [{ n: number }[]];
    if (Number(there[0]?.n ?? 0) !== databases.length) return undefined;
    return {
      skus: Number(row.skus),
      locations: Number(row.locations),
      seed: Number(row.seed),
      config: String(row.config),
      generate_seconds: Number(row.generate_seconds),
      import_seconds: Number(row.import_seconds),
      generated_at: String(row.generated_at),
      sizes: String(row.sizes),
      databases: String(row.databases),
    };
  } finally {
    await admin.destroy();
  }
}

async function writeMarker(storeUrl: string, m: Marker): Promise<void> {
  const db = createKnex({ client: 'mysql2', connection: storeUrl, pool: 1 });
  try {
    await db.schema.createTable('bench_dataset', (t) => {
      t.increments('id').primary();
      t.integer('skus').notNullable();
      t.integer('locations').notNullable();
      t.integer('seed').notNullable();
      t.text('config', 'mediumtext').notNullable();
      t.double('generate_seconds').notNullable();
      t.double('import_seconds').notNullable();
      t.string('generated_at', 32).notNullable();
      t.text('sizes').notNullable();
      t.text('databases').notNullable();
    });
    await db('bench_dataset').insert(m);
  } finally {
    await db.destroy();
  }
}

function adminKnex(server: string): Knex {
  const { database: _none, ...conn } = mysqlConnection(server);
  return knexFactory({ client: 'mysql2', connection: conn, pool: { min: 0, max: 1 } });
}

async function recreateDatabase(server: string, name: string): Promise<void> {
  const admin = adminKnex(server);
  try {
    await admin.raw('drop database if exists ??', [name]);
    await admin.raw('create database ?? character set utf8mb4', [name]);
  } finally {
    await admin.destroy();
  }
}

function databaseUrl(server: string, database: string): string {
  const u = new URL(server);
  u.pathname = `/${database}`;
  return u.toString();
}

const ROWS_PER_INSERT = 2000;
const WRITERS = 4;

/**
 * Streams the demo's wide sku-map.csv (sku,name,erp,wms,shop,tpl) into skus and sku_aliases:
 * multi-row inserts on 4 connections with foreign-key and unique checks off for the session
 * (the demo's codes are unique by construction; the store's import checks them for real data).
 */
async function bulkLoadSkuMap(storeUrl: string, csvPath: string, log: (m: string) => void): Promise<void> {
  const writers = Array.from({ length: WRITERS }, () =>
    knexFactory({
      client: 'mysql2',
      connection: mysqlConnection(storeUrl),
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { query(sql: string, cb: (e: Error | null) => void): void }, done: (e: Error | null, c: unknown) => void) =>
          conn.query('set session foreign_key_checks = 0, unique_checks = 0', (e) => done(e, conn)),
      },
    }),
  );
  const pending: Promise<unknown>[] = [];
  let next = 0;
  const send = async (sql: string, values: unknown[]) => {
    const w = writers[next++ % WRITERS] as Knex;
    const p = w.raw(sql, values as Knex.RawBinding[]);
    pending.push(p.then(() => undefined));
    if (pending.length >= WRITERS * 2) await Promise.all(pending.splice(0));
  };
  const insert = (table: string, cols: string[], rows: unknown[][]) =>
    send(`insert into ${table} (${cols.join(', ')}) values ${rows.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ')}`, rows.flat());

  let skus: unknown[][] = [];
  let aliases: unknown[][] = [];
  let header: string[] | undefined;
  let count = 0;
  const parser = createReadStream(csvPath).pipe(parse({ bom: true, skip_empty_lines: true, trim: true }));
  try {
    for await (const row of parser as AsyncIterable<string[]>) {
      if (header === undefined) {
        header = row;
        continue;
      }
      const sku = row[0] as string;
      skus.push([sku, row[1] === '' ? null : row[1]]);
      for (let k = 2; k < header.length; k++) {
        const code = row[k];
        if (code !== undefined && code !== '') aliases.push([header[k], code, sku]);
      }
      if (skus.length >= ROWS_PER_INSERT) {
        await insert('skus', ['sku', 'name'], skus);
        skus = [];
      }
      if (aliases.length >= ROWS_PER_INSERT) {
        await insert('sku_aliases', ['`system`', 'code', 'sku'], aliases);
        aliases = [];
      }
      if (++count % 200_000 === 0) log(`SKU map: ${count} SKUs loaded`);
    }
    if (skus.length > 0) await insert('skus', ['sku', 'name'], skus);
    if (aliases.length > 0) await insert('sku_aliases', ['`system`', 'code', 'sku'], aliases);
    await Promise.all(pending.splice(0));
  } finally {
    await Promise.all(writers.map((w) => w.destroy()));
  }
}
