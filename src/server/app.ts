/**
 * Wires a validated Config into a running gateway: the runtime (src/service/runtime.ts: the
 * store, one connector per source behind its resilience, the location index, the precedence
 * strategy and the services), then Apollo, the operator routes and the HTTP handler.
 * `createApp` builds without listening (tests use it with port 0); only the CLI calls it with
 * a real port.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config, SourceConfig } from '../config/index.js';
import type { Events } from '../events/events.js';
import type { SourceReading } from '../events/source-events.js';
import type { WebhookFeed } from '../feeds/webhook.js';
import type { PrecedenceStrategy } from '../domain/precedence.js';
import type { RoutingPolicy } from '../domain/routing.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import type { SourceHealthRegistry } from '../sources/health.js';
import { createFeedStatus } from '../feeds/status.js';
import { createRuntime, type Runtime } from '../service/runtime.js';
import type { Store } from '../store/index.js';
import type { SourceInfo } from './context.js';
import { createExplorer, type ExplorerOptions } from './explorer.js';
import { createGraphQL } from './graphql.js';
import { createFrontDoor, createHttpHandler, type FrontDoor } from './http.js';
import { createAuthenticator, ROLES, type Role } from './auth.js';
import { createDiagnostics } from './diagnostics.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { exampleOperations, sampleExamples, SAMPLED_SKUS, type ExampleOperation } from './examples.js';
import { createMetrics, ObservedHealthRegistry, PACKAGE_VERSION, type Metrics } from './metrics.js';
import { createRequestLog } from './request-log.js';
import { startTracing, type TracingHandle } from '../tracing.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createOperatorRoutes, createStatusCollector, type EventsView } from './status-page.js';

export interface AppOptions {
  logger: Logger;
  /** Replaces the Default precedence strategy built from `precedence`. */
  precedence?: PrecedenceStrategy;
  /** Replaces the Default routing policy. */
  routing?: RoutingPolicy;
  /** Headers prefilled in the explorer (e.g. a demo API key). */
  explorerHeaders?: Record<string, string>;
  /** SKUs the explorer's examples sample (their availability is read); default: the first of the SKU map. */
  exampleSkus?: string[];
  /** The config file served, shown on /status. */
  configPath?: string;
  now?: () => Date;
  /** For tests: where spans go instead of the OTLP exporter when `telemetry.tracing.enabled` (an InMemorySpanExporter). */
  tracing?: { exporter: SpanExporter };
}

