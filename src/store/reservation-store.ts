/**
 * Holds in the store (tables `reservations`, `reservation_lines`, `reservation_keys`,
 * `reservation_locks`; migration 0006_reservations). Every change is one transaction, so a
 * crash leaves a reservation whole or absent, and its idempotency key with it.
 *
 * How two gateway instances sharing one MySQL/MariaDB store never promise the same unit: a
 * reserve locks one row per (sku, location) it touches (`SELECT ... FOR UPDATE`, in key order,
 * so two reserves never wait on each other in a cycle), reads what is held there now (READ
 * COMMITTED: the latest committed holds), lets the caller decide, and writes. Another reserve of
 * the same pair waits for the lock and then sees this one's holds, and its key: a retry of the
 * same key that waited is answered as the first, not decided afresh against the first's holds. On SQLite a process has one
 * connection, so its transactions run one at a time; two processes on one file are refused
 * with SQLITE_BUSY by the one that would write second (the service retries).
 *
 * Times are epoch ms by the gateway's clock.
 */
import type { Knex } from 'knex';
import type { EventType, NewEvent } from '../domain/events.js';
import { pairKey, type ReservationStatus } from '../domain/reservations.js';
import type { EventStore } from './event-store.js';

export interface ReservationRow {
  id: string;
  owner: string;
  status: ReservationStatus;
  channel: string | null;
  reference: string | null;
  createdAt: number;
  expiresAt: number;
  confirmedAt: number | null;
  endedAt: number | null;
  handedOverAt: number | null;
  handedOverBy: string | null;
  lines: Array<{ requestLine: number; sku: string; location: string; quantity: number; countsUntil: number }>;
}

export interface StoredKey {
  requestHash: string;
  reservationId: string;
  /** The first answer, as the service stored it (JSON). */
  result: string;
}

export interface NewReservation {
  id: string;
  owner: string;
  channel: string | null;
  reference: string | null;
  createdAt: number;
  expiresAt: number;
  lines: Array<{ requestLine: number; sku: string; location: string; quantity: number }>;
  key: { idempotencyKey: string; requestHash: string; result: string; expiresAt: number };
}

/** What the caller's decision in `reserve` returns: a reservation to write, or nothing (with why). */
export type Decision<T> = { write: NewReservation; answer: T } | { write: null; answer: T };

export type ReserveOutcome<T> = { kind: 'decided'; answer: T } | { kind: 'existing'; key: StoredKey };

/** Most (sku, location) pairs, SKUs or ids per statement. */
const CHUNK = 400;

interface Row {
  id: string;
  owner: string;
  status: string;
  channel: string | null;
  reference: string | null;
  created_at: number | string;
  expires_at: number | string;
  confirmed_at: number | string | null;
  ended_at: number | string | null;
  handed_over_at: number | string | null;
  handed_over_by: string | null;
}

interface LineRow {
  reservation_id: string;
  line_no: number;
  request_line: number;
  sku: string;
  location: string;
  quantity: number | string;
  counts_until: number | string;
}

const num = (v: number | string) => Number(v);
const numOrNull = (v: number | string | null) => (v === null ? null : Number(v));

