/**
 * Holds written straight into the store's tables (migration 0006_reservations), for measuring
 * availability with many active holds without making them through the API (100,000 reserves
 * would take minutes): one reservation per hold, one line each, ACTIVE until far in the future,
 * spread evenly over the SKUs and locations given. Also the store's other bench needs: emptying
 * the reservation tables, the units held at one (sku, location), and the MariaDB server's
 * counters and process (statements, fsyncs, row-lock waits and CPU per request).
 */
import knexFactory, { type Knex } from 'knex';
import { readdirSync, readFileSync } from 'node:fs';
import { createKnex, mysqlConnection } from '../../src/db/knex.js';

export type StoreKind = 'sqlite' | 'mariadb';

/** The owner the inserted holds carry (an API key's name; no key of the config has it). */
export const SEEDED_OWNER = 'bench-seeded';

/** A knex on the store for the bench's own writes (one connection: MariaDB's session settings stay put). */
export function storeKnex(kind: StoreKind, connection: string): Knex {
  if (kind === 'sqlite') return createKnex({ client: 'better-sqlite3', connection, busyTimeoutMs: 30_000 });
  return createKnex({ client: 'mysql2', connection, pool: 1 });
}

/** Empties reservations, their lines and keys (lock rows stay, as they do in the product). */
export async function clearHolds(db: Knex, kind: StoreKind): Promise<void> {
  if (kind === 'mariadb') {
    // TRUNCATE leaves no purge work behind (a DELETE of 100k rows would, and the next cell would pay for it)
    await db.raw('set foreign_key_checks = 0');
    for (const t of ['reservation_lines', 'reservations', 'reservation_keys']) await db.raw('truncate table ??', [t]);
    await db.raw('set foreign_key_checks = 1');
    return;
  }
  await db.transaction(async (trx) => {
    for (const t of ['reservation_lines', 'reservations', 'reservation_keys']) await trx(t).delete();
  });
}

export interface SeedOptions {
  count: number;
  skus: readonly string[];
  locations: readonly string[];
  /** Epoch ms the holds are made at; they count for `ttlMs` after it. */
  now: number;
  ttlMs: number;
  /** Written as the sweeper leaves holds that ended (EXPIRED, `counts_until` 0): in the table, counting nothing. */
  ended?: boolean;
}

/**
 * `count` ACTIVE holds of 1 unit (or ended ones, `ended`): hold i on SKU i mod |skus| at location ⌊i / |skus|⌋ mod
 * |locations|, so each (sku, location) pair gets count / (|skus|·|locations|) of them. Multi-row
 * inserts in one transaction. Returns the seconds taken.
 */
export async function seedHolds(db: Knex, o: SeedOptions): Promise<number> {
  const t0 = performance.now();
  const rows = 500;
  await db.transaction(async (trx) => {
    for (let start = 0; start < o.count; start += rows) {
      const n = Math.min(rows, o.count - start);
      const reservations: Record<string, unknown>[] = [];
      const lines: Record<string, unknown>[] = [];
      for (let k = 0; k < n; k++) {
        const i = start + k;
        const id = `res_bench_${String(i).padStart(9, '0')}`;
        reservations.push({
          id,
          owner: SEEDED_OWNER,
          status: o.ended === true ? 'EXPIRED' : 'ACTIVE',
          channel: null,
          reference: null,
          created_at: o.now,
          expires_at: o.now + o.ttlMs,
          ended_at: o.ended === true ? o.now : null,
        });
        lines.push({
          reservation_id: id,
          line_no: 0,
          request_line: 0,
          sku: o.skus[i % o.skus.length],
          location: o.locations[Math.floor(i / o.skus.length) % o.locations.length],
          quantity: 1,
          counts_until: o.ended === true ? 0 : o.now + o.ttlMs,
        });
      }
      await trx('reservations').insert(reservations);
      await trx('reservation_lines').insert(lines);
    }
  });
  return (performance.now() - t0) / 1000;
}

