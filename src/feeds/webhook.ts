/**
 * The webhook feed: a sender pushes changes to `POST /ingest/<source>` (the route is in
 * src/server/http.ts; this module knows nothing of node:http and answers one request given its
 * headers and raw body bytes).
 *
 * Every request is checked the Standard Webhooks way (https://www.standardwebhooks.com/):
 * headers `webhook-id`, `webhook-timestamp` (unix seconds, at most `toleranceSeconds` from now
 * either way) and `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256>` over
 * `<id>.<timestamp>.<body bytes>`; the request is accepted when any `v1` signature matches. The
 * key is the base64 after `whsec_` in `secret` (as the Standard Webhooks libraries issue it); a
 * secret without that prefix is used as its UTF-8 bytes (the libraries would base64-decode it).
 * The signature is the authentication: the route needs no API key.
 *
 * The body is one change (src/domain/changes.ts) or a JSON array of at most 1,000; each becomes
 * one `Delivery` (transportId: the webhook-id) and the sink parses, dedupes, stores and applies
 * them. Something that is JSON but not a valid change is the sink's to dead-letter, not a 400.
 * The answer is 202 only once `sink.receive` resolved (the changes are durable); when it
 * rejects, 503 with Retry-After and nothing acknowledged: the sender delivers again.
 *
 * A push feed cannot know how far behind its sender is, so while started it counts as caught
 * up (`heardAt` is now).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FeedConfig } from '../config/index.js';
import { MAX_ID_LENGTH } from '../domain/changes.js';
import { countOutcomes, type Delivery, type Feed, type FeedContext, type FeedStats, type Outcome } from './types.js';

export type WebhookFeedConfig = Extract<FeedConfig, { kind: 'webhook' }>;

/** Request headers as node:http gives them: names in lower case. */
export type IngestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export type IngestErrorCode =
  'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE' | 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE' | 'STORE_UNAVAILABLE' | 'FEED_NOT_RUNNING';

/** An answer to one ingest request: the HTTP status, a JSON body, and extra headers. */
export interface IngestResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface WebhookFeed extends Feed {
  /** The largest body `ingest` takes: the caller stops reading at one byte more and answers `tooLarge()`. */
  readonly maxBodyBytes: number;
  /** Answers one `POST /ingest/<source>`; never rejects. */
  ingest(headers: IngestHeaders, body: Buffer): Promise<IngestResponse>;
  /** The 413 for a body over `maxBodyBytes`. */
  tooLarge(): IngestResponse;
}

/** The most changes one request may carry. */
export const MAX_CHANGES_PER_REQUEST = 1_000;
/** The deepest JSON nesting accepted (a change is 1 level, an array of changes 2); checked before parsing. */
export const MAX_JSON_DEPTH = 32;
/** What a sender is told to wait before delivering again when the store could not take the changes. */
export const RETRY_AFTER_SECONDS = 5;

export interface WebhookFeedOptions {
  /** The clock, for the timestamp tolerance and `heardAt`. Defaults to the context's (`ctx.now`), else the system's. */
  now?: () => Date;
}

