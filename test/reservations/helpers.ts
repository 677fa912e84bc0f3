/**
 * A demo for the reservation races: the generated source systems stay SQLite files (shared by
 * every gateway that reads them), the gateway's store is a fresh MariaDB database (so several
 * gateways, in this process or in child processes, share one store), and chosen SKUs are set
 * to a known number of units, all at DC-EAST (the WMS's EAST bins; every other location 0).
 * MariaDB at 127.0.0.1:3306 is required: when it is down the helper throws, it never skips.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { parseDocument } from 'yaml';
import { generateDemo, type DemoFacts } from '../../src/cli/demo-data.js';
import { prepareDemo } from '../../src/cli/start.js';
import { loadConfig } from '../../src/config/index.js';
import { createKnex } from '../../src/db/knex.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import type { Role } from '../../src/server/auth.js';
import { DEMO_NOW, liveOnly, withoutEvents } from '../helpers/demo-app.js';
import type { Shortfall as DomainShortfall } from '../../src/domain/reservations.js';

const MARIADB_SERVER = 'mysql://root@127.0.0.1:3306';

export const RESERVE = `mutation Reserve($input: ReserveInput!) {
  reserve(input: $input) {
    reservation { id status lines { line sku quantity location { id } } expiresAt counting }
    shortfalls { line sku locationId requested reserved available code detail }
    replayed
  }
}`;

export const AVAILABILITY = `query Availability($skus: [ID!]!) {
  availability(skus: $skus) { sku available reserved byLocation { location { id } onHand available reserved } }
}`;

export interface ReserveLine {
  sku: string;
  quantity: number;
  locationId?: string;
}

export interface ReserveInput {
  idempotencyKey: string;
  lines: ReserveLine[];
  allowPartial?: boolean;
}

export type Shortfall = Omit<DomainShortfall, 'code'> & { code: string };

export interface ReserveAnswer {
  reservation: {
    id: string;
    status: string;
    lines: Array<{ line: number; sku: string; quantity: number; location: { id: string } }>;
    counting: boolean;
  } | null;
  shortfalls: Shortfall[];
  replayed: boolean;
}

export interface GqlAnswer<T> {
  status: number;
  body: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

export interface Availability {
  sku: string;
  available: number;
  reserved: number;
  byLocation: Array<{ location: { id: string }; onHand: number; available: number; reserved: number }>;
}

/** POSTs one GraphQL operation to `url` with API key `key`. */
export async function gql<T>(url: string, key: string, query: string, variables?: Record<string, unknown>): Promise<GqlAnswer<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as GqlAnswer<T>['body'] };
  } catch {
    throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
}

export const reserve = (url: string, key: string, input: ReserveInput) => gql<{ reserve: ReserveAnswer | null }>(url, key, RESERVE, { input });

export async function availability(url: string, key: string, sku: string): Promise<Availability> {
  const r = await gql<{ availability: Availability[] }>(url, key, AVAILABILITY, { skus: [sku] });
  if (r.body.errors !== undefined) throw new Error(`availability answered errors: ${JSON.stringify(r.body.errors)}`);
  return r.body.data?.availability[0] as Availability;
}

/** Units held in a reservation answer. */
export const unitsOf = (a: ReserveAnswer | null | undefined) => (a?.reservation?.lines ?? []).reduce((n, l) => n + l.quantity, 0);

export interface ReserveDemo {
  dir: string;
  /** The gateway config (every source read live, the store on MariaDB). */
  file: string;
  keys: Record<Role, string>;
  facts: DemoFacts;
  /** The store's database name and URL. */
  database: string;
  storeUrl: string;
  /** The test's own connection to the store (one connection). */
  store: Knex;
  /** SKUs that `setStock` can set: mapped in the WMS and the ERP, not at the 3PL, not negative at EAST. */
  spareSkus: string[];
  /** Sets `sku` to `units` at DC-EAST and 0 everywhere else (the WMS's bins and the ERP's balances). */
  setStock(sku: string, units: number): void;
  /** The units the store holds now for `sku` (lines that count), by its own rows. */
  heldInStore(sku: string): Promise<number>;
  cleanup(): Promise<void>;
}

