/**
 * One place that turns a `{ client, connection }` pair from the config into a knex instance,
 * for sources and for the gateway's own store alike. MySQL connections read DATETIME as UTC
 * strings and DECIMAL/BIGINT as strings, so no figure passes through a float or a local
 * time zone by accident; PostgreSQL connections (sources only: Odoo) likewise read NUMERIC and
 * INT8 as strings and `timestamp without time zone` and `date` as UTC strings.
 */
import type { Database, Statement } from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { createRequire } from 'node:module';
import { Lru } from '../lru.js';

export type DbClient = 'better-sqlite3' | 'mysql2' | 'pg';

export interface DbOptions {
  client: DbClient;
  /** A SQLite file path, a mysql:// URL, or a postgres:// URL. */
  connection: string;
  /** Open a SQLite file read-only (sources are never written). Defaults to false. */
  readonly?: boolean;
  /** Most connections at once. Defaults to 4 for MySQL and PostgreSQL; SQLite always uses 1. */
  pool?: number;
  /** How long a query may wait for a free connection, in ms. Defaults to 10000. */
  acquireTimeoutMs?: number;
  /** How long opening a MySQL or PostgreSQL connection may take (mysql2 `connectTimeout`, pg `connectionTimeoutMillis`), in ms. Defaults to 5000. */
  connectTimeoutMs?: number;
  /** SQLite: prepared statements kept per connection (see `keepPreparedStatements`). Defaults to 200. */
  statementCache?: number;
  /**
   * SQLite: how long a statement waits for a lock another connection holds, in ms. better-sqlite3
   * waits by spinning on this thread, so nothing else runs meanwhile (no request, no timer).
   * 0 fails at once with SQLITE_BUSY (see `isSqliteBusy`). Defaults to 5000, better-sqlite3's own.
   */
  busyTimeoutMs?: number;
}

// knex prints pool and driver warnings with console.warn; the callers log every failure
// themselves (with the source's name), so knex's own copies would only be noise on stderr
const quiet = { warn() {}, error() {}, deprecate() {}, debug() {} };

export function createKnex(o: DbOptions): Knex {
  if (o.client === 'better-sqlite3') {
    return knexFactory({
      client: 'better-sqlite3',
      connection: { filename: o.connection, options: { readonly: o.readonly ?? false } },
      useNullAsDefault: true,
      log: quiet,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: Database, done: (e: Error | null, conn: Database) => void) {
          keepPreparedStatements(conn, o.statementCache ?? 200);
          conn.pragma(busyTimeout(o.busyTimeoutMs ?? 5_000));
          done(null, conn);
        },
      },
      acquireConnectionTimeout: o.acquireTimeoutMs ?? 10_000,
    });
  }
  if (o.client === 'pg') {
    return knexFactory({
      client: 'pg',
      connection: pgConnection(o.connection, o.connectTimeoutMs, o.readonly ?? false),
      log: quiet,
      pool: { min: 0, max: o.pool ?? 4 },
      acquireConnectionTimeout: o.acquireTimeoutMs ?? 10_000,
    });
  }
  const db = knexFactory({
    client: 'mysql2',
    connection: mysqlConnection(o.connection, o.connectTimeoutMs),
    log: quiet,
    pool: { min: 0, max: o.pool ?? 4 },
    acquireConnectionTimeout: o.acquireTimeoutMs ?? 10_000,
  });
  closeEvictedSockets(db);
  return db;
}

/** A pooled mysql2 connection as knex keeps it: knex marks one it evicts with `__knex__disposed`. */
interface PooledConnection {
  __knex__disposed?: unknown;
  destroy(): void;
  stream: { destroy(): void };
}

/**
 * knex evicts a connection whose statement timed out and could not be killed (on a black-holed
 * network the KILL cannot reach the server either): it marks it disposed and hands it back, and
 * the pool closes it later with mysql2's `end()`, a COM_QUIT that mysql2 queues behind the
 * statement still waiting for its answer. If the network lost that statement, the answer never
 * comes: the socket stayed open, and the server kept the session (for `wait_timeout`, 8 h by
 * default) while the pool had forgotten it. So the socket of an evicted connection is closed as
 * soon as it is handed back; the pool's `end()` then finds the connection closed and returns.
 */
