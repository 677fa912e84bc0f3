/**
 * SKU matching (`skuMap`, docs/sku-matching.md): derives the SKU map's aliases from the systems
 * themselves. The catalogue's items are the canonical SKUs (`catalogueCodes: canonical` creates
 * them and the catalogue's own aliases); every `match` rule then gives each code of its systems
 * the SKU of the catalogue item sharing one of its identifier values (barcode, GTIN, supplier
 * part number, or the code itself). Conflicts and unmatched codes are recorded as anomalies
 * (SKU_MATCH_CONFLICT, UNMATCHED_CODE); aliases written by hand (`skus import`) always win.
 *
 * Use: `createSkuMatcher({ config, connectors, store, logger })`, then `run({ dryRun })` once (the
 * `skus match` command) or `start()` / `stop()` (the server: once at start in the background,
 * then every `skuMap.intervalSeconds`).
 *
 * Memory: one index per rule of the catalogue's values (value -> catalogue code: about 125 bytes
 * a value, so 125 MB for a million barcodes), held for the run, and a window of each system's rows
 * (`batchSize` rows per rule); nothing else grows with the catalogue. Each system is read in code order, page by page (one statement each), its
 * rows merged across rules by code, and each window's aliases are written in one store
 * transaction after reading what the map holds for that range of codes (one statement).
 */
import type { Config } from '../config/index.js';
import {
  AMBIGUOUS,
  CODE_IDENTIFIER,
  addToIndex,
  catalogueConflictAnomaly,
  codeConflictAnomaly,
  compareCodes,
  decideMatch,
  normaliseIdentifier,
  planAliases,
  unmatchedAnomaly,
  type CompareMode,
  type ExistingAlias,
  type IndexEntry,
  type RuleValues,
} from '../domain/sku-matching.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector, IdentifierRow } from '../sources/connector.js';
import type { NewAnomaly, Store } from '../store/index.js';

export interface SkuMatchResult {
  dryRun: boolean;
  /** Aliases written: new, or a matched alias whose SKU changed (the catalogue's own included). */
  matched: number;
  /** Matches the map already held. */
  unchanged: number;
  /** Matched aliases removed: their match is gone (the value changed, the code left, a conflict arose). */
  removed: number;
  /** Codes left to their hand-written alias. */
  handWritten: number;
  /** Catalogue values shared by two items, and system codes that match two SKUs. */
  conflicts: number;
  /** System codes with identifiers that match no catalogue item. */
  unmatched: number;
  /** The first conflicts, in words (at most 20). */
  firstConflicts: string[];
}

const SHOWN_CONFLICTS = 20;

/** Thrown between windows when the matcher is stopped. */
class Stopped extends Error {}

/**
 * Which list of codes a system's own codes come from. The catalogue: its item list if mapped, else
 * stock, else cost (the item master is what defines SKUs). A matched system: its stock codes if
 * mapped, else items, else cost (the codes that carry stock are the ones that need a SKU; a
 * shop's item table may be empty or hold items it never stocks).
 */
function codeEntity(c: Connector, role: 'catalogue' | 'system'): 'items' | 'stock' | 'cost' {
  const order = role === 'catalogue' ? (['items', 'stock', 'cost'] as const) : (['stock', 'items', 'cost'] as const);
  return order.find((e) => c.entities.has(e)) ?? 'stock';
}

/** A source's rows under one rule, page by page in code order; `buf` holds what was read and not yet taken. */
interface Cursor {
  buf: IdentifierRow[];
  done: boolean;
  next(): Promise<void>;
}

function cursor(c: Connector, identifier: string, batch: number, role: 'catalogue' | 'system'): Cursor {
  let after: IdentifierRow | null = null;
  const cur: Cursor = {
    buf: [],
    done: false,
    async next() {
      let page: IdentifierRow[];
      if (identifier === CODE_IDENTIFIER) {
        if (c.listCodes === undefined) throw new Error(`source "${c.name}" cannot list its codes`);
        const codes = await c.listCodes(after?.code ?? null, batch, undefined, codeEntity(c, role));
        page = codes.map((code) => ({ code, value: code }));
      } else {
        if (c.identifiers === undefined) throw new Error(`source "${c.name}" maps no identifiers`);
        page = await c.identifiers(identifier, after, batch);
      }
      for (const r of page) cur.buf.push(r);
      if (page.length < batch) cur.done = true;
      if (page.length > 0) after = page.at(-1) as IdentifierRow;
    },
  };
  return cur;
}

/**
 * Windows of rows merged from several cursors by code: each window holds every row of the codes
 * it covers, from every cursor, and says the range of codes it covers, `(after, upTo]` (upTo null:
 * to the end). A code's rows never straddle two windows.
 */
