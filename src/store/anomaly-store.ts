/**
 * Anomalies found while answering queries (a negative on-hand, ...), kept for review. An
 * anomaly is recorded once while it is open: the same kind at the same (sku, location,
 * source) only bumps `last_seen` and `occurrences`, and at most once a minute per process,
 * so a hot SKU does not turn every read into a write.
 */
import type { Knex } from 'knex';
import { timestamp } from '../db/values.js';

export type AnomalyStatus = 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';

export interface NewAnomaly {
  kind: string;
  sku: string | null;
  location: string | null;
  source: string | null;
  detail: string;
}

export interface Anomaly extends NewAnomaly {
  id: string;
  status: AnomalyStatus;
  firstSeen: Date;
  lastSeen: Date;
  occurrences: number;
}

/** How long a key seen by this process is not written again, in ms. */
const REWRITE_AFTER_MS = 60_000;

export function createAnomalyStore(db: Knex, now: () => number = Date.now) {
  const written = new Map<string, number>();

  return {
    /** Records each anomaly once while open. Returns how many were new or refreshed in the store. */
    async record(anomalies: readonly NewAnomaly[]): Promise<number> {
      const t = now();
      const due = new Map<string, NewAnomaly>();
      for (const a of anomalies) {
        const key = [a.kind, a.sku ?? '', a.location ?? '', a.source ?? ''].join('|').slice(0, 255);
        const last = written.get(key);
        if (last === undefined || t - last >= REWRITE_AFTER_MS) due.set(key, a);
      }
      if (due.size === 0) return 0;
      const at = new Date(t);
      const rows = [...due].map(([key, a]) => ({ ...a, open_key: key, status: 'OPEN', first_seen: at, last_seen: at, occurrences: 1 }));
      await db('anomalies')
        .insert(rows)
        .onConflict('open_key')
        .merge({ last_seen: at, occurrences: db.raw('?? + 1', ['anomalies.occurrences']) });
      for (const key of due.keys()) written.set(key, t);
      if (written.size > 100_000) written.clear();
      return due.size;
    },

    async list(status: AnomalyStatus | null, first = 100): Promise<Anomaly[]> {
      const q = db('anomalies').orderBy('id', 'desc').limit(first);
      if (status !== null) q.where({ status });
      const rows: Record<string, unknown>[] = await q;
      return rows.map((r) => ({
        id: String(r.id),
        kind: String(r.kind),
        sku: (r.sku as string | null) ?? null,
        location: (r.location as string | null) ?? null,
        source: (r.source as string | null) ?? null,
        detail: String(r.detail),
        status: r.status as AnomalyStatus,
        firstSeen: timestamp(r.first_seen),
        lastSeen: timestamp(r.last_seen),
        occurrences: Number(r.occurrences),
      }));
    },
  };
}

export type AnomalyStore = ReturnType<typeof createAnomalyStore>;
