/**
 * The jit executor writes leaf values as the resolvers give them, without graphql-js's
 * coercion of each one (src/server/executor.ts). That is only right while every value already
 * has its GraphQL type, so this suite asks two gateways on the same demo data, one on
 * graphql-jit and one on graphql-js (which coerces every leaf), for every kind of answer the
 * API gives, and compares the bodies byte for byte: every Int, Float, String, Boolean, ID and
 * enum of availability, items, routing with its trace, locations, sources, reconciliation and
 * anomalies, with a source failing and with invalid source data among them. Values of the
 * clock aside (timestamps, read latencies). And every trusted document (documents/), by id and
 * by its text, on both: the same answer four ways (graphql-jit by id is the fast path's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodies, SCENARIOS } from '../../bench/lib/scenarios.js';
import { trustedDocuments } from '../../src/server/documents.js';
import { exampleOperations } from '../../src/server/examples.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const LOCATION_FIELDS = 'id name latitude longitude priority channels sellable safetyStock codes { system code }';
const LOCATION = `location { ${LOCATION_FIELDS} }`;
const AVAILABILITY = `sku available onHand committed safetyStock flags
  byLocation { ${LOCATION} onHand committed safetyStock available counted flags provenance { source asOf stale fallback rule } }`;
const ITEM = `sku name aliases { system code } unitCost { amount currency source } availability { ${AVAILABILITY} }`;

const QUERIES: [string, (d: DemoApp) => { query: string; variables?: Record<string, unknown> }][] = [
  [
    'availability, every figure of every kind of SKU',
    (d) => ({
      query: `query A($skus: [ID!]!) { availability(skus: $skus) { ${AVAILABILITY} } web: availability(skus: $skus, channel: "web") { sku available flags } }`,
      variables: {
        skus: [
          ...d.facts.negativeWms.slice(0, 2),
          ...d.facts.pickedNotInvoiced.slice(0, 2),
          ...d.facts.staleTpl.slice(0, 2),
          ...d.facts.missingInWmsCentral.slice(0, 1),
          ...d.facts.unmapped.slice(0, 1),
          'NO-SUCH-SKU',
        ],
      },
    }),
  ],
  [
    'items: a page, one item, a resolved code',
    (d) => ({
      query: `query I($sku: ID!, $code: String!) {
        inventoryItems(first: 5) { edges { cursor node { ${ITEM} } } nodes { sku } pageInfo { hasNextPage endCursor } }
        inventoryItem(sku: $sku) { ${ITEM} }
        resolveSku(system: "wms", code: $code) { sku name }
        missing: inventoryItem(sku: "NO-SUCH-SKU") { sku }
      }`,
      variables: { sku: d.facts.discontinued[0] ?? d.facts.erpWmsDisagree[0], code: d.facts.orphanWmsCodes[0] ?? 'NONE' },
    }),
  ],
  [
    'a routed order with its trace, and one that cannot be filled',
    (d) => ({
      query: `query R($a: RouteOrderInput!, $b: RouteOrderInput!) {
        a: routeOrder(order: $a) { complete strategy method shipments { ${LOCATION} lines { sku quantity } distanceKm }
          unfulfilled { sku quantity reason detail }
          trace { location { id } used rank distanceKm reasons detail figures { sku requested available allocated flags } } }
        b: routeOrder(order: $b) { complete unfulfilled { sku quantity reason detail } }
      }`,
      variables: {
        a: {
          lines: [
            { sku: d.facts.pickedNotInvoiced[0], quantity: 1 },
            { sku: d.facts.unexplained[0], quantity: 2 },
          ],
          destination: { latitude: 41.88, longitude: -87.63 },
          strategy: 'DISTANCE',
        },
        b: {
          lines: [
            { sku: d.facts.pickedNotInvoiced[1], quantity: 100000 },
            { sku: 'NO-SUCH-SKU', quantity: 1 },
          ],
          allowSplit: false,
        },
      },
    }),
  ],
  [
    'reconciliation and orphan codes',
    (d) => ({
      query: `query C($skus: [ID!]!) {
        reconciliation(skus: $skus, tolerance: 1) {
          tolerance
          lines { sku location { id } status authoritative quantity variance explained unexplained worstSource rule
            systems { source onHand committed asOf stale snapshotFallback authoritative movements { kind quantity asOf } variance explained unexplained status } }
          gaps { sku source reason detail }
          summary { lines matched explained withinTolerance discrepancies absVariance absExplained absUnexplained gaps }
        }
        orphanCodes(source: "wms", first: 3) { nodes { source code } edges { cursor } scanned totalCount pageInfo { endCursor hasNextPage } }
        page: reconciliation(statuses: [DISCREPANCY, EXPLAINED], first: 5) {
          lines { sku location { id } status explanation explanations { source kind quantity } }
          pageInfo { hasNextPage endCursor }
          scanned totalCount
          summary { lines discrepancies }
        }
        reconciliationRuns(first: 2) { totalCount pageInfo { hasNextPage } nodes { id status } }
      }`,
      variables: { skus: [...d.facts.pickedNotInvoiced.slice(0, 2), ...d.facts.unexplained.slice(0, 2), ...d.facts.missingInWmsCentral.slice(0, 1)] },
    }),
  ],
  [
    'locations, sources, the viewer and the anomalies recorded so far',
    () => ({
      query: `{ locations { ${LOCATION_FIELDS} } viewer { name role }
        sources { name kind entities maxAgeSeconds stalePolicy status breaker timeoutMs failureThreshold }
        anomalies(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id kind sku location { id } locationCode source detail status occurrences code acknowledgeNote acknowledgedBy resolvedBy } } } }`,
    }),
  ],
];

/**
 * Two gateways whose ERP cost table is gone: SOURCE_UNAVAILABLE for cost, figures untouched
 * (the ERP's breaker never opens during the run: a failure reads the same every time).
 */
