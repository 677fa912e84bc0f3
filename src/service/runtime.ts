/**
 * The composition root: what both the server (src/server/app.ts) and the reconcile CLI
 * (src/cli/reconcile.ts) run on, built once from a validated Config. `createRuntime` opens the
 * store (anomaly write queue, the events' sinks: src/events/events.ts), builds one connector
 * per source from the registry of kinds (src/sources/registry.ts), each behind its deadline,
 * circuit breaker, bulkhead and retry (src/sources/resilience.ts) when a health registry is given,
 * and the location index and precedence strategy; the services are made from it on demand
 * (`inventory`, `reconciliation`, `reconciler`, `anomalyWorkflow`), the jobs beside (`sweeper`,
 * `skuMatcher`, `sweep`: started by the server, stopped by `close`). HTTP, GraphQL and the CLI's
 * output stay with their callers.
 */
import { basename } from 'node:path';
import type { Config } from '../config/index.js';
import { LocationIndex } from '../domain/locations.js';
import { MovementKinds } from '../domain/movements.js';
import { DefaultPrecedenceStrategy, type PrecedenceStrategy } from '../domain/precedence.js';
import { DefaultRoutingPolicy, type RoutingPolicy } from '../domain/routing.js';
import { createEvents, sinkConfigs, type Events } from '../events/events.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import type { FileSourceEvents } from '../sources/csv.js';
import { SourceHealthRegistry } from '../sources/health.js';
import { createConnector } from '../sources/registry.js';
import { probeLineText, probeSources, type ProbeLine } from '../sources/probe.js';
import { resilienceSettings, withResilience, type ResilientConnector } from '../sources/resilience.js';
import { createHealthChecks, type CheckedSource, type HealthChecks } from './health-checks.js';
import type { NewAnomaly } from '../store/anomaly-store.js';
import { openStore, type Store, type Trigger } from '../store/index.js';
import { createReconciliationStore, type ReconciliationStore } from '../store/reconciliation-store.js';
import { createAnomalyWorkflow } from './anomaly-workflow.js';
import { createInventoryService, type InventoryDeps, type SourceSettings } from './inventory-service.js';
import { createReconciler } from './reconciler.js';
import { createReconciliationApi } from './reconciliation-api.js';
import { createMirror, type MirroredConnector } from '../feeds/mirror.js';
import { createFeed } from '../feeds/registry.js';
import { createChangeWatch, createSink, type SourceSink } from '../feeds/sink.js';
import type { Feed } from '../feeds/types.js';
import { createReservationService, createReservationSweeper, type ReservationSweeper } from './reservations.js';
import { createSkuMatcher, type SkuMatcher } from './sku-matching.js';
import { createSweep, type Sweep } from './sweep.js';
import { createCluster, type Cluster } from './cluster.js';
import { createLeases, type Leases } from './leases.js';

/** Dead letters kept per source (the newest); older ones are dropped, logged, every 10 minutes. */
export const MAX_DEAD_LETTERS = 100_000;

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
  /**
   * Build the mirrors of sources with `sync.mode: mirror` and their feeds (the server). Without
   * it every source is read live (the reconcile CLI: a whole-catalogue run reads the sources).
   */
  mirrors?: boolean;
  /**
   * Build the events publisher and availability recompute (the server; src/events/events.ts).
   * Without it, changes still write their events to the outbox when sinks are configured (the
   * reconcile CLI's anomalies), and a running server sends them.
   */
  events?: boolean;
  /**
   * Take part in a fleet (the server; `cluster`, src/service/cluster.ts): leases for the events
   * publisher, the sweep and the SKU matcher, and with `cluster.redis` shared breaker trips and
   * the Redis connection a shared rate budget uses. Without it nothing is leased (the CLI).
   */
  cluster?: boolean;
  now?: () => Date;
}

