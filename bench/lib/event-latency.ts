/**
 * Change-to-event latency for the events bench (bench/events.ts): each change written (a `set`
 * of one SKU's on-hand at one location) waits for the availability.changed events of every
 * channel it moves, recognised by that location's on-hand in the event's `data.locations`; it is
 * timed from its hand-over to the broker (t0) to the arrival of the last of them. One change per
 * SKU is waited for at a time: a second change of the same SKU before the first's events
 * supersedes it (the recompute may then publish only the newer figure).
 */

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentiles(xs: readonly number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number));
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s.at(-1) ?? Number.NaN };
}

/** An event as the sinks publish it (src/domain/events.ts `eventBody`), as far as the tracker reads it. */
interface EventBody {
  type: string;
  sku: string | null;
  channel: string | null;
  occurredAt: string;
  data?: { locations?: { id: string; onHand: number }[] };
}

interface Wait {
  location: string;
  onHand: number;
  t0: number;
  wall0: number;
  channels: number;
  seen: Map<string | null, number>;
  occurredAt: number;
  done: boolean;
}

export interface LatencyFigures {
  /** Changes waited for, those whose events did not all arrive within `missedMs`, and those superseded. */
  timed: number;
  missed: number;
  superseded: number;
  /** t0 to the last channel's event; to the first channel's. */
  latency: Percentiles;
  first: Percentiles;
  /** t0 to the event's occurredAt (the recompute), and from there to the arrival (outbox, publisher, broker). */
  toRecompute: Percentiles;
  toConsumer: Percentiles;
}

export function createLatencyTracker(missedMs: number) {
  const waits = new Map<string, Wait>();
  const timed = new Set<Wait>();
  let superseded = 0;
  const last = (w: Wait) => Math.max(...w.seen.values());
  return {
    /** A change of `sku` at `location` (its canonical id) to `onHand`, handed over at `t0` (performance.now()), moving `channels` channels. */
    sent(sku: string, location: string, onHand: number, t0: number, channels: number): void {
      const before = waits.get(sku);
      if (before !== undefined && !before.done) {
        superseded++;
        timed.delete(before);
      }
      const w: Wait = { location, onHand, t0, wall0: Date.now() - (performance.now() - t0), channels, seen: new Map(), occurredAt: Infinity, done: false };
      waits.set(sku, w);
      timed.add(w);
    },
    /** An availability.changed event that arrived at `at` (performance.now()). */
    received(e: EventBody, at: number): void {
      const w = e.sku === null ? undefined : waits.get(e.sku);
      if (w === undefined || w.done || e.data?.locations?.find((l) => l.id === w.location)?.onHand !== w.onHand) return;
      w.seen.set(e.channel, at);
      w.occurredAt = Math.min(w.occurredAt, Date.parse(e.occurredAt));
      if (w.seen.size >= w.channels) w.done = true;
    },
    /** Changes still waited for. */
    waiting: (): number => [...timed].filter((w) => !w.done).length,
    figures(): LatencyFigures {
      const done = [...timed].filter((w) => w.done && last(w) - w.t0 <= missedMs);
      return {
        timed: timed.size,
        missed: timed.size - done.length,
        superseded,
        latency: percentiles(done.map((w) => last(w) - w.t0)),
        first: percentiles(done.map((w) => Math.min(...w.seen.values()) - w.t0)),
        toRecompute: percentiles(done.map((w) => w.occurredAt - w.wall0)),
        toConsumer: percentiles(done.map((w) => last(w) - w.t0 - (w.occurredAt - w.wall0))),
      };
    },
  };
}
