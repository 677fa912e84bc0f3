/**
 * The explorer's example tabs (src/server/examples.ts): titled by task, in a fixed order, the
 * compared systems, channel and destination taken from the config (another config's names show
 * up, no demo name is left over), the samples taken from the data with bounded reads, and every
 * example a published trusted document.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { AnomalyFilter, AnomalyPage } from '../../src/domain/anomalies.js';
import type { Availability } from '../../src/domain/availability.js';
import { trustedDocuments } from '../../src/server/documents.js';
import {
  comparedSources,
  exampleChannel,
  exampleOperations,
  PLACEHOLDER_ANOMALY_ID,
  SAMPLED_SKUS,
  sampleExamples,
  type ExampleReads,
} from '../../src/server/examples.js';

const source = (name: string) => `
  ${name}:
    kind: sql
    client: better-sqlite3
    connection: ./${name}.sqlite
    stock: { table: t, columns: { sku: s, location: l, onHand: q } }`;

/** The demo's shape: precedence [wms, tpl, erp], the 3PL sharing no location with the WMS. */
const demoLike = parseConfig(
  `
store: { client: better-sqlite3, connection: ":memory:" }
sources:${source('erp')}${source('wms')}${source('tpl')}
  shop:
    kind: sql
    client: better-sqlite3
    connection: ./shop.sqlite
    items: { table: i, columns: { sku: s, name: n } }
locations:
  - { id: DC-EAST, codes: { wms: EAST, erp: E }, latitude: 40.7, longitude: -74.0, priority: 1, channels: [web, retail] }
  - { id: STORE-NYC, codes: { erp: N }, latitude: 40.76, longitude: -73.98, priority: 3, channels: [retail] }
  - { id: DC-CENTRAL, codes: { wms: CENTRAL, erp: C }, latitude: 41.9, longitude: -87.6, priority: 2, channels: [web, retail] }
  - { id: 3PL-WEST, codes: { tpl: W01, erp: W }, latitude: 34.05, longitude: -118.24, priority: 4, channels: [web] }
precedence: { quantity: [wms, tpl, erp] }
`,
  '/tmp/examples-demo.yaml',
);

/** Other names everywhere: the channel `marketplace`, a warehouse in Lyon, systems `sap` and `ewm`. */
const other = parseConfig(
  `
store: { client: better-sqlite3, connection: ":memory:" }
sources:${source('sap')}${source('ewm')}
locations:
  - { id: LYON, codes: { sap: L1, ewm: LY }, latitude: 45.76, longitude: 4.84, priority: 1, channels: [marketplace] }
  - { id: TRANSIT, codes: { sap: T }, sellable: false }
precedence: { quantity: [ewm, sap] }
`,
  '/tmp/examples-other.yaml',
);

/** No channel, no coordinates, one stock source. */
const bare = parseConfig(
  `
store: { client: better-sqlite3, connection: ":memory:" }
sources:${source('erp')}
locations: [{ id: A, codes: { erp: A } }]
precedence: { quantity: [erp] }
`,
  '/tmp/examples-bare.yaml',
);

const TITLES = [
  'Available to promise',
  'Negative stock',
  'ERP vs WMS',
  'Route an order',
  'Acknowledge an anomaly',
  'Item with cost',
  'Reconcile SKUs',
  'Open anomalies',
  'Browse the catalogue',
  'Locations and sources',
  'Resolve a code',
];

