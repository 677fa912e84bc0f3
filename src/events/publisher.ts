/**
 * The publisher: takes each sink's pending deliveries from the outbox (src/store/event-store.ts)
 * and hands them to the sink's transport (src/events/transports/), for as long as the gateway runs.
 *
 * - At least once: a delivery row is deleted only after the transport said the receiver took the
 *   event (a 2xx, a broker confirm, a JetStream PubAck). A crash in between sends it again, with
 *   the same `id`: the receiver's dedupe key.
 * - In order per SKU: a batch is read in outbox order and split into the transport's lanes by
 *   ordering key (the SKU; a reservation's or anomaly's id), one lane's events sent one after the
 *   other; when one fails, the rest of its lane is not tried, so a later event of the same SKU
 *   never overtakes an earlier one.
 * - Backoff: a failure worth retrying (receiver down, timeout, 5xx, 429) pauses the whole sink,
 *   exponentially from `baseDelayMs` to `maxDelayMs` with jitter, or as long as Retry-After
 *   asks; only the event that failed counts the attempt, so a receiver down for an hour costs its
 *   head event a dozen attempts and the rest none. A receiver that refuses one event (another
 *   4xx) makes it a dead letter at once and the sink goes on.
 * - Dead letters: after `maxAttempts` the delivery stays in the store as `dead`, counted on
 *   /status and /metrics, listed by `inventory-graph events list --dead`, made pending again by
 *   `events replay` (then sent before newer events).
 * - New events wake the sink at once (same process); otherwise the outbox is read every `pollMs`
 *   (events written by another process, a replay from the CLI).
 * - Delivered events are pruned from the outbox after `keepSeconds` (every 10 minutes).
 */
import type { EventSinkConfig } from '../config/index.js';
import { backoffMs } from '../domain/events.js';
import { errorFields, type Logger } from '../logger.js';
import type { Delivery, Store } from '../store/index.js';
import type { Attempt, EventTransport } from './transports/types.js';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { failSpan, SpanKind, startSpan, traceHeaders, tracing, type Span } from '../tracing.js';

export interface PublisherSink {
  name: string;
  transport: EventTransport;
  policy: Pick<EventSinkConfig, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'batchSize'>;
}

export interface PublisherOptions {
  store: Store;
  sinks: readonly PublisherSink[];
  logger: Logger;
  /** How often the outbox is read when nothing woke a sink, in ms. Defaults to 1000. */
  pollMs?: number;
  /** How long delivered events are kept, in seconds. */
  keepSeconds: number;
  random?: () => number;
  /** The clock backoff is measured on (epoch ms): the runtime's, so tests can move it. Defaults to Date.now. */
  now?: () => number;
  /**
   * The fleet's one publisher (src/service/leases.ts): without the lease this instance sends
   * nothing (another one does), so an event is not delivered once per instance. Unset: always.
   */
  lease?: { held(): boolean };
}

export interface SinkStats {
  name: string;
  kind: EventSinkConfig['kind'];
  /** Events the receiver took since start. */
  delivered: number;
  /** Attempts that failed since start. */
  failedAttempts: number;
  /** Events that became dead letters since start. */
  deadLettered: number;
  /** Until when the sink waits before trying again (after a failure), or null. */
  pausedUntil: Date | null;
  lastError: string | null;
  lastDeliveredAt: Date | null;
  /** Why the sink stopped for good (a webhook's 410 Gone), or null: its events wait in the outbox until a restart. */
  stopped: string | null;
}

/** How often a failing sink logs its failure, at most, in ms. */
const LOG_EVERY_MS = 10_000;
const PRUNE_EVERY_MS = 600_000;

/** A stable small hash of an ordering key, for its lane. */
function laneOf(key: string, lanes: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % lanes;
}

/** An event's delivery span: the destination kind and sink, the event's type and id, its attempt. */
function deliverySpan(sink: PublisherSink, d: Delivery): Span {
  return startSpan(
    `deliver ${d.event.type}`,
    {
      'inventory.sink': sink.name,
      'inventory.destination.kind': sink.transport.kind,
      'inventory.event.type': d.event.type,
      'inventory.event.id': d.event.id,
      'inventory.event.attempt': d.attempts + 1,
    },
    SpanKind.PRODUCER,
    ROOT_CONTEXT,
  );
}

