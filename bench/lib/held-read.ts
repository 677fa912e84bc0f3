/**
 * The store's read of holds (`reservations.held`: what an availability request adds for them, one
 * statement per batch of SKUs) timed in the bench process, side by side (bench/lib/micro.ts:
 * contenders in turns, CPU and wall time per call), and what-ifs for it: the same read against a
 * covering index, against running totals per (sku, location), and as a prepared statement
 * returning raw rows instead of knex's objects. None of the what-ifs is the shipped code.
 */
import Database from 'better-sqlite3';
import type { Knex } from 'knex';
import { createConnection } from 'mysql2/promise';
import { mysqlConnection } from '../../src/db/knex.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { StoreKind } from './holds.js';
import { measure as micro, spread } from './micro.js';
import { rng } from './scenarios.js';

/** What reservation_lines held while the read was timed: active holds, or ended ones. */
export type TimedState = 'holds' | 'ended';

export interface HeldCost {
  store: StoreKind;
  state: TimedState;
  skus: number;
  /** Per call, one per round: CPU µs of this process, and wall µs (the round trip, the database server's work included). */
  noneUs: number[];
  holdsUs: number[];
  noneWall: number[];
  holdsWall: number[];
  /** Lines the index holds under the SKUs of one call (counting or not): what the read walks. */
  lines: number;
}

function openBenchStore(kind: StoreKind, connection: string): Promise<Store> {
  return openStore({ client: kind === 'sqlite' ? 'better-sqlite3' : 'mysql2', connection });
}

/** 64 batches of `n` SKUs drawn from the catalogue, and as many of codes that hold nothing (the same index, nothing under them). */
function batches(skus: readonly string[], width: number, n: number, seed: number): { held: string[][]; none: string[][] } {
  const next = rng(seed + n);
  const draws = (fresh: boolean) =>
    Array.from({ length: 64 }, () =>
      Array.from({ length: n }, () => {
        const i = 1 + Math.floor(next() * skus.length);
        return fresh ? `SKU-N${String(i).padStart(width, '0')}` : (skus[i - 1] as string);
      }),
    );
  return { held: draws(false), none: draws(true) };
}

async function linesUnder(db: Knex, table: string, held: readonly string[][]): Promise<number> {
  let lines = 0;
  for (const b of held) lines += Number(((await db(table).whereIn('sku', b).count({ n: '*' })) as Array<{ n: number | string }>)[0]?.n ?? 0);
  return lines / held.length;
}

/** `reservations.held` for 1 and 50 SKUs with holds, against as many codes with none. */
export async function timeHeldRead(
  kind: StoreKind,
  state: TimedState,
  connection: string,
  skus: readonly string[],
  width: number,
  seed: number,
  log: (m: string) => void,
): Promise<HeldCost[]> {
  const s = await openBenchStore(kind, connection);
  try {
    const out: HeldCost[] = [];
    for (const n of [1, 50]) {
      const { held, none } = batches(skus, width, n, seed);
      const now = Date.now();
      const lines = await linesUnder(s.db, 'reservation_lines', held);
      const contender = (name: string, list: string[][]) => ({
        name,
        run: async (ops: number) => {
          for (let k = 0; k < ops; k++) await s.reservations.held(list[k % list.length] as string[], now);
        },
      });
      const [a, b] = await micro([contender('none', none), contender('holds', held)], { rounds: 5, ops: n === 1 ? 2000 : 500, heapOps: 20, warmupOps: 100 });
      out.push({ store: kind, state, skus: n, noneUs: a?.us ?? [], holdsUs: b?.us ?? [], noneWall: a?.wall ?? [], holdsWall: b?.wall ?? [], lines });
      log(
        `${kind} held() of ${n} SKU(s), ${state === 'holds' ? 'active' : 'ended'} holds: none ${spread(a?.wall ?? [], 0)} µs wall, holds ${spread(b?.wall ?? [], 0)} µs wall (${lines.toFixed(1)} lines under them per call)`,
      );
    }
    return out;
  } finally {
    await s.close();
  }
}

export interface ReadVariant {
  store: StoreKind;
  variant: string;
  /** µs per call, one per round. */
  us: number[];
  wall: number[];
  /** Rows the statement returns per call. */
  rows: number;
}

const HELD_SQL = (table: string, n: number) =>
  `select sku, location, sum(quantity) as quantity from ${table} where sku in (${Array(n).fill('?').join(', ')}) and counts_until > ? group by sku, location`;

/**
 * With the holds now in reservation_lines: 50-SKU reads of them, side by side, as shipped and as
 * they could be. Copies the lines into `bench_lines_covering` (indexed on sku, location,
 * counts_until, quantity) and sums them into `bench_totals` (one row per (sku, location), primary
 * key (sku, location), with the earliest `counts_until`), both dropped afterwards.
 */
