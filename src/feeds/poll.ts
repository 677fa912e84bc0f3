/**
 * The `poll` feed: keeps a mirrored SQL source current by asking it, every `intervalSeconds`,
 * which stock codes changed (the `changedSince` column of its stock mapping) and reading those
 * codes again whole (every location, bins summed, exactly as a live read would), and by a full
 * reload every `fullResyncSeconds`, which also catches deleted rows.
 *
 * Each incremental read goes up to the newest change value at its start (so a source written
 * faster than it is read cannot keep one read going) and starts from the newest change value seen
 * by the poll that started at least `overlapSeconds` ago (a value as the database gave it, never computed here, so a DATETIME,
 * an epoch number or ISO text all work), compared with `>=`. Rows committed late with an older
 * timestamp (clock skew, a long transaction) and rows sharing the boundary timestamp are read
 * again, harmlessly: a re-read replaces a code's records with the same ones.
 *
 * The feed owns its source's loads: at start it notes the newest change value, then has the
 * mirror load; every full resync does the same, and the first incremental read after a load
 * starts from the value noted before it, so nothing changed during a long load is missed.
 * `heardAt` is when the last successful incremental read (or load) started.
 */
import type { FeedConfig } from '../config/index.js';
import { errorFields } from '../logger.js';
import type { ChangedRow } from '../sources/connector.js';
import { inSpan, tracing } from '../tracing.js';
import type { Feed, FeedContext, FeedStats } from './types.js';

type PollConfig = Extract<FeedConfig, { kind: 'poll' }>;

/** A poll's start and the newest change value it had seen. */
interface Mark {
  at: number;
  cursor: unknown;
}

/** A poll feed; `pollNow` runs the next read at once, `resyncNow` a full reload, each resolving when done (tests, operators). */
export type PollFeed = Feed & { pollNow(): Promise<void>; resyncNow(): Promise<void> };

export function createPollFeed(config: PollConfig, ctx: FeedContext, o: { now?: () => number } = {}): PollFeed {
  const now = o.now ?? ctx.now ?? Date.now;
  const { mirror, logger } = ctx;
  const live = mirror.live;
  const name = `${ctx.source}/poll`;
  const stats: FeedStats = {
    name,
    kind: 'poll',
    connected: false,
    heardAt: null,
    applied: 0,
    duplicates: 0,
    deadLetters: 0,
    lastError: null,
    lastFullResync: null,
  };
  /** Oldest first; trimmed to what the overlap still needs. */
  let marks: Mark[] = [];
  let lastResync = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let loaded = false;
  let resyncAsked = false;

  if (live.changedCodes === undefined || live.latestChange === undefined) throw new Error(`source "${ctx.source}": a poll feed needs a SQL source`);
  const changedCodes = live.changedCodes.bind(live);
  const latestChange = live.latestChange.bind(live);

  /** The cursor of the newest mark at least `overlapSeconds` before `t` (else the oldest). */
  function since(t: number): unknown {
    const limit = t - config.overlapSeconds * 1000;
    let chosen = marks[0];
    for (const m of marks) if (m.at <= limit) chosen = m;
    return chosen?.cursor ?? null;
  }

  async function fullLoad(): Promise<void> {
    const at = now();
    const cursor = await latestChange(config.changedSince);
    const r = await mirror.load();
    // everything changed from `cursor` on is read again by the next incremental read
    marks = [{ at: Number.NEGATIVE_INFINITY, cursor }];
    lastResync = at;
    loaded = true;
    stats.lastFullResync = { at: new Date(now()), durationMs: r.durationMs, records: r.records };
    stats.heardAt = new Date(at);
    stats.connected = true;
    stats.lastError = null;
  }

  async function incremental(): Promise<void> {
    const started = now();
    const from = since(started);
    // up to the newest change there is now: a source written faster than it is read must not
    // keep one read going for ever (the next read goes on from here)
    const until = await latestChange(config.changedSince);
    let after: ChangedRow | null = null;
    const newest: unknown = until ?? marks.at(-1)?.cursor ?? null;
    for (;;) {
      const rows: ChangedRow[] = await changedCodes(config.changedSince, from, until, after, config.batchSize);
      if (rows.length === 0) break;
      const codes = [...new Set(rows.map((r) => r.code))];
      if (tracing.enabled) await tracedRefresh(codes);
      else await mirror.refresh(codes);
      stats.applied += codes.length;
      after = rows.at(-1) as ChangedRow;
      if (rows.length < config.batchSize) break;
    }
    marks.push({ at: started, cursor: newest });
    // keep the newest mark old enough for the overlap, and everything after it
    const limit = started - config.overlapSeconds * 1000;
    let keep = 0;
    for (let i = 0; i < marks.length; i++) if ((marks[i] as Mark).at <= limit) keep = i;
    marks = marks.slice(keep);
    stats.heardAt = new Date(started);
    stats.connected = true;
    stats.lastError = null;
  }

  /** One batch of changed codes read again, in its span (telemetry.tracing): the source, the feed, the codes applied and the statements sent. */
  function tracedRefresh(codes: string[]): Promise<void> {
    const attributes = { 'inventory.source': ctx.source, 'inventory.feed': name, 'inventory.feed.kind': 'poll', 'inventory.feed.applied': codes.length };
    return inSpan(`feed batch ${name}`, attributes, async (span) => {
      let statements = 0;
      await mirror.refresh(codes, { statement: () => void statements++ });
      span?.setAttribute('inventory.statements', statements);
    });
  }

  async function step(): Promise<void> {
    const resyncDue = !loaded || resyncAsked || (config.fullResyncSeconds > 0 && now() - lastResync >= config.fullResyncSeconds * 1000);
    resyncAsked = false;
    try {
      if (resyncDue) await fullLoad();
      else await incremental();
    } catch (e) {
      stats.connected = false;
      const message = e instanceof Error ? e.message : String(e);
      if (stats.lastError !== message) logger.warn('poll failed; trying again at the next interval', { feed: name, ...errorFields(e) });
      stats.lastError = message;
    }
  }

  /** Steps never overlap: a read asked for while one runs waits for it. */
  function runStep(): Promise<void> {
    running = running.then(step);
    return running;
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => void runStep().finally(schedule), config.intervalSeconds * 1000);
  }

  return {
    name,
    kind: 'poll',
    async start() {
      await runStep();
      schedule();
    },
    stats: () => ({ ...stats }),
    /** Runs the next read now (tests, and `feeds` commands), waiting for it. */
    pollNow: runStep,
    resyncNow() {
      resyncAsked = true;
      return runStep();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
