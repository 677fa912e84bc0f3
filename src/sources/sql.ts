/**
 * A source system read through SQL (MySQL/MariaDB via mysql2, PostgreSQL via pg, or a SQLite file), mapped by
 * config: either `table` + `columns` (+ `where`), or a read-only `query` whose columns are
 * already aliased to the canonical names. Bins are summed by the database (GROUP BY), values
 * are always bound and identifiers quoted by knex, and each batch of up to `chunkSize` codes
 * is exactly one statement.
 *
 * On PostgreSQL a `query` may alias its columns unquoted (`qty as onHand`, which PostgreSQL
 * folds to `onhand`) or quoted (`qty as "onHand"`): the connector learns the names the query
 * gives (src/sources/query-columns.ts) and reads each alias as the database spelled it. The
 * aliases in lower case already (`sku`, `value`) are read as written.
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
import {
  LoadShedError,
  MappingError,
  startsTooLate,
  type ChangedRow,
  type Connector,
  type EntityProbe,
  type IdentifierRow,
  type ReadOptions,
  type StatementMeter,
} from './connector.js';
import type { PoolStats } from './health.js';
import { mappingFault, queryColumns } from './query-columns.js';

/** Codes per IN list. About 1,000 keeps statements small on every engine. */
export const DEFAULT_CHUNK_SIZE = 1000;

/** `probe` counts a mapping's distinct codes up to this many (`over 100000 codes` beyond). */
export const PROBE_COUNT_LIMIT = 100_000;

type Mapping = StockMapping | CostMapping | ItemsMapping;
type Row = Record<string, unknown>;
/** A mapping's column for a canonical name (`onHand`), or undefined when it maps none. */
type ColumnOf = (canonical: string) => string | undefined;

