/**
 * The operator's status page, `/status` (server-rendered HTML) and its JSON twin `/status.json`,
 * and the access rule they share with `/metrics`:
 *
 * - per source: state, breaker, latency of the last read against its deadline, freshness (age of
 *   the newest record read against `maxAgeSeconds`), error rate over the last 15 minutes and a
 *   sparkline of reads per minute (from the health registry, src/sources/health.ts, as observed
 *   by src/server/metrics.ts);
 * - open anomalies by kind (the anomaly store);
 * - the last completed reconciliation run's variance summary and the trend of recent runs.
 *
 * The page has no script at all: a strict CSP (`default-src 'none'`, its one `<style>` by hash),
 * charts are inline SVG, fonts are the system's, every value is HTML-escaped, and it refreshes
 * itself with `<meta http-equiv="refresh">`.
 *
 * **Who may see it.** It shows operational data, so an analyst (or admin) API key is needed, in
 * a header as for /graphql (`Authorization: Bearer KEY` or `x-api-key`; never in the URL: these
 * paths take no query string at all). A browser cannot send a header to a plain page, so with
 * `server.loopbackStatus` on, a request from this host itself needs no key: its peer is a
 * loopback address, its `Host` a loopback name (not a DNS-rebound name), and it carries no proxy
 * header (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`, `X-Forwarded-Host`, `Via`). It is off by
 * default: a reverse proxy on the same host that adds none of those headers would make
 * everything it forwards local.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import type { BreakerState, SourceStatus } from '../sources/health.js';
import { ANOMALY_KINDS, type AnomalyStatus } from '../domain/anomalies.js';
import type { ClusterView } from '../service/cluster.js';
import type { LeaseView } from '../service/leases.js';
import type { SweepStatus } from '../domain/sweep.js';
import type { AnomalyPage, AnomalyStore } from '../store/anomaly-store.js';
import type { ReconciliationRun, ReconciliationStore } from '../store/reconciliation-store.js';
import type { ReservationStore } from '../store/reservation-store.js';
import { allows, type AuthResult, type Principal } from './auth.js';
import { htmlPageHeaders, type StaticResponse } from './explorer.js';
import { PACKAGE_VERSION, type Metrics, type MinuteCounts, type ObservedHealthRegistry } from './metrics.js';
import type { TrafficView } from './traffic.js';
import type { MirrorView } from '../feeds/status.js';

/**
 * A source at a glance, the worst that holds: DOWN, DEGRADED, STALE (it answers, but its newest
 * usable record is older than `maxAgeSeconds`, or its mirror is lagging), else UP.
 */
export type SourceState = 'UP' | 'STALE' | 'DEGRADED' | 'DOWN';

export interface SourceView {
  name: string;
  kind: string;
  /** The headline's view of it: `status`, and STALE for a source that answers with old figures. */
  state: SourceState;
  status: SourceStatus;
  breaker: BreakerState;
  /** The last read's latency, success or failure, in ms; null before any read. */
  latencyMs: number | null;
  timeoutMs: number;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
  /** Why it is degraded although it answers (an entity whose mapping fails, a file source serving an older snapshot); null: nothing. */
  problem: string | null;
  /** The entities whose mapping does not match the source (`cost`: table "tabItem Price" does not exist); the others are answered. */
  failingEntities: { entity: string; reason: string; since: string }[];
  consecutiveFailures: number;
  failureThreshold: number;
  /** While DOWN: since when, and when it is tried next (the breaker's trial, or the health check). */
  downSince: string | null;
  nextRetryAt: string | null;
  /** The background health check (`sources.X.healthCheck`): when it last ran and whether the source answered; null before the first. */
  healthCheck: { lastAt: string | null; ok: boolean | null; nextAt: string | null };
  /** Its mirror is lagging past `sync.maxLagSeconds` (mirrored sources only). */
  mirrorLagging: boolean;
  freshness: {
    /** The newest `asOf` this process has read from the source. */
    newestAsOf: string | null;
    ageSeconds: number | null;
    maxAgeSeconds: number | null;
    /** Older than maxAgeSeconds; null when either is unknown. */
    stale: boolean | null;
  };
  reads: {
    /** Since the process started. */
    /** `rejected`: refused by the open breaker, or load shed. */
    total: { ok: number; failed: number; rejected: number };
    /** Over the last `minutes` minutes; errorRate = (failed + rejected) / all, null without reads. */
    recent: { minutes: number; ok: number; failed: number; rejected: number; errorRate: number | null };
    perMinute: Array<{ at: string; ok: number; failed: number; rejected: number }>;
  };
  inFlight: number;
  queued: number;
}

export interface AnomalyCount {
  kind: string;
  open: number;
  acknowledged: number;
}

export type RunView = Omit<ReconciliationRun, 'startedAt' | 'finishedAt'> & { startedAt: string; finishedAt: string | null };

export interface StatusData {
  generatedAt: string;
  uptimeSeconds: number;
  /** This build and where its config came from. */
  build: { version: string; node: string; configPath: string | null };
  /** Sources counted once each, by their worst state (SourceView.state); `worst` colours the headline. */
  summary: { up: number; stale: number; degraded: number; down: number; configured: number; worst: SourceState };
  sources: SourceView[];
  /** GraphQL traffic (src/server/traffic.ts): requests/s and p95 over the last minute, errors by code; null when not measured. */
  traffic: TrafficView | null;
  /**
   * The catalogue sweep's last run and next one (src/domain/sweep.ts), from the sweep's status
   * accessor (StatusDeps.sweep); null when the server runs no sweep.
   */
  sweep: SweepView | null;
  /** Null when the store did not answer (see `problems`). */
  anomalies: { open: number; acknowledged: number; byKind: AnomalyCount[] } | null;
  reconciliation: {
    /** The newest completed run: the variance summary. */
    last: RunView | null;
    /** The newest run when it is not `last` (running, or failed). */
    latest: RunView | null;
    /** Up to 10 completed runs, oldest first. */
    trend: Array<{ id: string; finishedAt: string | null; lines: number; discrepancies: number; absUnexplained: number }>;
  } | null;
  /** Mirrored sources (`sync.mode: mirror`) and their feeds; empty when every source is read live. */
  mirrors: MirrorView[];
  /** Holds at checkout counting now (docs/reservations.md); null when the store did not answer. */
  reservations: { active: number; counting: number; heldUnits: number } | null;
  /** Events out (docs/events.md); null when no sink is configured or the store did not answer. */
  events: EventsView | null;
  /**
   * Several instances as one (src/service/cluster.ts, docs/scaling.md): this instance, whether
   * Redis answers (limits shared or per instance), and who holds each lease; null for a process
   * that takes part in no fleet.
   */
  cluster: ClusterStatusView | null;
  /** What could not be collected, in words. */
  problems: string[];
}

