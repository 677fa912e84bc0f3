/**
 * What a SQL mapping's `query` gives, learned from the database rather than guessed: the SQL
 * connector (src/sources/sql.ts) asks once per query mapping, `select * from (<query>) as mapped
 * limit 0` (no row is read), and builds its statements from the aliases present, so the optional
 * ones (`committed`, `asOf`, `currency`, ...) may be left out and a missing required one is a
 * MappingError naming it. Each client tells the columns its own way: a new client (pg: its
 * result's `fields`) is one entry in COLUMN_READERS.
 *
 * Also here: `mappingFault`, which tells a driver error that says the mapping does not match the
 * database (no such table or column, a query that does not parse) from the source failing.
 */
import type { Database } from 'better-sqlite3';
import type { Knex } from 'knex';

/** The names of the columns `sql` (a SELECT) gives, without reading a row. */
export type ColumnReader = (db: Knex, sql: string, timeoutMs: number) => Promise<string[]>;

/** How each knex client tells a statement's columns. */
export const COLUMN_READERS: Record<string, ColumnReader> = {
  // a prepared statement knows its columns; nothing is run
  'better-sqlite3': async (db, sql) => {
    const client = db.client as { acquireConnection(): Promise<Database>; releaseConnection(c: Database): Promise<void> };
    const conn = await client.acquireConnection();
    try {
      return conn
        .prepare(sql)
        .columns()
        .map((c) => c.name);
    } finally {
      await client.releaseConnection(conn);
    }
  },
  // mysql2 answers [rows, fields]
  mysql2: async (db, sql, timeoutMs) => {
    const [, fields] = (await db.raw(sql).timeout(timeoutMs, { cancel: true })) as [unknown, { name: string }[]];
    return fields.map((f) => f.name);
  },
  // pg answers a result with `fields`
  pg: async (db, sql, timeoutMs) => {
    const result = (await db.raw(sql).timeout(timeoutMs, { cancel: true })) as { fields: { name: string }[] };
    return result.fields.map((f) => f.name);
  },
};

/**
 * The columns `query` gives (`names`), and by canonical alias (`found`): each alias of `aliases` found among them (the
 * exact name first, else one differing only in case, as PostgreSQL folds unquoted aliases to
 * lower case) mapped to the column's real name.
 */
export async function queryColumns(
  db: Knex,
  query: string,
  aliases: readonly string[],
  timeoutMs: number,
): Promise<{ found: Map<string, string>; names: string[] }> {
  const client = String(db.client.config.client);
  const reader = COLUMN_READERS[client];
  if (reader === undefined) throw new Error(`cannot tell the columns of a query on client ${client}`);
  const names = await reader(db, `select * from (${query.replace(/;\s*$/, '')}) as mapped limit 0`, timeoutMs);
  const found = new Map<string, string>();
  for (const alias of aliases) {
    const name = names.find((n) => n === alias) ?? names.find((n) => n.toLowerCase() === alias.toLowerCase());
    if (name !== undefined) found.set(alias, name);
  }
  return { found, names };
}

interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
}

const quoted = (s: string) => JSON.stringify(s);

/**
 * What is wrong with a mapping, when `e` says the database lacks what it names (a table, a
 * column) or cannot read its query; undefined when `e` is anything else (the source failing).
 * Names come from the config; SQL text never appears.
 */
export function mappingFault(e: unknown): string | undefined {
  const err = (e ?? {}) as DriverError;
  const message = err.message ?? '';
  // MariaDB / MySQL: "Table 'db.tabItem Price' doesn't exist", "Unknown column 'x' in 'field list'"
  if (err.code === 'ER_NO_SUCH_TABLE') {
    const m = /Table '(?:[^'.]*\.)?(.*)' doesn't exist/.exec(message);
    return m === null ? 'a table it names does not exist' : `table ${quoted(m[1] as string)} does not exist`;
  }
  if (err.code === 'ER_BAD_FIELD_ERROR') {
    const m = /Unknown column '(.*?)' in/.exec(message);
    return m === null ? 'a column it names does not exist' : `column ${quoted(m[1] as string)} does not exist`;
  }
  if (err.code === 'ER_PARSE_ERROR') return 'its query is not valid SQL (see the server log)';
  // SQLite: "no such table: tabItem Price", "no such column: x"
  // (knex puts the statement before the driver's message: "select ... - no such table: x")
  const sqlite = /no such (table|column): (.*)$/.exec(message);
  if (sqlite !== null) return `${sqlite[1] as string} ${quoted((sqlite[2] as string).replace(/^main\./, ''))} does not exist`;
  if (/syntax error|incomplete input/.test(message) && err.code === 'SQLITE_ERROR') return 'its query is not valid SQL (see the server log)';
  // PostgreSQL: undefined_table, undefined_column, syntax_error
  if (err.code === '42P01' || err.code === '42703') {
    const m = /(relation|column) "(.*?)"(?: of relation "[^"]*")? does not exist/.exec(message);
    if (m !== null) return `${m[1] === 'relation' ? 'table' : 'column'} ${quoted(m[2] as string)} does not exist`;
    return `a ${err.code === '42P01' ? 'table' : 'column'} it names does not exist`;
  }
  if (err.code === '42601') return 'its query is not valid SQL (see the server log)';
  return undefined;
}
