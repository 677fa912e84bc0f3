/**
 * Who may see what, over real HTTP: every role against every root field and every sensitive
 * field, reached directly, nested, aliased and through named and inline fragments. A forbidden
 * field is FORBIDDEN for that field only; the rest of the answer is still returned. A forbidden
 * mutation changes nothing. The policy table must name every root field and every field the
 * schema guards with @auth, with the role the schema asks: a field missing from it fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getIntrospectionQuery, Kind, parse, type ConstDirectiveNode, type ConstValueNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/server/auth.js';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
/** A reservation the read cases look at (made by the storefront key). */
let held: string;
beforeAll(async () => {
  demo = await startDemoApp({ skus: 40 });
  held = await reserve('auth-matrix-read', 'storefront');
});
afterAll(() => demo?.close());

const ROLES: Role[] = ['storefront', 'oms', 'analyst', 'admin'];
const rank = (r: Role) => ROLES.indexOf(r);

/** Operations, each with the field it is about (`Type.field`), the least role that may run it and the path of the guarded field. */
const CASES: Array<{ name: string; field: string; query: string; requires: Role; path?: string }> = [
  { name: 'availability', field: 'Query.availability', query: '{ availability(skus: ["SKU-000001"]) { sku available } }', requires: 'storefront' },
  {
    name: 'inventoryItem',
    field: 'Query.inventoryItem',
    query: '{ inventoryItem(sku: "SKU-000001") { sku name aliases { system code } } }',
    requires: 'storefront',
  },
  {
    name: 'inventoryItems',
    field: 'Query.inventoryItems',
    query: '{ inventoryItems(first: 2) { nodes { sku } pageInfo { hasNextPage } } }',
    requires: 'storefront',
  },
  {
    name: 'inventoryItems with a filter',
    field: 'Query.inventoryItems(filter:)',
    query: '{ inventoryItems(filter: { flags: [STALE] }, first: 2) { nodes { sku } pageInfo { hasNextPage } } }',
    requires: 'analyst',
    path: 'inventoryItems',
  },
  { name: 'resolveSku', field: 'Query.resolveSku', query: '{ resolveSku(system: "wms", code: "ITM0000001") { sku } }', requires: 'storefront' },
  { name: 'viewer', field: 'Query.viewer', query: '{ viewer { name role } }', requires: 'storefront' },
  { name: 'locations', field: 'Query.locations', query: '{ locations { id } }', requires: 'oms', path: 'locations' },
  {
    name: 'routeOrder',
    field: 'Query.routeOrder',
    query: '{ routeOrder(order: { lines: [{ sku: "SKU-000001", quantity: 1 }] }) { complete } }',
    requires: 'oms',
    path: 'routeOrder',
  },
  { name: 'anomalies', field: 'Query.anomalies', query: '{ anomalies { nodes { id } } }', requires: 'analyst', path: 'anomalies' },
  { name: 'anomaly', field: 'Query.anomaly', query: '{ anomaly(id: "1") { id } }', requires: 'analyst', path: 'anomaly' },
  { name: 'sweep', field: 'Query.sweep', query: '{ sweep { intervalSeconds running } }', requires: 'analyst', path: 'sweep' },
  { name: 'sources', field: 'Query.sources', query: '{ sources { name } }', requires: 'analyst', path: 'sources' },
  {
    name: 'reconciliation',
    field: 'Query.reconciliation',
    query: '{ reconciliation(skus: ["SKU-000001"]) { lines { status } } }',
    requires: 'analyst',
    path: 'reconciliation',
  },
  {
    name: 'reconciliation of the catalogue',
    field: 'Query.reconciliation',
    query: '{ reconciliation(statuses: [DISCREPANCY], first: 5) { lines { status } pageInfo { endCursor } } }',
    requires: 'analyst',
    path: 'reconciliation',
  },
  { name: 'orphanCodes', field: 'Query.orphanCodes', query: '{ orphanCodes(source: "wms") { scanned } }', requires: 'analyst', path: 'orphanCodes' },
  {
    name: 'reconciliationRuns',
    field: 'Query.reconciliationRuns',
    query: '{ reconciliationRuns { totalCount nodes { id } } }',
    requires: 'analyst',
    path: 'reconciliationRuns',
  },
  {
    name: 'reconciliationRun',
    field: 'Query.reconciliationRun',
    query: '{ reconciliationRun(id: "1") { id } }',
    requires: 'analyst',
    path: 'reconciliationRun',
  },
  // the side-by-side figures that carry cost or value (issue #18)
  {
    name: 'costs',
    field: 'InventoryItem.costs',
    query: '{ inventoryItem(sku: "SKU-000001") { sku costs { amount } } }',
    requires: 'analyst',
    path: 'inventoryItem.costs',
  },
  {
    name: 'costComparison',
    field: 'InventoryItem.costComparison',
    query: '{ inventoryItems(first: 1) { nodes { sku costComparison { mismatch } } } }',
    requires: 'analyst',
    path: 'inventoryItems.nodes.0.costComparison',
  },
  {
    name: 'availability value',
    field: 'Availability.value',
    query: '{ availability(skus: ["SKU-000001"]) { sku value { amount } } }',
    requires: 'analyst',
    path: 'availability.0.value',
  },
  {
    name: 'location value in a fragment',
    field: 'StockLevel.value',
    query: '{ inventoryItem(sku: "SKU-000001") { availability { byLocation { ...V } } } } fragment V on StockLevel { value { amount } }',
    requires: 'analyst',
    path: 'inventoryItem.availability.byLocation.0.value',
  },
  // unit cost on every path that reaches it
  {
    name: 'unitCost direct',
    field: 'InventoryItem.unitCost',
    query: '{ inventoryItem(sku: "SKU-000001") { sku unitCost { amount } } }',
    requires: 'analyst',
    path: 'inventoryItem.unitCost',
  },
  {
    name: 'unitCost aliased',
    field: 'InventoryItem.unitCost',
    query: '{ inventoryItem(sku: "SKU-000001") { sku price: unitCost { amount } } }',
    requires: 'analyst',
    path: 'inventoryItem.price',
  },
  {
    name: 'unitCost nested in a page',
    field: 'InventoryItem.unitCost',
    query: '{ inventoryItems(first: 1) { nodes { sku unitCost { amount } } } }',
    requires: 'analyst',
    path: 'inventoryItems.nodes.0.unitCost',
  },
  {
    name: 'unitCost through edges',
    field: 'InventoryItem.unitCost',
    query: '{ inventoryItems(first: 1) { edges { node { unitCost { currency } } } } }',
    requires: 'analyst',
    path: 'inventoryItems.edges.0.node.unitCost',
  },
  {
    name: 'unitCost through resolveSku',
    field: 'InventoryItem.unitCost',
    query: '{ resolveSku(system: "wms", code: "ITM0000001") { sku unitCost { amount } } }',
    requires: 'analyst',
    path: 'resolveSku.unitCost',
  },
  {
    name: 'unitCost in a named fragment',
    field: 'InventoryItem.unitCost',
    query: 'query { inventoryItem(sku: "SKU-000001") { ...Cost } } fragment Cost on InventoryItem { sku unitCost { amount } }',
    requires: 'analyst',
    path: 'inventoryItem.unitCost',
  },
  {
    name: 'unitCost in an inline fragment',
    field: 'InventoryItem.unitCost',
    query: '{ inventoryItem(sku: "SKU-000001") { ... on InventoryItem { sku unitCost { amount } } } }',
    requires: 'analyst',
    path: 'inventoryItem.unitCost',
  },
  {
    name: 'unitCost in nested fragments, twice aliased',
    field: 'InventoryItem.unitCost',
    query:
      '{ a: inventoryItem(sku: "SKU-000001") { ...A } b: inventoryItem(sku: "SKU-000002") { ...A } } fragment A on InventoryItem { ...B } fragment B on InventoryItem { sku c: unitCost { amount } }',
    requires: 'analyst',
    path: 'a.c',
  },
  {
    name: 'location codes via availability',
    field: 'Location.codes',
    query: '{ availability(skus: ["SKU-000001"]) { byLocation { location { id codes { system code } } } } }',
    requires: 'analyst',
    path: 'availability.0.byLocation.0.location.codes',
  },
  // reservations: anyone with the id reads one; the owner and the list are for analysts ($HELD: a reservation's id)
  {
    name: 'reservation',
    field: 'Query.reservation',
    query: '{ reservation(id: "$HELD") { id status counting lines { sku quantity } } }',
    requires: 'storefront',
  },
  { name: 'reservation owner', field: 'Reservation.owner', query: '{ reservation(id: "$HELD") { id owner } }', requires: 'analyst', path: 'reservation.owner' },
  {
    name: 'reservation owner aliased in a fragment',
    field: 'Reservation.owner',
    query: '{ reservation(id: "$HELD") { ...R } } fragment R on Reservation { status by: owner }',
    requires: 'analyst',
    path: 'reservation.by',
  },
  {
    name: 'reservations',
    field: 'Query.reservations',
    query: '{ reservations(first: 2) { nodes { id status } pageInfo { hasNextPage } } }',
    requires: 'analyst',
    path: 'reservations',
  },
  {
    name: 'reservation owner through the list',
    field: 'Reservation.owner',
    query: '{ reservations(first: 1) { edges { node { owner } } } }',
    requires: 'analyst',
    path: 'reservations',
  },
];

