/**
 * The routing policy and the routeOrder rules on hand-made locations and figures: which
 * locations ship what under each strategy, and why the others do not.
 */
import { describe, expect, it } from 'vitest';
import type { Availability, Flag, StockLevel } from '../../src/domain/availability.js';
import { LocationIndex, type Location } from '../../src/domain/locations.js';
import { routeOrder, type RouteOrderRequest } from '../../src/domain/route-order.js';
import { DefaultRoutingPolicy, distanceKm, type Candidate } from '../../src/domain/routing.js';

// a destination in New York; NEAR is 1 km away, MID ~ 130 km, FAR ~ 3,900 km
const NYC = { latitude: 40.7128, longitude: -74.006 };
const index = new LocationIndex([
  { id: 'NEAR', codes: { wms: 'N' }, latitude: 40.72, longitude: -74.0, priority: 3, sellable: true, safetyStock: 0, channels: ['web'] },
  { id: 'MID', codes: { wms: 'M' }, latitude: 41.5, longitude: -72.9, priority: 2, sellable: true, safetyStock: 0, channels: ['web'] },
  { id: 'FAR', codes: { wms: 'F' }, latitude: 34.05, longitude: -118.24, priority: 1, sellable: true, safetyStock: 0, channels: ['web'] },
  { id: 'SHOP', codes: { erp: 'S' }, latitude: 40.75, longitude: -73.98, priority: 4, sellable: true, safetyStock: 0, channels: ['retail'] },
  { id: 'TRANSIT', codes: { erp: 'T' }, priority: 9, sellable: false, safetyStock: 0 },
]);
const loc = (id: string) => index.get(id) as Location;

/** Figures: location id → sku → available (optionally with flags). */
type Figures = Record<string, Record<string, number | { available: number; flags: Flag[]; counted?: boolean; stale?: boolean }>>;

function availabilityOf(figures: Figures) {
  return async (skus: readonly string[]): Promise<Availability[]> =>
    skus.map((sku) => {
      if (sku.startsWith('UNKNOWN'))
        return { sku, known: false, available: 0, onHand: 0, committed: 0, reserved: 0, safetyStock: 0, flags: ['UNKNOWN_SKU'], byLocation: [] };
      const byLocation: StockLevel[] = [];
      for (const [id, per] of Object.entries(figures)) {
        const f = per[sku];
        if (f === undefined) continue;
        const v = typeof f === 'number' ? { available: f, flags: [] as Flag[] } : f;
        const l = loc(id);
        byLocation.push({
          location: l,
          onHand: v.available,
          committed: 0,
          reserved: 0,
          safetyStock: 0,
          available: v.available,
          availableBeforeHolds: v.available,
          counted: (v as { counted?: boolean }).counted ?? (l.sellable && !v.flags.includes('NEGATIVE_ON_HAND')),
          onHandOnly: false,
          flags: v.flags,
          provenance: {
            source: 'wms',
            asOf: new Date(),
            heardAt: null,
            stale: (v as { stale?: boolean }).stale ?? v.flags.includes('STALE'),
            fallback: false,
            rule: 'quantity: wms',
          },
        });
      }
      return { sku, known: true, available: 0, onHand: 0, committed: 0, reserved: 0, safetyStock: 0, flags: [], byLocation };
    });
}

const route = (
  figures: Figures,
  req: Partial<RouteOrderRequest> & Pick<RouteOrderRequest, 'lines'>,
  o: { useStaleStock?: boolean; exhaustiveLimit?: number } = {},
) =>
  routeOrder(
    { destination: NYC, ...req },
    {
      locations: index,
      availability: availabilityOf(figures),
      policy: new DefaultRoutingPolicy({ exhaustiveLimit: o.exhaustiveLimit }),
      maxLines: 100,
      useStaleStock: o.useStaleStock ?? false,
    },
  );
const shipped = (plan: Awaited<ReturnType<typeof route>>) => plan.shipments.map((s) => [s.location.id, s.lines.map((l) => `${l.sku}x${l.quantity}`).join(' ')]);

