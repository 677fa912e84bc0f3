/**
 * The reconciliation questions of the API, per request: `reconciliation(skus, ...)` for a list
 * of SKUs, or the whole catalogue a page at a time; `orphanCodes(source, ...)` a page of a
 * source's codes at a time; and the recorded runs of the reconcile job with their findings.
 * Source statements and failures go into the request's diagnostics
 * (src/service/diagnostics.ts), so `x-source-statements` and SOURCE_UNAVAILABLE errors cover
 * them as they cover availability.
 */
import { BadUserInputError } from '../errors.js';
import { errorFields } from '../logger.js';
import { countingMeter, type Connector } from '../sources/connector.js';
import type { CanonicalSku } from '../domain/skus.js';
import type { Location } from '../domain/locations.js';
import type { Store } from '../store/index.js';
import type { ReconciliationRun, ReconciliationStore } from '../store/reconciliation-store.js';
import { noteFailure, type SourceDiagnostics } from './diagnostics.js';
import { describeFailure, failedEntity } from './inventory-service.js';
import { checkPageSize, MAX_LIST_PAGE } from '../domain/validation.js';
import {
  addToSummary,
  emptySummary,
  orphanAnomaly,
  orphansWithStock,
  type Gap,
  type OrphanCode,
  type Reconciliation,
  type ReconciliationLine,
  type ReconciliationLineFilter,
  type ReconciliationLinePage,
  type ReconciliationRunPage,
  type ReconciliationStatus,
} from '../domain/reconciliation.js';
import { createReconciler, orphanPage, type ReconciliationDeps } from './reconciler.js';

export interface ReconciliationApiDeps extends ReconciliationDeps {
  store: Pick<Store, 'skus' | 'anomalies'>;
  runs: ReconciliationStore;
  /** SKUs per `reconciliation(skus:)` call, and per batch of a catalogue page (one statement per source per entity). */
  maxSkusPerQuery: number;
  /** Most SKUs one catalogue page reads (`server.maxScanSkus`). Defaults to 10,000. */
  maxScanSkus?: number;
  /**
   * The orphans the last sweep counted for a source that it listed to its end
   * (`SweepRun.orphansBySource`), or null: `OrphanCodeConnection.totalCount` of a page that
   * cannot count them itself. Absent: no sweep, null.
   */
  orphanTotals?: (source: string) => number | null;
}

export interface OrphanCodePage {
  orphans: OrphanCode[];
  scanned: number;
  endCursor: string | null;
  hasNextPage: boolean;
  /** The source's orphans over every page: counted by this call when it read every code, else the sweep's count, else null. */
  totalCount: number | null;
}

export interface ReconciliationArgs {
  skus?: readonly string[] | null;
  locationIds?: readonly string[] | null;
  tolerance: number;
  statuses?: readonly ReconciliationStatus[] | null;
  first: number;
  after?: string | null;
}

/** Most codes one `orphanCodes` call reads before it answers with what it found so far. */
const MAX_SCAN = 50_000;
const PAGE = 1000;
/** Most lines one catalogue page or one page of findings answers (`first`). */
const MAX_LINES = 1000;
/** SKUs are at most this long in the store (src/store/migrations.ts): a longer cursor is no SKU. */
const MAX_SKU_LENGTH = 191;

export type ReconciliationApi = ReturnType<ReturnType<typeof createReconciliationApi>>;

