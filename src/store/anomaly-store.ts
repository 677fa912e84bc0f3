/**
 * Anomalies found while answering queries (a negative on-hand, ...), kept for review. An
 * anomaly is recorded once while it is open: the same kind at the same (sku, location,
 * source, code) only bumps `last_seen` and `occurrences`, and at most once a minute per process,
 * so a hot SKU does not turn every read into a write.
 *
 * Workflow: OPEN -> ACKNOWLEDGED -> RESOLVED (or OPEN -> RESOLVED), each step with an optional
 * note. An acknowledged anomaly is still open (seen again, it is counted on the same row);
 * resolving clears its dedupe key, so a recurrence opens a new anomaly.
 */
import type { Knex } from 'knex';
import { timestamp } from '../db/values.js';
import { errorFields, type Logger } from '../logger.js';

export type AnomalyStatus = 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';

export interface NewAnomaly {
  kind: string;
  sku: string | null;
  location: string | null;
  source: string | null;
  detail: string;
  /** The source's own code, when the anomaly is about a code no canonical SKU maps (an orphan). */
  code?: string | null;
}

export interface Anomaly extends NewAnomaly {
  id: string;
  code: string | null;
  status: AnomalyStatus;
  firstSeen: Date;
  lastSeen: Date;
  occurrences: number;
  acknowledgedAt: Date | null;
  acknowledgeNote: string | null;
  resolvedAt: Date | null;
  resolutionNote: string | null;
}

/** Why a workflow step was refused: the id is unknown, or the anomaly's status does not allow it. */
export class AnomalyTransitionError extends Error {
  constructor(
    readonly reason: 'UNKNOWN_ANOMALY' | 'INVALID_TRANSITION',
    readonly id: string,
    readonly status: AnomalyStatus | null,
    message: string,
  ) {
    super(message);
    this.name = 'AnomalyTransitionError';
  }
}

const keyOf = (a: NewAnomaly) => [a.kind, a.sku ?? '', a.location ?? '', a.source ?? '', ...(a.code ? [a.code] : [])].join('|').slice(0, 255);

function toAnomaly(r: Record<string, unknown>): Anomaly {
  const at = (v: unknown) => (v === null || v === undefined ? null : timestamp(v));
  return {
    id: String(r.id),
    kind: String(r.kind),
    sku: (r.sku as string | null) ?? null,
    location: (r.location as string | null) ?? null,
    source: (r.source as string | null) ?? null,
    code: (r.code as string | null) ?? null,
    detail: String(r.detail),
    status: r.status as AnomalyStatus,
    firstSeen: timestamp(r.first_seen),
    lastSeen: timestamp(r.last_seen),
    occurrences: Number(r.occurrences),
    acknowledgedAt: at(r.acknowledged_at),
    acknowledgeNote: (r.acknowledge_note as string | null) ?? null,
    resolvedAt: at(r.resolved_at),
    resolutionNote: (r.resolution_note as string | null) ?? null,
  };
}

/** How long a key seen by this process is not written again, in ms. */
const REWRITE_AFTER_MS = 60_000;

