/**
 * A gateway over one preset source, as a new user would run it: a config that says `preset:`
 * plus the connection and the locations (no SQL), a SKU map where each code is its own SKU,
 * an admin API key, and the real app serving GraphQL over HTTP on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { stringify } from 'yaml';
import { loadConfig, parseConfig, type IdentifierMapping, type SqlSourceConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/server/app.js';
import { createSqlConnector } from '../../src/sources/sql.js';
import { hashKey, newKey } from '../../src/server/auth.js';
import { openStore } from '../../src/store/index.js';

export interface PresetGateway {
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string }[] }>;
  close(): Promise<void>;
}

export interface PresetGatewayOptions {
  /** The source as the user writes it: `preset`, `client`, `connection`, maybe `presetOptions` and overrides. */
  source: Record<string, unknown>;
  /** Canonical location id → the source's code for it. */
  locations: Record<string, string>;
  /** The system's codes; each is its own canonical SKU. */
  codes: readonly string[];
  /** Which of quantity, cost and name the source answers. */
  precedence: ('quantity' | 'cost' | 'name')[];
}

export async function startPresetGateway(o: PresetGatewayOptions): Promise<PresetGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-preset-'));
  const key = newKey();
  const config = {
    store: { client: 'better-sqlite3', connection: './gateway.sqlite' },
    sources: { sys: o.source },
    locations: Object.entries(o.locations).map(([id, code]) => ({ id, codes: { sys: code } })),
    precedence: Object.fromEntries(o.precedence.map((f) => [f, ['sys']])),
    auth: { keys: [{ name: 'test', role: 'admin', hash: hashKey(key) }] },
  };
  const file = join(dir, 'inventory-graph.yaml');
  writeFileSync(file, stringify(config));
  const loaded = loadConfig(file);
  const store = await openStore(loaded.store);
  try {
    await store.skus.import(o.codes.map((code) => ({ sku: code, name: null, aliases: [{ system: 'sys', code }] })));
  } finally {
    await store.close();
  }
  const app = await createApp(loaded, { logger: createLogger('silent') });
  const url = await app.listen(0, '127.0.0.1');
  return {
    async gql(query, variables) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as never;
    },
    close: () => app.close().finally(() => rmSync(dir, { recursive: true, force: true })),
  };
}

/** What FIGURES answers. */
export type Figures = {
  availability: {
    sku: string;
    onHand: number;
    committed: number;
    available: number;
    flags: string[];
    byLocation: { location: { id: string }; onHand: number; committed: number; available: number; flags: string[] }[];
  }[];
};

/** Availability per location, names and costs of `skus`, as the tests compare them. */
export const FIGURES = `query F($skus: [ID!]!) {
  availability(skus: $skus) { sku onHand committed available flags byLocation { location { id } onHand committed available flags } }
}`;

export const ITEM = `query I($sku: ID!) { inventoryItem(sku: $sku) { sku name unitCost { amount currency source } } }`;

/** The source a preset expands to (through the real config loader), and a connector on it. */
export function presetSource(source: Record<string, unknown>): SqlSourceConfig {
  const config = parseConfig(
    stringify({
      store: { client: 'better-sqlite3', connection: ':memory:' },
      sources: { sys: source },
      locations: [{ id: 'X', codes: { sys: 'x' } }],
      precedence: { quantity: ['sys'] },
    }),
    '/tmp/ig.yaml',
  );
  return config.sources.sys as SqlSourceConfig;
}

export function presetConnector(source: Record<string, unknown>) {
  return createSqlConnector('sys', presetSource(source));
}

/** The (sku, value) rows an identifier mapping reads, sorted: what `skuMap.match` rules will match on. */
export async function identifierRows(db: Knex, m: IdentifierMapping): Promise<[string, string][]> {
  let rows: { sku: unknown; value: unknown }[];
  if (m.query !== undefined) {
    const r = (await db.raw(m.query)) as unknown;
    rows = (Array.isArray(r) ? r[0] : (r as { rows: unknown[] }).rows) as typeof rows;
  } else {
    const q = db(m.table as string).select({ sku: m.columns?.sku as string, value: m.columns?.value as string });
    for (const [k, v] of Object.entries(m.where ?? {})) q.where(k, v as string);
    rows = (await q) as typeof rows;
  }
  return rows.map((r): [string, string] => [String(r.sku), String(r.value)]).sort((a, b) => (a.join('\u0000') < b.join('\u0000') ? -1 : 1));
}
