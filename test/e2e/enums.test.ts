/**
 * The closed sets the API answers as enums, over real HTTP on the demo: `Source.kind` and
 * `stalePolicy` from the config's lower-case words, `Feed.kind` of a mirror's feeds,
 * `FulfillmentPlan.method` for each way a plan is found (with `methodDetail` in words), and
 * `ReservationConnection.totalCount` counting the same reservations the list pages through.
 * (`Source.kind: HTTP` is asserted beside the API sources, test/e2e/http-sources.test.ts.)
 */
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

let demo: DemoApp;
beforeAll(async () => {
  demo = await startDemoApp({
    skus: 60,
    mirrors: true,
    editConfig: (yaml) => {
      const doc = parseDocument(yaml);
      // the WMS mirrored by a poll and a webhook feed (no broker needed); the 3PL read live
      doc.setIn(
        ['sources', 'wms', 'sync'],
        doc.createNode({
          mode: 'mirror',
          feeds: [
            { kind: 'poll', changedSince: 'updated_at', intervalSeconds: 3600, overlapSeconds: 2, fullResyncSeconds: 0 },
            { kind: 'webhook', secret: SECRET },
          ],
        }),
      );
      doc.deleteIn(['sources', 'tpl', 'sync']);
      doc.setIn(['sources', 'tpl', 'stalePolicy'], 'exclude');
      doc.setIn(['sources', 'erp', 'stalePolicy'], 'onHandOnly');
      return doc.toString();
    },
  });
  await demo.app.mirrorsLoaded;
});
afterAll(async () => {
  await demo?.close();
});

describe('enums for closed sets', () => {
  it('Source.kind, Source.stalePolicy and Feed.kind', async () => {
    const r = await demo.gql<{
      sources: Array<{ name: string; kind: string; stalePolicy: string; sync: { mode: string; feeds: Array<{ name: string; kind: string }> } }>;
    }>('{ sources { name kind stalePolicy sync { mode feeds { name kind } } } }');
    expect(r.body.errors).toBeUndefined();
    const by = Object.fromEntries(r.body.data!.sources.map((s) => [s.name, s]));
    expect(by.wms).toMatchObject({
      kind: 'SQL',
      stalePolicy: 'COUNT',
      sync: {
        mode: 'MIRROR',
        feeds: [
          { name: 'wms/poll', kind: 'POLL' },
          { name: 'wms/webhook', kind: 'WEBHOOK' },
        ],
      },
    });
    expect(by.tpl).toMatchObject({ kind: 'CSV', stalePolicy: 'EXCLUDE', sync: { mode: 'LIVE', feeds: [] } });
    expect(by.erp).toMatchObject({ kind: 'SQL', stalePolicy: 'ON_HAND_ONLY' });
  });

  it('FulfillmentPlan.method for each way a plan is found, methodDetail in words', async () => {
    const PLAN = 'query R($o: RouteOrderInput!) { routeOrder(order: $o) { strategy method methodDetail complete } }';
    const plan = async (order: Record<string, unknown>) => {
      const r = await demo.gql<{ routeOrder: { strategy: string; method: string; methodDetail: string; complete: boolean } }>(PLAN, { o: order });
      expect(r.body.errors).toBeUndefined();
      return r.body.data!.routeOrder;
    };
    const line = [{ sku: 'SKU-000002', quantity: 1 }];
    const here = { latitude: 41.88, longitude: -87.63 };
    expect(await plan({ lines: line, strategy: 'PRIORITY' })).toMatchObject({
      method: 'PRIORITY_ORDER',
      methodDetail: expect.stringMatching(/^priority order over \d+ candidate location\(s\)$/),
    });
    expect(await plan({ lines: line, strategy: 'DISTANCE', destination: here })).toMatchObject({
      method: 'DISTANCE_ORDER',
      methodDetail: expect.stringMatching(/^distance order over \d+ candidate location\(s\)$/),
    });
    expect(await plan({ lines: line, strategy: 'FEWEST_SHIPMENTS' })).toMatchObject({
      method: 'EXHAUSTIVE_SEARCH',
      complete: true,
      methodDetail: expect.stringMatching(/^exhaustive search: \d+ location set\(s\) of \d+ candidate\(s\) tried$/),
    });
    // no set of locations holds a million: the search ends without one, and the greedy heuristic plans what it can
    expect(await plan({ lines: [{ sku: 'SKU-000002', quantity: 1_000_000 }], strategy: 'FEWEST_SHIPMENTS' })).toMatchObject({
      method: 'GREEDY_HEURISTIC',
      complete: false,
      methodDetail: expect.stringMatching(/^greedy heuristic over \d+ candidate\(s\) \(no set within maxShipments fills the order\)$/),
    });
  });

  it('ReservationConnection.totalCount counts every page of the same list', async () => {
    const RESERVE = 'mutation H($i: ReserveInput!) { reserve(input: $i) { reservation { id } shortfalls { sku } } }';
    for (let i = 0; i < 3; i++) {
      const r = await demo.gql<{ reserve: { reservation: { id: string } | null } }>(RESERVE, {
        i: { idempotencyKey: `enums-${i}`, lines: [{ sku: i < 2 ? 'SKU-000003' : 'SKU-000004', quantity: 1 }] },
      });
      expect(r.body.data!.reserve.reservation).not.toBeNull();
    }
    const LIST =
      'query L($sku: ID, $after: String) { reservations(sku: $sku, first: 1, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } totalCount } }';
    type List = { reservations: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number } };
    const first = await demo.gql<List>(LIST, { sku: 'SKU-000003' });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data!.reservations).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true } });
    const second = await demo.gql<List>(LIST, { sku: 'SKU-000003', after: first.body.data!.reservations.pageInfo.endCursor });
    expect(second.body.data!.reservations).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: false } });
    expect((await demo.gql<List>(LIST, {})).body.data!.reservations.totalCount).toBe(3);
    const none = await demo.gql<List>('{ reservations(status: RELEASED) { nodes { id } totalCount } }');
    expect(none.body.data!.reservations).toEqual({ nodes: [], totalCount: 0 });
  });
});