export function createAnomalyStore(db: Knex, now: () => number = Date.now) {
  const written = new Map<string, number>();
  /** Told about every anomaly this process opened (not the ones it only saw again). */
  const openedListeners = new Set<(opened: Anomaly[]) => void>();

  /** Moves one anomaly from one of `from` to `to`, atomically; refuses unknown ids and other statuses. */
  async function transition(id: string, from: AnomalyStatus[], to: AnomalyStatus, set: Record<string, unknown>): Promise<Anomaly> {
    const numeric = /^\d{1,15}$/.test(id) ? Number(id) : undefined;
    const before = numeric === undefined ? undefined : ((await db('anomalies').where({ id: numeric }).first()) as Record<string, unknown> | undefined);
    if (before === undefined) throw new AnomalyTransitionError('UNKNOWN_ANOMALY', id, null, `No anomaly with id ${JSON.stringify(id)}.`);
    const n = await db('anomalies')
      .where({ id: numeric })
      .whereIn('status', from)
      .update({ status: to, ...set });
    const after = toAnomaly((await db('anomalies').where({ id: numeric }).first()) as Record<string, unknown>);
    if (n === 0) {
      throw new AnomalyTransitionError('INVALID_TRANSITION', id, after.status, `Anomaly ${id} is ${after.status}; only ${from.join(' or ')} can become ${to}.`);
    }
    return after;
  }

  return {
    /** Calls `fn` with the anomalies each `record` call opened (new rows), after they are stored. */
    onOpened(fn: (opened: Anomaly[]) => void): () => void {
      openedListeners.add(fn);
      return () => openedListeners.delete(fn);
    },

    async get(id: string): Promise<Anomaly | null> {
      if (!/^\d{1,15}$/.test(id)) return null;
      const r = (await db('anomalies').where({ id: Number(id) }).first()) as Record<string, unknown> | undefined;
      return r === undefined ? null : toAnomaly(r);
    },

    /** OPEN -> ACKNOWLEDGED: someone is on it; seen again, it keeps counting on the same row. */
    acknowledge(id: string, note: string | null, at: Date = new Date(now())): Promise<Anomaly> {
      return transition(id, ['OPEN'], 'ACKNOWLEDGED', { acknowledged_at: at, acknowledge_note: note });
    },

    /** OPEN or ACKNOWLEDGED -> RESOLVED: the dedupe key is cleared, so a recurrence opens a new anomaly. */
    async resolve(id: string, note: string | null, at: Date = new Date(now())): Promise<Anomaly> {
      const before = await this.get(id);
      const a = await transition(id, ['OPEN', 'ACKNOWLEDGED'], 'RESOLVED', { resolved_at: at, resolution_note: note, open_key: null });
      if (before !== null) written.delete(keyOf(before));
      return a;
    },

    /** Records each anomaly once while open. Returns how many were new or refreshed in the store. */
    async record(anomalies: readonly NewAnomaly[]): Promise<number> {
      const t = now();
      const due = new Map<string, NewAnomaly>();
      for (const a of anomalies) {
        const key = keyOf(a);
        const last = written.get(key);
        if (last === undefined || t - last >= REWRITE_AFTER_MS) due.set(key, a);
      }
      if (due.size === 0) return 0;
      const at = new Date(t);
      const keys = [...due.keys()];
      const watch = openedListeners.size > 0;
      const existing = new Set<string>();
      if (watch) {
        for (let i = 0; i < keys.length; i += 500) {
          const rows = (await db('anomalies').whereIn('open_key', keys.slice(i, i + 500)).select('open_key')) as { open_key: string }[];
          for (const r of rows) existing.add(r.open_key);
        }
      }
      const rows = [...due].map(([key, a]) => ({ ...a, code: a.code ?? null, open_key: key, status: 'OPEN', first_seen: at, last_seen: at, occurrences: 1 }));
      // knex writes a multi-row insert as one compound SELECT on SQLite, which allows 500 terms
      for (let i = 0; i < rows.length; i += 400) {
        await db('anomalies')
          .insert(rows.slice(i, i + 400))
          .onConflict('open_key')
          .merge({ last_seen: at, occurrences: db.raw('?? + 1', ['anomalies.occurrences']) });
      }
      for (const key of keys) written.set(key, t);
      if (watch) {
        const fresh = keys.filter((k) => !existing.has(k));
        const opened: Anomaly[] = [];
        for (let i = 0; i < fresh.length; i += 500) {
          const got = (await db('anomalies').whereIn('open_key', fresh.slice(i, i + 500)).orderBy('id')) as Record<string, unknown>[];
          opened.push(...got.map(toAnomaly));
        }
        if (opened.length > 0) for (const fn of openedListeners) fn(opened);
      }
      if (written.size > 100_000) written.clear();
      return due.size;
    },

    /**
     * Records what was found while answering a query; a store that cannot take it is logged,
     * never allowed to fail the answer.
     */
    async recordOrLog(anomalies: readonly NewAnomaly[], logger: Logger): Promise<void> {
      if (anomalies.length === 0) return;
      try {
        await this.record(anomalies);
      } catch (e) {
        logger.error('could not record anomalies', errorFields(e));
      }
    },

    async list(status: AnomalyStatus | null, first = 100): Promise<Anomaly[]> {
      const q = db('anomalies').orderBy('id', 'desc').limit(first);
      if (status !== null) q.where({ status });
      const rows: Record<string, unknown>[] = await q;
      return rows.map(toAnomaly);
    },
  };
}

export type AnomalyStore = ReturnType<typeof createAnomalyStore>;
