/**
 * A mirrored source (`sync.mode: mirror`): the source's records held in memory and kept
 * current by its feeds, so that a request reads no source at all. A mirror is a faster way to
 * read a source, not a new truth: it answers `fetch` with the same records the live source
 * would give (same codes, same locations, bins summed, asOf, invalid records kept as invalid),
 * and precedence, provenance and the availability rules run on them at query time as before.
 *
 * What is held:
 * - the base: for a SQL source a snapshot loaded with one streamed statement per entity (rows
 *   summed per (code, location) here as the live read's GROUP BY sums them), packed in columns (src/sources/packed-records.ts) as rows arrive, with progress in the log;
 *   for a file source its own newest file, which the file connector already holds in memory;
 * - the overlay: per code, its stock records as changed since the base (a poll re-read of the
 *   code, or message changes applied with the rules of src/domain/changes.ts). A code in the
 *   overlay is answered from there, every other from the base.
 *
 * Every change to what is held goes through one queue (`serial`), so a full reload, which
 * swaps the base, clears the overlay and replays the changes kept in the store (a 3PL's picks
 * since its file), never interleaves with a batch of changes being applied.
 *
 * Until the first load is complete, and while lagging with `onLag: live`, reads go to the live
 * source. `heardAt` is the oldest of the feeds' "last caught up" moments (a feed never caught up
 * counts from the load), shown in provenance and judged against `maxLagSeconds`.
 */
import type { SyncConfig } from '../config/index.js';
import { applyChange, type MirroredLevel, type StockChange } from '../domain/changes.js';
import type { LocationIndex } from '../domain/locations.js';
import type { CostRecord, Entity, ItemRecord, RecordOf, StockRecord } from '../domain/records.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector, ReadOptions, StatementMeter } from '../sources/connector.js';
import { MovementRows, StockRows, type PackedMovements, type PackedStock } from '../sources/packed-records.js';
import type { Trigger } from '../store/event-store.js';
import type { FeedStats } from './types.js';

/** One (code, location) as the mirror holds it in the overlay. */
interface Held extends MirroredLevel {
  location: string;
  invalid?: string;
  snapshotFallback?: boolean;
  carriedFrom?: string;
}

/** A SQL source's records as loaded, packed. */
interface Snapshot {
  stock: PackedStock;
  /** Invalid stock records (a quantity that is not a number, ...), by code, as the source gave them. */
  invalidStock: Map<string, StockRecord[]>;
  movements: PackedMovements | null;
  cost: Map<string, CostRecord> | null;
  items: Map<string, ItemRecord> | null;
  stockRows: number;
  records: number;
}

/** A (code, location) whose on-hand a change or a re-read left negative. */
export interface Touched {
  code: string;
  location: string;
  onHand: number;
}

export interface MirrorStats {
  source: string;
  /** `loading` until the first load is complete; `lagging` past maxLagSeconds. */
  state: 'loading' | 'current' | 'lagging';
  heardAt: Date | null;
  lagSeconds: number | null;
  /** Records held (base and overlay). */
  records: number;
  /** Codes changed since the base. */
  overlayCodes: number;
  /** Bytes the packed base takes, approximately (typed arrays and code strings). */
  memoryBytes: number;
  lastLoad: { at: Date; durationMs: number; records: number } | null;
  loadError: string | null;
}

/** What feeds (and the runtime) do with a mirror. */
export interface MirrorControl {
  readonly source: string;
  /** The source read live (bare: no resilience), for poll feeds. */
  readonly live: Connector;
  /** Loads (or reloads) the base, then replays the changes kept in the store over it. Resolves when the new base serves. */
  load(): Promise<{ records: number; durationMs: number }>;
  /**
   * A file source's newest file, as of `asOf`, became its snapshot: the overlay is rebuilt over it
   * (the kept changes replayed; those the file already includes are ignored).
   */
  rebase(asOf: Date, rows: number): Promise<void>;
  /** Replaces the stock of `codes` with what the live source answers now (a poll's re-read). */
  refresh(codes: readonly string[], meter?: StatementMeter): Promise<void>;
  /** Applies changes already made durable; answers per change whether it changed anything. */
  apply(changes: readonly StockChange[]): Promise<('applied' | 'ignored')[]>;
  /** Whether the source knows `location` (its own location code). */
  knowsLocation(location: string): boolean;
  /** A feed of this mirror reports its state here (heardAt and counters). */
  addFeed(stats: () => FeedStats): void;
  stats(): MirrorStats;
}