/** A SKU the reservation cases hold units of, one at a time, at DC-EAST (50 on hand in the demo). */
const SKU = 'SKU-000001';
let keys = 0;

/** A new reservation of one unit made with `role`'s key: its id. */
async function reserve(key: string, role: Role): Promise<string> {
  const r = await demo.gql<{ reserve: { reservation: { id: string } | null } }>(
    `mutation R($key: String!) { reserve(input: { idempotencyKey: $key, lines: [{ sku: "${SKU}", quantity: 1, locationId: "DC-EAST" }] }) { reservation { id } } }`,
    { key },
    { 'x-api-key': demo.keys[role] },
  );
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.reserve.reservation!.id;
}

/**
 * Mutations, each run by every role on a reservation of its own (`id`, made by the storefront)
 * with a key of its own: the least role that may run it, and the field it is about.
 */
const MUTATION_CASES: Array<{ name: string; field: string; requires: Role; query: (id: string, key: string) => string }> = [
  {
    name: 'reserve',
    field: 'Mutation.reserve',
    requires: 'storefront',
    query: (_, key) =>
      `mutation { reserve(input: { idempotencyKey: "${key}", lines: [{ sku: "${SKU}", quantity: 1, locationId: "DC-EAST" }] }) { replayed reservation { id status } shortfalls { sku } } }`,
  },
  {
    name: 'confirmReservation',
    field: 'Mutation.confirmReservation',
    requires: 'oms',
    query: (id) => `mutation { confirmReservation(id: "${id}", reference: "ORD-AUTH") { id status } }`,
  },
  {
    name: 'releaseReservation',
    field: 'Mutation.releaseReservation',
    requires: 'storefront',
    query: (id) => `mutation { releaseReservation(id: "${id}") { id status } }`,
  },
  {
    name: 'extendReservation',
    field: 'Mutation.extendReservation',
    requires: 'storefront',
    query: (id) => `mutation { extendReservation(id: "${id}", ttlSeconds: 60) { id expiresAt } }`,
  },
  {
    name: 'routeOrder, reserving',
    field: 'Mutation.routeOrder',
    requires: 'oms',
    query: (_, key) =>
      `mutation { routeOrder(order: { lines: [{ sku: "${SKU}", quantity: 1 }], channel: "web" }, idempotencyKey: "${key}") { replayed plan { complete } reservation { id } } }`,
  },
];

