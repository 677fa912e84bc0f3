/**
 * availability.changed: recomputes the SKUs that changes touched and publishes what crossed a
 * threshold, against the last figure published (the baseline in the store).
 *
 * Where the work comes from:
 * - a feed's applied changes and a poll's re-reads: their codes were marked in the store
 *   (`event_triggers`) with the change, and `touched` is called once the mirror holds them;
 * - reservation changes: their SKUs were marked in the reservation's transaction
 *   (src/store/reservation-store.ts), and the event store tells us after the commit;
 * - marks left over (a crash between a change and its events, or another instance's): read from
 *   the store at start and then every `leftoverScanMs`, those older than that;
 * - the sweep (`events.availability.sweepIntervalSeconds`, off by default): every SKU of the
 *   catalogue, for live sources whose changes nothing reports.
 *
 * A batch: its codes become canonical SKUs (the SKU map), each SKU's figure is computed per
 * channel as a storefront would be answered now (one InventoryService read: the sources in
 * parallel, holds included), compared with its baseline, and the events, the new baselines and
 * the deletion of the marks handled are one store transaction (src/store/event-store.ts): a
 * crash before it leaves the marks, so the work is done again against the same baselines; after
 * it, nothing is left to do twice. Never an event without its change, never a change without its event.
 *
 * A figure a source outage made (a location flagged SOURCE_UNAVAILABLE) is not published: its
 * marks stay, and it is tried again with the leftovers, so an outage does not announce a
 * storm of OUT_OF_STOCK that is not true.
 */
import type { EventsConfig } from '../config/index.js';
import { summarize, type Availability, type StockLevel } from '../domain/availability.js';
import { inChannel } from '../domain/locations.js';
import { bandOf, crossingOf, lowStockFor, sameFigure, type Band, type Figure, type NewEvent } from '../domain/events.js';
import { errorFields, type Logger } from '../logger.js';
import type { InventoryService } from '../service/inventory-service.js';
import type { SourceDiagnostics } from '../service/diagnostics.js';
import type { Baseline, Store, Trigger } from '../store/index.js';

export interface AvailabilityEventsOptions {
  store: Store;
  /** A fresh InventoryService per batch (runtime.inventory()). */
  inventory: () => InventoryService;
  /** Per source: whether its codes are canonical SKUs. */
  canonical: (source: string) => boolean;
  /** The channels figures are published for; `null`: one figure over every location. */
  channels: readonly (string | null)[];
  config: EventsConfig['availability'];
  /** SKUs per availability read (the server's maxSkusPerQuery). */
  maxSkusPerRead: number;
  logger: Logger;
  now?: () => Date;
  /** How old a leftover mark must be before the scan takes it, in ms. Defaults to 30 000. */
  leftoverScanMs?: number;
  /**
   * The fleet's one recompute (src/service/leases.ts, with the publisher's lease): another
   * instance's marks stay in the store for the holder's leftover scan, so a crossing is published
   * once, not once per instance. Unset: always this process.
   */
  lease?: { held(): boolean };
}

export interface AvailabilityEventsStats {
  /** Marks waiting in memory. */
  queued: number;
  /** SKU × channel figures compared since start. */
  compared: number;
  /** availability.changed events written since start. */
  published: number;
  /** SKUs put off because a source could not answer for them. */
  deferred: number;
  /** Batches that failed (logged; their marks stay for the leftover scan). */
  failedBatches: number;
  /** When the last sweep of the catalogue ended, and how many SKUs it compared. */
  lastSweep: { at: Date; skus: number } | null;
}

/** Marks held in memory at most; past it new ones wait in the store for the leftover scan. */
const MAX_QUEUED = 1_000_000;

const NO_CHANNEL = '';

