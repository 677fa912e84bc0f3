/**
 * The routeOrder question from an OMS: checks the order, reads availability once for all its
 * SKUs (the same batched, precedence-resolved figures storefronts get), decides which
 * locations may ship and how much each can promise, lets the RoutingPolicy plan, and explains
 * every candidate location in a trace: used or not, its rank, why, and the figures it used.
 */
import { BadUserInputError } from '../errors.js';
import type { Availability, Flag, StockLevel } from './availability.js';
import { inChannel, type Location, type LocationIndex } from './locations.js';
import { distanceKm, type Candidate, type OrderLine, type PlanMethod, type RoutingPolicy, type RoutingStrategyName, type Shipment } from './routing.js';

export interface RouteOrderRequest {
  lines: readonly OrderLine[];
  destination?: { latitude: number; longitude: number } | null;
  channel?: string | null;
  strategy?: RoutingStrategyName | null;
  allowSplit?: boolean | null;
  maxShipments?: number | null;
  excludeLocationIds?: readonly string[] | null;
}

export interface RouteOrderDeps {
  locations: LocationIndex;
  availability: (skus: readonly string[]) => Promise<Availability[]>;
  policy: RoutingPolicy;
  /** Most lines an order may have. */
  maxLines: number;
  /** Whether stock flagged STALE may be promised to an order. */
  useStaleStock: boolean;
}

export type UnfulfilledReason = 'UNKNOWN_SKU' | 'INSUFFICIENT_STOCK' | 'SPLIT_NOT_ALLOWED' | 'MAX_SHIPMENTS_REACHED';
export type RouteReason =
  | 'USED'
  | 'EXCLUDED_BY_REQUEST'
  | 'NOT_IN_CHANNEL'
  | 'NOT_SELLABLE'
  | 'NO_STOCK'
  | 'STALE_EXCLUDED'
  | 'NEGATIVE_ON_HAND'
  | 'SOURCE_UNAVAILABLE'
  | 'BEYOND_MAX_SHIPMENTS'
  | 'NOT_NEEDED';

export interface RouteFigure {
  sku: string;
  requested: number;
  /** What this location can promise for the SKU (0 when its figure may not be used). */
  available: number;
  allocated: number;
  flags: Flag[];
}

export interface RouteTrace {
  location: Location;
  used: boolean;
  rank: number | null;
  distanceKm: number | null;
  reasons: RouteReason[];
  detail: string;
  figures: RouteFigure[];
}

export interface FulfillmentPlan {
  complete: boolean;
  strategy: RoutingStrategyName;
  method: PlanMethod;
  /** `method` in words, with its numbers. */
  methodDetail: string;
  shipments: Shipment[];
  unfulfilled: Array<{ sku: string; quantity: number; reason: UnfulfilledReason; detail: string }>;
  trace: RouteTrace[];
}

