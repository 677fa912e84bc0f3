/**
 * Property: whatever operation a client sends, well-formed or not, the server never answers
 * 500 and never shows a stack trace, SQL or a path. Operations are generated from the real
 * schema (root fields with random arguments, nested selections, aliases, fragments) and mixed
 * with random bytes and half-broken documents, and with the shapes that once got round the
 * limits: fragment fan-out, counts hidden in variable defaults, and persisted queries sent
 * by hash only (registered by another role) or with a hash that does not match.
 */
import fc from 'fast-check';
import { createHash } from 'node:crypto';
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
  fc
    .subarray(names)
    .chain((chosen) => fc.tuple(...chosen.map((n) => value.map((v) => `${n}: ${v}`))))
    .map((parts) => (parts.length ? `(${parts.join(', ')})` : ''));

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

/** Fragments that each spread the next one `fanOut` times, `depth` deep: exponential if expanded. */
const fragmentFanOut = fc.tuple(field, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 })).map(([leaf, depth, fanOut]) => {
  const spreads = (i: number) => Array.from({ length: fanOut }, () => `...F${i + 1}`).join(' ');
  const fragments = Array.from({ length: depth }, (_, i) => `fragment F${i} on Query { ${spreads(i)} }`);
  return `query Fan { ...F0 } ${fragments.join(' ')} fragment F${depth} on Query { ${leaf} }`;
});

/** A variable whose default value carries what the limits must count (a long SKU list, a huge or negative `first`). */
const variableDefault = fc
  .tuple(
    fc.oneof(
      fc
        .integer({ min: 0, max: 2000 })
        .map((n) => ['[ID!]', JSON.stringify(Array.from({ length: n }, (_, i) => `SKU-${i}`)), 'availability(skus: $v) { sku available }'] as const),
      fc.integer({ min: -5, max: 2_000_000 }).map((n) => ['Int', String(n), 'anomalies(first: $v) { nodes { id kind } }'] as const),
      fc.integer({ min: -5, max: 2_000_000 }).map((n) => ['Int', String(n), 'inventoryItems(first: $v) { nodes { sku } }'] as const),
    ),
    fc.integer({ min: 1, max: 30 }),
  )
  .map(([[type, value, use], aliases]) => `query V($v: ${type} = ${value}) { ${Array.from({ length: aliases }, (_, i) => `a${i}: ${use}`).join(' ')} }`);

const operation = fc.oneof(
  { weight: 5, arbitrary: fc.array(field, { minLength: 1, maxLength: 4 }).map((fs) => `{ ${fs.join(' ')} }`) },
  { weight: 1, arbitrary: fragmentFanOut },
  { weight: 1, arbitrary: variableDefault },
  { weight: 1, arbitrary: fc.array(field, { minLength: 1, maxLength: 2 }).map((fs) => `query Q { ...F } fragment F on Query { ${fs.join(' ')} }`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.tuple(field, fc.nat({ max: 40 })).map(([f, cut]) => `{ ${f} }`.slice(0, cut)) },
);

const variables = fc.option(fc.dictionary(fc.constantFrom('s', 'o', 'skus'), fc.jsonValue({ maxDepth: 3 })), { nil: undefined });

/**
 * How the request carries the operation: as text, or as an automatic persisted query (its text
 * with its hash, registered by whoever sends it first; then the hash only, possibly from a
 * lower role; or a hash that does not match the text).
 */
const carrier = fc.constantFrom('text', 'register', 'hash-only', 'wrong-hash');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function bodyFor(query: string, vars: unknown, how: string): unknown {
  const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });
  switch (how) {
    case 'register':
      return { query, variables: vars, extensions: persisted(sha256(query)) };
    case 'hash-only':
      return { variables: vars, extensions: persisted(sha256(query)) };
    case 'wrong-hash':
      return { query, variables: vars, extensions: persisted(sha256(`${query} `)) };
    default:
      return { query, variables: vars };
  }
}

describe('fuzz', () => {
  it('never answers 500 or leaks internals', async () => {
    const role = fc.constantFrom<'storefront' | 'analyst' | 'admin'>('storefront', 'analyst', 'admin');
    await fc.assert(
      fc.asyncProperty(operation, variables, role, carrier, role, async (query, vars, role, how, registeredBy) => {
        if (how === 'hash-only') {
          // a higher (or any) role registers the document first, then `role` sends only its hash
          await fetch(demo.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': demo.keys[registeredBy] },
            body: JSON.stringify(bodyFor(query, vars, 'register')),
          });
        }
        const res = await fetch(demo.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': demo.keys[role] },
          body: JSON.stringify(bodyFor(query, vars, how)),
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
