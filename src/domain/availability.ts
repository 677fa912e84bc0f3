/**
 * The availability rules, applied to the figure precedence chose for each location:
 *
 *   available = max(0, onHand - committed - reserved - safetyStock)
 *
 * where `reserved` is the units held there by reservations that count now (src/domain/reservations.ts).
 * - A negative on-hand contributes 0 (to every total) and is flagged NEGATIVE_ON_HAND.
 * - A figure older than its source's `maxAgeSeconds` is flagged STALE, and so is one from a
 *   mirror that has not been caught up with its source for longer than `maxLagSeconds`; under
 *   the source's `exclude` policy it contributes 0, under `onHandOnly` it counts in the on-hand
 *   totals but promises nothing (available 0 there; routing and reservations cannot take it).
 * - A figure from a lower-precedence source is flagged FALLBACK; one a failed source should
 *   have given is flagged SOURCE_UNAVAILABLE; one whose source sent an unusable record (not a
 *   number, absurd, dated in the future) is flagged INVALID_SOURCE_DATA.
 * - Only sellable locations in the asked channel count toward a SKU's totals (`counted`).
 * Pure functions: no I/O, no clock except the `now` passed in.
 */
import type { ChannelView } from './channel-views.js';
import type { Location } from './locations.js';
import type { Decision } from './precedence.js';

export type Flag =
  | 'NEGATIVE_ON_HAND'
  | 'STALE'
  | 'FALLBACK'
  | 'SOURCE_UNAVAILABLE'
  | 'UNKNOWN_SKU'
  | 'NOT_SELLABLE'
  | 'SNAPSHOT_FALLBACK'
  | 'INVALID_SOURCE_DATA'
  | 'CARRIED_FORWARD'
  /** A channel's own view (src/domain/channel-views.ts) promises more than is available for the channel. */
  | 'CHANNEL_OVERSTATES';

export interface Provenance {
  /** The source whose figure is used; null when no source could answer. */
  source: string | null;
  asOf: Date | null;
  /** Mirrored sources: when the mirror was last caught up with the source; null for a live read. */
  heardAt: Date | null;
  stale: boolean;
  fallback: boolean;
  rule: string;
  /** A file source's figure carried from this older file, because the newest one has no row for it. */
  carriedFrom?: string;
}

export interface StockLevel {
  location: Location;
  onHand: number;
  committed: number;
  /** Units held here by reservations that count now. */
  reserved: number;
  safetyStock: number;
  available: number;
  /** `available` before holds: what a reservation may take here, less what is held (0 when the figure may not be used). */
  availableBeforeHolds: number;
  /** Whether this location counts toward the SKU's totals (sellable, in the channel, usable). */
  counted: boolean;
  /** A STALE figure under its source's `stalePolicy: onHandOnly`: counted in on-hand, promises nothing (available 0). */
  onHandOnly: boolean;
  flags: Flag[];
  provenance: Provenance;
}

export interface Availability {
  sku: string;
  known: boolean;
  available: number;
  onHand: number;
  committed: number;
  reserved: number;
  safetyStock: number;
  flags: Flag[];
  byLocation: StockLevel[];
  /** The channels' own views beside this answer, when they were asked for (src/domain/channel-views.ts). */
  channelViews?: ChannelView[];
}

export interface Quantity {
  onHand: number;
  committed: number;
  asOf: Date;
  /** From an older file snapshot, because the source's newest file was refused. */
  snapshotFallback?: boolean;
  /** Carried from this older file of a file source: its newest file has no row here. */
  carriedFrom?: string;
  /** From a mirror last caught up with its source at this moment. */
  heardAt?: Date;
}

/**
 * What a STALE figure does (a source's `stalePolicy`): `count` as any other, `exclude` contributes
 * nothing, `onHandOnly` counts in the on-hand totals but promises nothing (available 0 there, so
 * routing and reservations cannot take it). The config's enum (src/config/schema.ts) is this list.
 */
export const STALE_POLICIES = ['count', 'exclude', 'onHandOnly'] as const;
export type StalePolicy = (typeof STALE_POLICIES)[number];

/** Freshness policy of one source. */
export interface SourcePolicy {
  maxAgeSeconds: number | undefined;
  /** A mirrored source's `sync.maxLagSeconds`. */
  maxLagSeconds?: number | undefined;
  stalePolicy: StalePolicy;
}