export interface MirrorOptions {
  sync: SyncConfig;
  locations: LocationIndex;
  logger: Logger;
  /** Replays the changes kept for this source, oldest event first (src/store/feed-store.ts). */
  replay(): AsyncIterable<StockChange[]>;
  /** Told of (code, location) levels that changes or re-reads left negative. */
  onNegative?(touched: readonly Touched[]): void;
  /**
   * A poll's re-read of codes: `mark` them for an availability recompute before they change in
   * memory (durable: a crash after the change leaves the mark), `applied` once they did (src/events/).
   */
  refreshed?: { mark(codes: readonly string[]): Promise<readonly Trigger[]>; applied(marks: readonly Trigger[]): void };
  now?: () => number;
}

/**
 * Negative levels found by one load that open their anomaly at once; the rest are found by the
 * requests and changes that touch them. Half the anomaly write queue's default size, so a load
 * of a source full of negatives does not fill the queue that requests use.
 */
const MAX_NEGATIVES_AT_LOAD = 5_000;
/** How often load progress is logged, in ms. */
const PROGRESS_MS = 5_000;

export type MirroredConnector = Connector & { mirror: MirrorControl };

/**
 * A code's records from `start` on, with its invalid rows: a location with an unreadable row is
 * one invalid record (as a live read's sum of it is), the readable rows of that location dropped.
 */
function withInvalid(out: StockRecord[], start: number, invalid: readonly StockRecord[]): void {
  const bad = new Set(invalid.map((r) => r.location));
  let w = start;
  for (let i = start; i < out.length; i++) if (!bad.has((out[i] as StockRecord).location)) out[w++] = out[i] as StockRecord;
  out.length = w;
  const seen = new Set<string>();
  for (const r of invalid) {
    if (seen.has(r.location)) continue;
    seen.add(r.location);
    out.push({ ...r });
  }
}

