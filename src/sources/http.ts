/**
 * A source read over HTTP (`kind: http`): a REST or GraphQL API such as ShipBob's inventory
 * levels or Shopify's Admin GraphQL, each entity (stock, cost, items) one request mapping whose
 * answers are turned into records by JSON paths (json-records.ts, shared with `format: json`
 * files). docs/http-sources.md has every key.
 *
 * - Codes: sent to the API in batches of `codesPerRequest` where it can filter (`codes.param`, a
 *   query-string parameter, or `codes.variable`, a GraphQL variable, each code written by
 *   `codes.format` and joined by `codes.join`), else the whole listing is read and filtered here.
 *   Only the codes asked are ever returned (an API's partial or case-blind match is dropped).
 * - Pages: a cursor read from the answer (`pagination.kind: cursor`) sent back as a parameter or
 *   variable, or a next-page URL (`kind: next`, from the answer or the `Link` header), at most
 *   `maxPages`. Every request, next links included, must stay on `baseUrl`'s origin; redirects are
 *   followed on that origin only.
 * - Bounds: each request runs under the read's deadline and abort signal (the socket is destroyed
 *   then); an answer over `maxResponseBytes` is refused unread past that size; 429 and 503 with
 *   `Retry-After` (seconds or an HTTP date) are waited out when the wait ends before the
 *   deadline, else the read fails saying so.
 * - Every HTTP request (pages, retries) is one statement on the StatementMeter.
 * - A record that cannot be read (a quantity that is not a whole number, a missing field, an
 *   unparseable date) is returned marked `invalid`, as the SQL connector does; stock of the same
 *   (code, location) is summed, with the newest asOf.
 * - Failures are SourceErrors whose reason names the HTTP status and the URL's path, never its
 *   query string, host or headers (the auth secret is never logged or shown).
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { HttpSourceConfig } from '../config/index.js';
import { timestamp } from '../db/values.js';
import type { CostRecord, Entity, ItemRecord, RecordOf, StockRecord } from '../domain/records.js';
import type { Connector, ReadOptions, StatementMeter } from './connector.js';
import { compile, first, type JsonPath } from './json-path.js';
import { compileJsonMapping, jsonRows, type CompiledJsonMapping } from './json-records.js';
import { SourceError } from './resilience.js';

type HttpEntity = 'stock' | 'cost' | 'items';
type Mapping = NonNullable<HttpSourceConfig['stock'] | HttpSourceConfig['cost'] | HttpSourceConfig['items']>;
type Row = Record<string, unknown>;

/** One mapping, its paths compiled once. */
interface Compiled {
  entity: HttpEntity;
  m: Mapping;
  json: CompiledJsonMapping;
  cursor: JsonPath | undefined;
  hasNext: JsonPath | undefined;
  next: JsonPath | undefined;
}

