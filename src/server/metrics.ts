/**
 * Prometheus metrics at `/metrics` (prom-client), for dashboards and alerts: request latency by
 * operation, per-source read latency, errors and statements, breaker state, freshness, open
 * anomalies and their write queue, the last reconciliation run and the compiled-operation
 * cache. The names are the contract of dashboards/grafana-inventory-graph.json (a test keeps
 * the two in step).
 *
 * Every label is bounded: operation names are the first `maxOperationNames` distinct names of
 * operations that parsed and validated (then `(other)`), `(anonymous)` for unnamed ones and
 * `(none)` for requests that never got that far (401, parse or validation error); sources and
 * entities come from the config, anomaly kinds from the code, GraphQL error codes from
 * src/errors.ts (any other code string is `(other)`).
 *
 * Each app has its own registry (tests run several apps in one process): a scrape answers for
 * the process (the instance) that took it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ErrorCode } from '../errors.js';
import { SourceHealthRegistry, type BreakerState, type SourceHealth, type SourceStatus } from '../sources/health.js';
import type { AnomalyQueueStats } from '../store/anomaly-queue.js';
import type { CompiledCacheObserver } from './executor.js';
import type { RequestRecord } from './request-log.js';
import type { StatusData } from './status-page.js';
import { createTrafficTracker, type TrafficView } from './traffic.js';

/** One read of a source as the resilience wrapper saw it. */
export interface ReadOutcome {
  source: string;
  /**
   * ok; timeout or failed (the source was asked and did not answer); rejected (breaker open: not
   * asked); shed (load shed: too many waiting, or not started in time: not the source's failure).
   */
  outcome: 'ok' | 'timeout' | 'failed' | 'rejected' | 'shed';
  /** Null for a rejected or shed read. */
  latencyMs: number | null;
}

/** Reads counted per minute, for the status page's recent error rate and sparkline. */
export interface MinuteCounts {
  /** Start of the minute. */
  at: Date;
  ok: number;
  failed: number;
  /** Refused: the breaker was open, or the read was load shed. */
  rejected: number;
}

const WINDOW_MINUTES = 15;

/**
 * The source health registry (src/sources/health.ts), also telling listeners about every read
 * and keeping what the status page and the metrics need beyond it: reads per minute over the
 * last 15 minutes, and the newest `asOf` ever read from each source (a source's lag: the
 * registry itself keeps the last read's range, which one old record can make look stale).
 */
export class ObservedHealthRegistry extends SourceHealthRegistry {
  private readonly listeners = new Set<(r: ReadOutcome) => void>();
  private readonly names = new Set<string>();
  private readonly newest = new Map<string, Date>();
  private readonly minutes = new Map<string, Map<number, MinuteCounts>>();

  constructor(private readonly clock: () => Date = () => new Date()) {
    super(clock);
  }

  override register(...args: Parameters<SourceHealthRegistry['register']>): void {
    super.register(...args);
    this.names.add(args[0].name);
  }

