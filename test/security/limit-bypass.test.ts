/**
 * Ways round the operation limits that an attacker with any key could try, over real HTTP:
 * fragment fan-out (exponential work from a small document), limits hidden in variable
 * defaults, a storefront sending only the hash of a document a higher role registered, an
 * operation no budget could ever pay for, and a persisted-query hash that does not match.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentNamed } from '../../src/server/documents.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
const logLines: string[] = [];
beforeAll(async () => {
  demo = await startDemoApp({
    skus: 30,
    logLevel: 'info',
    log: (l) => logLines.push(l),
    // a storefront with a small document limit and a budget of 100 points a minute; an analyst
    // with one point a minute (spent by one field)
    editConfig: (y) =>
      `${y}\nlimits:\n  storefront: { maxDocumentBytes: 2000, pointsPerMinute: 100 }\n  oms: { maxSkus: 500 }\n  analyst: { pointsPerMinute: 1 }\n`,
  });
});
afterAll(() => demo?.close());

type Body = { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

async function post(body: unknown, role: keyof DemoApp['keys'] = 'admin') {
  const res = await fetch(demo.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': demo.keys[role] },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Body };
}

/** `depth` fragments, each spreading the next twice: 2^depth availability calls in a few hundred bytes. */
function fanOut(depth: number): string {
  const fragments = Array.from({ length: depth }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return `query Bomb { ...F0 } ${fragments.join(' ')} fragment F${depth} on Query { availability(skus: ["SKU-000001"]) { sku byLocation { available } } }`;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('fragment fan-out', () => {
  it('is refused by a limit, and the process keeps answering meanwhile', async () => {
    // 2^32 leaves: measured by expanding every spread, this would run for hours
    const query = fanOut(32);
    expect(query.length).toBeLessThan(1500);
    const [bomb, health] = await Promise.all([post({ query }, 'storefront'), fetch(demo.url.replace('/graphql', '/healthz'))]);
    expect(health.status).toBe(200);
    expect(bomb.status).toBe(400);
    expect(bomb.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxSkus', actual: 2 ** 32 });
    expect(bomb.headers.get('x-source-statements')).toBe('none');
  });

  it('from a key whose budget is spent, is refused by the budget before it is measured', async () => {
    // the analyst's one point, spent (it comes back in a minute)
    expect((await post({ query: '{ __typename }' }, 'analyst')).status).toBe(200);
    expect((await post({ query: '{ __typename }' }, 'analyst')).status).toBe(429);
    const bomb = await post({ query: fanOut(32) }, 'analyst');
    expect(bomb.status).toBe(429);
    expect(bomb.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(bomb.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('variable defaults', () => {
  const skus = Array.from({ length: 500 }, (_, i) => `SKU-${String(i).padStart(6, '0')}`);

  it('count toward the SKU cap across aliases', async () => {
    const aliases = Array.from({ length: 30 }, (_, i) => `a${i}: availability(skus: $s) { sku available }`).join(' ');
    const r = await post({ query: `query V($s: [ID!] = ${JSON.stringify(skus)}) { ${aliases} }` }, 'oms');
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxSkus', max: 500, actual: 15_000 });
    expect(r.headers.get('x-source-statements')).toBe('none');
  });

  it('count toward the cost, as `first`', async () => {
    const r = await post({ query: 'query($n: Int = 1000000) { anomalies(first: $n) { nodes { id kind sku } } }' }, 'admin');
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'maxCost', actual: 2 + 3_000_000 });
  });

  it('a `first` out of 1..1000 is refused, however it arrives', async () => {
    for (const [query, variables] of [
      ['{ anomalies(first: -1) { nodes { id } } }', undefined],
      ['query($n: Int = -1) { anomalies(first: $n) { nodes { id } } }', undefined],
      ['query($n: Int) { anomalies(first: $n) { nodes { id } } }', { n: 5000 }],
      ['query($n: Int = 20) { reconciliationRuns(first: $n) { totalCount } }', { n: 0 }],
      ['query($n: Int) { reconciliation(first: $n) { scanned } }', { n: 0 }],
      ['{ orphanCodes(source: "wms", first: 1001) { scanned } }', undefined],
    ] as const) {
      const r = await post({ query, variables }, 'admin');
      expect(r.body.errors?.[0]?.extensions?.code, `${query} ${r.text}`).toBe('BAD_USER_INPUT');
      expect(r.body.errors?.[0]?.message).toMatch(/`first` must be between 1 and 1000, got (-1|5000|0|1001)\./);
    }
  });
});

describe('persisted queries', () => {
  it('a hash-only request is measured by the stored document, not by its empty query', async () => {
    // an admin registers a 3 KB document; the storefront's limit is 2,000 bytes
    const query = `{ viewer { role } } # ${'x'.repeat(3000)}`;
    const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
    expect((await post({ query, extensions }, 'admin')).status).toBe(200);
    const asAdmin = await post({ extensions }, 'admin');
    expect(asAdmin.status).toBe(200);
    const asStorefront = await post({ extensions }, 'storefront');
    expect(asStorefront.status).toBe(400);
    expect(asStorefront.body.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'maxDocumentBytes', max: 2000 });
  });

  it('a trusted document is answered by its id alone, never registered; an unknown id is PERSISTED_QUERY_NOT_FOUND', async () => {
    const setup = documentNamed('Setup');
    const byId = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: setup.id } } }, 'oms');
    expect(byId.status).toBe(200);
    expect(byId.text).toBe((await post({ query: setup.body }, 'oms')).text);
    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256('never published') } } }, 'oms');
    expect(unknown.status).toBe(200);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it("a hash that does not match the query is the client's error, answered 400 and not logged as internal", async () => {
    logLines.length = 0;
    for (let k = 0; k < 5; k++) {
      const r = await post(
        { query: '{ viewer { role } }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('something else') } } },
        'storefront',
      );
      expect(r.status).toBe(400);
      expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
      expect(r.body.errors?.[0]?.message).toMatch(/does not match/);
    }
    expect(logLines.filter((l) => JSON.parse(l).level === 'error')).toEqual([]);
  });
});

describe('the rate budget', () => {
  it('an operation costing more than a minute of points is a limit error with no Retry-After', async () => {
    const skus = Array.from({ length: 60 }, (_, i) => `SKU-${String(i).padStart(6, '0')}`);
    const r = await post({ query: 'query($s: [ID!]!) { availability(skus: $s) { sku available } }', variables: { s: skus } }, 'storefront');
    expect(r.status).toBe(400);
    expect(r.headers.get('retry-after')).toBeNull();
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'pointsPerMinute', max: 100, actual: 121 });
  });
});