/** The aliases a `query` mapping of each entity must give; any other alias it may give is optional. */
const QUERY_ALIASES = {
  stock: { required: ['sku', 'location', 'onHand'], optional: ['committed', 'asOf'] },
  cost: { required: ['sku', 'unitCost'], optional: ['currency'] },
  items: { required: ['sku', 'name'], optional: [] },
  movements: { required: ['sku', 'location', 'quantity'], optional: ['kind', 'asOf', 'reference'] },
  orders: { required: ['reference'], optional: [] },
} as const;
type MappingName = keyof typeof QUERY_ALIASES;

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
  // statements a deadline can cut short: KILL QUERY on MySQL, pg_cancel_backend on PostgreSQL
  const cancel = config.client !== 'better-sqlite3';
  const pool = (): TarnPool | undefined => (db.client as { pool?: TarnPool }).pool;
  /** How long the last statement that answered took once it had its connection, in ms. */
  let pace = 0;
  const entities = new Set<Entity>((['stock', 'cost', 'items', 'movements'] as const).filter((e) => config[e] !== undefined));

  /** Each `query` mapping's columns by canonical alias, learned once (`learn`); table mappings name theirs. */
  const learned = new Map<object, ReadonlyMap<string, string>>();
  const learning = new Map<object, Promise<void>>();

  /** The column of a canonical name in a mapping: its `columns` entry, or the alias its query gives. */
  function columnOf(m: { query?: string | undefined; columns?: object | undefined }): ColumnOf {
    if (m.query === undefined) return (k) => (m.columns as Record<string, string | undefined> | undefined)?.[k];
    const found = learned.get(m);
    if (found === undefined) throw new Error(`source "${name}": the columns of a query mapping were not learned before use`);
    return (k) => found.get(k);
  }

  /** The mappings one entity (or `orders`) reads. */
  function mappingsOf(what: MappingName): (MappedSource & { kind?: string })[] {
    if (what === 'movements') return config.movements ?? [];
    const m = config[what];
    return m === undefined ? [] : [m];
  }

  /**
   * Learns the columns of `what`'s query mappings (once each: a statement that reads no row) and
   * checks the required aliases are there; a wrong mapping is a MappingError naming what is wrong.
   */
  async function learn(what: MappingName): Promise<void> {
    for (const m of mappingsOf(what)) {
      if (m.query === undefined || learned.has(m)) continue;
      let p = learning.get(m);
      if (p === undefined) {
        const { required, optional } = QUERY_ALIASES[what];
        p = queryColumns(db, m.query, [...required, ...optional], config.timeoutMs).then(({ found, names }) => {
          const needed: string[] = [...required];
          if (what === 'cost' && config.cost?.currency === undefined) needed.push('currency');
          if (what === 'movements' && m.kind === undefined) needed.push('kind');
          const missing = needed.filter((a) => !found.has(a));
          if (missing.length > 0) {
            const why =
              what === 'cost' && missing.includes('currency')
                ? ' (or set a fixed `currency` on the mapping)'
                : what === 'movements' && missing.includes('kind')
                  ? ' (or set a fixed `kind` on the mapping)'
                  : '';
            throw new MappingError(
              name,
              what,
              `its query gives no ${missing.map((a) => `\`${a}\``).join(', ')} column${missing.length > 1 ? 's' : ''}${why}; it gives ${names.join(', ') || 'none'}`,
            );
          }
          learned.set(m, found);
        });
        learning.set(m, p);
        // a failure is not kept: the next read asks again (the source may have been down)
        p.catch(() => learning.delete(m));
      }
      await p.catch((e: unknown) => {
        throw asMappingError(what, e);
      });
    }
  }

  /** A driver error that says the mapping does not match the database, as a MappingError of `what`; any other error as it is. */
  function asMappingError(what: string, e: unknown): unknown {
    if (e instanceof MappingError) return e;
    const fault = mappingFault(e);
    return fault === undefined ? e : new MappingError(name, what, fault, { cause: e });
  }

  /** The statements one batch of codes costs: one per mapping (movements may have several). */
  /** `codes` null: every code (a whole-source scan, without the deadline of a read). */
  function statements(entity: Entity, codes: readonly string[] | null): Knex.QueryBuilder[] {
    if (entity === 'movements') return (config.movements ?? []).map((m) => movementStatement(db, m, config, codes, columnOf(m)));
    return [statement(entity, codes)];
  }

  function statement(entity: Exclude<Entity, 'movements'>, codes: readonly string[] | null): Knex.QueryBuilder {
    const m = config[entity] as Mapping;
    const col = columnOf(m);
    const { q, sku } = m.query !== undefined ? fromQuery(db, entity, m.query, col) : fromTable(db, entity, m);
    if (entity === 'stock') countNonNumeric(db, q, col);
    if (codes === null) return q;
    return q.timeout(config.timeoutMs, { cancel }).whereIn(sku, codes as string[]);
  }

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter, options?: ReadOptions): Promise<RecordOf[E][]> {
    if (!entities.has(entity)) throw new Error(`source "${name}" maps no ${entity}`);
    const readAt = new Date();
    const deadline = options?.deadline ?? readAt.getTime() + config.timeoutMs;
    const out: RecordOf[E][] = [];
    const chunks: (readonly string[])[] = [];
    for (let i = 0; i < codes.length; i += chunkSize) chunks.push(codes.slice(i, i + chunkSize));
    if (chunks.length > 0) await learn(entity);
    const results = await Promise.all(
      chunks.flatMap((chunk) =>
        statements(entity, chunk).map((q) => {
          meter?.statement(name, entity);
          return runWhileLocked(withinDeadline(q, deadline, options), deadline);
        }),
      ),
    ).catch((e: unknown) => {
      throw asMappingError(entity, e);
    });
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
   * sent, the connection is evicted; on PostgreSQL knex sends pg_cancel_backend likewise. SQLite statements are synchronous and cannot be cut short.
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
      b.timeout(Math.max(1, left), { cancel });
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
        if (cancel || !isSqliteBusy(e)) throw e;
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
    const inner = mappedRows(db, m);
    const col = m.query !== undefined ? 'sku' : (m.columns?.sku as string);
    // exact (binary) order and comparison, whatever the column's collation
    const key = exactKey(db);
    const q = inner
      .select(db.raw(`distinct ${key} as ??`, [col, 'code']))
      .whereNotNull(col)
      .orderBy('code')
      .limit(limit)
      .timeout(config.timeoutMs, { cancel });
    if (after !== null) q.whereRaw(`${key} > ${exactValue(db)}`, [col, after]);
    meter?.statement(name, entity);
    const rows = (await q) as { code: unknown }[];
    return rows.map((r) => (Buffer.isBuffer(r.code) ? r.code.toString('utf8') : String(r.code)));
  }

  /**
   * The identifier mapping `id`'s distinct (code, value) rows, `limit` a statement, in byte order
   * (binary on MySQL, text on SQLite, so a numeric column pages as the codes do) after `after`.
   */
  async function identifiers(id: string, after: IdentifierRow | null, limit: number, meter?: StatementMeter): Promise<IdentifierRow[]> {
    const m = config.identifiers?.[id];
    if (m === undefined) throw new Error(`source "${name}" maps no identifier "${id}"`);
    const sku = m.query !== undefined ? 'sku' : (m.columns?.sku as string);
    const value = m.query !== undefined ? 'value' : (m.columns?.value as string);
    const client = config.client;
    const key = client === 'mysql2' ? 'cast(?? as binary)' : client === 'pg' ? 'cast(?? as text) collate "C"' : 'cast(?? as text)';
    const bound = client === 'mysql2' ? 'cast(? as binary)' : client === 'pg' ? '? collate "C"' : '?';
    const q = mappedRows(db, m)
      .select(db.raw(`distinct ${key} as ??, ${key} as ??`, [sku, 'code', value, 'value']))
      .whereNotNull(sku)
      .whereNotNull(value)
      .orderBy([{ column: 'code' }, { column: 'value' }])
      .limit(limit)
      .timeout(config.timeoutMs, { cancel });
    if (after !== null)
      q.where((w) =>
        w
          .whereRaw(`${key} > ${bound}`, [sku, after.code])
          .orWhere((w2) => w2.whereRaw(`${key} = ${bound}`, [sku, after.code]).whereRaw(`${key} > ${bound}`, [value, after.value])),
      );
    meter?.statement(name, 'identifiers');
    const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
    return ((await q) as { code: unknown; value: unknown }[]).map((r) => ({ code: text(r.code), value: text(r.value) }));
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
    const key = exactKey(db);
    q.select(db.raw(`${key} as ??`, [sku, 'code']), db.raw('?? as ??', [column, 'changed']))
      .whereNotNull(column)
      .orderBy([{ column: 'changed' }, { column: 'code' }])
      .limit(limit)
      .timeout(config.timeoutMs, { cancel });
    if (since !== null) q.where(column, '>=', since as Knex.Value);
    if (until !== null) q.where(column, '<=', until as Knex.Value);
    if (after !== null)
      q.where((w) =>
        w
          .where(column, '>', after.changed as Knex.Value)
          .orWhere((w2) => w2.where(column, '=', after.changed as Knex.Value).whereRaw(`${key} > ${exactValue(db)}`, [sku, after.code])),
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
      const q = mappedRows(db, m);
      const c = columnOf(m);
      for (const k of keys) {
        const col = c(k);
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
      cols(m, ['sku', 'location', 'quantity', ...(m.kind === undefined ? ['kind'] : []), 'asOf', 'reference'], m.kind),
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
    await learn(entity);
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
    const row = (await q.max({ latest: column }).timeout(config.timeoutMs, { cancel }).first()) as { latest: unknown } | undefined;
    return row?.latest ?? null;
  }

  /** The `orders` mapping's distinct references among `references` (an empty list: none, but the table and column must exist). */
  function ordersStatement(references: readonly string[]): Knex.QueryBuilder {
    const m = config.orders as NonNullable<SqlSourceConfig['orders']>;
    const col = columnOf(m)('reference') as string;
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
    await learn('orders');
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

  /** The mappings to check, in order: the entities, then `orders`. */
  function mappingNames(): MappingName[] {
    return [...entities, ...(config.orders !== undefined ? (['orders'] as const) : [])];
  }

  /** One mapping's statement with an empty IN list (learning its query's columns first). */
  async function emptyRead(what: MappingName, deadline: number, options: ReadOptions | undefined): Promise<void> {
    await learn(what);
    const qs = what === 'orders' ? [ordersStatement([])] : statements(what, []);
    for (const q of qs) await runWhileLocked(withinDeadline(q, deadline, options), deadline);
  }

  /** `412 codes`: the distinct codes of a mapping (references of `orders`), counted up to PROBE_COUNT_LIMIT. */
  async function countCodes(what: MappingName): Promise<string> {
    let n = 0;
    for (const m of mappingsOf(what)) {
      const col = columnOf(m)(what === 'orders' ? 'reference' : 'sku') as string;
      const inner = mappedRows(db, m)
        .distinct({ code: col })
        .whereNotNull(col)
        .limit(PROBE_COUNT_LIMIT + 1);
      const row = (await db.from(inner.as('codes')).count({ n: '*' }).first().timeout(Math.max(config.timeoutMs, 10_000), { cancel })) as
        { n: unknown } | undefined;
      n = Math.max(n, Number(row?.n ?? 0));
    }
    const noun = what === 'orders' ? 'references' : 'codes';
    return n > PROBE_COUNT_LIMIT ? `over ${PROBE_COUNT_LIMIT} ${noun}` : `${n} ${n === 1 ? noun.slice(0, -1) : noun}`;
  }

  return {
    name,
    kind: 'sql',
    entities,
    fetch,
    ...(config.orders !== undefined ? { orderReferences } : {}),
    listCodes,
    ...(config.identifiers !== undefined ? { identifiers } : {}),
    changedCodes,
    latestChange,
    scan,
    /**
     * Runs each mapping's statement with an empty IN list: the source answers and every mapped
     * table and column exists. Every mapping is tried; the first wrong one is thrown (a
     * MappingError, with the others in `also`), a source that does not answer at once.
     */
    async ping(options?: ReadOptions) {
      const deadline = options?.deadline ?? Date.now() + config.timeoutMs;
      const wrong: MappingError[] = [];
      for (const what of mappingNames()) {
        try {
          await emptyRead(what, deadline, options);
        } catch (e) {
          const err = asMappingError(what, e);
          if (!(err instanceof MappingError)) throw err;
          wrong.push(err);
        }
      }
      const [first, ...also] = wrong;
      if (first !== undefined) {
        first.also = also;
        throw first;
      }
    },
    /** `select 1` through the pool, under the deadline (waiting for a connection included): the database answers. */
    async check(options?: ReadOptions) {
      const deadline = options?.deadline ?? Date.now() + config.timeoutMs;
      await runWhileLocked(db.select(db.raw('1 as ok')).timeout(Math.max(1, deadline - Date.now()), { cancel }) as unknown as Knex.QueryBuilder, deadline);
    },
    /**
     * Per mapping: its statement with an empty IN list (each with the source's deadline), then
     * how many distinct codes (or references) it holds, counted up to PROBE_COUNT_LIMIT.
     * Rejects when the source cannot be reached.
     */
    async probe(): Promise<EntityProbe[]> {
      const out: EntityProbe[] = [];
      for (const what of mappingNames()) {
        try {
          await emptyRead(what, Date.now() + config.timeoutMs, undefined);
          out.push({ entity: what, ok: true, detail: await countCodes(what) });
        } catch (e) {
          const err = asMappingError(what, e);
          if (!(err instanceof MappingError)) throw err;
          out.push({ entity: what, ok: false, reason: err.reason });
        }
      }
      return out;
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
function movementStatement(db: Knex, m: MovementMapping, config: SqlSourceConfig, codes: readonly string[] | null, columns: ColumnOf): Knex.QueryBuilder {
  // a fixed kind wins over a `kind` alias of a query
  const col = (k: string): string | undefined => (k === 'kind' && m.kind !== undefined ? undefined : columns(k));
  const q = mappedRows(db, m);
  const sku = col('sku') as string;
  const location = col('location') as string;
  const kind = col('kind');
  q.select({ sku, location }).sum({ quantity: numeric(db.client as Knex.Client, col('quantity') as string) });
  if (kind !== undefined) q.select({ kind }).groupBy(kind);
  else q.select(db.raw('? as ??', [m.kind as string, 'kind']));
  const asOf = col('asOf');
  if (asOf !== undefined) q.max({ asOf });
  // one row per document: the reconciliation line names them
  const reference = col('reference');
  if (reference !== undefined) q.select({ reference }).groupBy(reference);
  q.groupBy(sku, location);
  if (config.client === 'mysql2') q.groupBy(db.raw('binary ??', [sku]));
  const qty = col('quantity') as string;
  const [test, bindings] = nonNumericTest(db, qty);
  q.select(db.raw(`sum(${test}) as ??`, [...bindings, 'nonNumeric']));
  if (codes === null) return q;
  return q.timeout(config.timeoutMs, { cancel: config.client !== 'better-sqlite3' }).whereIn(sku, codes as string[]);
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

/** The configured query becomes a derived table; `col` gives the columns it has (learned: optional aliases may be absent). */
function fromQuery(db: Knex, entity: Entity, sql: string, col: ColumnOf): Base {
  const q = mappedRows(db, { query: sql });
  return { q: select(q, entity, col), sku: col('sku') as string };
}

/** Selects the canonical columns; for stock, sums quantities per (sku, location). */
function select(q: Knex.QueryBuilder, entity: Entity, col: (canonical: string) => string | undefined): Knex.QueryBuilder {
  const sku = col('sku') as string;
  if (entity === 'stock') {
    const location = col('location') as string;
    q.select({ sku, location }).sum({ onHand: numeric(q.client as Knex.Client, col('onHand') as string) });
    const committed = col('committed');
    const asOf = col('asOf');
    if (committed !== undefined) q.sum({ committed: numeric(q.client as Knex.Client, committed) });
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
  const tests = cols.map((c) => nonNumericTest(db, c));
  q.select(db.raw(`sum(${tests.map(([t]) => `(${t})`).join(' + ')}) as ??`, [...tests.flatMap(([, b]) => b), 'nonNumeric']));
}

const NUMBER_PATTERN = '^[-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?$';

/**
 * 1 when a row's `col` holds something that is not a number, else 0: MySQL and PostgreSQL test
 * the text against NUMBER_PATTERN (`not regexp`, `!~`), SQLite compares it with its numeric cast.
 */
function nonNumericTest(db: Knex, col: string): [string, Knex.RawBinding[]] {
  const client = db.client.config.client as string;
  if (client === 'mysql2') return ['?? is not null and trim(??) not regexp ?', [col, col, NUMBER_PATTERN]];
  if (client === 'pg') return ['case when ?? is not null and trim(??::text) !~ ? then 1 else 0 end', [col, col, NUMBER_PATTERN]];
  return ['?? is not null and ?? <> cast(?? as numeric)', [col, col, col]];
}

/**
 * What SUM adds up for a quantity column: the column itself, but on PostgreSQL (which sums no
 * text and fails a cast of 'abc') its numeric value when its text is a number, else NULL; the
 * row is then counted by `nonNumericTest`, so the record is marked invalid, never summed short.
 */
function numeric(client: Knex.Client, col: string): string | Knex.Raw {
  if (client.config.client !== 'pg') return col;
  return client.raw('(case when trim(??::text) ~ ? then trim(??::text)::numeric end)', [col, NUMBER_PATTERN, col]) as Knex.Raw;
}

/** A code compared and ordered byte for byte, whatever the column's collation (`??` the column). */
function exactKey(db: Knex): string {
  const client = db.client.config.client as string;
  return client === 'mysql2' ? 'cast(?? as binary)' : client === 'pg' ? '?? collate "C"' : '??';
}

/** The bound value compared with `exactKey`. */
function exactValue(db: Knex): string {
  const client = db.client.config.client as string;
  return client === 'mysql2' ? 'cast(? as binary)' : client === 'pg' ? '? collate "C"' : '?';
}

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
  // a decimal as text (a DECIMAL or NUMERIC sum) is shown as the number it is, unquoted
  const shown = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? v.trim() : JSON.stringify(typeof v === 'bigint' ? String(v) : v);
  if (!Number.isSafeInteger(n)) throw new Error(`${what} is not a whole number: ${shown}`);
  return n;
}

/** A decimal as text, exactly as the source has it (a SQLite REAL prints its shortest round-trip form). */
function decimal(v: unknown): string {
  const s = typeof v === 'number' ? String(v) : String(v).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new Error(`unit cost is not a decimal: ${JSON.stringify(v)}`);
  return s;
}
