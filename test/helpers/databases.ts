/**
 * Fresh, throw-away databases on every backend the project supports, so one suite can run
 * against SQLite and MariaDB alike: `for (const backend of BACKENDS) describe(backend.name, ...)`.
 * MariaDB is required (development and CI machines run it at 127.0.0.1:3306): when it is
 * down the helper throws, it never skips. PostgreSQL (127.0.0.1:5432, user postgres; a source
 * backend only, for Odoo) is `postgres`, outside `BACKENDS`: suites that test sources add it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Knex } from 'knex';
import mysql2 from 'mysql2';
import { createKnex, type DbClient } from '../../src/db/knex.js';

export interface TestDatabase {
  client: DbClient;
  /** What a config's `connection` holds: a SQLite file path, a mysql:// or a postgres:// URL. */
  connection: string;
  /** A read-write knex on the database, for fixtures (bound inserts, schema builder). */
  db: Knex;
  /** Runs one SQL statement on the database. */
  exec(sql: string, bindings?: readonly unknown[]): Promise<unknown>;
  /** Closes the helper's connections and removes the database (file or schema). */
  cleanup(): Promise<void>;
}

/** The real SQL statements a driver was handed while a spy was on. */
export interface StatementSpy {
  readonly sql: readonly string[];
  restore(): void;
}

export interface Backend {
  name: 'sqlite' | 'mariadb' | 'postgres';
  client: DbClient;
  /** Column types for fixtures: exact decimals and timestamps as each engine keeps them. */
  types: { decimal: string; datetime: string };
  create(): Promise<TestDatabase>;
  /** A connection that cannot be opened: a missing SQLite file, a closed port. */
  unreachable(): string;
  /** Records every SQL statement the backend's driver receives, in this process, until restored. */
  spyOnStatements(): StatementSpy;
}

export const MARIADB_HOST = '127.0.0.1';
export const MARIADB_PORT = 3306;
const MARIADB_SERVER = `mysql://root@${MARIADB_HOST}:${MARIADB_PORT}`;

export const POSTGRES_HOST = '127.0.0.1';
export const POSTGRES_PORT = 5432;
const POSTGRES_SERVER = `postgres://postgres@${POSTGRES_HOST}:${POSTGRES_PORT}`;

