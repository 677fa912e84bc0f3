/**
 * The events outbox (tables `events`, `event_deliveries`, `event_baselines`, `event_triggers`;
 * migration 0007_events). docs/events.md tells the whole path; this module is its storage:
 *
 * - `append(trx, events)` writes events inside the caller's transaction (a reservation, an
 *   anomaly's step, a recompute), with one delivery row per sink whose filter takes the event.
 *   Committed together with the change, or not at all: a crash never loses an event nor writes
 *   one for a change that did not happen. After the commit, `onAppended` listeners (the
 *   publisher) are told, so delivery starts at once.
 * - `trigger(trx, source, codes)` marks codes whose availability must be recomputed, in the
 *   transaction that records the change (a feed's batch, a reservation). The recompute deletes the
 *   marks it handled (by their token: a mark written again since is kept) in the transaction that
 *   writes its events and baselines (`commitRecompute`).
 * - `event_baselines` holds the last figure published per (SKU, channel) and the last state per
 *   source: what the next recompute is compared with.
 * - Delivery rows are `pending` until the sink takes the event (then deleted) or `dead` after the
 *   sink's last attempt; `replay` makes dead ones pending again.
 *
 * Nothing is written while no sink is configured (`configure` with no routes): events cost nothing then.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { matches, orderingKeyOf, type EventFilter, type EventType, type NewEvent, type StoredEvent } from '../domain/events.js';

export interface EventRoute {
  sink: string;
  filter: EventFilter;
}

/** Codes of one source to recompute (source '' holds canonical SKUs: a reservation's). */
export interface Trigger {
  source: string;
  code: string;
  token: string;
}

export interface Baseline {
  scope: 'availability' | 'source';
  subject: string;
  /** '' for none (sources, availability over every location). */
  channel: string;
  band: string;
  figure: unknown;
}

export interface Delivery {
  sink: string;
  event: StoredEvent;
  attempts: number;
}

export interface DeadLetter {
  sink: string;
  event: StoredEvent;
  attempts: number;
  lastError: string | null;
  failedAt: Date | null;
}

export interface SinkCounts {
  sink: string;
  pending: number;
  dead: number;
  /** When the oldest pending event occurred, or null. */
  oldestPending: Date | null;
}

/** Rows per multi-row INSERT and ids per IN list (SQLite allows 500 compound terms). */
const CHUNK = 400;
/** Events per INSERT on MySQL/MariaDB (no compound limit; well under max_allowed_packet at a few KB each). */
const MYSQL_EVENTS_CHUNK = 2000;

interface EventRow {
  seq: number | string;
  id: string;
  type: string;
  sku: string | null;
  channel: string | null;
  ordering_key: string;
  occurred_at: number | string;
  body: string;
}

/** An outbox row as an event; `data` is parsed on first use (the publisher sends `dataJson` as it is). */
function toEvent(r: EventRow): StoredEvent {
  let data: Record<string, unknown> | undefined;
  return {
    seq: Number(r.seq),
    id: r.id,
    type: r.type as EventType,
    sku: r.sku,
    channel: r.channel,
    orderingKey: r.ordering_key,
    occurredAt: new Date(Number(r.occurred_at)),
    dataJson: r.body,
    get data(): Record<string, unknown> {
      return (data ??= JSON.parse(r.body) as Record<string, unknown>);
    },
  };
}

const EVENT_COLUMNS = ['e.seq', 'e.id', 'e.type', 'e.sku', 'e.channel', 'e.ordering_key', 'e.occurred_at', 'e.body'];

