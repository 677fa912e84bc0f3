import { describe, expect, it } from 'vitest';
import { stockLevel, summarize, unknownSku, type Quantity, type SourcePolicy } from '../../src/domain/availability.js';
import { notPromisable } from '../../src/domain/route-order.js';
import { LocationIndex, type Location } from '../../src/domain/locations.js';
import { DefaultPrecedenceStrategy, type Candidate } from '../../src/domain/precedence.js';

const now = new Date('2026-11-27T12:00:00Z');
const fresh = new Date('2026-11-27T11:59:00Z');
const index = new LocationIndex([
  { id: 'DC-EAST', codes: { wms: 'EAST', erp: 'East' }, priority: 1, sellable: true, safetyStock: 0, channels: ['web', 'retail'] },
  { id: 'STORE', codes: { erp: 'Store' }, priority: 2, sellable: true, safetyStock: 2, channels: ['retail'] },
  { id: 'TRANSIT', codes: { erp: 'Transit' }, priority: 9, sellable: false, safetyStock: 0 },
]);
const loc = (id: string) => index.get(id) as Location;
const strategy = new DefaultPrecedenceStrategy({ quantity: ['wms', 'tpl', 'erp'], cost: [], name: [] });
const policies: Record<string, SourcePolicy> = {
  wms: { maxAgeSeconds: 3600, stalePolicy: 'count' },
  tpl: { maxAgeSeconds: 93600, stalePolicy: 'exclude' },
  erp: { maxAgeSeconds: undefined, stalePolicy: 'count' },
};
const policyOf = (s: string) => policies[s] as SourcePolicy;
const q = (onHand: number, committed = 0, asOf = fresh): Quantity => ({ onHand, committed, asOf });
const level = (id: string, candidates: Candidate<Quantity>[]) => stockLevel(loc(id), strategy.decide('quantity', candidates), policyOf, now);

