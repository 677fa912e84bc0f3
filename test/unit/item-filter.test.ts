import { describe, expect, it } from 'vitest';
import { stockLevel, summarize, type Quantity, type SourcePolicy } from '../../src/domain/availability.js';
import { checkItemFilter, matchesItemFilter } from '../../src/domain/item-filter.js';
import { LocationIndex, type Location } from '../../src/domain/locations.js';
import { DefaultPrecedenceStrategy } from '../../src/domain/precedence.js';

const now = new Date('2026-11-27T12:00:00Z');
const index = new LocationIndex([
  { id: 'DC-EAST', codes: { wms: 'EAST', erp: 'East' }, priority: 1, sellable: true, safetyStock: 0 },
  { id: 'TRANSIT', codes: { erp: 'Transit' }, priority: 9, sellable: false, safetyStock: 0 },
]);
const strategy = new DefaultPrecedenceStrategy({ quantity: ['wms', 'erp'], cost: [], name: [] });
const policyOf = (): SourcePolicy => ({ maxAgeSeconds: 3600, stalePolicy: 'count' });
const q = (onHand: number, asOf = new Date('2026-11-27T11:59:00Z')): Quantity => ({ onHand, committed: 0, asOf });
const at = (id: string, source: string, v: Quantity) =>
  stockLevel(index.get(id) as Location, strategy.decide('quantity', [{ source, status: 'found', value: v }]), policyOf, now)!;
const SOURCES = ['wms', 'erp', 'tpl'];
const check = (f: Parameters<typeof checkItemFilter>[0]) => checkItemFilter(f, SOURCES, index);

describe('the inventoryItems filter', () => {
  // 7 available at DC-EAST from the WMS; 40 in transit from the ERP, not sellable (not counted), and stale
  const a = summarize('S', [at('DC-EAST', 'wms', q(7)), at('TRANSIT', 'erp', q(40, new Date('2026-11-26T00:00:00Z')))]);

  it('keeps a SKU when every condition holds; absent or empty lists do not narrow', () => {
    expect(matchesItemFilter(a, check({}))).toBe(true);
    expect(matchesItemFilter(a, check({ flags: [], sources: [], locations: [] }))).toBe(true);
    expect(matchesItemFilter(a, check({ flags: ['STALE'], sources: ['wms'], availableBelow: 8 }))).toBe(true);
    expect(matchesItemFilter(a, check({ flags: ['STALE'], sources: ['wms'], availableBelow: 7 }))).toBe(false);
  });

  it('flags: any, at a location or on the SKU; NOT_SELLABLE is a location flag only', () => {
    expect(matchesItemFilter(a, check({ flags: ['NEGATIVE_ON_HAND', 'STALE'] }))).toBe(true);
    expect(matchesItemFilter(a, check({ flags: ['NEGATIVE_ON_HAND'] }))).toBe(false);
    expect(a.flags).not.toContain('NOT_SELLABLE');
    expect(matchesItemFilter(a, check({ flags: ['NOT_SELLABLE'] }))).toBe(true);
    expect(matchesItemFilter({ ...a, flags: ['CHANNEL_OVERSTATES'] }, check({ flags: ['CHANNEL_OVERSTATES'] }))).toBe(true);
  });

  it('sources: some figure comes from one of them; availableBelow: the counted total, strictly below', () => {
    expect(matchesItemFilter(a, check({ sources: ['erp'] }))).toBe(true);
    expect(matchesItemFilter(a, check({ sources: ['tpl'] }))).toBe(false);
    // the 40 in transit are not counted: available is 7
    expect(matchesItemFilter(a, check({ availableBelow: 8 }))).toBe(true);
    expect(matchesItemFilter(a, check({ availableBelow: 0 }))).toBe(false);
  });

  it('names unknown locations and sources, with the known ones', () => {
    expect(() => check({ locations: ['DC-EAST', 'MOON', 'MARS'] })).toThrow(
      'Unknown location ids in filter.locations: "MOON", "MARS". Known: DC-EAST, TRANSIT.',
    );
    expect(() => check({ sources: ['sap'] })).toThrow('Unknown source in filter.sources: "sap". Known: wms, erp, tpl.');
    expect(check({ locations: ['DC-EAST', 'DC-EAST'] }).locations).toEqual(['DC-EAST']);
  });
});
