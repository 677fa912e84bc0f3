/**
 * The seam between the gateway and a source system. A connector answers batched reads for
 * the entities it maps, in the source's own codes, and knows nothing of canonical SKUs or
 * precedence. One contract test suite (test/connector-contract.test.ts) runs against every
 * implementation. Which implementation a configured source gets is decided by its `kind`, in
 * the registry (src/sources/registry.ts).
 */
import type { Entity, RecordOf } from '../domain/records.js';
import type { PoolStats } from './health.js';

/** Told about every statement a connector sends, so a request can count its I/O. */
export interface StatementMeter {
  /** `identifiers`: a page of a source's identifier values (SKU matching). */
  statement(source: string, entity: Entity | 'identifiers'): void;
}

/** A meter that adds each statement to `counts`, keyed `source/entity` (as x-source-statements shows them). */
export function countingMeter(counts: Map<string, number>): StatementMeter {
  return {
    statement(source, entity) {
      const k = `${source}/${entity}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    },
  };
}

/**
 * Bounds of one read, set by the resilience layer (src/sources/resilience.ts), which answers
 * the caller at the deadline whatever happens. A connector should stop its own work then too
 * (the SQL connector has its statement killed) so nothing keeps running for nobody.
 */
export interface ReadOptions {
  /** Epoch ms by which the read must have settled. Without it, the source's own `timeoutMs` from now. */
  deadline?: number;
  /** Aborted when the caller stops waiting (the deadline passed). */
  signal?: AbortSignal;
  /**
   * For a connector with a queue of its own (the SQL connector's connection pool): call it when a
   * statement starts waiting for what other reads hold, and call the function it returns when the
   * wait is over. A read still waiting at its deadline is load shed, not a failure of the source.
   */
  queued?(): () => void;
}

/**
 * A read a connector did not send because it waited in the connector's own queue until too
 * little of its deadline was left for the source to answer in: load shed, like a read refused
 * by the resilience layer's bulkhead. Says nothing about the source.
 */
/**
 * Whether a read whose turn came after waiting should be shed rather than started: less of its
 * deadline is `left` than the source took for its last answer (`pace`), plus a margin for the
 * jitter of a busy machine (a tenth of the pace, at least 10 ms): started, it would most likely
 * be killed at its deadline, which costs a statement, a KILL and a failure the source did not
 * cause. No pace yet (0): never shed.
 */
export function startsTooLate(left: number, pace: number): boolean {
  return pace > 0 && left < pace + Math.max(10, pace / 10);
}

export class LoadShedError extends Error {
  constructor() {
    super('load shed: too little of the deadline left after waiting for a connection');
    this.name = 'LoadShedError';
  }
}

/**
 * One entity's mapping does not match its source (a table or column that does not exist, a
 * `query` without a required alias), although the source itself answers: a fault of the config,
 * not of the source. It costs that entity only: the resilience layer reports it on the source's
 * health per entity and does not count it toward the breaker (src/sources/resilience.ts).
 * `reason` is fit for a client: table and column names from the config, never SQL or hosts.
 */
export class MappingError extends Error {
  constructor(
    readonly source: string,
    /** `stock`, `cost`, `items`, `movements`, or another mapping of the source (`orders`). */
    readonly entity: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`source "${source}" ${entity}: ${reason}`, options);
    this.name = 'MappingError';
  }

  /** Other mappings of the same source found wrong along with this one (by `ping`, which tries them all). */
  also: MappingError[] = [];

  /** This one and `also`. */
  all(): MappingError[] {
    return [this, ...this.also];
  }
}

/** What `Connector.probe` found for one mapping: ok with what it holds (`412 codes`), or what is wrong. */
export type EntityProbe = { entity: string; ok: true; detail: string } | { entity: string; ok: false; reason: string };

/** A code whose change column was read by `changedCodes`, with that column's value as the driver gave it. */
export interface ChangedRow {
  code: string;
  changed: unknown;
}

/** One identifier value of one of a source's codes (a barcode, a GTIN, a supplier part number), as the source has it. */
export interface IdentifierRow {
  code: string;
  value: string;
}

export interface Connector {
  /** The source's name in the config (`wms`, `erp`, ...). */
  readonly name: string;
  /** The kind of system behind it (`sql`, ...), shown to operators. */
  readonly kind: string;
  /** The entities this source maps; `fetch` is only called for these. */
  readonly entities: ReadonlySet<Entity>;
  /**
   * All records for the given source codes, in any order; a code the source lacks simply has
   * no record. Rows for the same (code, location) arrive already summed. Issues as few
   * statements as the source allows: one per batch of about 1,000 codes. Rejects when the
   * source fails; the caller turns that into a partial answer. A record the source holds but
   * that cannot be read (a quantity that is not a number, an unparseable date) is returned
   * with `invalid` set, never thrown for the whole batch: the domain decides what it costs.
   */
  fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter, options?: ReadOptions): Promise<RecordOf[E][]>;
  /**
   * The source's distinct stock codes in its own order, `limit` at a time, after the code
   * `after` (exclusive; null for the first page): how orphan codes (codes no canonical SKU
   * maps) are found without reading a whole system into memory, and how a mirror loads a
   * source (src/feeds/mirror.ts). `entity`: whose mapping to list (default stock). One statement per page.
   */
  listCodes?(after: string | null, limit: number, meter?: StatementMeter, entity?: 'stock' | 'cost' | 'items'): Promise<string[]>;
  /**
   * The values of the identifier mapping `name` (`sources.<s>.identifiers.<name>`), `limit` rows a
   * page in (code, value) order by code point (the byte order of UTF-8), after the row `after`
   * (exclusive; null for the first page); rows without a code or a value are left out, a repeated
   * (code, value) comes once. How SKU matching (src/service/sku-matching.ts) reads a whole system
   * in bounded memory. One statement per page.
   */
  identifiers?(name: string, after: IdentifierRow | null, limit: number, meter?: StatementMeter): Promise<IdentifierRow[]>;
  /**
   * Stock codes changed from `since` up to `until` by the change column `column` (a poll feed's
   * `changedSince`), in (changed, code) order after `after`, `limit` rows a statement.
   */
  changedCodes?(column: string, since: unknown, until: unknown, after: ChangedRow | null, limit: number, meter?: StatementMeter): Promise<ChangedRow[]>;
  /**
   * Every record of `entity`, streamed to `each` a batch at a time (a whole-source read, no
   * deadline): how a mirror loads a SQL source. Answers how many records.
   */
  scan?<E extends Entity>(entity: E, each: (records: RecordOf[E][]) => void | Promise<void>, batch?: number, signal?: AbortSignal): Promise<number>;
  /** The newest value of the change column `column` (null: no rows): where a poll starts. */
  latestChange?(column: string, meter?: StatementMeter): Promise<unknown>;
  /**
   * Which of these order references the source's `orders` mapping holds (an order it has taken
   * over): how a CONFIRMED reservation is handed over to the source's own committed figure
   * (src/service/reservations.ts). One statement per batch of about 1,000 references.
   */
  orderReferences?(references: readonly string[], options?: ReadOptions): Promise<Set<string>>;
  /**
   * Verifies the source can be reached and every mapping matches it (used at start-up and by
   * readiness checks). Rejects with a MappingError (the first entity whose mapping is wrong) when
   * the source answers but a mapping does not match it.
   */
  ping(options?: ReadOptions): Promise<void>;
  /**
   * The cheapest question that says whether the source answers at all, for the background health
   * check (src/service/health-checks.ts, `sources.X.healthCheck.intervalSeconds`): SQL `select 1`
   * through the source's own pool; files: a look at the directory (a newer file is loaded, as a
   * read would) and a snapshot to serve; HTTP: one HEAD of `baseUrl` with the auth headers. Bounded
   * by `options.deadline`. Rejects when the source does not answer; never checks the mappings
   * (`ping` and `probe` do). Without it, `ping` is the check.
   */
  check?(options?: ReadOptions): Promise<void>;
  /**
   * Checks each mapping against the source, one result per mapping, for `config check --connect`
   * and the start-up summary (src/sources/probe.ts): what it holds (`412 codes`), or what is
   * wrong with it. Rejects only when the source itself cannot be reached. Without it, `ping`
   * stands for every entity. Each statement has the source's own deadline.
   */
  probe?(): Promise<EntityProbe[]>;
  /** Connection pool counters, for the health registry and tests; absent when the source has no pool. */
  poolStats?(): PoolStats;
  /**
   * Why the source is degraded although it answers, in words fit for a client (a file source
   * serving its last snapshot: a newer file refused, or no file found any more); null when it is
   * not. The health registry shows the source DEGRADED with this reason.
   */
  problem?(): string | null;
  close(): Promise<void>;
}
