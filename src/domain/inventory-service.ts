/**
 * The InventoryService answers the API's questions for one request: it turns canonical SKUs
 * into each source's codes (SKU map), reads the sources through the request's loaders in
 * parallel, turns source location codes into canonical locations, lets the precedence
 * strategy pick a figure per location and the availability rules compute the answer.
 *
 * A source that fails costs only its own figures: the failure is remembered in
 * `failures` (the server reports one SOURCE_UNAVAILABLE error per source) and precedence
 * falls back to the next source.
 */
import DataLoader from 'dataloader';
import { BadUserInputError } from '../errors.js';
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import { createSourceLoaders } from '../sources/loaders.js';
import type { Anomaly, AnomalyStatus, CanonicalSku, NewAnomaly, Store } from '../store/index.js';
import { stockLevel, summarize, unknownSku, type Availability, type Quantity, type SourcePolicy, type StockLevel } from './availability.js';
import type { Location, LocationIndex } from './locations.js';
import type { Candidate, PrecedenceField, PrecedenceStrategy } from './precedence.js';
import type { Entity, RecordOf } from './records.js';
import { routeOrder, type FulfillmentPlan, type RouteOrderRequest } from './route-order.js';
import type { RoutingPolicy } from './routing.js';

export interface SourceSettings extends SourcePolicy {
  /** `canonical`: the source uses canonical SKUs as its codes; `mapped`: codes come from the SKU map. */
  skuCodes: 'mapped' | 'canonical';
}

export interface InventoryDeps {
  connectors: ReadonlyMap<string, Connector>;
  settings: ReadonlyMap<string, SourceSettings>;
  store: Store;
  locations: LocationIndex;
  precedence: PrecedenceStrategy;
  maxSkusPerQuery: number;
  routing: { policy: RoutingPolicy; maxLines: number; useStaleStock: boolean };
  logger: Logger;
  now?: () => Date;
}

export interface AvailabilityQuery {
  locationIds?: readonly string[] | null;
  channel?: string | null;
}

export interface Money {
  amount: string;
  currency: string;
  source: string;
}

/** What went wrong with one source during a request, in words fit for a client. */
export interface SourceFailure {
  source: string;
  reason: string;
}

export type InventoryService = ReturnType<typeof createInventoryService>;