/** outcome: delivered, failed (tried again later), refused (the receiver will not take it: a dead letter), skipped (an earlier event of its SKU failed). */
function endDeliverySpan(span: Span, a: Attempt): void {
  const outcome = a.ok ? 'delivered' : 'skipped' in a ? 'skipped' : a.retry ? 'failed' : 'refused';
  span.setAttribute('inventory.outcome', outcome);
  if (!a.ok && !('skipped' in a)) failSpan(span, undefined, a.reason);
  span.end();
}

export function createPublisher(o: PublisherOptions) {
  const pollMs = o.pollMs ?? 1000;
  const random = o.random ?? Math.random;
  const now = o.now ?? Date.now;
  const abort = new AbortController();
  let closed = false;
  const loops: Promise<void>[] = [];
  const timers: NodeJS.Timeout[] = [];

  interface State {
    sink: PublisherSink;
    stats: SinkStats;
    pausedUntil: number;
    woken: boolean;
    wake: (() => void) | undefined;
    lastLog: number;
    idle: Set<() => void>;
  }
  const states: State[] = o.sinks.map((sink) => ({
    sink,
    stats: {
      name: sink.name,
      kind: sink.transport.kind,
      delivered: 0,
      failedAttempts: 0,
      deadLettered: 0,
      pausedUntil: null,
      lastError: null,
      lastDeliveredAt: null,
      stopped: null,
    },
    pausedUntil: 0,
    woken: false,
    wake: undefined,
    lastLog: Number.NEGATIVE_INFINITY,
    idle: new Set(),
  }));

  /** Waits `ms`, or until woken (when `wakeable`), or until closed. */
  function wait(s: State, ms: number, wakeable: boolean): Promise<void> {
    if (wakeable && s.woken) {
      s.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        s.wake = undefined;
        abort.signal.removeEventListener('abort', done);
        resolve();
      }
      if (wakeable) s.wake = done;
      abort.signal.addEventListener('abort', done);
    });
  }

  function logFailure(s: State, fields: Record<string, unknown>): void {
    const t = Date.now();
    if (t - s.lastLog < LOG_EVERY_MS) return;
    s.lastLog = t;
    o.logger.warn('events sink failing; retrying with backoff', { sink: s.sink.name, ...fields });
  }

  /** One batch: lanes by ordering key, sent, and the outcome written back. */
  async function round(s: State, batch: readonly Delivery[]): Promise<void> {
    const { transport, policy } = s.sink;
    const lanes: Delivery[][] = Array.from({ length: Math.max(1, transport.lanes) }, () => []);
    for (const d of batch) (lanes[laneOf(d.event.orderingKey, lanes.length)] as Delivery[]).push(d);
    const attempts = new Map<number, Attempt>();
    await Promise.all(
      lanes
        .filter((l) => l.length > 0)
        .map(async (lane) => {
          // telemetry.tracing: one span per event delivered, its traceparent sent with the event
          const spans = tracing.enabled ? lane.map((d) => deliverySpan(s.sink, d)) : undefined;
          let got: Attempt[];
          try {
            got = await transport.deliver(
              lane.map((d) => d.event),
              abort.signal,
              spans?.map(traceHeaders),
            );
          } catch (e) {
            got = lane.map((): Attempt => ({ ok: false, retry: true, reason: (e as Error).message ?? String(e) }));
          }
          lane.forEach((d, i) => attempts.set(d.event.seq, got[i] ?? { ok: false, skipped: true }));
          spans?.forEach((span, i) => endDeliverySpan(span, got[i] ?? { ok: false, skipped: true }));
        }),
    );
    const delivered = batch.filter((d) => attempts.get(d.event.seq)?.ok === true).map((d) => d.event.seq);
    if (delivered.length > 0) {
      await o.store.events.delivered(s.sink.name, delivered);
      s.stats.delivered += delivered.length;
      s.stats.lastDeliveredAt = new Date(now());
    }
    let pause = 0;
    for (const d of batch) {
      const a = attempts.get(d.event.seq);
      if (a === undefined || a.ok || 'skipped' in a) continue;
      if (closed && a.retry) continue; // cut short by shutdown: not the receiver's failure
      if (a.gone === true) {
        // not this event's fault: it stays pending, with every other, for when the receiver is back
        s.stats.stopped = a.reason;
        s.stats.lastError = a.reason;
        o.logger.error('events sink stopped: the receiver is gone; its events wait in the outbox until the gateway restarts', {
          sink: s.sink.name,
          reason: a.reason,
        });
        return;
      }
      const n = d.attempts + 1;
      const dead = !a.retry || n >= policy.maxAttempts;
      await o.store.events.failed(s.sink.name, d.event.seq, a.reason, dead);
      s.stats.failedAttempts++;
      s.stats.lastError = a.reason;
      if (dead) {
        s.stats.deadLettered++;
        o.logger.error('event dead-lettered', { sink: s.sink.name, eventId: d.event.id, type: d.event.type, attempts: n, reason: a.reason });
      } else {
        pause = Math.max(pause, a.retryAfterMs ?? backoffMs(n, policy.baseDelayMs, policy.maxDelayMs, random));
        logFailure(s, { eventId: d.event.id, attempt: n, of: policy.maxAttempts, reason: a.reason, retryInMs: pause });
      }
    }
    if (pause > 0) {
      s.pausedUntil = now() + pause;
      s.stats.pausedUntil = new Date(s.pausedUntil);
    } else {
      s.stats.pausedUntil = null;
      if (delivered.length > 0) s.stats.lastError = null;
    }
  }

  const mine = () => o.lease === undefined || o.lease.held();

  async function loop(s: State): Promise<void> {
    while (!closed && s.stats.stopped === null) {
      if (!mine()) {
        // another instance publishes; this one looks again every pollMs (it takes over when that one stops)
        await wait(s, pollMs, false);
        continue;
      }
      const paused = s.pausedUntil - now();
      if (paused > 0) {
        // the clock is looked at again at least every pollMs (a test's clock may jump)
        await wait(s, Math.min(paused, pollMs), false);
        continue;
      }
      let batch: Delivery[];
      try {
        batch = await o.store.events.pending(s.sink.name, s.sink.policy.batchSize);
      } catch (e) {
        logFailure(s, { reason: 'could not read the outbox', ...errorFields(e) });
        await wait(s, pollMs, false);
        continue;
      }
      if (batch.length === 0) {
        for (const fn of s.idle) fn();
        s.idle.clear();
        await wait(s, pollMs, true);
        continue;
      }
      // the lease lost while reading: the batch is the new holder's
      if (!mine()) continue;
      try {
        await round(s, batch);
      } catch (e) {
        // the store failed while writing outcomes back: what was delivered is sent again (same ids)
        logFailure(s, { reason: 'could not record deliveries', ...errorFields(e) });
        await wait(s, pollMs, false);
      }
    }
  }

  function wakeAll(): void {
    for (const s of states) {
      s.woken = true;
      s.wake?.();
    }
  }

  async function prune(): Promise<void> {
    try {
      let n = 0;
      for (let got = -1; got !== 0 && !closed;) {
        got = await o.store.events.prune(now() - o.keepSeconds * 1000, 5000);
        n += got;
      }
      if (n > 0) o.logger.info('delivered events pruned from the outbox', { events: n });
    } catch (e) {
      o.logger.warn('could not prune the outbox', errorFields(e));
    }
  }

  return {
    /** Starts one loop per sink; new events in this process wake them at once. */
    start(): void {
      o.store.events.onAppended(wakeAll);
      for (const s of states) loops.push(loop(s));
      const t = setInterval(() => void prune(), PRUNE_EVERY_MS);
      t.unref();
      timers.push(t);
    },

    /** Reads the outbox now (a replay from this process). */
    kick: wakeAll,

    stats: (): SinkStats[] => states.map((s) => ({ ...s.stats })),

    /** Resolves once every sink found nothing pending (or is paused after a failure), or after `deadlineMs`. */
    async drain(deadlineMs: number): Promise<void> {
      let t: NodeJS.Timeout | undefined;
      const each = states
        .filter((s) => s.stats.stopped === null)
        .map(
          (s) =>
            new Promise<void>((resolve) => {
              s.idle.add(resolve);
              s.woken = true;
              s.wake?.();
            }),
        );
      await Promise.race([Promise.all(each), new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
    },

    /** Stops: deliveries in flight are aborted (and sent again by the next start), transports closed. */
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      abort.abort();
      await Promise.all(loops);
      await Promise.all(
        states.map((s) =>
          s.sink.transport.close().catch((e: unknown) => o.logger.warn('events sink did not close cleanly', { sink: s.sink.name, ...errorFields(e) })),
        ),
      );
    },
  };
}

export type Publisher = ReturnType<typeof createPublisher>;