export function createMirror(live: Connector, o: MirrorOptions): MirroredConnector {
  const now = o.now ?? Date.now;
  const source = live.name;
  const fromFile = live.kind === 'csv';
  let snapshot: Snapshot | null = null;
  let ready = false;
  let loadedAt: number | null = null;
  /**
   * When the base was true as a whole: a (code, location) it lacks had nothing as of then, so a
   * change made before it is already reflected (ignored). A SQL snapshot: when its load began; a
   * file: its asOf.
   */
  let baseAsOf = Number.NEGATIVE_INFINITY;
  /** A file source: the rows of the file serving as the base. */
  let fileRows = 0;
  let lastLoad: MirrorStats['lastLoad'] = null;
  let loadError: string | null = null;
  const overlay = new Map<string, Held[]>();
  const feeds: (() => FeedStats)[] = [];
  let queue: Promise<unknown> = Promise.resolve();
  const stopping = new AbortController();

  /** Runs `fn` after everything queued before it; the queue goes on whether it fails or not. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  }

  function heardAt(): Date | null {
    if (loadedAt === null) return null;
    let t = fromFile && feeds.length === 0 ? now() : loadedAt;
    if (feeds.length > 0) {
      t = Number.POSITIVE_INFINITY;
      for (const f of feeds) t = Math.min(t, f().heardAt?.getTime() ?? (loadedAt as number));
    }
    return new Date(t);
  }

  function lagging(): boolean {
    const max = o.sync.maxLagSeconds;
    if (max === undefined || !ready) return false;
    const h = heardAt();
    return h === null || now() - h.getTime() > max * 1000;
  }

  const toHeld = (r: StockRecord): Held => ({
    location: r.location,
    onHand: r.onHand,
    committed: r.committed,
    asOf: r.asOf.getTime(),
    statedAt: r.asOf.getTime(),
    ...(r.invalid !== undefined ? { invalid: r.invalid } : {}),
    ...(r.snapshotFallback === true ? { snapshotFallback: true } : {}),
    ...(r.carriedFrom !== undefined ? { carriedFrom: r.carriedFrom } : {}),
  });

  function fromHeld(code: string, h: Held, heard: Date | undefined): StockRecord {
    const r: StockRecord = { code, location: h.location, onHand: h.onHand, committed: h.committed, asOf: new Date(h.asOf) };
    if (h.invalid !== undefined) r.invalid = h.invalid;
    if (h.snapshotFallback === true) r.snapshotFallback = true;
    if (h.carriedFrom !== undefined) r.carriedFrom = h.carriedFrom;
    if (heard !== undefined) r.heardAt = heard;
    return r;
  }

  /** The base's stock records of `codes` (no overlay). */
  async function baseStock(codes: readonly string[]): Promise<Map<string, StockRecord[]>> {
    const out = new Map<string, StockRecord[]>();
    if (codes.length === 0) return out;
    if (fromFile) {
      for (const r of await live.fetch('stock', codes)) {
        const l = out.get(r.code);
        if (l === undefined) out.set(r.code, [r]);
        else l.push(r);
      }
      return out;
    }
    const s = snapshot;
    if (s === null) return out;
    for (const code of codes) {
      const l: StockRecord[] = [];
      s.stock.get(code, l, false);
      const invalid = s.invalidStock.get(code);
      if (invalid !== undefined) withInvalid(l, 0, invalid);
      if (l.length > 0) out.set(code, l);
    }
    return out;
  }

  /** Changes applied to the overlay, in order; no store involved (they are durable already, or replayed). */
  async function applyInMemory(changes: readonly StockChange[], touched: Touched[]): Promise<('applied' | 'ignored')[]> {
    const missing = [...new Set(changes.map((c) => c.code))].filter((c) => !overlay.has(c));
    const base = await baseStock(missing);
    return changes.map((c) => {
      const list = overlay.get(c.code) ?? (base.get(c.code) ?? []).map(toHeld);
      const i = list.findIndex((h) => h.location === c.location);
      const held = i === -1 ? undefined : (list[i] as Held);
      // an unusable record is replaced by a set; a delta cannot be added to it. A (code, location)
      // the base lacks held nothing as of the base
      const current = held === undefined ? { onHand: 0, committed: 0, asOf: baseAsOf, statedAt: baseAsOf } : held.invalid !== undefined ? undefined : held;
      if (held?.invalid !== undefined && c.op === 'delta') return 'ignored';
      const next = applyChange(current, c);
      if (next === null) return 'ignored';
      const updated: Held = { location: c.location, ...next };
      const copy = i === -1 ? [...list, updated] : list.map((h, j) => (j === i ? updated : h));
      overlay.set(c.code, copy);
      if (next.onHand < 0) touched.push({ code: c.code, location: c.location, onHand: next.onHand });
      return 'applied';
    });
  }

  async function replayKept(): Promise<number> {
    let n = 0;
    const touched: Touched[] = [];
    for await (const batch of o.replay()) {
      await applyInMemory(batch, touched);
      n += batch.length;
    }
    if (touched.length > 0) o.onNegative?.(touched);
    return n;
  }

  /**
   * Reads the whole SQL source into a new snapshot: one streamed statement per entity (and per
   * movement mapping); stock and movement rows are summed per (code, location[, kind, reference]) here as
   * they are packed (the database's GROUP BY over a whole table had no index to use), so the
   * records are the live ones; progress is logged every 5 s.
   */
  async function loadSnapshot(): Promise<Snapshot> {
    const started = now();
    let lastProgress = started;
    if (live.scan === undefined) throw new Error(`source "${source}" cannot be read whole, so it cannot be mirrored`);
    const scanAll = live.scan.bind(live);
    const scan: typeof scanAll = (entity, each, batch) => scanAll(entity, each, batch, stopping.signal);
    const stockRows = new StockRows(24 * 16_000_000, 100_000_000);
    const invalidStock = new Map<string, StockRecord[]>();
    const movementRows = live.entities.has('movements') ? new MovementRows(24 * 1_000_000, 100_000_000) : null;
    let records = 0;
    let rows = 0;
    const negatives: Touched[] = [];
    const progress = (entity: Entity) => {
      if (now() - lastProgress < PROGRESS_MS) return;
      lastProgress = now();
      o.logger.info('mirror loading', { source, entity, records, seconds: Math.round((now() - started) / 1000) });
    };
    if (live.entities.has('stock')) {
      await scan('stock', (batch) => {
        for (const r of batch) {
          records++;
          if (r.invalid !== undefined) {
            const l = invalidStock.get(r.code);
            if (l === undefined) invalidStock.set(r.code, [r]);
            else l.push(r);
            continue;
          }
          stockRows.add(r.code, r.location, r.onHand, r.committed, r.asOf.getTime());
          rows++;
          if (r.onHand < 0 && negatives.length < MAX_NEGATIVES_AT_LOAD) negatives.push({ code: r.code, location: r.location, onHand: r.onHand });
        }
        progress('stock');
      });
    }
    if (movementRows !== null) {
      await scan('movements', (batch) => {
        for (const m of batch) movementRows.add(m.code, m.location, m.kind, m.quantity, m.asOf.getTime(), m.reference);
        records += batch.length;
        progress('movements');
      });
    }
    const byCode = async <E extends 'cost' | 'items'>(entity: E): Promise<Map<string, RecordOf[E]> | null> => {
      if (!live.entities.has(entity)) return null;
      const m = new Map<string, RecordOf[E]>();
      await scan(entity, (batch) => {
        // the first record of a code, as a live read's precedence takes the first
        for (const r of batch) if (!m.has(r.code)) m.set(r.code, r);
        records += batch.length;
        progress(entity);
      });
      return m;
    };
    const cost = await byCode('cost');
    const items = await byCode('items');
    const snap: Snapshot = {
      stock: await stockRows.pack(),
      invalidStock,
      movements: movementRows === null ? null : await movementRows.pack(),
      cost,
      items,
      stockRows: rows,
      records,
    };
    if (negatives.length > 0) o.onNegative?.(negatives);
    return snap;
  }

  async function load(): Promise<{ records: number; durationMs: number }> {
    const started = now();
    try {
      const snap = fromFile ? null : await loadSnapshot();
      // a file source loads its newest file itself; the first time, wait for it
      if (fromFile && !ready) await live.ping();
      const replayed = await serial(async () => {
        snapshot = snap;
        if (!fromFile) baseAsOf = started;
        overlay.clear();
        const n = await replayKept();
        loadedAt = started;
        ready = true;
        return n;
      });
      const records = snap?.records ?? 0;
      lastLoad = { at: new Date(now()), durationMs: now() - started, records };
      loadError = null;
      o.logger.info('mirror loaded', { source, records, replayed, ms: now() - started });
      return { records, durationMs: now() - started };
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
      o.logger.warn('mirror load failed; reads stay live until a load succeeds', { source, ...errorFields(e) });
      throw e;
    }
  }

  const control: MirrorControl = {
    source,
    live,
    load,
    rebase(asOf, rows) {
      return serial(async () => {
        baseAsOf = asOf.getTime();
        fileRows = rows;
        if (!ready) return;
        overlay.clear();
        await replayKept();
      });
    },
    refresh(codes, meter) {
      return serial(async () => {
        if (codes.length === 0) return;
        const marks = (await o.refreshed?.mark(codes)) ?? [];
        const records = await live.fetch('stock', codes, meter);
        const byCode = new Map<string, Held[]>(codes.map((c) => [c, []]));
        const touched: Touched[] = [];
        for (const r of records) {
          byCode.get(r.code)?.push(toHeld(r));
          if (r.onHand < 0 && r.invalid === undefined) touched.push({ code: r.code, location: r.location, onHand: r.onHand });
        }
        for (const [code, list] of byCode) overlay.set(code, list);
        if (touched.length > 0) o.onNegative?.(touched);
        if (marks.length > 0) o.refreshed?.applied(marks);
      });
    },
    apply(changes) {
      return serial(async () => {
        const touched: Touched[] = [];
        // before the first load, the load's replay of the store applies them
        const out = ready ? await applyInMemory(changes, touched) : changes.map(() => 'applied' as const);
        if (touched.length > 0) o.onNegative?.(touched);
        return out;
      });
    },
    knowsLocation(location) {
      return o.locations.fromSourceCode(source, location) !== undefined;
    },
    addFeed(stats) {
      feeds.push(stats);
    },
    stats() {
      const h = heardAt();
      const s = snapshot;
      let overlayRecords = 0;
      for (const l of overlay.values()) overlayRecords += l.length;
      return {
        source,
        state: !ready ? 'loading' : lagging() ? 'lagging' : 'current',
        heardAt: h,
        lagSeconds: h === null ? null : Math.max(0, (now() - h.getTime()) / 1000),
        records: (fromFile ? fileRows : (s?.records ?? 0)) + overlayRecords,
        overlayCodes: overlay.size,
        memoryBytes: s === null ? 0 : s.stockRows * 40 + (s.cost?.size ?? 0) * 120 + (s.items?.size ?? 0) * 120,
        lastLoad,
        loadError,
      };
    },
  };

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter, options?: ReadOptions): Promise<RecordOf[E][]> {
    if (!ready || (o.sync.onLag === 'live' && lagging())) return live.fetch(entity, codes, meter, options);
    const heard = heardAt() ?? undefined;
    if (fromFile) {
      if (entity !== 'stock') return live.fetch(entity, codes, meter, options);
      // every code is asked of the file source (memory): that read is also when it looks for a newer file
      const out: StockRecord[] = [];
      // no meter: the file connector's snapshot is memory too, not a statement to the source
      for (const r of (await live.fetch('stock', codes, undefined, options)) as StockRecord[]) {
        if (overlay.has(r.code)) continue;
        if (heard !== undefined) r.heardAt = heard;
        out.push(r);
      }
      for (const c of codes) for (const h of overlay.get(c) ?? []) out.push(fromHeld(c, h, heard));
      return out as RecordOf[E][];
    }
    const s = snapshot as Snapshot;
    if (entity === 'stock') {
      const out: StockRecord[] = [];
      for (const code of codes) {
        const held = overlay.get(code);
        if (held !== undefined) {
          for (const h of held) out.push(fromHeld(code, h, heard));
          continue;
        }
        const invalid = s.invalidStock.get(code);
        const start = out.length;
        s.stock.get(code, out, false);
        if (invalid !== undefined) withInvalid(out, start, invalid);
        if (heard !== undefined) for (let i = start; i < out.length; i++) (out[i] as StockRecord).heardAt = heard;
      }
      return out as RecordOf[E][];
    }
    if (entity === 'movements') {
      const out: RecordOf['movements'][] = [];
      if (s.movements !== null) for (const code of codes) s.movements.get(code, out);
      // rows that add up to nothing: a live read's sum of 0 is no record
      return out.filter((m) => m.quantity !== 0) as RecordOf[E][];
    }
    const m = (entity === 'cost' ? s.cost : s.items) as Map<string, RecordOf[E]> | null;
    const out: RecordOf[E][] = [];
    if (m !== null)
      for (const code of codes) {
        const r = m.get(code);
        if (r !== undefined) out.push(r);
      }
    return out;
  }

  const mirrored: MirroredConnector = {
    name: source,
    kind: live.kind,
    entities: live.entities,
    fetch,
    ...(live.listCodes !== undefined ? { listCodes: live.listCodes.bind(live) } : {}),
    // identifiers are not mirrored: SKU matching reads them from the source itself
    ...(live.identifiers !== undefined ? { identifiers: live.identifiers.bind(live) } : {}),
    // orders are looked up live: a hand-over is judged against the source itself (src/service/reservations.ts)
    ...(live.orderReferences !== undefined ? { orderReferences: live.orderReferences.bind(live) } : {}),
    ping: (options) => live.ping(options),
    // the health check asks the source itself, not the mirror
    ...(live.check !== undefined ? { check: live.check.bind(live) } : {}),
    ...(live.probe !== undefined ? { probe: live.probe.bind(live) } : {}),
    ...(live.poolStats !== undefined ? { poolStats: live.poolStats.bind(live) } : {}),
    problem() {
      const own = live.problem?.() ?? null;
      if (own !== null) return own;
      if (!ready) return loadError === null ? 'mirror loading: reads go to the source until it is loaded' : `mirror load failed: ${loadError}`;
      if (lagging()) return `mirror lagging: not caught up with the source for over ${o.sync.maxLagSeconds} s`;
      return null;
    },
    close() {
      // a load under way lets its statements go rather than read whole tables for nobody
      stopping.abort();
      return live.close();
    },
    mirror: control,
  };
  return mirrored;
}