export interface ClusterStatusView extends ClusterView {
  /** Each one-at-a-time job and the instance running it (null: nobody now); empty when the store did not answer. */
  leases: LeaseView[];
}

/** The sweep's status as /status.json shows it (dates as ISO strings). */
export interface SweepView {
  intervalSeconds: number;
  running: boolean;
  nextAt: string | null;
  last: { startedAt: string; finishedAt: string | null; status: string; found: number; resolved: number; failures: number } | null;
}

/** Events out, per sink: the outbox's pending and dead deliveries and this process's publisher. */
export interface EventsView {
  sinks: Array<{
    name: string;
    kind: string;
    pending: number;
    deadLetters: number;
    /** Age of the oldest pending event, in seconds; null when none is pending. */
    oldestPendingSeconds: number | null;
    delivered: number;
    failedAttempts: number;
    pausedUntil: string | null;
    lastError: string | null;
    /** Why the sink stopped sending for good (a webhook's 410 Gone) until a restart, or null. */
    stopped: string | null;
  }>;
  /** The availability recompute: marks waiting in memory, figures compared, events written, SKUs put off by a source outage. */
  availability: { queued: number; compared: number; published: number; deferred: number; lastSweep: string | null };
}

export interface StatusDeps {
  health: ObservedHealthRegistry;
  /** The store's anomalies, counted open and acknowledged by kind. */
  anomalies: Pick<AnomalyStore, 'openCounts'>;
  /** GraphQL traffic (Metrics.traffic); none when absent. */
  traffic?: () => TrafficView;
  /** The config file the server was started with (`--config`, INVENTORY_GRAPH_CONFIG, ./inventory-graph.yaml). */
  configPath?: string;
  /** The sweep's status accessor (src/service/sweep.ts), when the server runs one. */
  sweep?: () => SweepStatus | null;
  runs: ReconciliationStore;
  /** Mirrored sources and their feeds (src/feeds/status.ts); none when absent. */
  mirrors?: () => Promise<MirrorView[]>;
  /** The store's reservations, summed (none when absent). */
  reservations?: Pick<ReservationStore, 'summary'>;
  /** Events out (none when no sink is configured). */
  events?: () => Promise<EventsView>;
  /** The fleet (src/service/cluster.ts, src/service/leases.ts); none when absent. */
  cluster?: { view: () => ClusterView; leases: () => Promise<LeaseView[]> };
  now?: () => Date;
  /** How long a finished collection is reused, in ms. Defaults to 0: only calls made while one runs share it (a scrape's gauges). */
  reuseMs?: number;
  /** Longest wait for the store, in ms. Defaults to 2000. */
  storeTimeoutMs?: number;
}

const WINDOW = 15;

/** Collects the status data; calls made while a collection runs (and `reuseMs` after it) share it. */
export function createStatusCollector(d: StatusDeps): () => Promise<StatusData> {
  const now = d.now ?? (() => new Date());
  let running: Promise<StatusData> | undefined;
  let done: { at: number; data: StatusData } | undefined;
  return () => {
    if (running !== undefined) return running;
    if (done !== undefined && Date.now() - done.at < (d.reuseMs ?? 0)) return Promise.resolve(done.data);
    const p = collect(d, now(), d.storeTimeoutMs ?? 2000);
    running = p;
    void p
      .then((data) => (done = { at: Date.now(), data }))
      .catch(() => {})
      .finally(() => (running = undefined));
    return p;
  };
}

async function collect(d: StatusDeps, now: Date, timeoutMs: number): Promise<StatusData> {
  const problems: string[] = [];
  const [anomalies, runs, mirrors, reservations, events, leases] = await Promise.all([
    within(openAnomalies(d.anomalies), timeoutMs).catch(() => {
      problems.push('The store did not answer: open anomalies are not shown.');
      return null;
    }),
    within(d.runs.list(12), timeoutMs).catch(() => {
      problems.push('The store did not answer: reconciliation runs are not shown.');
      return null;
    }),
    within(d.mirrors?.() ?? Promise.resolve([]), timeoutMs).catch(() => {
      problems.push('Mirrored sources could not be looked at.');
      return [];
    }),
    d.reservations === undefined
      ? null
      : within(d.reservations.summary(now.getTime()), timeoutMs).catch(() => {
          problems.push('The store did not answer: reservations are not shown.');
          return null;
        }),
    d.events === undefined
      ? null
      : within(d.events(), timeoutMs).catch(() => {
          problems.push('The store did not answer: events are not shown.');
          return null;
        }),
    d.cluster === undefined
      ? []
      : within(d.cluster.leases(), timeoutMs).catch(() => {
          problems.push('The store did not answer: lease holders are not shown.');
          return [];
        }),
  ]);
  const lagging = new Set(mirrors.filter((m) => m.state === 'lagging').map((m) => m.source));
  const sources = d.health.list().map((h) => {
    const { newest, ageSeconds: age, stale } = d.health.freshness(h, now);
    const perMinute = d.health.recent(h.name);
    const sum = (k: keyof Omit<MinuteCounts, 'at'>) => perMinute.reduce((n, m) => n + m[k], 0);
    const recent = { ok: sum('ok'), failed: sum('failed'), rejected: sum('rejected') };
    const all = recent.ok + recent.failed + recent.rejected;
    const mirrorLagging = lagging.has(h.name);
    return {
      name: h.name,
      kind: h.kind,
      state: h.status !== 'UP' ? h.status : stale === true || mirrorLagging ? 'STALE' : 'UP',
      status: h.status,
      breaker: h.breaker,
      latencyMs: h.lastLatencyMs,
      timeoutMs: h.timeoutMs,
      lastSuccessAt: iso(h.lastSuccessAt),
      lastErrorAt: iso(h.lastErrorAt),
      lastError: h.lastError,
      problem: h.problem,
      failingEntities: h.failingEntities.map((f) => ({ entity: f.entity, reason: f.reason, since: f.since.toISOString() })),
      consecutiveFailures: h.consecutiveFailures,
      failureThreshold: h.failureThreshold,
      downSince: iso(h.downSince),
      nextRetryAt: iso(h.nextRetryAt),
      healthCheck: { lastAt: iso(h.lastCheckAt), ok: h.lastCheckOk, nextAt: iso(d.health.nextCheckAt(h.name)) },
      mirrorLagging,
      freshness: {
        newestAsOf: iso(newest),
        ageSeconds: age,
        maxAgeSeconds: h.maxAgeSeconds,
        stale,
      },
      reads: {
        total: { ok: h.successCount, failed: h.errorCount, rejected: h.rejectedCount + h.shedCount },
        recent: { minutes: WINDOW, ...recent, errorRate: all === 0 ? null : (recent.failed + recent.rejected) / all },
        perMinute: perMinute.map((m) => ({ at: m.at.toISOString(), ok: m.ok, failed: m.failed, rejected: m.rejected })),
      },
      inFlight: h.inFlight,
      queued: h.queued,
    } satisfies SourceView;
  });
  const count = (st: SourceState) => sources.filter((x) => x.state === st).length;
  const summary = { up: count('UP'), stale: count('STALE'), degraded: count('DEGRADED'), down: count('DOWN'), configured: sources.length };
  return {
    generatedAt: now.toISOString(),
    uptimeSeconds: Math.round(process.uptime()),
    build: { version: PACKAGE_VERSION, node: process.version, configPath: d.configPath ?? null },
    summary: {
      ...summary,
      worst: summary.down > 0 ? 'DOWN' : summary.degraded > 0 ? 'DEGRADED' : summary.stale > 0 ? 'STALE' : 'UP',
    },
    sources,
    traffic: d.traffic?.() ?? null,
    sweep: sweepView(d.sweep),
    anomalies,
    reconciliation: runs === null ? null : summariseRuns(runs),
    mirrors,
    reservations,
    events,
    cluster: d.cluster === undefined ? null : { ...d.cluster.view(), leases },
    problems,
  };
}