describe('availability rules', () => {
  it('available = onHand - committed - safetyStock', () => {
    const l = level('STORE', [{ source: 'erp', status: 'found', value: q(10, 3) }]);
    expect(l).toMatchObject({ onHand: 10, committed: 3, safetyStock: 2, available: 5, counted: true, flags: [] });
    expect(l?.provenance).toEqual({ source: 'erp', asOf: fresh, heardAt: null, stale: false, fallback: false, rule: 'quantity: erp' });
  });

  it('holds are subtracted: available = max(0, onHand - committed - reserved - safetyStock), never below zero', () => {
    const d = strategy.decide('quantity', [{ source: 'erp', status: 'found', value: q(10, 3) }]);
    expect(stockLevel(loc('STORE'), d, policyOf, now, 4)).toMatchObject({ reserved: 4, available: 1, availableBeforeHolds: 5, counted: true });
    expect(stockLevel(loc('STORE'), d, policyOf, now, 9)).toMatchObject({ reserved: 9, available: 0, availableBeforeHolds: 5 });
    const totals = summarize('S', [stockLevel(loc('STORE'), d, policyOf, now, 4)!, stockLevel(loc('DC-EAST'), d, policyOf, now, 2)!]);
    expect(totals).toMatchObject({ reserved: 6, available: 1 + 5 });
  });

  it('a hold on a negative or excluded figure changes nothing: the location already contributes 0', () => {
    const neg = stockLevel(loc('DC-EAST'), strategy.decide('quantity', [{ source: 'wms', status: 'found', value: q(-4) }]), policyOf, now, 3);
    expect(neg).toMatchObject({ reserved: 3, available: 0, availableBeforeHolds: 0, counted: false });
  });

  it('never goes below zero', () => {
    expect(level('STORE', [{ source: 'erp', status: 'found', value: q(3, 5) }])?.available).toBe(0);
  });

  it('a negative on-hand contributes 0 and is flagged', () => {
    const l = level('DC-EAST', [{ source: 'wms', status: 'found', value: q(-4) }]);
    expect(l).toMatchObject({ onHand: -4, available: 0, counted: false, flags: ['NEGATIVE_ON_HAND'] });
  });

  it('flags a figure older than maxAgeSeconds as STALE; under `count` it still counts', () => {
    const l = level('DC-EAST', [{ source: 'wms', status: 'found', value: q(10, 0, new Date('2026-11-27T10:00:00Z')) }]);
    expect(l).toMatchObject({ available: 10, counted: true, flags: ['STALE'] });
    expect(l?.provenance.stale).toBe(true);
  });

  it('under `exclude` a stale figure contributes 0', () => {
    const idx = new LocationIndex([{ id: 'W', codes: { tpl: 'W01' }, priority: 1, sellable: true, safetyStock: 0 }]);
    const d = strategy.decide('quantity', [{ source: 'tpl', status: 'found', value: q(50, 0, new Date('2026-11-25T00:00:00Z')) }]);
    expect(stockLevel(idx.get('W') as Location, d, policyOf, now)).toMatchObject({ onHand: 50, available: 0, counted: false, flags: ['STALE'] });
  });

  it('under `onHandOnly` a stale figure counts on hand but promises nothing; fresh, it promises as under `count`', () => {
    const only: SourcePolicy = { maxAgeSeconds: 3600, stalePolicy: 'onHandOnly' };
    const d = (asOf: Date) => strategy.decide('quantity', [{ source: 'wms', status: 'found', value: q(50, 5, asOf) }]);
    const stale = stockLevel(loc('DC-EAST'), d(new Date('2026-11-27T10:00:00Z')), () => only, now, 3);
    expect(stale).toMatchObject({
      onHand: 50,
      committed: 5,
      reserved: 3,
      available: 0,
      availableBeforeHolds: 0,
      counted: true,
      onHandOnly: true,
      flags: ['STALE'],
    });
    const fresh_ = stockLevel(loc('DC-EAST'), d(fresh), () => only, now, 3);
    expect(fresh_).toMatchObject({ available: 42, availableBeforeHolds: 45, counted: true, onHandOnly: false, flags: [] });
    // the totals keep the on-hand, not the promise
    const store = stockLevel(loc('STORE'), strategy.decide('quantity', [{ source: 'erp', status: 'found', value: q(10, 1) }]), policyOf, now)!;
    expect(summarize('A', [stale!, store])).toMatchObject({ onHand: 60, committed: 6, available: 7, reserved: 3, flags: ['STALE'] });
    // routing and reservations cannot take it, even where stale stock may be promised
    expect(notPromisable(stale, true)).toMatch(/STALE and that source's stalePolicy is onHandOnly/);
    expect(notPromisable(stale, false)).toMatch(/onHandOnly/);
    expect(notPromisable(fresh_, false)).toBeUndefined();
    // a negative figure stays what it was: not counted at all
    const neg = stockLevel(
      loc('DC-EAST'),
      strategy.decide('quantity', [{ source: 'wms', status: 'found', value: q(-2, 0, new Date('2026-11-27T10:00:00Z')) }]),
      () => only,
      now,
    );
    expect(neg).toMatchObject({ counted: false, onHandOnly: false, flags: ['STALE', 'NEGATIVE_ON_HAND'] });
  });

  it('a figure from a lower-precedence source is flagged FALLBACK', () => {
    const l = level('DC-EAST', [
      { source: 'wms', status: 'missing' },
      { source: 'erp', status: 'found', value: q(8) },
    ]);
    expect(l).toMatchObject({ available: 8, flags: ['FALLBACK'] });
    expect(l?.provenance).toMatchObject({ source: 'erp', fallback: true, rule: 'quantity: wms > erp (wms: no record)' });
  });

  it('a failed source is flagged SOURCE_UNAVAILABLE, with or without a fallback', () => {
    expect(
      level('DC-EAST', [
        { source: 'wms', status: 'failed' },
        { source: 'erp', status: 'found', value: q(8) },
      ])?.flags,
    ).toEqual(['FALLBACK', 'SOURCE_UNAVAILABLE']);
    const none = level('DC-EAST', [
      { source: 'wms', status: 'failed' },
      { source: 'erp', status: 'missing' },
    ]);
    expect(none).toMatchObject({ onHand: 0, available: 0, counted: false, flags: ['SOURCE_UNAVAILABLE'] });
    expect(none?.provenance.source).toBeNull();
  });

  it('leaves a location out when every source simply lacks the record', () => {
    expect(
      level('DC-EAST', [
        { source: 'wms', status: 'missing' },
        { source: 'erp', status: 'missing' },
      ]),
    ).toBeUndefined();
  });

  it('shows a non-sellable location but never counts it', () => {
    const l = level('TRANSIT', [{ source: 'erp', status: 'found', value: q(30) }]);
    expect(l).toMatchObject({ available: 30, counted: false, flags: ['NOT_SELLABLE'] });
    expect(summarize('A', [l!])).toMatchObject({ available: 0, onHand: 0, flags: [] });
  });

  it('totals only counted locations; flags are the union', () => {
    const levels = [
      level('DC-EAST', [{ source: 'wms', status: 'found', value: q(-2) }])!,
      level('STORE', [{ source: 'erp', status: 'found', value: q(10, 1) }])!,
      level('TRANSIT', [{ source: 'erp', status: 'found', value: q(5) }])!,
    ];
    expect(summarize('A', levels)).toMatchObject({
      sku: 'A',
      known: true,
      available: 7,
      onHand: 10,
      committed: 1,
      safetyStock: 2,
      flags: ['NEGATIVE_ON_HAND'],
    });
  });

  it('answers an unknown SKU with UNKNOWN_SKU and zeros', () => {
    expect(unknownSku('X')).toEqual({
      sku: 'X',
      known: false,
      available: 0,
      onHand: 0,
      committed: 0,
      reserved: 0,
      safetyStock: 0,
      flags: ['UNKNOWN_SKU'],
      byLocation: [],
    });
  });
});

describe('LocationIndex', () => {
  it('maps source codes to canonical locations', () => {
    expect(index.fromSourceCode('wms', 'EAST')?.id).toBe('DC-EAST');
    expect(index.fromSourceCode('erp', 'EAST')).toBeUndefined();
  });

  it('selects by ids and channel', () => {
    expect(index.select(null, null).map((l) => l.id)).toEqual(['DC-EAST', 'STORE', 'TRANSIT']);
    expect(index.select(['STORE', 'DC-EAST'], null).map((l) => l.id)).toEqual(['DC-EAST', 'STORE']);
    expect(index.select(null, 'web').map((l) => l.id)).toEqual(['DC-EAST', 'TRANSIT']);
  });

  it('refuses a channel no location (nor the other configured lists) names, with BAD_USER_INPUT naming the known ones', () => {
    expect(index.knownChannels).toEqual(['web', 'retail']);
    const thrown = (() => {
      try {
        index.select(null, 'wbe');
      } catch (e) {
        return e as Error & { extensions: Record<string, unknown> };
      }
      return undefined;
    })();
    expect(thrown?.message).toBe('Unknown channel "wbe" (known: web, retail).');
    expect(thrown?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'channel', invalid: 'wbe', known: ['web', 'retail'] });
    // a channel configured elsewhere (events, ...) is known too; it is served by the locations without `channels`
    const more = new LocationIndex(
      [
        { id: 'A', codes: {}, priority: 1, sellable: true, safetyStock: 0, channels: ['web'] },
        { id: 'B', codes: {}, priority: 2, sellable: true, safetyStock: 0 },
      ],
      ['marketplace', 'web'],
    );
    expect(more.knownChannels).toEqual(['web', 'marketplace']);
    expect(more.select(null, 'marketplace').map((l) => l.id)).toEqual(['B']);
    expect(() => more.select(null, 'b2b')).toThrowError('Unknown channel "b2b" (known: web, marketplace).');
  });

  it('accepts any channel when no location declares channels (every location serves every channel)', () => {
    const open = new LocationIndex([{ id: 'A', codes: {}, priority: 1, sellable: true, safetyStock: 0 }], ['web']);
    expect(open.knownChannels).toBeNull();
    expect(open.select(null, 'anything').map((l) => l.id)).toEqual(['A']);
    expect(open.channelProblem('anything')).toBeUndefined();
  });

  it('rejects unknown ids with BAD_USER_INPUT naming each', () => {
    expect(() => index.select(['STORE', 'MOON', 'MARS'], null)).toThrowError(/Unknown location ids: "MOON", "MARS"/);
    const thrown = (() => {
      try {
        index.select(['MOON'], null);
      } catch (e) {
        return e as { extensions: Record<string, unknown> };
      }
      return undefined;
    })();
    expect(thrown?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', invalid: ['MOON'] });
  });
});
