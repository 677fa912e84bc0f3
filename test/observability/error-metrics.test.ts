/**
 * `inventory_graph_graphql_errors_total{code}` counts every error of every GraphQL answer, HTTP 200
 * partial answers included: on a real gateway over HTTP whose WMS is gone, with each executor
 * (jit, graphql-js) and through the trusted-document fast path, requests that answer
 * BAD_USER_INPUT, FORBIDDEN, SOURCE_UNAVAILABLE and UNAUTHENTICATED, and a success, move each
 * code's counter by exactly the number of errors of that code the answers carried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentNamed } from '../../src/server/documents.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

// the WMS gone, its breaker never opening during the run (every read of it fails the same way)
const wmsGone = (y: string) => y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite\n    breaker: { failureThreshold: 1000 }');

/** `code` -> value of inventory_graph_graphql_errors_total. */
async function errorCounts(d: DemoApp): Promise<Map<string, number>> {
  const res = await fetch(d.url.replace(/\/graphql$/, '/metrics'), { headers: { 'x-api-key': d.keys.analyst } });
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const m of (await res.text()).matchAll(/^inventory_graph_graphql_errors_total\{code="([^"]+)"\} (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

async function servedByFastPath(d: DemoApp): Promise<number> {
  const res = await fetch(d.url.replace(/\/graphql$/, '/metrics'), { headers: { 'x-api-key': d.keys.analyst } });
  return Number(/inventory_graph_graphql_fast_path_requests_total\{result="served"\} (\d+)/.exec(await res.text())?.[1] ?? Number.NaN);
}

/** Posts a body to /graphql and returns its status and errors' codes (one entry per error). */
async function post(d: DemoApp, body: unknown, headers: Record<string, string>): Promise<{ status: number; codes: string[] }> {
  const res = await fetch(d.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
  return { status: res.status, codes: (json.errors ?? []).map((e) => e.extensions?.code ?? '(none)') };
}

const tally = (codes: string[]) => codes.reduce((m, c) => m.set(c, (m.get(c) ?? 0) + 1), new Map<string, number>());

describe.each(['jit', 'graphql-js'] as const)('GraphQL errors by code on /metrics (%s executor)', (executor) => {
  let d: DemoApp;
  beforeAll(async () => {
    d = await startDemoApp({ skus: 100, editConfig: wmsGone, override: { server: { executor } } });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('moves each code by exactly the errors the answers carried, whatever path answered', async () => {
    const before = await errorCounts(d);
    const fastBefore = await servedByFastPath(d);
    const sku = d.facts.erpWmsDisagree[0]!;
    const answers = [
      // a success: no error
      await post(d, { query: '{ viewer { name } }' }, { 'x-api-key': d.keys.analyst }),
      // an unknown location id
      await post(d, { query: `{ availability(skus: ["${sku}"], locationIds: ["NO-SUCH-LOCATION"]) { sku available } }` }, { 'x-api-key': d.keys.oms }),
      // a storefront asking for cost
      await post(d, { query: `{ inventoryItem(sku: "${sku}") { sku unitCost { amount } } }` }, { 'x-api-key': d.keys.storefront }),
      // the WMS gone: a partial answer, HTTP 200
      await post(d, { query: `{ availability(skus: ["${sku}"]) { sku available } }` }, { 'x-api-key': d.keys.oms }),
      // no key: the front door's own 401
      await post(d, { query: '{ viewer { name } }' }, {}),
      // a trusted document by id (the jit executor's fast path answers it): FORBIDDEN cost, the WMS gone
      await post(
        d,
        { extensions: { persistedQuery: { version: 1, sha256Hash: documentNamed('Item').id } }, variables: { sku } },
        { 'x-api-key': d.keys.storefront },
      ),
    ];
    const after = await errorCounts(d);

    expect(answers[0]).toEqual({ status: 200, codes: [] });
    expect(answers[1]!.codes).toContain('BAD_USER_INPUT');
    expect(answers[2]!.codes).toContain('FORBIDDEN');
    expect(answers[3]).toEqual({ status: 200, codes: ['SOURCE_UNAVAILABLE'] });
    expect(answers[4]).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
    expect(answers[5]!.codes).toContain('FORBIDDEN');
    expect(answers[5]!.codes).toContain('SOURCE_UNAVAILABLE');
    expect(await servedByFastPath(d)).toBe(fastBefore + (executor === 'jit' ? 1 : 0));

    const expected = tally(answers.flatMap((a) => a.codes));
    const moved = new Map<string, number>();
    for (const code of new Set([...before.keys(), ...after.keys()])) {
      const delta = (after.get(code) ?? 0) - (before.get(code) ?? 0);
      if (delta !== 0) moved.set(code, delta);
    }
    expect(Object.fromEntries(moved)).toEqual(Object.fromEntries(expected));
    expect(expected.get('FORBIDDEN')).toBeGreaterThanOrEqual(2);
    expect(expected.get('SOURCE_UNAVAILABLE')).toBeGreaterThanOrEqual(2);
  });
});
