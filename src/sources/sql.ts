/**
 * A source system read through SQL (MySQL/MariaDB via mysql2, or a SQLite file), mapped by
 * config: either `table` + `columns` (+ `where`), or a read-only `query` whose columns are
 * already aliased to the canonical names. Bins are summed by the database (GROUP BY), values
 * are always bound and identifiers quoted by knex, and each batch of up to `chunkSize` codes
 * is exactly one statement.
 */
import type { Knex } from 'knex';
import type { SqlSourceConfig, StockMapping, CostMapping, ItemsMapping, MovementMapping } from '../config/index.js';
import { createKnex, isSqliteBusy } from '../db/knex.js';
import {
  MOVEMENT_KINDS,
  type CostRecord,
  type Entity,
  type ItemRecord,
  type MovementKind,
  type MovementRecord,
  type RecordOf,
  type StockRecord,
} from '../domain/records.js';
import { timestamp } from '../db/values.js';
import { LoadShedError, startsTooLate, type ChangedRow, type Connector, type ReadOptions, type StatementMeter } from './connector.js';
import type { PoolStats } from './health.js';

/** Codes per IN list. About 1,000 keeps statements small on every engine. */
export const DEFAULT_CHUNK_SIZE = 1000;

type Mapping = StockMapping | CostMapping | ItemsMapping;
type Row = Record<string, unknown>;

