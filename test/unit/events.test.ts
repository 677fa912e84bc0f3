/**
 * The pure rules of events out (src/domain/events.ts, docs/events.md): a figure's band and the
 * crossing between two bands (the table of the design, the first figure included, exactly at the
 * threshold is LOW, a threshold of 0 has no LOW band), which threshold applies (SKU, then
 * channel, then default), a sink's filter, the broker routing key, the retry backoff's bounds,
 * and when two figures are the same.
 */
import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  bandOf,
  eventBody,
  serializeEvent,
  crossingOf,
  lowStockFor,
  matches,
  routingKey,
  sameFigure,
  type Band,
  type Crossing,
  type EventFilter,
  type Figure,
  type NewEvent,
  type StoredEvent,
} from '../../src/domain/events.js';

describe('bands', () => {
  it.each([
    [0, 5, 'OUT'],
    [-3, 5, 'OUT'],
    [1, 5, 'LOW'],
    [4, 5, 'LOW'],
    [5, 5, 'LOW'], // exactly at the threshold
    [6, 5, 'IN'],
    [0, 0, 'OUT'],
    [1, 0, 'IN'], // lowStock 0: no LOW band
    [1, 1, 'LOW'],
    [2, 1, 'IN'],
  ] as const)('available %i with lowStock %i is %s', (available, lowStock, band) => {
    expect(bandOf(available, lowStock)).toBe(band);
  });

  it('with lowStock 0 no figure is ever LOW', () => {
    for (let a = -2; a <= 100; a++) expect(bandOf(a, 0)).not.toBe('LOW');
  });
});

describe('crossings', () => {
  const table: Array<[Band | null, Band, Crossing | null]> = [
    [null, 'OUT', 'OUT_OF_STOCK'], // the first figure: OUT and LOW are announced
    [null, 'LOW', 'LOW_STOCK'],
    [null, 'IN', null], // IN is not
    ['IN', 'OUT', 'OUT_OF_STOCK'],
    ['LOW', 'OUT', 'OUT_OF_STOCK'],
    ['OUT', 'LOW', 'BACK_IN_STOCK'],
    ['OUT', 'IN', 'BACK_IN_STOCK'],
    ['IN', 'LOW', 'LOW_STOCK'],
    ['LOW', 'IN', null],
    ['OUT', 'OUT', null],
    ['LOW', 'LOW', null],
    ['IN', 'IN', null],
  ];
  it.each(table)('%s -> %s crosses %s', (from, to, crossing) => {
    expect(crossingOf(from, to)).toBe(crossing);
  });

  it('a figure walking 10, 6, 5, 4, 0, 1, 0, 1, 0 (lowStock 5) crosses once per change of band', () => {
    const walk = [10, 6, 5, 4, 0, 1, 0, 1, 0];
    let previous: Band | null = null;
    const crossings: Array<Crossing | null> = [];
    for (const a of walk) {
      const band = bandOf(a, 5);
      crossings.push(crossingOf(previous, band));
      previous = band;
    }
    expect(crossings).toEqual([null, null, 'LOW_STOCK', null, 'OUT_OF_STOCK', 'BACK_IN_STOCK', 'OUT_OF_STOCK', 'BACK_IN_STOCK', 'OUT_OF_STOCK']);
  });
});

describe('lowStockFor', () => {
  const t = { default: 5, channels: { web: 10, retail: 0 }, skus: { 'SKU-HERO': 50, 'SKU-ZERO': 0 } };
  it('takes the SKU’s own threshold first, then its channel’s, then the default', () => {
    expect(lowStockFor(t, 'SKU-HERO', 'web')).toBe(50);
    expect(lowStockFor(t, 'SKU-HERO', null)).toBe(50);
    expect(lowStockFor(t, 'SKU-1', 'web')).toBe(10);
    expect(lowStockFor(t, 'SKU-1', 'marketplace')).toBe(5);
    expect(lowStockFor(t, 'SKU-1', null)).toBe(5);
  });
  it('a threshold of 0 is a threshold (no LOW band), not a missing one', () => {
    expect(lowStockFor(t, 'SKU-ZERO', 'web')).toBe(0);
    expect(lowStockFor(t, 'SKU-1', 'retail')).toBe(0);
  });
});