export async function routeOrder(req: RouteOrderRequest, deps: RouteOrderDeps): Promise<FulfillmentPlan> {
  const strategy = req.strategy ?? 'FEWEST_SHIPMENTS';
  const allowSplit = req.allowSplit ?? true;
  const demand = checkOrder(req, strategy, deps);
  const excluded = new Set(req.excludeLocationIds ?? []);
  const skus = [...demand.keys()];
  const answers = new Map((await deps.availability(skus)).map((a) => [a.sku, a]));
  const known = skus.filter((s) => answers.get(s)?.flags.includes('UNKNOWN_SKU') === false);

  // per location: why it cannot ship at all, or what it can promise per SKU
  const ineligible = new Map<string, { reason: RouteReason; detail: string }>();
  const candidates: Candidate[] = [];
  const figures = new Map<string, RouteFigure[]>();
  const distances = new Map<string, number | null>();
  for (const location of deps.locations.all) {
    const distance =
      req.destination && location.latitude !== null && location.longitude !== null
        ? distanceKm(req.destination, { latitude: location.latitude, longitude: location.longitude })
        : null;
    distances.set(location.id, distance);
    const stock = new Map<string, number>();
    figures.set(
      location.id,
      known.map((sku) => {
        const level = answers.get(sku)?.byLocation.find((l) => l.location.id === location.id);
        const usable = promisable(level, deps.useStaleStock);
        if (usable > 0) stock.set(sku, usable);
        return { sku, requested: demand.get(sku) ?? 0, available: usable, allocated: 0, flags: level?.flags ?? [] };
      }),
    );
    if (excluded.has(location.id)) ineligible.set(location.id, { reason: 'EXCLUDED_BY_REQUEST', detail: 'excluded by the request' });
    else if (req.channel != null && !inChannel(location, req.channel)) {
      ineligible.set(location.id, { reason: 'NOT_IN_CHANNEL', detail: `does not serve channel ${req.channel} (serves ${location.channels?.join(', ')})` });
    } else if (!location.sellable) ineligible.set(location.id, { reason: 'NOT_SELLABLE', detail: 'not sellable' });
    else candidates.push({ location, distanceKm: distance, stock });
  }

  const lines = known.map((sku) => ({ sku, quantity: demand.get(sku) ?? 0 }));
  const result = deps.policy.route({ lines, candidates, strategy, allowSplit, maxShipments: req.maxShipments ?? null });

  for (const s of result.shipments) {
    for (const l of s.lines) {
      const f = figures.get(s.location.id)?.find((x) => x.sku === l.sku);
      if (f) f.allocated = l.quantity;
    }
  }

  const unfulfilled: FulfillmentPlan['unfulfilled'] = skus
    .filter((s) => !known.includes(s))
    .map((sku) => ({ sku, quantity: demand.get(sku) ?? 0, reason: 'UNKNOWN_SKU' as const, detail: `${sku} is not in the SKU map` }));
  for (const [sku, short] of result.shortfall) {
    const total = candidates.reduce((n, c) => n + (c.stock.get(sku) ?? 0), 0);
    const want = demand.get(sku) ?? 0;
    const reason: UnfulfilledReason = total < want ? 'INSUFFICIENT_STOCK' : !allowSplit ? 'SPLIT_NOT_ALLOWED' : 'MAX_SHIPMENTS_REACHED';
    const detail =
      reason === 'INSUFFICIENT_STOCK'
        ? `${short} of ${want} cannot be promised: eligible locations hold ${total} in all`
        : reason === 'SPLIT_NOT_ALLOWED'
          ? `no single eligible location holds ${want} (split not allowed)`
          : `${short} of ${want} would need more than ${req.maxShipments} shipment(s)`;
    unfulfilled.push({ sku, quantity: short, reason, detail });
  }

  const used = new Set(result.shipments.map((s) => s.location.id));
  const trace = deps.locations.all.map((location): RouteTrace => {
    const cand = candidates.find((c) => c.location.id === location.id);
    const figs = figures.get(location.id) ?? [];
    const base = {
      location,
      used: used.has(location.id),
      rank: result.rank.get(location.id) ?? null,
      distanceKm: distances.get(location.id) ?? null,
      figures: figs,
    };
    const no = ineligible.get(location.id);
    if (no) return { ...base, reasons: [no.reason], detail: no.detail };
    if (used.has(location.id)) {
      const ships = result.shipments.find((s) => s.location.id === location.id)?.lines ?? [];
      return { ...base, reasons: ['USED'], detail: `ships ${ships.map((l) => `${l.sku} x${l.quantity}`).join(', ')}` };
    }
    if (result.cutByMaxShipments.has(location.id)) {
      return { ...base, reasons: ['BEYOND_MAX_SHIPMENTS'], detail: `could help, but the plan already has ${req.maxShipments} shipment(s)` };
    }
    if (cand !== undefined && cand.stock.size > 0) {
      return {
        ...base,
        reasons: ['NOT_NEEDED'],
        detail: allowSplit ? 'has stock, but the plan fills the order without it' : 'has stock, but not a whole line the plan still needed',
      };
    }
    const why = new Set<RouteReason>(['NO_STOCK']);
    for (const f of figs) {
      // a STALE figure under `stalePolicy: onHandOnly` is never promised, whatever useStaleStock says
      const onHandOnly = answers.get(f.sku)?.byLocation.find((l) => l.location.id === location.id)?.onHandOnly === true;
      if (f.flags.includes('STALE') && (!deps.useStaleStock || onHandOnly)) why.add('STALE_EXCLUDED');
      if (f.flags.includes('NEGATIVE_ON_HAND')) why.add('NEGATIVE_ON_HAND');
      if (f.flags.includes('SOURCE_UNAVAILABLE')) why.add('SOURCE_UNAVAILABLE');
    }
    const notes = figs.filter((f) => f.flags.length > 0).map((f) => `${f.sku}: ${f.flags.join(', ').toLowerCase()}`);
    return { ...base, reasons: [...why], detail: `nothing it can promise for this order${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` };
  });
  trace.sort((a, b) => (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER));

  return {
    complete: unfulfilled.length === 0,
    strategy,
    method: result.method,
    methodDetail: result.methodDetail,
    shipments: result.shipments,
    unfulfilled,
    trace,
  };
}