/** `movementKinds`: the kinds a `kind` column may hold (the built-in ones and the config's `movementKinds`); the built-in ones when unset. */
export function createSqlConnector(name: string, config: SqlSourceConfig, chunkSize = DEFAULT_CHUNK_SIZE, o: { movementKinds?: readonly string[] } = {}) {
  const kinds = o.movementKinds ?? MOVEMENT_KINDS;
  const db = createKnex({
    client: config.client,
    connection: config.connection,
    readonly: true,
    pool: config.pool,
    // the whole read is bounded: waiting for a connection, opening one, and the statement
    acquireTimeoutMs: config.timeoutMs,
    connectTimeoutMs: config.timeoutMs,
    // better-sqlite3 waits for a lock by spinning on this thread: a source never waits so, it is
    // asked again off the event loop until its deadline (runWhileLocked)
    busyTimeoutMs: 0,
  });
  const mysql = config.client === 'mysql2';
  const pool = (): TarnPool | undefined => (db.client as { pool?: TarnPool }).pool;
  /** How long the last statement that answered took once it had its connection, in ms. */
  let pace = 0;
  const entities = new Set<Entity>((['stock', 'cost', 'items', 'movements'] as const).filter((e) => config[e] !== undefined));

  /** The statements one batch of codes costs: one per mapping (movements may have several). */
  /** `codes` null: every code (a whole-source scan, without the deadline of a read). */
  function statements(entity: Entity, codes: readonly string[] | null): Knex.QueryBuilder[] {
    if (entity === 'movements') return (config.movements ?? []).map((m) => movementStatement(db, m, config, codes));
    return [statement(entity, codes)];
  }

  function statement(entity: Exclude<Entity, 'movements'>, codes: readonly string[] | null): Knex.QueryBuilder {
    const m = config[entity] as Mapping;
    const { q, sku } = m.query !== undefined ? fromQuery(db, entity, m.query) : fromTable(db, entity, m);
    if (entity === 'stock') countNonNumeric(db, q, m.query !== undefined ? (k) => k : (k) => (m.columns as Record<string, string>)[k]);
    if (codes === null) return q;
    return q.timeout(config.timeoutMs, { cancel: config.client === 'mysql2' }).whereIn(sku, codes as string[]);
  }

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter, options?: ReadOptions): Promise<RecordOf[E][]> {
    if (!entities.has(entity)) throw new Error(`source "${name}" maps no ${entity}`);
    const readAt = new Date();
    const deadline = options?.deadline ?? readAt.getTime() + config.timeoutMs;
    const out: RecordOf[E][] = [];
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < codes.length; i += chunkSize) chunks.push(codes.slice(i, i + chunkSize));
    const results = await Promise.all(
      chunks.flatMap((chunk) =>
        statements(entity, chunk).map((q) => {
          meter?.statement(name, entity);
          return runWhileLocked(withinDeadline(q, deadline, options), deadline);
        }),
      ),
    );
    // a case- or space-insensitive collation may answer codes that were not asked: keep exact ones
    const asked = new Set(codes);
    for (const rows of results) {
      for (const row of rows) {
        if (!asked.has(String(row.sku))) continue;
        if (entity === 'movements') {
          const r = toMovement(row, readAt, config.timezone, kinds);
          if (r.quantity !== 0) out.push(r as RecordOf[E]);
        } else {
          out.push(toRecord(entity, row, readAt, config) as RecordOf[E]);
        }
      }
    }
    return out;
  }

  /**
   * Gives a statement what is left of its read's deadline once it has a connection (waiting for
   * one and opening it count too), then has it cancelled: on MySQL/MariaDB knex sends KILL QUERY
   * from a separate connection and the pooled connection is returned; if the kill cannot be
   * sent, the connection is evicted. SQLite statements are synchronous and cannot be cut short.
   *
   * A statement that has to wait for a connection other statements hold (every connection of the
   * pool lent or promised) waits in our own queue: the read's bounds are told, so a read still
   * waiting at its deadline is load shed rather than timed out, and when the connection comes
   * with less of the deadline left than the last statement took, the statement is not sent at all
   * (it would only be killed at the deadline, and a KILL costs a connection of its own).
   */
  function withinDeadline(q: Knex.QueryBuilder, deadline: number, options: ReadOptions | undefined): Knex.QueryBuilder {
    const waited = poolTaken() ? options?.queued?.() : undefined;
    let started = 0;
    q.on('start', (b: Knex.QueryBuilder) => {
      waited?.();
      const left = deadline - Date.now();
      // thrown here, before knex sends the statement: the connection goes back to the pool unused
      if (waited !== undefined && startsTooLate(left, pace)) throw new LoadShedError();
      started = Date.now();
      b.timeout(Math.max(1, left), { cancel: mysql });
    });
    q.on('query-response', () => {
      // before the connection goes back to the pool, so the next statement is judged by this answer
      if (Date.now() <= deadline) pace = Date.now() - started;
    });
    return q;
  }

  /**
   * Runs a statement; on SQLite, a statement refused because another connection holds a lock on
   * the file (its own system writing, not in WAL mode) is run again after a short pause (5 ms,
   * doubling up to 100 ms) until the read's deadline. The wait is a timer, so requests, health
   * checks and other sources go on meanwhile.
   */
  async function runWhileLocked(q: Knex.QueryBuilder, deadline: number): Promise<Row[]> {
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      try {
        return (await q) as Row[];
      } catch (e) {
        if (mysql || !isSqliteBusy(e)) throw e;
        if (Date.now() + pause >= deadline)
          throw new Error(`the SQLite file stayed locked by another connection until the deadline (${config.timeoutMs} ms)`, { cause: e });
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  /** Every connection the pool may hold is lent out or promised to a statement already waiting. */
  function poolTaken(): boolean {
    const p = pool();
    return p !== undefined && p.numUsed() + p.numPendingAcquires() >= p.max;
  }

  /** Distinct codes of an entity's mapping (stock unless told) in byte order, a page at a time: one statement per page. */
  async function listCodes(after: string | null, limit: number, meter?: StatementMeter, entity: 'stock' | 'cost' | 'items' = 'stock'): Promise<string[]> {
    const m = config[entity];
    if (m === undefined) return [];
    const mysql = config.client === 'mysql2';
    const inner = mappedRows(db, m);
    const col = m.query !== undefined ? 'sku' : (m.columns?.sku as string);
    // exact (binary) order and comparison, whatever the column's collation
    const key = mysql ? 'cast(?? as binary)' : '??';
    const q = inner
      .select(db.raw(`distinct ${key} as ??`, [col, 'code']))
      .whereNotNull(col)
      .orderBy('code')
      .limit(limit)
      .timeout(config.timeoutMs, { cancel: mysql });
    if (after !== null) q.whereRaw(`${key} > ${mysql ? 'cast(? as binary)' : '?'}`, [col, after]);
    meter?.statement(name, entity);
    const rows = (await q) as { code: unknown }[];
    return rows.map((r) => (Buffer.isBuffer(r.code) ? r.code.toString('utf8') : String(r.code)));
  }

  /**
   * Stock codes whose `column` (the poll feed's `changedSince`) is at or after `since` and at or
   * before `until` (values as an earlier call returned them; null: unbounded), in (changed, code) order, after the key `after`,
   * `limit` rows at a time; a code with several rows (bins) may come more than once. One statement.
   */
  async function changedCodes(
    column: string,
    since: unknown,
    until: unknown,
    after: ChangedRow | null,
    limit: number,
    meter?: StatementMeter,
  ): Promise<ChangedRow[]> {
    const m = config.stock;
    if (m === undefined) return [];
    const q = mappedRows(db, m);
    const sku = m.query !== undefined ? 'sku' : (m.columns?.sku as string);
    const key = mysql ? 'cast(?? as binary)' : '??';
    q.select(db.raw(`${key} as ??`, [sku, 'code']), db.raw('?? as ??', [column, 'changed']))
      .whereNotNull(column)
      .orderBy([{ column: 'changed' }, { column: 'code' }])
      .limit(limit)
      .timeout(config.timeoutMs, { cancel: mysql });
    if (since !== null) q.where(column, '>=', since as Knex.Value);
    if (until !== null) q.where(column, '<=', until as Knex.Value);
    if (after !== null)
      q.where((w) =>
        w
          .where(column, '>', after.changed as Knex.Value)
          .orWhere((w2) => w2.where(column, '=', after.changed as Knex.Value).whereRaw(`${key} > ${mysql ? 'cast(? as binary)' : '?'}`, [sku, after.code])),
      );
    meter?.statement(name, 'stock');
    const rows = (await q) as { code: unknown; changed: unknown }[];
    return rows.map((r) => ({ code: Buffer.isBuffer(r.code) ? r.code.toString('utf8') : String(r.code), changed: r.changed }));
  }

  /**
   * Stock or movements row by row, not summed: a whole-table GROUP BY (with the `binary` term
   * that keeps codes exact on MySQL) is served by no index, and MariaDB built temporary tables on
   * disk for minutes at 10 M rows; the caller sums per (code, location[, kind]) in memory. A NULL
   * quantity counts 0 (as SUM skips it).
   */
  function rowStatements(entity: 'stock' | 'movements'): Knex.QueryBuilder[] {
    const cols = (m: MappedSource & { columns?: object }, keys: string[], fixedKind?: string) => {
      const byQuery = m.query !== undefined;
      const q = mappedRows(db, m);
      const c = (m.columns ?? {}) as Record<string, string | undefined>;
      for (const k of keys) {
        const col = byQuery ? k : c[k];
        if (col !== undefined) q.select({ [k]: col });
      }
      if (fixedKind !== undefined) q.select(db.raw('? as ??', [fixedKind, 'kind']));
      return q;
    };
    if (entity === 'stock') {
      const m = config.stock as StockMapping;
      return [cols(m, ['sku', 'location', 'onHand', 'committed', 'asOf'])];
    }
    return (config.movements ?? []).map((m) =>
      cols(m, ['sku', 'location', 'quantity', ...(m.kind === undefined ? ['kind'] : []), 'asOf', ...(hasReference(m) ? ['reference'] : [])], m.kind),
    );
  }

  /**
   * Every record of `entity`, streamed, rows handed to `each` `batch` at a time as the driver
   * delivers them (bounded memory): cost and items as `fetch` builds them, stock and movements
   * one row each, unsummed (`rowStatements`). No deadline: a whole source takes what it takes
   * (how a mirror loads, src/feeds/mirror.ts); `signal` stops it. Answers how many records.
   */
  async function scan<E extends Entity>(
    entity: E,
    each: (records: RecordOf[E][]) => void | Promise<void>,
    batch = 10_000,
    signal?: AbortSignal,
  ): Promise<number> {
    if (!entities.has(entity)) throw new Error(`source "${name}" maps no ${entity}`);
    const readAt = new Date();
    let n = 0;
    for (const q of entity === 'stock' || entity === 'movements' ? rowStatements(entity) : statements(entity, null)) {
      let out: RecordOf[E][] = [];
      const stream = q.stream();
      // stopping (the server shutting down) ends the scan: its connection is let go, not held to the end of a whole table
      const stop = () => stream.destroy(new Error(`source "${name}": whole-source read stopped`));
      if (signal?.aborted === true) stop();
      signal?.addEventListener('abort', stop, { once: true });
      for await (const row of stream as AsyncIterable<Row>) {
        if (entity === 'movements') {
          if (row.quantity === null) continue;
          try {
            out.push(toMovement(row, readAt, config.timezone, kinds) as RecordOf[E]);
          } catch {
            // a movement that cannot be read explains nothing: left out, as a live read of it fails
            continue;
          }
        } else {
          if (entity === 'stock') {
            if (row.onHand === null) row.onHand = 0;
            if (row.committed === null) row.committed = 0;
          }
          out.push(toRecord(entity, row, readAt, config) as RecordOf[E]);
        }
        if (out.length >= batch) {
          n += out.length;
          await each(out);
          out = [];
        }
      }
      n += out.length;
      if (out.length > 0) await each(out);
      signal?.removeEventListener('abort', stop);
    }
    return n;
  }

  /** The newest value of the stock mapping's change column (null: no rows). One statement. */
  async function latestChange(column: string, meter?: StatementMeter): Promise<unknown> {
    const m = config.stock;
    if (m === undefined) return null;
    const q = mappedRows(db, m);
    meter?.statement(name, 'stock');
    const row = (await q.max({ latest: column }).timeout(config.timeoutMs, { cancel: mysql }).first()) as { latest: unknown } | undefined;
    return row?.latest ?? null;
  }

  /** The `orders` mapping's distinct references among `references` (an empty list: none, but the table and column must exist). */
  function ordersStatement(references: readonly string[]): Knex.QueryBuilder {
    const m = config.orders as NonNullable<SqlSourceConfig['orders']>;
    const col = m.query !== undefined ? 'reference' : (m.columns?.reference as string);
    return mappedRows(db, m)
      .distinct({ reference: col })
      .whereIn(col, references as string[]);
  }

  /** The references among `references` that the `orders` mapping holds (exact matches only). */
  async function orderReferences(references: readonly string[], options?: ReadOptions): Promise<Set<string>> {
    const m = config.orders;
    const found = new Set<string>();
    if (m === undefined || references.length === 0) return found;
    const deadline = options?.deadline ?? Date.now() + config.timeoutMs;
    const asked = new Set(references);
    for (let i = 0; i < references.length; i += chunkSize) {
      const q = ordersStatement(references.slice(i, i + chunkSize));
      const rows = await runWhileLocked(withinDeadline(q, deadline, options), deadline);
      for (const r of rows) {
        const ref = Buffer.isBuffer(r.reference) ? r.reference.toString('utf8') : String(r.reference);
        // a case- or space-insensitive collation may answer references that were not asked
        if (asked.has(ref)) found.add(ref);
      }
    }
    return found;
  }

  return {
    name,
    kind: 'sql',
    entities,
    fetch,
    ...(config.orders !== undefined ? { orderReferences } : {}),
    listCodes,
    changedCodes,
    latestChange,
    scan,
    /** Runs each mapping's statement with an empty IN list: the source answers and every mapped table and column exists. */
    async ping(options?: ReadOptions) {
      const deadline = options?.deadline ?? Date.now() + config.timeoutMs;
      for (const entity of entities) for (const q of statements(entity, [])) await runWhileLocked(withinDeadline(q, deadline, options), deadline);
      if (config.orders !== undefined) await runWhileLocked(withinDeadline(ordersStatement([]), deadline, options), deadline);
    },
    /** The knex (tarn) pool's counters: after every read, faults included, `used` and `pendingAcquires` go back to 0. */
    poolStats(): PoolStats {
      const p = pool();
      return {
        size: p?.max ?? 0,
        used: p?.numUsed() ?? 0,
        free: p?.numFree() ?? 0,
        pendingAcquires: p?.numPendingAcquires() ?? 0,
        pendingCreates: p?.numPendingCreates() ?? 0,
      };
    },
    async close() {
      await db.destroy();
    },
  } satisfies Connector;
}

/** The counters of knex's pool (tarn) that `poolStats` reads. */
interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}

