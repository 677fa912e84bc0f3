/**
 * The NATS JetStream transport (`kind: nats`): publishes events to a stream and awaits each
 * PubAck.
 *
 * - Set-up, lazily on the first call and again after a connection is lost: a connection (the
 *   client does not reconnect by itself: a lost connection is dropped and the next call connects
 *   again, so no call waits on a reconnect loop), and once per connection the stream `stream`
 *   over `<subjectPrefix>.>`, created when missing (JetStream's defaults: file storage, limits
 *   retention, a 2-minute duplicate window). A stream that exists is used as it is; one whose
 *   subjects do not take the prefix is logged (its publishes then fail, retryable).
 * - Each event goes to `<subjectPrefix>.<type>.<channel>` (`routingKey`), its JSON
 *   (`eventBody`) as payload, with `Nats-Msg-Id` the event id: JetStream stores an event
 *   published twice within the duplicate window once (a retry after a lost PubAck is harmless).
 *   A call publishes all its events in order, then awaits their PubAcks in order, each wait
 *   bounded by `timeoutMs` and the caller's signal.
 * - Retryable: the server unreachable (answered at once when it refuses, else after
 *   `connectTimeoutMs`), the stream not creatable, no PubAck in time, no stream taking the
 *   subject (the stream is checked again on the next call), the connection closing, the signal
 *   aborting. Refused for good: a payload over the server's max_payload.
 * - `lanes` is 1: one connection, publishes pipelined within a call.
 * - Reasons name the servers without credentials.
 * - `close()` drains and closes the connection (bounded); a second close is the same promise;
 *   a call after it answers retryable failures.
 */
import { ErrorCode, NatsError, connect, headers, type JetStreamClient, type JetStreamManager, type MsgHdrs, type NatsConnection, type PubAck } from 'nats';
import type { EventSinkConfig } from '../../config/index.js';
import { serializeEvent, routingKey } from '../../domain/events.js';
import { errorText, within } from '../../feeds/message-feed.js';
import { subjectCovers } from '../../feeds/nats.js';
import type { Attempt, EventTransport, TransportContext } from './types.js';
import { bounded, failAll, safeUrl } from './common.js';
import { createLinkKeeper } from './link.js';

export type NatsSinkConfig = Extract<EventSinkConfig, { kind: 'nats' }>;

/** Timings; the defaults suit production, tests may shorten them. */
export interface NatsTransportOptions {
  /** How long a connection attempt may take, in ms. Defaults to 5000. */
  connectTimeoutMs?: number;
  /** How long one JetStream request (a PubAck, the stream's info or creation) may take, in ms. Defaults to 5000. */
  timeoutMs?: number;
  /** How long `close` waits for the connection to drain, in ms. Defaults to 5000. */
  closeTimeoutMs?: number;
}

const DEFAULTS: Required<NatsTransportOptions> = { connectTimeoutMs: 5000, timeoutMs: 5000, closeTimeoutMs: 5000 };

/** JetStream API error codes. */
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

/** One connection, and whether the stream was checked over it. */
interface Link {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  streamChecked: boolean;
  dead: boolean;
  why: string | undefined;
}