export interface App {
  config: Config;
  store: Store;
  /** One per source, each behind its deadline, circuit breaker and bulkhead (src/sources/resilience.ts). */
  connectors: ReadonlyMap<string, Connector>;
  /** Each source's health as this process sees it. */
  health: SourceHealthRegistry;
  /** Events out, when sinks are configured (src/events/events.ts). */
  events: Events | undefined;
  /** Resolves once the events are started (after the mirrors' first loads), at once without sinks. */
  eventsStarted: Promise<void>;
  /** The Prometheus registry behind /metrics (src/server/metrics.ts). */
  metrics: Metrics;
  http: Server;
  /** Resolves when every mirrored source's first load has ended (well or not: see /status). */
  mirrorsLoaded: Promise<void>;
  /** The runtime the app serves (mirrors, feeds, sinks). */
  runtime: Runtime;
  /** OpenTelemetry (telemetry.tracing), undefined when off; `close` flushes and shuts it down last. */
  tracing: TracingHandle | undefined;
  /** Starts listening; resolves with the bound URL of /graphql. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Stops gracefully: `/readyz` answers 503, no new connections, requests in flight finish (at
   * most `graceMs`, default 10000), keep-alive connections close; then Apollo and the source
   * events are stopped (a delivery in flight is sent again on the next start), the source pools
   * are closed, queued anomalies get 2 s to be written, and the store is closed, in that order.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

export async function createApp(config: Config, o: AppOptions): Promise<App> {
  // first: the runtime's feeds and events make spans from their start (nothing is registered when off)
  const tracing = startTracing(config.telemetry.tracing, { serviceVersion: PACKAGE_VERSION, logger: o.logger, exporter: o.tracing?.exporter });
  // the registry, also feeding /metrics and /status with every read
  const health = new ObservedHealthRegistry(o.now);
  // a locked SQLite store fails a statement at once instead of freezing the process (src/store/index.ts)
  const runtime = await createRuntime(config, {
    logger: o.logger,
    health,
    busyTimeoutMs: 0,
    precedence: o.precedence,
    routing: o.routing,
    now: o.now,
    mirrors: true,
    events: true,
    cluster: true,
  });
  const { store, connectors, events } = runtime;
  const sources: SourceInfo[] = [...connectors.values()].map((c) => {
    const s = config.sources[c.name] as SourceConfig;
    return { name: c.name, kind: c.kind, entities: [...c.entities], maxAgeSeconds: s.maxAgeSeconds ?? null, stalePolicy: s.stalePolicy };
  });
  const inventory = runtime.inventory();
  const reconciliation = runtime.reconciliation((source) => runtime.sweep.orphanCount(source));
  const anomalyWorkflow = runtime.anomalyWorkflow();
  const reservations = runtime.reservations();
  runtime.sweeper.start();

  // a source that is down at start-up is reported, never fatal: it may come back
  await runtime.pingSources();
  // from here on each source is asked every `healthCheck.intervalSeconds`, traffic or not
  runtime.healthChecks.start();
  // SKU matching (skuMap) runs in the background: start-up never waits for a whole catalogue
  runtime.skuMatcher.start();
  // the sweep (sweep.intervalSeconds) records negatives, orphans and stale sources without a query
  runtime.sweep.start();
  // mirrors load in the background (progress in the log); their sources are read live meanwhile
  const mirrorsLoaded = runtime.startMirrors().catch((e: unknown) => o.logger.error('mirrors could not start', errorFields(e)));
  // each source's state as /status judges it, for source.down | up | stale
  const readSources = (): SourceReading[] => {
    const at = o.now?.() ?? new Date();
    return health.list().map((h) => {
      const { newest, ageSeconds, stale } = health.freshness(h, at);
      const lagging = runtime.mirrors.get(h.name)?.mirror.stats().state === 'lagging';
      const old = stale === true;
      return {
        source: h.name,
        // a trial read (half-open) has not shown yet that the source answers again: still down, so
        // an outage does not announce source.up and source.down at every failed trial
        state: h.status === 'DOWN' || h.breaker === 'HALF_OPEN' ? 'down' : lagging || old ? 'stale' : 'up',
        detail: {
          status: h.status,
          breaker: h.breaker,
          lastError: h.lastError,
          newestAsOf: newest?.toISOString() ?? null,
          ageSeconds,
          maxAgeSeconds: h.maxAgeSeconds,
          mirrorLagging: lagging,
        },
      };
    });
  };
  // the marks left over are recomputed against the loaded mirrors
  const eventsStarted = mirrorsLoaded
    .then(() => events?.start({ readSources }))
    .catch((e: unknown) => o.logger.error('events could not start', errorFields(e)));

  // operators: /status, /status.json and /metrics read the same collection; one log line per request
  const mirrors = createFeedStatus({
    mirrors: runtime.mirrors,
    feeds: runtime.feeds,
    store,
    maxLagSeconds: (source) => config.sources[source]?.sync.maxLagSeconds,
    now: () => (o.now?.() ?? new Date()).getTime(),
  });
  const webhooks = new Map(runtime.feeds.filter((f): f is WebhookFeed => f.kind === 'webhook').map((f) => [f.name.slice(0, -'/webhook'.length), f]));
  const eventsView =
    events === undefined
      ? undefined
      : async (): Promise<EventsView> => {
          const at = (o.now?.() ?? new Date()).getTime();
          const counts = new Map((await store.events.counts()).map((c) => [c.sink, c]));
          const a = events.availability.stats();
          return {
            sinks: events.publisher.stats().map((p) => {
              const c = counts.get(p.name);
              const oldest = c?.oldestPending ?? null;
              return {
                name: p.name,
                kind: p.kind,
                pending: c?.pending ?? 0,
                deadLetters: c?.dead ?? 0,
                oldestPendingSeconds: oldest === null ? null : Math.max(0, Math.round((at - oldest.getTime()) / 1000)),
                delivered: p.delivered,
                failedAttempts: p.failedAttempts,
                pausedUntil: p.pausedUntil?.toISOString() ?? null,
                lastError: p.lastError,
                stopped: p.stopped,
              };
            }),
            availability: {
              queued: a.queued,
              compared: a.compared,
              published: a.published,
              deferred: a.deferred,
              lastSweep: a.lastSweep?.at.toISOString() ?? null,
            },
          };
        };
  const status = createStatusCollector({
    health,
    anomalies: store.anomalies,
    runs: runtime.runs,
    mirrors,
    reservations: store.reservations,
    ...(eventsView !== undefined ? { events: eventsView } : {}),
    // read at collection time: metrics is made just below, from this same collection
    traffic: () => metrics.traffic(),
    ...(o.configPath !== undefined ? { configPath: o.configPath } : {}),
    sweep: () => runtime.sweep.status(),
    ...(runtime.cluster !== undefined && runtime.leases !== undefined ? { cluster: { view: runtime.cluster.view, leases: runtime.leases.view } } : {}),
    now: o.now,
  });
  const metrics = createMetrics({ health, status, anomalyWrites: () => store.anomalies.writeStats() });
  const requestLog = createRequestLog(o.logger);

  const limitsFor = roleLimits(config);
  const { server: graphql, fastPath } = createGraphQL({
    logger: o.logger,
    limits: {
      limitsFor,
      locationCount: config.locations.length,
      scanSkus: config.server.maxScanSkus,
      ...(runtime.cluster?.budget !== undefined ? { shared: runtime.cluster.budget } : {}),
    },
    maxTokens: Math.max(...ROLES.map((r) => limitsFor(r).maxTokens)),
    compiledCache: metrics.compiledCache,
    executor: config.server.executor,
    cacheControl: config.server.cacheControl,
    fastPath: config.server.fastPath,
  });
  if (config.auth.open) o.logger.warn('auth.open is set: no API key is needed and every request is admin (local development only)');
  else if (config.auth.keys.length === 0) {
    o.logger.warn(
      'no API keys configured: every GraphQL request will be refused with 401 (add keys with `inventory-graph keys create`, or set auth.open for local development)',
    );
  }
  await graphql.start();
  const explorerOptions: ExplorerOptions = {
    endpoint: '/graphql',
    title: 'inventory-graph',
    headers: o.explorerHeaders,
    // filled in from the data (an open anomaly's id, SKUs with stock), read again at most every EXAMPLES_MAX_AGE_MS
    examples: latest(
      EXAMPLES_MAX_AGE_MS,
      () => o.now?.() ?? new Date(),
      async () =>
        exampleOperations(
          await sampleExamples(
            {
              firstSkus: async (n) =>
                o.exampleSkus === undefined
                  ? (await store.skus.page(n, null)).skus
                  : [...(await store.skus.findMany(o.exampleSkus.slice(0, SAMPLED_SKUS))).values()],
              anomalies: (filter, first) => store.anomalies.list(filter, first),
              availability: (skus) => inventory(createDiagnostics()).availability(skus),
            },
            config,
          ),
          config,
        ),
    ),
  };
  const authenticate = createAuthenticator(config.auth);
  const handler = createHttpHandler({
    graphql,
    fastPath,
    authenticate,
    context: (requestId, principal) => {
      const diagnostics = createDiagnostics();
      // built on first use: most requests never reconcile or reserve
      let forRequest: ReturnType<typeof reconciliation> | undefined;
      let holds: ReturnType<typeof reservations> | undefined;
      const requestInventory = inventory(diagnostics);
      return {
        requestId,
        principal,
        diagnostics,
        inventory: requestInventory,
        get reservations() {
          return (holds ??= reservations(requestInventory, principal.name));
        },
        sources,
        health,
        get reconciliation() {
          return (forRequest ??= reconciliation(diagnostics));
        },
        anomalyWorkflow,
        mirrors,
        sweep: runtime.sweep,
      };
    },
    explorer: config.server.explorer ? createExplorer(explorerOptions) : undefined,
    ready: () => store.ping(),
    sources: () => health.summary(),
    draining: () => front.draining,
    // the webhook feeds of mirrored sources answer `POST /ingest/<source>` (src/feeds/webhook.ts)
    ingest: (source) => webhooks.get(source),
    operator: createOperatorRoutes({ authenticate, status, metrics, loopbackWithoutKey: config.server.loopbackStatus, anomalies: store.anomalies }),
    onResponse(r) {
      metrics.observeRequest(r);
      requestLog(r);
    },
  });
  const front: FrontDoor = createFrontDoor(handler, config.server);
  const http = front.server;

  let closed: Promise<void> | undefined;
  return {
    config,
    store,
    connectors,
    health,
    events,
    eventsStarted,
    metrics,
    http,
    mirrorsLoaded,
    runtime,
    tracing,
    listen(port = config.server.port, host = config.server.host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          const a = http.address() as AddressInfo;
          resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/graphql`);
        });
      });
    },
    close(options = {}) {
      closed ??= (async () => {
        const { cutShort } = await front.shutdown(options.graceMs ?? 10_000);
        if (cutShort > 0) o.logger.warn('shutdown grace period over: requests cut short', { cutShort });
        await graphql.stop();
        await runtime.close({ flushMs: 2_000 });
        // the spans of the last requests and deliveries are exported before the process lets go
        await tracing?.shutdown().catch((e: unknown) => o.logger.warn('traces could not be flushed', errorFields(e)));
      })();
      return closed;
    },
  };
}

/** How long the explorer's examples are kept before the next page reads them again (a few store statements and one availability read). */
export const EXAMPLES_MAX_AGE_MS = 10_000;

/** `read`'s answer, read again when older than `maxAgeMs`; callers meanwhile share the read in flight. */
function latest(maxAgeMs: number, now: () => Date, read: () => Promise<ExampleOperation[]>): () => Promise<ExampleOperation[]> {
  let kept: { at: number; value: Promise<ExampleOperation[]> } | undefined;
  return () => {
    const at = now().getTime();
    if (kept === undefined || at - kept.at >= maxAgeMs) {
      const value = read();
      kept = { at, value };
      // a failed read is not kept: the next page tries again
      value.catch(() => {
        if (kept?.value === value) kept = undefined;
      });
    }
    return kept.value;
  };
}

/** Each role's limits: its own keys, then `limits.default`, then the built-in defaults (maxSkus: server.maxSkusPerQuery). */
export function roleLimits(config: Config): (role: Role) => Limits {
  const base: Limits = { ...DEFAULT_LIMITS, maxSkus: config.server.maxSkusPerQuery };
  const strip = (o: Partial<Limits> | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
  const table = new Map(ROLES.map((r) => [r, { ...base, ...strip(config.limits.default), ...strip(config.limits[r]) } as Limits]));
  return (role) => table.get(role) ?? base;
}
