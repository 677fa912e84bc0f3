/**
 * The RabbitMQ feed (`kind: amqp`): consumes a durable queue and hands what arrives to the
 * mirror's sink (src/feeds/types.ts).
 *
 * - Set-up: the queue is declared durable when missing (an existing queue is used as it is, its
 *   arguments untouched: quorum, dead-lettering, limits are the operator's); with `exchange`, a
 *   durable topic exchange is declared and the queue bound to it with `routingKey`. `prefetch`
 *   bounds what the broker sends ahead of acknowledgements.
 * - Acknowledged only when durable: messages are gathered into batches (what arrives within a
 *   few ms, up to `prefetch`), one batch at a time, and acknowledged (`allUpTo` the batch's last)
 *   only after `sink.receive` resolves. When it rejects (the store is down) the batch is given
 *   back (nack, requeue) after a short pause, so a down store does not spin. A message received
 *   but not acknowledged when the channel dies is delivered again by the broker (to this feed once
 *   it is back, or another consumer); the sink drops the duplicate by its id.
 * - Reconnects: a lost connection or channel (broker restart, network cut, queue deleted) is
 *   logged once per outage; the feed reconnects with exponential backoff and jitter (250 ms
 *   doubling to 10 s) for as long as it lives. `start()` never rejects; `stats().connected` is
 *   false and `lastError` says why until it is back. A heartbeat (10 s unless the URL sets one)
 *   notices a silent network.
 * - `heardAt` is when the feed was last known caught up: every second while connected, and after
 *   each batch, the queue is checked; when it holds no ready message, everything delivered
 *   before the check's answer still has to be acknowledged, and then `heardAt` is the time of
 *   the check. Disconnected, it stays where it was, so the lag grows.
 * - `close()` cancels the consumer, waits (bounded) for the batch in flight to be received and
 *   acknowledged, and closes channel and connection; what it held unacknowledged goes back to
 *   the queue. A second close is the same promise.
 */
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { FeedConfig } from '../config/index.js';
import { errorFields } from '../logger.js';
import { Batcher, DEFAULT_BACKOFF, backoffMs, errorText, pause, withHeartbeat, within, type BackoffOptions } from './message-feed.js';
import { countOutcomes, type Delivery, type Feed, type FeedContext, type FeedStats } from './types.js';

export type AmqpFeedConfig = Extract<FeedConfig, { kind: 'amqp' }>;

/** Timings; the defaults suit production, tests shorten some. */
export interface AmqpFeedOptions {
  backoff?: BackoffOptions;
  /** How often the queue is checked for `heardAt`, in ms. Defaults to 1000. */
  checkEveryMs?: number;
  /** The pause after the sink rejects before the batch is given back, in ms. Defaults to 1000. */
  retryPauseMs?: number;
  /** How long `close` waits for the batch in flight, in ms. Defaults to 10 000. */
  closeTimeoutMs?: number;
  /** How long a connection attempt may take (TCP and AMQP handshake), in ms. Defaults to 10 000. */
  connectTimeoutMs?: number;
}

const DEFAULTS: Required<AmqpFeedOptions> = {
  backoff: DEFAULT_BACKOFF,
  checkEveryMs: 1000,
  retryPauseMs: 1000,
  closeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
};

/** One connection and its consuming channel. Delivery tags count per channel. */
interface Session {
  conn: ChannelModel;
  ch: Channel | undefined;
  consumerTag: string | undefined;
  /** Lost or closed: nothing more is acknowledged on it (the broker gives its messages back). */
  dead: boolean;
  /** The last delivery tag received, and the last acknowledged or given back. */
  deliveredTag: number;
  settledTag: number;
  /** A check found the queue empty at `at`: caught up once everything delivered up to `tag` is settled. */
  caughtUp: { at: Date; tag: number } | undefined;
  checking: boolean;
}

interface Held {
  session: Session;
  msg: ConsumeMessage;
}

