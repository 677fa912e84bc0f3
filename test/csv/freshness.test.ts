/**
 * Freshness applies to the file source like any other: the demo's 3PL file is about 50 hours
 * old, past its 26-hour maxAgeSeconds. Under `stalePolicy: exclude` it contributes 0 to
 * availability and the location falls out of the totals; its provenance still says asOf and stale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
beforeAll(async () => {
  demo = await startDemoApp({ skus: 100, editConfig: (y) => y.replace(/(kind: csv[\s\S]*?stalePolicy: )count/, '$1exclude') });
});
afterAll(() => demo?.close());

describe('a 3PL file older than maxAgeSeconds under stalePolicy: exclude', () => {
  it('is flagged STALE and contributes 0', async () => {
    const sku = demo.facts.staleTpl[0]!;
    const r = await demo.gql<{
      availability: {
        available: number;
        byLocation: {
          location: { id: string };
          onHand: number;
          available: number;
          counted: boolean;
          flags: string[];
          provenance: { source: string; asOf: string; stale: boolean };
        }[];
      }[];
    }>(
      `{ availability(skus: ["${sku}"], channel: "web") { available byLocation { location { id } onHand available counted flags provenance { source asOf stale } } } }`,
    );
    const a = r.body.data!.availability[0]!;
    const west = a.byLocation.find((l) => l.location.id === '3PL-WEST')!;
    expect(west).toMatchObject({ available: 0, counted: false, flags: ['STALE'], provenance: { source: 'tpl', stale: true } });
    expect(Date.now() - Date.parse(west.provenance.asOf)).toBeGreaterThan(93_600_000);
    expect(west.onHand).toBeGreaterThanOrEqual(0);
    expect(a.available).toBe(a.byLocation.filter((l) => l.counted).reduce((s, l) => s + l.available, 0));
  });
});
