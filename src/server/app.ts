/**
 * Wires a validated Config into a running gateway: the store, one connector per source, the
 * location index and precedence strategy, the InventoryService, Apollo and the HTTP handler.
 * `createApp` builds without listening (tests use it with port 0); only the CLI calls it with
 * a real port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.js';
import { createInventoryService, type SourceSettings } from '../domain/inventory-service.js';
import { LocationIndex } from '../domain/locations.js';
import { DefaultPrecedenceStrategy, type PrecedenceStrategy } from '../domain/precedence.js';
import { DefaultRoutingPolicy, type RoutingPolicy } from '../domain/routing.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import { createSqlConnector } from '../sources/sql.js';
import { openStore, type Store } from '../store/index.js';
import type { SourceInfo } from './context.js';
import { createExplorer, type ExplorerOptions } from './explorer.js';
import { createGraphQLServer } from './graphql.js';
import { createHttpHandler } from './http.js';
import { exampleOperations } from './examples.js';

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
  connectors: ReadonlyMap<string, Connector>;
  http: Server;
  /** Starts listening; resolves with the bound URL of /graphql. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

export async function createApp(config: Config, o: AppOptions): Promise<App> {
  const store = await openStore(config.store);
  const connectors = new Map<string, Connector>();
  const settings = new Map<string, SourceSettings>();
  const sources: SourceInfo[] = [];
  for (const [name, s] of Object.entries(config.sources)) {
    const c = createSqlConnector(name, s);
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

  // a source that is down at start-up is reported, never fatal: it may come back
  await Promise.all(
    [...connectors.values()].map((c) => c.ping().catch((e: unknown) => o.logger.warn('source not reachable at start-up', { source: c.name, ...errorFields(e) }))),
  );

  const graphql = createGraphQLServer(o.logger);
  await graphql.start();
  const explorerOptions: ExplorerOptions = {
    endpoint: '/graphql',
    title: 'inventory-graph',
    headers: o.explorerHeaders,
    examples: exampleOperations(o.exampleSkus ?? (await store.skus.page(3, null)).skus.map((s) => s.sku), config),
  };
  const handler = createHttpHandler({
    graphql,
    context: (requestId) => ({ requestId, inventory: inventory(), sources }),
    explorer: config.server.explorer ? createExplorer(explorerOptions) : undefined,
    ready: () => store.ping(),
  });
  const http = createServer((req, res) => void handler(req, res));

  let closed: Promise<void> | undefined;
  return {
    config,
    store,
    connectors,
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
    close() {
      closed ??= (async () => {
        if (http.listening) await new Promise<void>((r) => http.close(() => r()));
        await graphql.stop();
        await Promise.all([...connectors.values()].map((c) => c.close()));
        await store.close();
      })();
      return closed;
    },
  };
}
