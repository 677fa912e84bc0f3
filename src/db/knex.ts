/**
 * One place that turns a `{ client, connection }` pair from the config into a knex instance,
 * for sources and for the gateway's own store alike. MySQL connections read DATETIME as UTC
 * strings and DECIMAL/BIGINT as strings, so no figure passes through a float or a local
 * time zone by accident.
 */
import knexFactory, { type Knex } from 'knex';

export type DbClient = 'better-sqlite3' | 'mysql2';

export interface DbOptions {
  client: DbClient;
  /** A SQLite file path, or a mysql:// URL. */
  connection: string;
  /** Open a SQLite file read-only (sources are never written). Defaults to false. */
  readonly?: boolean;
  /** Most connections at once. Defaults to 4 for MySQL; SQLite always uses 1. */
  pool?: number;
  /** How long a query may wait for a free connection, in ms. Defaults to 10000. */
  acquireTimeoutMs?: number;
  /** How long opening a MySQL connection may take (mysql2 `connectTimeout`), in ms. Defaults to 5000. */
  connectTimeoutMs?: number;
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
      pool: { min: 1, max: 1 },
      acquireConnectionTimeout: o.acquireTimeoutMs ?? 10_000,
    });
  }
  return knexFactory({
    client: 'mysql2',
    connection: mysqlConnection(o.connection, o.connectTimeoutMs),
    log: quiet,
    pool: { min: 0, max: o.pool ?? 4 },
    acquireConnectionTimeout: o.acquireTimeoutMs ?? 10_000,
  });
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
