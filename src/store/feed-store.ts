/**
 * What message feeds leave in the store (tables `feed_changes` and `feed_dead_letters`,
 * migration 0005_feeds):
 *
 * - Every change applied, by (source, message id), for the dedupe window: `record` writes a
 *   batch in one transaction and answers which ids were already there (a redelivery, a
 *   duplicate publish, a retry after a crash), so each id is applied once, across restarts. The
 *   changes are also what a mirror replays over a fresh full load (a 3PL's picks since its
 *   daily file), oldest event first.
 * - Every message that could not be applied, with its body and the reason (the dead-letter
 *   queue): listed and marked for replay by `inventory-graph feeds dlq`, re-driven by the
 *   running gateway (src/feeds/sink.ts), which deletes the row once the message applies.
 */
import type { Knex } from 'knex';
import type { StockChange } from '../domain/changes.js';

export interface NewDeadLetter {
  feed: string;
  messageId: string | null;
  transportId: string | null;
  body: string;
  reason: string;
}

export interface DeadLetter extends NewDeadLetter {
  id: number;
  source: string;
  attempts: number;
  receivedAt: Date;
  replayRequestedAt: Date | null;
}

interface ChangeRow {
  seq: number | string;
  message_id: string;
  op: string;
  code: string;
  location: string;
  on_hand: number | string;
  committed: number | string | null;
  event_time: number | string;
}

interface DeadRow {
  id: number | string;
  source: string;
  feed: string;
  message_id: string | null;
  transport_id: string | null;
  body: string;
  reason: string;
  attempts: number | string;
  received_at: number | string;
  replay_requested_at: number | string | null;
}

/** Ids per IN list and rows per multi-row INSERT (SQLite allows 500 compound terms). */
const CHUNK = 400;
const MAX_BODY = 65_536;

function toDeadLetter(r: DeadRow): DeadLetter {
  return {
    id: Number(r.id),
    source: r.source,
    feed: r.feed,
    messageId: r.message_id,
    transportId: r.transport_id,
    body: r.body,
    reason: r.reason,
    attempts: Number(r.attempts),
    receivedAt: new Date(Number(r.received_at)),
    replayRequestedAt: r.replay_requested_at === null ? null : new Date(Number(r.replay_requested_at)),
  };
}

