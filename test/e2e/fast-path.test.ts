/**
 * The fast path (src/server/fast-path.ts) must answer exactly as Apollo would. Two gateways on
 * the same demo data, one with the fast path and one without, get the same requests; each
 * request goes three times to each (to the first, the first time through Apollo, then by the
 * fast path) and the answers are compared: status, content type, statements header and body (figures
 * read "as of the read" aside). Its WMS is gone, so partial answers are compared too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const AVAILABILITY = `query Availability($skus: [ID!]!, $channel: String) {
  availability(skus: $skus, channel: $channel) {
    sku available onHand committed flags
    byLocation { location { id } onHand available counted flags provenance { source asOf stale fallback rule } }
  }
}`;
const ITEM = `query Item($sku: ID!) {
  inventoryItem(sku: $sku) { sku name aliases { system code } unitCost { amount currency source } availability { available flags } }
}`;
const ROUTE = `query Route($order: RouteOrderInput!) {
  routeOrder(order: $order) { complete strategy shipments { location { id } lines { sku quantity } } unfulfilled { sku quantity reason } }
}`;

const wmsGone = (y: string) => y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite');

let fast: DemoApp;
let apollo: DemoApp;

beforeAll(async () => {
  // one after the other: the environment switch is read while an app is created
  fast = await startDemoApp({ skus: 200, editConfig: wmsGone });
  apollo = await startDemoApp({ skus: 200, editConfig: wmsGone, env: { INVENTORY_GRAPH_FAST_PATH: 'off' } });
});

afterAll(async () => {
  await Promise.all([fast?.close(), apollo?.close()]);
});

/** What a client sees of an answer, minus `asOf` values (a source without an asOf column is "as of the read"). */
async function answer(d: DemoApp, body: unknown, headers: Record<string, string>) {
  const res = await fetch(d.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = (await res.text()).replace(/"asOf":"[^"]*"/g, '"asOf":"-"');
  return { status: res.status, type: res.headers.get('content-type'), statements: res.headers.get('x-source-statements'), text };
}

async function servedByFastPath(d: DemoApp): Promise<number> {
  const res = await fetch(d.url.replace(/\/graphql$/, '/metrics'));
  const m = /inventory_graph_graphql_fast_path_requests_total\{result="served"\} (\d+)/.exec(await res.text());
  return Number(m?.[1] ?? Number.NaN);
}

describe('fast path', () => {
  const cases: [string, (d: DemoApp) => { body: unknown; headers: Record<string, string> }][] = [
    ['availability with a source down and an unknown SKU', (d) => ({ body: { query: AVAILABILITY, variables: { skus: [d.facts.pickedNotInvoiced[0], 'NO-SUCH-SKU', d.facts.negativeWms[0]], channel: 'web' } }, headers: { 'x-api-key': d.keys.storefront } })],
    ['an item with its cost, as an analyst', (d) => ({ body: { query: ITEM, operationName: 'Item', variables: { sku: d.facts.erpWmsDisagree[0] } }, headers: { 'x-api-key': d.keys.analyst } })],
    ['an item with its cost, as a storefront (FORBIDDEN for that field)', (d) => ({ body: { query: ITEM, variables: { sku: d.facts.erpWmsDisagree[0] } }, headers: { 'x-api-key': d.keys.storefront } })],
    ['too many SKUs for the role (limits refuse it)', (d) => ({ body: { query: AVAILABILITY, variables: { skus: Array.from({ length: 600 }, (_, i) => `S-${i}`) } }, headers: { 'x-api-key': d.keys.storefront } })],
    ['variables of the wrong type', (d) => ({ body: { query: AVAILABILITY, variables: { skus: [1, null] } }, headers: { 'x-api-key': d.keys.storefront } })],
    ['a routed order, as the OMS', (d) => ({ body: { query: ROUTE, variables: { order: { lines: [{ sku: d.facts.unexplained[0], quantity: 1 }, { sku: d.facts.pickedNotInvoiced[1], quantity: 2 }] } } }, headers: { 'x-api-key': d.keys.oms } })],
    ['a routed order, as a storefront (FORBIDDEN)', (d) => ({ body: { query: ROUTE, variables: { order: { lines: [{ sku: d.facts.unexplained[0], quantity: 1 }] } } }, headers: { 'x-api-key': d.keys.storefront } })],
  ];

  it.each(cases)('answers as Apollo does: %s', async (_, make) => {
    // the same requests in the same order to both, so their circuit breakers agree too
    for (let k = 0; k < 3; k++) {
      const expected = await answer(apollo, make(apollo).body, make(apollo).headers);
      expect(await answer(fast, make(fast).body, make(fast).headers)).toEqual(expected);
    }
  });

  it('served the repeated queries itself, and left the rest to Apollo', async () => {
    const before = await servedByFastPath(fast);
    const { body, headers } = cases[0]![1](fast);
    for (let k = 0; k < 4; k++) await answer(fast, body, headers);
    expect(await servedByFastPath(fast)).toBe(before + 4);
    // a mutation, a GET and a body with extensions are Apollo's
    const after = await servedByFastPath(fast);
    await answer(fast, { query: 'mutation { acknowledgeAnomaly(id: "1") { id } }' }, { 'x-api-key': fast.keys.admin });
    await answer(fast, { query: AVAILABILITY, variables: { skus: ['X'] }, extensions: {} }, { 'x-api-key': fast.keys.admin });
    await fetch(`${fast.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'x-api-key': fast.keys.admin, 'apollo-require-preflight': '1' } });
    expect(await servedByFastPath(fast)).toBe(after);
    expect(await servedByFastPath(apollo)).toBe(0);
  });
});
