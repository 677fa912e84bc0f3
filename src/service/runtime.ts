/**
 * The composition root: what both the server (src/server/app.ts) and the reconcile CLI
 * (src/cli/reconcile.ts) run on, built once from a validated Config. `createRuntime` opens the
 * store (anomaly write queue, the webhook when `anomalies.webhook` is set), builds one connector
 * per source from the registry of kinds (src/sources/registry.ts), each behind its deadline,
 * circuit breaker, bulkhead and retry (src/sources/resilience.ts) when a health registry is given,
 * and the location index and precedence strategy; the services are made from it on demand
 * (`inventory`, `reconciliation`, `reconciler`, `anomalyWorkflow`). HTTP, GraphQL and the CLI's
 * output stay with their callers.
 */
import { basename } from 'node:path';
import type { Config } from '../config/index.js';
import { LocationIndex } from '../domain/locations.js';
import { DefaultPrecedenceStrategy, type PrecedenceStrategy } from '../domain/precedence.js';
import { DefaultRoutingPolicy, type RoutingPolicy } from '../domain/routing.js';
import { createAnomalyWebhook, type AnomalyWebhook } from '../events/anomaly-webhook.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import type { FileSourceEvents } from '../sources/csv.js';
import type { SourceHealthRegistry } from '../sources/health.js';
import { createConnector } from '../sources/registry.js';
import { resilienceSettings, withResilience } from '../sources/resilience.js';
import type { NewAnomaly } from '../store/anomaly-store.js';
import { openStore, type Store } from '../store/index.js';
import { createReconciliationStore, type ReconciliationStore } from '../store/reconciliation-store.js';
import { createAnomalyWorkflow } from './anomaly-workflow.js';
import { createInventoryService, type SourceSettings } from './inventory-service.js';
import { createReconciler } from './reconciler.js';
import { createReconciliationApi } from './reconciliation-api.js';

export interface RuntimeOptions {
  logger: Logger;
  /**
   * Where each source's health is reported: every connector is then wrapped in its resilience
   * (deadline, breaker, bulkhead, retry). `false`: bare connectors, as the reconcile CLI reads
   * them (a whole-catalogue run is not a request with a deadline).
   */
  health: SourceHealthRegistry | false;
  /** The store's SQLite busy timeout, in ms (src/store/index.ts); its default when unset. */
  busyTimeoutMs?: number;
  /** Replaces the Default precedence strategy built from `precedence`. */
  precedence?: PrecedenceStrategy;
  /** Replaces the Default routing policy. */
  routing?: RoutingPolicy;
  now?: () => Date;
}

export interface Runtime {
  config: Config;
  store: Store;
  /** Reconciliation runs, in the store. */
  runs: ReconciliationStore;
  /** Delivers new anomalies when `anomalies.webhook` is configured. */
  webhook: AnomalyWebhook | undefined;
  /** One per source, in config order. */
  connectors: ReadonlyMap<string, Connector>;
  settings: ReadonlyMap<string, SourceSettings>;
  locations: LocationIndex;
  precedence: PrecedenceStrategy;
  /** The InventoryService, made per request from its diagnostics (src/service/inventory-service.ts). */
  inventory(): ReturnType<typeof createInventoryService>;
  /** The reconciliation API, made per request from its diagnostics (src/service/reconciliation-api.ts). */
  reconciliation(): ReturnType<typeof createReconciliationApi>;
  /** A reconciler over the whole set of sources (src/service/reconciler.ts). */
  reconciler(): ReturnType<typeof createReconciler>;
  anomalyWorkflow(): ReturnType<typeof createAnomalyWorkflow>;
  /** Pings every source; a source that does not answer is logged, never fatal (it may come back). */
  pingSources(): Promise<void>;
  /**
   * Closes the source pools, gives queued anomalies `flushMs` to be written and the webhook
   * `flushMs` to send, then closes the store, in that order.
   */
  close(o: { flushMs: number }): Promise<void>;
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
      if (r.limit === null)
        logger.warn('file refused; the previous snapshot keeps serving', { source: r.source, file: r.file, line: r.line, reason: r.reason });
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

export async function createRuntime(config: Config, o: RuntimeOptions): Promise<Runtime> {
  const { logger, now } = o;
  const store = await openStore({
    ...config.store,
    ...(o.busyTimeoutMs !== undefined ? { busyTimeoutMs: o.busyTimeoutMs } : {}),
    anomalyWrites: { queueSize: config.anomalies.writeQueueSize, logger },
  });
  const runs = createReconciliationStore(store.db);
  const hook = config.anomalies.webhook;
  const webhook = hook === undefined ? undefined : createAnomalyWebhook({ ...hook, logger });
  if (webhook !== undefined) store.anomalies.onOpened((opened) => webhook.notify(opened));
  const files = fileEventsFor(store, logger);
  const connectors = new Map<string, Connector>();
  const settings = new Map<string, SourceSettings>();
  for (const [name, s] of Object.entries(config.sources)) {
    const bare = createConnector(name, s, { files });
    // every kind of connector gets the same deadline, breaker, bulkhead and retry
    const c =
      o.health === false
        ? bare
        : withResilience(bare, resilienceSettings(s), {
            health: o.health,
            logger,
            policy: { maxAgeSeconds: s.maxAgeSeconds ?? null, stalePolicy: s.stalePolicy },
          });
    connectors.set(name, c);
    settings.set(name, { maxAgeSeconds: s.maxAgeSeconds, stalePolicy: s.stalePolicy, skuCodes: s.skuCodes });
  }
  const locations = new LocationIndex(config.locations);
  const precedence = o.precedence ?? new DefaultPrecedenceStrategy(config.precedence);
  const maxSkusPerQuery = config.server.maxSkusPerQuery;

  let closed: Promise<void> | undefined;
  return {
    config,
    store,
    runs,
    webhook,
    connectors,
    settings,
    locations,
    precedence,
    inventory: () =>
      createInventoryService({
        connectors,
        settings,
        store,
        locations,
        precedence,
        maxSkusPerQuery,
        routing: {
          policy: o.routing ?? new DefaultRoutingPolicy({ exhaustiveLimit: config.routing.exhaustiveLimit }),
          maxLines: config.routing.maxLines,
          useStaleStock: config.routing.useStaleStock,
        },
        logger,
        now,
      }),
    reconciliation: () => createReconciliationApi({ connectors, settings, locations, precedence, store, runs, maxSkusPerQuery, logger, now }),
    reconciler: () => createReconciler({ connectors, settings, locations, precedence, logger, now }),
    anomalyWorkflow: () => createAnomalyWorkflow(store),
    async pingSources() {
      await Promise.all(
        [...connectors.values()].map((c) =>
          c.ping().catch((e: unknown) => logger.warn('source not reachable at start-up', { source: c.name, ...errorFields(e) })),
        ),
      );
    },
    close({ flushMs }) {
      closed ??= (async () => {
        await Promise.all([...connectors.values()].map((c) => c.close()));
        await store.anomalies.flush(flushMs);
        await webhook?.drain(flushMs);
        await webhook?.close();
        await store.close();
      })();
      return closed;
    },
  };
}