export function createAmqpFeed(config: AmqpFeedConfig, ctx: FeedContext, options: AmqpFeedOptions = {}): Feed {
  const o = { ...DEFAULTS, ...options };
  const now = ctx.now ?? Date.now;
  const name = `${ctx.source}/amqp`;
  const log = ctx.logger;
  const stats: FeedStats = { name, kind: 'amqp', connected: false, heardAt: null, applied: 0, duplicates: 0, deadLetters: 0, lastError: null };
  // the connection's trouble outranks the sink's in `lastError`
  let connError: string | null = null;
  let sinkError: string | null = null;
  let session: Session | undefined;
  let connecting: Promise<void> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the last success: the backoff's exponent. */
  let failures = 0;
  /** An outage was logged (once; the attempts that follow log at debug). */
  let down = false;
  let started = false;
  let closed: Promise<void> | undefined;
  const stopping = new AbortController();
  const batcher = new Batcher<Held>(deliver, config.prefetch);

  function setErrors(): void {
    stats.lastError = connError ?? sinkError;
  }

  async function open(): Promise<Session> {
    const conn = await connect(withHeartbeat(config.url), { timeout: o.connectTimeoutMs });
    const s: Session = { conn, ch: undefined, consumerTag: undefined, dead: false, deliveredTag: 0, settledTag: 0, caughtUp: undefined, checking: false };
    let lastConnError: Error | undefined;
    // an 'error' without a listener would crash the process; the 'close' that follows reports it
    conn.on('error', (e: Error) => (lastConnError = e));
    conn.on('close', (e?: Error) => lost(s, e ?? lastConnError ?? new Error('the connection closed')));
    try {
      await declare(conn);
      const ch = await conn.createChannel();
      s.ch = ch;
      let lastChannelError: Error | undefined;
      ch.on('error', (e: Error) => (lastChannelError = e));
      ch.on('close', () => lost(s, lastChannelError ?? new Error('the channel closed')));
      await ch.prefetch(config.prefetch);
      const { consumerTag } = await ch.consume(config.queue, (msg) => onMessage(s, msg), { noAck: false });
      s.consumerTag = consumerTag;
      return s;
    } catch (e) {
      dispose(s);
      throw e;
    }
  }

  /** The queue when missing (on a channel of its own: a check of a missing queue closes its channel), the exchange and binding when set. */
  async function declare(conn: ChannelModel): Promise<void> {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    let exists = true;
    try {
      await ch.checkQueue(config.queue);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      exists = false;
    }
    const decl = exists ? ch : await conn.createChannel();
    decl.on('error', () => undefined);
    try {
      if (!exists) await decl.assertQueue(config.queue, { durable: true });
      if (config.exchange !== undefined) {
        await decl.assertExchange(config.exchange, 'topic', { durable: true });
        await decl.bindQueue(config.queue, config.exchange, config.routingKey);
      }
    } finally {
      await decl.close().catch(() => undefined);
      if (decl !== ch) await ch.close().catch(() => undefined);
    }
  }

  /** One connection attempt; its failure schedules the next. Never rejects. */
  function attempt(): Promise<void> {
    connecting ??= open().then(
      (s) => {
        connecting = undefined;
        up(s);
      },
      (e: unknown) => {
        connecting = undefined;
        connError = `cannot connect to the broker: ${errorText(e)}`;
        setErrors();
        report('amqp feed cannot connect; retrying', e);
        scheduleReconnect();
      },
    );
    return connecting;
  }

  function up(s: Session): void {
    if (stopping.signal.aborted || s.dead) {
      dispose(s);
      if (!stopping.signal.aborted) scheduleReconnect();
      return;
    }
    session = s;
    failures = 0;
    connError = null;
    setErrors();
    stats.connected = true;
    if (down) log.info('amqp feed reconnected', { feed: name, queue: config.queue });
    down = false;
    void check(s);
  }

  /** The connection or channel of `s` is gone: give up its messages and reconnect. */
  function lost(s: Session, e: Error): void {
    if (s.dead) return;
    dispose(s);
    if (session !== s) return;
    session = undefined;
    stats.connected = false;
    batcher.discard((h) => h.session === s);
    if (stopping.signal.aborted) return;
    connError = `lost the broker: ${errorText(e)}`;
    setErrors();
    report('amqp feed lost its broker; reconnecting', e);
    scheduleReconnect();
  }

  function dispose(s: Session): void {
    s.dead = true;
    s.conn.close().catch(() => undefined);
  }

  /** Warns once per outage; the attempts that follow are debug lines. */
  function report(msg: string, e: unknown): void {
    const fields = { feed: name, queue: config.queue, ...errorFields(e) };
    if (down) log.debug(msg, fields);
    else log.warn(msg, fields);
    down = true;
  }

  function scheduleReconnect(): void {
    // (no session is lost while connecting: there is none until the attempt succeeds)
    if (stopping.signal.aborted || reconnectTimer !== undefined) return;
    const delay = backoffMs(failures++, o.backoff);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void attempt();
    }, delay);
  }

  function onMessage(s: Session, msg: ConsumeMessage | null): void {
    // null: the broker cancelled the consumer (the queue was deleted); start over, which declares it again
    if (msg === null) return lost(s, new Error('the broker cancelled the consumer (queue deleted?)'));
    if (s.dead || stopping.signal.aborted) return;
    s.deliveredTag = msg.fields.deliveryTag;
    batcher.push({ session: s, msg });
  }

  /** One batch: to the sink, then acknowledged, or given back when the sink rejects. */
  async function deliver(batch: Held[]): Promise<void> {
    // a dead session's messages were taken out of the batcher when it died: one session here
    const live = batch.filter((h) => !h.session.dead);
    const first = live[0];
    const last = live[live.length - 1];
    if (first === undefined || last === undefined) return;
    const s = first.session;
    try {
      const outcomes = await ctx.sink.receive(name, live.map(toDelivery));
      countOutcomes(stats, outcomes);
      sinkError = null;
      setErrors();
      settle(s, last.msg, 'ack');
      void check(s);
    } catch (e) {
      sinkError = `the sink could not take ${live.length} message(s); given back to the queue: ${errorText(e)}`;
      setErrors();
      log.warn('amqp feed: the sink rejected a batch; giving it back', { feed: name, messages: live.length, ...errorFields(e) });
      await pause(o.retryPauseMs, stopping.signal);
      settle(s, last.msg, 'nack');
    }
  }

  /** Acknowledges (or gives back, requeued) everything up to `last` on its own channel; nothing when that channel is gone. */
  function settle(s: Session, last: ConsumeMessage, how: 'ack' | 'nack'): void {
    if (s.dead || s.ch === undefined) return;
    try {
      if (how === 'ack') s.ch.ack(last, true);
      else s.ch.nack(last, true, true);
    } catch {
      return; // the channel closed meanwhile: its 'close' reports it, the broker redelivers
    }
    s.settledTag = last.fields.deliveryTag;
    if (how === 'nack') s.caughtUp = undefined;
    else if (s.caughtUp !== undefined && s.settledTag >= s.caughtUp.tag) {
      heard(s.caughtUp.at);
      s.caughtUp = undefined;
    }
  }

  /** Asks how many messages are ready; none: caught up as of the question, once what was delivered before is settled. */
  async function check(s: Session): Promise<void> {
    if (s.dead || s.checking || s.ch === undefined) return;
    s.checking = true;
    const at = new Date(now());
    try {
      const { messageCount } = await s.ch.checkQueue(config.queue);
      if (s.dead || messageCount > 0) return;
      if (s.settledTag >= s.deliveredTag) heard(at);
      else s.caughtUp ??= { at, tag: s.deliveredTag };
    } catch {
      // the channel is closing: its 'close' reports it
    } finally {
      s.checking = false;
    }
  }

  function heard(at: Date): void {
    if (stats.heardAt === null || at > stats.heardAt) stats.heardAt = at;
  }

  async function shutdown(): Promise<void> {
    stopping.abort();
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
    if (checkTimer !== undefined) clearInterval(checkTimer);
    if (connecting !== undefined) await within(connecting, o.closeTimeoutMs);
    const s = session;
    session = undefined;
    if (s !== undefined && s.ch !== undefined && s.consumerTag !== undefined) await within(s.ch.cancel(s.consumerTag), o.closeTimeoutMs);
    batcher.discard();
    await within(batcher.settled(), o.closeTimeoutMs);
    stats.connected = false;
    if (s !== undefined) {
      s.dead = true;
      // the channel first: amqplib writes a connection's Close ahead of frames still queued on its
      // channels, so a last ack could be dropped; the channel's CloseOk comes after the broker took it
      if (s.ch !== undefined) await within(s.ch.close(), o.closeTimeoutMs);
      await within(s.conn.close(), o.closeTimeoutMs);
    }
  }

  return {
    name,
    kind: 'amqp',
    async start() {
      if (started || stopping.signal.aborted) return;
      started = true;
      checkTimer = setInterval(() => {
        if (session !== undefined) void check(session);
      }, o.checkEveryMs);
      checkTimer.unref();
      await attempt();
    },
    stats: () => ({ ...stats }),
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}

function toDelivery(h: Held): Delivery {
  const id: unknown = h.msg.properties.messageId;
  const d: Delivery = { body: h.msg.content.toString('utf8') };
  if (typeof id === 'string' && id !== '') d.transportId = id;
  return d;
}

/** A 404 NOT_FOUND channel close (a checked queue that does not exist). */
function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && 'code' in e && e.code === 404;
}