export function createNatsTransport(config: NatsSinkConfig, ctx: TransportContext, options: NatsTransportOptions = {}): EventTransport {
  const o = { ...DEFAULTS, ...options };
  const log = ctx.logger;
  const servers = config.servers.map((s) => (s.includes('://') ? safeUrl(s) : s.replace(/^[^@]*@/, ''))).join(', ');
  const streamSubject = `${config.subjectPrefix}.>`;
  const where = { sink: ctx.name, servers, stream: config.stream };
  const encoder = new TextEncoder();
  let closed: Promise<void> | undefined;

  async function open(): Promise<Link> {
    const nc = await connect({
      servers: config.servers,
      name: `inventory-graph events ${ctx.name}`,
      timeout: o.connectTimeoutMs,
      reconnect: false,
      pingInterval: 10_000,
      maxPingOut: 2,
    });
    let jsm: JetStreamManager;
    try {
      jsm = await nc.jetstreamManager({ timeout: o.timeoutMs });
    } catch (e) {
      // JetStream not enabled, or no answer: nothing to publish to
      await nc.close().catch(() => undefined);
      throw e;
    }
    const l: Link = { nc, js: nc.jetstream({ timeout: o.timeoutMs }), jsm, streamChecked: false, dead: false, why: undefined };
    void nc.closed().then((e) => links.lost(l, e ?? new Error('the connection closed'), 'lost its server; the next call connects again'));
    return l;
  }

  const links = createLinkKeeper<Link>({
    open,
    release: (l) => void l.nc.close().catch(() => undefined),
    what: 'events nats transport',
    unreachable: `cannot reach NATS at ${servers}`,
    where,
    logger: log,
  });

  /** The stream when missing; an existing one is left as it is (logged when it does not take the prefix). */
  async function ensureStream(l: Link): Promise<void> {
    try {
      const info = await l.jsm.streams.info(config.stream);
      const subjects = info.config.subjects ?? [];
      if (!subjects.some((p) => subjectCovers(p, streamSubject)))
        log.error('events nats transport: the stream does not take the sink’s subjects; it is left as it is', { ...where, subjects, wanted: streamSubject });
      return;
    } catch (e) {
      if (apiErrorCode(e) !== STREAM_NOT_FOUND) throw e;
    }
    try {
      await l.jsm.streams.add({ name: config.stream, subjects: [streamSubject] });
      log.info('events nats transport created its stream', { ...where, subjects: [streamSubject] });
    } catch (e) {
      // another instance created it first
      if (apiErrorCode(e) !== STREAM_NAME_IN_USE) throw e;
    }
  }

  function failure(l: Link, e: unknown): Attempt {
    const code = e instanceof NatsError ? e.code : undefined;
    if (code === ErrorCode.MaxPayloadExceeded) return { ok: false, retry: false, reason: `the event is larger than the server's max_payload: ${errorText(e)}` };
    if (code === ErrorCode.NoResponders) {
      l.streamChecked = false;
      return { ok: false, retry: true, reason: `no stream takes the subject (stream "${config.stream}" deleted?)` };
    }
    if (l.dead) return { ok: false, retry: true, reason: `the connection to ${servers} closed before the PubAck: ${l.why ?? errorText(e)}` };
    return { ok: false, retry: true, reason: errorText(e) };
  }

  return {
    kind: 'nats',
    name: ctx.name,
    lanes: 1,
    async deliver(events, signal, trace) {
      if (events.length === 0) return [];
      const l = await links.forCall(signal, o.connectTimeoutMs);
      if (typeof l === 'string') return failAll(events.length, l);
      if (!l.streamChecked) {
        try {
          await bounded(ensureStream(l), 2 * o.timeoutMs, signal, `checking stream "${config.stream}"`);
          l.streamChecked = true;
        } catch (e) {
          if (!signal.aborted) links.report('cannot set up its stream', e);
          return failAll(events.length, `cannot set up stream "${config.stream}": ${errorText(e)}`);
        }
      }
      // all published at once, in order; the acks awaited in the same order
      const acks = events.map((e, i) => {
        const traced = trace?.[i];
        const ack = (async (): Promise<PubAck> =>
          l.js.publish(`${config.subjectPrefix}.${routingKey(e)}`, encoder.encode(serializeEvent(e)), {
            msgID: e.id,
            timeout: o.timeoutMs,
            ...(traced !== undefined ? { headers: natsHeaders(traced) } : {}),
          }))();
        // awaited in turn below; a rejection meanwhile is not unhandled
        ack.catch(() => undefined);
        return ack;
      });
      const out: Attempt[] = [];
      for (const ack of acks) {
        try {
          await bounded(ack, o.timeoutMs + 1000, signal, 'waiting for the PubAck');
          out.push({ ok: true });
        } catch (e) {
          out.push(failure(l, e));
        }
      }
      return out;
    },
    close() {
      closed ??= (async () => {
        const l = await links.close(o.closeTimeoutMs);
        if (l === undefined) return;
        await within(l.nc.drain(), o.closeTimeoutMs);
        if (!l.nc.isClosed()) await within(l.nc.close(), o.closeTimeoutMs);
      })();
      return closed;
    },
  };
}

function apiErrorCode(e: unknown): number | undefined {
  return e instanceof NatsError ? e.api_error?.err_code : undefined;
}

/** A delivery span's `traceparent`/`tracestate` as NATS message headers. */
function natsHeaders(values: Readonly<Record<string, string>>): MsgHdrs {
  const h = headers();
  for (const [k, v] of Object.entries(values)) h.set(k, v);
  return h;
}