/** A statement without its IN list, and the column that list applies to. */
interface Base {
  q: Knex.QueryBuilder;
  sku: string;
}

function fromTable(db: Knex, entity: Entity, m: Mapping): Base {
  const c = m.columns as Record<string, string>;
  return { q: select(mappedRows(db, { table: m.table, where: m.where }), entity, (k) => c[k]), sku: c.sku as string };
}

/** What a mapping reads from: its `table` (narrowed by `where`), or its `query` as a derived table. */
type MappedSource = { table?: string | undefined; where?: Mapping['where']; query?: string | undefined };

/** The rows a mapping reads, before any select: `table` with its `where`, or `(query) as mapped`. */
function mappedRows(db: Knex, m: MappedSource): Knex.QueryBuilder {
  if (m.query !== undefined) return db.from(db.raw(`(${m.query.replace(/;\s*$/, '')}) as mapped`));
  const q = db(m.table as string);
  applyWhere(q, m.where);
  return q;
}

/** `where: { status: [A, B], deleted_at: null }`: IN for a list, IS NULL for null, else equality; values bound. */
function applyWhere(q: Knex.QueryBuilder, where: Mapping['where']): void {
  for (const [col, v] of Object.entries(where ?? {})) {
    if (Array.isArray(v)) q.whereIn(col, v as (string | number | boolean)[]);
    else if (v === null) q.whereNull(col);
    else q.where(col, v);
  }
}