export interface Runtime {
  config: Config;
  store: Store;
  /** Reconciliation runs, in the store. */
  runs: ReconciliationStore;
  /** Events out, when sinks are configured and `events` was asked (src/events/events.ts); started by the server once the mirrors are loaded. */
  events: Events | undefined;
  /** One per source, in config order. */
  connectors: ReadonlyMap<string, Connector>;
  settings: ReadonlyMap<string, SourceSettings>;
  locations: LocationIndex;
  precedence: PrecedenceStrategy;
  /** The InventoryService, made per request from its diagnostics (src/service/inventory-service.ts). */
  inventory(): ReturnType<typeof createInventoryService>;
  /**
   * The reconciliation API, made per request from its diagnostics (src/service/reconciliation-api.ts).
   * `orphanTotals`: the orphans the last sweep counted per source (`SweepRun.orphansBySource`), for
   * `OrphanCodeConnection.totalCount` on pages that cannot count them; wire the sweep's here.
   */
  reconciliation(orphanTotals?: (source: string) => number | null): ReturnType<typeof createReconciliationApi>;
  /** A reconciler over the whole set of sources (src/service/reconciler.ts). */
  reconciler(): ReturnType<typeof createReconciler>;
  anomalyWorkflow(): ReturnType<typeof createAnomalyWorkflow>;
  /** Reservations, made per request from its InventoryService and API key (src/service/reservations.ts). */
  reservations(): ReturnType<typeof createReservationService>;
  /** Expires holds, hands confirmed ones over to the sources' orders, prunes keys; started by the server. */
  sweeper: ReservationSweeper;
  /**
   * The background health check of each source (`sources.X.healthCheck`, src/service/health-checks.ts):
   * started by the server; none without a health registry (the reconcile CLI).
   */
  healthChecks: HealthChecks;
  /** SKU matching (`skuMap`, src/service/sku-matching.ts): `run` once, or `start` its schedule (the server). */
  skuMatcher: SkuMatcher;
  /**
   * The sweep (`sweep`, src/service/sweep.ts): `run` once (`inventory-graph sweep`), or `start` its
   * schedule (the server); `status()` for `Query.sweep` and /status, `orphanCount(source)` for
   * `OrphanCodeConnection.totalCount`. Stopped, a run under way awaited, by `close`.
   */
  sweep: Sweep;
  /** The fleet's shared state (`cluster`), when `cluster` was asked: closed by `close`. */
  cluster: Cluster | undefined;
  /** The leases this instance takes (events publisher, sweep, SKU matcher), when `cluster` was asked. */
  leases: Leases | undefined;
  /** Mirrored sources, by name (their connectors in `connectors` read through them). */
  mirrors: ReadonlyMap<string, MirroredConnector>;
  /** Every feed of every mirrored source, in config order. */
  feeds: readonly Feed[];
  /** Each mirrored source's sink, which its message feeds hand their deliveries to. */
  sinks: ReadonlyMap<string, SourceSink>;
  /**
   * Loads every mirror (a poll feed loads its own) and starts the feeds, the re-driving of dead
   * letters marked for replay (every second) and the pruning of the dedupe window. Resolves when
   * every first load has ended, well or not (a failed load is logged and retried by its feed, or
   * every 30 s; reads stay live meanwhile).
   */
  startMirrors(): Promise<void>;
  /**
   * Checks every mapping of every source (src/sources/probe.ts) and logs one line per source and
   * entity, as `config check --connect` prints them; a failing one is logged and shown on the
   * source's health (the other entities are answered), never fatal (it may come back).
   */
  pingSources(): Promise<ProbeLine[]>;
  /**
   * Stops the events (a delivery in flight is sent again by the next start), closes the source
   * pools, gives queued anomalies `flushMs` to be written, then closes the store, in that order.
   */
  close(o: { flushMs: number }): Promise<void>;
}

/**
 * Channel names the config gives outside `locations` (events published per channel, low-stock
 * thresholds per channel, sink filters): a channel named there may be asked for too.
 */
