/**
 * What operators see of mirrored sources and their feeds (/status, /status.json, /metrics and the
 * `sources` query): per mirror its state, when it last heard from the source, records held and
 * their memory, the last full load; per feed whether it is connected, its lag, changes applied
 * (and per second, over the time since the previous look, at least a second), duplicates
 * dropped, dead letters, the last error and the last full resync.
 */
import type { Store } from '../store/index.js';
import type { MirroredConnector, MirrorStats } from './mirror.js';
import type { Feed, FeedStats } from './types.js';

export interface FeedView extends Omit<FeedStats, 'heardAt' | 'lastFullResync'> {
  heardAt: string | null;
  lagSeconds: number | null;
  /** Changes applied per second since the previous look. */
  appliedPerSecond: number;
  lastFullResync: { at: string; durationMs: number; records: number } | null;
}

export interface MirrorView extends Omit<MirrorStats, 'heardAt' | 'lastLoad'> {
  heardAt: string | null;
  maxLagSeconds: number | null;
  lastLoad: { at: string; durationMs: number; records: number } | null;
  /** Dead letters waiting in the store (null when the store did not answer). */
  deadLetters: number | null;
  feeds: FeedView[];
}

/** How long the dead-letter count may take before /status shows the mirrors without it, in ms. */
const DEAD_LETTER_COUNT_MS = 500;

export function createFeedStatus(o: {
  mirrors: ReadonlyMap<string, MirroredConnector>;
  feeds: readonly Feed[];
  store: Pick<Store, 'feeds'>;
  maxLagSeconds: (source: string) => number | undefined;
  now?: () => number;
}): () => Promise<MirrorView[]> {
  const now = o.now ?? Date.now;
  /** The previous look per feed: when, and how many applied by then. */
  const previous = new Map<string, { at: number; applied: number; rate: number }>();

  function rate(f: FeedStats, at: number): number {
    const p = previous.get(f.name);
    if (p === undefined) {
      previous.set(f.name, { at, applied: f.applied, rate: 0 });
      return 0;
    }
    if (at - p.at < 1000) return p.rate;
    const r = ((f.applied - p.applied) * 1000) / (at - p.at);
    previous.set(f.name, { at, applied: f.applied, rate: r });
    return r;
  }

  return async () => {
    if (o.mirrors.size === 0) return [];
    const at = now();
    // a slow store must not hide the mirrors (their state is in memory): its count may be missing
    const dead = await Promise.race([
      o.store.feeds.deadLetters.counts().catch(() => null),
      new Promise<null>((resolve) => setTimeout(resolve, DEAD_LETTER_COUNT_MS, null).unref()),
    ]);
    return [...o.mirrors.values()].map((m) => {
      const s = m.mirror.stats();
      const feeds = o.feeds
        .filter((f) => f.name.startsWith(`${s.source}/`))
        .map((f) => {
          const fs = f.stats();
          return {
            ...fs,
            heardAt: fs.heardAt?.toISOString() ?? null,
            lagSeconds: fs.heardAt === null ? null : Math.max(0, (at - fs.heardAt.getTime()) / 1000),
            appliedPerSecond: Math.round(rate(fs, at) * 10) / 10,
            lastFullResync: fs.lastFullResync == null ? null : { ...fs.lastFullResync, at: fs.lastFullResync.at.toISOString() },
          } satisfies FeedView;
        });
      return {
        ...s,
        heardAt: s.heardAt?.toISOString() ?? null,
        maxLagSeconds: o.maxLagSeconds(s.source) ?? null,
        lastLoad: s.lastLoad === null ? null : { ...s.lastLoad, at: s.lastLoad.at.toISOString() },
        deadLetters: dead === null ? null : (dead.get(s.source) ?? 0),
        feeds,
      } satisfies MirrorView;
    });
  };
}

/** A source's `sync` (the GraphQL `SourceSync`) from the mirror views: LIVE when it is not mirrored. */
export function syncOf(source: string, mirrors: readonly MirrorView[]) {
  const m = mirrors.find((v) => v.source === source);
  if (m === undefined) return { mode: 'LIVE' as const, feeds: [] };
  return {
    mode: 'MIRROR' as const,
    state: m.state.toUpperCase() as 'LOADING' | 'CURRENT' | 'LAGGING',
    heardAt: m.heardAt,
    lagSeconds: m.lagSeconds,
    maxLagSeconds: m.maxLagSeconds,
    records: m.records,
    memoryBytes: m.memoryBytes,
    lastLoadAt: m.lastLoad?.at ?? null,
    lastLoadMs: m.lastLoad?.durationMs ?? null,
    deadLetters: m.deadLetters,
    feeds: m.feeds.map((f) => ({
      ...f,
      kind: f.kind.toUpperCase() as 'POLL' | 'AMQP' | 'NATS' | 'WEBHOOK',
      lastFullResyncAt: f.lastFullResync?.at ?? null,
      lastFullResyncMs: f.lastFullResync?.durationMs ?? null,
    })),
  };
}