export function createFeedStore(db: Knex, now: () => number = Date.now) {
  return {
    /**
     * In one transaction: the changes whose (source, id) is new are written, the dead letters
     * too, and the dead letters in `resolved` (re-driven and now applied or dead again, see
     * `deadAgain`) are deleted. Answers the ids that were already recorded (not written again).
     */
    async record(
      source: string,
      feed: string,
      changes: readonly StockChange[],
      dead: readonly NewDeadLetter[],
      o: {
        resolved?: readonly number[];
        /** Runs in the same transaction, with the changes not seen before (the events' recompute marks). */
        within?: (trx: Knex.Transaction, fresh: readonly StockChange[]) => Promise<void>;
      } = {},
    ): Promise<Set<string>> {
      const at = now();
      const duplicates = new Set<string>();
      if (changes.length === 0 && dead.length === 0 && (o.resolved ?? []).length === 0) return duplicates;
      await db.transaction(async (trx) => {
        for (let i = 0; i < changes.length; i += CHUNK) {
          const ids = changes.slice(i, i + CHUNK).map((c) => c.id);
          const rows: { message_id: string }[] = await trx('feed_changes').where({ source }).whereIn('message_id', ids).select('message_id');
          for (const r of rows) duplicates.add(r.message_id);
        }
        const fresh = changes.filter((c) => !duplicates.has(c.id));
        for (let i = 0; i < fresh.length; i += CHUNK) {
          await trx('feed_changes').insert(
            fresh.slice(i, i + CHUNK).map((c) => ({
              source,
              message_id: c.id,
              feed,
              op: c.op,
              code: c.code,
              location: c.location,
              on_hand: c.onHand,
              committed: c.committed ?? null,
              event_time: c.eventTime.getTime(),
              received_at: at,
            })),
          );
        }
        for (let i = 0; i < dead.length; i += CHUNK) {
          await trx('feed_dead_letters').insert(
            dead.slice(i, i + CHUNK).map((d) => ({
              source,
              feed: d.feed,
              message_id: d.messageId,
              transport_id: d.transportId?.slice(0, 191) ?? null,
              body: d.body.length > MAX_BODY ? d.body.slice(0, MAX_BODY) : d.body,
              reason: d.reason.slice(0, 2048),
              received_at: at,
            })),
          );
        }
        if (o.within !== undefined && fresh.length > 0) await o.within(trx, fresh);
        const resolved = o.resolved ?? [];
        for (let i = 0; i < resolved.length; i += CHUNK)
          await trx('feed_dead_letters')
            .whereIn('id', resolved.slice(i, i + CHUNK))
            .delete();
      });
      return duplicates;
    },

    /**
     * The changes recorded for `source` with an event time after `after` (epoch ms), oldest
     * event first, `batch` at a time: what a mirror replays over a fresh load.
     */
    async *replay(source: string, after: number, batch = 5000): AsyncGenerator<StockChange[]> {
      let lastTime = after;
      // the first page: strictly after `after`; then after the last (event time, seq) seen
      let lastSeq = Number.MAX_SAFE_INTEGER;
      for (;;) {
        const rows: ChangeRow[] = await db('feed_changes')
          .where({ source })
          .where((q) => q.where('event_time', '>', lastTime).orWhere((q2) => q2.where('event_time', '=', lastTime).where('seq', '>', lastSeq)))
          .orderBy([{ column: 'event_time' }, { column: 'seq' }])
          .limit(batch)
          .select('seq', 'message_id', 'op', 'code', 'location', 'on_hand', 'committed', 'event_time');
        if (rows.length === 0) return;
        yield rows.map((r) => ({
          id: r.message_id,
          op: r.op === 'delta' ? 'delta' : 'set',
          code: r.code,
          location: r.location,
          onHand: Number(r.on_hand),
          committed: r.committed === null ? undefined : Number(r.committed),
          eventTime: new Date(Number(r.event_time)),
        }));
        const last = rows.at(-1) as ChangeRow;
        lastTime = Number(last.event_time);
        lastSeq = Number(last.seq);
        if (rows.length < batch) return;
      }
    },

    /** Forgets the changes of `source` received before `before` (epoch ms): their ids may be applied again. Returns how many. */
    async prune(source: string, before: number): Promise<number> {
      return Number(await db('feed_changes').where({ source }).where('received_at', '<', before).delete());
    },

    /** Changes recorded per source. */
    async changeCounts(): Promise<Map<string, number>> {
      const rows: { source: string; n: number | string }[] = await db('feed_changes').groupBy('source').select('source').count({ n: '*' });
      return new Map(rows.map((r) => [r.source, Number(r.n)]));
    },

    deadLetters: {
      /** Dead letters, oldest first, after the id `after`, at most `limit`; of one source when given. */
      async list(o: { source?: string; after?: number; limit?: number } = {}): Promise<DeadLetter[]> {
        const q = db('feed_dead_letters')
          .orderBy('id')
          .limit(o.limit ?? 100);
        if (o.source !== undefined) q.where({ source: o.source });
        if (o.after !== undefined) q.where('id', '>', o.after);
        return ((await q.select('*')) as DeadRow[]).map(toDeadLetter);
      },

      /** Dead letters per source. */
      async counts(): Promise<Map<string, number>> {
        const rows: { source: string; n: number | string }[] = await db('feed_dead_letters').groupBy('source').select('source').count({ n: '*' });
        return new Map(rows.map((r) => [r.source, Number(r.n)]));
      },

      /** Marks dead letters for replay (all, of a source, or by id); answers how many were marked. */
      async requestReplay(o: { source?: string; ids?: readonly number[] } = {}): Promise<number> {
        const q = db('feed_dead_letters');
        if (o.source !== undefined) q.where({ source: o.source });
        if (o.ids !== undefined) q.whereIn('id', o.ids as number[]);
        return Number(await q.update({ replay_requested_at: now() }));
      },

      /** Up to `limit` dead letters of `source` marked for replay, oldest first. */
      async requested(source: string, limit: number): Promise<DeadLetter[]> {
        const rows: DeadRow[] = await db('feed_dead_letters').where({ source }).whereNotNull('replay_requested_at').orderBy('id').limit(limit).select('*');
        return rows.map(toDeadLetter);
      },

      /**
       * Keeps the newest `keep` dead letters of `source` and deletes the older ones (a sender
       * flooding malformed messages must not fill the store); answers how many went.
       */
      async trim(source: string, keep: number): Promise<number> {
        const row = (await db('feed_dead_letters').where({ source }).orderBy('id', 'desc').offset(keep).first('id')) as { id: number | string } | undefined;
        if (row === undefined) return 0;
        return Number(await db('feed_dead_letters').where({ source }).where('id', '<=', Number(row.id)).delete());
      },

      /** A re-driven dead letter failed again: its new reason, one more attempt, no longer marked. */
      async failedAgain(id: number, reason: string): Promise<void> {
        await db('feed_dead_letters')
          .where({ id })
          .update({ reason: reason.slice(0, 2048), attempts: db.raw('attempts + 1'), replay_requested_at: null });
      },
    },
  };
}

export type FeedStore = ReturnType<typeof createFeedStore>;
