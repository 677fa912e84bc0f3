/**
 * Who may see what, over real HTTP: every role against every root field and every sensitive
 * field, reached directly, nested, aliased and through named and inline fragments. A forbidden
 * field is FORBIDDEN for that field only; the rest of the answer is still returned.
 */
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/server/auth.js';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
beforeAll(async () => {
  demo = await startDemoApp({ skus: 40 });
});
afterAll(() => demo?.close());

const ROLES: Role[] = ['storefront', 'oms', 'analyst', 'admin'];
const rank = (r: Role) => ROLES.indexOf(r);

/** Operations, each with the least role that may run it and the path of the guarded field. */
const CASES: Array<{ name: string; query: string; requires: Role; path?: string }> = [
  { name: 'availability', query: '{ availability(skus: ["SKU-000001"]) { sku available } }', requires: 'storefront' },
  { name: 'inventoryItem', query: '{ inventoryItem(sku: "SKU-000001") { sku name aliases { system code } } }', requires: 'storefront' },
  { name: 'inventoryItems', query: '{ inventoryItems(first: 2) { nodes { sku } pageInfo { hasNextPage } } }', requires: 'storefront' },
  { name: 'resolveSku', query: '{ resolveSku(system: "wms", code: "ITM0000001") { sku } }', requires: 'storefront' },
  { name: 'viewer', query: '{ viewer { name role } }', requires: 'storefront' },
  { name: 'locations', query: '{ locations { id } }', requires: 'oms', path: 'locations' },
  { name: 'routeOrder', query: '{ routeOrder(order: { lines: [{ sku: "SKU-000001", quantity: 1 }] }) { complete } }', requires: 'oms', path: 'routeOrder' },
  { name: 'anomalies', query: '{ anomalies { id } }', requires: 'analyst', path: 'anomalies' },
  { name: 'sources', query: '{ sources { name } }', requires: 'analyst', path: 'sources' },
  { name: 'reconciliation', query: '{ reconciliation(skus: ["SKU-000001"]) { lines { status } } }', requires: 'analyst', path: 'reconciliation' },
  { name: 'orphanCodes', query: '{ orphanCodes(source: "wms") { scanned } }', requires: 'analyst', path: 'orphanCodes' },
  { name: 'reconciliationRuns', query: '{ reconciliationRuns { id } }', requires: 'analyst', path: 'reconciliationRuns' },
  // unit cost on every path that reaches it
  { name: 'unitCost direct', query: '{ inventoryItem(sku: "SKU-000001") { sku unitCost { amount } } }', requires: 'analyst', path: 'inventoryItem.unitCost' },
  {
    name: 'unitCost aliased',
    query: '{ inventoryItem(sku: "SKU-000001") { sku price: unitCost { amount } } }',
    requires: 'analyst',
    path: 'inventoryItem.price',
  },
  {
    name: 'unitCost nested in a page',
    query: '{ inventoryItems(first: 1) { nodes { sku unitCost { amount } } } }',
    requires: 'analyst',
    path: 'inventoryItems.nodes.0.unitCost',
  },
  {
    name: 'unitCost through edges',
    query: '{ inventoryItems(first: 1) { edges { node { unitCost { currency } } } } }',
    requires: 'analyst',
    path: 'inventoryItems.edges.0.node.unitCost',
  },
  {
    name: 'unitCost through resolveSku',
    query: '{ resolveSku(system: "wms", code: "ITM0000001") { sku unitCost { amount } } }',
    requires: 'analyst',
    path: 'resolveSku.unitCost',
  },
  {
    name: 'unitCost in a named fragment',
    query: 'query { inventoryItem(sku: "SKU-000001") { ...Cost } } fragment Cost on InventoryItem { sku unitCost { amount } }',
    requires: 'analyst',
    path: 'inventoryItem.unitCost',
  },
  {
    name: 'unitCost in an inline fragment',
    query: '{ inventoryItem(sku: "SKU-000001") { ... on InventoryItem { sku unitCost { amount } } } }',
    requires: 'analyst',
    path: 'inventoryItem.unitCost',
  },
  {
    name: 'unitCost in nested fragments, twice aliased',
    query:
      '{ a: inventoryItem(sku: "SKU-000001") { ...A } b: inventoryItem(sku: "SKU-000002") { ...A } } fragment A on InventoryItem { ...B } fragment B on InventoryItem { sku c: unitCost { amount } }',
    requires: 'analyst',
    path: 'a.c',
  },
  {
    name: 'location codes via availability',
    query: '{ availability(skus: ["SKU-000001"]) { byLocation { location { id codes { system code } } } } }',
    requires: 'analyst',
    path: 'availability.0.byLocation.0.location.codes',
  },
];