  /** Calls `fn` after every read; returns the unsubscribe. */
  onRead(fn: (r: ReadOutcome) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  override success(source: string, latencyMs: number, asOf?: { newest: Date; oldest: Date }): void {
    super.success(source, latencyMs, asOf);
    if (!this.names.has(source)) return;
    const seen = this.newest.get(source);
    if (asOf !== undefined && (seen === undefined || asOf.newest > seen)) this.newest.set(source, asOf.newest);
    this.emit({ source, outcome: 'ok', latencyMs });
  }

  override failure(source: string, latencyMs: number, reason: string): void {
    super.failure(source, latencyMs, reason);
    if (!this.names.has(source)) return;
    this.emit({ source, outcome: /^timed out/.test(reason) ? 'timeout' : 'failed', latencyMs });
  }

  override rejected(source: string): void {
    super.rejected(source);
    if (!this.names.has(source)) return;
    this.emit({ source, outcome: 'rejected', latencyMs: null });
  }

  override shed(source: string): void {
    super.shed(source);
    if (!this.names.has(source)) return;
    this.emit({ source, outcome: 'shed', latencyMs: null });
  }

  /** The newest `asOf` this process has read from the source, or null before a dated read. */
  newestSeen(source: string): Date | null {
    return this.newest.get(source) ?? null;
  }

  /**
   * A source's freshness at `now`, as /status judges it: its newest record (read by this process,
   * else as reported), that record's age in whole seconds, and whether it is older than the
   * source's maxAgeSeconds (null when either is unknown).
   */
  freshness(
    h: Pick<SourceHealth, 'name' | 'newestAsOf' | 'maxAgeSeconds'>,
    now: Date,
  ): { newest: Date | null; ageSeconds: number | null; stale: boolean | null } {
    const newest = this.newestSeen(h.name) ?? h.newestAsOf;
    const ageSeconds = newest === null ? null : Math.max(0, Math.round((now.getTime() - newest.getTime()) / 1000));
    return { newest, ageSeconds, stale: ageSeconds === null || h.maxAgeSeconds === null ? null : ageSeconds > h.maxAgeSeconds };
  }

  /** Reads of the last `WINDOW_MINUTES` minutes, oldest first, the current minute last (zeros where nothing happened). */
  recent(source: string): MinuteCounts[] {
    const now = Math.floor(this.clock().getTime() / 60_000);
    const buckets = this.minutes.get(source);
    const out: MinuteCounts[] = [];
    for (let m = now - WINDOW_MINUTES + 1; m <= now; m++) {
      const b = buckets?.get(m);
      out.push(b === undefined ? { at: new Date(m * 60_000), ok: 0, failed: 0, rejected: 0 } : { ...b });
    }
    return out;
  }

  private emit(r: ReadOutcome): void {
    const minute = Math.floor(this.clock().getTime() / 60_000);
    let buckets = this.minutes.get(r.source);
    if (buckets === undefined) this.minutes.set(r.source, (buckets = new Map()));
    let b = buckets.get(minute);
    if (b === undefined) {
      buckets.set(minute, (b = { at: new Date(minute * 60_000), ok: 0, failed: 0, rejected: 0 }));
      for (const m of buckets.keys()) if (m <= minute - WINDOW_MINUTES) buckets.delete(m);
    }
    if (r.outcome === 'ok') b.ok++;
    else if (r.outcome === 'rejected' || r.outcome === 'shed') b.rejected++;
    else b.failed++;
    for (const fn of this.listeners) fn(r);
  }
}

/** Distinct operation names kept as label values before the rest are `(other)`. */
export const MAX_OPERATION_NAMES = 100;

/** The bounded label value for an operation name (see the module comment). */
export class OperationLabels {
  private readonly known = new Set<string>();
  constructor(readonly max = MAX_OPERATION_NAMES) {}

  label(op: { resolved: boolean; name: string | null } | undefined): string {
    if (op === undefined || !op.resolved) return '(none)';
    if (op.name === null || op.name === '') return '(anonymous)';
    if (this.known.has(op.name)) return op.name;
    if (this.known.size < this.max && /^[_A-Za-z][_0-9A-Za-z]{0,99}$/.test(op.name)) {
      this.known.add(op.name);
      return op.name;
    }
    return '(other)';
  }
}

/** The codes of src/errors.ts: the values of the error counter's `code` label, besides `(other)`. */
const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The bounded label value for an error's `extensions.code`. */
export function errorCodeLabel(code: string): string {
  return ERROR_CODES.has(code) ? code : '(other)';
}

/** This package's version, from the nearest package.json above this module (run from src/ or dist/src/), read once. */
export const PACKAGE_VERSION: string = (() => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) return 'unknown';
  }
})();

export const BREAKER_VALUE: Record<BreakerState, number> = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 };
export const STATUS_VALUE: Record<SourceStatus, number> = { UP: 0, DEGRADED: 1, DOWN: 2 };

