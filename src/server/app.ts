/**
 * Wires a validated Config into a running gateway: the store, one connector per source, the
 * location index and precedence strategy, the InventoryService, Apollo and the HTTP handler.
 * `createApp` builds without listening (tests use it with port 0); only the CLI calls it with
 * a real port.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import type { Config, SourceConfig } from '../config/index.js';
import { createAnomalyWebhook, type AnomalyWebhook } from '../events/anomaly-webhook.js';
import { createAnomalyWorkflow } from '../service/anomaly-workflow.js';
import { createReconciliationApi } from '../service/reconciliation-api.js';
import { createInventoryService, type SourceSettings } from '../service/inventory-service.js';
import { LocationIndex } from '../domain/locations.js';
import { DefaultPrecedenceStrategy, type PrecedenceStrategy } from '../domain/precedence.js';
import { DefaultRoutingPolicy, type RoutingPolicy } from '../domain/routing.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import { createCsvConnector, type FileSourceEvents } from '../sources/csv.js';
import { createSqlConnector } from '../sources/sql.js';
import { SourceHealthRegistry } from '../sources/health.js';
import { resilienceSettings, withResilience } from '../sources/resilience.js';
import type { NewAnomaly } from '../store/anomaly-store.js';
import { openStore, type Store } from '../store/index.js';
import { createReconciliationStore } from '../store/reconciliation-store.js';
import type { SourceInfo } from './context.js';
import { createExplorer, type ExplorerOptions } from './explorer.js';
import { createGraphQL } from './graphql.js';
import { createFrontDoor, createHttpHandler, type FrontDoor } from './http.js';
import { createAuthenticator, ROLES, type Role } from './auth.js';
import { createDiagnostics } from './diagnostics.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { exampleOperations } from './examples.js';
import { createMetrics, ObservedHealthRegistry, type Metrics } from './metrics.js';
import { createRequestLog } from './request-log.js';
import { createOperatorRoutes, createStatusCollector } from './status-page.js';

export interface AppOptions {
  logger: Logger;
  /** Replaces the Default precedence strategy built from `precedence`. */
  precedence?: PrecedenceStrategy;
  /** Replaces the Default routing policy. */
  routing?: RoutingPolicy;
  /** Headers prefilled in the explorer (e.g. a demo API key). */
  explorerHeaders?: Record<string, string>;
  /** SKUs the explorer's example operations use. */
  exampleSkus?: string[];
  now?: () => Date;
}