async function* windows(cursors: readonly Cursor[], stopped: () => boolean): AsyncGenerator<{ rows: IdentifierRow[][]; upTo: string | null }> {
  for (;;) {
    if (stopped()) throw new Stopped('stopped');
    for (const c of cursors) if (!c.done && c.buf.length === 0) await c.next();
    // codes below the smallest last code read by a cursor not yet done are complete in every cursor
    let limit: string | null = null;
    for (const c of cursors) {
      if (c.done) continue;
      const last = (c.buf.at(-1) as IdentifierRow).code;
      if (limit === null || compareCodes(last, limit) < 0) limit = last;
    }
    const rows = cursors.map((c) => {
      if (limit === null) return c.buf.splice(0);
      let n = 0;
      while (n < c.buf.length && compareCodes((c.buf[n] as IdentifierRow).code, limit) < 0) n++;
      return c.buf.splice(0, n);
    });
    if (limit === null) {
      yield { rows, upTo: null };
      return;
    }
    let upTo: string | null = null;
    for (const r of rows) {
      const last = r.at(-1)?.code;
      if (last !== undefined && (upTo === null || compareCodes(last, upTo) > 0)) upTo = last;
    }
    if (upTo === null) {
      // every row read so far is of one code that may go on: read on for the cursors that hold only it
      for (const c of cursors) if (!c.done && (c.buf.at(-1) as IdentifierRow).code === limit) await c.next();
      continue;
    }
    yield { rows, upTo };
  }
}

export interface SkuMatcherDeps {
  config: Config;
  connectors: ReadonlyMap<string, Connector>;
  store: Store;
  logger: Logger;
  /** The fleet's one SKU matcher (src/service/leases.ts): scheduled runs only on its holder, which stops at its next window once it lost it. */
  lease?: { held(): boolean };
}

