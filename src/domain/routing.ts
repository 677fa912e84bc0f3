/**
 * Order routing: given an order's lines and the stock each candidate location can promise,
 * which locations ship what. Pure: it sees figures already resolved by precedence and the
 * availability rules, never a source.
 *
 * Strategies:
 * - PRIORITY walks locations by configured priority (then distance, then id), taking what each
 *   can give, as Magento's priority source selection does.
 * - DISTANCE walks them by great-circle distance to the destination (then priority, then id).
 * - FEWEST_SHIPMENTS minimises the number of locations. It searches exhaustively, smallest
 *   sets first, while the number of sets to try stays under `exhaustiveLimit`; among the sets
 *   of the smallest size that fill the order it takes the one with the least total distance,
 *   then the least total priority, then the first by location order. Past the limit it falls
 *   back to a greedy heuristic (take the location that fills the most remaining units, ties by
 *   the same order), which is reported in `method` (GREEDY_HEURISTIC) and `methodDetail`.
 * A line is split across locations only with `allowSplit`; no location is ever given more
 * than its `available`; the same input always gives the same plan.
 *
 * The policy is pluggable in the Vendure way: a small interface and a Default implementation.
 */
import type { Location } from './locations.js';

export type RoutingStrategyName = 'PRIORITY' | 'DISTANCE' | 'FEWEST_SHIPMENTS';

/**
 * How a plan was found: PRIORITY and DISTANCE walk their order; FEWEST_SHIPMENTS searches
 * exhaustively while the sets to try stay under the limit, else (or when no set within
 * `maxShipments` fills the order) takes the greedy heuristic.
 */
export type PlanMethod = 'PRIORITY_ORDER' | 'DISTANCE_ORDER' | 'EXHAUSTIVE_SEARCH' | 'GREEDY_HEURISTIC';

export interface OrderLine {
  sku: string;
  quantity: number;
}

/** A location that may ship: its usable stock per SKU of the order. */
export interface Candidate {
  location: Location;
  distanceKm: number | null;
  /** Units it can promise per SKU (0 or absent: none). */
  stock: ReadonlyMap<string, number>;
}

export interface RoutingInput {
  lines: readonly OrderLine[];
  candidates: readonly Candidate[];
  strategy: RoutingStrategyName;
  allowSplit: boolean;
  /** Most locations the order may ship from; null: no limit. */
  maxShipments: number | null;
}

export interface Shipment {
  location: Location;
  distanceKm: number | null;
  lines: OrderLine[];
}

export interface RoutingResult {
  shipments: Shipment[];
  /** Units left unassigned per SKU. */
  shortfall: Map<string, number>;
  /** Location id → its rank in the strategy's order (1 first). */
  rank: Map<string, number>;
  /** Candidates that could have helped but were left out by `maxShipments`. */
  cutByMaxShipments: Set<string>;
  /** How the plan was found. */
  method: PlanMethod;
  /** The same in words, with its numbers (`exhaustive search: 7 location set(s) of 3 candidate(s) tried`). */
  methodDetail: string;
}

export interface RoutingPolicy {
  route(input: RoutingInput): RoutingResult;
}

export interface RoutingPolicyOptions {
  /** Most location sets FEWEST_SHIPMENTS tries before it turns greedy. Defaults to 20000. */
  exhaustiveLimit?: number;
}

export class DefaultRoutingPolicy implements RoutingPolicy {
  private readonly exhaustiveLimit: number;

  constructor(o: RoutingPolicyOptions = {}) {
    this.exhaustiveLimit = o.exhaustiveLimit ?? 20_000;
  }

  route(input: RoutingInput): RoutingResult {
    const demand = new Map<string, number>();
    for (const l of input.lines) demand.set(l.sku, (demand.get(l.sku) ?? 0) + l.quantity);
    const useful = input.candidates.filter((c) => [...demand.keys()].some((sku) => (c.stock.get(sku) ?? 0) > 0));
    const ordered = [...useful].sort(input.strategy === 'PRIORITY' ? byPriority : byDistance);
    const rank = new Map(ordered.map((c, i) => [c.location.id, i + 1]));
    const max = input.maxShipments ?? Number.POSITIVE_INFINITY;

    if (input.strategy !== 'FEWEST_SHIPMENTS') {
      const walk = assign(ordered, demand, input.allowSplit, max);
      const priority = input.strategy === 'PRIORITY';
      return {
        ...walk,
        rank,
        method: priority ? 'PRIORITY_ORDER' : 'DISTANCE_ORDER',
        methodDetail: `${priority ? 'priority' : 'distance'} order over ${ordered.length} candidate location(s)`,
      };
    }

    const exact = this.smallestCoveringSet(ordered, demand, input.allowSplit, max);
    if (exact.set !== undefined) {
      const walk = assign(exact.set, demand, input.allowSplit, max);
      return {
        ...walk,
        rank,
        cutByMaxShipments: new Set(),
        method: 'EXHAUSTIVE_SEARCH',
        methodDetail: `exhaustive search: ${exact.tried} location set(s) of ${ordered.length} candidate(s) tried`,
      };
    }
    const greedy = greedyCover(ordered, demand, input.allowSplit, max);
    const walk = assign(greedy.chosen, demand, input.allowSplit, max);
    const why = exact.complete ? 'no set within maxShipments fills the order' : `more than ${this.exhaustiveLimit} sets to try`;
    return {
      ...walk,
      rank,
      cutByMaxShipments: greedy.cut,
      method: 'GREEDY_HEURISTIC',
      methodDetail: `greedy heuristic over ${ordered.length} candidate(s) (${why})`,
    };
  }