/** Units counting now at (sku, location), and the reservations holding them. */
export async function heldAt(db: Knex, sku: string, location: string, now: number): Promise<{ units: number; reservations: number }> {
  const [r] = (await db('reservation_lines')
    .where({ sku, location })
    .andWhere('counts_until', '>', now)
    .sum({ units: 'quantity' })
    .countDistinct({ n: 'reservation_id' })) as Array<{ units: number | string | null; n: number | string }>;
  return { units: Number(r?.units ?? 0), reservations: Number(r?.n ?? 0) };
}

/** The plan of the store's holds read (`reservations.held`: the same statement) for these SKUs, in one line. */
export async function explainHeld(db: Knex, kind: StoreKind, skus: readonly string[]): Promise<string> {
  const q = db('reservation_lines')
    .whereIn('sku', skus as string[])
    .andWhere('counts_until', '>', Date.now())
    .groupBy('sku', 'location')
    .select('sku', 'location')
    .sum({ quantity: 'quantity' })
    .toSQL()
    .toNative();
  if (kind === 'sqlite') {
    const rows = (await db.raw(`explain query plan ${q.sql}`, q.bindings as Knex.RawBinding[])) as Array<{ detail: string }>;
    return rows.map((r) => r.detail).join('; ');
  }
  const [rows] = (await db.raw(`explain ${q.sql}`, q.bindings as Knex.RawBinding[])) as [Array<Record<string, unknown>>];
  return rows.map((r) => `${String(r.type)} on ${String(r.key)} (${String(r.rows)} rows; ${String(r.Extra)})`).join('; ');
}

/** Counts held per table (a line of the results: what the store held during a part). */
export async function tableCounts(db: Knex): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['reservations', 'reservation_lines', 'reservation_keys', 'reservation_locks']) {
    const [r] = (await db(t).count({ n: '*' })) as Array<{ n: number | string }>;
    out[t] = Number(r?.n ?? 0);
  }
  return out;
}

function serverKnex(url: string): Knex {
  const { database: _none, ...conn } = mysqlConnection(url);
  return knexFactory({ client: 'mysql2', connection: conn, pool: { min: 0, max: 1 } });
}

/** Creates (or empties) database `name` on the server of `url`; returns the URL of that database. */
export async function recreateDatabase(url: string, name: string): Promise<string> {
  const k = serverKnex(url);
  try {
    await k.raw('drop database if exists ??', [name]);
    await k.raw('create database ?? character set utf8mb4', [name]);
  } finally {
    await k.destroy();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabase(url: string, name: string): Promise<void> {
  const k = serverKnex(url);
  try {
    await k.raw('drop database if exists ??', [name]);
  } finally {
    await k.destroy();
  }
}

/** The MariaDB server's global counters the bench reads around a cell (the server's, not one database's). */
export const SERVER_COUNTERS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_delete',
  'Com_update',
  'Com_commit',
  'Com_begin',
  'Innodb_log_writes',
  'Innodb_data_fsyncs',
  'Innodb_row_lock_waits',
  'Innodb_row_lock_time',
  'Handler_read_next',
  'Handler_read_key',
  'Threads_connected',
] as const;
export type ServerCounters = Record<(typeof SERVER_COUNTERS)[number], number>;

export async function serverCounters(db: Knex): Promise<ServerCounters> {
  const [rows] = (await db.raw(`show global status where Variable_name in (${SERVER_COUNTERS.map(() => '?').join(', ')})`, [...SERVER_COUNTERS])) as [
    Array<{ Variable_name: string; Value: string }>,
  ];
  const out = Object.fromEntries(SERVER_COUNTERS.map((c) => [c, 0])) as ServerCounters;
  for (const r of rows) out[r.Variable_name as keyof ServerCounters] = Number(r.Value);
  return out;
}

/** after − before for every counter (Threads_connected: the value after). */
export function counterDelta(before: ServerCounters, after: ServerCounters): ServerCounters {
  const out = { ...after };
  for (const c of SERVER_COUNTERS) if (c !== 'Threads_connected') out[c] = after[c] - before[c];
  return out;
}

/** The MariaDB (or MySQL) server's pid on this machine, when it runs here: its CPU time is read from /proc. */
export function databaseServerPid(): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') return Number(d);
    } catch {
      // gone
    }
  }
  return null;
}
