/**
 * The fast path (src/server/fast-path.ts) must answer a trusted document called by id exactly
 * as Apollo would. Two gateways on the same demo data, one with the fast path and one without
 * (Apollo answers the id from its persisted-query cache), get the same requests, each sent
 * twice by id and then by its text; the answers are compared: status, content type, statements
 * header, Retry-After and body (figures read "as of the read" aside): the fast path's by id with
 * Apollo's by id, and by id with by text on the same gateway. Their WMS is gone, so partial
 * answers (SOURCE_UNAVAILABLE added by the shared response finalizer) are compared too, and the
 * storefront's document size limit is small, so a limit measured on the stored document too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentNamed } from '../../src/server/documents.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

// the WMS gone, its breaker never opening during the run (a failure reads the same every time);
// the storefront may send at most 410 bytes (Availability's document is 437, Item's 328); the
// admin may spend 20 points a minute
const edit = (y: string) =>
  `${y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite\n    breaker: { failureThreshold: 1000 }')}
limits:
  storefront: { maxDocumentBytes: 410 }
  admin: { pointsPerMinute: 20 }
`;

let fast: DemoApp;
let apollo: DemoApp;
const logLines: string[] = [];

beforeAll(async () => {
  fast = await startDemoApp({ skus: 200, editConfig: edit, logLevel: 'info', log: (l) => logLines.push(l) });
  apollo = await startDemoApp({ skus: 200, editConfig: edit, override: { server: { fastPath: false } } });
});

afterAll(async () => {
  await Promise.all([fast?.close(), apollo?.close()]);
});

type Carrier = 'id' | 'text';

/** A request for a published document, by id (`extensions.persistedQuery`) or by its text. */
function body(name: string, carrier: Carrier, extra: Record<string, unknown> = {}) {
  const d = documentNamed(name);
  return carrier === 'id' ? { extensions: { persistedQuery: { version: 1, sha256Hash: d.id } }, ...extra } : { query: d.body, ...extra };
}

/** What a client sees of an answer, minus `asOf` values (a source without an asOf column is "as of the read"). */
async function answer(d: DemoApp, payload: unknown, headers: Record<string, string>) {
  const res = await fetch(d.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload) });
  const text = (await res.text()).replace(/"asOf":"[^"]*"/g, '"asOf":"-"');
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    statements: res.headers.get('x-source-statements'),
    retryAfter: res.headers.get('retry-after'),
    text,
  };
}

async function servedByFastPath(d: DemoApp): Promise<number> {
  const res = await fetch(d.url.replace(/\/graphql$/, '/metrics'), { headers: { 'x-api-key': d.keys.analyst } });
  const m = /inventory_graph_graphql_fast_path_requests_total\{result="served"\} (\d+)/.exec(await res.text());
  return Number(m?.[1] ?? Number.NaN);
}

type Case = [string, (d: DemoApp) => { name: string; extra?: Record<string, unknown>; role: keyof DemoApp['keys'] }];

