/**
 * The webhook transport (`kind: webhook`): one POST per event, its body the event's JSON
 * (`eventBody`), signed per Standard Webhooks (https://www.standardwebhooks.com/), the way the
 * webhook feed (src/feeds/webhook.ts) checks what it receives.
 *
 * - Headers: `content-type: application/json`, `user-agent: inventory-graph`, `webhook-id` and
 *   `idempotency-key` (the event id: a retry or a replay carries the same one, the receiver's
 *   dedupe key), `webhook-timestamp` (unix seconds, the time of this attempt) and, with a
 *   `secret`, `webhook-signature: v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">`, and
 *   one more `v1,` signature per `previousSecrets` entry while a secret is rotated.
 *   Without a secret the POSTs are unsigned (logged once at start). Credentials in the URL
 *   (`https://user:pass@host/...`) are sent as Basic authorization (fetch takes no URL with them).
 * - One event after the other, each POST bounded by `timeoutMs` (its answer's body included) and
 *   cut short by the caller's signal; a call stops at its first failure, the events after it
 *   answered `skipped` (the order per SKU is kept). `lanes` is the sink's `concurrency`: the
 *   publisher runs that many calls at once, each with other SKUs' events.
 * - 2xx is delivered. 410 Gone stops the sink (the receiver is gone; events wait). Retryable: a network error, a timeout, 408, 429 and 5xx, with the wait a
 *   `Retry-After` asks for (seconds or an HTTP date, at most an hour). Not retryable: any other
 *   answer (another 4xx: the receiver refused the event; a 3xx: redirects are not followed, the
 *   signed POST goes only where the config says).
 * - The answer's body is always read (up to 64 KiB, then cancelled) so its connection is freed.
 * - Reasons name the URL without its credentials, query or fragment, and never the secret.
 * - `close()` aborts the POSTs in flight (answered retryable) and waits for them; a call after
 *   it answers retryable failures.
 */
import type { EventSinkConfig } from '../../config/index.js';
import { serializeEvent, type StoredEvent } from '../../domain/events.js';
import { errorText } from '../../feeds/message-feed.js';
import { sign, signingKey } from '../../feeds/webhook.js';
import { safeUrl } from './common.js';
import type { Attempt, EventTransport, TransportContext } from './types.js';

export type WebhookSinkConfig = Extract<EventSinkConfig, { kind: 'webhook' }>;

/** The longest `Retry-After` taken, in ms: a receiver asking for more is retried after an hour anyway. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
/** What is read of an answer's body before it is cancelled. */
const MAX_ANSWER_BYTES = 64 * 1024;

const SKIPPED: Attempt = { ok: false, skipped: true };