describe('FEWEST_SHIPMENTS', () => {
  it('prefers one location that fills everything over two closer ones', async () => {
    const plan = await route(
      { NEAR: { A: 5 }, MID: { B: 5 }, FAR: { A: 5, B: 5 } },
      {
        lines: [
          { sku: 'A', quantity: 5 },
          { sku: 'B', quantity: 5 },
        ],
      },
    );
    expect(plan.complete).toBe(true);
    expect(shipped(plan)).toEqual([['FAR', 'Ax5 Bx5']]);
    expect(plan.method).toBe('EXHAUSTIVE_SEARCH');
    expect(plan.methodDetail).toMatch(/^exhaustive search: \d+ location set\(s\) of 3 candidate\(s\) tried$/);
  });

  it('breaks ties between equally small sets by distance, then priority', async () => {
    const plan = await route({ NEAR: { A: 5 }, MID: { A: 5 }, FAR: { A: 5 } }, { lines: [{ sku: 'A', quantity: 5 }] });
    expect(shipped(plan)).toEqual([['NEAR', 'Ax5']]);
    const noDestination = await route({ NEAR: { A: 5 }, MID: { A: 5 }, FAR: { A: 5 } }, { lines: [{ sku: 'A', quantity: 5 }], destination: null });
    expect(shipped(noDestination)).toEqual([['FAR', 'Ax5']]);
  });

  it('splits a line across locations when allowed, nearest first', async () => {
    const plan = await route({ NEAR: { A: 3 }, MID: { A: 4 }, FAR: { A: 10 } }, { lines: [{ sku: 'A', quantity: 6 }] });
    expect(shipped(plan)).toEqual([['FAR', 'Ax6']]);
    const two = await route({ NEAR: { A: 3 }, MID: { A: 4 } }, { lines: [{ sku: 'A', quantity: 6 }] });
    expect(shipped(two)).toEqual([
      ['NEAR', 'Ax3'],
      ['MID', 'Ax3'],
    ]);
  });

  it('never splits a line when allowSplit is false', async () => {
    const plan = await route({ NEAR: { A: 3 }, MID: { A: 4 } }, { lines: [{ sku: 'A', quantity: 6 }], allowSplit: false });
    expect(plan.complete).toBe(false);
    expect(plan.shipments).toEqual([]);
    expect(plan.unfulfilled).toEqual([
      { sku: 'A', quantity: 6, reason: 'SPLIT_NOT_ALLOWED', detail: 'no single eligible location holds 6 (split not allowed)' },
    ]);
    const whole = await route({ NEAR: { A: 3 }, MID: { A: 6 } }, { lines: [{ sku: 'A', quantity: 6 }], allowSplit: false });
    expect(shipped(whole)).toEqual([['MID', 'Ax6']]);
  });

  it('respects maxShipments and says what it left out', async () => {
    const plan = await route(
      { NEAR: { A: 2 }, MID: { B: 2 }, FAR: { C: 2 } },
      {
        lines: [
          { sku: 'A', quantity: 2 },
          { sku: 'B', quantity: 2 },
          { sku: 'C', quantity: 2 },
        ],
        maxShipments: 2,
      },
    );
    expect(plan.complete).toBe(false);
    expect(plan.shipments).toHaveLength(2);
    expect(plan.unfulfilled).toEqual([{ sku: 'C', quantity: 2, reason: 'MAX_SHIPMENTS_REACHED', detail: '2 of 2 would need more than 2 shipment(s)' }]);
    expect(plan.trace.find((t) => t.location.id === 'FAR')?.reasons).toEqual(['BEYOND_MAX_SHIPMENTS']);
  });

  it('turns greedy past the exhaustive limit, and says so', async () => {
    const plan = await route(
      { NEAR: { A: 2 }, MID: { B: 2 }, FAR: { A: 2, B: 2 } },
      {
        lines: [
          { sku: 'A', quantity: 2 },
          { sku: 'B', quantity: 2 },
        ],
      },
      { exhaustiveLimit: 2 },
    );
    expect(plan.method).toBe('GREEDY_HEURISTIC');
    expect(plan.methodDetail).toBe('greedy heuristic over 3 candidate(s) (more than 2 sets to try)');
    expect(shipped(plan)).toEqual([['FAR', 'Ax2 Bx2']]);
  });
});