describe('matches', () => {
  type E = Pick<NewEvent, 'type' | 'sku' | 'channel' | 'data'>;
  const avail = (crossing: Crossing | null, channel: string | null = 'web', sku: string | null = 'SKU-1'): E => ({
    type: 'availability.changed',
    sku,
    channel,
    data: { crossing },
  });
  const anomaly: E = { type: 'anomaly.opened', sku: null, channel: null, data: {} };
  const reservation: E = { type: 'reservation.created', sku: null, channel: 'web', data: {} };
  const source: E = { type: 'source.down', sku: null, channel: null, data: { source: 'wms' } };

  it('an empty filter takes everything', () => {
    for (const e of [avail('OUT_OF_STOCK'), anomaly, reservation, source]) expect(matches({}, e)).toBe(true);
  });

  it('types: exact types and families', () => {
    const f: EventFilter = { types: ['availability.changed', 'anomaly.*'] };
    expect(matches(f, avail(null))).toBe(true);
    expect(matches(f, anomaly)).toBe(true);
    expect(matches(f, { ...anomaly, type: 'anomaly.reopened' })).toBe(true);
    expect(matches(f, reservation)).toBe(false);
    expect(matches(f, source)).toBe(false);
    // a family is a prefix up to the dot, not any prefix
    expect(matches({ types: ['source.*'] }, source)).toBe(true);
    expect(matches({ types: ['reservation.*'] }, { ...reservation, type: 'reservation.handed_over' })).toBe(true);
    expect(matches({ types: ['anomaly.opened'] }, { ...anomaly, type: 'anomaly.reopened' })).toBe(false);
  });

  it('channels: only the listed ones, but events without a channel pass', () => {
    const f: EventFilter = { channels: ['web'] };
    expect(matches(f, avail('OUT_OF_STOCK', 'web'))).toBe(true);
    expect(matches(f, avail('OUT_OF_STOCK', 'retail'))).toBe(false);
    expect(matches(f, avail('OUT_OF_STOCK', null))).toBe(true);
    expect(matches(f, anomaly)).toBe(true);
    expect(matches(f, source)).toBe(true);
    expect(matches(f, { ...reservation, channel: 'retail' })).toBe(false);
  });

  it('skuPrefixes: SKUs starting with one, but events without a SKU pass', () => {
    const f: EventFilter = { skuPrefixes: ['SKU-00', 'HERO-'] };
    expect(matches(f, avail(null, 'web', 'SKU-000001'))).toBe(true);
    expect(matches(f, avail(null, 'web', 'HERO-1'))).toBe(true);
    expect(matches(f, avail(null, 'web', 'OTHER-1'))).toBe(false);
    expect(matches(f, avail(null, 'web', 'XSKU-00'))).toBe(false);
    expect(matches(f, avail(null, 'web', null))).toBe(true);
    expect(matches(f, anomaly)).toBe(true);
  });

  it('crossings: apply to availability.changed only; NONE is a change that crossed nothing', () => {
    const f: EventFilter = { crossings: ['OUT_OF_STOCK', 'BACK_IN_STOCK'] };
    expect(matches(f, avail('OUT_OF_STOCK'))).toBe(true);
    expect(matches(f, avail('BACK_IN_STOCK'))).toBe(true);
    expect(matches(f, avail('LOW_STOCK'))).toBe(false);
    expect(matches(f, avail(null))).toBe(false);
    expect(matches({ crossings: ['NONE'] }, avail(null))).toBe(true);
    expect(matches({ crossings: ['NONE'] }, { ...avail(null), data: {} })).toBe(true);
    expect(matches({ crossings: ['NONE'] }, avail('LOW_STOCK'))).toBe(false);
    // other types are not about crossings
    expect(matches(f, anomaly)).toBe(true);
    expect(matches(f, reservation)).toBe(true);
  });

  it('every part of a filter must take the event', () => {
    const f: EventFilter = { types: ['availability.changed'], channels: ['web'], skuPrefixes: ['SKU-'], crossings: ['OUT_OF_STOCK'] };
    expect(matches(f, avail('OUT_OF_STOCK', 'web', 'SKU-1'))).toBe(true);
    expect(matches(f, avail('OUT_OF_STOCK', 'retail', 'SKU-1'))).toBe(false);
    expect(matches(f, avail('OUT_OF_STOCK', 'web', 'X-1'))).toBe(false);
    expect(matches(f, avail('LOW_STOCK', 'web', 'SKU-1'))).toBe(false);
    expect(matches(f, anomaly)).toBe(false);
  });
});