/** Builds the per-request API. Loaders and failures live exactly as long as the request. */
export function createInventoryService(deps: InventoryDeps) {
  const now = deps.now ?? (() => new Date());
  const policyOf = (source: string): SourcePolicy => deps.settings.get(source) ?? { maxAgeSeconds: undefined, stalePolicy: 'count' };

  return function forRequest() {
    const failures = new Map<string, SourceFailure>();
    const statements = new Map<string, number>();
    const loader = createSourceLoaders(deps.connectors, {
      statement(source, entity) {
        const k = `${source}/${entity}`;
        statements.set(k, (statements.get(k) ?? 0) + 1);
      },
    });
    const skuLoader = new DataLoader<string, CanonicalSku | null>(async (skus) => {
      const found = await deps.store.skus.findMany(skus);
      return skus.map((s) => found.get(s) ?? null);
    });

    function codesFor(source: string, sku: CanonicalSku): string[] {
      if (deps.settings.get(source)?.skuCodes === 'canonical') return [sku.sku];
      return sku.aliases.filter((a) => a.system === source).map((a) => a.code);
    }

    function fail(source: string, e: unknown): void {
      if (!failures.has(source)) {
        deps.logger.warn('source failed', { source, ...errorFields(e) });
        failures.set(source, { source, reason: describeFailure(e) });
      }
    }

    /** Each source's records for each SKU, or 'failed'. One batched read per source. */
    async function read<E extends Entity>(entity: E, sources: readonly string[], skus: readonly CanonicalSku[]) {
      const out = new Map<string, Map<string, RecordOf[E][]> | 'failed'>();
      await Promise.all(
        sources.map(async (source) => {
          const codes = [...new Set(skus.flatMap((s) => codesFor(source, s)))];
          const results = codes.length === 0 ? [] : await loader(source, entity).loadMany(codes);
          const bySku = new Map<string, RecordOf[E][]>();
          const codeResults = new Map(codes.map((c, i) => [c, results[i]]));
          for (const sku of skus) {
            const recs: RecordOf[E][] = [];
            for (const c of codesFor(source, sku)) {
              const r = codeResults.get(c);
              if (r instanceof Error) {
                fail(source, r);
                out.set(source, 'failed');
                return;
              }
              if (r !== undefined) recs.push(...r);
            }
            bySku.set(sku.sku, recs);
          }
          out.set(source, bySku);
        }),
      );
      return out;
    }

    /** Per field (cost, name): the first source in precedence that has a record for the SKU. */
    async function pick<E extends 'cost' | 'items', T>(field: PrecedenceField, entity: E, item: CanonicalSku, value: (r: RecordOf[E]) => T) {
      const sources = deps.precedence.order(field);
      const read_ = await read(entity, sources, [item]);
      const candidates: Candidate<T>[] = sources.map((source) => {
        const r = read_.get(source);
        if (r === 'failed') return { source, status: 'failed' };
        const first = r?.get(item.sku)?.[0];
        return first === undefined ? { source, status: 'missing' } : { source, status: 'found', value: value(first) };
      });
      return deps.precedence.decide(field, candidates);
    }

    async function recordAnomalies(list: NewAnomaly[]): Promise<void> {
      if (list.length === 0) return;
      try {
        await deps.store.anomalies.record(list);
      } catch (e) {
        deps.logger.error('could not record anomalies', errorFields(e));
      }
    }

    return {
      failures,
      statements,

      /** One entry per requested SKU, in request order; unknown SKUs are flagged, never dropped. */
      async availability(skus: readonly string[], q: AvailabilityQuery = {}): Promise<Availability[]> {
        if (skus.length > deps.maxSkusPerQuery) {
          throw new BadUserInputError(`Too many SKUs: ${skus.length} asked, at most ${deps.maxSkusPerQuery} per query.`, {
            argumentName: 'skus',
            limit: deps.maxSkusPerQuery,
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
        const records = await read('stock', sources, [...known.values()]);
        const anomalies: NewAnomaly[] = [];
        const at = now();

        const answers = new Map<string, Availability>();
        for (const sku of known.values()) {
          const perSource = new Map<string, Map<string, Quantity> | 'failed'>();
          for (const source of sources) {
            const r = records.get(source);
            perSource.set(source, r === 'failed' || r === undefined ? 'failed' : byLocation(source, r.get(sku.sku) ?? [], anomalies));
          }
          const levels: StockLevel[] = [];
          for (const location of locations) {
            const candidates: Candidate<Quantity>[] = sources
              .filter((s) => location.codes[s] !== undefined)
              .map((source) => {
                const m = perSource.get(source);
                if (m === 'failed' || m === undefined) return { source, status: 'failed' };
                const v = m.get(location.id);
                return v === undefined ? { source, status: 'missing' } : { source, status: 'found', value: v };
              });
            const level = stockLevel(location, deps.precedence.decide('quantity', candidates), policyOf, at);
            if (level === undefined) continue;
            levels.push(level);
            if (level.flags.includes('NEGATIVE_ON_HAND')) {
              anomalies.push({
                kind: 'NEGATIVE_ON_HAND',
                sku: sku.sku,
                location: location.id,
                source: level.provenance.source,
                detail: `${level.provenance.source ?? '?'} reports onHand ${level.onHand} for ${sku.sku} at ${location.id}`,
              });
            }
          }
          answers.set(sku.sku, summarize(sku.sku, levels));
        }
        await recordAnomalies(anomalies);
        return skus.map((s) => answers.get(s) ?? unknownSku(s));
      },

      async item(sku: string): Promise<CanonicalSku | null> {
        return skuLoader.load(sku);
      },

      async items(first: number, after: string | null) {
        if (!Number.isInteger(first) || first < 1 || first > deps.maxSkusPerQuery) {
          throw new BadUserInputError(`\`first\` must be between 1 and ${deps.maxSkusPerQuery}, got ${first}.`, { argumentName: 'first' });
        }
        const page = await deps.store.skus.page(first, after);
        for (const s of page.skus) skuLoader.prime(s.sku, s);
        return page;
      },

      /** The name by `precedence.name`, else the name the SKU map was given. */
      async name(item: CanonicalSku): Promise<string | null> {
        const d = await pick('name', 'items', item, (r) => r.name);
        return d.winner?.value ?? item.name;
      },

      /** The unit cost by `precedence.cost`, with the source that gave it. */
      async unitCost(item: CanonicalSku): Promise<Money | null> {
        const d = await pick('cost', 'cost', item, (r) => r);
        return d.winner === undefined ? null : { amount: d.winner.value.amount, currency: d.winner.value.currency, source: d.winner.source };
      },

      async resolveSku(system: string, code: string): Promise<CanonicalSku | null> {
        const sku = await deps.store.skus.resolve(system, code);
        return sku === null ? null : skuLoader.load(sku);
      },
      locations: (): Location[] => [...deps.locations.all],
      anomalies: (status: AnomalyStatus | null, first: number): Promise<Anomaly[]> => deps.store.anomalies.list(status, first),

      /** Which locations should ship this order, from one batched availability read. */
      routeOrder(order: RouteOrderRequest): Promise<FulfillmentPlan> {
        return routeOrder(order, { locations: deps.locations, availability: (skus) => this.availability(skus), ...deps.routing });
      },
    };

    /** A source's stock records for one SKU by canonical location, summed over the SKU's codes. */
    function byLocation(source: string, recs: readonly RecordOf['stock'][], anomalies: NewAnomaly[]): Map<string, Quantity> {
      const m = new Map<string, Quantity>();
      for (const r of recs) {
        const location = deps.locations.fromSourceCode(source, r.location);
        if (location === undefined) {
          anomalies.push({ kind: 'UNMAPPED_LOCATION', sku: null, location: r.location, source, detail: `${source} reports stock at location code "${r.location}", which no configured location maps` });
          continue;
        }
        const q = m.get(location.id);
        if (q === undefined) m.set(location.id, { onHand: r.onHand, committed: r.committed, asOf: r.asOf });
        else m.set(location.id, { onHand: q.onHand + r.onHand, committed: q.committed + r.committed, asOf: r.asOf < q.asOf ? r.asOf : q.asOf });
      }
      return m;
    }
  };
}

/** A failure in words a client may see: what happened, never SQL, hosts or paths. */
export function describeFailure(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string };
  if (err.name === 'KnexTimeoutError' || err.code === 'ETIMEDOUT' || err.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return 'timed out';
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ECONNRESET' || err.code === 'PROTOCOL_CONNECTION_LOST') return 'connection lost';
  if (err.code === 'ER_ACCESS_DENIED_ERROR') return 'access denied';
  if (err.code === 'SQLITE_CANTOPEN' || /(unable to|cannot) open database/i.test(err.message ?? '')) return 'cannot open its database';
  if (err.code === 'ER_NO_SUCH_TABLE' || err.code === 'ER_BAD_FIELD_ERROR' || /no such (table|column)/i.test(err.message ?? '')) {
    return 'its mapping does not match the database (see the server log)';
  }
  return 'read failed (see the server log)';
}
