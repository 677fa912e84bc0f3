/**
 * The NATS JetStream feed (`kind: nats`): a durable pull consumer on a stream; what it fetches
 * goes to the mirror's sink (src/feeds/types.ts).
 *
 * - Set-up: the stream is created over `[subject]` when missing (JetStream's defaults: file
 *   storage, limits retention, no limits). A stream that exists is never altered: when its
 *   subjects do not take `subject`, the feed logs an error, says so in `lastError` and keeps
 *   checking (backoff) until someone fixes the stream or the config. The durable consumer is
 *   created when missing: pull, explicit ack, ack wait 30 s, unlimited redelivery, filtered on
 *   `subject`; one that exists with another filter or ack policy is an error the same way.
 * - Acknowledged only when durable: up to `batch` messages are fetched at a time; what arrives
 *   within a few ms goes to `sink.receive` as one batch, and each message is acked only after it
 *   resolves. When it rejects, each is nak'd with a delay (redelivered then) and the feed pauses.
 *   A message received but never acked (the feed closed before its batch was through, the
 *   process died, the connection dropped it on the way) is redelivered after the ack wait.
 *   Duplicates are the sink's to drop (by the change id).
 * - Reconnects: the client reconnects by itself, forever (`maxReconnectAttempts: -1`); pings
 *   every 10 s notice a silent network. Meanwhile `connected` is false and `lastError` says so,
 *   once logged; the fetch loop survives (a failed fetch is retried after a pause, the consumer
 *   re-created if it was deleted). A first connection that fails, or a connection the client
 *   gives up on, is retried with exponential backoff and jitter (250 ms doubling to 10 s).
 *   `start()` never rejects.
 * - `heardAt` is when the feed was last known caught up: at most every second the consumer's
 *   info is read; with nothing pending in the stream, the time of that read becomes `heardAt` as
 *   soon as everything delivered by then is acked (num_ack_pending 0, or the ack floor past it).
 *   Disconnected, the read fails and `heardAt` stays where it was, so the lag grows.
 * - `close()` stops fetching, waits (bounded) for the batch in flight to be received and acked,
 *   flushes and closes the connection; what it held unacked comes back after the ack wait. A
 *   second close is the same promise.
 */
import {
  AckPolicy,
  DeliverPolicy,
  Events,
  NatsError,
  connect,
  nanos,
  type Consumer,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamInfo,
} from 'nats';
import type { FeedConfig } from '../config/index.js';
import { errorFields } from '../logger.js';
import { Batcher, DEFAULT_BACKOFF, backoffMs, errorText, pause, within, type BackoffOptions } from './message-feed.js';
import { countOutcomes, type Delivery, type Feed, type FeedContext, type FeedStats } from './types.js';

export type NatsFeedConfig = Extract<FeedConfig, { kind: 'nats' }>;

/** Timings; the defaults suit production, tests shorten some. */
export interface NatsFeedOptions {
  backoff?: BackoffOptions;
  /** How often the consumer's info is read for `heardAt`, in ms. Defaults to 1000. */
  checkEveryMs?: number;
  /** When the sink rejects: the nak delay (redelivery after it), and the feed's own pause, in ms. Default 1000 each. */
  nakDelayMs?: number;
  retryPauseMs?: number;
  /** How long `close` waits for the batch in flight, in ms. Defaults to 10 000. */
  closeTimeoutMs?: number;
  /** How long a connection attempt may take, in ms. Defaults to 10 000. */
  connectTimeoutMs?: number;
  /** How long one fetch waits for messages, in ms (at least 1000). Defaults to 5000. */
  fetchExpiresMs?: number;
  /** The ack wait of a consumer the feed creates, in ms. Defaults to `ACK_WAIT_MS`. */
  ackWaitMs?: number;
}

/** The consumer's ack wait, in ms: a message not acked by then is delivered again. */
export const ACK_WAIT_MS = 30_000;

const DEFAULTS: Required<NatsFeedOptions> = {
  backoff: DEFAULT_BACKOFF,
  checkEveryMs: 1000,
  nakDelayMs: 1000,
  retryPauseMs: 1000,
  closeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  fetchExpiresMs: 5000,
  ackWaitMs: ACK_WAIT_MS,
};

/** JetStream API error codes. */
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_NOT_FOUND = 10014;

/** A stream or consumer that exists but does not fit the config: not altered, reported. */
class SetupError extends Error {}

