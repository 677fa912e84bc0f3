/**
 * The receiving end of a mirrored source's message feeds (amqp, nats, webhook), one per source:
 * what `ChangeSink.receive` does with a batch of deliveries, in order:
 *
 * 1. parse each delivery (one change, or an array of them) with the rules of
 *    src/domain/changes.ts; a change that cannot be read, or names a location the source's
 *    config does not map, becomes a dead letter with its reason;
 * 2. in one store transaction: drop the ids already recorded (a redelivery, a duplicate publish,
 *    a retry after a crash: the dedupe window survives restarts), record the new changes and the
 *    dead letters (src/store/feed-store.ts);
 * 3. apply the new changes to the mirror (src/feeds/mirror.ts);
 * 4. resolve: only now may the feed acknowledge. A store failure rejects, nothing is
 *    acknowledged, the transport delivers again.
 *
 * An unknown code is applied (the mirror holds source codes; the SKU map may learn it later) and
 * recorded as an ORPHAN_CODE anomaly; a negative on-hand opens NEGATIVE_ON_HAND at once (the
 * watch below). `redrive` takes the dead letters `inventory-graph feeds dlq replay` marked and
 * runs them through the same steps with the config as it is now.
 */
import type { Knex } from 'knex';
import { orphanAnomaly } from '../domain/reconciliation.js';
import { negativeOnHandAnomaly, type NewAnomaly } from '../domain/anomalies.js';
import { parseChange, type StockChange } from '../domain/changes.js';
import type { LocationIndex } from '../domain/locations.js';
import { errorFields, type Logger } from '../logger.js';
import { Lru } from '../lru.js';
import type { Store } from '../store/index.js';
import { inSpan, tracing } from '../tracing.js';
import type { NewDeadLetter } from '../store/feed-store.js';
import type { Trigger } from '../store/event-store.js';
import type { MirrorControl, Touched } from './mirror.js';
import type { ChangeSink, Delivery, Outcome } from './types.js';

export interface SinkOptions {
  mirror: MirrorControl;
  store: Store;
  /** The rules run on changed codes (orphans). */
  watch: ChangeWatch;
  logger: Logger;
  now?: () => number;
  /**
   * Told of the changed codes once their changes are applied to the mirror, with the recompute
   * marks written with them (src/events/availability-events.ts). Unset: events are off.
   */
  applied?: (marks: readonly Trigger[]) => void;
}

/** Most changes one delivery may carry (an array body). */
export const MAX_CHANGES_PER_DELIVERY = 1000;

export interface SourceSink extends ChangeSink {
  /** Re-drives up to `limit` dead letters marked for replay; answers how many applied and how many failed again. */
  redrive(limit?: number): Promise<{ applied: number; failed: number }>;
}

/** Outcomes ordered worst first: a delivery of several changes reports its worst. */
const RANK: Record<Outcome, number> = { dead: 3, applied: 2, ignored: 1, duplicate: 0 };

interface Item {
  delivery: number;
  change?: StockChange;
  dead?: NewDeadLetter;
}

