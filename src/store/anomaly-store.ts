/**
 * Anomalies found while answering queries (a negative on-hand, ...), kept for review. An
 * anomaly is recorded once while it is open: the same kind at the same (sku, location,
 * source, code) only bumps `last_seen` and `occurrences`, and at most once a minute per process,
 * so a hot SKU does not turn every read into a write.
 *
 * Two ways in: `enqueue` for requests, which must never wait for the store (a bounded queue and
 * a background writer, src/store/anomaly-queue.ts; `flush` waits for it), and `record`, which
 * writes at once and resolves when it is stored, for jobs and tests.
 *
 * Workflow: OPEN -> ACKNOWLEDGED -> RESOLVED (or OPEN -> RESOLVED), each step with an optional
 * note. An acknowledged anomaly is still open (seen again, it is counted on the same row);
 * resolving clears its dedupe key, so a recurrence opens a new anomaly.
 */
import type { Knex } from 'knex';
import {
  ANOMALY_KINDS,
  AnomalyTransitionError,
  type Anomaly,
  type AnomalyFilter,
  type AnomalyKind,
  type AnomalyPage,
  type AnomalyStatus,
  type NewAnomaly,
} from '../domain/anomalies.js';
import { isSqliteBusy } from '../db/knex.js';
import { timestamp } from '../db/values.js';
import { silentLogger, type Logger } from '../logger.js';
import { createAnomalyQueue, type Sighting } from './anomaly-queue.js';
import type { EventType, NewEvent } from '../domain/events.js';
import type { EventStore } from './event-store.js';

export { AnomalyTransitionError, type Anomaly, type AnomalyFilter, type AnomalyPage, type AnomalyStatus, type NewAnomaly };

const keyOf = (a: NewAnomaly) => [a.kind, a.sku ?? '', a.location ?? '', a.source ?? '', ...(a.code ? [a.code] : [])].join('|').slice(0, 255);

function toAnomaly(r: Record<string, unknown>): Anomaly {
  const at = (v: unknown) => (v === null || v === undefined ? null : timestamp(v));
  return {
    id: String(r.id),
    kind: String(r.kind) as AnomalyKind,
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
    acknowledgedBy: (r.acknowledged_by as string | null) ?? null,
    acknowledgeNote: (r.acknowledge_note as string | null) ?? null,
    resolvedAt: at(r.resolved_at),
    resolvedBy: (r.resolved_by as string | null) ?? null,
    resolutionNote: (r.resolution_note as string | null) ?? null,
  };
}

/** How long a key seen by this process is not written again, in ms. */
const REWRITE_AFTER_MS = 60_000;

/** Anomalies waiting to be written at most, as `anomalies.writeQueueSize` defaults to. */
const DEFAULT_WRITE_QUEUE_SIZE = 10_000;

export interface AnomalyWrites {
  /** Distinct anomalies waiting to be written at most. Defaults to 10000. */
  queueSize?: number;
  /** Where the write queue logs drops and failed writes. Defaults to silent. */
  logger?: Logger;
}

/** An anomaly as its events carry it. */
function anomalyEvent(type: EventType, a: Anomaly, at: Date, extra: Record<string, unknown> = {}): NewEvent {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    type,
    sku: a.sku,
    channel: null,
    occurredAt: at,
    orderingKey: `anomaly:${a.id}`,
    data: {
      anomaly: { ...a, firstSeen: iso(a.firstSeen), lastSeen: iso(a.lastSeen), acknowledgedAt: iso(a.acknowledgedAt), resolvedAt: iso(a.resolvedAt) },
      ...extra,
    },
  };
}

/**
 * `events`: where each opening, reopening, acknowledgement and resolution writes its anomaly.*
 * event, in the same transaction (src/store/event-store.ts).
 */
