/**
 * Connector kinds: the config's `kind` (the discriminated union `sourceSchema` in
 * src/config/schema.ts) mapped to the factory that builds that kind's connector. A new kind of
 * source is its schema in the union, its connector module, and one entry here; the `satisfies`
 * below fails to compile while a kind the schema accepts has no factory (and
 * test/unit/source-registry.test.ts checks the same at run time).
 */
import type { SourceConfig } from '../config/index.js';
import type { Connector } from './connector.js';
import { createCsvConnector, type FileSourceEvents } from './csv.js';
import { createHttpConnector } from './http.js';
import { createSqlConnector } from './sql.js';

/** What a factory may be given besides its source's config. */
export interface ConnectorOptions {
  /** File-source events (refused files, missing files), for the kinds that read files. */
  files?: FileSourceEvents;
  /** The movement kinds a `kind` column may hold (the built-in ones and the config's `movementKinds`); the built-in ones when unset. */
  movementKinds?: readonly string[];
}

export type SourceKind = SourceConfig['kind'];

/** Builds one connector from the config of one source of kind K. */
export type ConnectorFactory<K extends SourceKind> = (name: string, config: Extract<SourceConfig, { kind: K }>, o: ConnectorOptions) => Connector;

export const connectorFactories = {
  csv: (name, s, o) => createCsvConnector(name, s, { events: o.files, ...(o.movementKinds ? { movementKinds: o.movementKinds } : {}) }),
  sql: (name, s, o) => createSqlConnector(name, s, undefined, o.movementKinds ? { movementKinds: o.movementKinds } : {}),
  http: (name, s) => createHttpConnector(name, s),
} satisfies { [K in SourceKind]: ConnectorFactory<K> };

/** The connector for one configured source, by its `kind` (bare: resilience is added by the runtime, src/service/runtime.ts). */
export function createConnector(name: string, s: SourceConfig, o: ConnectorOptions = {}): Connector {
  const factory = connectorFactories[s.kind] as ConnectorFactory<SourceKind> | undefined;
  if (factory === undefined) throw new Error(`source "${name}": no connector for kind "${String(s.kind)}"`);
  return factory(name, s, o);
}
