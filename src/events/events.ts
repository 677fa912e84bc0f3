/**
 * Events out, put together from config (docs/events.md): the sinks and their filters (the store
 * writes a delivery per sink whose filter takes an event), the publisher that sends them, the
 * availability recompute, and the source-state check. The runtime builds it; nothing here runs
 * until `start`.
 *
 * `anomalies.webhook`, the round-1 anomaly webhook, is one sink of this now: named
 * `anomalies-webhook`, for anomaly.opened and anomaly.reopened, unsigned, its `maxAttempts` and
 * `timeoutMs` kept (its `queueSize` has no use: the outbox is in the store).
 */
import type { Config, EventSinkConfig } from '../config/index.js';
import type { LowStockThresholds } from '../domain/events.js';
import type { Logger } from '../logger.js';
import type { InventoryService } from '../service/inventory-service.js';
import type { Store } from '../store/index.js';
import { createAvailabilityEvents, type AvailabilityEvents } from './availability-events.js';
import { createPublisher, type Publisher } from './publisher.js';
import { createSourceEvents, type SourceEvents, type SourceReading } from './source-events.js';
import { createTransport } from './transports/registry.js';

/** The sink the legacy `anomalies.webhook` becomes. */
export const LEGACY_ANOMALY_SINK = 'anomalies-webhook';

/** Every configured sink by name, the legacy anomaly webhook included. */
export function sinkConfigs(config: Config): Array<[string, EventSinkConfig]> {
  const out = Object.entries(config.events.sinks);
  const legacy = config.anomalies.webhook;
  if (legacy !== undefined && config.events.sinks[LEGACY_ANOMALY_SINK] === undefined) {
    out.push([
      LEGACY_ANOMALY_SINK,
      {
        kind: 'webhook',
        url: legacy.url,
        timeoutMs: legacy.timeoutMs,
        previousSecrets: [],
        concurrency: 1,
        filter: { types: ['anomaly.opened', 'anomaly.reopened'] },
        maxAttempts: legacy.maxAttempts,
        baseDelayMs: 500,
        maxDelayMs: 30_000,
        batchSize: 200,
      },
    ]);
  }
  return out;
}

/** The channels availability is published for: configured, else every channel a location names, else one figure over all (null). */
export function eventChannels(config: Config): (string | null)[] {
  if (config.events.availability.channels !== undefined) return [...config.events.availability.channels];
  const named = [...new Set(config.locations.flatMap((l) => l.channels ?? []))];
  return named.length > 0 ? named : [null];
}

export interface EventsOptions {
  config: Config;
  store: Store;
  inventory: () => InventoryService;
  canonical: (source: string) => boolean;
  logger: Logger;
  now?: () => Date;
  /** The fleet's one events publisher (src/service/leases.ts); unset: this process always publishes. */
  publisherLease?: { held(): boolean };
}

export interface Events {
  availability: AvailabilityEvents;
  publisher: Publisher;
  /** Set once `start` was given a way to read the sources' states (the server). */
  sources: SourceEvents | undefined;
  /**
   * Starts the publisher, recomputes the marks left over (call once the mirrors are loaded), and
   * with `readSources`, the source-state check.
   */
  start(o: { readSources?: () => SourceReading[] }): Promise<void>;
  close(): Promise<void>;
}

/** The events machinery, or undefined when no sink is configured (then nothing is written either). */
export function createEvents(o: EventsOptions): Events | undefined {
  const sinks = sinkConfigs(o.config);
  if (sinks.length === 0) return undefined;
  const { config, store, logger } = o;
  const lowStock: LowStockThresholds = config.events.availability.lowStock;
  const availability = createAvailabilityEvents({
    store,
    inventory: o.inventory,
    canonical: o.canonical,
    channels: eventChannels(config),
    config: { ...config.events.availability, lowStock },
    maxSkusPerRead: config.server.maxSkusPerQuery,
    leftoverScanMs: config.events.availability.retrySeconds * 1000,
    ...(o.publisherLease !== undefined ? { lease: o.publisherLease } : {}),
    logger,
    ...(o.now !== undefined ? { now: o.now } : {}),
  });
  store.events.onTriggered(availability.touched);
  const publisher = createPublisher({
    store,
    sinks: sinks.map(([name, s]) => ({ name, transport: createTransport(s, { name, logger }), policy: s })),
    logger,
    keepSeconds: config.events.keepSeconds,
    pollMs: config.events.pollIntervalMs,
    ...(o.publisherLease !== undefined ? { lease: o.publisherLease } : {}),
    ...(o.now !== undefined ? { now: () => (o.now as () => Date)().getTime() } : {}),
  });
  let sources: SourceEvents | undefined;
  let started = false;
  return {
    availability,
    publisher,
    get sources() {
      return sources;
    },
    async start({ readSources }) {
      if (started) return;
      started = true;
      const dropped = await store.events.dropOtherSinks(sinks.map(([n]) => n));
      for (const [sink, n] of dropped) logger.warn('undelivered events of a sink no longer configured were dropped', { sink, events: n });
      publisher.start();
      if (readSources !== undefined) {
        sources = createSourceEvents({
          store,
          read: readSources,
          intervalSeconds: config.events.sourceCheckSeconds,
          logger,
          ...(o.now !== undefined ? { now: o.now } : {}),
        });
        sources.start();
      }
      await availability.start();
    },
    async close() {
      await sources?.close();
      await availability.close();
      await publisher.close();
    },
  };
}