/** The anomaly workflow's mutations, checked by 'mutations are for admins only' below. */
const ADMIN_MUTATIONS: Array<{ field: string; requires: Role }> = [
  { field: 'Mutation.acknowledgeAnomaly', requires: 'admin' },
  { field: 'Mutation.resolveAnomaly', requires: 'admin' },
];

/**
 * What the schema asks, read from its SDL: every root field (the least role: its @auth, else
 * storefront) and every other field with an @auth, as `Type.field` → role, and every argument
 * with an @auth as `Type.field(argument:)` (its field's type must be nullable too).
 */
function schemaPolicy(): Map<string, Role> {
  return new Map([...schemaFields()].map(([f, v]) => [f, v.role]));
}

/** Root and guarded fields of the SDL: their least role, and whether their type is non-null. */
function schemaFields(): Map<string, { role: Role; guarded: boolean; nonNull: boolean }> {
  const dir = new URL('../../schema/', import.meta.url);
  const fields = new Map<string, { role: Role; guarded: boolean; nonNull: boolean }>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.graphql'))) {
    for (const def of parse(readFileSync(new URL(file, dir), 'utf8')).definitions) {
      if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
      const root = def.name.value === 'Query' || def.name.value === 'Mutation';
      for (const f of def.fields ?? []) {
        const role = authOf(f.directives);
        if (root || role !== undefined)
          fields.set(`${def.name.value}.${f.name.value}`, {
            role: role ?? 'storefront',
            guarded: role !== undefined,
            nonNull: f.type.kind === Kind.NON_NULL_TYPE,
          });
        for (const a of f.arguments ?? []) {
          const argRole = authOf(a.directives);
          if (argRole !== undefined)
            fields.set(`${def.name.value}.${f.name.value}(${a.name.value}:)`, { role: argRole, guarded: true, nonNull: f.type.kind === Kind.NON_NULL_TYPE });
        }
      }
    }
  }
  return fields;
}