describe('PRIORITY and DISTANCE', () => {
  it('PRIORITY walks by configured priority, taking what each can give', async () => {
    const plan = await route({ NEAR: { A: 10 }, MID: { A: 3 }, FAR: { A: 2 } }, { lines: [{ sku: 'A', quantity: 6 }], strategy: 'PRIORITY' });
    expect(shipped(plan)).toEqual([
      ['FAR', 'Ax2'],
      ['MID', 'Ax3'],
      ['NEAR', 'Ax1'],
    ]);
    expect(plan.trace.slice(0, 3).map((t) => [t.location.id, t.rank])).toEqual([
      ['FAR', 1],
      ['MID', 2],
      ['NEAR', 3],
    ]);
  });

  it('DISTANCE picks the nearest', async () => {
    const plan = await route({ NEAR: { A: 10 }, MID: { A: 10 }, FAR: { A: 10 } }, { lines: [{ sku: 'A', quantity: 6 }], strategy: 'DISTANCE' });
    expect(shipped(plan)).toEqual([['NEAR', 'Ax6']]);
    expect(plan.shipments[0]?.distanceKm).toBe(distanceKm(NYC, { latitude: 40.72, longitude: -74.0 }));
  });

  it('DISTANCE without a destination is BAD_USER_INPUT', async () => {
    await expect(route({}, { lines: [{ sku: 'A', quantity: 1 }], strategy: 'DISTANCE', destination: null })).rejects.toThrow(
      'strategy DISTANCE needs a destination',
    );
  });
});

describe('eligibility and the trace', () => {
  it('never uses stale, negative or unavailable figures, and says why', async () => {
    const plan = await route(
      {
        NEAR: { A: { available: 50, flags: ['STALE'], counted: true, stale: true } },
        MID: { A: { available: 0, flags: ['NEGATIVE_ON_HAND'] } },
        FAR: { A: { available: 40, flags: ['FALLBACK', 'SOURCE_UNAVAILABLE'], counted: true } },
      },
      { lines: [{ sku: 'A', quantity: 1 }] },
    );
    expect(plan.complete).toBe(false);
    expect(plan.unfulfilled[0]).toMatchObject({ sku: 'A', reason: 'INSUFFICIENT_STOCK' });
    const why = Object.fromEntries(plan.trace.map((t) => [t.location.id, t.reasons]));
    expect(why).toEqual({
      NEAR: ['NO_STOCK', 'STALE_EXCLUDED'],
      MID: ['NO_STOCK', 'NEGATIVE_ON_HAND'],
      FAR: ['NO_STOCK', 'SOURCE_UNAVAILABLE'],
      SHOP: ['NO_STOCK'],
      TRANSIT: ['NOT_SELLABLE'],
    });
    const withStale = await route(
      { NEAR: { A: { available: 50, flags: ['STALE'], counted: true, stale: true } } },
      { lines: [{ sku: 'A', quantity: 1 }] },
      { useStaleStock: true },
    );
    expect(shipped(withStale)).toEqual([['NEAR', 'Ax1']]);
  });

  it('honours the channel and excludeLocationIds', async () => {
    const plan = await route(
      { NEAR: { A: 5 }, SHOP: { A: 5 }, MID: { A: 5 } },
      { lines: [{ sku: 'A', quantity: 5 }], channel: 'web', excludeLocationIds: ['NEAR'] },
    );
    expect(shipped(plan)).toEqual([['MID', 'Ax5']]);
    const trace = Object.fromEntries(plan.trace.map((t) => [t.location.id, t]));
    expect(trace.NEAR).toMatchObject({ used: false, reasons: ['EXCLUDED_BY_REQUEST'], rank: null });
    expect(trace.SHOP).toMatchObject({ reasons: ['NOT_IN_CHANNEL'], detail: 'does not serve channel web (serves retail)' });
    expect(trace.MID?.figures).toEqual([{ sku: 'A', requested: 5, available: 5, allocated: 5, flags: [] }]);
  });

  it('explains a location with stock the plan did not need', async () => {
    const plan = await route({ NEAR: { A: 5 }, MID: { A: 5 } }, { lines: [{ sku: 'A', quantity: 5 }] });
    expect(plan.trace.find((t) => t.location.id === 'MID')).toMatchObject({ used: false, rank: 2, reasons: ['NOT_NEEDED'] });
  });

  it('sends unknown SKUs to unfulfilled and merges duplicate lines', async () => {
    const plan = await route(
      { NEAR: { A: 10 } },
      {
        lines: [
          { sku: 'A', quantity: 2 },
          { sku: 'UNKNOWN-1', quantity: 1 },
          { sku: 'A', quantity: 3 },
        ],
      },
    );
    expect(shipped(plan)).toEqual([['NEAR', 'Ax5']]);
    expect(plan.unfulfilled).toEqual([{ sku: 'UNKNOWN-1', quantity: 1, reason: 'UNKNOWN_SKU', detail: 'UNKNOWN-1 is not in the SKU map' }]);
  });

  it('never gives a location more than it can promise', async () => {
    const figures: Figures = { NEAR: { A: 3, B: 1 }, MID: { A: 2, B: 4 }, FAR: { A: 1, B: 9 } };
    for (const strategy of ['PRIORITY', 'DISTANCE', 'FEWEST_SHIPMENTS'] as const) {
      const plan = await route(figures, {
        lines: [
          { sku: 'A', quantity: 9 },
          { sku: 'B', quantity: 9 },
        ],
        strategy,
      });
      for (const s of plan.shipments) for (const l of s.lines) expect(l.quantity).toBeLessThanOrEqual(figures[s.location.id]?.[l.sku] as number);
      const shippedA = plan.shipments
        .flatMap((s) => s.lines)
        .filter((l) => l.sku === 'A')
        .reduce((n, l) => n + l.quantity, 0);
      expect(shippedA).toBe(6);
      expect(plan.unfulfilled).toContainEqual(expect.objectContaining({ sku: 'A', quantity: 3, reason: 'INSUFFICIENT_STOCK' }));
    }
  });

  it('is deterministic', async () => {
    const figures: Figures = { NEAR: { A: 3, B: 1 }, MID: { A: 2, B: 4 }, FAR: { A: 1, B: 9 } };
    const req = {
      lines: [
        { sku: 'B', quantity: 5 },
        { sku: 'A', quantity: 4 },
      ],
    };
    expect(JSON.stringify(await route(figures, req))).toBe(JSON.stringify(await route(figures, req)));
  });
});