/** One connection (which the client itself reconnects) and the consumer fetched from over it. */
interface Link {
  nc: NatsConnection;
  jsm: JetStreamManager;
  consumer: Consumer;
  /** Closed: nothing more is acked over it. */
  dead: boolean;
  fetch: ConsumerMessages | undefined;
  /** A read found nothing pending at `at`: caught up once everything delivered up to stream `seq` is acked. */
  caughtUp: { at: Date; seq: number } | undefined;
  checking: boolean;
}

interface Held {
  link: Link;
  m: JsMsg;
}

export function createNatsFeed(config: NatsFeedConfig, ctx: FeedContext, options: NatsFeedOptions = {}): Feed {
  const o = { ...DEFAULTS, ...options };
  const now = ctx.now ?? Date.now;
  const name = `${ctx.source}/nats`;
  const log = ctx.logger;
  const where = { feed: name, stream: config.stream, durable: config.durable };
  const stats: FeedStats = { name, kind: 'nats', connected: false, heardAt: null, applied: 0, duplicates: 0, deadLetters: 0, lastError: null };
  // the connection's trouble outranks the fetch loop's, which outranks the sink's, in `lastError`
  let connError: string | null = null;
  let fetchError: string | null = null;
  let sinkError: string | null = null;
  let link: Link | undefined;
  let connecting: Promise<void> | undefined;
  let pulling: Promise<void> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let checkTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  /** The trouble last logged (once; repeats are debug lines until it clears). */
  let reported: string | null = null;
  let started = false;
  let closed: Promise<void> | undefined;
  const stopping = new AbortController();
  const batcher = new Batcher<Held>(deliver, config.batch);

  function setErrors(): void {
    stats.lastError = connError ?? fetchError ?? sinkError;
  }

  /** Logs `msg` once while the same trouble lasts; `level` for the first line. */
  function report(msg: string, e: unknown, level: 'warn' | 'error' = 'warn'): void {
    const key = `${msg}: ${errorText(e)}`;
    const fields = { ...where, ...errorFields(e) };
    if (reported === key) log.debug(msg, fields);
    else log[level](msg, fields);
    reported = key;
  }

  function recovered(msg: string): void {
    if (reported !== null) log.info(msg, where);
    reported = null;
  }

  async function open(): Promise<Link> {
    const nc = await connect({
      servers: config.servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      pingInterval: 10_000,
      maxPingOut: 2,
      timeout: o.connectTimeoutMs,
    });
    try {
      const jsm = await nc.jetstreamManager();
      await ensureStream(jsm);
      await ensureConsumer(jsm);
      const consumer = await nc.jetstream().consumers.get(config.stream, config.durable);
      return { nc, jsm, consumer, dead: false, fetch: undefined, caughtUp: undefined, checking: false };
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  async function ensureStream(jsm: JetStreamManager): Promise<void> {
    let info = await streamInfo(jsm);
    if (info === undefined) {
      try {
        await jsm.streams.add({ name: config.stream, subjects: [config.subject] });
        log.info('nats feed created its stream', { ...where, subject: config.subject });
        return;
      } catch (e) {
        // another instance created it first
        if (apiErrorCode(e) !== STREAM_NAME_IN_USE) throw e;
        info = await streamInfo(jsm);
        if (info === undefined) throw e;
      }
    }
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((p) => subjectCovers(p, config.subject)))
      throw new SetupError(
        `stream "${config.stream}" exists over ${JSON.stringify(subjects)}, which does not take "${config.subject}"; ` +
          'it is left as it is: add the subject to the stream, or point the feed at another stream',
      );
  }

  async function streamInfo(jsm: JetStreamManager): Promise<StreamInfo | undefined> {
    try {
      return await jsm.streams.info(config.stream);
    } catch (e) {
      if (apiErrorCode(e) === STREAM_NOT_FOUND) return undefined;
      throw e;
    }
  }

  async function ensureConsumer(jsm: JetStreamManager): Promise<void> {
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.info(config.stream, config.durable);
    } catch (e) {
      if (apiErrorCode(e) !== CONSUMER_NOT_FOUND) throw e;
      await jsm.consumers.add(config.stream, {
        durable_name: config.durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(o.ackWaitMs),
        max_deliver: -1,
        filter_subject: config.subject,
        deliver_policy: DeliverPolicy.All,
      });
      return;
    }
    const c = info.config;
    const filters = c.filter_subjects ?? (c.filter_subject !== undefined && c.filter_subject !== '' ? [c.filter_subject] : []);
    const fits = c.ack_policy === AckPolicy.Explicit && c.deliver_subject === undefined && filters.length === 1 && filters[0] === config.subject;
    if (!fits)
      throw new SetupError(
        `consumer "${config.durable}" on stream "${config.stream}" exists but is not a pull consumer with explicit ack filtered on "${config.subject}" ` +
          `(ack ${c.ack_policy}, filter ${JSON.stringify(filters)}); it is left as it is: delete it or name another durable`,
      );
  }

  /** One attempt at a connection with its stream and consumer; its failure schedules the next. Never rejects. */
  function attempt(): Promise<void> {
    connecting ??= open().then(
      (l) => {
        connecting = undefined;
        up(l);
      },
      (e: unknown) => {
        connecting = undefined;
        connError = e instanceof SetupError ? e.message : `cannot connect to the server: ${errorText(e)}`;
        setErrors();
        report(e instanceof SetupError ? 'nats feed cannot consume' : 'nats feed cannot connect; retrying', e, e instanceof SetupError ? 'error' : 'warn');
        scheduleReconnect();
      },
    );
    return connecting;
  }

  function scheduleReconnect(): void {
    if (stopping.signal.aborted || reconnectTimer !== undefined) return;
    const delay = backoffMs(failures++, o.backoff);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void attempt();
    }, delay);
  }

  function up(l: Link): void {
    if (stopping.signal.aborted) {
      void l.nc.close().catch(() => undefined);
      return;
    }
    link = l;
    failures = 0;
    connError = null;
    fetchError = null;
    setErrors();
    stats.connected = true;
    recovered('nats feed connected');
    watch(l).catch(() => undefined);
    void l.nc.closed().then((e) => gone(l, e));
    pulling = pullLoop(l).catch((e: unknown) => log.error('nats feed: the fetch loop ended', { ...where, ...errorFields(e) }));
  }

  /** The client's own disconnects and reconnects. */
  async function watch(l: Link): Promise<void> {
    for await (const s of l.nc.status()) {
      if (l.dead || stopping.signal.aborted) return;
      if (s.type === Events.Disconnect) {
        stats.connected = false;
        connError = 'disconnected from the server; reconnecting';
        setErrors();
        report('nats feed disconnected; reconnecting', new Error(`disconnected from ${String(s.data)}`));
      } else if (s.type === Events.Reconnect) {
        stats.connected = true;
        connError = null;
        setErrors();
        recovered('nats feed reconnected');
      }
    }
  }

  /** The connection closed for good (not by us): start over with a new one. */
  function gone(l: Link, e: void | Error): void {
    if (l.dead) return;
    l.dead = true;
    if (link !== l) return;
    link = undefined;
    stats.connected = false;
    batcher.discard((h) => h.link === l);
    if (stopping.signal.aborted) return;
    connError = `the connection closed: ${e instanceof Error ? errorText(e) : 'by the client'}`;
    setErrors();
    report('nats feed lost its connection; reconnecting', e ?? new Error('closed'));
    scheduleReconnect();
  }

  /** Fetches a batch at a time for as long as the link lives; a failed fetch is retried after a pause. */
  async function pullLoop(l: Link): Promise<void> {
    while (!l.dead && !stopping.signal.aborted) {
      try {
        const iter = await l.consumer.fetch({ max_messages: config.batch, expires: o.fetchExpiresMs });
        l.fetch = iter;
        // closing: what still arrives is left unacked, redelivered after the ack wait
        for await (const m of iter) if (!l.dead && !stopping.signal.aborted) batcher.push({ link: l, m });
        await batcher.idle();
        if (fetchError !== null) {
          fetchError = null;
          setErrors();
        }
      } catch (e) {
        if (l.dead || stopping.signal.aborted) return;
        await batcher.idle();
        fetchError = `fetching from consumer "${config.durable}" failed: ${errorText(e)}`;
        setErrors();
        // disconnected, a failed fetch is expected (the disconnect was reported)
        if (stats.connected) report('nats feed: a fetch failed; retrying', e);
        else log.debug('nats feed: a fetch failed while disconnected', { ...where, ...errorFields(e) });
        await pause(o.retryPauseMs, stopping.signal);
        await repair(l);
      }
    }
  }

  /** After a failed fetch: the stream and consumer again (someone may have deleted them). */
  async function repair(l: Link): Promise<void> {
    if (l.dead || stopping.signal.aborted || l.nc.isClosed()) return;
    try {
      await ensureStream(l.jsm);
      await ensureConsumer(l.jsm);
    } catch (e) {
      if (e instanceof SetupError) report('nats feed cannot consume', e, 'error');
      fetchError = e instanceof SetupError ? e.message : fetchError;
      setErrors();
    }
  }

  /** One batch: to the sink, then each acked; when the sink rejects, each nak'd (redelivered after a delay). */
  async function deliver(batch: Held[]): Promise<void> {
    const live = batch.filter((h) => !h.link.dead);
    if (live.length === 0) return;
    try {
      const outcomes = await ctx.sink.receive(name, live.map(toDelivery));
      countOutcomes(stats, outcomes);
      sinkError = null;
      setErrors();
      settle(live, 'ack');
    } catch (e) {
      sinkError = `the sink could not take ${live.length} message(s); nak'd for redelivery: ${errorText(e)}`;
      setErrors();
      log.warn('nats feed: the sink rejected a batch; nak-ing it', { ...where, messages: live.length, ...errorFields(e) });
      settle(live, 'nak');
      await pause(o.retryPauseMs, stopping.signal);
    }
  }

  function settle(held: readonly Held[], how: 'ack' | 'nak'): void {
    for (const { link: l, m } of held) {
      if (l.dead) continue;
      try {
        if (how === 'ack') m.ack();
        else m.nak(o.nakDelayMs);
      } catch {
        // the connection closed: the server redelivers after the ack wait
      }
    }
  }

  /** Reads the consumer's info: nothing pending in the stream and everything delivered acked is caught up. */
  async function check(l: Link): Promise<void> {
    if (l.dead || l.checking || !stats.connected) return;
    l.checking = true;
    const at = new Date(now());
    try {
      const info = await l.consumer.info();
      if (l.dead) return;
      const allAcked = (seq: number) => info.num_ack_pending === 0 || info.ack_floor.stream_seq >= seq;
      if (l.caughtUp !== undefined && allAcked(l.caughtUp.seq)) {
        heard(l.caughtUp.at);
        l.caughtUp = undefined;
      }
      if (info.num_pending === 0) {
        if (info.num_ack_pending === 0) heard(at);
        else l.caughtUp ??= { at, seq: info.delivered.stream_seq };
      }
    } catch {
      // disconnected, or the consumer is gone: the fetch loop says so
    } finally {
      l.checking = false;
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
    const l = link;
    link = undefined;
    stats.connected = false;
    if (l === undefined) return;
    await within(l.fetch?.close() ?? Promise.resolve(), o.closeTimeoutMs);
    // What waits is not nak'd: the fetch's pull request outlives the client's unsubscribe on the
    // server (nats-server 2.9), so a nak'd message would be redelivered into it and lost to the
    // next consumer until the ack wait anyway. Left unacked, it comes back after the ack wait.
    batcher.discard();
    await within(batcher.settled(), o.closeTimeoutMs);
    l.dead = true;
    await within(pulling ?? Promise.resolve(), o.closeTimeoutMs);
    await within(l.nc.flush(), o.closeTimeoutMs);
    await within(l.nc.close(), o.closeTimeoutMs);
  }

  return {
    name,
    kind: 'nats',
    async start() {
      if (started || stopping.signal.aborted) return;
      started = true;
      checkTimer = setInterval(() => {
        if (link !== undefined) void check(link);
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

function toDelivery({ m }: Held): Delivery {
  const id = m.headers?.get('Nats-Msg-Id') ?? '';
  return { body: m.string(), transportId: id !== '' ? id : `${m.info.stream}:${m.seq}` };
}

function apiErrorCode(e: unknown): number | undefined {
  return e instanceof NatsError ? e.api_error?.err_code : undefined;
}

/**
 * Whether stream subject `pattern` takes every subject `subject` matches (`subject` may have
 * wildcards too): `*` is one token, `>` one or more at the end.
 */
export function subjectCovers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i];
    if (pt === '>') return i < s.length;
    const st = s[i];
    if (st === undefined || st === '>') return false;
    if (pt !== '*' && (st === '*' || pt !== st)) return false;
  }
  return p.length === s.length;
}
