/**
 * The write queue between requests and the anomaly table. A request that finds anomalies only
 * adds them here and goes on answering: it never waits for the store, which may be slow,
 * unreachable or locked by another writer. One background writer drains the queue in the order
 * the anomalies were first seen, a batch at a time, and keeps a batch queued until the store
 * took it.
 *
 * Options:
 * - `size`: distinct anomalies waiting at most. An anomaly already waiting (same dedupe key) is
 *   merged into the waiting one: its `lastSeen` moves, nothing is added. When the queue is full
 *   a new anomaly is dropped: the newest, not the oldest, since the waiting ones were seen first
 *   and keep their order, and an anomaly whose cause persists is offered again by the next read
 *   that meets it. Drops are counted (`stats().dropped.queueFull`) and logged at most once per
 *   10 s, with the number dropped since the previous line.
 * - `write(batch)`: stores a batch, in order. It is an upsert: a batch tried again after a
 *   partial write adds no row twice, at most one occurrence more.
 * - `busy(e)`: whether a failure means the store is locked by another writer. Such a batch is
 *   tried again for as long as the lock lasts. After any other failure a batch has 5 attempts
 *   in all, then it is given up (logged, `dropped.writeFailed`), so a batch the store refuses
 *   cannot hold up the queue for good. Between attempts the writer waits 50 ms, doubling up to
 *   2 s (±20%).
 * - `logger`, `now`: where the lines go, and the clock that spaces them.
 */
import { errorFields, type Logger } from '../logger.js';
import type { NewAnomaly } from './anomaly-store.js';

/** One anomaly waiting to be written: its dedupe key, and when it was first and last seen. */
export interface Sighting {
  key: string;
  anomaly: NewAnomaly;
  firstSeen: Date;
  lastSeen: Date;
}

export interface AnomalyQueueOptions {
  size: number;
  write: (batch: readonly Sighting[]) => Promise<void>;
  busy: (e: unknown) => boolean;
  logger: Logger;
  now?: () => number;
}

export interface AnomalyQueueStats {
  queued: number;
  dropped: { queueFull: number; writeFailed: number };
}

/** Anomalies written per statement (one multi-row insert: see the store's `write`). */
const BATCH = 400;
const MAX_ATTEMPTS = 5;
const BASE_DELAY_MS = 50;
const MAX_DELAY_MS = 2_000;
const LOG_EVERY_MS = 10_000;

/** `true` at most once per `ms`: for log lines that would otherwise come once per event. */
function throttle(ms: number, now: () => number): () => boolean {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const t = now();
    if (t - last < ms) return false;
    last = t;
    return true;
  };
}

export function createAnomalyQueue(o: AnomalyQueueOptions) {
  const now = o.now ?? Date.now;
  const queue = new Map<string, Sighting>();
  const dropped = { queueFull: 0, writeFailed: 0 };
  let droppedSinceLine = 0;
  const logDrop = throttle(LOG_EVERY_MS, now);
  const logRetry = throttle(LOG_EVERY_MS, now);
  let running: Promise<void> | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  const idle = new Set<() => void>();

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  function drop(): void {
    dropped.queueFull++;
    droppedSinceLine++;
    if (!logDrop()) return;
    o.logger.warn('anomaly write queue full; dropped the newest', { queueSize: o.size, dropped: droppedSinceLine });
    droppedSinceLine = 0;
  }

  /** Writes the oldest batch; on failure says how long to wait, or gives the batch up. */
  async function writeOldest(failures: number): Promise<number> {
    const batch: Sighting[] = [];
    for (const s of queue.values()) {
      if (batch.length === BATCH) break;
      batch.push(s);
    }
    try {
      await o.write(batch);
    } catch (e) {
      const busy = o.busy(e);
      if (!busy && failures + 1 >= MAX_ATTEMPTS) {
        for (const s of batch) queue.delete(s.key);
        dropped.writeFailed += batch.length;
        o.logger.error('could not write anomalies; gave them up', { anomalies: batch.length, attempts: failures + 1, ...errorFields(e) });
        return 0;
      }
      if (logRetry()) {
        const fields = { queued: queue.size, attempt: failures + 1 };
        if (busy) o.logger.warn('anomaly store busy (locked by another writer); anomalies wait in the queue', fields);
        else o.logger.error('could not write anomalies; retrying', { ...fields, ...errorFields(e) });
      }
      return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** failures) * (0.8 + Math.random() * 0.4);
    }
    for (const s of batch) queue.delete(s.key);
    return 0;
  }

  async function work(): Promise<void> {
    try {
      let failures = 0;
      while (!closed && queue.size > 0) {
        const wait = await writeOldest(failures);
        failures = wait === 0 ? 0 : failures + 1;
        if (wait > 0 && !closed) await sleep(wait);
      }
    } finally {
      running = undefined;
      wake = undefined;
      for (const fn of idle) fn();
      idle.clear();
    }
  }

  return {
    /** Queues sightings (merging repeats) and returns at once; the writer starts on the next turn. Nothing once closed. */
    add(sightings: readonly Sighting[]): void {
      if (closed) return;
      for (const s of sightings) {
        const waiting = queue.get(s.key);
        if (waiting !== undefined) waiting.lastSeen = s.lastSeen;
        else if (queue.size >= o.size) drop();
        else queue.set(s.key, { ...s });
      }
      if (queue.size > 0) running ??= new Promise<void>((r) => setImmediate(r)).then(work);
    },

    stats: (): AnomalyQueueStats => ({ queued: queue.size, dropped: { ...dropped } }),

    /**
     * Writes what is queued now (a writer waiting to retry tries again at once) and resolves with
     * how many are still waiting: 0 once the queue is empty, more if `deadlineMs` passed first.
     */
    async flush(deadlineMs: number): Promise<number> {
      if (running === undefined) return queue.size;
      wake?.();
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => idle.add(r)), new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
      return queue.size;
    },

    /** Stops the writer (after the batch in flight); what is still queued is logged as lost. */
    async close(): Promise<void> {
      closed = true;
      wake?.();
      await running;
      if (queue.size > 0) o.logger.warn('anomalies not written: the store closed first', { lost: queue.size });
      queue.clear();
    },
  };
}