function authOf(directives: readonly ConstDirectiveNode[] | undefined): Role | undefined {
  const auth = directives?.find((d) => d.name.value === 'auth')?.arguments?.find((a) => a.name.value === 'requires')?.value as ConstValueNode | undefined;
  return auth?.kind === Kind.ENUM ? (auth.value.toLowerCase() as Role) : undefined;
}

describe('the policy table', () => {
  it('names every root field and every guarded field, with the role the schema asks', () => {
    const schema = schemaPolicy();
    // the reading is sound: fields of every kind are found
    expect(schema.get('Query.availability')).toBe('storefront');
    expect(schema.get('Mutation.confirmReservation')).toBe('oms');
    expect(schema.get('Reservation.owner')).toBe('analyst');
    const table = new Map<string, Role[]>();
    for (const c of [...CASES, ...MUTATION_CASES, ...ADMIN_MUTATIONS]) table.set(c.field, [...(table.get(c.field) ?? []), c.requires]);
    const missing = [...schema.keys()].filter((f) => !table.has(f)).sort();
    expect(missing, 'fields the policy table does not test').toEqual([]);
    for (const [field, roles] of table) {
      expect(schema.has(field), `${field}: not a root or guarded field of the schema`).toBe(true);
      for (const r of roles) expect(r, field).toBe(schema.get(field));
    }
  });

  it('a guarded field is nullable, so that FORBIDDEN nulls that field only and the rest of the answer comes back', () => {
    // a non-null one takes its parent with it: for a root field the whole answer, and `reserve { reservation { owner } }`
    // from a storefront holds the units yet answers `reservation: null`, as if nothing had been held
    const nonNull = [...schemaFields()].filter(([, v]) => v.guarded && v.nonNull).map(([f]) => f);
    expect(nonNull, 'guarded fields with a non-null type').toEqual([]);
  });
});

describe.each(ROLES)('role %s', (role) => {
  it.each(CASES)('$name', async ({ query, requires, path }) => {
    const withViewer = query.replace('$HELD', held).replace(/^(query\s*)?\{/, (m) => `${m} viewer { role } `);
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

describe.each(ROLES)('reservation mutations, role %s', (role) => {
  it.each(MUTATION_CASES)('$name', async ({ query, requires, field }) => {
    const id = await reserve(`auth-${role}-${++keys}`, 'storefront');
    const state = async () => {
      const r = await demo.gql<{ reservation: unknown; availability: Array<{ reserved: number }> }>(
        `{ reservation(id: "${id}") { status expiresAt confirmedAt reference } availability(skus: ["${SKU}"]) { reserved } }`,
      );
      return r.body.data;
    };
    const before = await state();
    const r = await demo.gql<Record<string, unknown>>(query(id, `auth-${role}-${++keys}`), {}, { 'x-api-key': demo.keys[role] });
    expect(r.status).toBe(200);
    const root = field.slice('Mutation.'.length);
    if (rank(role) >= rank(requires)) {
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data?.[root]).not.toBeNull();
    } else {
      expect(r.body.errors).toHaveLength(1);
      expect(r.body.errors![0]).toMatchObject({ path: [root], extensions: { code: 'FORBIDDEN' } });
      expect(r.body.errors![0]!.message).toMatch(new RegExp(`needs the ${requires} role; this key \\(demo-${role}\\) is ${role}`));
      expect(r.body.data?.[root] ?? null).toBeNull();
      // nothing happened: the reservation as it was, nothing more held
      expect(await state()).toEqual(before);
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
