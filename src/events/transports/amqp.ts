/**
 * The RabbitMQ transport (`kind: amqp`): publishes events to a durable topic exchange, with
 * publisher confirms.
 *
 * - Set-up, lazily on the first call and again after a connection is lost: a connection (a
 *   heartbeat of 10 s unless the URL sets one, so a silent network is noticed), one confirm
 *   channel on it, and the exchange `exchange` asserted (durable, topic) once per connection.
 * - Each event is one persistent message: its JSON (`eventBody`) as content, routing key
 *   `<type>.<channel>` (`routingKey`), `messageId` the event id (the consumer's dedupe key),
 *   `type`, `contentType: application/json`, `timestamp` (unix seconds of the attempt) and the
 *   header `event-id`. All of a call's events are published one after the other on the channel,
 *   then every confirm is awaited (at most `confirmTimeoutMs`): an ack is delivered, a nack is a
 *   retryable failure ("nacked by the broker").
 * - Retryable, every time: the broker unreachable (answered at once when it refuses the
 *   connection, else after `connectTimeoutMs`), the exchange not assertable, the connection or
 *   channel closing before a confirm (its unconfirmed events; it is dropped and the next call
 *   connects again), no confirm in time (the connection is dropped too: what the broker got of
 *   it is unknown, a retry may duplicate, consumers dedupe by `messageId`), the caller's signal
 *   aborting. Nothing is refused for good: a broker takes any message.
 * - `lanes` is 1: one channel, its confirms in publishing order.
 * - Errors of the connection and channel are handled (logged once per outage, never thrown);
 *   reasons name the broker without its credentials.
 * - `close()` closes channel and connection (a connection being opened too, once it is);
 *   unconfirmed events of a call in flight answer retryable. A second close is the same
 *   promise; a call after it answers retryable failures.
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { EventSinkConfig } from '../../config/index.js';
import { serializeEvent, routingKey } from '../../domain/events.js';
import { errorText, withHeartbeat, within } from '../../feeds/message-feed.js';
import type { Attempt, EventTransport, TransportContext } from './types.js';
import { bounded, failAll, safeUrl } from './common.js';
import { createLinkKeeper } from './link.js';

export type AmqpSinkConfig = Extract<EventSinkConfig, { kind: 'amqp' }>;

/** Timings; the defaults suit production, tests may shorten them. */
export interface AmqpTransportOptions {
  /** How long a connection attempt may take (TCP, AMQP handshake, channel, exchange), in ms. Defaults to 10 000 (as the feed's). */
  connectTimeoutMs?: number;
  /** How long a call waits for its confirms, in ms. Defaults to 10 000. */
  confirmTimeoutMs?: number;
  /** How long `close` waits for the channel and connection to close, in ms. Defaults to 5000. */
  closeTimeoutMs?: number;
}

const DEFAULTS: Required<AmqpTransportOptions> = { connectTimeoutMs: 10_000, confirmTimeoutMs: 10_000, closeTimeoutMs: 5000 };

/** One connection and its confirm channel. */
interface Session {
  conn: ChannelModel;
  ch: ConfirmChannel;
  /** Lost or closed: not published on again. */
  dead: boolean;
  /** Why it was lost. */
  why: string | undefined;
}

export function createAmqpTransport(config: AmqpSinkConfig, ctx: TransportContext, options: AmqpTransportOptions = {}): EventTransport {
  const o = { ...DEFAULTS, ...options };
  const now = ctx.now ?? Date.now;
  const log = ctx.logger;
  const broker = safeUrl(config.url);
  const where = { sink: ctx.name, broker, exchange: config.exchange };
  let closed: Promise<void> | undefined;

  async function open(): Promise<Session> {
    const conn = await connect(withHeartbeat(config.url), { timeout: o.connectTimeoutMs });
    let lastError: Error | undefined;
    const s: Session = { conn, ch: undefined as unknown as ConfirmChannel, dead: false, why: undefined };
    const lost = (e: unknown) => links.lost(s, e, 'lost its broker; the next call connects again');
    // an 'error' without a listener would crash the process; the 'close' that follows reports it
    conn.on('error', (e: Error) => (lastError = e));
    conn.on('close', (e?: Error) => lost(e ?? lastError ?? new Error('the connection closed')));
    conn.on('blocked', (reason: string) => log.warn('events amqp transport: the broker blocks publishing', { ...where, reason }));
    try {
      const ch = await conn.createConfirmChannel();
      let lastChannelError: Error | undefined;
      ch.on('error', (e: Error) => (lastChannelError = e));
      ch.on('close', () => lost(lastChannelError ?? new Error('the channel closed')));
      s.ch = ch;
      await ch.assertExchange(config.exchange, 'topic', { durable: true });
      return s;
    } catch (e) {
      links.drop(s, e);
      throw e;
    }
  }

  const links = createLinkKeeper<Session>({
    open,
    release: (s) => void s.conn.close().catch(() => undefined),
    what: 'events amqp transport',
    unreachable: `cannot reach the broker ${broker}`,
    where,
    logger: log,
  });

  return {
    kind: 'amqp',
    name: ctx.name,
    lanes: 1,
    async deliver(events, signal, trace) {
      if (events.length === 0) return [];
      const s = await links.forCall(signal, o.connectTimeoutMs);
      if (typeof s === 'string') return failAll(events.length, s);
      const timestamp = Math.floor(now() / 1000);
      // per event: null confirmed, an Error nacked or lost, undefined not answered (yet)
      const answers: (Error | null | undefined)[] = events.map(() => undefined);
      const confirms = events.map(
        (e, i) =>
          new Promise<void>((resolve) => {
            const settle = (err: unknown) => {
              answers[i] ??= err === null || err === undefined ? null : err instanceof Error ? err : new Error(String(err));
              resolve();
            };
            try {
              // false: amqplib buffers it (nothing is lost); a batch is bounded by the sink's batchSize
              s.ch.publish(
                config.exchange,
                routingKey(e),
                Buffer.from(serializeEvent(e)),
                { persistent: true, contentType: 'application/json', messageId: e.id, type: e.type, timestamp, headers: { 'event-id': e.id, ...trace?.[i] } },
                settle,
              );
            } catch (err) {
              settle(err ?? new Error('publish failed'));
            }
          }),
      );
      let cut: string | undefined;
      try {
        await bounded(Promise.all(confirms), o.confirmTimeoutMs, signal, 'waiting for the confirms');
      } catch (e) {
        cut = errorText(e);
        // no confirm in time: what the broker holds is unknown; start over with a new connection
        if (!signal.aborted) links.lost(s, e, 'lost its broker; the next call connects again');
      }
      return answers.map((a): Attempt => {
        if (a === null) return { ok: true };
        if (a === undefined) return { ok: false, retry: true, reason: cut ?? 'not confirmed' };
        if (a.message === 'message nacked') return { ok: false, retry: true, reason: 'nacked by the broker' };
        return { ok: false, retry: true, reason: `the connection to ${broker} closed before the broker confirmed: ${s.why ?? errorText(a)}` };
      });
    },
    close() {
      closed ??= (async () => {
        const s = await links.close(o.closeTimeoutMs);
        if (s === undefined) return;
        await within(s.ch.close(), o.closeTimeoutMs);
        await within(s.conn.close(), o.closeTimeoutMs);
      })();
      return closed;
    },
  };
}