function closeEvictedSockets(db: Knex): void {
  const pool = db.client.pool as { on(event: 'release', listener: (c: PooledConnection) => void): void };
  pool.on('release', (c) => {
    if (!c.__knex__disposed) return;
    // mysql2 takes no more commands and reports no "connection lost" when the socket closes
    c.destroy();
    // closes the socket now: `destroy` alone only half-closes it, until the server answers the FIN
    c.stream.destroy();
  });
}

/**
 * knex prepares every SQLite statement anew, and compiling the SQL costs about as much as running
 * it for a small read (a CPU profile of the item page: ~50 µs to prepare a statement, ~58 µs to
 * run it). A connection keeps its `max` most recently used statements by their text instead:
 * the same text (a source's statement for the same number of codes, the store's lookups)
 * reuses the compiled one. Safe because better-sqlite3 runs one statement at a
 * time to completion (knex only calls `all` and `run`) and re-prepares a statement by itself
 * when the schema changes under it.
 */
export function keepPreparedStatements(conn: Database, max: number): void {
  const prepare = conn.prepare.bind(conn);
  const kept = new Lru<string, Statement>(max);
  conn.prepare = ((sql: string) => {
    let s = kept.get(sql);
    if (s === undefined) kept.set(sql, (s = prepare(sql)));
    return s;
  }) as Database['prepare'];
}

/** The pragma that sets a SQLite connection's busy timeout (whole ms, 0 or more). */
export const busyTimeout = (ms: number) => `busy_timeout = ${Math.max(0, Math.trunc(ms))}`;

/** Whether `e` is SQLite refusing a statement because another connection holds the lock it needs. */
export function isSqliteBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** mysql://user:pass@host:port/db?x=y → mysql2 options with our safe defaults. */
export function mysqlConnection(url: string, connectTimeoutMs = 5_000): Knex.MySql2ConnectionConfig {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port === '' ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    connectTimeout: connectTimeoutMs,
  } as Knex.MySql2ConnectionConfig;
}

/** pg's type ids (pg_type.oid) whose text the connection keeps as it is. */
const PG_TEXT_TYPES = new Set([
  20, // int8: beyond 2^53 a number would round
  1700, // numeric: an exact decimal, never a float
  1114, // timestamp without time zone: Odoo keeps UTC there; `timestamp()` reads the text as UTC
  1082, // date: pg would make a Date at local midnight
]);

/** pg's default type parsers (the package ships no types of its own; loaded only when a pg source is). */
type PgTypeParsers = { getTypeParser(oid: number, format?: 'text' | 'binary'): (v: string) => unknown };
let pgDefaults: PgTypeParsers | undefined;

/** The type parsers of a connection: pg's defaults, but the text itself for PG_TEXT_TYPES. */
const pgTypes: PgTypeParsers = {
  getTypeParser(oid, format) {
    if (PG_TEXT_TYPES.has(oid)) return (v: string) => v;
    pgDefaults ??= (createRequire(import.meta.url)('pg') as { types: PgTypeParsers }).types;
    return pgDefaults.getTypeParser(oid, format);
  },
};

/**
 * postgres://user:pass@host:port/db → pg options with our safe defaults: the type parsers
 * above (per connection, pg's global parsers are left alone), the connect timeout, and for a
 * source a session that refuses writes (`default_transaction_read_only`).
 */
export function pgConnection(url: string, connectTimeoutMs = 5_000, readonly = false): Knex.PgConnectionConfig {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port === '' ? 5432 : Number(u.port),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    connectionTimeoutMillis: connectTimeoutMs,
    types: pgTypes,
    application_name: 'inventory-graph',
    ...(readonly ? { options: '-c default_transaction_read_only=on' } : {}),
  } as Knex.PgConnectionConfig;
}