/**
 * The level of one location, or undefined when no source reported it and none failed
 * (nothing is known there: the location is left out rather than shown as a guessed zero).
 */
export function stockLevel(
  location: Location,
  d: Decision<Quantity>,
  policyOf: (source: string) => SourcePolicy,
  now: Date,
  reserved = 0,
): StockLevel | undefined {
  if (d.winner === undefined && !d.sourceUnavailable && d.invalidData !== true) return undefined;
  const flags: Flag[] = [];
  if (d.fallback && d.winner !== undefined) flags.push('FALLBACK');
  if (d.sourceUnavailable) flags.push('SOURCE_UNAVAILABLE');
  if (d.invalidData === true) flags.push('INVALID_SOURCE_DATA');
  if (!location.sellable) flags.push('NOT_SELLABLE');
  if (d.winner === undefined) {
    return {
      location,
      onHand: 0,
      committed: 0,
      reserved,
      safetyStock: location.safetyStock,
      available: 0,
      availableBeforeHolds: 0,
      counted: false,
      onHandOnly: false,
      flags,
      provenance: { source: null, asOf: null, heardAt: null, stale: false, fallback: d.fallback, rule: d.rule },
    };
  }
  const q = d.winner.value;
  const policy = policyOf(d.winner.source);
  const stale = isStale(q, policy, now);
  if (stale) flags.push('STALE');
  // the figure still counts (it is the last good one); its freshness is judged by its asOf like any other
  if (q.snapshotFallback === true) flags.push('SNAPSHOT_FALLBACK');
  // the item is missing from the newest file: its last known row, judged by its older asOf
  if (q.carriedFrom !== undefined) flags.push('CARRIED_FORWARD');
  const negative = q.onHand < 0;
  if (negative) flags.push('NEGATIVE_ON_HAND');
  const usable = !negative && !(stale && policy.stalePolicy === 'exclude');
  // counted in on-hand, promising nothing
  const onHandOnly = usable && stale && policy.stalePolicy === 'onHandOnly';
  const beforeHolds = usable && !onHandOnly ? Math.max(0, q.onHand - q.committed - location.safetyStock) : 0;
  return {
    location,
    onHand: q.onHand,
    committed: q.committed,
    reserved,
    safetyStock: location.safetyStock,
    available: Math.max(0, beforeHolds - reserved),
    availableBeforeHolds: beforeHolds,
    counted: location.sellable && usable,
    onHandOnly,
    flags,
    provenance: {
      source: d.winner.source,
      asOf: q.asOf,
      heardAt: q.heardAt ?? null,
      stale,
      fallback: d.fallback,
      rule: d.rule,
      ...(q.carriedFrom !== undefined ? { carriedFrom: q.carriedFrom } : {}),
    },
  };
}

/** Older than the source's `maxAgeSeconds`, or from a mirror lagging more than its `maxLagSeconds`. */
export function isStale(q: { asOf: Date; heardAt?: Date | undefined }, policy: SourcePolicy, now: Date): boolean {
  if (policy.maxAgeSeconds !== undefined && now.getTime() - q.asOf.getTime() > policy.maxAgeSeconds * 1000) return true;
  return q.heardAt !== undefined && policy.maxLagSeconds !== undefined && now.getTime() - q.heardAt.getTime() > policy.maxLagSeconds * 1000;
}

/** A SKU's totals over its counted locations; flags are the union of its locations' flags. */
export function summarize(sku: string, levels: StockLevel[]): Availability {
  const a: Availability = { sku, known: true, available: 0, onHand: 0, committed: 0, reserved: 0, safetyStock: 0, flags: [], byLocation: levels };
  const flags = new Set<Flag>();
  for (const l of levels) {
    for (const f of l.flags) if (f !== 'NOT_SELLABLE') flags.add(f);
    if (!l.counted) continue;
    a.available += l.available;
    a.onHand += l.onHand;
    a.committed += l.committed;
    a.reserved += l.reserved;
    a.safetyStock += l.safetyStock;
  }
  a.flags = [...flags];
  return a;
}

export function unknownSku(sku: string): Availability {
  return { sku, known: false, available: 0, onHand: 0, committed: 0, reserved: 0, safetyStock: 0, flags: ['UNKNOWN_SKU'], byLocation: [] };
}