/**
 * One movement mapping for one batch of codes: quantities summed per (sku, location, kind), the
 * kind fixed by the mapping or read from its column. Non-numeric quantities are refused as for stock.
 */
function movementStatement(db: Knex, m: MovementMapping, config: SqlSourceConfig, codes: readonly string[] | null): Knex.QueryBuilder {
  const byQuery = m.query !== undefined;
  const col = (k: string): string | undefined =>
    byQuery
      ? (k === 'kind' && m.kind !== undefined) || (k === 'reference' && !hasReference(m))
        ? undefined
        : k
      : (m.columns as Record<string, string | undefined>)[k];
  const q = mappedRows(db, m);
  const sku = col('sku') as string;
  const location = col('location') as string;
  const kind = col('kind');
  q.select({ sku, location }).sum({ quantity: col('quantity') as string });
  if (kind !== undefined) q.select({ kind }).groupBy(kind);
  else q.select(db.raw('? as ??', [m.kind as string, 'kind']));
  const asOf = col('asOf');
  if (asOf !== undefined) q.max({ asOf });
  // one row per document: the reconciliation line names them
  const reference = col('reference');
  if (reference !== undefined) q.select({ reference }).groupBy(reference);
  q.groupBy(sku, location);
  if (config.client === 'mysql2') q.groupBy(db.raw('binary ??', [sku]));
  const mysql = config.client === 'mysql2';
  const qty = col('quantity') as string;
  q.select(
    db.raw(
      mysql ? 'sum(?? is not null and trim(??) not regexp ?) as ??' : 'sum(?? is not null and ?? <> cast(?? as numeric)) as ??',
      mysql ? [qty, qty, NUMBER_PATTERN, 'nonNumeric'] : [qty, qty, qty, 'nonNumeric'],
    ),
  );
  if (codes === null) return q;
  return q.timeout(config.timeoutMs, { cancel: mysql }).whereIn(sku, codes as string[]);
}

