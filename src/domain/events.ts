/**
 * Events out: what the gateway tells other systems when something changes (docs/events.md).
 *
 * Every event has a stable `id` (the receiver's dedupe key: a retry or a replay carries the same
 * one), a `type`, `occurredAt`, and the SKU and channel it is about where it has them. Types:
 *
 * - `availability.changed`, per (sku, channel): the figure a storefront would be answered now
 *   against the last one published. Published when it crosses a threshold (`crossing`):
 *   OUT_OF_STOCK (available reached 0), BACK_IN_STOCK (it left 0), LOW_STOCK (it fell to the
 *   low-stock threshold or below, from above it); with `availability.everyChange`, on every
 *   change of the figure too (`crossing: null`).
 * - `anomaly.opened | acknowledged | resolved | reopened` (reopened: the same condition came back
 *   after a person resolved it).
 * - `reservation.created | confirmed | released | extended | expired | handed_over`.
 * - `source.down | up | stale`: a source's state as /status shows it, on each change.
 *
 * Pure: the bands and crossings, the sinks' filters, the body and the routing key.
 */

export const EVENT_TYPES = [
  'availability.changed',
  'anomaly.opened',
  'anomaly.acknowledged',
  'anomaly.resolved',
  'anomaly.reopened',
  'reservation.created',
  'reservation.confirmed',
  'reservation.released',
  'reservation.extended',
  'reservation.expired',
  'reservation.handed_over',
  'source.down',
  'source.up',
  'source.stale',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** An event about to be written to the outbox. */
export interface NewEvent {
  type: EventType;
  /** The canonical SKU it is about, if any (also what orders its deliveries). */
  sku: string | null;
  channel: string | null;
  occurredAt: Date;
  /** Self-explaining payload: old and new figures, location, sources. */
  data: Record<string, unknown>;
  /**
   * What deliveries are ordered by: events with the same key reach a sink in the order they
   * were written. Defaults to the SKU, else the type's family and subject (a reservation id, a source).
   */
  orderingKey?: string;
}

/** An event as the outbox holds it. */
export interface StoredEvent extends Omit<NewEvent, 'orderingKey'> {
  /** Position in the outbox: the order events were written in. */
  seq: number;
  id: string;
  orderingKey: string;
  /** `data` as the outbox holds it (JSON), when read from there: sent as it is, not parsed and written again. */
  dataJson?: string;
}

/** The JSON every sink sends (a webhook's body, a broker message's payload). */
export interface EventBody {
  id: string;
  type: EventType;
  occurredAt: string;
  sku: string | null;
  channel: string | null;
  data: Record<string, unknown>;
}

export function eventBody(e: StoredEvent): EventBody {
  return { id: e.id, type: e.type, occurredAt: e.occurredAt.toISOString(), sku: e.sku, channel: e.channel, data: e.data };
}

/** `JSON.stringify(eventBody(e))`, the same bytes, without parsing `data` again when the outbox gave its JSON. */
export function serializeEvent(e: StoredEvent): string {
  if (e.dataJson === undefined) return JSON.stringify(eventBody(e));
  const q = JSON.stringify;
  return `{"id":${q(e.id)},"type":${q(e.type)},"occurredAt":${q(e.occurredAt.toISOString())},"sku":${q(e.sku)},"channel":${q(e.channel)},"data":${e.dataJson}}`;
}

/** The word routing keys and subjects use where an event has no channel. */
export const NO_CHANNEL = '_';

/**
 * `<type>.<channel>`, e.g. `availability.changed.web`; `<type>._` for events with no channel
 * (anomalies, sources). A channel's `.`, `*`, `#`, `>` and spaces become `_`, so one channel is
 * always one word of a RabbitMQ routing key or a NATS subject.
 */
export function routingKey(e: Pick<StoredEvent, 'type' | 'channel'>): string {
  return `${e.type}.${e.channel === null ? NO_CHANNEL : e.channel.replace(/[.*#>\s]/g, '_')}`;
}

// ---- availability: bands and crossings ----

/** Where a figure stands: OUT (0), LOW (at or below the low-stock threshold), IN (above it). */
export type Band = 'OUT' | 'LOW' | 'IN';
export type Crossing = 'OUT_OF_STOCK' | 'BACK_IN_STOCK' | 'LOW_STOCK';

/** `lowStock` 0 means no LOW band: a figure is OUT or IN. */
export function bandOf(available: number, lowStock: number): Band {
  if (available <= 0) return 'OUT';
  return available <= lowStock ? 'LOW' : 'IN';
}

/**
 * The threshold a change of band crosses, or null. `previous` null: nothing was published for
 * this SKU and channel yet, so OUT and LOW are announced (a storefront may not know them) and IN
 * is not. Staying in a band crosses nothing, so a figure flapping 0 → 1 → 0 gives one event per
 * crossing and a figure moving within a band gives none.
 */
export function crossingOf(previous: Band | null, next: Band): Crossing | null {
  if (previous === next) return null;
  if (next === 'OUT') return 'OUT_OF_STOCK';
  if (previous === 'OUT') return 'BACK_IN_STOCK';
  if (next === 'LOW') return 'LOW_STOCK';
  return null; // LOW -> IN, or first seen IN
}

export interface LowStockThresholds {
  /** For every SKU and channel without its own. */
  default: number;
  channels: Readonly<Record<string, number>>;
  skus: Readonly<Record<string, number>>;
}

/** A SKU's own threshold wins, then its channel's, then the default. */
export function lowStockFor(t: LowStockThresholds, sku: string, channel: string | null): number {
  return t.skus[sku] ?? (channel === null ? undefined : t.channels[channel]) ?? t.default;
}

/** An (sku, channel) figure as last published, per canonical location too. */
export interface Figure {
  available: number;
  onHand: number;
  committed: number;
  reserved: number;
  /** Available per counted location. */
  locations: Record<string, number>;
}

export function sameFigure(a: Figure, b: Figure): boolean {
  if (a.available !== b.available || a.onHand !== b.onHand || a.committed !== b.committed || a.reserved !== b.reserved) return false;
  const ka = Object.keys(a.locations);
  if (ka.length !== Object.keys(b.locations).length) return false;
  return ka.every((k) => a.locations[k] === b.locations[k]);
}

// ---- sinks' filters ----

export interface EventFilter {
  /** Types, or families as `anomaly.*`; unset: every type. */
  types?: readonly string[] | undefined;
  /** Channels; events with no channel pass. Unset: every channel. */
  channels?: readonly string[] | undefined;
  /** SKU prefixes; events with no SKU pass. Unset: every SKU. */
  skuPrefixes?: readonly string[] | undefined;
  /** availability.changed only: the crossings wanted (null: any change). Unset: every one. */
  crossings?: readonly (Crossing | 'NONE')[] | undefined;
}

export function matches(f: EventFilter, e: Pick<NewEvent, 'type' | 'sku' | 'channel' | 'data'>): boolean {
  if (f.types !== undefined && !f.types.some((t) => t === e.type || (t.endsWith('.*') && e.type.startsWith(t.slice(0, -1))))) return false;
  if (f.channels !== undefined && e.channel !== null && !f.channels.includes(e.channel)) return false;
  if (f.skuPrefixes !== undefined && e.sku !== null && !f.skuPrefixes.some((p) => (e.sku as string).startsWith(p))) return false;
  if (f.crossings !== undefined && e.type === 'availability.changed') {
    const c = (e.data.crossing as Crossing | null | undefined) ?? 'NONE';
    if (!f.crossings.includes(c)) return false;
  }
  return true;
}

/** A type pattern a filter may name: a type, or a family (`anomaly.*`). */
export function isTypePattern(t: string): boolean {
  return (EVENT_TYPES as readonly string[]).includes(t) || EVENT_TYPES.some((x) => t.endsWith('.*') && x.startsWith(t.slice(0, -1)));
}

/** The key deliveries are ordered by: the SKU, else the subject of the event. */
export function orderingKeyOf(e: NewEvent): string {
  if (e.orderingKey !== undefined) return e.orderingKey.slice(0, 191);
  if (e.sku !== null) return e.sku;
  return e.type.split('.')[0] as string;
}

// ---- delivery ----

/** The delay before attempt `attempt + 1` (attempt ≥ 1): exponential from `baseMs`, at most `maxMs`, with full jitter over its upper half. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(d / 2 + random() * (d / 2));
}