function sweepView(accessor: StatusDeps['sweep']): SweepView | null {
  if (accessor === undefined) return null;
  const st = accessor();
  if (st === null) return null;
  const l = st.last;
  return {
    intervalSeconds: st.intervalSeconds,
    running: st.running,
    nextAt: iso(st.nextAt),
    last:
      l === null
        ? null
        : {
            startedAt: l.startedAt.toISOString(),
            finishedAt: iso(l.finishedAt),
            status: l.status,
            found: l.found,
            resolved: l.resolved,
            failures: l.failures.length,
          },
  };
}

async function openAnomalies(store: StatusDeps['anomalies']): Promise<NonNullable<StatusData['anomalies']>> {
  const list = (await store.openCounts()).sort((a, b) => b.open + b.acknowledged - (a.open + a.acknowledged) || a.kind.localeCompare(b.kind));
  return { open: list.reduce((n, a) => n + a.open, 0), acknowledged: list.reduce((n, a) => n + a.acknowledged, 0), byKind: list };
}

function summariseRuns(runs: ReconciliationRun[]): NonNullable<StatusData['reconciliation']> {
  const view = (r: ReconciliationRun): RunView => ({ ...r, startedAt: r.startedAt.toISOString(), finishedAt: iso(r.finishedAt) });
  const completed = runs.filter((r) => r.status === 'completed');
  const last = completed[0];
  const newest = runs[0];
  return {
    last: last === undefined ? null : view(last),
    latest: newest === undefined || newest === last ? null : view(newest),
    trend: completed
      .slice(0, 10)
      .reverse()
      .map((r) => ({ id: r.id, finishedAt: iso(r.finishedAt), lines: r.lines, discrepancies: r.discrepancies, absUnexplained: r.absUnexplained })),
  };
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => {});
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Access

export type OperatorAccess = { ok: true; principal: Principal } | { ok: false; status: 400 | 401 | 403; message: string };

/** Who reads /status, /status.json and /metrics without a key when `server.loopbackStatus` is on: requests from this host itself. */
export const LOOPBACK_PRINCIPAL: Principal = { name: 'loopback', role: 'analyst' };

/** True for a request made on this host, straight to us (see the module comment). */
export function isLocalRequest(remoteAddress: string | undefined, headers: IncomingHttpHeaders): boolean {
  const a = remoteAddress ?? '';
  if (!(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a) || a === '::1' || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(a))) return false;
  for (const h of ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host', 'via']) if (headers[h] !== undefined) return false;
  return /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i.test(headers.host ?? '');
}

