/**
 * The benchmark's scenarios: one GraphQL operation each, with variables drawn at random from
 * the whole catalogue by a seeded generator, so every run asks the same sequence and no two
 * requests ask for the same page. Each operation is a published trusted document
 * (documents/bench-*.graphql), sent by id as clients are asked to call (Apollo's persisted-query
 * wire format: the fast path answers it), or as its text (`carrier: 'text'`: Apollo's pipeline
 * answers). The floor server answers the same request bodies (it reads `operationName` and
 * `variables`, never the query or its id).
 */
import { documentNamed, type ManifestOperation } from '../../src/server/documents.js';

/** The scenarios' operations: published trusted documents (documents/bench-*.graphql). */
export const AVAILABILITY = documentNamed('BenchAvailability');
export const ITEM = documentNamed('BenchItem');
export const ROUTE = documentNamed('BenchRoute');

export type ScenarioName = 'availability-1' | 'availability-50' | 'availability-500' | 'item' | 'route-10';
export const SCENARIOS: readonly ScenarioName[] = ['availability-1', 'availability-50', 'availability-500', 'item', 'route-10'];

export interface GraphQLBody {
  operationName: 'BenchAvailability' | 'BenchItem' | 'BenchRoute';
  variables: Record<string, unknown>;
  /** By id: the trusted document's hash. */
  extensions?: { persistedQuery: { version: 1; sha256Hash: string } };
  /** Or by text. */
  query?: string;
}

/** How a request carries its operation: the trusted document's id (the default), or its text. */
export type Carrier = 'id' | 'text';

function carried(doc: ManifestOperation, variables: Record<string, unknown>, carrier: Carrier): GraphQLBody {
  const operationName = doc.name as GraphQLBody['operationName'];
  return carrier === 'id'
    ? { operationName, variables, extensions: { persistedQuery: { version: 1, sha256Hash: doc.id } } }
    : { operationName, variables, query: doc.body };
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Request bodies for a scenario: SKUs uniformly at random over 1..catalogue (`SKU-` + the
 * number padded to `width`, as the demo names them), a fresh draw per request.
 */
export function bodies(scenario: ScenarioName, catalogue: number, width: number, seed: number, carrier: Carrier = 'id'): () => GraphQLBody {
  const next = rng(seed);
  const sku = () => `SKU-${String(1 + Math.floor(next() * catalogue)).padStart(width, '0')}`;
  const skus = (n: number) => Array.from({ length: n }, sku);
  switch (scenario) {
    case 'availability-1':
    case 'availability-50':
    case 'availability-500': {
      const n = Number(scenario.split('-')[1]);
      return () => carried(AVAILABILITY, { skus: skus(n), channel: 'web' }, carrier);
    }
    case 'item':
      return () => carried(ITEM, { sku: sku() }, carrier);
    case 'route-10':
      return () =>
        carried(
          ROUTE,
          {
            order: {
              lines: skus(10).map((s, k) => ({ sku: s, quantity: 1 + ((k * 7 + Math.floor(next() * 5)) % 5) })),
              destination: { latitude: 41.88, longitude: -87.63 },
              channel: 'web',
            },
          },
          carrier,
        );
  }
}

/** The SKUs a scenario asks about per request (for "linear in SKUs per query"). */
export function skusPerRequest(s: ScenarioName): number {
  return s === 'item' ? 1 : s === 'route-10' ? 10 : Number(s.split('-')[1]);
}