describe('routingKey', () => {
  it('is <type>.<channel>, with _ for no channel', () => {
    expect(routingKey({ type: 'availability.changed', channel: 'web' })).toBe('availability.changed.web');
    expect(routingKey({ type: 'anomaly.opened', channel: null })).toBe('anomaly.opened._');
    expect(routingKey({ type: 'source.down', channel: null })).toBe('source.down._');
  });
  it('keeps a channel one word: dots, wildcards and spaces become _', () => {
    expect(routingKey({ type: 'availability.changed', channel: 'eu.web' })).toBe('availability.changed.eu_web');
    expect(routingKey({ type: 'availability.changed', channel: 'a*b#c>d e' })).toBe('availability.changed.a_b_c_d_e');
    expect(routingKey({ type: 'reservation.created', channel: 'market place' })).toBe('reservation.created.market_place');
    expect(routingKey({ type: 'availability.changed', channel: 'eu.web' }).split('.')).toHaveLength(3);
  });
});

describe('backoffMs', () => {
  const at = (r: number) => () => r;
  it('attempt 1 waits the base delay (between half of it and all of it)', () => {
    expect(backoffMs(1, 1000, 300_000, at(0))).toBe(500);
    expect(backoffMs(1, 1000, 300_000, at(1))).toBe(1000);
    expect(backoffMs(1, 1000, 300_000, at(0.5))).toBe(750);
  });
  it('doubles per attempt, within [d/2, d]', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const d = 1000 * 2 ** (attempt - 1);
      expect(backoffMs(attempt, 1000, 1_000_000, at(0))).toBe(d / 2);
      expect(backoffMs(attempt, 1000, 1_000_000, at(1))).toBe(d);
      for (let i = 0; i < 50; i++) {
        const v = backoffMs(attempt, 1000, 1_000_000);
        expect(v).toBeGreaterThanOrEqual(d / 2);
        expect(v).toBeLessThanOrEqual(d);
      }
    }
  });
  it('is capped at the maximum, however many attempts', () => {
    // 1000 × 2^8 = 256 000 is under the cap of 300 000; from attempt 10 on the cap holds
    expect(backoffMs(9, 1000, 300_000, at(1))).toBe(256_000);
    for (const attempt of [10, 15, 31, 40, 1000]) {
      expect(backoffMs(attempt, 1000, 300_000, at(1))).toBe(300_000);
      expect(backoffMs(attempt, 1000, 300_000, at(0))).toBe(150_000);
      const v = backoffMs(attempt, 1000, 300_000);
      expect(v).toBeGreaterThanOrEqual(150_000);
      expect(v).toBeLessThanOrEqual(300_000);
      expect(Number.isFinite(v)).toBe(true);
    }
  });
});

describe('sameFigure', () => {
  const f: Figure = { available: 4, onHand: 10, committed: 1, reserved: 5, locations: { 'DC-EAST': 4, 'DC-CENTRAL': 0 } };
  it('is true for equal figures, whatever the order of locations', () => {
    expect(sameFigure(f, { ...f, locations: { 'DC-CENTRAL': 0, 'DC-EAST': 4 } })).toBe(true);
  });
  it('is false when any total or location differs, or a location is added or missing', () => {
    expect(sameFigure(f, { ...f, available: 3 })).toBe(false);
    expect(sameFigure(f, { ...f, onHand: 11 })).toBe(false);
    expect(sameFigure(f, { ...f, committed: 0 })).toBe(false);
    expect(sameFigure(f, { ...f, reserved: 4 })).toBe(false);
    expect(sameFigure(f, { ...f, locations: { 'DC-EAST': 3, 'DC-CENTRAL': 1 } })).toBe(false);
    expect(sameFigure(f, { ...f, locations: { 'DC-EAST': 4 } })).toBe(false);
    expect(sameFigure(f, { ...f, locations: { 'DC-EAST': 4, 'DC-CENTRAL': 0, '3PL-WEST': 0 } })).toBe(false);
    expect(sameFigure(f, { ...f, locations: { 'DC-EAST': 4, '3PL-WEST': 0 } })).toBe(false);
  });
});

describe('serializeEvent', () => {
  const e: StoredEvent = {
    seq: 7,
    id: 'e-1',
    type: 'availability.changed',
    sku: 'SKU "1"\u2028',
    channel: null,
    orderingKey: 'SKU "1"',
    occurredAt: new Date('2026-12-01T12:00:00.000Z'),
    data: { crossing: 'OUT_OF_STOCK', current: { available: 0, flags: ['STALE'] }, note: 'é\u0000' },
  };
  it('is JSON.stringify(eventBody(e)), byte for byte, with or without the outbox JSON of data', () => {
    const expected = JSON.stringify(eventBody(e));
    expect(serializeEvent(e)).toBe(expected);
    expect(serializeEvent({ ...e, dataJson: JSON.stringify(e.data) })).toBe(expected);
    expect(JSON.parse(serializeEvent({ ...e, dataJson: JSON.stringify(e.data) }))).toEqual(eventBody(e));
  });
});