export function configuredChannels(config: Config): string[] {
  const a = config.events.availability;
  return [...(a.channels ?? []), ...Object.keys(a.lowStock.channels), ...Object.values(config.events.sinks).flatMap((s) => s.filter.channels ?? [])];
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
      logger.info('file loaded', { source: l.source, file: l.file, rows: l.rows, carried: l.carried });
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
  const cluster = o.cluster === true ? createCluster(config.cluster, logger) : undefined;
  const leases = cluster === undefined ? undefined : createLeases({ store: store.leases, instanceId: cluster.instanceId, leaseMs: cluster.leaseMs, logger });
  // from here on, changes write their events for these sinks (none: nothing is written)
  store.events.configure(sinkConfigs(config).map(([sink, s]) => ({ sink, filter: s.filter })));
  let events: Events | undefined;
  const touched = (marks: readonly Trigger[]) => events?.availability.touched(marks);
  /** Whether this runtime recomputes availability events, so its feeds mark what they change. */
  const recomputes = o.events === true && store.events.enabled();
  const locations = new LocationIndex(config.locations, configuredChannels(config));
  const movementKinds = new MovementKinds(config.movementKinds);
  const mirrors = new Map<string, MirroredConnector>();
  const feeds: Feed[] = [];
  const sinks = new Map<string, SourceSink>();
  const fileEvents = fileEventsFor(store, logger);
  const files: FileSourceEvents = {
    ...fileEvents,
    loaded(l) {
      fileEvents.loaded?.(l);
      // the 3PL's new file is the new base: the picks kept since are replayed over it
      void mirrors.get(l.source)?.mirror.rebase(l.asOf, l.rows + l.carried);
    },
  };
  const connectors = new Map<string, Connector>();
  const checked: CheckedSource[] = [];
  const settings = new Map<string, SourceSettings>();
  const clock = () => (now === undefined ? Date.now() : now().getTime());
  for (const [name, s] of Object.entries(config.sources)) {
    let bare = createConnector(name, s, { files, movementKinds: movementKinds.names });
    if (o.mirrors === true && s.sync.mode === 'mirror') {
      const watch = createChangeWatch({ source: name, store, locations, skuCodes: s.skuCodes, logger });
      const m = createMirror(bare, {
        sync: s.sync,
        locations,
        logger,
        replay: () => store.feeds.replay(name, 0),
        onNegative: (t) => void watch.negatives(t),
        ...(recomputes ? { refreshed: { mark: (codes) => store.events.trigger(store.db, name, codes), applied: touched } } : {}),
        now: clock,
      });
      const sink = createSink({
        mirror: m.mirror,
        store,
        watch,
        logger,
        now: clock,
        ...(recomputes ? { applied: touched } : {}),
      });
      mirrors.set(name, m);
      sinks.set(name, sink);
      for (const f of s.sync.feeds) {
        const feed = createFeed(f, { source: name, sink, logger, mirror: m.mirror, now: clock });
        feeds.push(feed);
        // the mirror's heardAt (lag, STALE, provenance) is its feeds' oldest: every kind counts
        m.mirror.addFeed(() => feed.stats());
      }
      bare = m;
    }
    // every kind of connector gets the same deadline, breaker, bulkhead and retry
    const c =
      o.health === false
        ? bare
        : withResilience(bare, resilienceSettings(s), {
            health: o.health,
            logger,
            policy: { maxAgeSeconds: s.maxAgeSeconds ?? null, stalePolicy: s.stalePolicy },
            ...(cluster?.trips !== undefined ? { trips: cluster.trips } : {}),
            ...(now !== undefined ? { now: clock } : {}),
          });
    connectors.set(name, c);
    if (o.health !== false) {
      const r = c as ResilientConnector;
      checked.push({ name, intervalSeconds: s.healthCheck.intervalSeconds, healthCheck: () => r.healthCheck() });
    }
    settings.set(name, {
      maxAgeSeconds: s.maxAgeSeconds,
      stalePolicy: s.stalePolicy,
      skuCodes: s.skuCodes,
      ...(s.channelView !== undefined ? { channelView: s.channelView } : {}),
      ...(mirrors.has(name) ? { maxLagSeconds: s.sync.maxLagSeconds } : {}),
    });
  }
  const precedence = o.precedence ?? new DefaultPrecedenceStrategy(config.precedence);
  const maxSkusPerQuery = config.server.maxSkusPerQuery;

  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  /** Loads one mirror whose feeds do not (no poll feed), again every 30 s until it succeeds. */
  async function loadUntilLoaded(m: MirroredConnector): Promise<void> {
    while (!stopping) {
      try {
        await m.mirror.load();
        return;
      } catch {
        await new Promise<void>((resolve) => timers.push(setTimeout(resolve, 30_000)));
      }
    }
  }
  async function startMirrors(): Promise<void> {
    const loads: Promise<void>[] = [];
    for (const [name, m] of mirrors) {
      const own = feeds.filter((f) => f.name.startsWith(`${name}/`));
      const poll = own.find((f) => f.kind === 'poll');
      if (poll === undefined) loads.push(loadUntilLoaded(m));
      // message feeds start at once: what they receive before the load is durable and replayed by it
      for (const f of own) if (f !== poll) await f.start();
      if (poll !== undefined) loads.push(poll.start());
    }
    if (mirrors.size > 0) {
      const redrive = setInterval(() => {
        for (const [name, sink] of sinks)
          sink.redrive().catch((e: unknown) => logger.warn('could not re-drive dead letters', { source: name, ...errorFields(e) }));
      }, 1000);
      const prune = setInterval(() => {
        for (const [name] of mirrors) {
          const windowMs = (config.sources[name]?.sync.dedupeWindowSeconds ?? 86_400) * 1000;
          store.feeds
            .prune(name, Date.now() - windowMs)
            .catch((e: unknown) => logger.warn('could not prune applied feed changes', { source: name, ...errorFields(e) }));
          store.feeds.deadLetters
            .trim(name, MAX_DEAD_LETTERS)
            .then((n) => {
              if (n > 0) logger.warn('dead-letter queue over its bound: the oldest dropped', { source: name, dropped: n, kept: MAX_DEAD_LETTERS });
            })
            .catch((e: unknown) => logger.warn('could not trim the dead-letter queue', { source: name, ...errorFields(e) }));
        }
      }, 600_000);
      redrive.unref();
      prune.unref();
      timers.push(redrive, prune);
    }
    await Promise.all(loads);
  }

  const routing = {
    policy: o.routing ?? new DefaultRoutingPolicy({ exhaustiveLimit: config.routing.exhaustiveLimit }),
    maxLines: config.routing.maxLines,
    useStaleStock: config.routing.useStaleStock,
  };
  const sweeper = createReservationSweeper({
    store,
    connectors,
    heardAt: (source) => {
      const m = mirrors.get(source)?.mirror.stats();
      // loading: reads still go to the source itself
      return m === undefined || m.state === 'loading' ? null : (m.heardAt?.getTime() ?? 0);
    },
    config: config.reservations,
    logger,
    now,
  });

  const inventoryDeps: InventoryDeps = {
    connectors,
    settings,
    store,
    locations,
    precedence,
    maxSkusPerQuery,
    maxScanSkus: config.server.maxScanSkus,
    routing,
    costTolerancePercent: config.costs.tolerancePercent,
    logger,
    now,
  };
  const inventory = () => createInventoryService(inventoryDeps);
  if (o.events === true)
    events = createEvents({
      config,
      store,
      inventory,
      canonical: (source) => settings.get(source)?.skuCodes === 'canonical',
      logger,
      ...(now !== undefined ? { now } : {}),
      ...(leases !== undefined ? { publisherLease: leases.lease('events-publisher') } : {}),
    });

  const skuMatcher = createSkuMatcher({ config, connectors, store, logger, ...(leases !== undefined ? { lease: leases.lease('sku-matcher') } : {}) });
  const reconciler = () => createReconciler({ connectors, settings, locations, precedence, logger, now, movementKinds });
  const sweep = createSweep({
    settings: config.sweep,
    inventory: inventoryDeps,
    stockSources: () => reconciler().stockSources(),
    knownCodes: (source, codes, canonical) => runs.knownCodes(source, codes, canonical),
    logger,
    now,
    ...(leases !== undefined ? { lease: leases.lease('sweep') } : {}),
  });
  // the first try before any job starts: a lone instance holds every lease from its first step
  await leases?.start();
  const healthChecks = createHealthChecks({
    sources: checked,
    health: o.health === false ? new SourceHealthRegistry() : o.health,
    logger,
  });

  let closed: Promise<void> | undefined;
  return {
    config,
    store,
    runs,
    events,
    connectors,
    settings,
    locations,
    precedence,
    inventory,
    reservations: () => createReservationService({ store, locations, config: config.reservations, routing, now }),
    sweeper,
    reconciliation: (orphanTotals) =>
      createReconciliationApi({
        connectors,
        settings,
        locations,
        precedence,
        store,
        runs,
        maxSkusPerQuery,
        maxScanSkus: config.server.maxScanSkus,
        logger,
        now,
        movementKinds,
        ...(orphanTotals !== undefined ? { orphanTotals } : {}),
      }),
    reconciler,
    anomalyWorkflow: () => createAnomalyWorkflow(store, { locations, sources: Object.keys(config.sources) }),
    skuMatcher,
    sweep,
    cluster,
    leases,
    healthChecks,
    mirrors,
    feeds,
    sinks,
    startMirrors,
    async pingSources() {
      const lines = await probeSources(connectors.values());
      for (const l of lines) {
        const fields = { source: l.source, entity: l.entity, ok: l.ok, [l.ok ? 'detail' : 'reason']: l.detail };
        if (l.ok) logger.info(`source check: ${probeLineText(l)}`, fields);
        else logger.warn(`source check: ${probeLineText(l)}`, fields);
      }
      return lines;
    },
    close({ flushMs }) {
      closed ??= (async () => {
        stopping = true;
        for (const t of timers) clearTimeout(t);
        await skuMatcher.stop();
        await sweep.stop();
        await healthChecks.stop();
        await sweeper.stop();
        await events?.close();
        // released once their jobs stopped: another instance takes them over at its next try
        await leases?.stop();
        // feeds first: what they received and did not acknowledge is delivered again
        await Promise.all(feeds.map((f) => f.close().catch((e: unknown) => logger.warn('feed did not close cleanly', { feed: f.name, ...errorFields(e) }))));
        await Promise.all([...connectors.values()].map((c) => c.close()));
        await store.anomalies.flush(flushMs);
        await store.close();
        await cluster?.close();
      })();
      return closed;
    },
  };
}