export function createEventStore(db: Knex, now: () => number = Date.now) {
  let routes: readonly EventRoute[] = [];
  const appended = new Set<(events: readonly StoredEvent[]) => void>();
  const triggeredListeners = new Set<(marks: readonly Trigger[]) => void>();

  function tell(events: StoredEvent[]): void {
    if (events.length > 0) for (const fn of appended) fn(events);
  }

  /** Runs `fn` once `trx` committed (at once outside a transaction). */
  function afterCommit(trx: Knex | Knex.Transaction, fn: () => void): void {
    const p = (trx as Partial<Knex.Transaction>).executionPromise;
    if (p === undefined || (trx as Knex.Transaction).isTransaction !== true) fn();
    else p.then(fn, () => undefined);
  }

  const eventsChunk = db.client.config.client === 'mysql2' ? MYSQL_EVENTS_CHUNK : CHUNK;

  async function insert(trx: Knex | Knex.Transaction, events: readonly NewEvent[]): Promise<StoredEvent[]> {
    if (routes.length === 0 || events.length === 0) return [];
    const rows = events.map((e) => ({
      id: randomUUID(),
      type: e.type,
      sku: e.sku,
      channel: e.channel,
      ordering_key: orderingKeyOf(e),
      occurred_at: e.occurredAt.getTime(),
      body: JSON.stringify(e.data),
    }));
    const seqOf = new Map<string, number>();
    for (let i = 0; i < rows.length; i += eventsChunk) {
      const chunk = rows.slice(i, i + eventsChunk);
      await trx('events').insert(chunk);
      const got = (await trx('events')
        .whereIn(
          'id',
          chunk.map((r) => r.id),
        )
        .select('seq', 'id')) as { seq: number | string; id: string }[];
      for (const g of got) seqOf.set(g.id, Number(g.seq));
    }
    const stored = events.map((e, i): StoredEvent => {
      const r = rows[i] as (typeof rows)[number];
      return {
        seq: seqOf.get(r.id) as number,
        id: r.id,
        type: e.type,
        sku: e.sku,
        channel: e.channel,
        orderingKey: r.ordering_key,
        occurredAt: e.occurredAt,
        data: e.data,
      };
    });
    const deliveries = stored.flatMap((e) =>
      routes.filter((r) => matches(r.filter, e)).map((r) => ({ sink: r.sink, seq: e.seq, ordering_key: e.orderingKey, status: 'pending', attempts: 0 })),
    );
    for (let i = 0; i < deliveries.length; i += CHUNK) await trx('event_deliveries').insert(deliveries.slice(i, i + CHUNK));
    return stored;
  }

  return {
    /** The sinks and their filters (from config); none: events are off and nothing is written. */
    configure(r: readonly EventRoute[]): void {
      routes = r;
    },

    /** Whether events are written at all (some sink is configured). */
    enabled: (): boolean => routes.length > 0,

    sinks: (): string[] => routes.map((r) => r.sink),

    /** Called with the events of each committed append (in-process only). */
    onAppended(fn: (events: readonly StoredEvent[]) => void): () => void {
      appended.add(fn);
      return () => appended.delete(fn);
    },

    /**
     * Writes `events` in `trx` (or on their own, given the knex instance), with their deliveries;
     * resolves with them as stored. The listeners hear of them once `trx` commits.
     */
    async append(trx: Knex | Knex.Transaction, events: readonly NewEvent[]): Promise<StoredEvent[]> {
      const stored = await insert(trx, events);
      if (stored.length > 0) afterCommit(trx, () => tell(stored));
      return stored;
    },

    /** Called with the marks of each committed `trigger` that asked to `notify` (in-process only). */
    onTriggered(fn: (marks: readonly Trigger[]) => void): () => void {
      triggeredListeners.add(fn);
      return () => triggeredListeners.delete(fn);
    },

    /**
     * Marks `codes` of `source` for a recompute, in `trx`; answers the marks (none when events
     * are off). `notify`: tell `onTriggered` listeners once `trx` commits (a reservation: its
     * holds count from the commit); else the caller tells the recompute itself when the change is
     * visible (a feed's, once its mirror applied it).
     */
    async trigger(trx: Knex | Knex.Transaction, source: string, codes: readonly string[], notify = false): Promise<Trigger[]> {
      if (routes.length === 0 || codes.length === 0) return [];
      const token = randomUUID();
      const unique = [...new Set(codes)];
      const at = now();
      for (let i = 0; i < unique.length; i += CHUNK) {
        await trx('event_triggers')
          .insert(unique.slice(i, i + CHUNK).map((code) => ({ source, code, token, created_at: at })))
          .onConflict(['source', 'code'])
          .merge(['token', 'created_at']);
      }
      const marks = unique.map((code) => ({ source, code, token }));
      if (notify)
        afterCommit(trx, () => {
          for (const fn of triggeredListeners) fn(marks);
        });
      return marks;
    },

    /** Marks written before `before` (epoch ms), oldest first: left by a crash, or by another instance. */
    async triggered(before: number, limit: number): Promise<Trigger[]> {
      const rows = (await db('event_triggers')
        .where('created_at', '<', before)
        .orderBy('created_at')
        .limit(limit)
        .select('source', 'code', 'token')) as Trigger[];
      return rows;
    },

    /** The baselines of `subjects` in `scope`, keyed `subject \u0000 channel`. */
    async baselines(scope: Baseline['scope'], subjects: readonly string[]): Promise<Map<string, Baseline>> {
      const out = new Map<string, Baseline>();
      const unique = [...new Set(subjects)];
      for (let i = 0; i < unique.length; i += CHUNK) {
        const rows = (await db('event_baselines')
          .where({ scope })
          .whereIn('subject', unique.slice(i, i + CHUNK))
          .select('subject', 'channel', 'band', 'figure')) as { subject: string; channel: string; band: string; figure: string }[];
        for (const r of rows)
          out.set(`${r.subject}\u0000${r.channel}`, { scope, subject: r.subject, channel: r.channel, band: r.band, figure: JSON.parse(r.figure) });
      }
      return out;
    },

    /**
     * One recompute's outcome, in one transaction: its events (with their deliveries), the new
     * baselines, and the marks it handled deleted (only those still carrying the token it read).
     */
    async commitRecompute(o: { events: readonly NewEvent[]; baselines: readonly Baseline[]; done: readonly Trigger[] }): Promise<StoredEvent[]> {
      if (o.events.length === 0 && o.baselines.length === 0 && o.done.length === 0) return [];
      const at = now();
      let stored: StoredEvent[] = [];
      await db.transaction(async (trx) => {
        stored = await insert(trx, o.events);
        const rows = o.baselines.map((b) => ({
          scope: b.scope,
          subject: b.subject,
          channel: b.channel,
          band: b.band,
          figure: JSON.stringify(b.figure),
          updated_at: at,
        }));
        for (let i = 0; i < rows.length; i += CHUNK)
          await trx('event_baselines')
            .insert(rows.slice(i, i + CHUNK))
            .onConflict(['scope', 'subject', 'channel'])
            .merge(['band', 'figure', 'updated_at']);
        // only the marks still carrying the token read: one written again since stays, for its own recompute
        for (let i = 0; i < o.done.length; i += CHUNK)
          await trx('event_triggers')
            .whereIn(
              ['source', 'code', 'token'],
              o.done.slice(i, i + CHUNK).map((t) => [t.source, t.code, t.token]),
            )
            .delete();
      });
      tell(stored);
      return stored;
    },

    /** Up to `limit` pending deliveries of `sink`, in outbox order. */
    async pending(sink: string, limit: number): Promise<Delivery[]> {
      const rows = (await db('event_deliveries as d')
        .join('events as e', 'e.seq', 'd.seq')
        .where({ 'd.sink': sink, 'd.status': 'pending' })
        .orderBy('d.seq')
        .limit(limit)
        .select([...EVENT_COLUMNS, 'd.attempts'])) as (EventRow & { attempts: number | string })[];
      return rows.map((r) => ({ sink, event: toEvent(r), attempts: Number(r.attempts) }));
    },

    /** The sink took these events: their delivery rows go. */
    async delivered(sink: string, seqs: readonly number[]): Promise<void> {
      for (let i = 0; i < seqs.length; i += CHUNK)
        await db('event_deliveries')
          .where({ sink })
          .whereIn('seq', seqs.slice(i, i + CHUNK))
          .delete();
    },

    /** One more failed attempt at `seq`; `dead`: it was the last, the event becomes a dead letter. */
    async failed(sink: string, seq: number, reason: string, dead: boolean): Promise<void> {
      await db('event_deliveries')
        .where({ sink, seq })
        .update({ attempts: db.raw('?? + 1', ['attempts']), last_error: reason.slice(0, 1024), failed_at: now(), ...(dead ? { status: 'dead' } : {}) });
    },

    /** Dead letters, oldest first, after `afterSeq`. */
    async deadLetters(o: { sink?: string | undefined; limit: number; afterSeq?: number | undefined }): Promise<DeadLetter[]> {
      const q = db('event_deliveries as d').join('events as e', 'e.seq', 'd.seq').where('d.status', 'dead').orderBy(['d.seq', 'd.sink']).limit(o.limit);
      if (o.sink !== undefined) q.where('d.sink', o.sink);
      if (o.afterSeq !== undefined) q.where('d.seq', '>', o.afterSeq);
      const rows = (await q.select([...EVENT_COLUMNS, 'd.sink', 'd.attempts', 'd.last_error', 'd.failed_at'])) as (EventRow & {
        sink: string;
        attempts: number | string;
        last_error: string | null;
        failed_at: number | string | null;
      })[];
      return rows.map((r) => ({
        sink: r.sink,
        event: toEvent(r),
        attempts: Number(r.attempts),
        lastError: r.last_error,
        failedAt: r.failed_at === null ? null : new Date(Number(r.failed_at)),
      }));
    },

    /** Makes dead letters pending again (all of `sink`'s, or these event ids); answers how many. The publisher sends them before newer events. */
    async replay(o: { sink?: string | undefined; ids?: readonly string[] | undefined }): Promise<number> {
      const q = db('event_deliveries').where({ status: 'dead' });
      if (o.sink !== undefined) q.where({ sink: o.sink });
      if (o.ids !== undefined)
        q.whereIn(
          'seq',
          db('events')
            .whereIn('id', [...o.ids])
            .select('seq'),
        );
      const n = await q.update({ status: 'pending', attempts: 0 });
      // a replay in this process wakes the sinks at once (from the CLI, the next poll finds it)
      if (n > 0) for (const fn of appended) fn([]);
      return n;
    },

    /** Per sink: pending and dead deliveries, and the oldest pending event's time. */
    async counts(): Promise<SinkCounts[]> {
      const rows = (await db('event_deliveries as d')
        .join('events as e', 'e.seq', 'd.seq')
        .select('d.sink', 'd.status')
        .count({ n: '*' })
        .min({ oldest: 'e.occurred_at' })
        .groupBy('d.sink', 'd.status')) as { sink: string; status: string; n: number | string; oldest: number | string | null }[];
      const out = new Map<string, SinkCounts>(routes.map((r) => [r.sink, { sink: r.sink, pending: 0, dead: 0, oldestPending: null }]));
      for (const r of rows) {
        const c = out.get(r.sink) ?? { sink: r.sink, pending: 0, dead: 0, oldestPending: null };
        if (r.status === 'dead') c.dead = Number(r.n);
        else {
          c.pending = Number(r.n);
          c.oldestPending = r.oldest === null ? null : new Date(Number(r.oldest));
        }
        out.set(r.sink, c);
      }
      return [...out.values()];
    },

    /** Events newest first (or after `afterSeq`, oldest first: a tail), filtered. */
    async list(o: {
      limit: number;
      afterSeq?: number | undefined;
      beforeSeq?: number | undefined;
      types?: readonly string[] | undefined;
      sku?: string | undefined;
    }): Promise<StoredEvent[]> {
      const q = db('events as e').limit(o.limit);
      if (o.afterSeq !== undefined) q.where('e.seq', '>', o.afterSeq).orderBy('e.seq', 'asc');
      else q.orderBy('e.seq', 'desc');
      if (o.beforeSeq !== undefined) q.where('e.seq', '<', o.beforeSeq);
      if (o.sku !== undefined) q.where('e.sku', o.sku);
      if (o.types !== undefined) {
        const exact = o.types.filter((t) => !t.endsWith('.*'));
        const families = o.types.filter((t) => t.endsWith('.*')).map((t) => `${t.slice(0, -1)}%`);
        q.where((w) => {
          if (exact.length > 0) w.orWhereIn('e.type', exact);
          for (const f of families) w.orWhere('e.type', 'like', f);
        });
      }
      const rows = (await q.select(EVENT_COLUMNS)) as EventRow[];
      return rows.map(toEvent);
    },

    /** The newest event's seq (0 when none). */
    async lastSeq(): Promise<number> {
      const r = (await db('events').max({ m: 'seq' }).first()) as { m: number | string | null } | undefined;
      return Number(r?.m ?? 0);
    },

    /** Deletes up to `limit` events that occurred before `before` and no sink still has to deliver; answers how many. */
    async prune(before: number, limit: number): Promise<number> {
      const seqs = (await db('events as e')
        .where('e.occurred_at', '<', before)
        .whereNotExists(db('event_deliveries as d').whereRaw('d.seq = e.seq'))
        .orderBy('e.seq')
        .limit(limit)
        .pluck('e.seq')) as (number | string)[];
      let n = 0;
      for (let i = 0; i < seqs.length; i += CHUNK)
        n += await db('events')
          .whereIn(
            'seq',
            seqs.slice(i, i + CHUNK).map((s) => Number(s)),
          )
          .delete();
      return n;
    },

    /** Drops the deliveries of sinks no longer configured; answers how many per sink. */
    async dropOtherSinks(keep: readonly string[]): Promise<Map<string, number>> {
      const rows = (await db('event_deliveries')
        .whereNotIn('sink', [...keep, '\u0000'])
        .select('sink')
        .count({ n: '*' })
        .groupBy('sink')) as {
        sink: string;
        n: number | string;
      }[];
      const out = new Map<string, number>();
      for (const r of rows) {
        await db('event_deliveries').where({ sink: r.sink }).delete();
        out.set(r.sink, Number(r.n));
      }
      return out;
    },
  };
}

export type EventStore = ReturnType<typeof createEventStore>;