/** A SQLite file in a new temporary directory, removed with the directory on cleanup. */
export async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-test-'));
  const connection = join(dir, 'test.sqlite');
  const db = createKnex({ client: 'better-sqlite3', connection });
  return {
    client: 'better-sqlite3',
    connection,
    db,
    exec: (sql, bindings = []) => db.raw(sql, bindings as Knex.RawBinding[]),
    async cleanup() {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A database `ig_test_<random>` on the local MariaDB, dropped on cleanup. */
export function createMariaDbDatabase(): Promise<TestDatabase> {
  return serverDatabase({
    client: 'mysql2',
    admin: `${MARIADB_SERVER}/`,
    url: (name) => `${MARIADB_SERVER}/${name}`,
    create: 'create database ?? character set utf8mb4',
    drop: 'drop database if exists ??',
    required: `MariaDB is required for these tests and is not usable at ${MARIADB_HOST}:${MARIADB_PORT} (user root, no password)`,
    hint: ' Start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
  });
}

/** A database `ig_test_<random>` on the local PostgreSQL, dropped (its sessions ended) on cleanup. */
export function createPostgresDatabase(): Promise<TestDatabase> {
  return serverDatabase({
    client: 'pg',
    admin: `${POSTGRES_SERVER}/postgres`,
    url: (name) => `${POSTGRES_SERVER}/${name}`,
    create: 'create database ??',
    // a connector a test left open must not keep the database from being dropped
    drop: 'drop database if exists ?? with (force)',
    required: `PostgreSQL is required for these tests and is not usable at ${POSTGRES_HOST}:${POSTGRES_PORT} (user postgres, trust)`,
    hint: '',
  });
}

/** A throw-away database `ig_test_<random>` on a database server, created through its admin connection and dropped on cleanup. */
async function serverDatabase(o: {
  client: 'mysql2' | 'pg';
  admin: string;
  url: (name: string) => string;
  create: string;
  drop: string;
  required: string;
  hint: string;
}): Promise<TestDatabase> {
  const name = `ig_test_${randomBytes(6).toString('hex')}`;
  const server = createKnex({ client: o.client, connection: o.admin, pool: 1, acquireTimeoutMs: 5_000 });
  try {
    await server.raw(o.create, [name]);
  } catch (e) {
    await server.destroy();
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(`${o.required}: ${reason}.${o.hint}`, { cause: e });
  }
  const connection = o.url(name);
  const db = createKnex({ client: o.client, connection, pool: 2 });
  return {
    client: o.client,
    connection,
    db,
    exec: (sql, bindings = []) => db.raw(sql, bindings as Knex.RawBinding[]),
    async cleanup() {
      try {
        await db.destroy();
        await server.raw(o.drop, [name]);
      } finally {
        await server.destroy();
      }
    },
  };
}

/**
 * Replaces `proto[method]` by a wrapper that records the SQL text of its first argument (a
 * string or `{ sql }`). The drivers are CommonJS modules shared with knex, so this sees the
 * statements a connector sends without any access to its knex instance.
 */
/** Records the SQL of every call of `methods` on `proto`; `sqlOf` finds it in the call. */
function spyOnMethods(proto: object, methods: string[], sqlOf: (self: unknown, args: unknown[]) => unknown): StatementSpy {
  const target = proto as Record<string, unknown>;
  const sql: string[] = [];
  const restores = methods.map((method) => {
    const own = Object.prototype.hasOwnProperty.call(target, method);
    const original = target[method] as (this: unknown, ...args: unknown[]) => unknown;
    target[method] = function (this: unknown, ...args: unknown[]) {
      const found = sqlOf(this, args);
      sql.push(typeof found === 'string' ? found : String((found as { sql?: unknown } | undefined)?.sql));
      return original.apply(this, args);
    };
    return () => {
      if (own) target[method] = original;
      else delete target[method];
    };
  });
  return {
    sql,
    restore() {
      for (const r of restores) r();
    },
  };
}

/** better-sqlite3's Statement class is not exported: its prototype, from a statement. */
function sqliteStatementPrototype(): object {
  const db = new Database(':memory:');
  try {
    return Object.getPrototypeOf(db.prepare('select 1')) as object;
  } finally {
    db.close();
  }
}

export const sqlite: Backend = {
  name: 'sqlite',
  client: 'better-sqlite3',
  types: { decimal: 'TEXT', datetime: 'TEXT' },
  create: createSqliteDatabase,
  // a file that does not exist in a directory that does: a read-only source must not create it
  unreachable: () => join(tmpdir(), `ig-missing-${randomBytes(6).toString('hex')}.sqlite`),
  // knex's better-sqlite3 dialect prepares every statement it runs
  // statements run, not prepared: a connection keeps its prepared statements (src/db/knex.ts)
  spyOnStatements: () => spyOnMethods(sqliteStatementPrototype(), ['all', 'run', 'get'], (self) => (self as { source: string }).source),
};

export const mariadb: Backend = {
  name: 'mariadb',
  client: 'mysql2',
  types: { decimal: 'DECIMAL(12,4)', datetime: 'DATETIME' },
  create: createMariaDbDatabase,
  // port 1 on loopback: nothing listens there, the connection is refused at once
  unreachable: () => `mysql://root@${MARIADB_HOST}:1/ig_test_unreachable`,
  // knex's mysql2 dialect sends every statement through Connection#query (pooled connections included)
  spyOnStatements: () => spyOnMethods(mysql2.Connection.prototype, ['query'], (_, args) => args[0]),
};

export const BACKENDS: readonly Backend[] = [sqlite, mariadb];

/** pg's Client class (the package ships no types): knex's pg dialect sends every statement through Client#query. */
const pgClient = (createRequire(import.meta.url)('pg') as { Client: { prototype: object } }).Client;

/** PostgreSQL, a source backend only (Odoo): not in `BACKENDS`, since the gateway's store cannot use it. */
export const postgres: Backend = {
  name: 'postgres',
  client: 'pg',
  types: { decimal: 'NUMERIC(12,4)', datetime: 'TIMESTAMP' },
  create: createPostgresDatabase,
  unreachable: () => `postgres://postgres@${POSTGRES_HOST}:1/ig_test_unreachable`,
  spyOnStatements: () =>
    spyOnMethods(pgClient.prototype, ['query'], (_, args) => {
      const q = args[0] as string | { text?: string };
      return typeof q === 'string' ? q : q.text;
    }),
};

/** Every backend a source may be on: `BACKENDS` and PostgreSQL. */
export const SOURCE_BACKENDS: readonly Backend[] = [...BACKENDS, postgres];