function isDuplicateKey(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** A reservation as its events carry it (no owner: that is an API key's name). */
function reservationEvent(type: EventType, r: ReservationRow, at: number, extra: Record<string, unknown> = {}): NewEvent {
  const iso = (v: number | null) => (v === null ? null : new Date(v).toISOString());
  return {
    type,
    sku: null,
    channel: r.channel,
    occurredAt: new Date(at),
    orderingKey: `reservation:${r.id}`,
    data: {
      reservation: {
        id: r.id,
        status: r.status,
        channel: r.channel,
        reference: r.reference,
        createdAt: iso(r.createdAt),
        expiresAt: iso(r.expiresAt),
        confirmedAt: iso(r.confirmedAt),
        endedAt: iso(r.endedAt),
        handedOverAt: iso(r.handedOverAt),
        handedOverBy: r.handedOverBy,
        lines: r.lines.map((l) => ({ line: l.requestLine, sku: l.sku, location: l.location, quantity: l.quantity })),
      },
      skus: [...new Set(r.lines.map((l) => l.sku))],
      ...extra,
    },
  };
}

/**
 * `events`: where each change writes its reservation.* event and marks its SKUs for an
 * availability recompute, in the change's own transaction (src/store/event-store.ts).
 */
/** Which reservations a list is about; `now` decides what has expired. */
export interface ReservationListFilter {
  sku: string | null;
  status: ReservationStatus | null;
  now: number;
}

export function createReservationStore(db: Knex, events?: EventStore) {
  const mysql = db.client.config.client === 'mysql2';

  /** In `trx`: the reservations' events, and their SKUs marked for a recompute (source '': canonical SKUs). */
  async function announce(
    trx: Knex.Transaction,
    list: ReadonlyArray<{ type: EventType; r: ReservationRow; at: number; extra?: Record<string, unknown> }>,
  ): Promise<void> {
    if (events === undefined || !events.enabled() || list.length === 0) return;
    await events.append(
      trx,
      list.map((x) => reservationEvent(x.type, x.r, x.at, x.extra)),
    );
    await events.trigger(
      trx,
      '',
      list.flatMap((x) => x.r.lines.map((l) => l.sku)),
      true,
    );
  }

  async function linesOf(trx: Knex | Knex.Transaction, ids: readonly string[]): Promise<Map<string, ReservationRow['lines']>> {
    const out = new Map<string, ReservationRow['lines']>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows: LineRow[] = await trx('reservation_lines')
        .whereIn('reservation_id', ids.slice(i, i + CHUNK) as string[])
        .orderBy(['reservation_id', 'line_no'])
        .select();
      for (const r of rows) {
        const list = out.get(r.reservation_id) ?? [];
        list.push({ requestLine: r.request_line, sku: r.sku, location: r.location, quantity: num(r.quantity), countsUntil: num(r.counts_until) });
        out.set(r.reservation_id, list);
      }
    }
    return out;
  }

  async function withLines(trx: Knex | Knex.Transaction, rows: Row[]): Promise<ReservationRow[]> {
    const lines = await linesOf(
      trx,
      rows.map((r) => r.id),
    );
    return rows.map((r) => ({
      id: r.id,
      owner: r.owner,
      status: r.status as ReservationStatus,
      channel: r.channel,
      reference: r.reference,
      createdAt: num(r.created_at),
      expiresAt: num(r.expires_at),
      confirmedAt: numOrNull(r.confirmed_at),
      endedAt: numOrNull(r.ended_at),
      handedOverAt: numOrNull(r.handed_over_at),
      handedOverBy: r.handed_over_by,
      lines: lines.get(r.id) ?? [],
    }));
  }

  async function findKey(trx: Knex | Knex.Transaction, owner: string, key: string, now: number): Promise<StoredKey | null> {
    const row: { request_hash: string; reservation_id: string; result: string } | undefined = await trx('reservation_keys')
      .where({ owner, idempotency_key: key })
      .andWhere('expires_at', '>', now)
      .first('request_hash', 'reservation_id', 'result');
    return row === undefined ? null : { requestHash: row.request_hash, reservationId: row.reservation_id, result: row.result };
  }

  /** Distinct (sku, location) pairs in key order: the order every transaction locks them in, so none waits on another in a cycle. */
  function inKeyOrder(pairs: ReadonlyArray<{ sku: string; location: string }>): Array<{ sku: string; location: string }> {
    return [...new Map(pairs.map((p) => [pairKey(p.sku, p.location), p])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  }

  /** MySQL: locks the `reservation_locks` rows of these pairs (given in key order) until the transaction ends. */
  async function lockPairs(trx: Knex.Transaction, pairs: ReadonlyArray<{ sku: string; location: string }>): Promise<void> {
    for (let i = 0; i < pairs.length; i += CHUNK) {
      await trx('reservation_locks')
        .whereIn(
          ['sku', 'location'],
          pairs.slice(i, i + CHUNK).map((p) => [p.sku, p.location]),
        )
        .orderBy(['sku', 'location'])
        .forUpdate()
        .select('sku');
    }
  }

  /** Units held now per (sku, location) of these SKUs, as rows (one statement per 400 SKUs). */
  async function heldRows(
    q: Knex | Knex.Transaction,
    skus: readonly string[],
    now: number,
  ): Promise<Array<{ sku: string; location: string; quantity: number }>> {
    const out: Array<{ sku: string; location: string; quantity: number }> = [];
    for (let i = 0; i < skus.length; i += CHUNK) {
      const rows: Array<{ sku: string; location: string; quantity: number | string }> = await q('reservation_lines')
        .whereIn('sku', skus.slice(i, i + CHUNK) as string[])
        .andWhere('counts_until', '>', now)
        .groupBy('sku', 'location')
        .select('sku', 'location')
        .sum({ quantity: 'quantity' });
      for (const r of rows) out.push({ sku: r.sku, location: r.location, quantity: num(r.quantity) });
    }
    return out;
  }

  /**
   * Runs `apply` on the reservation `id` inside a transaction, its row locked on MySQL; null when
   * there is no such reservation. With `locked`, the (sku, location) rows of its lines are
   * locked too, as a reserve locks them, and `now` is read only then: a step that makes a hold
   * count again (extend, confirm) is decided after any reserve that saw the hold expired and took
   * its units has committed, so it sees the expiry too and is refused.
   */
  async function change(
    id: string,
    clock: () => number,
    locked: boolean,
    event: EventType,
    apply: (r: ReservationRow, trx: Knex.Transaction, now: number) => Promise<boolean | void>,
  ): Promise<ReservationRow | null> {
    return db.transaction(async (trx) => {
      const q = trx<Row>('reservations').where({ id });
      if (mysql) q.forUpdate();
      const row = (await q.select()) as Row[];
      if (row.length === 0) return null;
      const [r] = (await withLines(trx, row)) as [ReservationRow];
      if (mysql && locked) await lockPairs(trx, inKeyOrder(r.lines));
      const at = clock();
      const changed = await apply(r, trx, at);
      const [after] = await withLines(trx, (await trx<Row>('reservations').where({ id }).select()) as Row[]);
      if (after !== undefined && changed !== false) await announce(trx, [{ type: event, r: after, at }]);
      return after ?? null;
    });
  }

  /** The reservations `page` and `count` list: with a line of `sku`, in a status as the API means it (EXPIRED includes ACTIVE ones past expiry not yet swept). */
  function narrowed(o: ReservationListFilter) {
    const q = db<Row>('reservations as r');
    if (o.sku !== null) q.whereExists(db('reservation_lines as l').whereRaw('l.reservation_id = r.id').andWhere('l.sku', o.sku));
    if (o.status === 'ACTIVE') q.where('r.status', 'ACTIVE').andWhere('r.expires_at', '>', o.now);
    else if (o.status === 'EXPIRED')
      q.where((w) => w.where('r.status', 'EXPIRED').orWhere((x) => x.where('r.status', 'ACTIVE').andWhere('r.expires_at', '<=', o.now)));
    else if (o.status !== null) q.where('r.status', o.status);
    return q;
  }

  return {
    /** Units held per SKU per location now, for these SKUs (one statement per 400 SKUs). */
    async held(skus: readonly string[], now: number): Promise<Map<string, Map<string, number>>> {
      const out = new Map<string, Map<string, number>>();
      for (const r of await heldRows(db, skus, now)) {
        let m = out.get(r.sku);
        if (m === undefined) out.set(r.sku, (m = new Map()));
        m.set(r.location, r.quantity);
      }
      return out;
    },

    /** The key's stored answer while it is within its window, or null. */
    findKey: (owner: string, key: string, now: number) => findKey(db, owner, key, now),

    /**
     * One reserve, in one transaction: when `owner`'s key is already stored, its stored answer
     * (nothing else happens); else the (sku, location) pairs are locked, what is held there now is
     * read and handed to `decide`, and what it decides is written (the reservation, its lines and
     * its key) before the commit. A concurrent reserve with the same key that committed first makes
     * this one answer `existing` too.
     */
    async reserve<T>(
      owner: string,
      key: string,
      pairs: ReadonlyArray<{ sku: string; location: string }>,
      now: number,
      decide: (held: Map<string, number>) => Decision<T>,
    ): Promise<ReserveOutcome<T>> {
      const sorted = inKeyOrder(pairs);
      if (mysql && sorted.length > 0) {
        // the lock rows exist before the transaction locks them (autocommit; never deleted)
        for (let i = 0; i < sorted.length; i += CHUNK) {
          await db('reservation_locks')
            .insert(sorted.slice(i, i + CHUNK).map((p) => ({ sku: p.sku, location: p.location })))
            .onConflict()
            .ignore();
        }
      }
      try {
        return await db.transaction(
          async (trx) => {
            const existing = await findKey(trx, owner, key, now);
            if (existing !== null) return { kind: 'existing' as const, key: existing };
            if (mysql && sorted.length > 0) {
              await lockPairs(trx, sorted);
              // a reserve with the same key may have held these pairs while this one waited for
              // them: it committed its key before letting go, and READ COMMITTED sees it now
              const committed = await findKey(trx, owner, key, now);
              if (committed !== null) return { kind: 'existing' as const, key: committed };
            }
            const held = new Map<string, number>();
            for (const r of await heldRows(trx, [...new Set(sorted.map((p) => p.sku))], now)) held.set(pairKey(r.sku, r.location), r.quantity);
            const d = decide(held);
            if (d.write === null) return { kind: 'decided' as const, answer: d.answer };
            const w = d.write;
            // a stale key past its window gives way to the new one
            await trx('reservation_keys').where({ owner, idempotency_key: key }).andWhere('expires_at', '<=', now).delete();
            await trx('reservations').insert({
              id: w.id,
              owner: w.owner,
              status: 'ACTIVE',
              channel: w.channel,
              reference: w.reference,
              created_at: w.createdAt,
              expires_at: w.expiresAt,
            });
            for (let i = 0; i < w.lines.length; i += CHUNK) {
              await trx('reservation_lines').insert(
                w.lines.slice(i, i + CHUNK).map((l, j) => ({
                  reservation_id: w.id,
                  line_no: i + j,
                  request_line: l.requestLine,
                  sku: l.sku,
                  location: l.location,
                  quantity: l.quantity,
                  counts_until: w.expiresAt,
                })),
              );
            }
            await trx('reservation_keys').insert({
              owner,
              idempotency_key: w.key.idempotencyKey,
              request_hash: w.key.requestHash,
              reservation_id: w.id,
              result: w.key.result,
              created_at: w.createdAt,
              expires_at: w.key.expiresAt,
            });
            const created: ReservationRow = {
              ...w,
              status: 'ACTIVE',
              confirmedAt: null,
              endedAt: null,
              handedOverAt: null,
              handedOverBy: null,
              lines: w.lines.map((l) => ({ ...l, countsUntil: w.expiresAt })),
            };
            await announce(trx, [{ type: 'reservation.created', r: created, at: w.createdAt }]);
            return { kind: 'decided' as const, answer: d.answer };
          },
          mysql ? { isolationLevel: 'read committed' } : undefined,
        );
      } catch (e) {
        // the same key committed by a concurrent reserve first: answer as it did
        if (!isDuplicateKey(e)) throw e;
        const k = await findKey(db, owner, key, now);
        if (k === null) throw e;
        return { kind: 'existing', key: k };
      }
    },

    async get(id: string): Promise<ReservationRow | null> {
      const rows = (await db<Row>('reservations').where({ id }).select()) as Row[];
      return (await withLines(db, rows))[0] ?? null;
    },

    async getMany(ids: readonly string[]): Promise<Map<string, ReservationRow>> {
      const out = new Map<string, ReservationRow>();
      for (let i = 0; i < ids.length; i += CHUNK) {
        const rows = (await db<Row>('reservations')
          .whereIn('id', ids.slice(i, i + CHUNK) as string[])
          .select()) as Row[];
        for (const r of await withLines(db, rows)) out.set(r.id, r);
      }
      return out;
    },

    /**
     * A page of reservations, newest first, optionally only those with a line of `sku` and in a
     * stored status (EXPIRED includes ACTIVE ones past expiry not yet swept; ACTIVE excludes them).
     * `after`: the last id of the previous page.
     */
    async page(o: ReservationListFilter & { first: number; after: string | null }) {
      const q = narrowed(o);
      if (o.after !== null) {
        const cursor = (await db<Row>('reservations').where({ id: o.after }).first('created_at')) as { created_at: number | string } | undefined;
        if (cursor === undefined) return null;
        const at = num(cursor.created_at);
        q.where((w) => w.where('r.created_at', '<', at).orWhere((x) => x.where('r.created_at', at).andWhere('r.id', '<', o.after as string)));
      }
      const rows = (await q
        .orderBy([
          { column: 'r.created_at', order: 'desc' },
          { column: 'r.id', order: 'desc' },
        ])
        .limit(o.first + 1)
        .select('r.*')) as Row[];
      const more = rows.length > o.first;
      return { reservations: await withLines(db, rows.slice(0, o.first)), hasNextPage: more };
    },

    /** How many reservations `page` would list over every page: one statement. */
    async count(o: ReservationListFilter): Promise<number> {
      const row = (await narrowed(o).count({ n: '*' }).first()) as { n: number | string } | undefined;
      return Number(row?.n ?? 0);
    },

    /** ACTIVE and not expired → CONFIRMED with `reference`; its lines count until `holdUntil`. Null: no such reservation. */
    confirm(id: string, reference: string | null, clock: () => number, holdMs: number, check: (r: ReservationRow, now: number) => void) {
      return change(id, clock, true, 'reservation.confirmed', async (r, trx, now) => {
        check(r, now);
        if (r.status === 'CONFIRMED') return false;
        await trx('reservations')
          .where({ id })
          .update({ status: 'CONFIRMED', confirmed_at: now, ...(reference !== null ? { reference } : {}) });
        await trx('reservation_lines')
          .where({ reservation_id: id })
          .update({ counts_until: now + holdMs });
        return true;
      });
    },

    /** ACTIVE or CONFIRMED → RELEASED; its lines stop counting. */
    release(id: string, clock: () => number, check: (r: ReservationRow, now: number) => void) {
      return change(id, clock, false, 'reservation.released', async (r, trx, now) => {
        check(r, now);
        await trx('reservations').where({ id }).update({ status: 'RELEASED', ended_at: now });
        await trx('reservation_lines').where({ reservation_id: id }).update({ counts_until: 0 });
      });
    },

    /** ACTIVE → expires `ttlMs` from now instead. */
    extend(id: string, ttlMs: number, clock: () => number, check: (r: ReservationRow, now: number) => void) {
      return change(id, clock, true, 'reservation.extended', async (r, trx, now) => {
        check(r, now);
        await trx('reservations')
          .where({ id })
          .update({ expires_at: now + ttlMs });
        await trx('reservation_lines')
          .where({ reservation_id: id })
          .update({ counts_until: now + ttlMs });
      });
    },

    /** Marks up to `limit` ACTIVE reservations past their expiry EXPIRED; answers their ids. */
    async expire(now: number, limit: number): Promise<string[]> {
      return db.transaction(async (trx) => {
        const q = trx('reservations').where({ status: 'ACTIVE' }).andWhere('expires_at', '<=', now).orderBy('expires_at').limit(limit);
        if (mysql) q.forUpdate().skipLocked();
        const ids = ((await q.select('id')) as Array<{ id: string }>).map((r) => r.id);
        for (let i = 0; i < ids.length; i += CHUNK) {
          const chunk = ids.slice(i, i + CHUNK);
          // it ended at its expiry, not at the sweep
          await trx('reservations')
            .whereIn('id', chunk)
            .andWhere({ status: 'ACTIVE' })
            .update({ status: 'EXPIRED', ended_at: trx.ref('expires_at') });
          await trx('reservation_lines').whereIn('reservation_id', chunk).update({ counts_until: 0 });
        }
        if (ids.length > 0 && events?.enabled() === true) {
          const rows = await withLines(trx, (await trx<Row>('reservations').whereIn('id', ids).select()) as Row[]);
          await announce(
            trx,
            rows.map((r) => ({ type: 'reservation.expired' as const, r, at: r.expiresAt })),
          );
        }
        return ids;
      });
    },

    /** CONFIRMED reservations still counting that have a reference: the ones whose order a source may show (oldest first). */
    async awaitingHandOver(now: number, limit: number): Promise<Array<{ id: string; reference: string }>> {
      const rows: Array<{ id: string; reference: string }> = await db('reservations as r')
        .where('r.status', 'CONFIRMED')
        .whereNull('r.handed_over_at')
        .whereNotNull('r.reference')
        .whereExists(db('reservation_lines as l').whereRaw('l.reservation_id = r.id').andWhere('l.counts_until', '>', now))
        .orderBy('r.confirmed_at')
        .limit(limit)
        .select('r.id', 'r.reference');
      return rows;
    },

    /** The order of these CONFIRMED reservations was seen in `source`: their lines stop counting. */
    async handOver(ids: readonly string[], source: string, now: number): Promise<number> {
      if (ids.length === 0) return 0;
      return db.transaction(async (trx) => {
        let n = 0;
        for (let i = 0; i < ids.length; i += CHUNK) {
          const chunk = ids.slice(i, i + CHUNK) as string[];
          n += await trx('reservations')
            .whereIn('id', chunk)
            .andWhere({ status: 'CONFIRMED' })
            .whereNull('handed_over_at')
            .update({ handed_over_at: now, handed_over_by: source });
          await trx('reservation_lines').whereIn('reservation_id', chunk).update({ counts_until: 0 });
        }
        if (n > 0 && events?.enabled() === true) {
          const rows = await withLines(
            trx,
            (await trx<Row>('reservations')
              .whereIn('id', [...ids])
              .andWhere({ handed_over_at: now, handed_over_by: source })
              .select()) as Row[],
          );
          await announce(
            trx,
            rows.map((r) => ({ type: 'reservation.handed_over' as const, r, at: now })),
          );
        }
        return n;
      });
    },

    /**
     * Deletes up to `limit` reservations that ended (RELEASED, EXPIRED) or were confirmed before
     * `before`, with their lines (and any key still naming them); answers how many.
     */
    async prune(before: number, limit: number): Promise<number> {
      const ended: Array<{ id: string }> = await db('reservations').where('ended_at', '<', before).limit(limit).select('id');
      const confirmed: Array<{ id: string }> = await db('reservations')
        .where({ status: 'CONFIRMED' })
        .andWhere('confirmed_at', '<', before)
        .limit(limit)
        .select('id');
      const ids = [...ended, ...confirmed].map((r) => r.id).slice(0, limit);
      let n = 0;
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        n += await db.transaction(async (trx): Promise<number> => {
          await trx('reservation_keys').whereIn('reservation_id', chunk).delete();
          await trx('reservation_lines').whereIn('reservation_id', chunk).delete();
          return Number(await trx('reservations').whereIn('id', chunk).delete());
        });
      }
      return n;
    },

    /** SKUs with a line that stopped counting in (`from`, `to`] on its own (its `counts_until` passed); indexed. */
    async stoppedCounting(from: number, to: number): Promise<string[]> {
      const rows: Array<{ sku: string }> = await db('reservation_lines').where('counts_until', '>', from).andWhere('counts_until', '<=', to).distinct('sku');
      return rows.map((r) => r.sku);
    },

    /** Deletes up to `limit` idempotency keys past their window; answers how many. */
    async pruneKeys(now: number, limit: number): Promise<number> {
      const rows: Array<{ owner: string; idempotency_key: string }> = await db('reservation_keys')
        .where('expires_at', '<=', now)
        .limit(limit)
        .select('owner', 'idempotency_key');
      let n = 0;
      for (const r of rows) n += await db('reservation_keys').where(r).andWhere('expires_at', '<=', now).delete();
      return n;
    },

    /**
     * For /status and /metrics: ACTIVE holds not expired, reservations whose lines count now
     * (ACTIVE and CONFIRMED awaiting hand-over), and the units they hold. Two indexed statements.
     */
    async summary(now: number): Promise<{ active: number; counting: number; heldUnits: number }> {
      const [a] = (await db('reservations').where({ status: 'ACTIVE' }).andWhere('expires_at', '>', now).count({ n: '*' })) as Array<{ n: number | string }>;
      const [h] = (await db('reservation_lines')
        .where('counts_until', '>', now)
        .select(db.raw('count(distinct reservation_id) as n'))
        .sum({ q: 'quantity' })) as Array<{ n: number | string; q: number | string | null }>;
      return { active: num(a?.n ?? 0), counting: num(h?.n ?? 0), heldUnits: h?.q == null ? 0 : num(h.q) };
    },
  };
}

export type ReservationStore = ReturnType<typeof createReservationStore>;
