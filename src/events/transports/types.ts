/**
 * An events transport: how one kind of sink (webhook, amqp, nats) hands events to its receiver.
 * The publisher (src/events/publisher.ts) owns everything else: what is pending, the order per
 * SKU, retries with backoff, dead letters. A transport only tries, once, and says how it went.
 *
 * Each kind is registered in ./registry.ts by its `kind`, the factory ending in `satisfies
 * TransportFactory<'kind'>`; one contract suite (test/events/transports.test.ts) runs over all.
 */
import type { EventSinkConfig } from '../../config/index.js';
import type { StoredEvent } from '../../domain/events.js';
import type { Logger } from '../../logger.js';

/** How one attempt at one event went. */
export type Attempt =
  | { ok: true }
  /**
   * `retry`: worth trying again (network, timeout, 5xx, 408, 429, a broker nack or a closed
   * connection); false: the receiver refused this event (another 4xx), it becomes a dead letter
   * at once. `retryAfterMs`: the receiver asked to wait this long (Retry-After). `gone`: the
   * receiver says it will never take events again (a webhook's 410 Gone, as Standard Webhooks
   * defines it): the publisher stops sending to this sink, and its events wait in the outbox.
   */
  | { ok: false; retry: boolean; reason: string; retryAfterMs?: number; gone?: boolean }
  /** Not tried, because an earlier event of this call failed (order per SKU is kept). */
  | { ok: false; skipped: true };

export interface EventTransport {
  readonly kind: EventSinkConfig['kind'];
  /** The sink's name (config key), for logs. */
  readonly name: string;
  /**
   * How many `deliver` calls the publisher may run at once, each with other SKUs' events
   * (webhook: its `concurrency`; brokers: 1, they pipeline within one call).
   */
  readonly lanes: number;
  /**
   * Tries each event once, in the order given, and answers one Attempt per event in that order.
   * Webhook: one POST after the other, stopping at the first failure (the rest `skipped`).
   * Brokers: published one after the other on one channel, then every confirm (PubAck) awaited.
   * Never throws: a failure is an Attempt. Aborting `signal` (shutdown) ends the call quickly,
   * the events not confirmed answered as failed with `retry: true`.
   * `trace`: per event, the `traceparent` (and `tracestate`) of its delivery span, when tracing is
   * on (telemetry.tracing): sent as HTTP headers of the POST, AMQP message headers, NATS headers.
   */
  deliver(events: readonly StoredEvent[], signal: AbortSignal, trace?: readonly Readonly<Record<string, string>>[]): Promise<Attempt[]>;
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}

export interface TransportContext {
  name: string;
  logger: Logger;
  /** The clock for `webhook-timestamp` (epoch ms). Defaults to Date.now. */
  now?: () => number;
}

export type TransportFactory<K extends EventSinkConfig['kind']> = (config: Extract<EventSinkConfig, { kind: K }>, ctx: TransportContext) => EventTransport;