/** An answer: its status, headers and parsed JSON body. */
interface Answer {
  url: URL;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** Redirects followed on the base origin, at most. */
const MAX_REDIRECTS = 3;
/** A 429 without Retry-After is tried again after this long (if it fits the deadline). */
const DEFAULT_RETRY_AFTER_MS = 1000;
/** Rate-limit retries of one request, at most (each still within the deadline). */
const MAX_RATE_LIMIT_RETRIES = 5;

export function createHttpConnector(name: string, config: HttpSourceConfig) {
  const base = new URL(config.baseUrl);
  const https = base.protocol === 'https:';
  // keep-alive sockets of this source only: `close` destroys them
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 16 }) : new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const mappings = new Map<HttpEntity, Compiled>();
  for (const entity of ['stock', 'cost', 'items'] as const) {
    const m = config[entity];
    if (m === undefined) continue;
    const p = m.pagination;
    mappings.set(entity, {
      entity,
      m,
      json: compileJsonMapping(m),
      cursor: p?.kind === 'cursor' ? compile(p.from) : undefined,
      hasNext: p?.kind === 'cursor' && p.hasNext !== undefined ? compile(p.hasNext) : undefined,
      next: p?.kind === 'next' && p.from !== undefined ? compile(p.from) : undefined,
    });
  }
  const entities = new Set<Entity>(mappings.keys());

  const fail = (reason: string, cause?: unknown) => new SourceError(name, 'failed', reason, cause === undefined ? undefined : { cause });

  /** The first request of a mapping: its path with fixed params, codes and cursor, or a GraphQL POST. */
  function firstUrl(c: Compiled, codes: readonly string[] | null, cursor: string | null): { url: URL; body: string | undefined } {
    const { m } = c;
    const url = new URL(m.path, base);
    for (const [k, v] of Object.entries(m.params)) url.searchParams.set(k, v);
    const written =
      codes === null || m.codes === undefined
        ? null
        : codes.map((code) => m.codes!.format.replace(/\{(code|quoted)\}/g, (_t, k: string) => (k === 'code' ? code : JSON.stringify(code))));
    if (written !== null && m.codes?.param !== undefined) url.searchParams.set(m.codes.param, written.join(m.codes.join ?? ','));
    const p = m.pagination;
    if (cursor !== null && p?.kind === 'cursor' && p.param !== undefined) url.searchParams.set(p.param, cursor);
    if (m.graphql === undefined) return { url, body: undefined };
    const variables: Record<string, unknown> = { ...m.variables };
    if (written !== null && m.codes?.variable !== undefined) variables[m.codes.variable] = m.codes.join === undefined ? written : written.join(m.codes.join);
    if (p?.kind === 'cursor' && p.variable !== undefined) variables[p.variable] = cursor;
    return { url, body: JSON.stringify({ query: m.graphql, variables }) };
  }

  /**
   * Every row of a mapping for one batch of codes (null: the whole listing), page after page,
   * handed to `each` as each page arrives. At most `maxPages`; more fails the read.
   */
  async function pages(
    c: Compiled,
    codes: readonly string[] | null,
    bounds: Bounds,
    each: (rows: Row[]) => void | Promise<void>,
    onePage = false,
  ): Promise<void> {
    const p = c.m.pagination;
    const maxPages = p?.maxPages ?? 1;
    let { url, body } = firstUrl(c, codes, null);
    for (let page = 1; ; page++) {
      const answer = await send(c, url, body, bounds);
      await each([...jsonRows(answer.body, c.json)]);
      if (onePage || p === undefined) return;
      if (p.kind === 'cursor') {
        const next = first(c.cursor as JsonPath, answer.body);
        const flagged = c.hasNext === undefined ? next !== undefined && next !== null && next !== '' : first(c.hasNext, answer.body) === true;
        if (!flagged) return;
        if (typeof next !== 'string' && typeof next !== 'number')
          throw fail(`the answer from ${answer.url.pathname} says there are more pages but gives no cursor at ${p.from}`);
        ({ url, body } = firstUrl(c, codes, String(next)));
      } else {
        const link = c.next !== undefined ? first(c.next, answer.body) : nextLink(answer.headers.link);
        if (link === undefined || link === null || link === '') return;
        if (typeof link !== 'string') throw fail(`the next-page link from ${answer.url.pathname} is not a URL`);
        const next = new URL(link, answer.url);
        if (next.origin !== base.origin) throw fail(`refused a next-page link from ${answer.url.pathname} to another origin`);
        url = next;
      }
      if (page >= maxPages)
        throw fail(`more than pagination.maxPages (${maxPages}) pages from ${c.m.path}; raise it, or let the API filter by code (\`codes\`)`);
    }
  }

  /** One request, with redirects on the base origin and rate limits waited out inside the deadline. Counted on the meter. */
  async function send(c: Compiled, url: URL, body: string | undefined, bounds: Bounds): Promise<Answer> {
    let target = url;
    for (let redirects = 0, limited = 0; ;) {
      if (target.origin !== base.origin) throw fail(`refused a request to another origin than baseUrl (for ${target.pathname})`);
      bounds.meter?.statement(name, c.entity);
      const res = await exchange(target, c.m.graphql !== undefined || c.m.method === 'POST' ? 'POST' : 'GET', body, bounds);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        const to = new URL(res.headers.location, target);
        if (to.origin !== base.origin) throw fail(`HTTP ${status} from ${target.pathname}: a redirect to another origin is not followed`);
        if (++redirects > MAX_REDIRECTS) throw fail(`HTTP ${status} from ${target.pathname}: more than ${MAX_REDIRECTS} redirects`);
        target = to;
        continue;
      }
      if (status === 429 || status === 503) {
        res.resume();
        const header = res.headers['retry-after'];
        const wait = retryAfterMs(header, Date.now()) ?? (status === 429 ? DEFAULT_RETRY_AFTER_MS : null);
        const what = status === 429 ? 'rate limited by the API' : 'the API is unavailable (HTTP 503)';
        if (wait === null) throw fail(`${what} at ${target.pathname}, without Retry-After`);
        const said =
          header === undefined
            ? `no Retry-After (waiting ${wait} ms)`
            : `Retry-After ${/^\d+$/.test(String(header).trim()) ? `${String(header).trim()} s` : `${Math.ceil(wait / 1000)} s`}`;
        if (Date.now() + wait >= bounds.deadline) throw fail(`${what}: ${said} exceeds the ${config.timeoutMs} ms deadline`);
        if (++limited > MAX_RATE_LIMIT_RETRIES) throw fail(`${what}: still limited after ${MAX_RATE_LIMIT_RETRIES} retries at ${target.pathname}`);
        await pause(wait, bounds.signal);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        const hint = status === 401 || status === 403 ? ' (check the source’s `auth`)' : '';
        throw fail(`HTTP ${status} from ${target.pathname}${hint}`);
      }
      const text = await readBody(res, target, bounds);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw fail(`the answer from ${target.pathname} is not JSON`);
      }
      const throttled = c.m.graphql === undefined ? null : throttledMs(json);
      if (throttled !== null) {
        // Shopify's GraphQL rate limit: 200 with a THROTTLED error, the wait told by the query cost
        const said = `throttled (GraphQL cost): ${Math.ceil(throttled / 1000)} s to wait`;
        if (Date.now() + throttled >= bounds.deadline) throw fail(`rate limited by the API: ${said} exceeds the ${config.timeoutMs} ms deadline`);
        if (++limited > MAX_RATE_LIMIT_RETRIES)
          throw fail(`rate limited by the API: still throttled after ${MAX_RATE_LIMIT_RETRIES} retries at ${target.pathname}`);
        await pause(throttled, bounds.signal);
        continue;
      }
      if (c.m.graphql !== undefined) graphqlErrors(json, target);
      return { url: target, headers: res.headers, body: json };
    }
  }

  /** A GraphQL answer with `errors` fails the read (a partial answer would silently lack records). */
  function graphqlErrors(json: unknown, url: URL): void {
    const errors = (json as { errors?: unknown } | null)?.errors;
    if (!Array.isArray(errors) || errors.length === 0) return;
    const firstError = errors[0] as { message?: unknown; extensions?: { code?: unknown } };
    const code = typeof firstError?.extensions?.code === 'string' ? ` (${firstError.extensions.code})` : '';
    throw fail(`GraphQL error from ${url.pathname}${code}: ${String(firstError?.message ?? 'no message').slice(0, 200)}`);
  }

  /** Sends one request; resolves with the response once its headers are in. Aborted with the read. */
  function exchange(url: URL, method: 'GET' | 'POST' | 'HEAD', body: string | undefined, bounds: Bounds): Promise<IncomingMessage> {
    const headers: Record<string, string> = { accept: 'application/json', ...config.headers };
    const auth = config.auth;
    if (auth?.bearer !== undefined) headers.authorization = `Bearer ${auth.bearer}`;
    else if (auth?.header !== undefined && auth.value !== undefined) headers[auth.header.toLowerCase()] = auth.value;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise<IncomingMessage>((resolve, reject) => {
      if (bounds.signal.aborted) {
        reject(abortReason(bounds.signal));
        return;
      }
      const signal = bounds.requestTimeoutMs === undefined ? bounds.signal : AbortSignal.any([bounds.signal, AbortSignal.timeout(bounds.requestTimeoutMs)]);
      const req = (https ? httpsRequest : httpRequest)(url, { method, headers, agent, signal }, resolve);
      req.on('error', (e) => reject(bounds.signal.aborted ? abortReason(bounds.signal) : fail(`request to ${url.pathname} failed: ${describe(e)}`, e)));
      req.end(body);
    });
  }

  /** The body as text, refused past `maxResponseBytes` (the socket is destroyed, the rest never read). */
  function readBody(res: IncomingMessage, url: URL, bounds: Bounds): Promise<string> {
    const max = config.maxResponseBytes;
    const over = () => fail(`the answer from ${url.pathname} is over maxResponseBytes (${max} bytes)`);
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      res.destroy();
      return Promise.reject(over());
    }
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) {
          res.destroy();
          reject(over());
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', (e) => reject(bounds.signal.aborted ? abortReason(bounds.signal) : fail(`the answer from ${url.pathname} broke off: ${describe(e)}`, e)));
      res.on('aborted', () => reject(bounds.signal.aborted ? abortReason(bounds.signal) : fail(`the answer from ${url.pathname} broke off`)));
    });
  }

  /** The bounds of one read: the deadline, a signal aborted at it (or with the caller's), the meter. */
  function boundsOf(options: ReadOptions | undefined, meter: StatementMeter | undefined): Bounds & { done(): void } {
    const deadline = options?.deadline ?? Date.now() + config.timeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new SourceError(name, 'timeout', `timed out after ${config.timeoutMs} ms`)),
      Math.max(0, deadline - Date.now()),
    );
    const outer = options?.signal;
    const onOuter = () => controller.abort(outer?.reason);
    if (outer?.aborted === true) onOuter();
    else outer?.addEventListener('abort', onOuter, { once: true });
    return {
      deadline,
      signal: controller.signal,
      meter,
      done() {
        clearTimeout(timer);
        outer?.removeEventListener('abort', onOuter);
        // a batch that failed leaves the read's other requests nobody waits for: they stop too
        if (!controller.signal.aborted) controller.abort(new Error('the read is over'));
      },
    };
  }

  /** Runs `work` under one read's bounds, releasing its timer whatever happens. */
  async function bounded<T>(options: ReadOptions | undefined, meter: StatementMeter | undefined, work: (b: Bounds) => Promise<T>): Promise<T> {
    const b = boundsOf(options, meter);
    try {
      return await work(b);
    } finally {
      b.done();
    }
  }

  function mapping(entity: Entity): Compiled {
    const c = entity === 'movements' ? undefined : mappings.get(entity);
    if (c === undefined) throw new Error(`source "${name}" maps no ${entity}`);
    return c;
  }

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter, options?: ReadOptions): Promise<RecordOf[E][]> {
    const c = mapping(entity);
    if (codes.length === 0) return [];
    const readAt = new Date();
    const asked = new Set(codes);
    const unique = [...asked];
    const batches: (readonly string[] | null)[] = [];
    if (c.m.codes === undefined) batches.push(null);
    else for (let i = 0; i < unique.length; i += c.m.codesPerRequest) batches.push(unique.slice(i, i + c.m.codesPerRequest));
    const rows: Row[] = [];
    await bounded(options, meter, (b) =>
      Promise.all(
        batches.map((batch) =>
          pages(c, batch, b, (page) => {
            for (const r of page) if (asked.has(codeOf(r))) rows.push(r);
          }),
        ),
      ),
    );
    return records(c, rows, readAt) as RecordOf[E][];
  }

  /** Rows as records: stock summed per (code, location) with the newest asOf; cost and items one per code (the first). */
  function records(c: Compiled, rows: readonly Row[], readAt: Date): (StockRecord | CostRecord | ItemRecord)[] {
    if (c.entity === 'stock') {
      const sums = new Map<string, StockRecord>();
      for (const r of rows) {
        const rec = stockRecord(r, readAt, config.timezone);
        const key = `${rec.code}\u0000${rec.location}`;
        const was = sums.get(key);
        if (was === undefined) {
          sums.set(key, rec);
          continue;
        }
        was.onHand += rec.onHand;
        was.committed += rec.committed;
        if (rec.asOf.getTime() > was.asOf.getTime()) was.asOf = rec.asOf;
        if (rec.invalid !== undefined) was.invalid = was.invalid === undefined ? rec.invalid : `${was.invalid}; ${rec.invalid}`;
      }
      return [...sums.values()];
    }
    const out = new Map<string, CostRecord | ItemRecord>();
    for (const r of rows) {
      const code = codeOf(r);
      if (out.has(code)) continue;
      out.set(
        code,
        c.entity === 'cost'
          ? costRecord(r, (c.m as NonNullable<HttpSourceConfig['cost']>).currency)
          : { code, name: r.name === undefined || r.name === null ? '' : String(r.name) },
      );
    }
    return [...out.values()];
  }

  /** Every code of a mapping's whole listing, distinct and in byte order. */
  async function allCodes(entity: HttpEntity, meter: StatementMeter | undefined): Promise<string[]> {
    const c = mapping(entity);
    const codes = new Set<string>();
    await bounded(undefined, meter, (b) =>
      pages(c, null, b, (page) => {
        for (const r of page) {
          const code = codeOf(r);
          if (code !== '') codes.add(code);
        }
      }),
    );
    return [...codes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  return {
    name,
    kind: 'http',
    entities,
    fetch,
    /** The whole listing read for each page asked (an API lists in its own order, not by code): fit for orphan checks, not for hot paths. */
    async listCodes(after: string | null, limit: number, meter?: StatementMeter, entity: HttpEntity = 'stock'): Promise<string[]> {
      if (!mappings.has(entity)) return [];
      const codes = await allCodes(entity, meter);
      const from = after === null ? 0 : codes.findIndex((c) => c > after);
      return from < 0 ? [] : codes.slice(from, from + limit);
    },
    /** Every record of `entity`, page by page (how a mirror loads): each request bounded by `timeoutMs`. */
    async scan<E extends Entity>(entity: E, each: (records: RecordOf[E][]) => void | Promise<void>, _batch?: number, signal?: AbortSignal): Promise<number> {
      const c = mapping(entity);
      let n = 0;
      const readAt = new Date();
      // no deadline for the whole read: the listing's pages are read one after another, each under its own timeout
      const b: Bounds = {
        deadline: Number.POSITIVE_INFINITY,
        signal: signal ?? new AbortController().signal,
        meter: undefined,
        requestTimeoutMs: config.timeoutMs,
      };
      await pages(c, null, b, async (page) => {
        const recs = (
          c.entity === 'stock' ? page.filter((r) => codeOf(r) !== '').map((r) => stockRecord(r, readAt, config.timezone)) : records(c, page, readAt)
        ) as RecordOf[E][];
        n += recs.length;
        if (recs.length > 0) await each(recs);
      });
      return n;
    },
    /**
     * One HEAD of `baseUrl` with the auth headers (no body is read): any answer but 401, 403 or a
     * 5xx means the API answers (a 404 or 405 on the base URL is common and fine); a 401 or 403
     * means it refuses our credentials.
     */
    async check(options?: ReadOptions) {
      await bounded(options, undefined, async (b) => {
        const res = await exchange(base, 'HEAD', undefined, b);
        res.resume();
        const status = res.statusCode ?? 0;
        if (status === 401 || status === 403) throw fail(`HTTP ${status} from ${base.pathname}: credentials refused`);
        if (status >= 500) throw fail(`HTTP ${status} from ${base.pathname}`);
      });
    },
    /** One request: the first page of the first mapping's listing. */
    async ping(options?: ReadOptions) {
      const c = [...mappings.values()][0];
      if (c === undefined) return;
      await bounded(options, undefined, (b) => pages(c, null, b, () => {}, true));
    },
    async close() {
      agent.destroy();
    },
  } satisfies Connector;
}

/** One read's bounds as the requests see them. */
interface Bounds {
  deadline: number;
  signal: AbortSignal;
  meter: StatementMeter | undefined;
  /** A whole-source scan: each request's own timeout (no read deadline). */
  requestTimeoutMs?: number;
}

const codeOf = (r: Row): string => (r.sku === undefined || r.sku === null ? '' : String(r.sku));

/** `zone`: the source's `timezone`, for an asOf without one. */
function stockRecord(r: Row, readAt: Date, zone: string): StockRecord {
  const problems: string[] = [];
  const read = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch (e) {
      problems.push((e as Error).message);
      return fallback;
    }
  };
  const location = r.location === undefined || r.location === null ? '' : String(r.location);
  if (location === '') problems.push('location is missing');
  const rec: StockRecord = {
    code: codeOf(r),
    location,
    onHand: read(() => whole(r.onHand, 'onHand', false), Number.NaN),
    committed: read(() => whole(r.committed, 'committed', true), Number.NaN),
    asOf: r.asOf === undefined || r.asOf === null ? readAt : read(() => timestamp(r.asOf, zone), new Date(Number.NaN)),
  };
  if (problems.length > 0) rec.invalid = problems.join('; ');
  return rec;
}

