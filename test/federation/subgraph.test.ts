/**
 * The gateway as the inventory subgraph of a federated graph (docs/federation.md): a supergraph
 * composed here, with @apollo/composition, from a small products subgraph (@apollo/subgraph on
 * a loopback port) and our real gateway's own `_service { sdl }`, served by @apollo/gateway in
 * process, which forwards each client's API key to us. Products are asked with their
 * availability through the router and compared with asking our API directly; the statements
 * our gateway reports to the router (`x-source-statements`) are those of
 * `availability(skus: N)`; a storefront key still never sees cost; `_entities` is limited as
 * SKUs are; `_entities` sent by hash once registered (a router's subgraph APQ) runs the compiled
 * operation. The demo app runs with its defaults: the jit executor and the fast path on.
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutRouterAuth } from '../../src/server/federation.js';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';

/** The router's request context: the client's key, and what our gateway answered each fetch with. */
interface RouterContext {
  key: string;
  fetches: { statements: Map<string, number>; status: number }[];
}

const PRODUCTS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.14", import: ["@key", "@shareable"])
  type Query {
    products: [Product!]!
    productPage: ProductPage!
  }
  type Product @key(fields: "id") {
    id: ID!
    title: String!
    sku: ID!
    "The inventory subgraph's item for this product's SKU."
    inventory: InventoryItem
  }
  type ProductPage {
    items: [Product!]!
    pageInfo: PageInfo!
  }
  "Shared with the inventory subgraph (both mark it @shareable)."
  type PageInfo @shareable {
    hasNextPage: Boolean!
    endCursor: String
  }
  "Owned by the inventory subgraph: referenced by its key only."
  type InventoryItem @key(fields: "sku", resolvable: false) {
    sku: ID!
  }