export function createWebhookFeed(config: WebhookFeedConfig, ctx: FeedContext, options: WebhookFeedOptions = {}): WebhookFeed {
  const name = `${ctx.source}/webhook`;
  // the runtime's clock (tests move it), as for every feed's heardAt
  const clock = ctx.now;
  const now = options.now ?? (clock !== undefined ? () => new Date(clock()) : () => new Date());
  const key = signingKey(config.secret, name);
  const counters = { applied: 0, duplicates: 0, deadLetters: 0 };
  let started = false;
  let lastError: string | null = null;
  /** Requests whose changes are with the sink: `close` waits for them. */
  const inFlight = new Set<Promise<unknown>>();

  function tooLarge(): IngestResponse {
    return fail(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${config.maxBodyBytes} bytes (maxBodyBytes of ${name}).`);
  }

  async function deliver(deliveries: Delivery[], webhookId: string): Promise<IngestResponse> {
    const n = `${deliveries.length} change${deliveries.length === 1 ? '' : 's'}`;
    let outcomes: Outcome[];
    const receiving = Promise.resolve().then(() => ctx.sink.receive(name, deliveries));
    inFlight.add(receiving);
    try {
      outcomes = await receiving;
    } catch (e) {
      // the reason is the operator's (stats, log), not the sender's: it may name tables or files
      lastError = `the store could not take ${n}: ${e instanceof Error ? e.message : String(e)}`;
      ctx.logger.warn('webhook: changes not accepted, the sender will deliver again', { feed: name, webhookId, error: lastError });
      return fail(503, 'STORE_UNAVAILABLE', `The ${n} could not be stored just now; nothing was accepted. Deliver again after ${RETRY_AFTER_SECONDS} s.`, {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
    } finally {
      inFlight.delete(receiving);
    }
    countOutcomes(counters, outcomes);
    lastError = null;
    return { status: 202, body: { accepted: deliveries.length, outcomes: tally(outcomes) } };
  }

  return {
    name,
    kind: 'webhook',
    maxBodyBytes: config.maxBodyBytes,
    async start() {
      started = true;
    },
    stats(): FeedStats {
      return { name, kind: 'webhook', connected: started, heardAt: started ? now() : null, ...counters, lastError };
    },
    async close() {
      started = false;
      await Promise.allSettled([...inFlight]);
    },
    tooLarge,
    async ingest(headers, body) {
      if (!started)
        return fail(503, 'FEED_NOT_RUNNING', `The feed ${name} is not running; deliver again later.`, { 'retry-after': String(RETRY_AFTER_SECONDS) });
      if (body.length > config.maxBodyBytes) return tooLarge();
      const verified = verify(headers, body, key, config.toleranceSeconds, now());
      if (!verified.ok) {
        ctx.logger.warn('webhook: request refused', { feed: name, code: verified.code, reason: verified.message });
        return fail(401, verified.code, verified.message);
      }
      const read = readChanges(body);
      if (!read.ok) return fail(400, 'BAD_REQUEST', read.message);
      return deliver(
        read.bodies.map((text) => ({ body: text, transportId: verified.id })),
        verified.id,
      );
    },
  };
}

/** The HMAC key: the base64 after `whsec_`, or the UTF-8 bytes of a secret without it. */
export function signingKey(secret: string, feed: string): Buffer {
  if (!secret.startsWith('whsec_')) return Buffer.from(secret, 'utf8');
  const encoded = secret.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new Error(`${feed}: the secret after "whsec_" is not base64 (a Standard Webhooks secret is "whsec_" followed by the base64 of the key)`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 16) throw new Error(`${feed}: the secret's key is ${key.length} bytes; at least 16 are needed`);
  return key;
}

/** The Standard Webhooks signature of one message (its base64 is what a sender puts after `v1,`). */
export function sign(key: Buffer, id: string, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

type Refused = { ok: false; code: IngestErrorCode; message: string };
type Verified = { ok: true; id: string } | Refused;

/** Checks the three Standard Webhooks headers against `body`. */
function verify(headers: IngestHeaders, body: Buffer, key: Buffer, toleranceSeconds: number, now: Date): Verified {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  const missing = [id === undefined && 'webhook-id', timestamp === undefined && 'webhook-timestamp', signatures === undefined && 'webhook-signature'].filter(
    (h) => h !== false,
  );
  if (id === undefined || timestamp === undefined || signatures === undefined) {
    return refuse('WEBHOOK_SIGNATURE_INVALID', `Missing header${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (Standard Webhooks).`);
  }
  if (id === '' || id.length > MAX_ID_LENGTH) {
    return refuse('WEBHOOK_SIGNATURE_INVALID', `webhook-id must be 1 to ${MAX_ID_LENGTH} characters, not ${id.length}.`);
  }
  if (!/^\d{1,15}$/.test(timestamp)) {
    return refuse('WEBHOOK_SIGNATURE_INVALID', `webhook-timestamp must be unix seconds (digits only), not ${quote(timestamp)}.`);
  }
  const skew = Number(timestamp) - Math.floor(now.getTime() / 1000);
  if (Math.abs(skew) > toleranceSeconds) {
    const when = skew < 0 ? `${-skew} s in the past` : `${skew} s in the future`;
    return refuse(
      'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
      `webhook-timestamp ${timestamp} is ${when}; at most ${toleranceSeconds} s either way are accepted (check the sender's clock, or a replayed request).`,
    );
  }
  const expected = sign(key, id, timestamp, body);
  const listed = signatures.split(/\s+/).filter((s) => s !== '');
  const v1 = listed.filter((s) => s.startsWith('v1,'));
  if (v1.length === 0) {
    return refuse('WEBHOOK_SIGNATURE_INVALID', `webhook-signature has no "v1,<base64>" signature (got ${quote(signatures)}).`);
  }
  // every listed signature is compared, so the time taken does not tell which one matched
  let match = false;
  for (const s of v1) if (sameSignature(s.slice(3), expected)) match = true;
  if (!match) {
    return refuse(
      'WEBHOOK_SIGNATURE_INVALID',
      `None of the ${v1.length} v1 signature${v1.length === 1 ? '' : 's'} in webhook-signature matches the body of webhook-id ${quote(id)} (wrong secret, or the body was changed).`,
    );
  }
  return { ok: true, id };
}

function sameSignature(encoded: string, expected: Buffer): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const given = Buffer.from(encoded, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type Read = { ok: true; bodies: string[] } | { ok: false; message: string };

/** The body's changes, each as its JSON text; refuses what is not JSON, too deep, empty or too many. */
function readChanges(body: Buffer): Read {
  const depth = jsonDepth(body, MAX_JSON_DEPTH);
  if (depth > MAX_JSON_DEPTH) return badRequest(`The body is JSON nested more than ${MAX_JSON_DEPTH} levels deep; a change is an object of plain values.`);
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    value = JSON.parse(text);
  } catch (e) {
    const why = e instanceof SyntaxError ? e.message : 'the body is not UTF-8';
    return badRequest(`The body is not valid JSON (${why}); send one change object or an array of them.`);
  }
  if (!Array.isArray(value)) return { ok: true, bodies: [text] };
  if (value.length === 0) return badRequest('The body is an empty array; send at least one change.');
  if (value.length > MAX_CHANGES_PER_REQUEST) {
    return badRequest(`The body holds ${value.length} changes; at most ${MAX_CHANGES_PER_REQUEST} per request.`);
  }
  return { ok: true, bodies: value.map((change: unknown) => JSON.stringify(change)) };
}

/**
 * How deep brackets nest in JSON `bytes` (those inside strings not counted), stopping once past
 * `limit`: a linear scan, so a megabyte of `[[[[` is refused before JSON.parse spends time on it
 * (and nothing deep reaches JSON.stringify, which recurses).
 */
export function jsonDepth(bytes: Buffer, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return deepest;
}

function tally(outcomes: readonly Outcome[]): Record<Outcome, number> {
  const t: Record<Outcome, number> = { applied: 0, duplicate: 0, ignored: 0, dead: 0 };
  for (const o of outcomes) t[o]++;
  return t;
}

/** One header's value; a repeated header's values joined with a space (for `webhook-signature`: all the signatures). */
function header(headers: IngestHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v.trim() : v.join(' ').trim();
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

function fail(status: number, code: IngestErrorCode, message: string, headers?: Record<string, string>): IngestResponse {
  return { status, body: { error: { code, message } }, ...(headers === undefined ? {} : { headers }) };
}

function refuse(code: IngestErrorCode, message: string): Refused {
  return { ok: false, code, message };
}

function badRequest(message: string): { ok: false; message: string } {
  return { ok: false, message };
}
