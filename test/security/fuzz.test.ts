/**
 * Property: whatever operation a client sends, well-formed or not, the server never answers
 * 500 and never shows a stack trace, SQL or a path. Operations are generated from the real
 * schema (root fields with random arguments, nested selections, aliases, fragments) and mixed
 * with random bytes and half-broken documents.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
beforeAll(async () => {
  demo = await startDemoApp({ skus: 30 });
});
afterAll(() => demo?.close());

const scalar = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
  fc.integer({ min: -5, max: 600 }).map(String),
  fc.constantFrom('null', 'true', '3.5', '"SKU-000001"', '"x\' OR 1=1 --"', '"DC-EAST"', 'DISTANCE', '[]', '{}'),
);
const list = fc.array(scalar, { maxLength: 6 }).map((xs) => `[${xs.join(', ')}]`);
const value = fc.oneof(scalar, list);
const args = (names: string[]) =>
  fc.subarray(names).chain((chosen) => fc.tuple(...chosen.map((n) => value.map((v) => `${n}: ${v}`)))).map((parts) => (parts.length ? `(${parts.join(', ')})` : ''));

const level = fc.constantFrom(
  'sku available onHand flags',
  'sku byLocation { location { id name codes { code } } available counted flags provenance { source asOf stale fallback rule } }',
  'sku name aliases { system code } unitCost { amount currency }',
  'nodes { sku } pageInfo { hasNextPage endCursor }',
  'complete method shipments { location { id } lines { sku quantity } } trace { reasons detail }',
  'id kind status',
  'name role',
  '__typename',
  'nope',
);

const field = fc
  .tuple(
    fc.constantFrom('availability', 'inventoryItem', 'inventoryItems', 'resolveSku', 'locations', 'anomalies', 'sources', 'routeOrder', 'viewer', 'missing'),
    fc.option(fc.constantFrom('a', 'b', 'c1', '_x'), { nil: undefined }),
    args(['skus', 'sku', 'first', 'after', 'system', 'code', 'locationIds', 'channel', 'status', 'order']),
    level,
  )
  .map(([name, alias, a, sel]) => `${alias ? `${alias}: ` : ''}${name}${a} { ${sel} }`);

const operation = fc.oneof(
  { weight: 5, arbitrary: fc.array(field, { minLength: 1, maxLength: 4 }).map((fs) => `{ ${fs.join(' ')} }`) },
  { weight: 1, arbitrary: fc.array(field, { minLength: 1, maxLength: 2 }).map((fs) => `query Q { ...F } fragment F on Query { ${fs.join(' ')} }`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.tuple(field, fc.nat({ max: 40 })).map(([f, cut]) => `{ ${f} }`.slice(0, cut)) },
);

const variables = fc.option(fc.dictionary(fc.constantFrom('s', 'o', 'skus'), fc.jsonValue({ maxDepth: 3 })), { nil: undefined });

describe('fuzz', () => {
  it('never answers 500 or leaks internals', async () => {
    await fc.assert(
      fc.asyncProperty(operation, variables, fc.constantFrom<'storefront' | 'analyst' | 'admin'>('storefront', 'analyst', 'admin'), async (query, vars, role) => {
        const res = await fetch(demo.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': demo.keys[role] },
          body: JSON.stringify({ query, variables: vars }),
        });
        const text = await res.text();
        expect(res.status, `${query}\n${text.slice(0, 500)}`).toBeLessThan(500);
        expect(text).not.toMatch(/\bat .+\.(ts|js):\d+|select .* from|node_modules|\/work\/|INTERNAL_SERVER_ERROR/i);
      }),
      { numRuns: 250, seed: 20261127 },
    );
    expect((await demo.gql('{ viewer { role } }')).status).toBe(200);
  });
});