export function createSkuMatcher(o: SkuMatcherDeps) {
  const cfg = o.config.skuMap;
  const batch = cfg.batchSize;
  let stopping = false;
  /** The run under way is the schedule's (held to the lease), not one asked for (`skus match`). */
  let scheduled = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SkuMatchResult> | undefined;

  function connector(name: string): Connector {
    const c = o.connectors.get(name);
    if (c === undefined) throw new Error(`skuMap: unknown source "${name}"`);
    return c;
  }

  async function runOnce(dryRun: boolean): Promise<SkuMatchResult> {
    const result: SkuMatchResult = { dryRun, matched: 0, unchanged: 0, removed: 0, handWritten: 0, conflicts: 0, unmatched: 0, firstConflicts: [] };
    const catalogueName = cfg.catalogue;
    if (catalogueName === undefined) return result;
    const catalogue = connector(catalogueName);
    const canonical = cfg.catalogueCodes === 'canonical';
    // a scheduled run whose lease was lost stops at its next window (each window is whole)
    const stopped = () => stopping || (scheduled && o.lease !== undefined && !o.lease.held());
    const conflict = (a: NewAnomaly) => {
      result.conflicts++;
      if (result.firstConflicts.length < SHOWN_CONFLICTS) result.firstConflicts.push(a.detail);
    };
    const record = async (anomalies: NewAnomaly[]) => {
      // a value or a code is at most a store code's length; the detail at most the store's column
      const fit = anomalies.map((a) => ({ ...a, code: a.code?.slice(0, 191) ?? null, detail: a.detail.slice(0, 1000) }));
      if (!dryRun && fit.length > 0) await o.store.anomalies.record(fit);
    };
    /** Writes one window's plan against what the map holds for its range (or only counts it, dry). */
    const apply = async (system: string, existing: ExistingAlias[], desired: Map<string, string>) => {
      const plan = planAliases(existing, desired);
      result.matched += plan.upserts.length;
      result.removed += plan.deletes.length - plan.changed;
      result.unchanged += plan.unchanged;
      result.handWritten += plan.handWritten;
      if (!dryRun) await o.store.skus.applyMatches(system, plan.upserts, plan.deletes);
    };

    // 1. the catalogue's own codes are canonical SKUs (each with its alias), unless written by hand
    if (canonical) {
      const codes = cursor(catalogue, CODE_IDENTIFIER, batch, 'catalogue');
      let after: string | null = null;
      for await (const w of windows([codes], stopped)) {
        const desired = new Map((w.rows[0] ?? []).map((r) => [r.code, r.code]));
        await apply(catalogueName, await o.store.skus.aliasesInRange(catalogueName, after, w.upTo), desired);
        after = w.upTo;
      }
    }

    /** Catalogue codes' SKUs: the map's, else (canonical) the code itself; undefined: none. */
    const catalogueSkus = async (codes: Iterable<string>): Promise<Map<string, string>> => {
      const list = [...new Set(codes)];
      const found = await o.store.skus.resolveMany(catalogueName, list);
      if (canonical) for (const c of list) if (!found.has(c)) found.set(c, c);
      return found;
    };

    // 2. per rule, the catalogue's values: value -> catalogue code (AMBIGUOUS when two items share it)
    const indexes: Map<string, IndexEntry>[] = [];
    for (const rule of cfg.match) {
      const index = new Map<string, IndexEntry>();
      indexes.push(index);
      const rows = cursor(catalogue, rule.identifier, batch, 'catalogue');
      for await (const w of windows([rows], stopped)) {
        const page = w.rows[0] ?? [];
        const skus = await catalogueSkus(page.map((r) => r.code));
        const found: NewAnomaly[] = [];
        for (const r of page) {
          const value = normaliseIdentifier(r.value, rule.compare as CompareMode);
          const sku = skus.get(r.code);
          if (value === null || sku === undefined) continue;
          const held = index.get(value);
          const same = held === undefined || held === AMBIGUOUS || held === r.code ? true : (await catalogueSkus([held])).get(held) === sku;
          const c = addToIndex(index, rule.identifier, value, r.code, () => same);
          if (c !== null) {
            const a = catalogueConflictAnomaly(catalogueName, c);
            conflict(a);
            found.push(a);
          }
        }
        await record(found);
      }
    }

    // 3. every system of the rules, read in code order with its rules' rows merged by code
    const systems = [...new Set(cfg.match.flatMap((r) => r.systems))];
    for (const system of systems) {
      const c = connector(system);
      const rules = cfg.match.map((r, i) => ({ ...r, i })).filter((r) => r.systems.includes(system));
      const cursors = rules.map((r) => cursor(c, r.identifier, batch, 'system'));
      let after: string | null = null;
      for await (const w of windows(cursors, stopped)) {
        // per code, its normalised values under each rule, rules in config order
        const byCode = new Map<string, Set<string>[]>();
        w.rows.forEach((rows, k) => {
          const rule = rules[k] as (typeof rules)[number];
          for (const r of rows) {
            const value = normaliseIdentifier(r.value, rule.compare as CompareMode);
            if (value === null) continue;
            let sets = byCode.get(r.code);
            if (sets === undefined) byCode.set(r.code, (sets = rules.map(() => new Set<string>())));
            (sets[k] as Set<string>).add(value);
          }
        });
        const hits = new Set<string>();
        byCode.forEach((sets) =>
          sets.forEach((values, k) => {
            for (const v of values) {
              const hit = indexes[(rules[k] as (typeof rules)[number]).i]?.get(v);
              if (typeof hit === 'string') hits.add(hit);
            }
          }),
        );
        const skus = await catalogueSkus(hits);
        const existing = await o.store.skus.aliasesInRange(system, after, w.upTo);
        const hand = new Set(existing.filter((a) => a.origin !== 'match').map((a) => a.code));
        const desired = new Map<string, string>();
        const found: NewAnomaly[] = [];
        for (const [code, sets] of byCode) {
          const values: RuleValues[] = sets.map((s, k) => ({ identifier: (rules[k] as (typeof rules)[number]).identifier, values: [...s] }));
          const outcome = decideMatch(
            values,
            (k, v) => indexes[(rules[k] as (typeof rules)[number]).i]?.get(v),
            (cat) => skus.get(cat),
          );
          if (outcome.kind === 'none') continue;
          if (hand.has(code)) {
            result.handWritten++;
            continue;
          }
          if (outcome.kind === 'matched') desired.set(code, outcome.sku);
          else if (outcome.kind === 'conflict') {
            const a = codeConflictAnomaly(system, code, outcome);
            conflict(a);
            found.push(a);
          } else {
            result.unmatched++;
            found.push(unmatchedAnomaly(system, code, outcome.values));
          }
        }
        await apply(system, existing, desired);
        await record(found);
        after = w.upTo;
      }
    }
    return result;
  }

  /** One run; a run asked while one is under way gets that one's result (dry or not, as it was asked). */
  function run(options: { dryRun?: boolean } = {}): Promise<SkuMatchResult> {
    running ??= runOnce(options.dryRun === true).finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopping) return;
    timer = setTimeout(() => {
      // another instance matches: nothing here until the next interval
      if (o.lease !== undefined && !o.lease.held()) {
        if (cfg.intervalSeconds > 0) schedule(cfg.intervalSeconds * 1000);
        return;
      }
      scheduled = true;
      run()
        .then((r) => o.logger.info('SKU matching done', { ...r, firstConflicts: r.firstConflicts.slice(0, 3) }))
        .catch((e: unknown) => {
          if (!(e instanceof Stopped)) o.logger.warn('SKU matching failed; trying again at the next interval', errorFields(e));
        })
        .finally(() => {
          scheduled = false;
          if (cfg.intervalSeconds > 0) schedule(cfg.intervalSeconds * 1000);
        });
    }, delayMs);
    timer.unref();
  }

  return {
    run,
    /** Matches now, in the background (start-up does not wait), then every `skuMap.intervalSeconds`. Nothing without a catalogue. */
    start(): void {
      if (cfg.catalogue === undefined || timer !== undefined) return;
      stopping = false;
      schedule(0);
    },
    /** Stops the schedule; a run under way stops at its next window (what it wrote stays: each window is whole). */
    async stop(): Promise<void> {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

export type SkuMatcher = ReturnType<typeof createSkuMatcher>;