  /**
   * The smallest set of candidates that fills the whole order, best by total distance, then
   * total priority, then candidate order. `complete` says whether the search ran to the end.
   */
  private smallestCoveringSet(ordered: readonly Candidate[], demand: ReadonlyMap<string, number>, allowSplit: boolean, max: number) {
    let tried = 0;
    const n = ordered.length;
    for (let k = 1; k <= Math.min(n, max); k++) {
      if (tried + binomial(n, k) > this.exhaustiveLimit) return { set: undefined, tried, complete: false };
      let best: { set: Candidate[]; distance: number; priority: number } | undefined;
      for (const set of combinations(ordered, k)) {
        tried++;
        if (!fills(set, demand, allowSplit)) continue;
        const distance = set.reduce((s, c) => s + (c.distanceKm ?? UNKNOWN_DISTANCE), 0);
        const priority = set.reduce((s, c) => s + c.location.priority, 0);
        // combinations come in candidate order, so the first of equals is kept
        if (best === undefined || distance < best.distance - 1e-9 || (Math.abs(distance - best.distance) <= 1e-9 && priority < best.priority)) {
          best = { set, distance, priority };
        }
      }
      if (best !== undefined) return { set: best.set, tried, complete: true };
    }
    return { set: undefined, tried, complete: true };
  }
}

/** A location with no coordinates sorts after every known distance, deterministically. */
const UNKNOWN_DISTANCE = 1e7;

function byPriority(a: Candidate, b: Candidate): number {
  return a.location.priority - b.location.priority || distanceOf(a) - distanceOf(b) || a.location.id.localeCompare(b.location.id);
}

function byDistance(a: Candidate, b: Candidate): number {
  return distanceOf(a) - distanceOf(b) || a.location.priority - b.location.priority || a.location.id.localeCompare(b.location.id);
}

const distanceOf = (c: Candidate) => c.distanceKm ?? UNKNOWN_DISTANCE;

/** Whether these locations together can fill every line (each line whole at one location without split). */
function fills(set: readonly Candidate[], demand: ReadonlyMap<string, number>, allowSplit: boolean): boolean {
  for (const [sku, qty] of demand) {
    if (allowSplit) {
      if (set.reduce((s, c) => s + (c.stock.get(sku) ?? 0), 0) < qty) return false;
    } else if (!set.some((c) => (c.stock.get(sku) ?? 0) >= qty)) {
      return false;
    }
  }
  return true;
}

/**
 * Walks locations in order, giving each line what the location can spare: all of what is left
 * (no split: only when it can take the whole line). A location that would open a shipment
 * past `max` is skipped and reported.
 */
function assign(ordered: readonly Candidate[], demand: ReadonlyMap<string, number>, allowSplit: boolean, max: number) {
  const left = new Map(demand);
  const shipments: Shipment[] = [];
  const cutByMaxShipments = new Set<string>();
  for (const c of ordered) {
    const lines: OrderLine[] = [];
    for (const [sku, want] of left) {
      if (want === 0) continue;
      const have = c.stock.get(sku) ?? 0;
      const take = allowSplit ? Math.min(want, have) : have >= want ? want : 0;
      if (take > 0) lines.push({ sku, quantity: take });
    }
    if (lines.length === 0) continue;
    if (shipments.length >= max) {
      cutByMaxShipments.add(c.location.id);
      continue;
    }
    for (const l of lines) left.set(l.sku, (left.get(l.sku) ?? 0) - l.quantity);
    shipments.push({ location: c.location, distanceKm: c.distanceKm, lines });
  }
  for (const [sku, n] of [...left]) if (n === 0) left.delete(sku);
  return { shipments, shortfall: left, cutByMaxShipments };
}

/** Repeatedly takes the candidate that fills the most remaining units, up to `max` locations. */
function greedyCover(ordered: readonly Candidate[], demand: ReadonlyMap<string, number>, allowSplit: boolean, max: number) {
  const left = new Map(demand);
  const pool = [...ordered];
  const chosen: Candidate[] = [];
  const gain = (c: Candidate) => {
    let units = 0;
    for (const [sku, want] of left) {
      const have = c.stock.get(sku) ?? 0;
      units += allowSplit ? Math.min(want, have) : have >= want ? want : 0;
    }
    return units;
  };
  while (chosen.length < max && [...left.values()].some((v) => v > 0)) {
    let best = -1;
    let bestGain = 0;
    pool.forEach((c, i) => {
      const g = gain(c);
      if (g > bestGain) [best, bestGain] = [i, g];
    });
    if (best < 0) break;
    const [c] = pool.splice(best, 1) as [Candidate];
    chosen.push(c);
    for (const [sku, want] of left) {
      const have = c.stock.get(sku) ?? 0;
      left.set(sku, want - (allowSplit ? Math.min(want, have) : have >= want ? want : 0));
    }
  }
  chosen.sort((a, b) => ordered.indexOf(a) - ordered.indexOf(b));
  // what could still have helped, had `max` allowed another location
  const cut = chosen.length >= max ? new Set(pool.filter((c) => gain(c) > 0).map((c) => c.location.id)) : new Set<string>();
  return { chosen, cut };
}

function* combinations<T>(items: readonly T[], k: number, start = 0, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === k) {
    yield [...prefix];
    return;
  }
  for (let i = start; i <= items.length - (k - prefix.length); i++) {
    prefix.push(items[i] as T);
    yield* combinations(items, k, i + 1, prefix);
    prefix.pop();
  }
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Great-circle distance in km (haversine, mean Earth radius 6371 km), to 0.1 km. */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return Math.round(2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h))) * 10) / 10;
}
