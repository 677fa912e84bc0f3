/**
 * A source system read through SQL (MySQL/MariaDB via mysql2, or a SQLite file), mapped by
 * config: either `table` + `columns` (+ `where`), or a read-only `query` whose columns are
 * already aliased to the canonical names. Bins are summed by the database (GROUP BY), values
 * are always bound and identifiers quoted by knex, and each batch of up to `chunkSize` codes
 * is exactly one statement.
 */
import type { Knex } from 'knex';
import type { SqlSourceConfig, StockMapping, CostMapping, ItemsMapping } from '../config/index.js';
import { createKnex } from '../db/knex.js';
import type { CostRecord, Entity, ItemRecord, RecordOf, StockRecord } from '../domain/records.js';
import { timestamp } from '../db/values.js';
import type { Connector, StatementMeter } from './connector.js';

/** Codes per IN list. About 1,000 keeps statements small on every engine. */
export const DEFAULT_CHUNK_SIZE = 1000;

type Mapping = StockMapping | CostMapping | ItemsMapping;
type Row = Record<string, unknown>;

export function createSqlConnector(name: string, config: SqlSourceConfig, chunkSize = DEFAULT_CHUNK_SIZE) {
  const db = createKnex({
    client: config.client,
    connection: config.connection,
    readonly: true,
    pool: config.pool,
    acquireTimeoutMs: config.timeoutMs,
  });
  const entities = new Set<Entity>((['stock', 'cost', 'items'] as const).filter((e) => config[e] !== undefined));

  function statement(entity: Entity, codes: readonly string[]): Knex.QueryBuilder {
    const m = config[entity] as Mapping;
    const { q, sku } = m.query !== undefined ? fromQuery(db, entity, m.query) : fromTable(db, entity, m);
    if (entity === 'stock') countNonNumeric(db, q, m.query !== undefined ? (k) => k : (k) => (m.columns as Record<string, string>)[k]);
    return q.timeout(config.timeoutMs, { cancel: config.client === 'mysql2' }).whereIn(sku, codes as string[]);
  }

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter): Promise<RecordOf[E][]> {
    if (!entities.has(entity)) throw new Error(`source "${name}" maps no ${entity}`);
    const readAt = new Date();
    const out: RecordOf[E][] = [];
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < codes.length; i += chunkSize) chunks.push(codes.slice(i, i + chunkSize));
    const results = await Promise.all(
      chunks.map((chunk) => {
        meter?.statement(name, entity);
        return statement(entity, chunk) as Promise<Row[]>;
      }),
    );
    // a case- or space-insensitive collation may answer codes that were not asked: keep exact ones
    const asked = new Set(codes);
    for (const rows of results) {
      for (const row of rows) if (asked.has(String(row.sku))) out.push(toRecord(entity, row, readAt, config) as RecordOf[E]);
    }
    return out;
  }

  return {
    name,
    kind: 'sql',
    entities,
    fetch,
    /** Runs each mapping's statement with an empty IN list: the source answers and every mapped table and column exists. */
    async ping() {
      for (const entity of entities) await statement(entity, []);
    },
    async close() {
      await db.destroy();
    },
  } satisfies Connector;
}

/** A statement without its IN list, and the column that list applies to. */
interface Base {
  q: Knex.QueryBuilder;
  sku: string;
}

function fromTable(db: Knex, entity: Entity, m: Mapping): Base {
  const c = m.columns as Record<string, string>;
  const q = db(m.table as string);
  for (const [col, v] of Object.entries(m.where ?? {})) {
    if (Array.isArray(v)) q.whereIn(col, v as (string | number | boolean)[]);
    else if (v === null) q.whereNull(col);
    else q.where(col, v);
  }
  return { q: select(q, entity, (k) => c[k]), sku: c.sku as string };
}

/** The configured query becomes a derived table; its columns already carry the canonical names. */
function fromQuery(db: Knex, entity: Entity, sql: string): Base {
  const q = db.from(db.raw(`(${sql.replace(/;\s*$/, '')}) as mapped`));
  return { q: select(q, entity, (k) => k), sku: 'sku' };
}

/** Selects the canonical columns; for stock, sums quantities per (sku, location). */
function select(q: Knex.QueryBuilder, entity: Entity, col: (canonical: string) => string | undefined): Knex.QueryBuilder {
  const sku = col('sku') as string;
  if (entity === 'stock') {
    const location = col('location') as string;
    q.select({ sku, location }).sum({ onHand: col('onHand') as string });
    const committed = col('committed');
    const asOf = col('asOf');
    if (committed !== undefined) q.sum({ committed });
    if (asOf !== undefined) q.max({ asOf });
    q.groupBy(sku, location);
    // a case-insensitive MySQL collation would add `K-1` and `k-1` together; codes are exact
    if (q.client.config.client === 'mysql2') q.groupBy(q.client.raw('binary ??', [sku]));
    return q;
  }
  if (entity === 'cost') {
    const currency = col('currency');
    return q.select({ sku, unitCost: col('unitCost') as string, ...(currency !== undefined ? { currency } : {}) });
  }
  return q.select({ sku, name: col('name') as string });
}

/**
 * Databases add up text quantities by reading 'abc' as 0 and '4abc' as 4, so the sum alone
 * cannot be trusted: `nonNumeric` counts the bins whose quantity is not a number, and such a
 * group is refused rather than read as a silent zero.
 */
function countNonNumeric(db: Knex, q: Knex.QueryBuilder, col: (canonical: string) => string | undefined): void {
  const cols = [col('onHand'), col('committed')].filter((c): c is string => c !== undefined);
  const mysql = db.client.config.client === 'mysql2';
  const test = mysql ? '(?? is not null and trim(??) not regexp ?)' : '(?? is not null and ?? <> cast(?? as numeric))';
  const bindings = cols.flatMap((c) => (mysql ? [c, c, NUMBER_PATTERN] : [c, c, c]));
  q.select(db.raw(`sum(${cols.map(() => test).join(' + ')}) as ??`, [...bindings, 'nonNumeric']));
}

const NUMBER_PATTERN = '^[-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?$';

function toRecord(entity: Entity, row: Row, readAt: Date, config: SqlSourceConfig): StockRecord | CostRecord | ItemRecord {
  const code = String(row.sku);
  if (entity === 'stock') {
    if (Number(row.nonNumeric ?? 0) > 0) {
      throw new Error(`non-numeric quantity for code ${JSON.stringify(code)} at location ${JSON.stringify(String(row.location))}`);
    }
    return {
      code,
      location: String(row.location),
      onHand: quantity(row.onHand),
      committed: row.committed === undefined || row.committed === null ? 0 : quantity(row.committed),
      asOf: row.asOf === undefined || row.asOf === null ? readAt : timestamp(row.asOf),
    };
  }
  if (entity === 'cost') {
    return { code, amount: decimal(row.unitCost), currency: String(row.currency ?? config.cost?.currency ?? '') };
  }
  return { code, name: String(row.name ?? '') };
}

/** A whole number of units; a fraction, an empty string or anything else is refused. */
function quantity(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : String(v).trim() === '' ? Number.NaN : Number(String(v));
  if (!Number.isSafeInteger(n)) throw new Error(`not a whole quantity: ${JSON.stringify(v)}`);
  return n;
}

/** A decimal as text, exactly as the source has it (a SQLite REAL prints its shortest round-trip form). */
function decimal(v: unknown): string {
  const s = typeof v === 'number' ? String(v) : String(v).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new Error(`not a decimal: ${JSON.stringify(v)}`);
  return s;
}