export function createSink(o: SinkOptions): SourceSink {
  const now = o.now ?? Date.now;
  const source = o.mirror.source;

  function read(feed: string, d: Delivery, index: number, at: Date): Item[] {
    const deadLetter = (body: string, reason: string, messageId: string | null): Item => ({
      delivery: index,
      dead: { feed, messageId, transportId: d.transportId ?? null, body, reason },
    });
    let value: unknown;
    try {
      value = JSON.parse(d.body);
    } catch (e) {
      return [deadLetter(d.body, `not JSON: ${(e as Error).message}`, null)];
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) return [deadLetter(d.body, 'an empty array: no change to apply', null)];
    if (values.length > MAX_CHANGES_PER_DELIVERY)
      return [deadLetter(d.body, `${values.length} changes in one message; at most ${MAX_CHANGES_PER_DELIVERY}`, null)];
    return values.map((v) => {
      const p = parseChange(v, at);
      const body = values.length === 1 ? d.body : JSON.stringify(v);
      if (!p.ok) return deadLetter(body, p.reason, p.id);
      if (!o.mirror.knowsLocation(p.change.location))
        return deadLetter(body, `unknown location ${JSON.stringify(p.change.location)}: no configured location maps it for source "${source}"`, p.change.id);
      return { delivery: index, change: p.change };
    });
  }

  async function receive(feed: string, deliveries: readonly Delivery[], resolved: readonly number[] = []): Promise<Outcome[]> {
    const at = new Date(now());
    const items = deliveries.flatMap((d, i) => read(feed, d, i, at));
    // within the batch, the first of an id wins
    const seen = new Set<string>();
    const inBatch = new Set<Item>();
    const changes: StockChange[] = [];
    for (const it of items) {
      if (it.change === undefined) continue;
      if (seen.has(it.change.id)) inBatch.add(it);
      else {
        seen.add(it.change.id);
        changes.push(it.change);
      }
    }
    const dead = items.flatMap((it) => (it.dead === undefined ? [] : [it.dead]));
    let marks: readonly Trigger[] = [];
    const within =
      o.applied === undefined
        ? undefined
        : async (trx: Knex.Transaction, fresh: readonly StockChange[]) => {
            marks = await o.store.events.trigger(
              trx,
              source,
              fresh.map((c) => c.code),
            );
          };
    const duplicates = await o.store.feeds.record(source, feed, changes, dead, { resolved, ...(within !== undefined ? { within } : {}) });
    const fresh = changes.filter((c) => !duplicates.has(c.id));
    const applied = await o.mirror.apply(fresh);
    const outcomeOf = new Map<StockChange, Outcome>(fresh.map((c, i) => [c, applied[i] as Outcome]));
    const out: Outcome[] = deliveries.map(() => 'duplicate');
    for (const it of items) {
      const oc: Outcome = it.dead !== undefined ? 'dead' : inBatch.has(it) ? 'duplicate' : (outcomeOf.get(it.change as StockChange) ?? 'duplicate');
      if (RANK[oc] > RANK[out[it.delivery] as Outcome]) out[it.delivery] = oc;
    }
    if (dead.length > 0) o.logger.warn('feed messages dead-lettered', { source, feed, count: dead.length, first: dead[0]?.reason });
    if (fresh.length > 0) watchCodes(fresh.map((c) => c.code));
    if (marks.length > 0) o.applied?.(marks);
    return out;
  }

  const watchCodes = (codes: string[]) => void o.watch.codes(codes);

  /** A batch in its span (telemetry.tracing): the source, the feed and its kind, what came and what was applied. */
  function tracedReceive(feed: string, deliveries: readonly Delivery[], resolved?: readonly number[]): Promise<Outcome[]> {
    if (!tracing.enabled) return receive(feed, deliveries, resolved);
    const kind = feed.slice(feed.lastIndexOf('/') + 1);
    const attributes = { 'inventory.source': source, 'inventory.feed': feed, 'inventory.feed.kind': kind, 'inventory.feed.deliveries': deliveries.length };
    return inSpan(`feed batch ${feed}`, attributes, async (span) => {
      const out = await receive(feed, deliveries, resolved);
      const count = (o: Outcome) => out.reduce((n, x) => (x === o ? n + 1 : n), 0);
      span?.setAttributes({
        'inventory.feed.applied': count('applied'),
        'inventory.feed.duplicates': count('duplicate'),
        'inventory.feed.dead': count('dead'),
      });
      return out;
    });
  }

  return {
    receive: (feed, deliveries) => tracedReceive(feed, deliveries),
    async redrive(limit = 100) {
      const letters = await o.store.feeds.deadLetters.requested(source, limit);
      let applied = 0;
      let failed = 0;
      for (const l of letters) {
        const items = read(l.feed, { body: l.body, ...(l.transportId !== null ? { transportId: l.transportId } : {}) }, 0, new Date(now()));
        const problem = items.find((it) => it.dead !== undefined)?.dead;
        if (problem !== undefined) {
          await o.store.feeds.deadLetters.failedAgain(l.id, problem.reason);
          failed++;
          continue;
        }
        await tracedReceive(l.feed, [{ body: l.body }], [l.id]);
        applied++;
      }
      if (letters.length > 0) o.logger.info('dead letters re-driven', { source, applied, failed });
      return { applied, failed };
    },
  };
}

export interface WatchOptions {
  source: string;
  store: Store;
  /** Canonical locations, for the anomaly's location. */
  locations: LocationIndex;
  /** `canonical`: the source's codes are canonical SKUs. */
  skuCodes?: 'mapped' | 'canonical';
  logger: Logger;
}

/**
 * The rules that run when a mirrored record changes, off the acknowledgement path: a negative
 * on-hand opens NEGATIVE_ON_HAND for its SKU and location at once (not when someone asks), and a
 * code no canonical SKU maps is recorded as ORPHAN_CODE. Anomalies go through the store's write
 * queue (merged with repeats), so a burst costs one write per distinct anomaly.
 */
export function createChangeWatch(o: WatchOptions) {
  /** Codes known to map (to their SKU): a hot code is looked up once. */
  const known = new Lru<string, string>(100_000);

  async function skusOf(codes: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const ask: string[] = [];
    for (const c of new Set(codes)) {
      const s = known.get(c);
      if (s !== undefined) out.set(c, s);
      else ask.push(c);
    }
    if (ask.length > 0) {
      const found =
        o.skuCodes === 'canonical' ? new Map([...(await o.store.skus.existing(ask))].map((s) => [s, s])) : await o.store.skus.resolveMany(o.source, ask);
      for (const [c, s] of found) {
        known.set(c, s);
        out.set(c, s);
      }
    }
    return out;
  }

  return {
    /** Records the codes no SKU maps as orphans. */
    async codes(codes: readonly string[]): Promise<void> {
      try {
        const skus = await skusOf(codes);
        const orphans = [...new Set(codes)].filter((c) => !skus.has(c));
        if (orphans.length > 0) o.store.anomalies.enqueue(orphans.map((c) => orphanAnomaly(o.source, c)));
      } catch (e) {
        o.logger.warn('could not check changed codes against the SKU map', { source: o.source, ...errorFields(e) });
      }
    },
    /** Opens NEGATIVE_ON_HAND for each negative level (and ORPHAN_CODE where the code maps no SKU). */
    async negatives(touched: readonly Touched[]): Promise<void> {
      try {
        const skus = await skusOf(touched.map((t) => t.code));
        const anomalies: NewAnomaly[] = [];
        for (const t of touched) {
          const sku = skus.get(t.code);
          if (sku === undefined) {
            anomalies.push(orphanAnomaly(o.source, t.code));
            continue;
          }
          const location = o.locations.fromSourceCode(o.source, t.location)?.id ?? t.location;
          anomalies.push(negativeOnHandAnomaly(o.source, sku, location, t.onHand));
        }
        o.store.anomalies.enqueue(anomalies);
      } catch (e) {
        o.logger.warn('could not record negative on-hand anomalies', { source: o.source, ...errorFields(e) });
      }
    },
  };
}

export type ChangeWatch = ReturnType<typeof createChangeWatch>;
