/**
 * The InventoryService answers the API's questions for one request: it turns canonical SKUs
 * into each source's codes (SKU map), reads the sources through the request's loaders in
 * parallel, turns source location codes into canonical locations, lets the precedence
 * strategy pick a figure per location and the availability rules compute the answer.
 *
 * A source that fails costs only its own figures: the failure is noted in the request's
 * diagnostics (src/service/diagnostics.ts: the server reports one SOURCE_UNAVAILABLE error per
 * source) and precedence falls back to the next source. Records that cannot be used and the
 * statements sent are noted there too.
 */
import DataLoader from 'dataloader';
import { BadUserInputError } from '../errors.js';
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';
import { countingMeter, type Connector } from '../sources/connector.js';
import { createSourceReader, type RecordsByCode } from '../sources/loaders.js';
import { negativeOnHandAnomaly, unmappedLocationAnomaly, type NewAnomaly } from '../domain/anomalies.js';
import type { CanonicalSku, ItemPage } from '../domain/skus.js';
import { checkItemFilter, matchesItemFilter, type ItemFilterInput } from '../domain/item-filter.js';
import type { Store } from '../store/index.js';
import { isStale, stockLevel, summarize, unknownSku, type Availability, type Quantity, type SourcePolicy, type StockLevel } from '../domain/availability.js';
import { compareView, overstatesAnomaly, type ChannelView } from '../domain/channel-views.js';
import { compareCosts, costMismatchAnomaly, stockValue, totalValue, type CostComparison } from '../domain/costs.js';
import type { Location, LocationIndex } from '../domain/locations.js';
import type { Candidate, PrecedenceField, PrecedenceStrategy } from '../domain/precedence.js';
import type { Entity, RecordOf } from '../domain/records.js';
import { checkPageSize, costProblem, stockProblem } from '../domain/validation.js';
import { describeSourceFailure, SourceError } from '../sources/resilience.js';
import { routeOrder, type FulfillmentPlan, type RouteOrderRequest } from '../domain/route-order.js';
import type { RoutingPolicy } from '../domain/routing.js';
import { noteFailure, type InvalidRecord, type SourceDiagnostics } from './diagnostics.js';

export interface SourceSettings extends SourcePolicy {
  /** `canonical`: the source uses canonical SKUs as its codes; `mapped`: codes come from the SKU map. */
  skuCodes: 'mapped' | 'canonical';
  /** The source is this channel's own view (`channelView`): compared with our ATP, never authoritative. */
  channelView?: { channel: string };
}

export interface InventoryDeps {
  connectors: ReadonlyMap<string, Connector>;
  settings: ReadonlyMap<string, SourceSettings>;
  store: Store;
  locations: LocationIndex;
  precedence: PrecedenceStrategy;
  maxSkusPerQuery: number;
  /** `server.maxScanSkus`: most SKUs one filtered `inventoryItems` call reads. Default 10,000. */
  maxScanSkus?: number;
  routing: { policy: RoutingPolicy; maxLines: number; useStaleStock: boolean };
  /** `costs.tolerancePercent`: how far a source's unit cost may be from the reference's (a decimal string). Default '0'. */
  costTolerancePercent?: string;
  logger: Logger;
  now?: () => Date;
}

export interface AvailabilityQuery {
  locationIds?: readonly string[] | null;
  channel?: string | null;
  /**
   * Read the channels' own views (`channelView` sources) and compare them with this answer:
   * only when the caller selects `channelViews` (one more statement per view source), and
   * never with `locationIds` (a view covers its whole channel).
   */
  views?: boolean;
}

export interface ItemsQuery {
  first: number;
  after: string | null;
  filter?: ItemFilterInput | null;
  /** Count the catalogue (`totalCount` selected) when there is no filter. */
  count?: boolean;
}

/** `server.maxScanSkus`'s default. */
export const DEFAULT_MAX_SCAN_SKUS = 10_000;

export interface Money {
  amount: string;
  currency: string;
  source: string;
}

export type InventoryService = ReturnType<typeof createInventoryService>;

const NOTHING_HELD: ReadonlyMap<string, number> = new Map();

/** The longest SKU the store holds (its column width). */
export const MAX_SKU_LENGTH = 191;