describe.each(ROLES)('role %s', (role) => {
  it.each(CASES)('$name', async ({ query, requires, path }) => {
    const withViewer = query.replace(/^(query\s*)?\{/, (m) => `${m} viewer { role } `);
    const r = await demo.gql<Record<string, unknown>>(withViewer, {}, { 'x-api-key': demo.keys[role] });
    expect(r.status).toBe(200);
    // the rest of the answer always comes back
    expect(r.body.data?.viewer).toMatchObject({ role: role.toUpperCase() });
    const forbidden = (r.body.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN');
    const other = (r.body.errors ?? []).filter((e) => e.extensions?.code !== 'FORBIDDEN');
    expect(other).toEqual([]);
    if (rank(role) >= rank(requires)) {
      expect(forbidden).toEqual([]);
    } else {
      expect(forbidden.length).toBeGreaterThan(0);
      expect(forbidden.map((e) => (e.path ?? []).join('.'))).toContain(path);
      expect(forbidden[0]!.message).toMatch(new RegExp(`needs the ${requires} role; this key \\(demo-${role}\\) is ${role}`));
      // nothing leaked under the forbidden path
      const leaked = (path ?? '').split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | null)?.[k], r.body.data);
      expect(leaked ?? null).toBeNull();
    }
  });
});

describe('mutations', () => {
  it.each(ROLES)('are for admins only: %s', async (role) => {
    const r = await demo.gql(
      'mutation { a: acknowledgeAnomaly(id: "999999") { id } r: resolveAnomaly(id: "999999", note: "x") { id } }',
      {},
      { 'x-api-key': demo.keys[role] },
    );
    const codes = (r.body.errors ?? []).map((e) => e.extensions?.code);
    expect(codes).toHaveLength(2);
    // an admin gets past the guard and learns the anomaly does not exist
    expect(new Set(codes)).toEqual(new Set([role === 'admin' ? 'BAD_USER_INPUT' : 'FORBIDDEN']));
  });
});

describe('authentication', () => {
  const q = JSON.stringify({ query: '{ availability(skus: ["SKU-000001"]) { sku } }' });
  const post = (headers: Record<string, string>, url = demo.url) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: q });

  it('refuses a missing or unknown key with 401 UNAUTHENTICATED, running nothing', async () => {
    const attempts: Array<Record<string, string>> = [
      {},
      { 'x-api-key': 'ig_nope' },
      { authorization: 'Bearer ig_nope' },
      { authorization: `Basic ${demo.keys.admin}` },
      { 'x-api-key': ' ' },
    ];
    for (const headers of attempts) {
      const res = await post(headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const body = (await res.json()) as { errors: Array<{ extensions: { code: string } }> };
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
      expect(res.headers.get('x-source-statements')).toBeNull();
    }
  });

  it('accepts a key as Bearer or x-api-key, never in the URL', async () => {
    expect((await post({ authorization: `Bearer ${demo.keys.storefront}` })).status).toBe(200);
    expect((await post({ 'x-api-key': demo.keys.storefront })).status).toBe(200);
    const inUrl = await post({}, `${demo.url}?api_key=${demo.keys.admin}`);
    expect(inUrl.status).toBe(401);
    expect(await inUrl.text()).toContain('never accepted in the URL');
    // even alongside a valid header, a key in the URL is refused (it is already in logs and histories)
    expect((await post({ 'x-api-key': demo.keys.admin }, `${demo.url}?token=x`)).status).toBe(401);
  });

  it('allows introspection to analysts and admins only', async () => {
    const q = '{ __schema { queryType { name } } }';
    for (const role of ROLES) {
      const r = await demo.gql(q, {}, { 'x-api-key': demo.keys[role] });
      if (rank(role) >= rank('analyst')) expect(r.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      else {
        expect(r.status).toBe(403);
        expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(statements(r.headers).size).toBe(0);
      }
    }
    // the explorer's own introspection query (15 levels of ofType) passes the default limits
    const full = await demo.gql<{ __schema: { queryType: { name: string } } }>(getIntrospectionQuery(), {}, { 'x-api-key': demo.keys.analyst });
    expect(full.body.errors).toBeUndefined();
    expect(full.body.data!.__schema.queryType.name).toBe('Query');
    const typeQuery = await demo.gql('{ __type(name: "Money") { fields { name } } }', {}, { 'x-api-key': demo.keys.storefront });
    expect(typeQuery.status).toBe(403);
    // __typename is not introspection
    expect((await demo.gql('{ viewer { __typename } }', {}, { 'x-api-key': demo.keys.storefront })).body.data).toEqual({ viewer: { __typename: 'Viewer' } });
  });

  it('never shares per-request results between interleaved roles', async () => {
    const q = '{ viewer { name } inventoryItem(sku: "SKU-000001") { sku unitCost { amount } } }';
    const runs = await Promise.all(
      Array.from({ length: 24 }, (_, i) => {
        const role = i % 2 === 0 ? 'storefront' : 'analyst';
        return demo
          .gql<{ viewer: { name: string }; inventoryItem: { unitCost: { amount: string } | null } }>(q, {}, { 'x-api-key': demo.keys[role] })
          .then((r) => ({ role, r }));
      }),
    );
    for (const { role, r } of runs) {
      expect(r.body.data!.viewer.name).toBe(`demo-${role}`);
      if (role === 'storefront') expect(r.body.data!.inventoryItem.unitCost).toBeNull();
      else expect(r.body.data!.inventoryItem.unitCost?.amount).toMatch(/^\d+\.\d+$/);
    }
  });
});
