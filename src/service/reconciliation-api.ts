/**
 * The reconciliation questions of the API, per request: `reconciliation(skus, ...)` for a page
 * of SKUs, `orphanCodes(source, ...)` a page of a source's codes at a time, and the recorded
 * runs of the reconcile job. Source statements and failures go into the request's diagnostics
 * (src/service/diagnostics.ts), so `x-source-statements` and SOURCE_UNAVAILABLE errors cover
 * them as they cover availability.
 */
import { BadUserInputError } from '../errors.js';
import { errorFields } from '../logger.js';
import { countingMeter, type Connector } from '../sources/connector.js';
import type { CanonicalSku } from '../domain/skus.js';
import type { Store } from '../store/index.js';
import type { ReconciliationRun, ReconciliationStore } from '../store/reconciliation-store.js';
import { noteFailure, type SourceDiagnostics } from './diagnostics.js';
import { describeFailure, failedEntity } from './inventory-service.js';
import { checkPageSize, MAX_LIST_PAGE } from '../domain/validation.js';
import { addToSummary, emptySummary, orphanAnomaly, orphansWithStock, type OrphanCode, type Reconciliation } from '../domain/reconciliation.js';
import { createReconciler, orphanPage, type ReconciliationDeps } from './reconciler.js';

export interface ReconciliationApiDeps extends ReconciliationDeps {
  store: Pick<Store, 'skus' | 'anomalies'>;
  runs: ReconciliationStore;
  maxSkusPerQuery: number;
}

export interface OrphanCodePage {
  orphans: OrphanCode[];
  scanned: number;
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Most codes one `orphanCodes` call reads before it answers with what it found so far. */
const MAX_SCAN = 50_000;
const PAGE = 1000;

export type ReconciliationApi = ReturnType<ReturnType<typeof createReconciliationApi>>;

export function createReconciliationApi(deps: ReconciliationApiDeps) {
  const reconciler = createReconciler(deps);

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

    return {
      /** Every system side by side per (sku, location), in request order; unknown SKUs have no lines. */
      async reconciliation(skus: readonly string[], locationIds: readonly string[] | null | undefined, tolerance: number): Promise<Reconciliation> {
        if (!Number.isSafeInteger(tolerance) || tolerance < 0) {
          throw new BadUserInputError(`\`tolerance\` must be a whole number of units, 0 or more; got ${tolerance}.`, { argumentName: 'tolerance' });
        }
        if (skus.length > deps.maxSkusPerQuery) {
          throw new BadUserInputError(`Too many SKUs: ${skus.length} asked, at most ${deps.maxSkusPerQuery} per query.`, {
            argumentName: 'skus',
            limit: deps.maxSkusPerQuery,
          });
        }
        const locations = deps.locations.select(locationIds, null);
        const found = skus.length === 0 ? new Map<string, CanonicalSku>() : await deps.store.skus.findMany([...new Set(skus)]);
        const known = [...new Set(skus)].map((s) => found.get(s)).filter((s): s is CanonicalSku => s !== undefined);
        const r = await reconciler.batch(known, { locations, tolerance, meter });
        for (const f of r.failures) fail(f.source, f.error);
        deps.store.anomalies.enqueue(r.anomalies);
        return { tolerance, lines: r.lines, gaps: r.gaps, summary: addToSummary(emptySummary(), r.lines, r.gaps.length) };
      },

      /**
       * Codes `source` holds that no canonical SKU maps, in the source's code order, a page at a
       * time; `withQuantities`: with their stock (one more statement for the page).
       */
      async orphanCodes(source: string, first: number, after: string | null, withQuantities = false): Promise<OrphanCodePage> {
        const c = deps.connectors.get(source);
        if (c === undefined || !c.entities.has('stock') || c.listCodes === undefined) {
          const known = [...deps.connectors.values()].filter((x) => x.entities.has('stock')).map((x) => x.name);
          throw new BadUserInputError(`Unknown stock source ${JSON.stringify(source)}. Known: ${known.join(', ')}.`, { argumentName: 'source' });
        }
        checkPageSize(first, PAGE);
        const canonical = deps.settings.get(source)?.skuCodes === 'canonical';
        const orphans: string[] = [];
        let cursor = after;
        let scanned = 0;
        let more = true;
        try {
          while (more && orphans.length < first && scanned < MAX_SCAN) {
            const page = await orphanPage(c, canonical, (s, codes, canon) => deps.runs.knownCodes(s, codes, canon), cursor, PAGE, meter);
            scanned += page.scanned;
            orphans.push(...page.orphans);
            cursor = page.next;
            more = page.next !== null;
          }
        } catch (e) {
          fail(source, e);
          deps.logger.warn('source failed while listing codes', { source, ...errorFields(e) });
          return { orphans: [], scanned, endCursor: after, hasNextPage: true };
        }
        // more found than asked: stop after the last one returned, the next page starts there
        const shown = orphans.slice(0, first);
        const endCursor = orphans.length > first ? (shown.at(-1) as string) : cursor;
        deps.store.anomalies.enqueue(shown.map((code) => orphanAnomaly(source, code)));
        const listed = withQuantities ? await withStock(source, shown) : shown.map((code) => ({ source, code }));
        return { orphans: listed, scanned, endCursor, hasNextPage: orphans.length > first || more };
      },

      async runs(first: number): Promise<ReconciliationRun[]> {
        return deps.runs.list(checkPageSize(first, MAX_LIST_PAGE));
      },
    };
  };
}
