/**
 * The operations the explorer opens with: each a real question a storefront, an OMS or an
 * analyst asks, filled in with SKUs and codes that exist in this gateway's SKU map. Their text
 * is the published trusted document of the same name (documents/*.graphql, src/server/documents.ts),
 * so what the explorer shows is what a client may call by id.
 */
import type { Config } from '../config/index.js';
import { documentNamed, trustedDocuments, type PersistedQueryManifest } from './documents.js';

export interface ExampleOperation {
  /** The explorer tab's title. */
  name: string;
  /** The trusted document's body. */
  query: string;
  variables: Record<string, unknown>;
}

export function exampleOperations(skus: readonly string[], config: Config, manifest: PersistedQueryManifest = trustedDocuments()): ExampleOperation[] {
  const sample = skus.length > 0 ? skus : ['SKU-000001'];
  const firstSource = Object.keys(config.sources)[0] ?? 'erp';
  const example = (name: string, document: string, variables: Record<string, unknown>): ExampleOperation => ({
    name,
    query: documentNamed(document, manifest).body,
    variables,
  });
  return [
    example('Availability with provenance', 'Availability', { skus: sample, channel: 'web' }),
    example('Item with cost', 'Item', { sku: sample[0] }),
    example('Route an order', 'Route', {
      order: {
        lines: sample.slice(0, 3).map((sku, i) => ({ sku, quantity: 5 * (i + 1) })),
        destination: { latitude: 41.88, longitude: -87.63 },
        strategy: 'FEWEST_SHIPMENTS',
      },
    }),
    example('Reconcile systems', 'Reconcile', { skus: sample, tolerance: 0 }),
    example('Browse the catalogue', 'Catalogue', {}),
    example('Open anomalies', 'Anomalies', {}),
    example('Locations and sources', 'Setup', {}),
    example('Resolve a system code', 'Resolve', { system: firstSource, code: 'UNKNOWN-CODE' }),
  ];
}
