/**
 * Hostile and broken requests over real HTTP. Each row: the HTTP status, the error code, that
 * no source statement ran, and that the server still answers afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
let strict: DemoApp;
beforeAll(async () => {
  [demo, strict] = await Promise.all([
    startDemoApp({ skus: 30 }),
    // a deployment with tight storefront limits and a small rate budget
    startDemoApp({ skus: 30, editConfig: (y) => `${y}\nlimits:\n  storefront: { maxDepth: 3, pointsPerMinute: 60 }\n` }),
  ]);
});
afterAll(async () => {
  await Promise.all([demo?.close(), strict?.close()]);
});

interface Row {
  name: string;
  /** A GraphQL body (JSON-encoded for you), or a raw request. */
  body?: unknown;
  raw?: { method?: string; headers?: Record<string, string>; body?: string; search?: string };
  role?: 'storefront' | 'oms' | 'analyst' | 'admin';
  status: number | number[];
  code?: string;
  message?: RegExp;
  app?: () => DemoApp;
}

const q = (query: string, variables?: Record<string, unknown>) => ({ query, variables });
const skus = (n: number, prefix = 'S') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const deep = (n: number) => `{ ${'viewer { '.repeat(n)}role${' }'.repeat(n)} }`;

const ROWS: Row[] = [
  // query shape
  { name: 'depth 50', body: q(deep(50)), status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    name: 'depth over a role limit',
    app: () => strict,
    role: 'storefront',
    body: q('{ availability(skus: ["SKU-000001"]) { byLocation { location { id } } } }'),
    status: 400,
    code: 'LIMIT_EXCEEDED',
    message: /nested 4; at most 3/,
  },
  {
    name: '1,000 aliases',
    body: q(`{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
    message: /contains more th\w+ 2000 tokens/,
  },
  {
    name: '40 aliases',
    body: q(`{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`),
    status: 400,
    code: 'LIMIT_EXCEEDED',
    message: /aliases: 40; at most 30/,
  },
  {
    name: 'fragment cycle',
    body: q('{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }'),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    message: /Cannot spread fragment/,
  },
  { name: 'token bomb', body: q(`{ viewer { ${'__typename '.repeat(5000)} } }`), status: 400, code: 'GRAPHQL_PARSE_FAILED', message: /tokens/ },
  { name: 'directive overload', body: q(`{ viewer ${'@skip(if: false) '.repeat(12)}{ role } }`), status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    name: 'eleven directives on separate fields',
    body: q(`{ ${Array.from({ length: 11 }, (_, i) => `v${i}: viewer @include(if: true) { role }`).join(' ')} }`),
    status: 400,
    code: 'LIMIT_EXCEEDED',
    message: /directives: 11; at most 10/,
  },
  {
    name: 'document over 32 KiB',
    body: q(`{ viewer { role } } # ${'x'.repeat(40_000)}`),
    status: 400,
    code: 'LIMIT_EXCEEDED',
    message: /bytes; at most 32768/,
  },
  {
    name: 'cost over the limit',
    body: q(
      `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: anomalies(first: 1000) { nodes { id kind sku locationCode source detail status firstSeen lastSeen occurrences } }`).join(' ')} }`,
    ),
    status: 400,
    code: 'LIMIT_EXCEEDED',
    message: /estimated to cost 250050; at most 200000/,
  },
  {
    name: 'aliases must not multiply the SKU cap',
    body: q('query($s: [ID!]!) { a: availability(skus: $s) { sku } b: availability(skus: $s) { sku } }', { s: skus(300) }),
    status: 400,
    code: 'BAD_USER_INPUT',
    message: /asks about 600 in all/,
  },
  {
    name: '501 SKUs',
    body: q('query($s: [ID!]!) { availability(skus: $s) { sku } }', { s: skus(501) }),
    status: 400,
    code: 'BAD_USER_INPUT',
    message: /Too many SKUs/,
  },
  {
    name: 'routeOrder lines count toward SKUs',
    body: q('query($o: RouteOrderInput!) { routeOrder(order: $o) { complete } }', { o: { lines: skus(501).map((sku) => ({ sku, quantity: 1 })) } }),
    status: 400,
    code: 'BAD_USER_INPUT',
    message: /asks about 501/,
  },
  { name: 'introspection as storefront', role: 'storefront', body: q('{ __schema { types { name } } }'), status: 403, code: 'FORBIDDEN' },
  {
    name: 'costs more than a minute of points',
    app: () => strict,
    role: 'storefront',
    body: q('query($s: [ID!]!) { availability(skus: $s) { sku } }', { s: skus(80) }),
    status: 400,
    code: 'LIMIT_EXCEEDED',
    message: /cost 81 points, more than the 60/,
  },
  {
    name: 'anomalies first negative',
    body: q('{ anomalies(first: -1) { nodes { id } } }'),
    status: 200,
    code: 'BAD_USER_INPUT',
    message: /between 1 and 1000, got -1/,
  },
  { name: 'anomalies first zero', body: q('{ anomalies(first: 0) { nodes { id } } }'), status: 200, code: 'BAD_USER_INPUT', message: /got 0/ },
  // transport
  { name: '5 MB body', raw: { body: JSON.stringify(q(`{ viewer { role } } #${'x'.repeat(5_000_000)}`)) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'batched array', raw: { body: JSON.stringify([q('{ viewer { role } }'), q('{ viewer { role } }')]) }, status: 400 },
  { name: 'invalid JSON', raw: { body: '{"query": "{ viewer { role } }"' }, status: 400, code: 'BAD_REQUEST' },
  { name: 'JSON null body', raw: { body: 'null' }, status: 400 },
  { name: 'empty body', raw: { body: '' }, status: 400 },
  { name: 'query not a string', raw: { body: JSON.stringify({ query: 42 }) }, status: 400 },
  { name: 'no query', raw: { body: JSON.stringify({ variables: {} }) }, status: 400 },
  { name: 'variables not an object', raw: { body: JSON.stringify({ query: '{ viewer { role } }', variables: [1] }) }, status: 400 },
  { name: 'text/plain POST (CSRF)', raw: { headers: { 'content-type': 'text/plain' }, body: JSON.stringify(q('{ viewer { role } }')) }, status: 400 },
  {
    name: 'form POST (CSRF)',
    raw: { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B%20viewer%20%7B%20role%20%7D%20%7D' },
    status: 400,
  },
  {
    name: 'GET without preflight header (CSRF)',
    raw: { method: 'GET', headers: { accept: 'application/json' }, search: `?query=${encodeURIComponent('{ viewer { role } }')}` },
    status: 400,
  },
  {
    name: 'GET mutation',
    raw: { method: 'GET', headers: { 'apollo-require-preflight': 'true' }, search: `?query=${encodeURIComponent('mutation { x }')}` },
    status: [400, 405],
  },
  { name: 'PUT', raw: { method: 'PUT', body: JSON.stringify(q('{ viewer { role } }')) }, status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'DELETE', raw: { method: 'DELETE' }, status: 405 },
  { name: 'key in the query string', raw: { search: '?api_key=secret', body: JSON.stringify(q('{ viewer { role } }')) }, status: 401, code: 'UNAUTHENTICATED' },
  // operations and variables
  { name: 'syntax error', body: q('{ viewer { role }'), status: 400, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'unknown field (no suggestions)', body: q('{ availabilty(skus: ["a"]) { sku } }'), status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'unknown operation name', raw: { body: JSON.stringify({ query: 'query A { viewer { role } }', operationName: 'B' }) }, status: 400 },
  { name: 'subscription', body: q('subscription { viewer { role } }'), status: 400 },
  { name: 'wrong variable type', body: q('query($s: [ID!]!) { availability(skus: $s) { sku } }', { s: { a: 1 } }), status: 400, code: 'BAD_USER_INPUT' },
  { name: 'missing required variable', body: q('query($s: [ID!]!) { availability(skus: $s) { sku } }'), status: 400, code: 'BAD_USER_INPUT' },
  { name: 'null for a non-null argument', body: q('{ availability(skus: null) { sku } }'), status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'Int out of range', body: q('{ inventoryItems(first: 9007199254740993) { nodes { sku } } }'), status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'nested list for a list of IDs', body: q('{ availability(skus: [["a"]]) { sku } }'), status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'bad unicode escape', body: q('{ availability(skus: ["\\uZZZZ"]) { sku } }'), status: 400, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'NUL in the document', body: q('{ viewer\u0000 { role } }'), status: 400, code: 'GRAPHQL_PARSE_FAILED' },
  // domain
  {
    name: 'unknown location id',
    body: q('{ availability(skus: ["SKU-000001"], locationIds: ["MOON"]) { sku } }'),
    status: 200,
    code: 'BAD_USER_INPUT',
    message: /"MOON"/,
  },
  { name: 'first too large', body: q('{ inventoryItems(first: 100000) { nodes { sku } } }'), status: 400, code: 'BAD_USER_INPUT' },
  { name: 'first negative', body: q('{ inventoryItems(first: -1) { nodes { sku } } }'), status: 200, code: 'BAD_USER_INPUT' },
  {
    name: '1 MB SKU string',
    body: q('query($s: [ID!]!) { availability(skus: $s) { sku } }', { s: ['x'.repeat(1_000_000)] }),
    status: 200,
    code: 'BAD_USER_INPUT',
    message: /at most 191/,
  },
  {
    name: 'quantity 0 in an order',
    body: q('{ routeOrder(order: { lines: [{ sku: "SKU-000001", quantity: 0 }] }) { complete } }'),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'DISTANCE without destination',
    body: q('{ routeOrder(order: { lines: [{ sku: "SKU-000001", quantity: 1 }], strategy: DISTANCE }) { complete } }'),
    status: 200,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'unknown enum value',
    body: q('{ routeOrder(order: { lines: [{ sku: "a", quantity: 1 }], strategy: CHEAPEST }) { complete } }'),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
];

function send(app: DemoApp, row: Row) {
  return rawSend(app, row.body !== undefined ? { body: JSON.stringify(row.body) } : (row.raw ?? {}), app.keys[row.role ?? 'admin']);
}

async function rawSend(app: DemoApp, raw: NonNullable<Row['raw']>, key: string) {
  const method = raw.method ?? 'POST';
  const res = await fetch(`${app.url}${raw.search ?? ''}`, {
    method,
    headers: { ...(method === 'POST' || method === 'PUT' ? { 'content-type': 'application/json' } : {}), 'x-api-key': key, ...raw.headers },
    ...(raw.body !== undefined && method !== 'GET' && method !== 'DELETE' ? { body: raw.body } : {}),
  });
  const text = await res.text();
  let body: { errors?: Array<{ message: string; extensions?: { code?: string } }> } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // some transport errors answer in plain text
  }
  return { status: res.status, headers: res.headers, text, body };
}

describe('bad input', () => {
  it('has at least 40 cases', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(ROWS)('$name', async (row) => {
    const app = row.app?.() ?? demo;
    const r = await send(app, row);
    const statuses = Array.isArray(row.status) ? row.status : [row.status];
    expect(statuses, r.text.slice(0, 300)).toContain(r.status);
    if (row.code !== undefined) expect(r.body.errors?.[0]?.extensions?.code, r.text.slice(0, 300)).toBe(row.code);
    if (row.message !== undefined) expect(r.body.errors?.[0]?.message).toMatch(row.message);
    // never a stack trace, SQL or a file path
    expect(r.text.slice(0, 5000)).not.toMatch(/\bat .+\.(ts|js):\d+|select .* from|\/work\/|node_modules/i);
    // no source was read
    const counted = r.headers.get('x-source-statements');
    expect(counted === null || counted === 'none').toBe(true);
    // and the server still answers
    const after = await app.gql('{ viewer { role } }');
    expect(after.status).toBe(200);
  });
});