export interface MetricsOptions {
  health: ObservedHealthRegistry;
  /** The status page's data (src/server/status-page.ts): gauges are read from it at scrape time (one collection per scrape). */
  status: () => Promise<StatusData>;
  /** The anomaly write queue's counts (src/store/anomaly-queue.ts), read at scrape time. */
  anomalyWrites: () => AnomalyQueueStats;
  /** Process metrics (CPU, memory, event loop, GC) beside ours. Defaults to true. */
  processMetrics?: boolean;
  maxOperationNames?: number;
}

export interface Metrics {
  registry: Registry;
  /** Records a finished HTTP request (called by the front door for every request). */
  observeRequest(r: RequestRecord): void;
  /** The jit executor's compiled operations: their number, and its lookups as hits and misses. */
  compiledCache: CompiledCacheObserver;
  /** The exposition text, and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
  /** GraphQL traffic over the last minute and since start, for /status (src/server/traffic.ts). */
  traffic(): TrafficView;
}

export function createMetrics(o: MetricsOptions): Metrics {
  const registry = new Registry();
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const labels = new OperationLabels(o.maxOperationNames);
  const traffic = createTrafficTracker();

  const requestDuration = new Histogram({
    name: 'inventory_graph_graphql_request_duration_seconds',
    help: 'GraphQL requests at /graphql, from the first byte to the last byte of the answer, by operation name and HTTP status',
    labelNames: ['operation', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const readDuration = new Histogram({
    name: 'inventory_graph_source_read_duration_seconds',
    help: 'Reads of a source (one batched statement per ~1,000 codes, or a file snapshot), queueing for a slot included; outcome ok or error',
    labelNames: ['source', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const sourceErrors = new Counter({
    name: 'inventory_graph_source_errors_total',
    help: 'Source reads that failed: timeout, failed (refused, lost, bad mapping), rejected (breaker open, the source was not asked), shed (load shed: too many waiting, or not started in time)',
    labelNames: ['source', 'kind'] as const,
    registers: [registry],
  });
  const statements = new Counter({
    name: 'inventory_graph_source_statements_total',
    help: 'Statements (or file reads) sent to a source per entity on behalf of GraphQL requests',
    labelNames: ['source', 'entity'] as const,
    registers: [registry],
  });
  const graphqlErrors = new Counter({
    name: 'inventory_graph_graphql_errors_total',
    help: "Errors in GraphQL answers by extensions.code, whatever path answered (Apollo, the fast path, or the front door's own 401, 405, 413 and bad JSON), HTTP 200 partial answers included; a code not in the gateway's list is (other)",
    labelNames: ['code'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'inventory_graph_build_info',
    help: 'Always 1: the version of inventory-graph (package.json) and of Node.js this process runs',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: PACKAGE_VERSION, node: process.version }, 1);
  const fastPath = new Counter({
    name: 'inventory_graph_graphql_fast_path_requests_total',
    help: 'GraphQL POST requests answered by the fast path (served: a trusted document by id) or left to Apollo (apollo: query text, an unknown id, anything but a plain JSON call by id)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  fastPath.inc({ result: 'served' }, 0);
  fastPath.inc({ result: 'apollo' }, 0);
  const cacheRequests = new Counter({
    name: 'inventory_graph_compiled_operation_cache_requests_total',
    help: 'Operations looked up among the compiled ones (graphql-jit executor): hit (reused, by the executor, or a trusted document the fast path compiled at start), or miss (the operation is compiled)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  let cache: { readonly size: number } | undefined;
  new Gauge({
    name: 'inventory_graph_compiled_operation_cache_hit_ratio',
    help: 'Hits over lookups of the compiled-operation cache since start (absent with the graphql-js executor)',
    registers: [registry],
    async collect() {
      const values = (await cacheRequests.get()).values;
      const hits = values.find((v) => v.labels.result === 'hit')?.value ?? 0;
      const total = values.reduce((n, v) => n + v.value, 0);
      this.reset();
      if (cache !== undefined && total > 0) this.set(hits / total);
    },
  });
  new Gauge({
    name: 'inventory_graph_compiled_operation_cache_size',
    help: 'Compiled operations kept',
    registers: [registry],
    collect() {
      this.reset();
      if (cache !== undefined) this.set(cache.size);
    },
  });

  // a source's reads: latency and errors, as they happen
  o.health.onRead((r) => {
    if (r.latencyMs !== null) readDuration.observe({ source: r.source, outcome: r.outcome === 'ok' ? 'ok' : 'error' }, r.latencyMs / 1000);
    if (r.outcome !== 'ok') sourceErrors.inc({ source: r.source, kind: r.outcome }, 1);
  });
  // every source has its series from the start, so a rate is 0 rather than absent
  for (const h of o.health.list()) {
    for (const kind of ['timeout', 'failed', 'rejected', 'shed']) sourceErrors.inc({ source: h.name, kind }, 0);
    for (const entity of h.entities) statements.inc({ source: h.name, entity }, 0);
  }

  // gauges read at scrape time from the same data as /status (which collects at most once a second)
  const data = o.status;
  /** A gauge labelled by source over rows of the collection (sources, mirrors); a null value leaves its row out. */
  const gaugePerSource =
    <R>(rows: (d: StatusData) => readonly R[], sourceOf: (r: R) => string) =>
    (name: string, help: string, value: (r: R) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['source'] as const,
        registers: [registry],
        async collect() {
          const d = await data();
          this.reset();
          for (const r of rows(d)) {
            const v = value(r);
            if (v !== null) this.set({ source: sourceOf(r) }, v);
          }
        },
      });
  const perSource = gaugePerSource(
    (d) => d.sources,
    (s) => s.name,
  );
  perSource(
    'inventory_graph_source_breaker_state',
    'Circuit breaker per source: 0 closed, 1 half-open (a trial read), 2 open (reads fail fast)',
    (s) => BREAKER_VALUE[s.breaker],
  );
  perSource('inventory_graph_source_status', 'Source status as /status shows it: 0 up, 1 degraded, 2 down', (s) => STATUS_VALUE[s.status]);
  perSource(
    'inventory_graph_source_freshness_seconds',
    'Age of the newest usable record (asOf) this process has read from the source: its lag (records refused as INVALID_SOURCE_DATA, future-dated ones included, never count)',
    (s) => s.freshness.ageSeconds,
  );
  perSource(
    'inventory_graph_source_max_age_seconds',
    "The source's maxAgeSeconds: older records are STALE (absent when it has none)",
    (s) => s.freshness.maxAgeSeconds,
  );
  perSource('inventory_graph_source_reads_in_flight', 'Reads running against the source now', (s) => s.inFlight);
  perSource('inventory_graph_source_reads_queued', "Reads waiting for a slot of the source's bulkhead", (s) => s.queued);

  // mirrored sources and their feeds (src/feeds/status.ts), from the same collection
  const perMirror = gaugePerSource(
    (d) => d.mirrors,
    (m) => m.source,
  );
  perMirror(
    'inventory_graph_mirror_lag_seconds',
    'Seconds since a mirrored source was last known caught up with its source (its oldest feed)',
    (m) => m.lagSeconds,
  );
  perMirror('inventory_graph_mirror_records', 'Records a mirrored source holds in memory', (m) => m.records);
  perMirror('inventory_graph_mirror_memory_bytes', "Bytes a mirrored source's packed records take, approximately", (m) => m.memoryBytes);
  perMirror('inventory_graph_mirror_state', 'Mirror state: 0 current, 1 loading (reads go live), 2 lagging past maxLagSeconds', (m) =>
    m.state === 'current' ? 0 : m.state === 'loading' ? 1 : 2,
  );
  perMirror('inventory_graph_mirror_dead_letters', 'Feed messages of the source waiting in the dead-letter queue', (m) => m.deadLetters);
  perMirror('inventory_graph_mirror_last_load_duration_seconds', 'How long the last full load (or resync) of the mirror took', (m) =>
    m.lastLoad === null ? null : m.lastLoad.durationMs / 1000,
  );
  const perFeed = (name: string, help: string, value: (f: StatusData['mirrors'][number]['feeds'][number]) => number | null, counter = false) => {
    const Kind = counter ? Counter : Gauge;
    return new Kind({
      name,
      help,
      labelNames: ['feed', 'kind'] as const,
      registers: [registry],
      async collect() {
        const d = await data();
        this.reset();
        for (const m of d.mirrors)
          for (const f of m.feeds) {
            const v = value(f);
            if (v === null) continue;
            if (this instanceof Counter) this.inc({ feed: f.name, kind: f.kind }, v);
            else this.set({ feed: f.name, kind: f.kind }, v);
          }
      },
    });
  };
  perFeed('inventory_graph_feed_lag_seconds', 'Seconds since the feed was last known caught up with its source', (f) => f.lagSeconds);
  perFeed('inventory_graph_feed_connected', 'Whether the feed is connected to its broker (poll: its last read worked)', (f) => (f.connected ? 1 : 0));
  perFeed('inventory_graph_feed_changes_applied_total', 'Changes the feed applied (poll: codes read again)', (f) => f.applied, true);
  perFeed('inventory_graph_feed_duplicates_total', 'Messages dropped as already applied (same id)', (f) => f.duplicates, true);
  perFeed('inventory_graph_feed_dead_letters_total', 'Messages the feed could not apply, sent to the dead-letter queue', (f) => f.deadLetters, true);

  new Gauge({
    name: 'inventory_graph_anomalies_open',
    help: 'Open anomalies by kind and status (OPEN, or ACKNOWLEDGED: someone is on it, still open)',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
    async collect() {
      const d = await data();
      this.reset();
      for (const a of d.anomalies?.byKind ?? []) {
        this.set({ kind: a.kind, status: 'OPEN' }, a.open);
        this.set({ kind: a.kind, status: 'ACKNOWLEDGED' }, a.acknowledged);
      }
    },
  });
  new Gauge({
    name: 'inventory_graph_reservations_counting',
    help: 'Reservations whose holds count against availability now, by status (ACTIVE; CONFIRMED: awaiting the hand-over to a source)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const r = (await data()).reservations;
      this.reset();
      if (r == null) return;
      this.set({ status: 'ACTIVE' }, r.active);
      this.set({ status: 'CONFIRMED' }, Math.max(0, r.counting - r.active));
    },
  });
  new Gauge({
    name: 'inventory_graph_reserved_units',
    help: 'Units held by reservations that count against availability now, over every SKU and location',
    registers: [registry],
    async collect() {
      const r = (await data()).reservations;
      this.reset();
      if (r != null) this.set(r.heldUnits);
    },
  });
  const perSink = (name: string, help: string, value: (s: NonNullable<StatusData['events']>['sinks'][number]) => number | null, counter = false) => {
    const Kind = counter ? Counter : Gauge;
    new Kind({
      name,
      help,
      labelNames: ['sink', 'kind'] as const,
      registers: [registry],
      async collect() {
        const ev = (await data()).events;
        this.reset();
        for (const s of ev?.sinks ?? []) {
          const v = value(s);
          if (v === null) continue;
          if (this instanceof Counter) this.inc({ sink: s.name, kind: s.kind }, v);
          else this.set({ sink: s.name, kind: s.kind }, v);
        }
      },
    });
  };
  perSink('inventory_graph_events_pending', 'Events waiting in the outbox for this sink (not yet taken by the receiver)', (s) => s.pending);
  perSink(
    'inventory_graph_events_dead_letters',
    'Events this sink gave up on after its last attempt (inventory-graph events list --dead; events replay)',
    (s) => s.deadLetters,
  );
  perSink(
    'inventory_graph_events_oldest_pending_seconds',
    'Age of the oldest event waiting for this sink (absent when none waits)',
    (s) => s.oldestPendingSeconds,
  );
  perSink('inventory_graph_events_delivered_total', 'Events this process delivered to the sink (the receiver took them)', (s) => s.delivered, true);
  perSink(
    'inventory_graph_events_failed_attempts_total',
    'Delivery attempts that failed (retried with backoff, or dead-lettered)',
    (s) => s.failedAttempts,
    true,
  );

  new Gauge({
    name: 'inventory_graph_anomaly_writes_queued',
    help: 'Anomalies found by requests waiting to be written to the store (the store is slow, unreachable or locked)',
    registers: [registry],
    collect() {
      this.set(o.anomalyWrites().queued);
    },
  });
  new Counter({
    name: 'inventory_graph_anomaly_writes_dropped_total',
    help: 'Anomalies never written: queue_full (the write queue was full: the newest are dropped), write_failed (the store refused a batch, attempts exhausted)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const { dropped } = o.anomalyWrites();
      this.reset();
      this.inc({ reason: 'queue_full' }, dropped.queueFull);
      this.inc({ reason: 'write_failed' }, dropped.writeFailed);
    },
  });
  new Gauge({
    name: 'inventory_graph_reconciliation_last_run_timestamp_seconds',
    help: 'When the last completed reconciliation run finished (unix time)',
    registers: [registry],
    async collect() {
      const last = (await data()).reconciliation?.last;
      this.reset();
      if (last?.finishedAt != null) this.set(Date.parse(last.finishedAt) / 1000);
    },
  });
  new Gauge({
    name: 'inventory_graph_reconciliation_last_run_lines',
    help: 'Lines (sku, location) of the last completed reconciliation run by status: match, explained, within_tolerance, discrepancy',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const last = (await data()).reconciliation?.last;
      this.reset();
      if (last == null) return;
      this.set({ status: 'match' }, last.matched);
      this.set({ status: 'explained' }, last.explained);
      this.set({ status: 'within_tolerance' }, last.withinTolerance);
      this.set({ status: 'discrepancy' }, last.discrepancies);
    },
  });
  new Gauge({
    name: 'inventory_graph_reconciliation_last_run_abs_units',
    help: 'Units of the last completed reconciliation run: sum of |variance|, |explained| and |unexplained|',
    labelNames: ['measure'] as const,
    registers: [registry],
    async collect() {
      const last = (await data()).reconciliation?.last;
      this.reset();
      if (last == null) return;
      this.set({ measure: 'variance' }, last.absVariance);
      this.set({ measure: 'explained' }, last.absExplained);
      this.set({ measure: 'unexplained' }, last.absUnexplained);
    },
  });

  return {
    registry,
    observeRequest(r) {
      if (r.route !== 'graphql') return;
      const op = r.context?.diagnostics.operation;
      const errors: Array<[string, number]> =
        r.refusedWith !== undefined ? [[errorCodeLabel(r.refusedWith), 1]] : [...(op?.errorCounts ?? [])].map(([code, n]) => [errorCodeLabel(code), n]);
      for (const [code, n] of errors) graphqlErrors.inc({ code }, n);
      traffic.record(r.durationMs, errors);
      requestDuration.observe({ operation: labels.label(op), status: String(r.status) }, r.durationMs / 1000);
      if (r.fastPath !== undefined) fastPath.inc({ result: r.fastPath ? 'served' : 'apollo' });
      // the fast path runs a trusted document compiled at start: a reuse, as a cache hit is
      if (r.fastPath === true) cacheRequests.inc({ result: 'hit' });
      for (const [key, n] of r.context?.diagnostics.statements ?? []) {
        const cut = key.lastIndexOf('/');
        statements.inc({ source: key.slice(0, cut), entity: key.slice(cut + 1) }, n);
      }
    },
    compiledCache: {
      watch(c) {
        cache = c;
        cacheRequests.inc({ result: 'hit' }, 0);
        cacheRequests.inc({ result: 'miss' }, 0);
      },
      lookup: (hit) => cacheRequests.inc({ result: hit ? 'hit' : 'miss' }),
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    traffic: () => traffic.view(),
  };
}