describe('the example tabs', () => {
  it('are titled by task, the compared systems named from the config, each a published document', () => {
    const examples = exampleOperations(['SKU-1'], demoLike);
    expect(examples.map((e) => e.name)).toEqual(TITLES);
    const bodies = new Set(trustedDocuments().operations.map((o) => o.body));
    for (const e of examples) expect(bodies.has(e.query), e.name).toBe(true);
    expect(exampleOperations(['SKU-1'], other).map((e) => e.name)[2]).toBe('SAP vs EWM');
    expect(exampleOperations(['SKU-1'], bare).map((e) => e.name)[2]).toBe('Compare systems');
  });

  it('compares the first stock source of precedence.quantity with the one sharing most locations with it', () => {
    // the 3PL comes second in precedence but shares no location with the WMS: the ERP shares two
    expect(comparedSources(demoLike)).toEqual({ title: 'ERP vs WMS', authority: 'wms', other: 'erp', locationIds: ['DC-EAST', 'DC-CENTRAL'] });
    expect(comparedSources(other)).toEqual({ title: 'SAP vs EWM', authority: 'ewm', other: 'sap', locationIds: ['LYON'] });
    expect(comparedSources(bare)).toBeNull();
    const compare = exampleOperations(['SKU-1'], demoLike)[2];
    expect(compare?.variables).toEqual({ locationIds: ['DC-EAST', 'DC-CENTRAL'], sources: ['erp', 'wms'] });
    expect(compare?.query).toContain('reconciliation(statuses: [DISCREPANCY, EXPLAINED]');
  });

  it('routes with a channel and a destination from the configured locations, none when none is configured', () => {
    // the first channel of the location first in routing (DC-EAST: web); the last located location serving it
    expect(exampleChannel(demoLike)).toEqual({ channel: 'web', destination: { latitude: 34.05, longitude: -118.24 } });
    expect(exampleChannel(other)).toEqual({ channel: 'marketplace', destination: { latitude: 45.76, longitude: 4.84 } });
    expect(exampleChannel(bare)).toEqual({ channel: null, destination: null });

    const route = (c: typeof demoLike) => exampleOperations(['SKU-1', 'SKU-2'], c).find((e) => e.name === 'Route an order');
    expect(route(other)?.variables).toEqual({
      order: {
        lines: [
          { sku: 'SKU-1', quantity: 5 },
          { sku: 'SKU-2', quantity: 5 },
        ],
        channel: 'marketplace',
        destination: { latitude: 45.76, longitude: 4.84 },
        strategy: 'FEWEST_SHIPMENTS',
      },
    });
    expect(route(bare)?.variables).toEqual({ order: { lines: expect.any(Array), strategy: 'FEWEST_SHIPMENTS' } });
    // nothing of the demo's (or of the old hard-coded examples) leaks into another config's tabs
    const text = JSON.stringify(exampleOperations(['SKU-1'], other).map((e) => e.variables));
    for (const leftover of ['web', 'retail', '41.88', '-87.63', 'erp', 'wms', 'DC-']) expect(text).not.toContain(leftover);
    expect(JSON.stringify(exampleOperations(['SKU-1'], bare).map((e) => e.variables))).not.toMatch(/channel|destination/);
  });

  it('fill in the samples: a stocked SKU first, a flagged one, order lines within what is available, an open anomaly, a real code', () => {
    const examples = exampleOperations(
      {
        skus: ['SKU-1', 'SKU-2', 'SKU-3'],
        stocked: [
          { sku: 'SKU-7', available: 40, locations: 3 },
          { sku: 'SKU-2', available: 2, locations: 1 },
        ],
        flagged: 'SKU-97',
        openAnomaly: '42',
        code: { system: 'wms', code: 'ITM7' },
      },
      demoLike,
    );
    const vars = (name: string) => examples.find((e) => e.name === name)?.variables;
    expect(vars('Available to promise')).toEqual({ skus: ['SKU-7', 'SKU-97', 'SKU-2'], channel: 'web' });
    expect(vars('Item with cost')).toEqual({ sku: 'SKU-7' });
    expect((vars('Route an order') as { order: { lines: unknown } }).order.lines).toEqual([
      { sku: 'SKU-7', quantity: 5 },
      { sku: 'SKU-2', quantity: 2 },
    ]);
    expect(vars('Acknowledge an anomaly')).toEqual({ id: '42', note: 'Looking into it' });
    expect(vars('Resolve a code')).toEqual({ system: 'wms', code: 'ITM7' });
    // no open anomaly: a placeholder, and the document says where to take an id
    const ack = exampleOperations(['SKU-1'], demoLike).find((e) => e.name === 'Acknowledge an anomaly');
    expect(ack?.variables).toEqual({ id: PLACEHOLDER_ANOMALY_ID, note: 'Looking into it' });
    expect(ack?.query).toMatch(/^# .*\n.*admin key[\s\S]*from\n# the Negative stock tab/);
  });
});

describe('sampleExamples', () => {
  const availability = (sku: string, available: number, locations: number, flags: Availability['flags'] = []) =>
    ({
      sku,
      known: true,
      available,
      flags,
      byLocation: Array.from({ length: 4 }, (_, i) => ({ available: i < locations ? 1 : 0 })),
    }) as unknown as Availability;
  const page = (ids: Array<{ id: string; sku: string }>): AnomalyPage => ({
    anomalies: ids as never,
    totalCount: ids.length,
    hasNextPage: false,
    endCursor: null,
  });

  it('reads the first SKUs of the map once, their availability once, and the newest open anomaly', async () => {
    const calls: string[] = [];
    const reads: ExampleReads = {
      async firstSkus(n) {
        calls.push(`firstSkus ${n}`);
        return ['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4'].map((sku) => ({
          sku,
          name: null,
          aliases: [
            { system: 'erp', code: `E${sku}` },
            { system: 'wms', code: `W${sku}` },
          ],
        }));
      },
      async anomalies(filter: AnomalyFilter, first) {
        calls.push(`anomalies ${JSON.stringify(filter)} ${first}`);
        return filter.kinds?.includes('NEGATIVE_ON_HAND') ? page([]) : page([{ id: '9', sku: 'SKU-3' }]);
      },
      async availability(skus) {
        calls.push(`availability ${skus.length}`);
        return [availability('SKU-1', 0, 0), availability('SKU-2', 10, 1), availability('SKU-3', 30, 3, ['STALE']), availability('SKU-4', 5, 2)];
      },
    };
    const samples = await sampleExamples(reads, demoLike);
    expect(calls.sort()).toEqual([
      'anomalies {"kinds":["NEGATIVE_ON_HAND"],"statuses":["OPEN"]} 1',
      'anomalies {"statuses":["OPEN"]} 1',
      'availability 4',
      `firstSkus ${SAMPLED_SKUS}`,
    ]);
    expect(samples).toEqual({
      skus: ['SKU-1', 'SKU-2', 'SKU-3'],
      stocked: [
        { sku: 'SKU-3', available: 30, locations: 3 },
        { sku: 'SKU-4', available: 5, locations: 2 },
        { sku: 'SKU-2', available: 10, locations: 1 },
      ],
      flagged: 'SKU-3',
      openAnomaly: '9',
      // the code in the authoritative system (wms) of the SKU stocked at the most locations
      code: { system: 'wms', code: 'WSKU-3' },
    });
  });

  it('prefers an open negative, and falls back to the map when a read fails', async () => {
    const negative: ExampleReads = {
      firstSkus: async () => [{ sku: 'SKU-1', name: null, aliases: [] }],
      anomalies: async () => page([{ id: '5', sku: 'SKU-97' }]),
      availability: () => Promise.reject(new Error('every source is down')),
    };
    expect(await sampleExamples(negative, demoLike)).toEqual({ skus: ['SKU-1'], stocked: [], flagged: 'SKU-97', openAnomaly: '5', code: null });
    const failing: ExampleReads = {
      firstSkus: () => Promise.reject(new Error('store locked')),
      anomalies: () => Promise.reject(new Error('store locked')),
      availability: () => Promise.reject(new Error('not reached')),
    };
    expect(await sampleExamples(failing, demoLike)).toEqual({ skus: [], stocked: [], flagged: null, openAnomaly: null, code: null });
    expect(exampleOperations(await sampleExamples(failing, demoLike), demoLike).find((e) => e.name === 'Item with cost')?.variables).toEqual({
      sku: 'SKU-000001',
    });
  });
});
