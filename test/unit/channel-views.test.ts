/**
 * The side-by-side rules: a channel's view against our ATP for its channel
 * (src/domain/channel-views.ts), unit costs compared across sources and inventory value
 * (src/domain/costs.ts), orphans with their stock (src/domain/reconciliation.ts).
 */
import { describe, expect, it } from 'vitest';
import type { StockLevel } from '../../src/domain/availability.js';
import { channelAvailable, compareView, overstatesAnomaly, promised } from '../../src/domain/channel-views.js';
import { compareCosts, costMismatchAnomaly, stockValue, totalValue, type SourceCost } from '../../src/domain/costs.js';
import type { Location } from '../../src/domain/locations.js';
import { orphansWithStock } from '../../src/domain/reconciliation.js';

const at = new Date('2026-11-30T10:00:00Z');
const loc = (id: string, channels: string[] | null): Location => ({
  id,
  name: id,
  codes: {},
  latitude: null,
  longitude: null,
  priority: 1,
  channels,
  sellable: true,
  safetyStock: 0,
});
const level = (location: Location, available: number, counted = true): StockLevel => ({
  location,
  onHand: available,
  committed: 0,
  onHandOnly: false,
  reserved: 0,
  safetyStock: 0,
  available,
  availableBeforeHolds: available,
  counted,
  flags: [],
  provenance: { source: 'wms', asOf: at, heardAt: null, stale: false, fallback: false, rule: 'quantity: wms' },
});

describe('channel views', () => {
  const east = loc('DC-EAST', ['web', 'retail']);
  const store = loc('STORE-1', ['retail']);
  const everywhere = loc('3PL-WEST', null);
  const levels = [level(east, 5), level(store, 40), level(everywhere, 3), level(loc('Q', ['web']), 100, false)];

  it('promise the sum of onHand - committed over the records, not clamped, dated by the oldest', () => {
    const older = new Date('2026-11-29T00:00:00Z');
    expect(
      promised([
        { onHand: 10, committed: 2, asOf: at },
        { onHand: 3, committed: 5, asOf: older },
      ]),
    ).toEqual({ promised: 6, asOf: older });
    expect(promised([])).toEqual({ promised: 0, asOf: null });
  });

  it('are compared with the available of the counted locations serving the channel only', () => {
    expect(channelAvailable(levels, 'web')).toBe(8); // DC-EAST 5 + 3PL-WEST (every channel) 3; Q is not counted
    expect(channelAvailable(levels, 'retail')).toBe(48);
  });

  it('overstate by what they promise beyond it, never below 0', () => {
    const v = compareView({ source: 'shop', channel: 'web', stale: false }, [{ onHand: 12, committed: 1, asOf: at }], levels);
    expect(v).toEqual({ source: 'shop', channel: 'web', stale: false, promised: 11, available: 8, overstatement: 3, asOf: at });
    const under = compareView({ source: 'shop', channel: 'web', stale: false }, [{ onHand: 8, committed: 0, asOf: at }], levels);
    expect(under.overstatement).toBe(0);
    expect(overstatesAnomaly('SKU-1', v)).toEqual({
      kind: 'CHANNEL_OVERSTATES',
      sku: 'SKU-1',
      location: null,
      source: 'shop',
      detail: 'shop (channel web) promises 11 of SKU-1; 8 available for web: overstates by 3',
    });
  });
});

describe('cost comparison', () => {
  const c = (source: string, amount: string, currency = 'USD'): SourceCost => ({ source, amount, currency });

  it('compares every cost with the reference source’s, within the tolerance', () => {
    const costs = [c('erp', '10.000000000'), c('wms', '10.10'), c('shop', '10.11')];
    const r = compareCosts(costs, 'erp', '1');
    expect(r.reference).toEqual(costs[0]);
    expect(r.mismatch).toBe(true);
    expect(r.mismatches).toEqual([{ cost: costs[2], percentApart: '1.1' }]);
    expect(compareCosts(costs, 'erp', '1.1').mismatch).toBe(false);
  });

  it('takes the first cost as reference when the reference source has none', () => {
    const r = compareCosts([c('wms', '5'), c('shop', '5.00')], 'erp', '0');
    expect(r.reference?.source).toBe('wms');
    expect(r.mismatch).toBe(false);
    expect(compareCosts([], 'erp', '0')).toEqual({ reference: null, mismatch: false, mismatches: [], notCompared: [], tolerancePercent: '0' });
  });

  it('lists costs in another currency without comparing them', () => {
    const r = compareCosts([c('erp', '10', 'EUR'), c('wms', '99', 'USD')], 'erp', '0');
    expect(r).toMatchObject({ mismatch: false, mismatches: [], notCompared: [c('wms', '99', 'USD')] });
  });

  it('names both amounts, the distance and the tolerance in the anomaly', () => {
    const ref = c('erp', '0');
    const a = costMismatchAnomaly('SKU-1', ref, { cost: c('wms', '0.01'), percentApart: null }, '5');
    expect(a).toMatchObject({ kind: 'COST_MISMATCH', sku: 'SKU-1', source: 'wms' });
    expect(a.detail).toBe('wms costs SKU-1 at 0.01 USD, erp (reference) at 0 USD: the reference is 0, tolerance 5%');
  });
});

describe('inventory value', () => {
  const cost: SourceCost = { source: 'erp', amount: '12.345678901', currency: 'EUR' };

  it('is max(0, onHand) x unit cost, exact, at the cost’s scale', () => {
    expect(stockValue(3, cost)).toEqual({ source: 'erp', amount: '37.037036703', currency: 'EUR' });
    expect(stockValue(-4, cost).amount).toBe('0.000000000');
    expect(stockValue(1_000_000_000, cost).amount).toBe('12345678901.000000000');
  });

  it('adds up over locations', () => {
    expect(totalValue([stockValue(3, cost), stockValue(7, cost)])).toEqual({ source: 'erp', amount: '123.456789010', currency: 'EUR' });
    expect(totalValue([])).toBeNull();
  });
});

describe('orphans with their stock', () => {
  it('sums by the source’s location code, maps the codes it can, totals per code', () => {
    const east = loc('DC-EAST', null);
    const out = orphansWithStock(
      'wms',
      ['X1', 'X2'],
      [
        { code: 'X1', location: 'EAST', onHand: 4 },
        { code: 'X1', location: 'ODD', onHand: 2 },
        { code: 'X1', location: 'EAST', onHand: 1 },
      ],
      (l) => (l === 'EAST' ? east : undefined),
    );
    expect(out).toEqual([
      {
        source: 'wms',
        code: 'X1',
        onHand: 7,
        locations: [
          { code: 'EAST', location: east, onHand: 5 },
          { code: 'ODD', location: null, onHand: 2 },
        ],
      },
      { source: 'wms', code: 'X2', onHand: 0, locations: [] },
    ]);
  });
});