/** Generates the demo in a temp dir with its store in a new MariaDB database `ig_test_res_<tag>_<random>`. */
export async function createReserveDemo(o: { tag: string; skus?: number; yaml?: (doc: ReturnType<typeof parseDocument>) => void }): Promise<ReserveDemo> {
  const database = `ig_test_res_${o.tag}_${randomBytes(4).toString('hex')}`;
  const server = createKnex({ client: 'mysql2', connection: `${MARIADB_SERVER}/`, pool: 1, acquireTimeoutMs: 5_000 });
  try {
    await server.raw('create database ?? character set utf8mb4', [database]);
  } catch (e) {
    await server.destroy();
    throw new Error(`MariaDB is required for these tests and is not usable at 127.0.0.1:3306 (user root, no password): ${(e as Error).message}`, { cause: e });
  }
  const storeUrl = `${MARIADB_SERVER}/${database}`;
  const dir = mkdtempSync(join(tmpdir(), 'ig-res-'));
  let store: Knex | undefined;
  const cleanup = async () => {
    try {
      await store?.destroy();
      await server.raw('drop database if exists ??', [database]);
    } finally {
      await server.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const { facts } = await generateDemo({ dir, skus: o.skus ?? 60, now: DEMO_NOW });
    const file = join(dir, 'inventory-graph.yaml');
    const doc = parseDocument(withoutEvents(liveOnly(readFileSync(file, 'utf8'))));
    doc.set('store', { client: 'mysql2', connection: storeUrl });
    // a guard, not a need seen so far: 100 checkouts at once on one instance each read every
    // source, and past 64 reads waiting for a SQLite source's one slot a read is load shed (its
    // locations' units are then not promised): these suites are about the store, not the bulkhead
    for (const s of ['erp', 'wms', 'shop', 'tpl']) doc.setIn(['sources', s, 'maxQueue'], 10_000);
    o.yaml?.(doc);
    writeFileSync(file, doc.toString());
    // imports the SKU map into the store (and runs its migrations), writes one key per role
    const { keys } = await prepareDemo(dir, { generate: false });
    store = createKnex({ client: 'mysql2', connection: storeUrl, pool: 1 });

    const map = readFileSync(join(dir, 'sku-map.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    // columns: sku,name,erp,wms,shop,tpl (names have no commas in the demo)
    const codes = new Map(map.map((c) => [c[0] as string, { erp: c[2] ?? '', wms: c[3] ?? '', tpl: c[5] ?? '' }]));
    const bad = new Set([...facts.negativeWms, ...facts.unmapped]);
    const spareSkus = [...codes].filter(([sku, c]) => c.erp !== '' && c.wms !== '' && c.tpl === '' && !bad.has(sku)).map(([sku]) => sku);

    const setStock = (sku: string, units: number) => {
      const c = codes.get(sku);
      if (c === undefined || !spareSkus.includes(sku)) throw new Error(`setStock: ${sku} is not a spare SKU`);
      const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const wms = new Database(join(dir, 'wms.sqlite'));
      try {
        wms.prepare('update bin_stock set qty = 0, picked_qty = 0, updated_at = ? where item_code = ?').run(at, c.wms);
        const east = wms.prepare("select rowid as id from bin_stock where item_code = ? and wh = 'EAST' order by rowid limit 1").get(c.wms) as
          { id: number } | undefined;
        if (east === undefined) wms.prepare("insert into bin_stock values ('E99-99-Z', 'EAST', ?, ?, 0, ?)").run(c.wms, units, at);
        else wms.prepare('update bin_stock set qty = ? where rowid = ?').run(units, east.id);
      } finally {
        wms.close();
      }
      const erp = new Database(join(dir, 'erp.sqlite'));
      try {
        erp.prepare('update inv_balance set qty = 0 where item_no = ?').run(c.erp);
      } finally {
        erp.close();
      }
    };

    const db = store;
    return {
      dir,
      file,
      keys,
      facts,
      database,
      storeUrl,
      store: db,
      spareSkus,
      setStock,
      async heldInStore(sku) {
        const [row] = (await db('reservation_lines').where({ sku }).andWhere('counts_until', '>', Date.now()).sum({ q: 'quantity' })) as Array<{
          q: string | number | null;
        }>;
        return Number(row?.q ?? 0);
      },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export interface InProcessGateway {
  app: App;
  url: string;
  close(): Promise<void>;
}

/** A gateway on `file` in this process, on 127.0.0.1 and an ephemeral port. */
export async function startGateway(file: string): Promise<InProcessGateway> {
  const app = await createApp(loadConfig(file), { logger: createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'silent') });
  const url = await app.listen(0, '127.0.0.1');
  return { app, url, close: () => app.close({ graceMs: 2_000 }) };
}

/** A small deterministic random stream (mulberry32), so a failing run can be repeated. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The MariaDB sessions on `database` (other than `exceptId`), and the transactions they have open. */
export async function sessionsOn(store: Knex, database: string): Promise<{ sessions: Array<{ id: number; command: string; state: string }>; trx: number }> {
  const [[me]] = (await store.raw('select connection_id() as id')) as [[{ id: number | string }]];
  const sessions = (
    (await store.raw('select id, command, state from information_schema.processlist where db = ? and id <> ?', [database, me.id])) as [
      Array<{ id: number | string; command: string; state: string | null }>,
    ]
  )[0].map((s) => ({ id: Number(s.id), command: s.command, state: s.state ?? '' }));
  const [[t]] = (await store.raw(
    'select count(*) as n from information_schema.innodb_trx t join information_schema.processlist p on p.id = t.trx_mysql_thread_id where p.db = ?',
    [database],
  )) as [[{ n: number | string }]];
  return { sessions, trx: Number(t.n) };
}