const costGone = (y: string) =>
  y.replace(/table: item_cost/, 'table: no_such_cost_table').replace(/connection: "?\.\/erp\.sqlite"?/, '$&\n    breaker: { failureThreshold: 1000 }');

let jit: DemoApp;
let graphqlJs: DemoApp;

beforeAll(async () => {
  jit = await startDemoApp({ skus: 300, editConfig: costGone });
  graphqlJs = await startDemoApp({ skus: 300, editConfig: costGone, override: { server: { executor: 'graphql-js' } } });
});

afterAll(async () => {
  await Promise.all([jit?.close(), graphqlJs?.close()]);
});

/** The body as text, values of the clock replaced: instants, and `detail` texts that quote one. */
const clockless = (text: string) => text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'T');

describe('graphql-jit without leaf coercion answers as graphql-js does', () => {
  it.each(QUERIES)('%s', async (_, make) => {
    // the same requests in the same order to both, so their anomalies and breakers agree
    for (let k = 0; k < 2; k++) {
      // anomalies found by the requests before are written off the query path: in the store first
      await Promise.all([graphqlJs.app.store.anomalies.flush(), jit.app.store.anomalies.flush()]);
      const a = make(graphqlJs);
      const expected = await graphqlJs.gql(a.query, a.variables);
      const b = make(jit);
      const actual = await jit.gql(b.query, b.variables);
      expect(expected.status, expected.text).toBe(200);
      expect(expected.body.data).toBeTruthy();
      expect(clockless(actual.text)).toBe(clockless(expected.text));
    }
  });
});

/** Variables for every published document: the explorer's for its examples, the bench's for its scenarios. */
function documentVariables(d: DemoApp): Map<string, Record<string, unknown>> {
  const skus = [...d.facts.pickedNotInvoiced.slice(0, 2), ...d.facts.negativeWms.slice(0, 1), ...d.facts.erpWmsDisagree.slice(0, 1)];
  const byBody = new Map(trustedDocuments().operations.map((o) => [o.body, o.name]));
  const out = new Map<string, Record<string, unknown>>();
  for (const e of exampleOperations(skus, d.app.config)) out.set(byBody.get(e.query) ?? e.name, e.variables);
  for (const s of SCENARIOS) {
    const b = bodies(s, 300, 6, 7)();
    out.set(b.operationName, b.variables);
  }
  return out;
}

describe('every trusted document, by id and by text, on both executors', () => {
  const documents = trustedDocuments().operations;
  it.each(documents.map((o) => [o.name, o] as const))('%s', async (_, doc) => {
    const send = (d: DemoApp, carrier: 'id' | 'text') => {
      const variables = documentVariables(d).get(doc.name);
      if (variables === undefined) throw new Error(`no variables for ${doc.name}: add them to its example or scenario`);
      const body = carrier === 'id' ? { extensions: { persistedQuery: { version: 1, sha256Hash: doc.id } }, variables } : { query: doc.body, variables };
      return fetch(d.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': d.keys.analyst }, body: JSON.stringify(body) }).then(
        async (r) => `${r.status} ${r.headers.get('x-source-statements')} ${clockless(await r.text())}`,
      );
    };
    for (let k = 0; k < 2; k++) {
      await Promise.all([graphqlJs.app.store.anomalies.flush(), jit.app.store.anomalies.flush()]);
      const answers = {
        jitId: await send(jit, 'id'),
        jitText: await send(jit, 'text'),
        jsId: await send(graphqlJs, 'id'),
        jsText: await send(graphqlJs, 'text'),
      };
      expect(answers.jsId).toMatch(/^200 /);
      expect(answers.jitId).toBe(answers.jitText);
      expect(answers.jsId).toBe(answers.jsText);
      expect(answers.jitId).toBe(answers.jsId);
    }
  });
});
