/**
 * The benchmark's scenarios: one GraphQL operation each, with variables drawn at random from
 * the whole catalogue by a seeded generator, so every run asks the same sequence and no two
 * requests ask for the same page. The floor server answers the same request bodies (it reads
 * `operationName` and `variables`, never the query text).
 */
import { documentNamed } from '../../src/server/documents.js';

/** The scenarios' operations: published trusted documents (documents/bench-*.graphql). */
export const AVAILABILITY = documentNamed('BenchAvailability');
export const ITEM = documentNamed('BenchItem');
export const ROUTE = documentNamed('BenchRoute');

export type ScenarioName = 'availability-1' | 'availability-50' | 'availability-500' | 'item' | 'route-10';
export const SCENARIOS: readonly ScenarioName[] = ['availability-1', 'availability-50', 'availability-500', 'item', 'route-10'];

export interface GraphQLBody {
  operationName: 'BenchAvailability' | 'BenchItem' | 'BenchRoute';
  query: string;
  variables: Record<string, unknown>;
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
export function bodies(scenario: ScenarioName, catalogue: number, width: number, seed: number): () => GraphQLBody {
  const next = rng(seed);
  const sku = () => `SKU-${String(1 + Math.floor(next() * catalogue)).padStart(width, '0')}`;
  const skus = (n: number) => Array.from({ length: n }, sku);
  switch (scenario) {
    case 'availability-1':
    case 'availability-50':
    case 'availability-500': {
      const n = Number(scenario.split('-')[1]);
      return () => ({ operationName: 'BenchAvailability', query: AVAILABILITY.body, variables: { skus: skus(n), channel: 'web' } });
    }
    case 'item':
      return () => ({ operationName: 'BenchItem', query: ITEM.body, variables: { sku: sku() } });
    case 'route-10':
      return () => ({
        operationName: 'BenchRoute',
        query: ROUTE.body,
        variables: {
          order: {
            lines: skus(10).map((s, k) => ({ sku: s, quantity: 1 + ((k * 7 + Math.floor(next() * 5)) % 5) })),
            destination: { latitude: 41.88, longitude: -87.63 },
            channel: 'web',
          },
        },
      });
  }
}

/** The SKUs a scenario asks about per request (for "linear in SKUs per query"). */
export function skusPerRequest(s: ScenarioName): number {
  return s === 'item' ? 1 : s === 'route-10' ? 10 : Number(s.split('-')[1]);
}