export async function timeReadVariants(
  kind: StoreKind,
  connection: string,
  skus: readonly string[],
  width: number,
  seed: number,
  log: (m: string) => void,
): Promise<ReadVariant[]> {
  const s = await openBenchStore(kind, connection);
  const db = s.db;
  const n = 50;
  const { held, none } = batches(skus, width, n, seed);
  const now = Date.now();
  const drop = async () => {
    await db.schema.dropTableIfExists('bench_lines_covering');
    await db.schema.dropTableIfExists('bench_totals');
  };
  let raw: { all(b: string[]): Promise<unknown[]>; close(): Promise<void> } | undefined;
  try {
    await drop();
    await db.schema.createTable('bench_lines_covering', (t) => {
      t.string('sku', 191).notNullable();
      t.string('location', 191).notNullable();
      t.integer('quantity').notNullable();
      t.bigInteger('counts_until').notNullable();
      t.index(['sku', 'location', 'counts_until', 'quantity']);
    });
    await db.raw(
      'insert into bench_lines_covering (sku, location, quantity, counts_until) select sku, location, quantity, counts_until from reservation_lines',
    );
    await db.schema.createTable('bench_totals', (t) => {
      t.string('sku', 191).notNullable();
      t.string('location', 191).notNullable();
      t.integer('held').notNullable();
      t.bigInteger('counts_until').notNullable();
      t.primary(['sku', 'location']);
    });
    await db.raw(
      'insert into bench_totals (sku, location, held, counts_until) select sku, location, sum(quantity), min(counts_until) from reservation_lines where counts_until > ? group by sku, location',
      [now],
    );
    await db.raw(kind === 'sqlite' ? 'analyze' : 'analyze table reservation_lines, bench_lines_covering, bench_totals');
    const sums = (rows: Array<{ sku: string; location: string; quantity?: number | string; held?: number | string }>) => {
      const out = new Map<string, Map<string, number>>();
      for (const r of rows) {
        let m = out.get(r.sku);
        if (m === undefined) out.set(r.sku, (m = new Map()));
        m.set(r.location, Number(r.quantity ?? r.held));
      }
      return out;
    };
    const viaKnex = (table: string) => async (b: string[]) =>
      sums(
        await db(table).whereIn('sku', b).andWhere('counts_until', '>', now).groupBy('sku', 'location').select('sku', 'location').sum({ quantity: 'quantity' }),
      );
    const totals = async (b: string[]) => sums(await db('bench_totals').whereIn('sku', b).andWhere('counts_until', '>', now).select('sku', 'location', 'held'));
    // a prepared statement, rows as arrays: no query building, no row objects
    if (kind === 'sqlite') {
      const file = new Database(connection, { readonly: true });
      const stmt = file.prepare(HELD_SQL('reservation_lines', n)).raw(true);
      raw = {
        all: async (b) => stmt.all(...b, now) as unknown[],
        close: async () => {
          file.close();
        },
      };
    } else {
      const conn = await createConnection({ ...(mysqlConnection(connection) as object), rowsAsArray: true });
      raw = {
        all: async (b) => (await conn.execute(HELD_SQL('reservation_lines', n), [...b, now]))[0] as unknown[],
        close: () => conn.end(),
      };
    }
    const prepared: { all(b: string[]): Promise<unknown[]> } = raw;
    const arrays = async (b: string[]) => {
      const out = new Map<string, Map<string, number>>();
      for (const [sku, location, q] of (await prepared.all(b)) as Array<[string, string, number | string]>) {
        let m = out.get(sku);
        if (m === undefined) out.set(sku, (m = new Map()));
        m.set(location, Number(q));
      }
      return out;
    };
    const variants: Array<{ name: string; read: (b: string[]) => Promise<unknown>; list: string[][] }> = [
      { name: 'no holds under the SKUs (as shipped)', read: (b) => s.reservations.held(b, now), list: none },
      { name: 'as shipped: reservations.held, knex, index (sku, location, counts_until)', read: (b) => s.reservations.held(b, now), list: held },
      { name: 'covering index (sku, location, counts_until, quantity), knex', read: viaKnex('bench_lines_covering'), list: held },
      { name: 'running totals, one row per (sku, location), knex', read: totals, list: held },
      { name: 'as shipped, but a prepared statement with rows as arrays', read: arrays, list: held },
    ];
    const rows: number[] = [];
    for (const v of variants) {
      let r = 0;
      for (const b of v.list) for (const m of ((await v.read(b)) as Map<string, Map<string, number>>).values()) r += m.size;
      rows.push(r / v.list.length);
    }
    const figures = await micro(
      variants.map((v) => ({
        name: v.name,
        run: async (ops: number) => {
          for (let k = 0; k < ops; k++) await v.read(v.list[k % v.list.length] as string[]);
        },
      })),
      { rounds: 5, ops: 300, heapOps: 10, warmupOps: 50 },
    );
    const out = figures.map((f, i) => ({ store: kind, variant: f.name, us: f.us, wall: f.wall, rows: rows[i] ?? 0 }));
    for (const v of out) log(`${kind} read of ${n} SKUs, ${v.variant}: ${spread(v.wall, 0)} µs wall, ${spread(v.us, 0)} µs CPU, ${v.rows.toFixed(0)} rows`);
    return out;
  } finally {
    await raw?.close();
    await drop();
    await s.close();
  }
}