export function createAvailabilityEvents(o: AvailabilityEventsOptions) {
  const now = o.now ?? (() => new Date());
  const leftoverMs = o.leftoverScanMs ?? 30_000;
  const queue = new Map<string, Trigger>();
  const stats: AvailabilityEventsStats = { queued: 0, compared: 0, published: 0, deferred: 0, failedBatches: 0, lastSweep: null };
  let running: Promise<void> | undefined;
  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  const idle = new Set<() => void>();
  let sweeping: Promise<void> | undefined;
  /**
   * Recomputes run one at a time: a sweep's and a change batch's, side by side, would both compare
   * a SKU with the same baseline and publish one change twice (or commit out of seq order).
   */
  let turn: Promise<void> = Promise.resolve();
  function inTurn(fn: () => Promise<void>): Promise<void> {
    const run = turn.then(fn);
    turn = run.catch(() => undefined);
    return run;
  }

  const mine = () => o.lease === undefined || o.lease.held();

  function enqueue(marks: readonly Trigger[]): void {
    // not the holder: the marks are durable, the holder's leftover scan takes them
    if (closed || !mine()) return;
    for (const m of marks) {
      const k = `${m.source}\u0000${m.code}`;
      if (queue.size >= MAX_QUEUED && !queue.has(k)) continue; // durable: the leftover scan finds it
      queue.set(k, m);
    }
    if (queue.size > 0) running ??= new Promise<void>((r) => setImmediate(r)).then(work);
  }

  async function work(): Promise<void> {
    try {
      while (!closed && queue.size > 0) {
        const batch: Trigger[] = [];
        for (const [k, m] of queue) {
          if (batch.length >= o.config.batchSize) break;
          batch.push(m);
          queue.delete(k);
        }
        try {
          await inTurn(() => recompute(batch, 'change'));
        } catch (e) {
          stats.failedBatches++;
          o.logger.warn('could not publish availability events; the marks stay for the next scan', { marks: batch.length, ...errorFields(e) });
        }
      }
    } finally {
      running = undefined;
      for (const fn of idle) fn();
      idle.clear();
    }
  }

  /** Canonical SKUs of the marks, and which marks each SKU came from. */
  async function skusOf(marks: readonly Trigger[]): Promise<Map<string, Trigger[]>> {
    const add = (into: Map<string, Trigger[]>, key: string, m: Trigger) => {
      const list = into.get(key);
      if (list === undefined) into.set(key, [m]);
      else list.push(m);
    };
    const bySource = new Map<string, Trigger[]>();
    for (const m of marks) add(bySource, m.source, m);
    const out = new Map<string, Trigger[]>();
    for (const [source, list] of bySource) {
      if (source === '' || o.canonical(source)) {
        for (const m of list) add(out, m.code, m);
        continue;
      }
      const found = await o.store.skus.resolveMany(
        source,
        list.map((m) => m.code),
      );
      for (const m of list) {
        const sku = found.get(m.code);
        // a code no SKU maps has no figure (its ORPHAN_CODE anomaly says so): the mark is done
        add(out, sku ?? `\u0000${m.code}`, m);
      }
    }
    return out;
  }

  /**
   * Compares the figures of the marks' SKUs (or of `skus`, for the sweep) with their baselines and
   * commits the events, baselines and done marks together.
   */
  async function recompute(marks: readonly Trigger[], cause: 'change' | 'sweep', sweepSkus?: readonly string[]): Promise<void> {
    const bySku = sweepSkus === undefined ? await skusOf(marks) : new Map(sweepSkus.map((s) => [s, [] as Trigger[]]));
    const done: Trigger[] = [];
    const skus: string[] = [];
    for (const [sku, from] of bySku) {
      if (sku.startsWith('\u0000')) done.push(...from);
      else skus.push(sku);
    }
    for (let i = 0; i < skus.length; i += o.maxSkusPerRead) {
      const chunk = skus.slice(i, i + o.maxSkusPerRead);
      const diagnostics: SourceDiagnostics = { failures: new Map(), invalidData: new Map(), statements: new Map() };
      const inventory = o.inventory()(diagnostics);
      // one read and one figure per location over every location; each channel's figure is its
      // locations' levels summed, exactly what the API answers asked with that channel
      const all = await inventory.availability(chunk);
      const figures = new Map<string | null, Availability[]>(
        o.channels.map((channel) => [
          channel,
          channel === null
            ? all
            : all.map((a) =>
                a.known
                  ? summarize(
                      a.sku,
                      a.byLocation.filter((l) => inChannel(l.location, channel)),
                    )
                  : a,
              ),
        ]),
      );
      const baselines = await o.store.events.baselines('availability', chunk);
      const events: NewEvent[] = [];
      const saved: Baseline[] = [];
      const handled: Trigger[] = [];
      const at = now();
      for (const [k, sku] of chunk.entries()) {
        const answers = o.channels.map((c) => [c, (figures.get(c) as Availability[])[k] as Availability] as const);
        if (answers.some(([, a]) => a.byLocation.some((l) => l.flags.includes('SOURCE_UNAVAILABLE')))) {
          stats.deferred++;
          continue; // its marks stay: tried again with the leftovers
        }
        handled.push(...(bySku.get(sku) ?? []));
        for (const [channel, a] of answers) {
          if (!a.known) continue;
          stats.compared++;
          const b = baselines.get(`${sku}\u0000${channel ?? NO_CHANNEL}`);
          const next = compare(a, channel, b, at, cause, bySku.get(sku) ?? []);
          if (next.event !== null) events.push(next.event);
          if (next.baseline !== null) saved.push(next.baseline);
        }
      }
      const stored = await o.store.events.commitRecompute({ events, baselines: saved, done: handled });
      stats.published += stored.length;
    }
    if (done.length > 0) await o.store.events.commitRecompute({ events: [], baselines: [], done });
  }

  function compare(a: Availability, channel: string | null, b: Baseline | undefined, at: Date, cause: 'change' | 'sweep', from: readonly Trigger[]) {
    const counted = a.byLocation.filter((l) => l.counted);
    const figure: Figure = {
      available: a.available,
      onHand: a.onHand,
      committed: a.committed,
      reserved: a.reserved,
      locations: Object.fromEntries(counted.map((l) => [l.location.id, l.available])),
    };
    const lowStock = lowStockFor(o.config.lowStock, a.sku, channel);
    const band = bandOf(a.available, lowStock);
    const previous = b === undefined ? null : (b.figure as Figure);
    const previousBand = b === undefined ? null : (b.band as Band);
    const crossing = crossingOf(previousBand, band);
    const changed = previous === null || !sameFigure(previous, figure);
    const moved = previousBand !== band;
    const publish = crossing !== null || (o.config.everyChange && (changed || moved));
    // the baseline is the last figure published (what `previous` tells a receiver), and the band
    // the figure is in: a change that publishes nothing and stays in its band writes nothing
    const baseline: Baseline | null = publish || moved ? { scope: 'availability', subject: a.sku, channel: channel ?? NO_CHANNEL, band, figure } : null;
    if (!publish) return { event: null, baseline };
    const totals = (f: Figure) => ({ available: f.available, onHand: f.onHand, committed: f.committed, reserved: f.reserved });
    const event: NewEvent = {
      type: 'availability.changed',
      sku: a.sku,
      channel,
      occurredAt: at,
      data: {
        crossing,
        lowStockThreshold: lowStock,
        band,
        previous: previous === null ? null : { ...totals(previous), band: previousBand },
        current: { ...totals(figure), band, flags: a.flags },
        // the locations whose figure moved since the one published (every one the first time)
        locations: counted.filter((l) => previous === null || previous.locations[l.location.id] !== l.available).map((l) => locationOf(l, previous)),
        sources: [...new Set(counted.map((l) => l.provenance.source).filter((s): s is string => s !== null))],
        cause: cause === 'sweep' ? 'sweep' : [...new Set(from.map((m) => (m.source === '' ? 'reservations' : m.source)))],
      },
    };
    return { event, baseline };
  }

  function locationOf(l: StockLevel, previous: Figure | null) {
    return {
      id: l.location.id,
      available: l.available,
      previousAvailable: previous?.locations[l.location.id] ?? null,
      onHand: l.onHand,
      committed: l.committed,
      reserved: l.reserved,
      source: l.provenance.source,
      asOf: l.provenance.asOf?.toISOString() ?? null,
      flags: l.flags,
    };
  }

  async function scanLeftovers(all: boolean): Promise<void> {
    if (!mine()) return;
    try {
      const before = all ? now().getTime() + 1 : now().getTime() - leftoverMs;
      const marks = await o.store.events.triggered(before, 50_000);
      if (marks.length > 0) {
        o.logger.info('availability marks left over: recomputing', { marks: marks.length });
        enqueue(marks);
      }
    } catch (e) {
      o.logger.warn('could not read leftover availability marks', errorFields(e));
    }
  }

  async function sweep(): Promise<void> {
    let after: string | null = null;
    let n = 0;
    for (;;) {
      if (closed) return;
      const page = await o.store.skus.page(o.config.batchSize, after);
      if (page.skus.length === 0) break;
      await inTurn(() =>
        recompute(
          [],
          'sweep',
          page.skus.map((s) => s.sku),
        ),
      );
      n += page.skus.length;
      after = page.skus.at(-1)?.sku ?? null;
      if (!page.hasNextPage) break;
    }
    stats.lastSweep = { at: now(), skus: n };
  }

  return {
    /** Codes whose changes the mirror now holds, with their marks: recomputed soon. */
    touched: enqueue,

    /** Recomputes the marks left in the store (all of them: call once the mirrors are loaded), then starts the periodic scan and the sweep. */
    async start(): Promise<void> {
      await scanLeftovers(true);
      const scan = setInterval(() => void scanLeftovers(false), leftoverMs);
      scan.unref();
      timers.push(scan);
      if (o.config.sweepIntervalSeconds > 0) {
        const t = setInterval(() => {
          if (!mine()) return;
          sweeping ??= this.sweep().finally(() => (sweeping = undefined));
        }, o.config.sweepIntervalSeconds * 1000);
        t.unref();
        timers.push(t);
      }
    },

    /** Compares every SKU of the catalogue now. */
    async sweep(): Promise<void> {
      try {
        await sweep();
      } catch (e) {
        o.logger.warn('availability sweep failed; the next one tries again', errorFields(e));
      }
    },

    stats: (): AvailabilityEventsStats => ({ ...stats, queued: queue.size }),

    /** Resolves once nothing waits in memory, or after `deadlineMs`. */
    async flush(deadlineMs = 10_000): Promise<void> {
      if (running === undefined) return;
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => idle.add(r)), new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
    },

    /** Stops after the batch in flight; what waits in memory stays marked in the store. */
    async close(): Promise<void> {
      closed = true;
      for (const t of timers) clearInterval(t);
      await running;
      await sweeping;
    },
  };
}

export type AvailabilityEvents = ReturnType<typeof createAvailabilityEvents>;