describe('fast path', () => {
  const cases: Case[] = [
    [
      'availability with a source down and an unknown SKU, as the OMS',
      (d) => ({
        name: 'Availability',
        extra: { variables: { skus: [d.facts.pickedNotInvoiced[0], 'NO-SUCH-SKU', d.facts.negativeWms[0]], channel: 'web' } },
        role: 'oms',
      }),
    ],
    [
      'availability as a storefront: over its maxDocumentBytes, measured on the stored document',
      (d) => ({ name: 'Availability', extra: { variables: { skus: [d.facts.pickedNotInvoiced[0]] } }, role: 'storefront' }),
    ],
    [
      'an item with its cost, as an analyst, naming the operation',
      (d) => ({ name: 'Item', extra: { operationName: 'Item', variables: { sku: d.facts.erpWmsDisagree[0] } }, role: 'analyst' }),
    ],
    [
      'an item with its cost, as a storefront (FORBIDDEN for that field: @auth applies by id)',
      (d) => ({ name: 'Item', extra: { variables: { sku: d.facts.erpWmsDisagree[0] } }, role: 'storefront' }),
    ],
    [
      'too many SKUs for the role (limits refuse it)',
      () => ({ name: 'BenchAvailability', extra: { variables: { skus: Array.from({ length: 600 }, (_, i) => `S-${i}`) } }, role: 'oms' }),
    ],
    ['variables of the wrong type', () => ({ name: 'Availability', extra: { variables: { skus: [1, null] } }, role: 'oms' })],
    ['a required variable missing, variables null', () => ({ name: 'Item', extra: { variables: null }, role: 'analyst' })],
    [
      'a routed order, as the OMS',
      (d) => ({
        name: 'Route',
        extra: {
          variables: {
            order: {
              lines: [
                { sku: d.facts.unexplained[0], quantity: 1 },
                { sku: d.facts.pickedNotInvoiced[1], quantity: 2 },
              ],
            },
          },
        },
        role: 'oms',
      }),
    ],
    [
      'a routed order, as a storefront (FORBIDDEN)',
      (d) => ({ name: 'Route', extra: { variables: { order: { lines: [{ sku: d.facts.unexplained[0], quantity: 1 }] } } }, role: 'storefront' }),
    ],
    [
      'a reconciliation with the WMS down, as an analyst',
      (d) => ({ name: 'Reconcile', extra: { variables: { skus: d.facts.pickedNotInvoiced.slice(0, 3) } }, role: 'analyst' }),
    ],
  ];

  it.each(cases)('answers as Apollo does, and by id as by text: %s', async (_, make) => {
    // the same requests in the same order to both, so their state (anomalies, budgets) agrees too
    const served = await servedByFastPath(fast);
    for (let k = 0; k < 2; k++) {
      const got: Record<string, Awaited<ReturnType<typeof answer>>> = {};
      for (const [label, d] of [
        ['fast', fast],
        ['apollo', apollo],
      ] as const) {
        for (const carrier of ['id', 'text'] as const) {
          const r = make(d);
          got[`${label} ${carrier}`] = await answer(d, body(r.name, carrier, r.extra), { 'x-api-key': d.keys[r.role] });
        }
      }
      expect(got['fast id']).toEqual(got['apollo id']);
      expect(got['fast id']).toEqual(got['fast text']);
      expect(got['apollo id']).toEqual(got['apollo text']);
    }
    // every request by id, refusals included, was the fast path's
    expect(await servedByFastPath(fast)).toBe(served + 2);
  });

  it('adds the source errors and the statements header on both paths', async () => {
    const { name, extra } = cases[0]![1](fast);
    for (const d of [fast, apollo]) {
      const r = await answer(d, body(name, 'id', extra), { 'x-api-key': d.keys.oms });
      expect(r.status).toBe(200);
      // the WMS's failed read counts as sent
      expect(r.statements).toBe('wms/stock=1, erp/stock=1');
      const errors = (JSON.parse(r.text) as { errors: { extensions: Record<string, unknown> }[] }).errors;
      expect(errors).toContainEqual(expect.objectContaining({ extensions: expect.objectContaining({ code: 'SOURCE_UNAVAILABLE', source: 'wms' }) }));
    }
  });

  it("logs a fast-path answer as Apollo's: operation, sources, statements, failed sources, errors, cost", async () => {
    const { name, extra } = cases[0]![1](fast);
    for (const [id, carrier] of [
      ['fp-log-id', 'id'],
      ['fp-log-text', 'text'],
    ] as const) {
      await answer(fast, body(name, carrier, extra), { 'x-api-key': fast.keys.oms, 'x-request-id': id });
    }
    const line = (id: string) => logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.requestId === id);
    await expect.poll(() => line('fp-log-text')).toBeDefined();
    const { requestId: _a, durationMs: _b, time: _c, fastPath, ...byId } = line('fp-log-id')!;
    const { requestId: _d, durationMs: _e, time: _f, fastPath: viaApollo, ...byText } = line('fp-log-text')!;
    expect(fastPath).toBe(true);
    expect(viaApollo).toBeUndefined();
    expect(byId).toEqual(byText);
    expect(byId).toMatchObject({
      status: 200,
      operation: 'Availability',
      operationType: 'query',
      failedSources: ['wms'],
      errors: ['SOURCE_UNAVAILABLE'],
      statements: 2,
    });
    expect(byId.cost).toBeGreaterThan(0);
  });

  it("spends the key's rate budget once per request, as Apollo does", async () => {
    // Resolve (6 points) by the admin (20 points a minute): as many answers by id on the fast path as through Apollo
    const resolve = body('Resolve', 'id', { variables: { system: 'wms', code: 'NOT-A-CODE' } });
    const until429 = async (d: DemoApp) => {
      const statuses: number[] = [];
      for (let k = 0; k < 30 && statuses.at(-1) !== 429; k++) statuses.push((await answer(d, resolve, { 'x-api-key': d.keys.admin })).status);
      return statuses;
    };
    const [viaFast, viaApollo] = [await until429(fast), await until429(apollo)];
    expect(viaFast.at(-1)).toBe(429);
    expect(viaFast).toEqual(viaApollo);
    expect(viaFast).toEqual([200, 200, 200, 429]);
    const refused = await answer(fast, resolve, { 'x-api-key': fast.keys.admin });
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toMatch(/^\d+$/);
    expect(refused.text).toContain('"code":"RATE_LIMITED"');
  });

  it('served the trusted documents itself, and left the rest to Apollo', async () => {
    const before = await servedByFastPath(fast);
    const { name, extra } = cases[0]![1](fast);
    const oms = { 'x-api-key': fast.keys.oms };
    for (let k = 0; k < 4; k++) await answer(fast, body(name, 'id', extra), oms);
    expect(await servedByFastPath(fast)).toBe(before + 4);
    const after = await servedByFastPath(fast);
    // the same text again and again, a text with its hash, an unknown id, another operation name,
    // another persisted-query version, a mutation, a GET: all Apollo's
    for (let k = 0; k < 2; k++) await answer(fast, body(name, 'text', extra), oms);
    await answer(fast, { ...body(name, 'text', extra), extensions: { persistedQuery: { version: 1, sha256Hash: documentNamed(name).id } } }, oms);
    const unknown = await answer(fast, { extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } }, oms);
    expect(unknown.text).toContain('PERSISTED_QUERY_NOT_FOUND');
    expect((await answer(fast, body(name, 'id', { ...extra, operationName: 'Other' }), oms)).status).toBe(400);
    expect((await answer(fast, { extensions: { persistedQuery: { version: 2, sha256Hash: documentNamed(name).id } } }, oms)).status).toBe(400);
    await answer(fast, { query: 'mutation { acknowledgeAnomaly(id: "1") { id } }' }, { 'x-api-key': fast.keys.analyst });
    const extensions = { persistedQuery: { version: 1, sha256Hash: documentNamed(name).id } };
    await fetch(`${fast.url}?extensions=${encodeURIComponent(JSON.stringify(extensions))}`, { headers: { ...oms, 'apollo-require-preflight': '1' } });
    expect(await servedByFastPath(fast)).toBe(after);
    expect(await servedByFastPath(apollo)).toBe(0);
  });
});