export interface App {
  config: Config;
  store: Store;
  /** One per source, each behind its deadline, circuit breaker and bulkhead (src/sources/resilience.ts). */
  connectors: ReadonlyMap<string, Connector>;
  /** Each source's health as this process sees it. */
  health: SourceHealthRegistry;
  /** Delivers new anomalies when `anomalies.webhook` is configured. */
  webhook: AnomalyWebhook | undefined;
  /** The Prometheus registry behind /metrics (src/server/metrics.ts). */
  metrics: Metrics;
  http: Server;
  /** Starts listening; resolves with the bound URL of /graphql. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Stops gracefully: `/readyz` answers 503, no new connections, requests in flight finish (at
   * most `graceMs`, default 10000), keep-alive connections close; then Apollo and the source
   * pools are closed, queued anomalies get 2 s to be written and the webhook 2 s to send, and
   * the store is closed, in that order.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** The connector for one configured source, by its `kind`. */
export function createConnector(name: string, s: SourceConfig, o: { files?: FileSourceEvents } = {}): Connector {
  return s.kind === 'csv' ? createCsvConnector(name, s, { events: o.files }) : createSqlConnector(name, s);
}

/**
 * File-source events for a store: a refused file is logged and recorded as an anomaly (code: the
 * file name), SNAPSHOT_TOO_LARGE when it is over `maxFileBytes` or `maxRows`, else
 * SNAPSHOT_REJECTED; files gone missing are logged and recorded as SOURCE_FILES_MISSING (code:
 * the file pattern), and logged again when they are back.
 */
export function fileEventsFor(store: Store, logger: Logger): FileSourceEvents {
  const record = (a: NewAnomaly) => store.anomalies.enqueue([{ ...a, detail: a.detail.slice(0, 1000) }]);
  return {
    rejected(r) {
      const where = `${r.file}${r.line === null ? '' : `:${r.line}`}`;
      if (r.limit === null) logger.warn('file refused; the previous snapshot keeps serving', { source: r.source, file: r.file, line: r.line, reason: r.reason });
      else logger.warn('file over a limit, refused; the previous snapshot keeps serving', { source: r.source, file: r.file, limit: r.limit, reason: r.reason });
      const name = basename(r.file);
      const kind = r.limit === null ? 'SNAPSHOT_REJECTED' : 'SNAPSHOT_TOO_LARGE';
      record({ kind, sku: null, location: null, source: r.source, code: name, detail: `${where}: ${r.reason}` });
    },
    missing(m) {
      logger.warn('source files missing', { source: m.source, path: m.path, reason: m.reason, serving: m.serving });
      const serving = m.serving === null ? 'no snapshot to serve' : `the last snapshot (${m.serving}) keeps serving`;
      record({ kind: 'SOURCE_FILES_MISSING', sku: null, location: null, source: m.source, code: basename(m.path), detail: `${m.reason}; ${serving}` });
    },
    found(f) {
      logger.info('source files found again', { source: f.source, path: f.path });
    },
    loaded(l) {
      logger.info('file loaded', { source: l.source, file: l.file, rows: l.rows });
    },
  };
}

export async function createApp(config: Config, o: AppOptions): Promise<App> {
  // a locked SQLite store fails a statement at once instead of freezing the process (src/store/index.ts)
  const store = await openStore({ ...config.store, busyTimeoutMs: 0, anomalyWrites: { queueSize: config.anomalies.writeQueueSize, logger: o.logger } });
  const hook = config.anomalies.webhook;
  const webhook = hook === undefined ? undefined : createAnomalyWebhook({ ...hook, logger: o.logger });
  if (webhook !== undefined) store.anomalies.onOpened((opened) => webhook.notify(opened));
  const files = fileEventsFor(store, o.logger);
  const connectors = new Map<string, Connector>();
  const settings = new Map<string, SourceSettings>();
  const sources: SourceInfo[] = [];
  // the registry, also feeding /metrics and /status with every read
  const health = new ObservedHealthRegistry(o.now);
  for (const [name, s] of Object.entries(config.sources)) {
    // every kind of connector gets the same deadline, breaker, bulkhead and retry
    const c = withResilience(createConnector(name, s, { files }), resilienceSettings(s), {
      health,
      logger: o.logger,
      policy: { maxAgeSeconds: s.maxAgeSeconds ?? null, stalePolicy: s.stalePolicy },
    });
    connectors.set(name, c);
    settings.set(name, { maxAgeSeconds: s.maxAgeSeconds, stalePolicy: s.stalePolicy, skuCodes: s.skuCodes });
    sources.push({ name, kind: c.kind, entities: [...c.entities], maxAgeSeconds: s.maxAgeSeconds ?? null, stalePolicy: s.stalePolicy });
  }
  const inventory = createInventoryService({
    connectors,
    settings,
    store,
    locations: new LocationIndex(config.locations),
    precedence: o.precedence ?? new DefaultPrecedenceStrategy(config.precedence),
    maxSkusPerQuery: config.server.maxSkusPerQuery,
    routing: {
      policy: o.routing ?? new DefaultRoutingPolicy({ exhaustiveLimit: config.routing.exhaustiveLimit }),
      maxLines: config.routing.maxLines,
      useStaleStock: config.routing.useStaleStock,
    },
    logger: o.logger,
    now: o.now,
  });

  const reconciliation = createReconciliationApi({
    connectors,
    settings,
    locations: new LocationIndex(config.locations),
    precedence: o.precedence ?? new DefaultPrecedenceStrategy(config.precedence),
    store,
    runs: createReconciliationStore(store.db),
    maxSkusPerQuery: config.server.maxSkusPerQuery,
    logger: o.logger,
    now: o.now,
  });
  const anomalyWorkflow = createAnomalyWorkflow(store);

  // a source that is down at start-up is reported, never fatal: it may come back
  await Promise.all(
    [...connectors.values()].map((c) => c.ping().catch((e: unknown) => o.logger.warn('source not reachable at start-up', { source: c.name, ...errorFields(e) }))),
  );

  // operators: /status, /status.json and /metrics read the same collection; one log line per request
  const status = createStatusCollector({ health, anomalies: store.anomalies, runs: createReconciliationStore(store.db), now: o.now });
  const metrics = createMetrics({ health, status, anomalyWrites: () => store.anomalies.writeStats() });
  const requestLog = createRequestLog(o.logger);

  const limitsFor = roleLimits(config);
  const { server: graphql, fastPath } = createGraphQL({
    logger: o.logger,
    limits: { limitsFor, locationCount: config.locations.length },
    maxTokens: Math.max(...ROLES.map((r) => limitsFor(r).maxTokens)),
    compiledCache: metrics.compiledCache,
    executor: config.server.executor,
    cacheControl: config.server.cacheControl,
    fastPath: config.server.fastPath,
  });
  if (config.auth.open) o.logger.warn('auth.open is set: no API key is needed and every request is admin (local development only)');
  else if (config.auth.keys.length === 0) {
    o.logger.warn('no API keys configured: every GraphQL request will be refused with 401 (add keys with `inventory-graph keys create`, or set auth.open for local development)');
  }
  await graphql.start();
  const explorerOptions: ExplorerOptions = {
    endpoint: '/graphql',
    title: 'inventory-graph',
    headers: o.explorerHeaders,
    examples: exampleOperations(o.exampleSkus ?? (await store.skus.page(3, null)).skus.map((s) => s.sku), config),
  };
  const authenticate = createAuthenticator(config.auth);
  const handler = createHttpHandler({
    graphql,
    fastPath,
    authenticate,
    context: (requestId, principal) => {
      const diagnostics = createDiagnostics();
      // built on first use: most requests never reconcile
      let forRequest: ReturnType<typeof reconciliation> | undefined;
      return {
        requestId,
        principal,
        diagnostics,
        inventory: inventory(diagnostics),
        sources,
        health,
        get reconciliation() {
          return (forRequest ??= reconciliation(diagnostics));
        },
        anomalyWorkflow,
      };
    },
    explorer: config.server.explorer ? createExplorer(explorerOptions) : undefined,
    ready: () => store.ping(),
    sources: () => health.summary(),
    draining: () => front.draining,
    operator: createOperatorRoutes({ authenticate, status, metrics, loopbackWithoutKey: config.server.loopbackStatus }),
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
    webhook,
    metrics,
    http,
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
        await Promise.all([...connectors.values()].map((c) => c.close()));
        await store.anomalies.flush(2_000);
        await webhook?.drain(2_000);
        await webhook?.close();
        await store.close();
      })();
      return closed;
    },
  };
}

/** Each role's limits: its own keys, then `limits.default`, then the built-in defaults (maxSkus: server.maxSkusPerQuery). */
export function roleLimits(config: Config): (role: Role) => Limits {
  const base: Limits = { ...DEFAULT_LIMITS, maxSkus: config.server.maxSkusPerQuery };
  const strip = (o: Partial<Limits> | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
  const table = new Map(ROLES.map((r) => [r, { ...base, ...strip(config.limits.default), ...strip(config.limits[r]) } as Limits]));
  return (role) => table.get(role) ?? base;
}