/** `zone`: the source's `timezone`, for an asOf without one. */
function toMovement(row: Row, readAt: Date, zone: string, kinds: readonly string[]): MovementRecord {
  const code = String(row.sku);
  if (Number(row.nonNumeric ?? 0) > 0) {
    throw new Error(`non-numeric movement quantity for code ${JSON.stringify(code)} at location ${JSON.stringify(String(row.location))}`);
  }
  const kind = String(row.kind);
  if (!kinds.includes(kind)) {
    throw new Error(`unknown movement kind ${JSON.stringify(kind)} for code ${JSON.stringify(code)} (known: ${kinds.join(', ')})`);
  }
  const r: MovementRecord = {
    code,
    location: String(row.location),
    kind: kind as MovementKind,
    quantity: row.quantity === null || row.quantity === undefined ? 0 : quantity(row.quantity),
    asOf: row.asOf === undefined || row.asOf === null ? readAt : timestamp(row.asOf, zone),
  };
  const ref =
    row.reference === undefined || row.reference === null ? '' : Buffer.isBuffer(row.reference) ? row.reference.toString('utf8') : String(row.reference);
  if (ref.trim() !== '') r.reference = ref;
  return r;
}

/** Whether a movement mapping names each row's document: `columns.reference`, or a query's `as reference` alias. */
function hasReference(m: MovementMapping): boolean {
  return m.query !== undefined ? /\bas\s+[`"]?reference\b/i.test(m.query) : m.columns?.reference !== undefined;
}

/** The configured query becomes a derived table; its columns already carry the canonical names. */
function fromQuery(db: Knex, entity: Entity, sql: string): Base {
  const q = mappedRows(db, { query: sql });
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
 * group is returned marked `invalid` rather than read as a silent zero (the rest of the batch stands).
 */
function countNonNumeric(db: Knex, q: Knex.QueryBuilder, col: (canonical: string) => string | undefined): void {
  const cols = [col('onHand'), col('committed')].filter((c): c is string => c !== undefined);
  const mysql = db.client.config.client === 'mysql2';
  const test = mysql ? '(?? is not null and trim(??) not regexp ?)' : '(?? is not null and ?? <> cast(?? as numeric))';
  const bindings = cols.flatMap((c) => (mysql ? [c, c, NUMBER_PATTERN] : [c, c, c]));
  q.select(db.raw(`sum(${cols.map(() => test).join(' + ')}) as ??`, [...bindings, 'nonNumeric']));
}

const NUMBER_PATTERN = '^[-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?$';

function toRecord(entity: Exclude<Entity, 'movements'>, row: Row, readAt: Date, config: SqlSourceConfig): StockRecord | CostRecord | ItemRecord {
  const code = String(row.sku);
  if (entity === 'stock') {
    // a record that cannot be read is returned marked `invalid`, never thrown: the rest of the batch stands
    const problems: string[] = [];
    const nonNumeric = Number(row.nonNumeric ?? 0);
    if (nonNumeric > 0) problems.push(`quantity is not a number in ${nonNumeric} row${nonNumeric === 1 ? '' : 's'}`);
    const read = <T>(f: () => T, fallback: T): T => {
      try {
        return f();
      } catch (e) {
        problems.push((e as Error).message);
        return fallback;
      }
    };
    const record: StockRecord = {
      code,
      location: String(row.location),
      onHand: read(() => quantity(row.onHand, 'onHand'), Number.NaN),
      committed: row.committed === undefined || row.committed === null ? 0 : read(() => quantity(row.committed, 'committed'), Number.NaN),
      asOf: row.asOf === undefined || row.asOf === null ? readAt : read(() => timestamp(row.asOf, config.timezone), new Date(Number.NaN)),
    };
    if (problems.length > 0 && nonNumeric > 0) problems.splice(1); // the sum of a non-numeric bin means nothing more
    if (problems.length > 0) record.invalid = problems.join('; ');
    return record;
  }
  if (entity === 'cost') {
    const currency = String(row.currency ?? config.cost?.currency ?? '');
    try {
      return { code, amount: decimal(row.unitCost), currency };
    } catch (e) {
      return { code, amount: String(row.unitCost), currency, invalid: (e as Error).message };
    }
  }
  return { code, name: String(row.name ?? '') };
}

/** A whole number of units; a fraction, an empty string or anything else is refused. */
function quantity(v: unknown, what = 'quantity'): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : v === null || String(v).trim() === '' ? Number.NaN : Number(String(v));
  if (!Number.isSafeInteger(n)) throw new Error(`${what} is not a whole number: ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
  return n;
}

/** A decimal as text, exactly as the source has it (a SQLite REAL prints its shortest round-trip form). */
function decimal(v: unknown): string {
  const s = typeof v === 'number' ? String(v) : String(v).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new Error(`unit cost is not a decimal: ${JSON.stringify(v)}`);
  return s;
}
