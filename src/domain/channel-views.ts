/**
 * What a sales channel itself promises, beside what we can promise it. A source declared
 * `channelView: { channel: web }` (the web platform's salable quantity) is never authoritative:
 * its figure is only compared with our ATP for that channel.
 *
 * - promised  = Σ (onHand − committed) over the view source's stock records for the SKU (every
 *               code the SKU map gives it, every location code it reports: a channel's view is
 *               usually one figure per website or stock, not per warehouse), not clamped;
 * - available = Σ available over the SKU's counted locations that serve the channel (our ATP
 *               for the channel, reservations and safety stock already out);
 * - overstatement = max(0, promised − available): the units the channel may sell that we
 *               cannot ship. Above 0 the SKU is flagged CHANNEL_OVERSTATES and an anomaly is
 *               recorded (deduplicated by kind, SKU and source while open).
 * Pure functions: the caller reads the records and judges their freshness.
 */
import type { NewAnomaly } from './anomalies.js';
import type { StockLevel } from './availability.js';
import { inChannel } from './locations.js';

export interface ChannelView {
  /** The source declared as the channel's view. */
  source: string;
  channel: string;
  /** What the channel promises: Σ (onHand − committed) over its records. */
  promised: number;
  /** What we can promise the channel: Σ available over the counted locations serving it. */
  available: number;
  /** max(0, promised − available). */
  overstatement: number;
  /** The oldest of its records' asOf; null when it has no record for the SKU (promised 0). */
  asOf: Date | null;
  /** Older than the view source's `maxAgeSeconds`. */
  stale: boolean;
}

/** The figure a view promises, from its records for one SKU (already checked usable). */
export function promised(records: readonly { onHand: number; committed: number; asOf: Date }[]): { promised: number; asOf: Date | null } {
  let total = 0;
  let asOf: Date | null = null;
  for (const r of records) {
    total += r.onHand - r.committed;
    if (asOf === null || r.asOf < asOf) asOf = r.asOf;
  }
  return { promised: total, asOf };
}

/** Our ATP for `channel`: Σ available over the counted levels whose location serves it. */
export function channelAvailable(levels: readonly StockLevel[], channel: string): number {
  let n = 0;
  for (const l of levels) if (l.counted && inChannel(l.location, channel)) n += l.available;
  return n;
}

/** One view beside our figure for its channel. */
export function compareView(
  view: { source: string; channel: string; stale: boolean },
  records: readonly { onHand: number; committed: number; asOf: Date }[],
  levels: readonly StockLevel[],
): ChannelView {
  const p = promised(records);
  const available = channelAvailable(levels, view.channel);
  return { ...view, promised: p.promised, available, overstatement: Math.max(0, p.promised - available), asOf: p.asOf };
}

/** CHANNEL_OVERSTATES for `sku`, naming the source, the channel, what it promises and what we have. */
export function overstatesAnomaly(sku: string, v: ChannelView): NewAnomaly {
  return {
    kind: 'CHANNEL_OVERSTATES',
    sku,
    location: null,
    source: v.source,
    detail: `${v.source} (channel ${v.channel}) promises ${v.promised} of ${sku}; ${v.available} available for ${v.channel}: overstates by ${v.overstatement}`,
  };
}