/**
 * Why a location's figure may not be promised to an order (or held by a reservation), in words;
 * undefined when it may: counted (sellable, usable), fresh unless stale stock is allowed, and
 * not standing in for a source that failed (a fallback figure from a system that deducts later,
 * such as the ERP, would over-promise).
 */
export function notPromisable(level: StockLevel | undefined, useStaleStock: boolean): string | undefined {
  if (level === undefined) return 'no source reports it there';
  if (level.flags.includes('SOURCE_UNAVAILABLE')) return `its source ${level.provenance.source ?? ''} failed during this request`.replace('  ', ' ');
  if (level.flags.includes('NEGATIVE_ON_HAND')) return 'its on-hand is negative';
  if (level.onHandOnly)
    return `its figure from ${level.provenance.source} is STALE and that source's stalePolicy is onHandOnly (counted on hand, promises nothing)`;
  if (level.provenance.stale && !useStaleStock) return `its figure from ${level.provenance.source} is STALE and routing.useStaleStock is false`;
  if (!level.counted) return 'its figure is not counted (stale under an exclude policy, or not sellable)';
  return undefined;
}

/** Units a location's figure lets us promise to an order (holds already subtracted): 0 when `notPromisable`. */
function promisable(level: StockLevel | undefined, useStaleStock: boolean): number {
  return level === undefined || notPromisable(level, useStaleStock) !== undefined ? 0 : level.available;
}

/** Validates the order and merges duplicate lines (same SKU: quantities added), keeping first-seen order. */
function checkOrder(req: RouteOrderRequest, strategy: RoutingStrategyName, deps: RouteOrderDeps): Map<string, number> {
  const problems: string[] = [];
  if (req.lines.length === 0) problems.push('an order needs at least one line');
  if (req.lines.length > deps.maxLines) problems.push(`too many lines: ${req.lines.length}, at most ${deps.maxLines} per order`);
  else {
    req.lines.forEach((l, i) => {
      if (!Number.isInteger(l.quantity) || l.quantity < 1) problems.push(`lines[${i}] (${l.sku}): quantity must be at least 1, got ${l.quantity}`);
      if (l.sku.trim() === '') problems.push(`lines[${i}]: empty sku`);
    });
  }
  if (strategy === 'DISTANCE' && (req.destination === null || req.destination === undefined)) problems.push('strategy DISTANCE needs a destination');
  const d = req.destination;
  if (d && (Math.abs(d.latitude) > 90 || Math.abs(d.longitude) > 180))
    problems.push(`destination out of range: latitude ${d.latitude}, longitude ${d.longitude}`);
  if (req.maxShipments !== null && req.maxShipments !== undefined && req.maxShipments < 1)
    problems.push(`maxShipments must be at least 1, got ${req.maxShipments}`);
  const channel = req.channel == null ? undefined : deps.locations.channelProblem(req.channel);
  if (channel !== undefined) problems.push(channel);
  const unknown = (req.excludeLocationIds ?? []).filter((id) => deps.locations.get(id) === undefined);
  if (unknown.length > 0) problems.push(`unknown location id(s) in excludeLocationIds: ${unknown.map((u) => JSON.stringify(u)).join(', ')}`);
  if (problems.length > 0) {
    throw new BadUserInputError(`Invalid order: ${problems.join('; ')}.`, { argumentName: 'order', problems });
  }
  const demand = new Map<string, number>();
  for (const l of req.lines) demand.set(l.sku, (demand.get(l.sku) ?? 0) + l.quantity);
  return demand;
}