`;

let demo: DemoApp;
let products: ApolloServer;
let productsUrl: string;
let router: ApolloServer<RouterContext>;
let sdl: string;
let routerSupergraph: string;
/** Ten known SKUs and one the SKU map does not know. */
let skus: string[];
const UNKNOWN = 'NO-SUCH-SKU-20';

beforeAll(async () => {
  demo = await startDemoApp({ skus: 60 });
  const page = await demo.gql<{ inventoryItems: { nodes: { sku: string }[] } }>('{ inventoryItems(first: 10) { nodes { sku } } }');
  skus = page.body.data!.inventoryItems.nodes.map((n) => n.sku);
  const catalogue = [...skus, UNKNOWN].map((sku, i) => ({ id: `p${i}`, title: `Product ${i}`, sku }));
  products = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(PRODUCTS_SDL),
      resolvers: {
        Query: {
          products: () => catalogue,
          productPage: () => ({ items: catalogue, pageInfo: { hasNextPage: false, endCursor: null } }),
        },
        Product: {
          __resolveReference: (ref: { id: string }) => catalogue.find((p) => p.id === ref.id),
          inventory: (p: { sku: string }) => ({ __typename: 'InventoryItem', sku: p.sku }),
        },
      },
    }),
  });
  productsUrl = (await startStandaloneServer(products, { listen: { port: 0, host: '127.0.0.1' } })).url;

  // composition reads our SDL as a router's build step would: `_service { sdl }` with an analyst key
  const service = await demo.gql<{ _service: { sdl: string } }>('{ _service { sdl } }', undefined, { 'x-api-key': demo.keys.analyst });
  expect(service.body.errors).toBeUndefined();
  sdl = service.body.data!._service.sdl;
  const compose = (inventorySdl: string) => {
    const composed = composeServices([
      { name: 'products', typeDefs: parse(PRODUCTS_SDL), url: productsUrl },
      { name: 'inventory', typeDefs: parse(inventorySdl), url: demo.url },
    ]);
    expect(composed.errors?.map((e) => e.message) ?? []).toEqual([]);
    return composed.supergraphSdl!;
  };
  // as served: what Apollo Router composes and enforces (@requiresScopes included)
  routerSupergraph = compose(sdl);
  // @apollo/gateway refuses a supergraph with access directives it cannot enforce: composed for it without them
  const supergraphSdl = compose(withoutRouterAuth(sdl));

  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<RouterContext>({
        url,
        // the router forwards the client's own key: our gateway applies that key's role and limits
        willSendRequest({ request, context }) {
          request.http?.headers.set('x-api-key', context.key);
        },
        didReceiveResponse({ response, context }) {
          if (url === demo.url)
            context.fetches.push({ statements: statements(response.http!.headers as unknown as Headers), status: response.http!.status ?? 0 });
          return response;
        },
      }),
  });
  router = new ApolloServer<RouterContext>({ gateway });
  await router.start();
}, 120_000);

afterAll(async () => {
  await router?.stop();
  await products?.stop();
  await demo?.close();
});

async function viaRouter<T>(query: string, key: string) {
  const context: RouterContext = { key, fetches: [] };
  const res = await router.executeOperation<T>({ query }, { contextValue: context });
  if (res.body.kind !== 'single') throw new Error('expected a single answer');
  return { ...res.body.singleResult, fetches: context.fetches };
}

interface ProductsAnswer {
  products: {
    id: string;
    sku: string;
    inventory: null | {
      sku: string;
      availability: { available: number; onHand: number; reserved: number; flags: string[] };
      unitCost?: { amount: string; currency: string } | null;
    };
  }[];
}

const AVAILABILITY_FIELDS = 'available onHand reserved flags';

describe('the subgraph SDL', () => {
  it('links federation v2 and keys InventoryItem by sku, with @auth derived into @requiresScopes', () => {
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.14"');
    expect(sdl).toMatch(/type InventoryItem\s*@key\(fields: "sku"\)/);
    // every field guarded by @auth carries the router's scopes for that role and the ones above it
    expect(sdl).toMatch(/unitCost: Money @auth\(requires: ANALYST\) @requiresScopes\(scopes: \[\["inventory:analyst"\], \["inventory:admin"\]\]\)/);
    const guarded = sdl.match(/@auth\(requires: [A-Z]+\)(?![^\n]*@requiresScopes|[^\n]*@authenticated)[^\n]*/g) ?? [];
    // only arguments guarded on their own are left without a router directive (federation has none for arguments)
    expect(guarded.every((line) => /^@auth\(requires: [A-Z]+\)( @\w+)*\s*[,)]/.test(line))).toBe(true);
  });

  it('composes with a products subgraph into a supergraph that carries the access rules for a router', () => {
    expect(routerSupergraph).toContain('@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)');
    expect(routerSupergraph).toMatch(
      /unitCost: Money @join__field\(graph: INVENTORY\) @requiresScopes\(scopes: \[\["inventory:analyst"\], \["inventory:admin"\]\]\)/,
    );
    expect(routerSupergraph).toMatch(
      /type InventoryItem\s+@join__type\(graph: INVENTORY, key: "sku"\)\s+@join__type\(graph: PRODUCTS, key: "sku", resolvable: false\)/,
    );
  });

  it('is the schema in full: `_service` is for analyst and admin keys, as introspection is', async () => {
    const r = await demo.gql('{ _service { sdl } }', undefined, { 'x-api-key': demo.keys.storefront });
    expect(r.status).toBe(403);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('products with their availability through the router', () => {
  it('answers as our API does, with the statements of availability(skus: N)', async () => {
    const r = await viaRouter<ProductsAnswer>(`{ products { id sku inventory { sku availability { ${AVAILABILITY_FIELDS} } } } }`, demo.keys.storefront);
    expect(r.errors).toBeUndefined();
    const direct = await demo.gql<{ availability: { sku: string; available: number; onHand: number; reserved: number; flags: string[] }[] }>(
      `query ($skus: [ID!]!) { availability(skus: $skus) { sku ${AVAILABILITY_FIELDS} } }`,
      { skus },
      { 'x-api-key': demo.keys.storefront },
    );
    const byRouter = r.data!.products;
    expect(byRouter).toHaveLength(skus.length + 1);
    for (const [i, a] of direct.body.data!.availability.entries()) {
      const { sku, ...figures } = a;
      expect(byRouter[i]).toEqual({ id: `p${i}`, sku, inventory: { sku, availability: figures } });
    }
    // the SKU the map does not know: no item, as `inventoryItem(sku:)` answers it
    expect(byRouter.at(-1)).toEqual({ id: `p${skus.length}`, sku: UNKNOWN, inventory: null });
    // one fetch to our gateway for all eleven representations, costing what one availability call costs
    expect(r.fetches).toHaveLength(1);
    expect(r.fetches[0]!.status).toBe(200);
    const expected = statements(direct.headers);
    expect(expected.size).toBeGreaterThan(0);
    expect(Object.fromEntries(r.fetches[0]!.statements)).toEqual(Object.fromEntries(expected));
  });

  it('gives an analyst key cost, one statement per cost source for all products', async () => {
    const r = await viaRouter<ProductsAnswer>(`{ products { sku inventory { availability { available } unitCost { amount currency } } } }`, demo.keys.analyst);
    expect(r.errors).toBeUndefined();
    const direct = await demo.gql<{ inventoryItem: { unitCost: { amount: string; currency: string } | null } }>(
      `query ($sku: ID!) { inventoryItem(sku: $sku) { unitCost { amount currency } } }`,
      { sku: skus[0] },
      { 'x-api-key': demo.keys.analyst },
    );
    expect(r.data!.products[0]!.inventory!.unitCost).toEqual(direct.body.data!.inventoryItem.unitCost);
    expect(r.data!.products.filter((p) => p.inventory?.unitCost != null).length).toBeGreaterThan(0);
    const counts = r.fetches[0]!.statements;
    expect([...counts.keys()].some((k) => k.endsWith('/cost'))).toBe(true);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('never shows a storefront key cost: FORBIDDEN, the field null, the rest answered', async () => {
    const r = await viaRouter<ProductsAnswer>(`{ products { sku inventory { availability { available } unitCost { amount } } } }`, demo.keys.storefront);
    expect(r.data!.products[0]!.inventory!.availability.available).toEqual(expect.any(Number));
    expect(r.data!.products.every((p) => p.inventory === null || p.inventory.unitCost === null)).toBe(true);
    expect(r.errors?.length).toBeGreaterThan(0);
    expect(r.errors!.every((e) => e.extensions?.code === 'FORBIDDEN')).toBe(true);
    expect(r.errors![0]!.message).toContain('InventoryItem.unitCost needs the analyst role');
    expect(JSON.stringify(r.data)).not.toContain('amount');
  });
});

describe('_entities on our gateway', () => {
  const ENTITIES = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on InventoryItem { sku availability { available } } } }`;
  const rep = (sku: unknown) => ({ __typename: 'InventoryItem', sku });

  it('sends no federated trace (ftv1) with resolver timings to a caller that asks for one', async () => {
    const r = await demo.gql<{ _entities: unknown[] }>(
      ENTITIES,
      { r: [rep(skus[0])] },
      { 'x-api-key': demo.keys.storefront, 'apollo-federation-include-trace': 'ftv1' },
    );
    expect(r.body.errors).toBeUndefined();
    expect(r.text).not.toContain('ftv1');
  });

  it('answers an unknown SKU with null', async () => {
    const r = await demo.gql<{ _entities: unknown[] }>(ENTITIES, { r: [rep(skus[0]), rep(UNKNOWN)] }, { 'x-api-key': demo.keys.storefront });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!._entities).toEqual([{ sku: skus[0], availability: { available: expect.any(Number) } }, null]);
  });

  it('refuses a representation without its sku, naming it, and keeps every other answer in its place', async () => {
    // the bad one fails at once, before the first is read: the answers still line up with the representations
    const r = await demo.gql<{ _entities: unknown[] }>(
      ENTITIES,
      { r: [rep(skus[0]), { __typename: 'InventoryItem', id: 'x' }, rep(UNKNOWN), rep(skus[1])] },
      { 'x-api-key': demo.keys.storefront },
    );
    const found = (sku: string | undefined) => ({ sku, availability: { available: expect.any(Number) } });
    expect(r.body.data!._entities).toEqual([found(skus[0]), null, null, found(skus[1])]);
    expect(r.body.errors).toHaveLength(1);
    expect(r.body.errors?.[0]?.path).toEqual(['_entities', 1]);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toBe(
      'An InventoryItem representation needs its key "sku" (a non-empty string): got {"__typename":"InventoryItem","id":"x"}.',
    );
  });

  it('is served by its hash once registered, as a router with subgraph APQ sends it, by the jit executor', async () => {
    const ext = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(ENTITIES).digest('hex') } };
    const variables = { r: [rep(skus[0]), rep(UNKNOWN), rep(skus[1])] };
    const post = async (body: Record<string, unknown>) => {
      const res = await fetch(demo.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': demo.keys.storefront },
        body: JSON.stringify(body),
      });
      return { body: (await res.json()) as { data?: { _entities: unknown[] }; errors?: { extensions?: { code?: string } }[] }, headers: res.headers };
    };
    const compiled = async () => {
      const res = await fetch(demo.url.replace(/\/graphql$/, '/metrics'), { headers: { 'x-api-key': demo.keys.analyst } });
      const text = await res.text();
      const count = (result: string) =>
        Number(new RegExp(`inventory_graph_compiled_operation_cache_requests_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
      return { hit: count('hit'), miss: count('miss') };
    };
    // not registered yet: the router is told to send the text
    expect((await post({ extensions: ext, variables })).body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const registered = await post({ query: ENTITIES, extensions: ext, variables });
    expect(registered.body.errors).toBeUndefined();
    const before = await compiled();
    const byHash = await post({ extensions: ext, variables });
    const after = await compiled();
    expect(byHash.body).toEqual(registered.body);
    expect(byHash.body.data!._entities).toEqual([
      { sku: skus[0], availability: { available: expect.any(Number) } },
      null,
      { sku: skus[1], availability: { available: expect.any(Number) } },
    ]);
    expect(Object.fromEntries(statements(byHash.headers))).toEqual(Object.fromEntries(statements(registered.headers)));
    // run by the compiled operation the registration made (one more hit, no compilation)
    expect(after).toEqual({ hit: before.hit + 1, miss: before.miss });
  });

  it('counts representations as SKUs against the role maxSkus: 501 are refused before anything runs', async () => {
    const many = Array.from({ length: 501 }, (_, i) => rep(skus[i % skus.length]));
    const r = await demo.gql(ENTITIES, { r: many }, { 'x-api-key': demo.keys.storefront });
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.message).toContain('Too many SKUs: the operation asks about 501 in all');
    expect(statements(r.headers).size).toBe(0);
    // 500 are one availability read: one statement per source
    const ok = await demo.gql<{ _entities: unknown[] }>(ENTITIES, { r: many.slice(0, 500) }, { 'x-api-key': demo.keys.storefront });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data!._entities).toHaveLength(500);
    expect([...statements(ok.headers).values()].every((n) => n === 1)).toBe(true);
  });
});