export function createWebhookTransport(config: WebhookSinkConfig, ctx: TransportContext): EventTransport {
  const now = ctx.now ?? Date.now;
  const key = config.secret === undefined ? undefined : signingKey(config.secret, `events sink ${ctx.name}`);
  // rotation: the old secrets sign too, after the current one
  const keys = key === undefined ? [] : [key, ...(config.previousSecrets ?? []).map((p, i) => signingKey(p, `events sink ${ctx.name} previousSecrets[${i}]`))];
  const { target, authorization, where } = splitUrl(config.url);
  const closing = new AbortController();
  const inFlight = new Set<Promise<Attempt>>();
  let closed: Promise<void> | undefined;
  if (key === undefined) ctx.logger.warn('events webhook sink has no secret: its POSTs are unsigned', { sink: ctx.name, url: where });

  /** One POST of one event, never rejecting. */
  async function post(e: StoredEvent, signal: AbortSignal, trace: Readonly<Record<string, string>> | undefined): Promise<Attempt> {
    if (closing.signal.aborted) return retry('the transport is closed');
    if (signal.aborted) return retry('aborted (shutting down)');
    const body = serializeEvent(e);
    const timestamp = String(Math.floor(now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'inventory-graph',
      'webhook-id': e.id,
      'webhook-timestamp': timestamp,
      'idempotency-key': e.id,
    };
    if (keys.length > 0) {
      const bytes = Buffer.from(body);
      headers['webhook-signature'] = keys.map((k) => `v1,${sign(k, e.id, timestamp, bytes).toString('base64')}`).join(' ');
    }
    if (authorization !== undefined) headers.authorization = authorization;
    if (trace !== undefined) Object.assign(headers, trace);

    const c = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      c.abort();
    }, config.timeoutMs);
    const cut = () => c.abort();
    signal.addEventListener('abort', cut, { once: true });
    closing.signal.addEventListener('abort', cut, { once: true });
    try {
      const res = await fetch(target, { method: 'POST', headers, body, signal: c.signal, redirect: 'manual' });
      await discard(res);
      return judge(res.status, res.headers.get('retry-after'));
    } catch (err) {
      if (timedOut) return retry(`no answer from ${where} within ${config.timeoutMs} ms`);
      if (closing.signal.aborted) return retry('the transport closed');
      if (signal.aborted) return retry('aborted (shutting down)');
      return retry(redact(`POST ${where} failed: ${causeText(err)}`));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', cut);
      closing.signal.removeEventListener('abort', cut);
    }
  }

  function judge(status: number, retryAfter: string | null): Attempt {
    if (status >= 200 && status < 300) return { ok: true };
    if (status === 408 || status === 429 || status >= 500) {
      const wait = retryAfterMs(retryAfter, now());
      return { ok: false, retry: true, reason: `HTTP ${status}`, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
    }
    if (status >= 300 && status < 400)
      return { ok: false, retry: false, reason: `HTTP ${status} (a redirect; not followed: set the sink's url to where it points)` };
    if (status === 410) return { ok: false, retry: false, gone: true, reason: 'HTTP 410 Gone: the receiver takes no more events' };
    return { ok: false, retry: false, reason: `HTTP ${status}` };
  }

  /** The secret and the URL's query never reach a reason (an error text could quote them). */
  function redact(reason: string): string {
    let r = reason;
    for (const s of [config.secret, new URL(config.url).search]) if (s !== undefined && s.length > 1) r = r.split(s).join('[redacted]');
    return r;
  }

  return {
    kind: 'webhook',
    name: ctx.name,
    lanes: config.concurrency,
    async deliver(events, signal, trace) {
      const out: Attempt[] = [];
      let failed = false;
      for (const [i, e] of events.entries()) {
        if (failed) {
          out.push(SKIPPED);
          continue;
        }
        const p = post(e, signal, trace?.[i]);
        inFlight.add(p);
        const a = await p.finally(() => inFlight.delete(p));
        failed = !a.ok;
        out.push(a);
      }
      return out;
    },
    close() {
      closed ??= (async () => {
        closing.abort();
        await Promise.allSettled([...inFlight]);
      })();
      return closed;
    },
  };
}

/**
 * The wait a `Retry-After` asks for, in ms: delay-seconds, or an HTTP date against `nowMs`;
 * at most `MAX_RETRY_AFTER_MS`, never negative; undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

function retry(reason: string): Attempt {
  return { ok: false, retry: true, reason };
}

/** Where to POST (credentials taken out), the Basic authorization they make, and the URL as reasons name it. */
function splitUrl(url: string): { target: string; authorization: string | undefined; where: string } {
  const u = new URL(url);
  let authorization: string | undefined;
  if (u.username !== '' || u.password !== '') {
    const user = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
    authorization = `Basic ${Buffer.from(user, 'utf8').toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { target: u.toString(), authorization, where: safeUrl(url) };
}

/** Reads and drops an answer's body, up to `MAX_ANSWER_BYTES` (then cancels it); never rejects. */
async function discard(res: Response): Promise<void> {
  if (res.body === null) return;
  let n = 0;
  try {
    // leaving the loop early cancels the stream
    for await (const chunk of res.body) {
      n += chunk.byteLength;
      if (n > MAX_ANSWER_BYTES) break;
    }
  } catch {
    // cut by the timeout or the signal: the status already decided
  }
}

/** A fetch failure in words: undici's "fetch failed" says nothing, its cause does (`connect ECONNREFUSED 127.0.0.1:1`). */
function causeText(e: unknown): string {
  let cause = e instanceof Error ? e.cause : undefined;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  if (cause instanceof Error && cause.message !== '') return cause.message;
  return errorText(e);
}