/** Builds the per-request API. Loaders live exactly as long as the request; what happened at the sources goes into its `diagnostics`. */
export function createInventoryService(deps: InventoryDeps) {
  const now = deps.now ?? (() => new Date());
  const policyOf = (source: string): SourcePolicy => deps.settings.get(source) ?? { maxAgeSeconds: undefined, stalePolicy: 'count' };

  return function forRequest(diagnostics: SourceDiagnostics) {
    const { invalidData } = diagnostics;
    const reader = createSourceReader(deps.connectors, countingMeter(diagnostics.statements));
    const skuLoader = new DataLoader<string, CanonicalSku | null>(async (skus) => {
      const found = await deps.store.skus.findMany(skus);
      return skus.map((s) => found.get(s) ?? null);
    });
    // units held per location by reservations that count now: one store statement per batch of SKUs
    const heldLoader = new DataLoader<string, ReadonlyMap<string, number>>(async (skus) => {
      const found = await deps.store.reservations.held(skus, now().getTime());
      return skus.map((s) => found.get(s) ?? NOTHING_HELD);
    });

    /** The SKU of each level this request answered (a StockLevel does not carry it), for its value. */
    const levelSku = new WeakMap<StockLevel, string>();
    const unitCosts = new Map<string, Promise<Money | null>>();
    const costsOf = new Map<string, Promise<Money[]>>();
    const comparisons = new Map<string, Promise<CostComparison>>();
    const tolerance = deps.costTolerancePercent ?? '0';

    /** Once per SKU per request: every cost source's usable cost (a failed source is left out, its error reported). */
    function costs(item: CanonicalSku): Promise<Money[]> {
      let p = costsOf.get(item.sku);
      if (p === undefined) {
        const ordered = deps.precedence.order('cost');
        const rest = [...deps.connectors.values()].filter((c) => c.entities.has('cost') && !ordered.includes(c.name)).map((c) => c.name);
        const sources = [...ordered, ...rest];
        // the precedence sources' unusable records are reported by unitCostOf (pick), the others' here
        p = Promise.all([read('cost', sources, [item]), unitCostOf(item)]).then(([got]) => {
          const anomalies: NewAnomaly[] = [];
          const out: Money[] = [];
          for (const source of sources) {
            const r = got.get(source);
            const first = r === 'failed' ? undefined : r?.get(item.sku)?.[0];
            if (first === undefined) continue;
            const why = costProblem(first);
            if (why === undefined) out.push({ amount: first.amount, currency: first.currency, source });
            else if (!ordered.includes(source))
              invalidRecord({ source, sku: item.sku, location: null, reason: why }, 'cost', `its code "${first.code}"`, anomalies);
          }
          deps.store.anomalies.enqueue(anomalies);
          return out;
        });
        costsOf.set(item.sku, p);
      }
      return p;
    }

    /** Once per SKU per request: the comparison, and a COST_MISMATCH anomaly per source beyond the tolerance. */
    function costComparison(item: CanonicalSku): Promise<CostComparison> {
      let p = comparisons.get(item.sku);
      if (p === undefined) {
        p = Promise.all([costs(item), unitCostOf(item)]).then(([all, reference]) => {
          const c = compareCosts(all, reference?.source ?? null, tolerance);
          const ref = c.reference;
          if (ref !== null) deps.store.anomalies.enqueue(c.mismatches.map((m) => costMismatchAnomaly(item.sku, ref, m, tolerance)));
          return c;
        });
        comparisons.set(item.sku, p);
      }
      return p;
    }

    function codesFor(source: string, sku: CanonicalSku): string[] {
      if (deps.settings.get(source)?.skuCodes === 'canonical') return [sku.sku];
      return sku.aliases.filter((a) => a.system === source).map((a) => a.code);
    }

    function fail(source: string, e: unknown): void {
      if (noteFailure(diagnostics, source, describeFailure(e), failedEntity(e))) deps.logger.warn('source failed', { source, ...errorFields(e) });
    }

    /** Each source's records for each SKU, or 'failed'. One batched read per source. */
    async function read<E extends Entity>(entity: E, sources: readonly string[], skus: readonly CanonicalSku[]) {
      const out = new Map<string, Map<string, RecordOf[E][]> | 'failed'>();
      await Promise.all(
        sources.map(async (source) => {
          const codes = [...new Set(skus.flatMap((s) => codesFor(source, s)))];
          let found: RecordsByCode<E>;
          try {
            found = codes.length === 0 ? new Map() : await reader.read(source, entity, codes);
          } catch (e) {
            fail(source, e);
            out.set(source, 'failed');
            return;
          }
          const bySku = new Map<string, RecordOf[E][]>();
          for (const sku of skus) {
            const recs: RecordOf[E][] = [];
            for (const c of codesFor(source, sku)) {
              const r = found.get(c);
              if (r !== undefined) for (const x of r) recs.push(x);
            }
            bySku.set(sku.sku, recs);
          }
          out.set(source, bySku);
        }),
      );
      return out;
    }

    /** Per field (cost, name): the first source in precedence that has a usable record for the SKU. */
    async function pick<E extends 'cost' | 'items', T>(
      field: PrecedenceField,
      entity: E,
      item: CanonicalSku,
      value: (r: RecordOf[E]) => T,
      problem: (r: RecordOf[E]) => string | undefined = () => undefined,
    ) {
      const sources = deps.precedence.order(field);
      const read_ = await read(entity, sources, [item]);
      const anomalies: NewAnomaly[] = [];
      const candidates: Candidate<T>[] = sources.map((source) => {
        const r = read_.get(source);
        if (r === 'failed') return { source, status: 'failed' };
        const first = r?.get(item.sku)?.[0];
        if (first === undefined) return { source, status: 'missing' };
        const why = problem(first);
        if (why === undefined) return { source, status: 'found', value: value(first) };
        invalidRecord({ source, sku: item.sku, location: null, reason: why }, entity, `its code "${first.code}"`, anomalies);
        return { source, status: 'invalid' };
      });
      deps.store.anomalies.enqueue(anomalies);
      return deps.precedence.decide(field, candidates);
    }

    /** The unit cost `precedence.cost` gives a SKU, by its canonical name. */
    async function costOfSku(sku: string): Promise<Money | null> {
      const item = await skuLoader.load(sku);
      return item === null ? null : unitCostOf(item);
    }

    /** Once per SKU per request (values of many locations, costs and the comparison all ask): an unusable record is reported once. */
    function unitCostOf(item: CanonicalSku): Promise<Money | null> {
      let p = unitCosts.get(item.sku);
      if (p === undefined) {
        p = pick('cost', 'cost', item, (r) => r, costProblem).then((d) =>
          d.winner === undefined ? null : { amount: d.winner.value.amount, currency: d.winner.value.currency, source: d.winner.source },
        );
        unitCosts.set(item.sku, p);
      }
      return p;
    }

    /** Sources declared as a channel's view, for `channel` (every one when null). */
    function viewSources(channel: string | null | undefined): string[] {
      return [...deps.settings]
        .filter(([name, s]) => s.channelView !== undefined && (channel == null || s.channelView.channel === channel) && deps.connectors.has(name))
        .map(([name]) => name);
    }

    /**
     * Puts each view beside `answer` (a view with no code for the SKU says nothing and is left
     * out; a failed one is left out, its error reported; one with an unusable record is left out
     * and the record reported); flags CHANNEL_OVERSTATES and records its anomaly.
     */
    function withViews(
      answer: Availability,
      sku: CanonicalSku,
      views: readonly string[],
      read_: Map<string, Map<string, RecordOf['stock'][]> | 'failed'>,
      anomalies: NewAnomaly[],
      at: Date,
    ): void {
      const out: ChannelView[] = [];
      for (const source of views) {
        const r = read_.get(source);
        const channel = deps.settings.get(source)?.channelView?.channel;
        if (r === 'failed' || r === undefined || channel === undefined || codesFor(source, sku).length === 0) continue;
        const recs = r.get(sku.sku) ?? [];
        const bad = recs.find((x) => stockProblem(x, at) !== undefined);
        if (bad !== undefined) {
          const reason = stockProblem(bad, at) as string;
          invalidRecord({ source, sku: sku.sku, location: null, reason }, 'stock', `its code "${bad.code}" at "${bad.location}"`, anomalies);
          continue;
        }
        const oldest = recs.reduce<Date | null>((m, x) => (m === null || x.asOf < m ? x.asOf : m), null);
        const stale = oldest !== null && isStale({ asOf: oldest }, policyOf(source), at);
        const v = compareView({ source, channel, stale }, recs, answer.byLocation);
        out.push(v);
        if (v.overstatement > 0) {
          if (!answer.flags.includes('CHANNEL_OVERSTATES')) answer.flags.push('CHANNEL_OVERSTATES');
          anomalies.push(overstatesAnomaly(sku.sku, v));
        }
      }
      answer.channelViews = out;
    }

    /** Notes an unusable record for the response's errors and as an INVALID_SOURCE_DATA anomaly. */
    function invalidRecord(found: InvalidRecord, entity: Entity, sourceKey: string, anomalies: NewAnomaly[]): void {
      // a source's raw value may be long: the reason quotes only its start
      const r = { ...found, reason: found.reason.length > 200 ? `${found.reason.slice(0, 199)}…` : found.reason };
      const list = invalidData.get(r.source);
      if (list === undefined) invalidData.set(r.source, [r]);
      else list.push(r);
      deps.logger.warn('invalid source data', { ...r });
      anomalies.push({
        kind: 'INVALID_SOURCE_DATA',
        sku: r.sku,
        location: r.location,
        source: r.source,
        detail: `${r.source} sent an invalid ${entity} record for ${r.sku}${r.location === null ? '' : ` at ${r.location}`} (${sourceKey}): ${r.reason}`.slice(
          0,
          1000,
        ),
      });
    }

    return {
      /** One entry per requested SKU, in request order; unknown SKUs are flagged, never dropped. */
      async availability(skus: readonly string[], q: AvailabilityQuery = {}): Promise<Availability[]> {
        if (skus.length > deps.maxSkusPerQuery) {
          throw new BadUserInputError(`Too many SKUs: ${skus.length} asked, at most ${deps.maxSkusPerQuery} per query.`, {
            argumentName: 'skus',
            limit: deps.maxSkusPerQuery,
          });
        }
        const tooLong = skus.findIndex((s) => s.length > MAX_SKU_LENGTH);
        if (tooLong >= 0) {
          throw new BadUserInputError(`skus[${tooLong}] is ${skus[tooLong]?.length} characters long; a SKU has at most ${MAX_SKU_LENGTH}.`, {
            argumentName: 'skus',
          });
        }
        const locations = deps.locations.select(q.locationIds, q.channel);
        if (skus.length === 0) return [];
        const canon = await skuLoader.loadMany(skus);
        const known = new Map<string, CanonicalSku>();
        canon.forEach((c) => {
          if (c instanceof Error) throw c;
          if (c !== null) known.set(c.sku, c);
        });
        const sources = deps.precedence.order('quantity').filter((s) => locations.some((l) => l.codes[s] !== undefined));
        const views = q.views === true && (q.locationIds === null || q.locationIds === undefined) ? viewSources(q.channel) : [];
        const [records, held, viewRecords] = await Promise.all([
          read('stock', sources, [...known.values()]),
          heldLoader.loadMany([...known.keys()]),
          views.length === 0 ? undefined : read('stock', views, [...known.values()]),
        ]);
        const heldAt = new Map([...known.keys()].map((s, i) => [s, held[i]]));
        const anomalies: NewAnomaly[] = [];
        const at = now();

        const answers = new Map<string, Availability>();
        for (const sku of known.values()) {
          const perSource = new Map<string, Map<string, Quantity | 'invalid'> | 'failed'>();
          for (const source of sources) {
            const r = records.get(source);
            perSource.set(source, r === 'failed' || r === undefined ? 'failed' : byLocation(source, sku.sku, r.get(sku.sku) ?? [], anomalies, at));
          }
          const levels: StockLevel[] = [];
          const holds = heldAt.get(sku.sku);
          if (holds instanceof Error) throw holds;
          for (const location of locations) {
            const candidates: Candidate<Quantity>[] = sources
              .filter((s) => location.codes[s] !== undefined)
              .map((source) => {
                const m = perSource.get(source);
                if (m === 'failed' || m === undefined) return { source, status: 'failed' };
                const v = m.get(location.id);
                if (v === 'invalid') return { source, status: 'invalid' };
                return v === undefined ? { source, status: 'missing' } : { source, status: 'found', value: v };
              });
            const level = stockLevel(location, deps.precedence.decide('quantity', candidates), policyOf, at, holds?.get(location.id) ?? 0);
            if (level === undefined) continue;
            levels.push(level);
            if (level.flags.includes('NEGATIVE_ON_HAND')) {
              anomalies.push(negativeOnHandAnomaly(level.provenance.source, sku.sku, location.id, level.onHand));
            }
          }
          for (const l of levels) levelSku.set(l, sku.sku);
          const answer = summarize(sku.sku, levels);
          if (viewRecords !== undefined) withViews(answer, sku, views, viewRecords, anomalies, at);
          answers.set(sku.sku, answer);
        }
        deps.store.anomalies.enqueue(anomalies);
        return skus.map((s) => answers.get(s) ?? unknownSku(s));
      },

      /** Reads holds again on the next availability call (a reserve that found them changed under it plans again). */
      forgetHolds(): void {
        heldLoader.clearAll();
      },

      async item(sku: string): Promise<CanonicalSku | null> {
        return skuLoader.load(sku);
      },

      /**
       * The SKU a router's representation of an InventoryItem names (`_entities`, keyed by
       * `sku`: schema/federation.graphql), through the same loader as `item`, so N
       * representations are one store statement; null for a SKU the map does not know.
       */
      async reference(representation: Readonly<Record<string, unknown>>): Promise<CanonicalSku | null> {
        const sku = representation.sku;
        if (typeof sku !== 'string' || sku === '') {
          throw new BadUserInputError(
            `An InventoryItem representation needs its key "sku" (a non-empty string): got ${JSON.stringify(representation).slice(0, 200)}.`,
            { argumentName: 'representations' },
          );
        }
        return skuLoader.load(sku);
      },

      /**
       * The catalogue in SKU order, `first` at a time after `after` (`count`: with the
       * catalogue's size, one more store statement). With a filter, a scan: batches of
       * `maxSkusPerQuery` SKUs read by `availability` (one statement per live source per entity
       * per batch; mirrors answer from memory) until `first` match or `maxScanSkus` were read.
       * The SKUs and their figures stay in this request's loaders, so the page's nodes answer
       * `availability` without reading the sources again.
       */
      async items(q: ItemsQuery): Promise<ItemPage> {
        const first = checkPageSize(q.first, deps.maxSkusPerQuery);
        if (q.filter === null || q.filter === undefined) {
          const [page, total] = await Promise.all([deps.store.skus.page(first, q.after), q.count === true ? deps.store.skus.count() : null]);
          for (const s of page.skus) skuLoader.prime(s.sku, s);
          return { ...page, endCursor: page.skus.at(-1)?.sku ?? null, totalCount: total, scanned: 0 };
        }
        const filter = checkItemFilter(q.filter, [...deps.connectors.keys()], deps.locations);
        const maxScan = deps.maxScanSkus ?? DEFAULT_MAX_SCAN_SKUS;
        // CHANNEL_OVERSTATES is raised only where the channels' views are read beside the figure
        const views = filter.flags?.has('CHANNEL_OVERSTATES') === true && filter.locations === null;
        const matched: CanonicalSku[] = [];
        let scanned = 0;
        let lastRead: string | null = null;
        let end = false;
        while (matched.length < first && scanned < maxScan) {
          const batch = await deps.store.skus.page(Math.min(deps.maxSkusPerQuery, maxScan - scanned), lastRead ?? q.after);
          for (const s of batch.skus) skuLoader.prime(s.sku, s);
          const answers = await this.availability(
            batch.skus.map((s) => s.sku),
            { locationIds: filter.locations, views },
          );
          batch.skus.forEach((s, i) => {
            if (matchesItemFilter(answers[i] as Availability, filter)) matched.push(s);
          });
          scanned += batch.skus.length;
          lastRead = batch.skus.at(-1)?.sku ?? lastRead;
          if (!batch.hasNextPage) {
            end = true;
            break;
          }
        }
        const skus = matched.slice(0, first);
        // a batch read past the page's last match holds more: the next page starts after the
        // last one returned; else every SKU read is accounted for and it starts after the last read
        const more = matched.length > first;
        const hasNextPage = more || !end;
        return {
          skus,
          hasNextPage,
          endCursor: more || !hasNextPage ? (skus.at(-1)?.sku ?? null) : lastRead,
          totalCount: q.after === null && end ? matched.length : null,
          scanned,
        };
      },

      /** The name by `precedence.name`, else the name the SKU map was given. */
      async name(item: CanonicalSku): Promise<string | null> {
        const d = await pick('name', 'items', item, (r) => r.name);
        return d.winner?.value ?? item.name;
      },

      /** The unit cost by `precedence.cost`, with the source that gave it. */
      async unitCost(item: CanonicalSku): Promise<Money | null> {
        return unitCostOf(item);
      },

      /** Every source's unit cost: `precedence.cost` order first, then the other sources that map `cost`, in config order. */
      costs,

      /** The sources' unit costs compared with the reference (the `unitCost` one) within `costs.tolerancePercent`; COST_MISMATCH anomalies. */
      costComparison,

      /** A location's inventory value: max(0, onHand) × the SKU's unit cost; null without a cost or a figure. */
      async levelValue(level: StockLevel): Promise<Money | null> {
        const sku = levelSku.get(level);
        if (sku === undefined || level.provenance.source === null) return null;
        const cost = await costOfSku(sku);
        return cost === null ? null : stockValue(level.onHand, cost);
      },

      /** A SKU's inventory value: the sum of its locations' values (every location shown, counted or not). */
      async value(a: Availability): Promise<Money | null> {
        if (!a.known) return null;
        const cost = await costOfSku(a.sku);
        if (cost === null) return null;
        const values = a.byLocation.filter((l) => l.provenance.source !== null).map((l) => stockValue(l.onHand, cost));
        return totalValue(values) ?? stockValue(0, cost);
      },

      async resolveSku(system: string, code: string): Promise<CanonicalSku | null> {
        const sku = await deps.store.skus.resolve(system, code);
        return sku === null ? null : skuLoader.load(sku);
      },
      locations: (): Location[] => [...deps.locations.all],

      /** Which locations should ship this order, from one batched availability read. */
      routeOrder(order: RouteOrderRequest): Promise<FulfillmentPlan> {
        return routeOrder(order, { locations: deps.locations, availability: (skus) => this.availability(skus), ...deps.routing });
      },
    };

    /**
     * A source's stock records for one SKU by canonical location, summed over the SKU's codes.
     * A location where one of them cannot be used is 'invalid' as a whole: a partial sum would
     * be a wrong figure, so precedence passes over it.
     */
    function byLocation(source: string, sku: string, recs: readonly RecordOf['stock'][], anomalies: NewAnomaly[], at: Date): Map<string, Quantity | 'invalid'> {
      const m = new Map<string, Quantity | 'invalid'>();
      for (const r of recs) {
        const location = deps.locations.fromSourceCode(source, r.location);
        if (location === undefined) {
          anomalies.push(unmappedLocationAnomaly(source, r.location));
          continue;
        }
        const problem = stockProblem(r, at);
        if (problem !== undefined) {
          m.set(location.id, 'invalid');
          invalidRecord({ source, sku, location: location.id, reason: problem }, 'stock', `its code "${r.code}" at "${r.location}"`, anomalies);
          continue;
        }
        const q = m.get(location.id);
        if (q === 'invalid') continue;
        const fromFallback = r.snapshotFallback === true || q?.snapshotFallback === true ? { snapshotFallback: true } : {};
        const heard = r.heardAt !== undefined ? { heardAt: r.heardAt } : {};
        const carried = r.carriedFrom ?? q?.carriedFrom;
        const fromCarried = carried !== undefined ? { carriedFrom: carried } : {};
        if (q === undefined) m.set(location.id, { onHand: r.onHand, committed: r.committed, asOf: r.asOf, ...fromFallback, ...fromCarried, ...heard });
        else
          m.set(location.id, {
            onHand: q.onHand + r.onHand,
            committed: q.committed + r.committed,
            asOf: r.asOf < q.asOf ? r.asOf : q.asOf,
            ...fromFallback,
            ...fromCarried,
            ...heard,
          });
      }
      return m;
    }
  };
}

/**
 * A failure in words a client may see: what happened ("timed out after 300 ms", "circuit
 * open", "connection refused"), never SQL, hosts or paths. The resilience layer already gives
 * its errors such a reason; a driver error is described the same way.
 */
export function describeFailure(e: unknown): string {
  return describeSourceFailure(e);
}

/** The entity whose mapping failed (the source answered), for `extensions.entity`; undefined when the source failed. */
export function failedEntity(e: unknown): string | undefined {
  return e instanceof SourceError ? e.entity : undefined;
}