export function createReconciliationApi(deps: ReconciliationApiDeps) {
  const reconciler = createReconciler(deps);
  const maxScanSkus = deps.maxScanSkus ?? 10_000;

  /** A stored line's location: the configured one, or (removed from the config since) one that only has its id. */
  const locationOf = (id: string): Location =>
    deps.locations.get(id) ?? { id, name: id, codes: {}, latitude: null, longitude: null, priority: 0, channels: null, sellable: false, safetyStock: 0 };

  return function forRequest(diagnostics: SourceDiagnostics) {
    const meter = countingMeter(diagnostics.statements);
    const fail = (source: string, e: unknown) => noteFailure(diagnostics, source, describeFailure(e), failedEntity(e));

    /** The page's orphans with their stock: one more statement (a page is at most 1,000 codes); a failure leaves it null. */
    async function withStock(source: string, codes: string[]): Promise<OrphanCode[]> {
      if (codes.length === 0) return [];
      try {
        const records = await (deps.connectors.get(source) as Connector).fetch('stock', codes, meter);
        const usable = records.filter((r) => r.invalid === undefined);
        return orphansWithStock(source, codes, usable, (l) => deps.locations.fromSourceCode(source, l));
      } catch (e) {
        fail(source, e);
        deps.logger.warn('source failed while reading orphan quantities', { source, ...errorFields(e) });
        return codes.map((code) => ({ source, code, onHand: null, locations: null }));
      }
    }

    /** Reconciles a batch of known SKUs; its failures go to the diagnostics. */
    async function batch(skus: readonly CanonicalSku[], locations: readonly Location[], tolerance: number) {
      const r = await reconciler.batch(skus, { locations, tolerance, meter });
      for (const f of r.failures) fail(f.source, f.error);
      return r;
    }

    /** `skus` given: those SKUs in request order, one batch, no next page. */
    async function listed(
      skus: readonly string[],
      locations: readonly Location[],
      tolerance: number,
      keep: (l: ReconciliationLine) => boolean,
    ): Promise<Reconciliation> {
      if (skus.length > deps.maxSkusPerQuery) {
        throw new BadUserInputError(`Too many SKUs: ${skus.length} asked, at most ${deps.maxSkusPerQuery} per query.`, {
          argumentName: 'skus',
          limit: deps.maxSkusPerQuery,
        });
      }
      const unique = [...new Set(skus)];
      const found = unique.length === 0 ? new Map<string, CanonicalSku>() : await deps.store.skus.findMany(unique);
      const known = unique.map((s) => found.get(s)).filter((s): s is CanonicalSku => s !== undefined);
      const r = await batch(known, locations, tolerance);
      deps.store.anomalies.enqueue(r.anomalies);
      const lines = r.lines.filter(keep);
      return {
        tolerance,
        lines,
        gaps: r.gaps,
        summary: addToSummary(emptySummary(), r.lines, r.gaps.length),
        scanned: known.length,
        totalCount: lines.length,
        hasNextPage: false,
        endCursor: null,
      };
    }

    /**
     * No `skus`: the catalogue in SKU order after `after`, a batch of `maxSkusPerQuery` SKUs at a
     * time (one statement per source per entity each), until the page holds `first` lines (a
     * SKU's lines all on one page) or `maxScanSkus` SKUs have been read. Summary, gaps and
     * anomalies cover the SKUs read up to the page's cursor: a batch's SKUs after it are read
     * again by the next page.
     */
    async function catalogue(
      after: string | null,
      first: number,
      locations: readonly Location[],
      tolerance: number,
      keep: (l: ReconciliationLine) => boolean,
    ): Promise<Reconciliation> {
      const lines: ReconciliationLine[] = [];
      const gaps: Gap[] = [];
      const summary = emptySummary();
      let cursor = after;
      let scanned = 0;
      let more = true;
      while (more && lines.length < first && scanned < maxScanSkus) {
        const page = await deps.store.skus.page(Math.min(deps.maxSkusPerQuery, maxScanSkus - scanned), cursor);
        if (page.skus.length === 0) {
          more = false;
          break;
        }
        const r = await batch(page.skus, locations, tolerance);
        const linesOf = groupBySku(r.lines);
        const gapsOf = groupBySku(r.gaps);
        const read = new Set<string>();
        let stoppedEarly = false;
        for (const [i, sku] of page.skus.entries()) {
          const all = linesOf.get(sku.sku) ?? [];
          const skuGaps = gapsOf.get(sku.sku) ?? [];
          read.add(sku.sku);
          lines.push(...all.filter(keep));
          gaps.push(...skuGaps);
          addToSummary(summary, all, skuGaps.length);
          scanned++;
          cursor = sku.sku;
          if (lines.length >= first && i < page.skus.length - 1) {
            stoppedEarly = true;
            break;
          }
        }
        deps.store.anomalies.enqueue(r.anomalies.filter((a) => a.sku === null || read.has(a.sku)));
        more = stoppedEarly || page.hasNextPage;
      }
      return {
        tolerance,
        lines,
        gaps,
        summary,
        scanned,
        totalCount: after === null && !more ? lines.length : null,
        hasNextPage: more,
        endCursor: cursor,
      };
    }

    return {
      /**
       * Every system side by side per (sku, location): with `skus`, those in request order
       * (unknown SKUs have no lines); without, a page of the catalogue from `after`.
       */
      async reconciliation(a: ReconciliationArgs): Promise<Reconciliation> {
        const { tolerance } = a;
        if (!Number.isSafeInteger(tolerance) || tolerance < 0) {
          throw new BadUserInputError(`\`tolerance\` must be a whole number of units, 0 or more; got ${tolerance}.`, { argumentName: 'tolerance' });
        }
        checkPageSize(a.first, MAX_LINES);
        const after = a.after ?? null;
        if (after !== null && (after === '' || after.length > MAX_SKU_LENGTH)) {
          throw new BadUserInputError(`\`after\` must be a SKU (a catalogue page's \`endCursor\`); got ${JSON.stringify(after.slice(0, 40))}.`, {
            argumentName: 'after',
          });
        }
        if (after !== null && a.skus !== null && a.skus !== undefined) {
          throw new BadUserInputError('`after` pages the whole catalogue: leave it out when `skus` is given (that answer has no next page).', {
            argumentName: 'after',
          });
        }
        if (a.statuses !== null && a.statuses !== undefined && a.statuses.length === 0) {
          throw new BadUserInputError(
            '`statuses` is empty: leave it out for every status, or name at least one of MATCH, EXPLAINED, WITHIN_TOLERANCE, DISCREPANCY.',
            {
              argumentName: 'statuses',
            },
          );
        }
        const locations = deps.locations.select(a.locationIds, null);
        const wanted = a.statuses === null || a.statuses === undefined ? null : new Set(a.statuses);
        const keep = (l: ReconciliationLine) => wanted === null || wanted.has(l.status);
        if (a.skus !== null && a.skus !== undefined) return listed(a.skus, locations, tolerance, keep);
        return catalogue(after, a.first, locations, tolerance, keep);
      },

      /**
       * Codes `source` holds that no canonical SKU maps, in the source's code order, a page at a
       * time; `withQuantities`: with their stock (one more statement for the page); `count`: a
       * page that starts at the first code reads on to the last (at most MAX_SCAN codes, a
       * statement per 1,000) to count them all.
       */
      async orphanCodes(source: string, first: number, after: string | null, withQuantities = false, count = false): Promise<OrphanCodePage> {
        const c = deps.connectors.get(source);
        if (c === undefined || !c.entities.has('stock') || c.listCodes === undefined) {
          const known = [...deps.connectors.values()].filter((x) => x.entities.has('stock')).map((x) => x.name);
          throw new BadUserInputError(`Unknown stock source ${JSON.stringify(source)}. Known: ${known.join(', ')}.`, { argumentName: 'source' });
        }
        checkPageSize(first, PAGE);
        const canonical = deps.settings.get(source)?.skuCodes === 'canonical';
        const swept = () => deps.orphanTotals?.(source) ?? null;
        const orphans: string[] = [];
        let cursor = after;
        let scanned = 0;
        let more = true;
        try {
          // asked for totalCount, a call that starts at the first code reads on to the last while it may
          while (more && (orphans.length < first || (count && after === null)) && scanned < MAX_SCAN) {
            const page = await orphanPage(c, canonical, (s, codes, canon) => deps.runs.knownCodes(s, codes, canon), cursor, PAGE, meter);
            scanned += page.scanned;
            orphans.push(...page.orphans);
            cursor = page.next;
            more = page.next !== null;
          }
        } catch (e) {
          fail(source, e);
          deps.logger.warn('source failed while listing codes', { source, ...errorFields(e) });
          return { orphans: [], scanned, endCursor: after, hasNextPage: true, totalCount: swept() };
        }
        // more found than asked: stop after the last one returned, the next page starts there
        const shown = orphans.slice(0, first);
        const endCursor = orphans.length > first ? (shown.at(-1) as string) : cursor;
        deps.store.anomalies.enqueue(orphans.map((code) => orphanAnomaly(source, code)));
        const listed = withQuantities ? await withStock(source, shown) : shown.map((code) => ({ source, code }));
        const totalCount = after === null && !more ? orphans.length : swept();
        return { orphans: listed, scanned, endCursor, hasNextPage: orphans.length > first || more, totalCount };
      },

      /** Recorded runs, newest first, after the run `after` (its id). */
      async runs(first: number, after: string | null): Promise<ReconciliationRunPage> {
        checkPageSize(first, MAX_LIST_PAGE);
        const page = await deps.runs.page(first, after === null ? null : idCursor(after, 'after', 'a run id'));
        return { runs: page.runs, totalCount: page.totalCount, hasNextPage: page.hasNextPage, endCursor: page.runs.at(-1)?.id ?? null };
      },

      /** One recorded run, or null (an id that is no whole number names none). */
      async run(id: string): Promise<ReconciliationRun | null> {
        return /^\d{1,15}$/.test(id) ? deps.runs.get(Number(id)) : null;
      },

      /**
       * A run's findings (lines not MATCH), served as live lines; a failed run has none. Unknown
       * locations and sources in the filter are BAD_USER_INPUT (a typo would answer an empty page).
       */
      async findings(
        run: ReconciliationRun,
        filter: ReconciliationLineFilter | null | undefined,
        first: number,
        after: string | null,
      ): Promise<ReconciliationLinePage> {
        checkPageSize(first, MAX_LINES);
        const f = filter ?? {};
        if (f.locations?.length) deps.locations.select(f.locations, null);
        const unknown = (f.sources ?? []).filter((s) => !deps.connectors.has(s));
        if (unknown.length > 0) {
          throw new BadUserInputError(
            `Unknown source${unknown.length > 1 ? 's' : ''}: ${unknown.map((s) => JSON.stringify(s)).join(', ')}. Known: ${[...deps.connectors.keys()].join(', ')}.`,
            {
              argumentName: 'filter.sources',
              invalid: unknown,
            },
          );
        }
        for (const [name, list] of Object.entries(f)) {
          if (Array.isArray(list) && list.length > MAX_LIST_PAGE) {
            throw new BadUserInputError(`\`filter.${name}\` lists ${list.length} values; at most ${MAX_LIST_PAGE}.`, { argumentName: `filter.${name}` });
          }
        }
        const cursor = after === null ? null : idCursor(after, 'after', 'a finding cursor');
        if (run.status === 'failed') return { lines: [], cursors: [], totalCount: 0, hasNextPage: false, endCursor: null };
        const page = await deps.runs.findings(run.id, f, first, cursor);
        return {
          lines: page.findings.map((x) => ({ ...x.line, location: locationOf(x.locationId) })),
          cursors: page.findings.map((x) => String(x.seq)),
          totalCount: page.totalCount,
          hasNextPage: page.hasNextPage,
          endCursor: page.findings.length === 0 ? after : String((page.findings.at(-1) as { seq: number }).seq),
        };
      },
    };
  };
}

/** Lines or gaps by SKU, in their order. */
function groupBySku<T extends { sku: string }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of items) {
    const l = m.get(x.sku);
    if (l === undefined) m.set(x.sku, [x]);
    else l.push(x);
  }
  return m;
}

/** A cursor that is a whole number (a run id, a finding's place), else BAD_USER_INPUT naming it. */
function idCursor(value: string, argumentName: string, what: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw new BadUserInputError(`\`${argumentName}\` must be ${what} (an \`endCursor\`); got ${JSON.stringify(value.slice(0, 40))}.`, { argumentName });
  }
  return Number(value);
}