function costRecord(r: Row, fixedCurrency: string | undefined): CostRecord {
  const code = codeOf(r);
  const currency = r.currency === undefined || r.currency === null ? (fixedCurrency ?? '') : String(r.currency);
  const v = r.unitCost;
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  if (!/^-?\d+(\.\d+)?$/.test(s))
    return { code, amount: v === undefined ? '' : String(v), currency, invalid: `unit cost is not a decimal: ${JSON.stringify(v ?? null)}` };
  return { code, amount: s, currency };
}

/** A whole number of units (a number, or a string holding one); missing is 0 when optional. */
function whole(v: unknown, what: string, optional: boolean): number {
  if (v === undefined || v === null) {
    if (optional) return 0;
    throw new Error(`${what} is missing`);
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`${what} is not a whole number: ${JSON.stringify(v)}`);
  return n;
}

/**
 * How long a GraphQL answer throttled by its cost (Shopify's `THROTTLED` error) asks to wait, in
 * ms: the points missing for the query (`requestedQueryCost` − `currentlyAvailable`) at
 * `restoreRate` points a second, at least 1 s when the answer does not tell. Null: not throttled.
 */
export function throttledMs(json: unknown): number | null {
  const body = json as { errors?: { extensions?: { code?: unknown } }[]; extensions?: { cost?: Record<string, unknown> } } | null;
  if (!Array.isArray(body?.errors) || !body.errors.some((e) => e?.extensions?.code === 'THROTTLED')) return null;
  const cost = body.extensions?.cost;
  const status = cost?.throttleStatus as { currentlyAvailable?: unknown; restoreRate?: unknown } | undefined;
  const requested = Number(cost?.requestedQueryCost);
  const available = Number(status?.currentlyAvailable);
  const rate = Number(status?.restoreRate);
  if (!Number.isFinite(requested) || !Number.isFinite(available) || !(rate > 0)) return DEFAULT_RETRY_AFTER_MS;
  return Math.max(DEFAULT_RETRY_AFTER_MS, Math.ceil(((requested - available) / rate) * 1000));
}

/** `Retry-After` in ms from `now`: delay-seconds or an HTTP date; undefined header or unreadable: null. */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | null {
  const v = (Array.isArray(header) ? header[0] : header)?.trim();
  if (v === undefined || v === '') return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The `rel="next"` URL of a `Link` header, or undefined. */
export function nextLink(header: string | string[] | undefined): string | undefined {
  const v = Array.isArray(header) ? header.join(', ') : header;
  if (v === undefined) return undefined;
  for (const part of v.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m !== null && /;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?/i.test(m[2] as string)) return m[1];
  }
  return undefined;
}

/** Waits `ms`, or rejects when the read is aborted first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const done = () => {
      clearTimeout(t);
      reject(abortReason(signal));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', done);
      resolve();
    }, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const abortReason = (signal: AbortSignal): unknown => signal.reason ?? new Error('aborted');

/** A socket error in words: its code (ECONNREFUSED, ...) or message; never the host. */
function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ECONNRESET') return 'connection reset';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return 'host not found';
  return err.code ?? 'network error';
}