export function operatorAccess(
  req: Pick<IncomingMessage, 'headers'> & { socket: { remoteAddress?: string } },
  url: URL,
  authenticate: (headers: IncomingHttpHeaders, search: URLSearchParams) => AuthResult,
  loopbackWithoutKey: boolean,
  /** The query parameters this path takes (the anomaly list's filter and cursor); any other is refused, an API key above all. */
  params: readonly string[] = [],
): OperatorAccess {
  if ([...url.searchParams.keys()].some((k) => !params.includes(k)) || (params.length === 0 && url.search !== '')) {
    if (params.length > 0) {
      return {
        ok: false,
        status: 400,
        message: `${url.pathname} takes only ${params.join(', ')} as query parameters (and API keys are never accepted in the URL): send Authorization: Bearer <key> or x-api-key.`,
      };
    }
    return {
      ok: false,
      status: 400,
      message: `${url.pathname} takes no query parameters (and API keys are never accepted in the URL): send Authorization: Bearer <key> or x-api-key.`,
    };
  }
  const presented = req.headers.authorization !== undefined || req.headers['x-api-key'] !== undefined;
  if (!presented && loopbackWithoutKey && isLocalRequest(req.socket.remoteAddress, req.headers)) return { ok: true, principal: LOOPBACK_PRINCIPAL };
  const auth = authenticate(req.headers, url.searchParams);
  if (!auth.ok)
    return {
      ok: false,
      status: 401,
      message: `${auth.message} ${url.pathname} needs an analyst or admin key${loopbackWithoutKey ? ' (or a request from this host)' : ''}.`,
    };
  if (!allows(auth.principal.role, 'analyst')) {
    return { ok: false, status: 403, message: `${url.pathname} shows operational data: it needs an analyst or admin key, not ${auth.principal.role}.` };
  }
  return { ok: true, principal: auth.principal };
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface OperatorResponse extends StaticResponse {
  /** `status` for /status, /status.json and the anomaly list under it. */
  route: 'status' | 'metrics';
  principal?: Principal;
}

export interface OperatorRoutesOptions {
  authenticate: (headers: IncomingHttpHeaders, search: URLSearchParams) => AuthResult;
  status: () => Promise<StatusData>;
  metrics?: Metrics;
  /** Requests from this host need no key (`server.loopbackStatus`). Defaults to false. */
  loopbackWithoutKey?: boolean;
  /** The page's refresh interval, in seconds. Defaults to 15. */
  refreshSeconds?: number;
  /** The anomaly store's filtered pages, for /status/anomalies; without it those paths answer 404. */
  anomalies?: Pick<AnomalyStore, 'list'>;
}

const PATHS: Record<string, OperatorResponse['route']> = {
  '/status': 'status',
  '/status.json': 'status',
  '/metrics': 'metrics',
  '/status/anomalies': 'status',
  '/status/anomalies.json': 'status',
};

/** Anomalies a page of /status/anomalies lists. */
export const ANOMALY_PAGE_SIZE = 50;
const ANOMALY_PARAMS = ['kind', 'status', 'after'] as const;
const STATUSES: readonly AnomalyStatus[] = ['OPEN', 'ACKNOWLEDGED', 'RESOLVED'];

/** The filter of /status/anomalies from its query string, or what is wrong with it (each bad value named). */
export function anomalyQuery(
  search: URLSearchParams,
): { ok: true; kinds: string[]; statuses: AnomalyStatus[]; after: string | null } | { ok: false; message: string } {
  const kinds = search.getAll('kind');
  const statuses = search.getAll('status');
  const afters = search.getAll('after');
  const badKind = kinds.find((k) => !(ANOMALY_KINDS as readonly string[]).includes(k));
  if (badKind !== undefined) return { ok: false, message: `kind ${JSON.stringify(badKind)} is not a kind of anomaly: one of ${ANOMALY_KINDS.join(', ')}.` };
  const badStatus = statuses.find((x) => !(STATUSES as readonly string[]).includes(x));
  if (badStatus !== undefined) return { ok: false, message: `status ${JSON.stringify(badStatus)} is not a status: one of ${STATUSES.join(', ')}.` };
  if (afters.length > 1 || (afters[0] !== undefined && !/^[1-9]\d{0,17}$/.test(afters[0])))
    return { ok: false, message: `after must be one anomaly id (the endCursor of the page before), got ${JSON.stringify(afters.join(','))}.` };
  return { ok: true, kinds, statuses: statuses as AnomalyStatus[], after: afters[0] ?? null };
}

/** Answers /status, /status.json and /metrics; undefined for any other path. */
export function createOperatorRoutes(o: OperatorRoutesOptions) {
  const loopback = o.loopbackWithoutKey ?? false;
  return async function operator(req: IncomingMessage, url: URL): Promise<OperatorResponse | undefined> {
    const route = PATHS[url.pathname];
    if (route === undefined) return undefined;
    const list = url.pathname.startsWith('/status/anomalies');
    const method = req.method ?? 'GET';
    const text = (status: number, message: string, extra: Record<string, string> = {}): OperatorResponse => ({
      route,
      status,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra },
      body: `${message}\n`,
    });
    if (method !== 'GET' && method !== 'HEAD') return text(405, `Method ${method} is not allowed on ${url.pathname}.`, { allow: 'GET, HEAD' });
    req.resume();
    const access = operatorAccess(req, url, o.authenticate, loopback, list ? ANOMALY_PARAMS : []);
    if (!access.ok) return text(access.status, access.message, access.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    const principal = access.principal;
    const head = (r: OperatorResponse): OperatorResponse => (method === 'HEAD' ? { ...r, body: '' } : r);

    if (url.pathname === '/metrics') {
      if (o.metrics === undefined) return { ...text(404, 'Metrics are off.'), principal };
      const m = await o.metrics.render();
      return head({
        route,
        principal,
        status: 200,
        headers: { 'content-type': m.contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
        body: m.body,
      });
    }
    if (list) {
      if (o.anomalies === undefined) return { ...text(404, 'The anomaly list is not served here.'), principal };
      const q = anomalyQuery(url.searchParams);
      if (!q.ok) return { ...text(400, q.message), principal };
      const page = await o.anomalies.list({ kinds: q.kinds, statuses: q.statuses }, ANOMALY_PAGE_SIZE, q.after);
      if (url.pathname.endsWith('.json')) {
        return head({
          route,
          principal,
          status: 200,
          headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
          body: JSON.stringify({ filter: { kinds: q.kinds, statuses: q.statuses }, after: q.after, ...page }),
        });
      }
      return head({ route, principal, status: 200, headers: { ...PAGE_HEADERS }, body: renderAnomalyList(page, q) });
    }
    const data = await o.status();
    if (url.pathname === '/status.json') {
      return head({
        route,
        principal,
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
        body: JSON.stringify(data),
      });
    }
    return head({ route, principal, status: 200, headers: { ...PAGE_HEADERS }, body: renderStatusPage(data, { refreshSeconds: o.refreshSeconds ?? 15 }) });
  };
}

// ---------------------------------------------------------------------------------------------
// The page

const CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --idle: #818b98; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: var(--muted); font-size: 13px; }
main { padding: 16px 24px 32px; max-width: 1280px; }
h2 { font-size: 15px; margin: 24px 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 200px; background: var(--bg); }
.card .big { font-size: 22px; font-weight: 600; }
.card .sub { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--panel); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.small { font-size: 12px; color: var(--muted); }
.err { color: var(--bad); font-size: 12px; max-width: 320px; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.b-UP, .b-CLOSED, .b-completed { color: var(--ok); }
.b-DEGRADED, .b-HALF_OPEN, .b-running { color: var(--warn); }
.b-DOWN, .b-OPEN, .b-failed { color: var(--bad); }
.b-STALE { color: var(--warn); }
.card.w-UP { border-left: 4px solid var(--ok); } .card.w-STALE, .card.w-DEGRADED { border-left: 4px solid var(--warn); } .card.w-DOWN { border-left: 4px solid var(--bad); }
.down-since { font-size: 12px; font-weight: 600; }
a { color: var(--accent); }
.pager { margin-top: 10px; }
.warn { color: var(--warn); } .bad { color: var(--bad); } .good { color: var(--ok); }
svg { vertical-align: middle; }
svg .track { fill: #eaeef2; } svg .ok { fill: #2da44e; } svg .warn { fill: #d4a72c; } svg .bad { fill: #e5534b; }
svg .idle { fill: #afb8c1; } svg .acc { fill: #54aeff; } svg .mark { stroke: #1f2328; stroke-width: 1.5; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.sw.ok { background: #2da44e; } .sw.warn { background: #d4a72c; } .sw.bad { background: #e5534b; } .sw.idle { background: #afb8c1; } .sw.acc { background: #54aeff; }
.problems { border: 1px solid var(--bad); color: var(--bad); border-radius: 6px; padding: 8px 12px; margin-top: 12px; }
.row2 { display: grid; grid-template-columns: minmax(280px, 1fr) minmax(320px, 1.4fr); gap: 24px; }
@media (max-width: 900px) { .row2 { grid-template-columns: 1fr; } }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
`;

const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS, 'utf8').digest('base64')}'`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = htmlPageHeaders(CSP);

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const e = (v: unknown) => escapeHtml(String(v));
const n = (v: number) => v.toLocaleString('en-US');
const pct = (v: number) => `${v >= 0.1 || v === 0 ? Math.round(v * 100) : (v * 100).toFixed(1)} %`;

/** 45 s, 12 min, 3 h 20 min, 2 d 1 h. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.round((s % 86400) / 3600);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

const ago = (at: string | null, now: number) => (at === null ? 'never' : `${duration(Math.max(0, (now - Date.parse(at)) / 1000))} ago`);
const stamp = (at: string) => `${at.slice(0, 19).replace('T', ' ')} UTC`;

/** A horizontal bar: `value` of `max`, with an optional marker (e.g. the limit) at `mark`. */
function bar(value: number, max: number, cls: string, label: string, mark?: number, width = 110): string {
  const h = 10;
  const x = (v: number) => Math.max(0, Math.min(width, (v / max) * width));
  const marker = mark === undefined ? '' : `<line class="mark" x1="${x(mark).toFixed(1)}" x2="${x(mark).toFixed(1)}" y1="0" y2="${h}"/>`;
  return `<svg width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="${e(label)}"><title>${e(label)}</title><rect class="track" width="${width}" height="${h}" rx="2"/><rect class="${cls}" width="${x(value).toFixed(1)}" height="${h}" rx="2"/>${marker}</svg>`;
}

/** Reads per minute, stacked: answered (green), failed (red), refused by the breaker or bulkhead (grey). */
function sparkline(perMinute: SourceView['reads']['perMinute']): string {
  const w = 6;
  const h = 26;
  const max = Math.max(1, ...perMinute.map((m) => m.ok + m.failed + m.rejected));
  const bars = perMinute
    .map((m, i) => {
      let y = h;
      const seg = (count: number, cls: string) => {
        if (count === 0) return '';
        const height = Math.max(1.5, (count / max) * h);
        y -= height;
        return `<rect class="${cls}" x="${i * w}" y="${y.toFixed(1)}" width="${w - 1}" height="${height.toFixed(1)}"/>`;
      };
      const empty = m.ok + m.failed + m.rejected === 0 ? `<rect class="track" x="${i * w}" y="${h - 1}" width="${w - 1}" height="1"/>` : '';
      return empty + seg(m.ok, 'ok') + seg(m.failed, 'bad') + seg(m.rejected, 'idle');
    })
    .join('');
  const total = perMinute.reduce((s, m) => ({ ok: s.ok + m.ok, failed: s.failed + m.failed, rejected: s.rejected + m.rejected }), {
    ok: 0,
    failed: 0,
    rejected: 0,
  });
  const label = `Reads per minute over the last ${perMinute.length} minutes: ${total.ok} answered, ${total.failed} failed, ${total.rejected} refused`;
  return `<svg width="${perMinute.length * w}" height="${h}" viewBox="0 0 ${perMinute.length * w} ${h}" role="img" aria-label="${e(label)}"><title>${e(label)}</title>${bars}</svg>`;
}

/** One bar split into parts, each a share of the total. */
function stacked(parts: Array<{ value: number; cls: string; label: string }>, width = 520, h = 16): string {
  const total = parts.reduce((s, p) => s + p.value, 0);
  let x = 0;
  const rects = parts
    .filter((p) => p.value > 0)
    .map((p) => {
      const w = total === 0 ? 0 : (p.value / total) * width;
      const title = p.label === '' ? '' : `<title>${e(`${p.label}: ${n(p.value)}`)}</title>`;
      const r = `<rect class="${p.cls}" x="${x.toFixed(1)}" width="${Math.max(w, 1).toFixed(1)}" height="${h}">${title}</rect>`;
      x += w;
      return r;
    })
    .join('');
  const label = parts
    .filter((p) => p.label !== '')
    .map((p) => `${p.label} ${n(p.value)}`)
    .join(', ');
  return `<svg width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="${e(label)}"><rect class="track" width="${width}" height="${h}"/>${rects}</svg>`;
}

function sourceRow(s: SourceView, now: number): string {
  const latency =
    s.latencyMs === null
      ? '<span class="small">no read yet</span>'
      : `${n(s.latencyMs)} ms ${bar(s.latencyMs, s.timeoutMs, s.latencyMs > s.timeoutMs * 0.8 ? 'warn' : 'ok', `last read ${s.latencyMs} ms of a ${s.timeoutMs} ms deadline`)}<div class="small">deadline ${n(s.timeoutMs)} ms</div>`;
  const f = s.freshness;
  let freshness: string;
  if (f.ageSeconds === null) freshness = '<span class="small">no dated record read yet</span>';
  else if (f.maxAgeSeconds === null) freshness = `${e(duration(f.ageSeconds))}<div class="small">no max age</div>`;
  else {
    const cls = f.stale ? 'bad' : f.ageSeconds > f.maxAgeSeconds * 0.8 ? 'warn' : 'ok';
    freshness =
      `<span class="${f.stale ? 'bad' : ''}">${e(duration(f.ageSeconds))}</span> ` +
      bar(
        Math.min(f.ageSeconds, f.maxAgeSeconds * 2),
        f.maxAgeSeconds * 2,
        cls,
        `newest record ${duration(f.ageSeconds)} old; max age ${duration(f.maxAgeSeconds)}`,
        f.maxAgeSeconds,
      ) +
      `<div class="small">max ${e(duration(f.maxAgeSeconds))}${f.stale ? ' · <span class="bad">STALE</span>' : ''}</div>`;
  }
  const r = s.reads.recent;
  const all = r.ok + r.failed + r.rejected;
  const rate =
    r.errorRate === null
      ? '<span class="small">no reads</span>'
      : `<span class="${r.errorRate > 0.05 ? 'bad' : r.errorRate > 0 ? 'warn' : ''}">${pct(r.errorRate)}</span><div class="small">${n(r.failed + r.rejected)} of ${n(all)}${r.rejected > 0 ? ` (${n(r.rejected)} refused)` : ''}</div>`;
  const lastError =
    s.lastError === null ? '' : `<div class="err" title="${e(s.lastErrorAt ?? '')}">last error ${e(ago(s.lastErrorAt, now))}: ${e(s.lastError)}</div>`;
  const problem = s.problem === null ? '' : `<div class="err">${e(s.problem)}</div>`;
  const down =
    s.downSince === null
      ? ''
      : `<div class="down-since bad">down since ${e(clock(s.downSince))}${s.nextRetryAt === null ? ', next retry with the next request' : `, next retry ${e(clock(s.nextRetryAt))}`}</div>`;
  const c = s.healthCheck;
  const check =
    c.lastAt === null
      ? c.nextAt === null
        ? ''
        : `<div class="small check">first check ${e(clock(c.nextAt))}</div>`
      : `<div class="small check">checked ${e(ago(c.lastAt, now))}: <span class="${c.ok === true ? 'good' : 'bad'}">${c.ok === true ? 'answered' : 'no answer'}</span></div>`;
  const stale = s.state === 'STALE' ? ` <span class="badge b-STALE">STALE</span>` : '';
  return `<tr data-source="${e(s.name)}">
<td data-state="${e(s.state)}"><strong>${e(s.name)}</strong> <span class="small">${e(s.kind)}</span><div class="small">last success ${e(ago(s.lastSuccessAt, now))}</div></td>
<td><span class="badge b-${e(s.status)}">${e(s.status)}</span>${stale}${down}${problem}${lastError}${check}</td>
<td><span class="badge b-${e(s.breaker)}">${e(s.breaker.replace('_', '-'))}</span><div class="small">${s.consecutiveFailures === 0 ? `opens after ${n(s.failureThreshold)} failures in a row` : `${n(s.consecutiveFailures)} failed in a row (opens at ${n(s.failureThreshold)})`}</div></td>
<td>${latency}</td>
<td>${freshness}</td>
<td class="num">${rate}</td>
<td>${sparkline(s.reads.perMinute)}<div class="small">${n(s.inFlight)} in flight, ${n(s.queued)} queued</div></td>
</tr>`;
}

function mirrorsSection(mirrors: readonly MirrorView[]): string {
  if (mirrors.length === 0) return '';
  const rows = mirrors
    .map((m) => {
      const lag = m.lagSeconds === null ? 'never' : duration(Math.round(m.lagSeconds));
      const state = `<span class="${m.state === 'lagging' ? 'bad' : m.state === 'loading' ? 'warn' : 'good'}">${e(m.state)}</span>`;
      const feeds = m.feeds
        .map(
          (f) =>
            `<div data-feed="${e(f.name)}">${e(f.kind)}: <span class="${f.connected ? 'good' : 'bad'}">${f.connected ? 'connected' : 'disconnected'}</span>, lag ${e(
              f.lagSeconds === null ? 'never caught up' : duration(Math.round(f.lagSeconds)),
            )}, ${n(f.applied)} applied (${f.appliedPerSecond}/s), ${n(f.duplicates)} duplicates, ${n(f.deadLetters)} dead letters${
              f.lastFullResync === null ? '' : `, last full resync ${e(f.lastFullResync.at)} (${n(f.lastFullResync.durationMs)} ms)`
            }${f.lastError === null ? '' : `<div class="err">${e(f.lastError)}</div>`}</div>`,
        )
        .join('');
      return `<tr data-mirror="${e(m.source)}"><td><strong>${e(m.source)}</strong></td><td>${state}${m.loadError === null ? '' : `<div class="err">${e(m.loadError)}</div>`}</td><td>${e(lag)}${m.maxLagSeconds === null ? '' : `<div class="small">max ${e(duration(m.maxLagSeconds))}</div>`}</td><td class="num">${n(m.records)}<div class="small">${n(Math.round(m.memoryBytes / 1048576))} MiB</div></td><td class="num">${m.deadLetters === null ? '?' : n(m.deadLetters)}</td><td>${feeds || '<span class="small">no feeds: the load only</span>'}</td></tr>`;
    })
    .join('\n');
  return `<h2>Mirrored sources</h2>
<table><thead><tr><th>source</th><th>mirror</th><th>lag</th><th class="num">records</th><th class="num">dead letters</th><th>feeds</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

/** The lease names as /status words them. */
const LEASE_WORDS: Record<string, string> = { 'events-publisher': 'events publisher', sweep: 'sweep', 'sku-matcher': 'SKU matcher' };

function clusterSection(c: ClusterStatusView | null): string {
  if (c === null) return '';
  const redis =
    c.redis === 'single'
      ? 'no redis (one instance: limits and breakers per instance)'
      : c.redis === 'connected'
        ? 'redis connected, limits shared'
        : `<span class="bad">redis unreachable since ${e(c.unreachableSince ?? '?')}, limits per instance</span>`;
  const leases = c.leases.map(
    (l) => `${e(LEASE_WORDS[l.name] ?? l.name)}: ${l.holder === null ? 'held by nobody' : `held by ${e(l.holder)}${l.mine ? ' (this one)' : ''}`}`,
  );
  return `<h2>Cluster</h2><p class="cluster">instance ${e(c.instanceId)} · cluster: ${redis}</p>${
    leases.length === 0 ? '' : `<ul class="leases">${leases.map((l) => `<li>${l}</li>`).join('')}</ul>`
  }`;
}

function eventsSection(ev: EventsView | null): string {
  if (ev === null) return '';
  const rows = ev.sinks
    .map(
      (s) =>
        `<tr data-sink="${e(s.name)}"><td><strong>${e(s.name)}</strong> <span class="small">${e(s.kind)}</span></td><td class="num">${n(s.pending)}${
          s.oldestPendingSeconds === null ? '' : `<div class="small">oldest ${e(duration(s.oldestPendingSeconds))}</div>`
        }</td><td class="num"><span class="${s.deadLetters > 0 ? 'bad' : ''}">${n(s.deadLetters)}</span></td><td class="num">${n(s.delivered)}</td><td>${
          s.stopped !== null
            ? '<span class="bad">stopped until a restart</span>'
            : s.pausedUntil === null
              ? '<span class="good">sending</span>'
              : `<span class="warn">retrying at ${e(stamp(s.pausedUntil))}</span>`
        }${s.lastError === null ? '' : `<div class="err">${e(s.lastError)}</div>`}</td></tr>`,
    )
    .join('\n');
  const a = ev.availability;
  return `<h2>Events out</h2>
<table><thead><tr><th>sink</th><th class="num">pending</th><th class="num">dead letters</th><th class="num">delivered (this process)</th><th>state</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="small">availability: ${n(a.compared)} figures compared, ${n(a.published)} events, ${n(a.queued)} waiting${a.deferred > 0 ? `, ${n(a.deferred)} put off while a source was down` : ''}${
    a.lastSweep === null ? '' : ` · last sweep ${e(a.lastSweep)}`
  } · <code>inventory-graph events list --dead</code> shows dead letters, <code>events replay</code> sends them again</p>`;
}

/** HH:MM:SS UTC of an ISO instant (the page says UTC in its header stamp). */
const clock = (at: string) => `${at.slice(11, 19)} UTC`;

function trafficCard(t: TrafficView | null): string {
  if (t === null) return '';
  const codes = Object.entries(t.errorsByCode);
  const total = Object.entries(t.total.errorsByCode);
  const list = (xs: Array<[string, number]>) => xs.map(([code, k]) => `<span data-code="${e(code)}">${e(code)} ${n(k)}</span>`).join(', ');
  return `<div class="card traffic" data-requests="${t.requests}"><div class="sub">API traffic, last ${t.windowSeconds} s</div><div class="big">${e(t.perSecond)} req/s</div><div class="sub">p95 ${
    t.p95Ms === null ? '–' : `${e(t.p95Ms)} ms`
  } · ${n(t.requests)} requests</div><div class="sub errors">${codes.length === 0 ? 'no errors' : `errors: ${list(codes)}`}</div><div class="sub">since start: ${n(t.total.requests)} requests${
    total.length === 0 ? '' : `, errors ${list(total)}`
  }</div></div>`;
}

function sweepSection(sw: SweepView | null): string {
  if (sw === null) return '';
  const l = sw.last;
  return `<h2>Sweep</h2><p class="sweep">${sw.running ? '<span class="warn">running now</span> · ' : ''}${
    l === null
      ? 'no sweep finished yet'
      : `last ${e(l.status)} ${l.finishedAt === null ? '' : e(stamp(l.finishedAt))}: ${n(l.found)} found, ${n(l.resolved)} resolved${l.failures > 0 ? `, <span class="bad">${n(l.failures)} sources failed</span>` : ''}`
  }${sw.nextAt === null ? '' : ` · next ${e(stamp(sw.nextAt))}`} · every ${e(duration(sw.intervalSeconds))}</p>`;
}

/** The filtered list of anomalies of `kind` in `status` (the operator route /status/anomalies). */
const anomaliesHref = (kind: string, status: AnomalyStatus) => `/status/anomalies?kind=${encodeURIComponent(kind)}&status=${status}`;

function anomaliesSection(a: StatusData['anomalies']): string {
  if (a === null) return '<p class="small">Not available (the store did not answer).</p>';
  if (a.byKind.length === 0) return '<p class="good">No open anomalies.</p>';
  const max = Math.max(...a.byKind.map((k) => k.open + k.acknowledged));
  const rows = a.byKind
    .map(
      (
        k,
      ) => `<tr data-kind="${e(k.kind)}"><td>${e(k.kind)}</td><td class="num"><a class="open" href="${e(anomaliesHref(k.kind, 'OPEN'))}">${n(k.open)}</a></td><td class="num"><a class="acknowledged" href="${e(anomaliesHref(k.kind, 'ACKNOWLEDGED'))}">${n(k.acknowledged)}</a></td>
<td>${stacked(
        [
          { value: k.open, cls: 'bad', label: 'open' },
          { value: k.acknowledged, cls: 'warn', label: 'acknowledged' },
          { value: max - k.open - k.acknowledged, cls: 'track', label: '' },
        ],
        160,
        10,
      )}</td></tr>`,
    )
    .join('\n');
  return `<table><thead><tr><th>kind</th><th class="num">open</th><th class="num">acknowledged</th><th></th></tr></thead><tbody>
${rows}
<tr><td><strong>total</strong></td><td class="num"><strong>${n(a.open)}</strong></td><td class="num"><strong>${n(a.acknowledged)}</strong></td><td></td></tr>
</tbody></table>
<div class="legend"><span><span class="sw bad"></span>open</span><span><span class="sw warn"></span>acknowledged (someone is on it)</span></div>`;
}

function reconciliationSection(r: StatusData['reconciliation'], now: number): string {
  if (r === null) return '<p class="small">Not available (the store did not answer).</p>';
  const latest =
    r.latest === null
      ? ''
      : `<p>Run #${e(r.latest.id)} <span class="badge b-${e(r.latest.status)}">${e(r.latest.status)}</span> started ${e(ago(r.latest.startedAt, now))}${
          r.latest.error === null ? '' : `: <span class="err">${e(r.latest.error)}</span>`
        }</p>`;
  if (r.last === null) return `${latest}<p class="small">No completed run yet: <code>inventory-graph reconcile</code> records one.</p>`;
  const l = r.last;
  const ok = l.matched + l.explained + l.withinTolerance;
  const accuracy = l.lines === 0 ? null : ok / l.lines;
  const trend =
    r.trend.length < 2
      ? ''
      : (() => {
          const w = 18;
          const h = 40;
          const max = Math.max(1, ...r.trend.map((t) => t.discrepancies));
          const bars = r.trend
            .map((t, i) => {
              const bh = Math.max(1, (t.discrepancies / max) * h);
              return `<rect class="${t.discrepancies === 0 ? 'ok' : 'bad'}" x="${i * w}" y="${(h - bh).toFixed(1)}" width="${w - 4}" height="${bh.toFixed(1)}"><title>${e(`run #${t.id}: ${n(t.discrepancies)} discrepancies of ${n(t.lines)} lines`)}</title></rect>`;
            })
            .join('');
          const label = `Discrepancies in the last ${r.trend.length} completed runs, oldest first: ${r.trend.map((t) => t.discrepancies).join(', ')}`;
          return `<div><div class="small">discrepancies per run, last ${r.trend.length}</div><svg width="${r.trend.length * w}" height="${h}" viewBox="0 0 ${r.trend.length * w} ${h}" role="img" aria-label="${e(label)}">${bars}</svg></div>`;
        })();
  return `${latest}<p>Run #${e(l.id)} finished ${e(ago(l.finishedAt, now))}${l.finishedAt === null ? '' : ` <span class="small">(${e(stamp(l.finishedAt))})</span>`}: ${n(l.skus)} SKUs, ${n(l.lines)} lines, tolerance ${n(l.tolerance)}.
${accuracy === null ? '' : `<strong class="${l.discrepancies === 0 ? 'good' : 'bad'}">${pct(accuracy)}</strong> of lines agree or are explained.`}</p>
${stacked([
  { value: l.matched, cls: 'ok', label: 'match' },
  { value: l.explained, cls: 'acc', label: 'explained' },
  { value: l.withinTolerance, cls: 'warn', label: 'within tolerance' },
  { value: l.discrepancies, cls: 'bad', label: 'discrepancy' },
])}
<div class="legend"><span><span class="sw ok"></span>match ${n(l.matched)}</span><span><span class="sw acc"></span>explained ${n(l.explained)}</span><span><span class="sw warn"></span>within tolerance ${n(l.withinTolerance)}</span><span><span class="sw bad"></span>discrepancy ${n(l.discrepancies)}</span></div>
<div class="cards">
<div class="card"><div class="sub">|variance|</div><div class="big">${n(l.absVariance)}</div><div class="sub">units, all systems against the authoritative one</div></div>
<div class="card"><div class="sub">explained by movements</div><div class="big">${n(l.absExplained)}</div><div class="sub">picked not invoiced, in transit, ...</div></div>
<div class="card"><div class="sub">unexplained</div><div class="big ${l.absUnexplained > 0 ? 'bad' : 'good'}">${n(l.absUnexplained)}</div><div class="sub">units to look into</div></div>
<div class="card"><div class="sub">orphan codes · gaps</div><div class="big">${n(l.orphans)} · ${n(l.gaps)}</div><div class="sub">codes no SKU maps · SKUs a source lacks</div></div>
${trend === '' ? '' : `<div class="card">${trend}</div>`}
</div>`;
}

/** The filtered list of anomalies, newest first, 50 a page: /status/anomalies?kind=K&status=S&after=ID. */
export function renderAnomalyList(page: AnomalyPage, q: { kinds: readonly string[]; statuses: readonly AnomalyStatus[]; after: string | null }): string {
  const what = `${q.kinds.length === 0 ? 'all kinds' : q.kinds.join(', ')} · ${q.statuses.length === 0 ? 'every status' : q.statuses.join(', ')}`;
  const query = (after: string | null) => {
    const p = new URLSearchParams();
    for (const k of q.kinds) p.append('kind', k);
    for (const st of q.statuses) p.append('status', st);
    if (after !== null) p.set('after', after);
    return `/status/anomalies?${p.toString()}`;
  };
  const rows = page.anomalies
    .map(
      (a) =>
        `<tr data-anomaly="${e(a.id)}"><td class="num">${e(a.id)}</td><td>${e(a.kind)}</td><td><span class="badge b-${e(a.status)}">${e(a.status)}</span></td><td>${e(
          a.sku ?? '',
        )}</td><td>${e(a.location ?? '')}</td><td>${e(a.source ?? '')}${a.code === null ? '' : `<div class="small">${e(a.code)}</div>`}</td><td class="err">${e(
          a.detail,
        )}</td><td class="num">${n(a.occurrences)}</td><td>${e(stamp(a.firstSeen.toISOString()))}<div class="small">last ${e(stamp(a.lastSeen.toISOString()))}</div></td></tr>`,
    )
    .join('\n');
  const next = page.hasNextPage && page.endCursor !== null ? `<a class="next" href="${e(query(page.endCursor))}">next ${ANOMALY_PAGE_SIZE} →</a>` : '';
  const first = q.after === null ? '' : `<a class="first" href="${e(query(null))}">← newest</a> `;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${e(what)} · anomalies · inventory-graph</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>Anomalies</h1><span class="meta">${e(what)} · <span class="total">${n(page.totalCount)}</span> in all, newest first · <a href="/status">← status</a></span></header>
<main>
${
  page.anomalies.length === 0
    ? '<p class="good">None.</p>'
    : `<table class="anomalies"><thead><tr><th class="num">id</th><th>kind</th><th>status</th><th>sku</th><th>location</th><th>source</th><th>detail</th><th class="num">seen</th><th>first seen</th></tr></thead><tbody>
${rows}
</tbody></table>`
}
<div class="pager">${first}${next}</div>
</main>
<footer>JSON: <code>/status/anomalies.json</code> with the same query · GraphQL: <code>anomalies(filter: …)</code></footer>
</body>
</html>
`;
}

export function renderStatusPage(d: StatusData, o: { refreshSeconds: number }): string {
  const now = Date.parse(d.generatedAt);
  const { up, stale, degraded, down, configured, worst } = d.summary;
  const part = (k: number, word: string, cls: string) => (k > 0 ? `<span class="${cls}" data-count="${word}">${n(k)} ${word}</span>` : '');
  const headline = [part(up, 'up', 'good'), part(stale, 'stale', 'warn'), part(degraded, 'degraded', 'warn'), part(down, 'down', 'bad')]
    .filter((x) => x !== '')
    .join(' · ');
  const summary = `<div class="cards">
<div class="card sources-card w-${e(worst)}" data-worst="${e(worst)}"><div class="sub">sources</div><div class="big">${headline || '–'}</div><div class="sub">${
    worst === 'UP' ? 'all answering with fresh figures' : 'worst first: down, degraded, stale (older than max age, or mirror lagging)'
  } · ${n(configured)} configured</div></div>
${trafficCard(d.traffic)}
<div class="card"><div class="sub">open anomalies</div><div class="big">${d.anomalies === null ? '–' : n(d.anomalies.open + d.anomalies.acknowledged)}</div><div class="sub">${
    d.anomalies === null ? 'store not answering' : `${n(d.anomalies.open)} open, ${n(d.anomalies.acknowledged)} acknowledged`
  }</div></div>
<div class="card"><div class="sub">held at checkout</div><div class="big">${d.reservations === null ? '–' : `${n(d.reservations.heldUnits)} units`}</div><div class="sub">${
    d.reservations === null
      ? 'store not answering'
      : `${n(d.reservations.active)} active, ${n(Math.max(0, d.reservations.counting - d.reservations.active))} confirmed awaiting hand-over`
  }</div></div>
${
  d.events === null
    ? ''
    : `<div class="card"><div class="sub">events out</div><div class="big">${n(d.events.sinks.reduce((x, s) => x + s.pending, 0))} pending</div><div class="sub">${(() => {
        const dead = d.events.sinks.reduce((x, s) => x + s.deadLetters, 0);
        return dead > 0 ? `<span class="bad">${n(dead)} dead letters</span>` : 'no dead letters';
      })()} · ${n(d.events.sinks.length)} sink${d.events.sinks.length === 1 ? '' : 's'}</div></div>`
}
<div class="card"><div class="sub">last reconciliation</div><div class="big">${
    d.reconciliation?.last == null
      ? '–'
      : d.reconciliation.last.lines === 0
        ? 'no lines'
        : pct((d.reconciliation.last.lines - d.reconciliation.last.discrepancies) / d.reconciliation.last.lines)
  }</div><div class="sub">${
    d.reconciliation?.last == null ? 'no completed run' : `lines without discrepancy · ${e(ago(d.reconciliation.last.finishedAt, now))}`
  }</div></div>
</div>`;
  const problems = d.problems.length === 0 ? '' : `<div class="problems">${d.problems.map((p) => e(p)).join('<br>')}</div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="${Math.max(1, Math.round(o.refreshSeconds))}">
<title>${[down > 0 ? `${down} down` : '', degraded > 0 ? `${degraded} degraded` : '', stale > 0 ? `${stale} stale` : ''].filter((x) => x !== '').join(' · ')}${worst === 'UP' ? '' : ' · '}inventory-graph status</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>inventory-graph status</h1><span class="meta">as of ${e(stamp(d.generatedAt))} · refreshes every ${o.refreshSeconds} s · up ${e(duration(d.uptimeSeconds))} · this process only</span><span class="meta build">version ${e(d.build.version)} · Node.js ${e(d.build.node)}${
    d.build.configPath === null ? '' : ` · config <code>${e(d.build.configPath)}</code>`
  }</span></header>
<main>
${summary}
${problems}
<h2>Sources</h2>
<table class="sources">
<thead><tr><th>source</th><th>state</th><th>breaker</th><th>latency (last read)</th><th>freshness (newest record)</th><th class="num">errors, ${WINDOW} min</th><th>reads per minute, ${WINDOW} min</th></tr></thead>
<tbody>
${d.sources.map((s) => sourceRow(s, now)).join('\n')}
</tbody>
</table>
<div class="legend"><span><span class="sw ok"></span>answered</span><span><span class="sw bad"></span>failed</span><span><span class="sw idle"></span>refused (breaker open or queue full)</span><span>the black mark on a freshness bar is the source's max age</span></div>
${mirrorsSection(d.mirrors)}
${eventsSection(d.events)}
<div class="row2">
<section><h2>Open anomalies by kind</h2>
${anomaliesSection(d.anomalies)}
</section>
<section><h2>Reconciliation</h2>
${reconciliationSection(d.reconciliation, now)}
</section>
</div>
${sweepSection(d.sweep)}
${clusterSection(d.cluster)}
</main>
<footer>JSON: <code>/status.json</code> · Prometheus: <code>/metrics</code> · GraphQL explorer: <code>/graphql</code></footer>
</body>
</html>
`;
}