describe('bad orders', () => {
  it.each([
    [{ lines: [] }, 'an order needs at least one line'],
    [{ lines: [{ sku: 'A', quantity: 0 }] }, 'lines[0] (A): quantity must be at least 1, got 0'],
    [{ lines: [{ sku: 'A', quantity: -2 }] }, 'quantity must be at least 1, got -2'],
    [{ lines: Array.from({ length: 101 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) }, 'too many lines: 101, at most 100 per order'],
    [{ lines: [{ sku: 'A', quantity: 1 }], maxShipments: 0 }, 'maxShipments must be at least 1, got 0'],
    [{ lines: [{ sku: 'A', quantity: 1 }], excludeLocationIds: ['MOON'] }, 'unknown location id(s) in excludeLocationIds: "MOON"'],
    [{ lines: [{ sku: 'A', quantity: 1 }], destination: { latitude: 91, longitude: 0 } }, 'destination out of range'],
    [{ lines: [{ sku: 'A', quantity: 1 }], channel: 'wbe' }, 'unknown channel "wbe" (known: '],
  ])('%# rejects with BAD_USER_INPUT naming the problem', async (req, message) => {
    const err = await route({}, req as RouteOrderRequest).catch((e: unknown) => e as { message: string; extensions: { code: string } });
    expect(err).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect((err as { message: string }).message).toContain(message);
  });
});

describe('distanceKm', () => {
  it('is the great-circle distance', () => {
    expect(distanceKm({ latitude: 40.7128, longitude: -74.006 }, { latitude: 34.0522, longitude: -118.2437 })).toBeCloseTo(3935.7, 0);
    expect(distanceKm(NYC, NYC)).toBe(0);
  });

  it('is used for candidates', () => {
    const c: Candidate = { location: loc('NEAR'), distanceKm: 1, stock: new Map([['A', 1]]) };
    expect(
      new DefaultRoutingPolicy().route({ lines: [{ sku: 'A', quantity: 1 }], candidates: [c], strategy: 'DISTANCE', allowSplit: true, maxShipments: null })
        .shipments,
    ).toHaveLength(1);
  });
});
