/**
 * A failing source costs only its own figures: the answer is HTTP 200 with data, its
 * locations fall back along the precedence list, and one SOURCE_UNAVAILABLE error names it,
 * without SQL, paths or stack traces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const Q = `{ availability(skus: ["SKU-000001", "SKU-000002"]) {
  sku available flags
  byLocation { location { id } available flags provenance { source fallback rule } }
} }`;

interface Level {
  location: { id: string };
  available: number;
  flags: string[];
  provenance: { source: string | null; fallback: boolean; rule: string };
}

describe('a source that cannot be opened', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({
      skus: 50,
      editConfig: (y) => y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite'),
    });
  });
  afterAll(() => demo?.close());

  it('answers from the other sources, flags the fallback, and names the source', async () => {
    const r = await demo.gql<{ availability: Array<{ sku: string; flags: string[]; byLocation: Level[] }> }>(Q);
    expect(r.status).toBe(200);
    expect(r.body.data!.availability.map((a) => a.sku)).toEqual(['SKU-000001', 'SKU-000002']);
    const east = r.body.data!.availability[0]!.byLocation.find((l) => l.location.id === 'DC-EAST')!;
    expect(east.flags).toEqual(['FALLBACK', 'SOURCE_UNAVAILABLE']);
    expect(east.provenance).toMatchObject({ source: 'erp', fallback: true, rule: 'quantity: wms > erp (wms: unavailable)' });
    expect(r.body.data!.availability[0]!.flags).toEqual(expect.arrayContaining(['FALLBACK', 'SOURCE_UNAVAILABLE']));
    expect(r.body.errors).toEqual([
      {
        message: 'Source "wms" is unavailable (cannot open its database); its figures are missing or fell back to the next source.',
        extensions: { source: 'wms', code: 'SOURCE_UNAVAILABLE' },
      },
    ]);
    expect(r.text).not.toMatch(/sqlite|\/tmp|select|at .*\.ts/i);
  });

  it('still answers readiness (one source down does not make the gateway unready)', async () => {
    expect((await fetch(demo.url.replace(/graphql$/, 'readyz'))).status).toBe(200);
  });
});

describe('a source whose mapping does not match its database', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({
      skus: 50,
      editConfig: (y) => y.replace(/onHand: qty\b/, 'onHand: quantity_on_hand'),
    });
  });
  afterAll(() => demo?.close());

  it('reports SOURCE_UNAVAILABLE for the ERP only, naming its entity and the missing column, never the SQL', async () => {
    const r = await demo.gql<{ availability: Array<{ byLocation: Level[] }> }>(Q);
    expect(r.status).toBe(200);
    expect(r.body.errors).toEqual([
      {
        message: 'Source "erp" stock: column "quantity_on_hand" does not exist; its stock figures are missing or fell back to the next source.',
        extensions: { code: 'SOURCE_UNAVAILABLE', source: 'erp', entity: 'stock' },
      },
    ]);
    // the names come from the config; the statement, the file and the driver's words do not
    expect(r.text).not.toMatch(/inv_balance|select|sqlite|\/tmp/i);
    const levels = r.body.data!.availability[0]!.byLocation;
    // WMS locations still answer from the WMS; the ERP-only store has nothing left to say
    expect(levels.find((l) => l.location.id === 'DC-EAST')!.provenance.source).toBe('wms');
    expect(levels.find((l) => l.location.id === 'STORE-NYC')).toMatchObject({ available: 0, flags: ['SOURCE_UNAVAILABLE'], provenance: { source: null } });
  });
});