export function createAnomalyStore(db: Knex, now: () => number = Date.now, writes: AnomalyWrites = {}, events?: EventStore) {
  const written = new Map<string, number>();
  /** Told about every anomaly this process opened (not the ones it only saw again). */
  const openedListeners = new Set<(opened: Anomaly[]) => void>();

  /** Moves one anomaly from one of `from` to `to`, atomically; refuses unknown ids and other statuses. */
  async function transition(
    id: string,
    from: AnomalyStatus[],
    to: AnomalyStatus,
    set: (before: Record<string, unknown>) => Record<string, unknown>,
    event: EventType,
    at: Date,
  ): Promise<Anomaly> {
    const numeric = /^\d{1,15}$/.test(id) ? Number(id) : undefined;
    return db.transaction(async (trx) => {
      // a kind this version does not know is no anomaly to it (as in `get` and `list`)
      const before =
        numeric === undefined
          ? undefined
          : ((await trx('anomalies')
              .where({ id: numeric })
              .whereIn('kind', [...ANOMALY_KINDS])
              .first()) as Record<string, unknown> | undefined);
      if (before === undefined) throw new AnomalyTransitionError('UNKNOWN_ANOMALY', id, null, `No anomaly with id ${JSON.stringify(id)}.`);
      const n = await trx('anomalies')
        .where({ id: numeric })
        .whereIn('status', from)
        .update({ status: to, ...set(before) });
      const after = toAnomaly((await trx('anomalies').where({ id: numeric }).first()) as Record<string, unknown>);
      if (n === 0) {
        throw new AnomalyTransitionError(
          'INVALID_TRANSITION',
          id,
          after.status,
          `Anomaly ${id} is ${after.status}; only ${from.join(' or ')} can become ${to}.`,
        );
      }
      if (events?.enabled() === true) await events.append(trx, [anomalyEvent(event, after, at)]);
      return after;
    });
  }

  /** Each distinct anomaly of `anomalies` that this process has not written in the last minute. */
  function dueSightings(anomalies: readonly NewAnomaly[], at: Date): Sighting[] {
    const due = new Map<string, Sighting>();
    for (const anomaly of anomalies) {
      const key = keyOf(anomaly);
      const last = written.get(key);
      if (last === undefined || at.getTime() - last >= REWRITE_AFTER_MS) due.set(key, { key, anomaly, firstSeen: at, lastSeen: at });
    }
    return [...due.values()];
  }

  /** In an upsert's update: the value the row being inserted carried for `column`. */
  const incoming = (column: string) => db.raw(db.client.config.client === 'mysql2' ? 'values(??)' : 'excluded.??', [column]);

  /** Inserts new anomalies and refreshes open ones (`last_seen`, `occurrences`), in order; tells `onOpened` listeners. */
  async function write(batch: readonly Sighting[]): Promise<void> {
    // MySQL: two writers (two instances) upserting the same new anomaly at once can deadlock on
    // its unique key; InnoDB rolled the loser's transaction back whole, so it is tried again
    for (let attempt = 1; ; attempt++) {
      try {
        if (events?.enabled() === true) await db.transaction((trx) => writeIn(trx, batch, true));
        else await writeIn(db, batch, false);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'ER_LOCK_DEADLOCK' || attempt >= 5) throw e;
      }
    }
  }

  async function writeIn(db: Knex | Knex.Transaction, batch: readonly Sighting[], announce: boolean): Promise<void> {
    const keys = batch.map((s) => s.key);
    const watch = openedListeners.size > 0 || announce;
    const rows = batch.map((s) => ({
      ...s.anomaly,
      code: s.anomaly.code ?? null,
      open_key: s.key,
      status: 'OPEN',
      first_seen: s.firstSeen,
      last_seen: s.lastSeen,
      occurrences: 1,
    }));
    // knex writes a multi-row insert as one compound SELECT on SQLite, which allows 500 terms
    for (let i = 0; i < rows.length; i += 400) {
      await db('anomalies')
        .insert(rows.slice(i, i + 400))
        .onConflict('open_key')
        .merge({ last_seen: incoming('last_seen'), occurrences: db.raw('?? + 1', ['anomalies.occurrences']) });
    }
    for (const s of batch) written.set(s.key, s.lastSeen.getTime());
    if (watch) {
      // which rows this write opened: the ones it inserted (`occurrences` 1; a merge adds one).
      // Read in the upsert's transaction, which holds their row locks: another instance (or
      // writer) that sees the same anomaly at once waits, then merges (2), so one of them
      // announces it (a read before the insert saw none for both, and both announced it)
      const opened: Anomaly[] = [];
      for (let i = 0; i < keys.length; i += 500) {
        const got = (await db('anomalies')
          .whereIn('open_key', keys.slice(i, i + 500))
          .andWhere('occurrences', 1)
          .orderBy('id')) as Record<string, unknown>[];
        opened.push(...got.map(toAnomaly));
      }
      if (announce && opened.length > 0) {
        // the same condition resolved before: reopened, naming the anomaly a person had closed
        const closed = new Map<string, string>();
        const openedKeys = opened.map((a) => keyOf(a));
        for (let i = 0; i < openedKeys.length; i += 500) {
          const rows = (await db('anomalies')
            .whereIn('closed_key', openedKeys.slice(i, i + 500))
            .orderBy('id')
            .select('closed_key', 'id')) as { closed_key: string; id: number | string }[];
          for (const r of rows) closed.set(r.closed_key, String(r.id));
        }
        await events?.append(
          db,
          opened.map((a) => {
            const previous = closed.get(keyOf(a));
            return previous === undefined
              ? anomalyEvent('anomaly.opened', a, a.firstSeen)
              : anomalyEvent('anomaly.reopened', a, a.firstSeen, { previousId: previous });
          }),
        );
      }
      if (opened.length > 0) for (const fn of openedListeners) fn(opened);
    }
    if (written.size > 100_000) written.clear();
  }

  const queue = createAnomalyQueue({
    size: writes.queueSize ?? DEFAULT_WRITE_QUEUE_SIZE,
    write,
    busy: isSqliteBusy,
    logger: writes.logger ?? silentLogger,
    now,
  });

  return {
    /** Calls `fn` with the anomalies each write opened (new rows), after they are stored. */
    onOpened(fn: (opened: Anomaly[]) => void): () => void {
      openedListeners.add(fn);
      return () => openedListeners.delete(fn);
    },

    /** One anomaly by id; null when there is none or its kind is not one this version knows (see `list`). */
    async get(id: string): Promise<Anomaly | null> {
      if (!/^\d{1,15}$/.test(id)) return null;
      const r = (await db('anomalies')
        .where({ id: Number(id) })
        .whereIn('kind', [...ANOMALY_KINDS])
        .first()) as Record<string, unknown> | undefined;
      return r === undefined ? null : toAnomaly(r);
    },

    /** OPEN -> ACKNOWLEDGED by the API key named `by`: someone is on it; seen again, it keeps counting on the same row. */
    acknowledge(id: string, note: string | null, by: string | null = null, at: Date = new Date(now())): Promise<Anomaly> {
      return transition(id, ['OPEN'], 'ACKNOWLEDGED', () => ({ acknowledged_at: at, acknowledged_by: by, acknowledge_note: note }), 'anomaly.acknowledged', at);
    },

    /** OPEN or ACKNOWLEDGED -> RESOLVED by the API key named `by`: the dedupe key is cleared, so a recurrence opens a new anomaly. */
    async resolve(id: string, note: string | null, by: string | null = null, at: Date = new Date(now())): Promise<Anomaly> {
      const before = await this.get(id);
      const a = await transition(
        id,
        ['OPEN', 'ACKNOWLEDGED'],
        'RESOLVED',
        (b) => ({ resolved_at: at, resolved_by: by, resolution_note: note, open_key: null, closed_key: b.open_key ?? null }),
        'anomaly.resolved',
        at,
      );
      if (before !== null) written.delete(keyOf(before));
      return a;
    },

    /** Records each anomaly once while open, now. Returns how many were new or refreshed in the store. */
    async record(anomalies: readonly NewAnomaly[]): Promise<number> {
      const due = dueSightings(anomalies, new Date(now()));
      if (due.length > 0) await write(due);
      return due.length;
    },

    /**
     * Records what was found while answering a request, off its path: queued and written in the
     * background (never awaited, never failing the answer; see src/store/anomaly-queue.ts).
     */
    enqueue(anomalies: readonly NewAnomaly[]): void {
      if (anomalies.length > 0) queue.add(dueSightings(anomalies, new Date(now())));
    },

    /** Waits until the queued anomalies are written, at most `deadlineMs`; resolves with how many still wait. */
    flush: (deadlineMs = 5_000): Promise<number> => queue.flush(deadlineMs),

    /** Anomalies waiting to be written, and those dropped since start (queue full, or given up). */
    writeStats: () => queue.stats(),

    /** Stops the background writer; what is still queued is logged and lost (`flush` first). */
    close: () => queue.close(),

    /** Open and acknowledged anomalies counted by kind (the status page's table). */
    async openCounts(): Promise<Array<{ kind: string; open: number; acknowledged: number }>> {
      const rows = (await db('anomalies')
        .whereIn('status', ['OPEN', 'ACKNOWLEDGED'])
        .select('kind', 'status')
        .count({ n: '*' })
        .groupBy('kind', 'status')) as Array<{ kind: string; status: string; n: number | string }>;
      const byKind = new Map<string, { kind: string; open: number; acknowledged: number }>();
      for (const r of rows) {
        const a = byKind.get(r.kind) ?? { kind: r.kind, open: 0, acknowledged: 0 };
        if (r.status === 'OPEN') a.open += Number(r.n);
        else a.acknowledged += Number(r.n);
        byKind.set(r.kind, a);
      }
      return [...byKind.values()];
    },

    /**
     * A page of anomalies matching `filter`, newest first (by id), after the anomaly id `after`,
     * with how many match over every page: two statements.
     *
     * Only kinds this version knows (ANOMALY_KINDS) are read: a row of another kind (written by a
     * newer version sharing the store) would otherwise fail the whole page, as `Anomaly.kind` is
     * an enum. `filter.locations` are canonical ids, so UNMAPPED_LOCATION rows, whose `location`
     * holds the source's own code, never match them.
     */
    async list(filter: AnomalyFilter = {}, first = 50, after: string | null = null): Promise<AnomalyPage> {
      const given = (values: readonly string[] | null | undefined): values is readonly string[] => values !== null && values !== undefined && values.length > 0;
      const narrowed = () => {
        const q = db('anomalies');
        const by = (column: string, values: readonly string[] | null | undefined) => {
          if (given(values)) q.whereIn(column, [...values]);
        };
        by('kind', given(filter.kinds) ? filter.kinds : ANOMALY_KINDS);
        by('status', filter.statuses);
        by('sku', filter.skus);
        by('source', filter.sources);
        by('location', filter.locations);
        if (given(filter.locations)) q.whereNot('kind', 'UNMAPPED_LOCATION');
        return q;
      };
      const q = narrowed()
        .orderBy('id', 'desc')
        .limit(first + 1);
      if (after !== null) q.where('id', '<', Number(after));
      const rows: Record<string, unknown>[] = await q;
      const counted = (await narrowed().count({ n: '*' })) as Array<{ n: number | string }>;
      const n = counted[0]?.n ?? 0;
      const anomalies = rows.slice(0, first).map(toAnomaly);
      return { anomalies, totalCount: Number(n), hasNextPage: rows.length > first, endCursor: anomalies.at(-1)?.id ?? null };
    },

    /**
     * Resolves, as `by` (the sweep), every OPEN or ACKNOWLEDGED anomaly of `kind` in `scope` whose
     * dedupe key is not in `stillSeen` and that was last seen before `seenBefore` (so a sighting
     * made while the sweep ran is never undone): what a complete sweep no longer found has
     * cleared. `scope` narrows by source (only sources the sweep read in full). Each is resolved
     * through the workflow (its anomaly.resolved event included) with `note` (or the note made for
     * it: what was checked about that SKU, location or code). Returns them.
     */
    async resolveCleared(
      kind: string,
      scope: { sources?: readonly string[] },
      stillSeen: ReadonlySet<string>,
      seenBefore: Date,
      by: string,
      note: string | ((a: Anomaly) => string),
      at: Date = new Date(now()),
    ): Promise<Anomaly[]> {
      const q = db('anomalies').where({ kind }).whereIn('status', ['OPEN', 'ACKNOWLEDGED']).where('last_seen', '<', seenBefore).orderBy('id');
      if (scope.sources !== undefined) q.whereIn('source', [...scope.sources]);
      const rows: Record<string, unknown>[] = await q;
      const resolved: Anomaly[] = [];
      for (const r of rows) {
        if (stillSeen.has(String(r.open_key))) continue;
        try {
          resolved.push(await this.resolve(String(r.id), typeof note === 'string' ? note : note(toAnomaly(r)), by, at));
        } catch (e) {
          // resolved by a person meanwhile: nothing to do
          if (!(e instanceof AnomalyTransitionError)) throw e;
        }
      }
      return resolved;
    },

    /** The dedupe key an anomaly is recorded under while open (what `resolveCleared`'s `stillSeen` holds). */
    keyOf,
  };
}

export type AnomalyStore = ReturnType<typeof createAnomalyStore>;
