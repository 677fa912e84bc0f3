/**
 * Sends newly opened anomalies to a webhook, off the query path: `notify` only appends to a
 * bounded in-process queue and returns; one worker posts them one by one, each as JSON, and
 * retries with exponential backoff (network error, timeout, 408, 429, 5xx) up to `maxAttempts`.
 * A 4xx other than 408/429 is the receiver refusing: logged, not retried. When the queue is
 * full the oldest waiting anomaly is dropped (and logged), so a storm of anomalies never grows
 * memory or slows a query. Each POST carries `idempotency-key: anomaly-<id>`, so a receiver can
 * ignore a retry of a delivery it already took.
 */
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';
import type { Anomaly } from '../store/index.js';

export interface WebhookOptions {
  url: string;
  timeoutMs: number;
  maxAttempts: number;
  queueSize: number;
  logger: Logger;
  /** First retry delay; doubles per attempt (with ±20% jitter), at most `maxDelayMs`. Defaults to 500. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface WebhookStats {
  sent: number;
  failed: number;
  dropped: number;
  pending: number;
  attempts: number;
}

export type AnomalyWebhook = ReturnType<typeof createAnomalyWebhook>;

export function createAnomalyWebhook(o: WebhookOptions) {
  const base = o.baseDelayMs ?? 500;
  const maxDelay = o.maxDelayMs ?? 30_000;
  const queue: Anomaly[] = [];
  const stats: WebhookStats = { sent: 0, failed: 0, dropped: 0, pending: 0, attempts: 0 };
  let running: Promise<void> | undefined;
  let closed = false;
  let inFlight: AbortController | undefined;
  let wake: (() => void) | undefined;
  const idle = new Set<() => void>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function deliver(a: Anomaly): Promise<void> {
    const body = JSON.stringify({ event: 'anomaly.opened', anomaly: { ...a, firstSeen: a.firstSeen.toISOString(), lastSeen: a.lastSeen.toISOString() } });
    for (let attempt = 1; attempt <= o.maxAttempts && !closed; attempt++) {
      stats.attempts++;
      let retry: boolean;
      let reason: string;
      inFlight = new AbortController();
      const timer = setTimeout(() => inFlight?.abort(), o.timeoutMs);
      try {
        const res = await fetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'inventory-graph', 'idempotency-key': `anomaly-${a.id}` },
          body,
          signal: inFlight.signal,
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          stats.sent++;
          return;
        }
        retry = res.status >= 500 || res.status === 408 || res.status === 429;
        reason = `HTTP ${res.status}`;
      } catch (e) {
        retry = true;
        reason = (e as Error).name === 'AbortError' ? `timed out after ${o.timeoutMs} ms` : ((e as Error).message ?? String(e));
      } finally {
        clearTimeout(timer);
        inFlight = undefined;
      }
      if (!retry || attempt === o.maxAttempts) {
        stats.failed++;
        o.logger.error('anomaly webhook gave up', { anomalyId: a.id, attempts: attempt, reason });
        return;
      }
      o.logger.warn('anomaly webhook attempt failed; retrying', { anomalyId: a.id, attempt, reason });
      const delay = Math.min(maxDelay, base * 2 ** (attempt - 1));
      await sleep(delay * (0.8 + Math.random() * 0.4));
    }
  }

  async function work(): Promise<void> {
    try {
      while (!closed && queue.length > 0) {
        const a = queue.shift() as Anomaly;
        stats.pending = queue.length;
        try {
          await deliver(a);
        } catch (e) {
          o.logger.error('anomaly webhook failed', { anomalyId: a.id, ...errorFields(e) });
        }
      }
    } finally {
      running = undefined;
      stats.pending = queue.length;
      for (const fn of idle) fn();
      idle.clear();
    }
  }

  return {
    /** Queues anomalies for delivery and returns at once (never awaits the network). */
    notify(anomalies: readonly Anomaly[]): void {
      if (closed) return;
      for (const a of anomalies) {
        queue.push(a);
        if (queue.length > o.queueSize) {
          const dropped = queue.shift() as Anomaly;
          stats.dropped++;
          o.logger.warn('anomaly webhook queue full; dropped the oldest', { anomalyId: dropped.id, queueSize: o.queueSize });
        }
      }
      stats.pending = queue.length;
      running ??= work();
    },
    stats: (): WebhookStats => ({ ...stats, pending: queue.length }),
    /** Resolves when everything queued was delivered or given up, or after `deadlineMs`. */
    async drain(deadlineMs: number): Promise<void> {
      if (running === undefined) return;
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => idle.add(r)), new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
    },
    /** Stops: the attempt in flight is aborted, waiting anomalies are dropped. */
    async close(): Promise<void> {
      closed = true;
      inFlight?.abort();
      wake?.();
      await running;
    },
  };
}
