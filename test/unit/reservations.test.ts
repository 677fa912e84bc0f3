/**
 * The reservation rules without I/O (src/domain/reservations.ts): how a reserve request is
 * checked (every problem named at once), how a request's pieces take what is free at each
 * (sku, location), all or nothing against partial, the race signal for routed pieces, and the
 * status a stored reservation has at a given instant.
 */
import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../../src/errors.js';
import { LocationIndex } from '../../src/domain/locations.js';
import { allocate, checkReserveInput, pairKey, statusAt, type Piece, type ReserveInput, type ReserveRequest } from '../../src/domain/reservations.js';
import { MAX_QUANTITY } from '../../src/domain/validation.js';

const locations = new LocationIndex([
  { id: 'EAST', codes: { wms: 'E' }, priority: 1, sellable: true, safetyStock: 0, channels: ['web', 'retail'] },
  { id: 'SHOP', codes: { erp: 'S' }, priority: 2, sellable: true, safetyStock: 2, channels: ['retail'] },
  { id: 'TRANSIT', codes: { erp: 'T' }, priority: 9, sellable: false, safetyStock: 0, channels: ['b2b'] },
]);
const limits = { defaultTtlSeconds: 900, maxTtlSeconds: 14_400, maxLines: 3 };

/** The problems a request is refused with (none: it is accepted). */
function problems(input: Partial<ReserveInput>, index: LocationIndex = locations): string[] {
  try {
    checkReserveInput({ idempotencyKey: 'k', lines: [{ sku: 'A', quantity: 1 }], ...input }, limits, index);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(BadUserInputError);
    const err = e as BadUserInputError;
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    const list = err.extensions.problems as string[];
    expect(err.message).toBe(`Invalid reservation: ${list.join('; ')}.`);
    return list;
  }
}

describe('checkReserveInput', () => {
  it('resolves the defaults: TTL, all or nothing, no channel, no reference, routed lines', () => {
    expect(checkReserveInput({ idempotencyKey: 'k', lines: [{ sku: 'A', quantity: 2 }] }, limits, locations)).toEqual({
      idempotencyKey: 'k',
      lines: [{ sku: 'A', quantity: 2, locationId: null }],
      channel: null,
      ttlSeconds: 900,
      allowPartial: false,
      reference: null,
    });
    const given = checkReserveInput(
      { idempotencyKey: 'k', lines: [{ sku: 'A', quantity: 2, locationId: 'SHOP' }], channel: 'retail', ttlSeconds: 60, allowPartial: true, reference: 'r' },
      limits,
      locations,
    );
    expect(given).toMatchObject({ channel: 'retail', ttlSeconds: 60, allowPartial: true, reference: 'r', lines: [{ locationId: 'SHOP' }] });
    // explicit nulls are the defaults
    expect(
      checkReserveInput(
        { idempotencyKey: 'k', lines: [{ sku: 'A', quantity: 2, locationId: null }], channel: null, ttlSeconds: null, allowPartial: null, reference: null },
        limits,
        locations,
      ),
    ).toEqual(checkReserveInput({ idempotencyKey: 'k', lines: [{ sku: 'A', quantity: 2 }] }, limits, locations));
  });

  it('the idempotency key and the reference: not blank, at most 255 and 191 characters, no control characters', () => {
    expect(problems({ idempotencyKey: '' })).toEqual(['idempotencyKey must not be blank']);
    expect(problems({ idempotencyKey: ' \t ' })).toEqual(['idempotencyKey must not be blank']);
    expect(problems({ idempotencyKey: 'k'.repeat(255) })).toEqual([]);
    expect(problems({ idempotencyKey: 'k'.repeat(256) })).toEqual(['idempotencyKey is 256 characters long; at most 255']);
    expect(problems({ idempotencyKey: 'a\u0000b' })).toEqual(['idempotencyKey contains a control character']);
    expect(problems({ idempotencyKey: 'checkout-42 é ✓' })).toEqual([]);
    expect(problems({ reference: 'r'.repeat(191) })).toEqual([]);
    expect(problems({ reference: 'r'.repeat(192) })).toEqual(['reference is 192 characters long; at most 191']);
    expect(problems({ reference: ' ' })).toEqual(['reference must not be blank']);
    expect(problems({ reference: 'ord\n1' })).toEqual(['reference contains a control character']);
  });

  it('quantities: whole numbers from 1 to the maximum', () => {
    const q = (quantity: number) => problems({ lines: [{ sku: 'A', quantity }] });
    expect(q(1)).toEqual([]);
    expect(q(MAX_QUANTITY)).toEqual([]);
    expect(q(0)).toEqual(['lines[0] (A): quantity must be at least 1, got 0']);
    expect(q(-4)).toEqual(['lines[0] (A): quantity must be at least 1, got -4']);
    expect(q(1.5)).toEqual(['lines[0] (A): quantity must be at least 1, got 1.5']);
    expect(q(MAX_QUANTITY + 1)).toEqual([`lines[0] (A): quantity ${MAX_QUANTITY + 1} is over ${MAX_QUANTITY}`]);
  });

  it('SKUs: not empty, at most 191 characters', () => {
    expect(problems({ lines: [{ sku: '  ', quantity: 1 }] })).toEqual(['lines[0]: empty sku']);
    expect(problems({ lines: [{ sku: 'S'.repeat(191), quantity: 1 }] })).toEqual([]);
    expect(problems({ lines: [{ sku: 'S'.repeat(192), quantity: 1 }] })).toEqual(['lines[0]: sku is 192 characters long; at most 191']);
  });

  it('lines: at least one, at most maxLines (then the lines themselves are not looked at)', () => {
    expect(problems({ lines: [] })).toEqual(['a reservation needs at least one line']);
    expect(problems({ lines: Array.from({ length: 3 }, () => ({ sku: 'A', quantity: 1 })) })).toEqual([]);
    expect(problems({ lines: Array.from({ length: 4 }, () => ({ sku: 'A', quantity: 0 })) })).toEqual(['too many lines: 4, at most 3 (reservations.maxLines)']);
  });

  it('locations: known, sellable, and serving the channel', () => {
    const at = (locationId: string, channel?: string) => problems({ lines: [{ sku: 'A', quantity: 1, locationId }], ...(channel ? { channel } : {}) });
    expect(at('EAST')).toEqual([]);
    expect(at('SHOP')).toEqual([]);
    expect(at('SHOP', 'retail')).toEqual([]);
    expect(at('MOON')).toEqual(['lines[0]: unknown locationId "MOON"']);
    expect(at('TRANSIT')).toEqual(['lines[0]: location TRANSIT is not sellable']);
    expect(at('SHOP', 'web')).toEqual(['lines[0]: location SHOP does not serve channel web (serves retail)']);
  });

  it('a channel that no sellable location serves is refused, and one the config does not know is named as unknown', () => {
    expect(problems({ channel: 'web' })).toEqual([]);
    expect(problems({ channel: 'b2b' })).toEqual(['channel "b2b": no sellable location serves it']);
    expect(problems({ channel: 'fax', lines: [{ sku: 'A', quantity: 1, locationId: 'SHOP' }] })).toEqual(['unknown channel "fax" (known: web, retail, b2b)']);
    // no location declares channels: every location serves every channel, any name is accepted
    const open = new LocationIndex([{ id: 'ANY', codes: {}, priority: 1, sellable: true, safetyStock: 0 }]);
    expect(problems({ channel: 'fax' }, open)).toEqual([]);
  });

  it('the TTL: whole seconds from 1 to the maximum', () => {
    expect(problems({ ttlSeconds: 1 })).toEqual([]);
    expect(problems({ ttlSeconds: 14_400 })).toEqual([]);
    expect(problems({ ttlSeconds: 14_401 })).toEqual(['ttlSeconds 14401 is over the maximum of 14400 (reservations.maxTtlSeconds)']);
    expect(problems({ ttlSeconds: 0 })).toEqual(['ttlSeconds must be a whole number of seconds, at least 1, got 0']);
    expect(problems({ ttlSeconds: 2.5 })).toEqual(['ttlSeconds must be a whole number of seconds, at least 1, got 2.5']);
    // the default is checked against the maximum too
    expect(() => checkReserveInput({ idempotencyKey: 'k', lines: [{ sku: 'A', quantity: 1 }] }, { ...limits, defaultTtlSeconds: 20_000 }, locations)).toThrow(
      /ttlSeconds 20000 is over the maximum/,
    );
  });

  it('names every problem at once, in the order of the input', () => {
    expect(
      problems({
        idempotencyKey: '',
        reference: '',
        channel: 'web',
        ttlSeconds: 0,
        lines: [
          { sku: 'A', quantity: 0, locationId: 'SHOP' },
          { sku: '', quantity: 2, locationId: 'TRANSIT' },
        ],
      }),
    ).toEqual([
      'idempotencyKey must not be blank',
      'reference must not be blank',
      'lines[0] (A): quantity must be at least 1, got 0',
      'lines[0]: location SHOP does not serve channel web (serves retail)',
      'lines[1]: empty sku',
      'lines[1]: location TRANSIT is not sellable',
      'ttlSeconds must be a whole number of seconds, at least 1, got 0',
    ]);
  });
});

describe('allocate', () => {
  type Req = Pick<ReserveRequest, 'lines' | 'allowPartial'>;
  const req = (lines: Array<[string, number, string | null]>, allowPartial = false): Req => ({
    lines: lines.map(([sku, quantity, locationId]) => ({ sku, quantity, locationId })),
    allowPartial,
  });
  const piece = (requestLine: number, sku: string, location: string, quantity: number, routed = false): Piece => ({
    requestLine,
    sku,
    location,
    quantity,
    routed,
  });
  const figures = (entries: Record<string, number>) => new Map(Object.entries(entries).map(([k, v]) => [pairKey(...(k.split('@') as [string, string])), v]));
  const none = new Map<string, number>();
  const last = { lastAttempt: true };

  it('each piece takes what is free: before holds, less what is held, less what earlier pieces took', () => {
    const r = req([
      ['A', 3, 'E'],
      ['A', 4, 'E'],
      ['B', 2, 'E'],
    ]);
    const a = allocate(r, [piece(0, 'A', 'E', 3), piece(1, 'A', 'E', 4), piece(2, 'B', 'E', 2)], figures({ 'A@E': 10, 'B@E': 2 }), figures({ 'A@E': 3 }), last);
    expect(a).toEqual({ taken: [3, 4, 2], shortfalls: [], raced: false });
  });

  it('all or nothing: one short line and nothing is taken; the shortfall says what could have been held', () => {
    const r = req([
      ['A', 2, 'E'],
      ['B', 6, 'E'],
    ]);
    const a = allocate(r, [piece(0, 'A', 'E', 2), piece(1, 'B', 'E', 6)], figures({ 'A@E': 10, 'B@E': 7 }), figures({ 'B@E': 2 }), last);
    expect(a.taken).toEqual([0, 0]);
    expect(a.shortfalls).toEqual([
      {
        line: 1,
        sku: 'B',
        locationId: 'E',
        requested: 6,
        reserved: 0,
        available: 5,
        code: 'INSUFFICIENT_STOCK',
        detail: 'lines[1] B at E: 6 requested, 5 could be held',
      },
    ]);
  });

  it('allowPartial: what can be taken is, and the short line says so', () => {
    const r = req(
      [
        ['A', 2, 'E'],
        ['B', 6, 'E'],
      ],
      true,
    );
    const a = allocate(r, [piece(0, 'A', 'E', 2), piece(1, 'B', 'E', 6)], figures({ 'A@E': 10, 'B@E': 7 }), figures({ 'B@E': 2 }), last);
    expect(a.taken).toEqual([2, 5]);
    expect(a.shortfalls).toEqual([expect.objectContaining({ line: 1, requested: 6, reserved: 5, available: 5 })]);
  });

  it('more held than the source now has (it deducted since): nothing free, never a negative take', () => {
    const a = allocate(req([['A', 1, 'E']], true), [piece(0, 'A', 'E', 1)], figures({ 'A@E': 3 }), figures({ 'A@E': 5 }), last);
    expect(a.taken).toEqual([0]);
    expect(a.shortfalls[0]).toMatchObject({ reserved: 0, available: 0 });
    // a pair the figures do not have: nothing to take
    expect(allocate(req([['A', 1, 'W']]), [piece(0, 'A', 'W', 1)], none, none, last).shortfalls[0]).toMatchObject({ available: 0 });
  });

  it('a routed line split over locations: its pieces add up, and a short one says why the plan could not place the rest', () => {
    const r = req([['A', 8, null]]);
    const pieces = [piece(0, 'A', 'E', 4, true), piece(0, 'A', 'C', 3, true)];
    const ok = allocate(r, pieces, figures({ 'A@E': 4, 'A@C': 3 }), none, {
      lastAttempt: true,
      unplaced: new Map([[0, 'no eligible location can promise it']]),
    });
    expect(ok.taken).toEqual([0, 0]);
    expect(ok.shortfalls).toEqual([
      expect.objectContaining({
        line: 0,
        locationId: null,
        requested: 8,
        available: 7,
        detail: 'lines[0] A: 8 requested, 7 could be held (no eligible location can promise it)',
      }),
    ]);
    expect(allocate(req([['A', 7, null]]), pieces, figures({ 'A@E': 4, 'A@C': 3 }), none, last)).toEqual({ taken: [4, 3], shortfalls: [], raced: false });
  });

  it('a routed piece finding less than planned is a race: nothing taken, plan again, unless it is the last attempt', () => {
    const r = req([['A', 4, null]], true);
    const pieces = [piece(0, 'A', 'E', 4, true)];
    // another checkout held 2 since the plan was made
    expect(allocate(r, pieces, figures({ 'A@E': 4 }), figures({ 'A@E': 2 }), { lastAttempt: false })).toEqual({ taken: [0], shortfalls: [], raced: true });
    const final = allocate(r, pieces, figures({ 'A@E': 4 }), figures({ 'A@E': 2 }), { lastAttempt: true });
    expect(final).toMatchObject({ taken: [2], raced: true, shortfalls: [{ requested: 4, reserved: 2, available: 2 }] });
    // the caller's own location is no race: it is simply short
    const located = allocate(req([['A', 4, 'E']]), [piece(0, 'A', 'E', 4)], figures({ 'A@E': 4 }), figures({ 'A@E': 2 }), { lastAttempt: false });
    expect(located).toMatchObject({ taken: [0], raced: false, shortfalls: [{ available: 2 }] });
  });

  it('pair keys never run SKU and location together', () => {
    expect(pairKey('AB', 'C')).not.toBe(pairKey('A', 'BC'));
  });
});

describe('statusAt', () => {
  const t = 1_000_000;
  it('an ACTIVE reservation is EXPIRED from its expiry on, swept or not', () => {
    expect(statusAt('ACTIVE', t, t - 1)).toBe('ACTIVE');
    expect(statusAt('ACTIVE', t, t)).toBe('EXPIRED');
    expect(statusAt('ACTIVE', t, t + 1)).toBe('EXPIRED');
  });
  it('every other status is what the store says, whatever the expiry', () => {
    for (const s of ['CONFIRMED', 'RELEASED', 'EXPIRED'] as const) {
      expect(statusAt(s, t, t - 1)).toBe(s);
      expect(statusAt(s, t, t + 1)).toBe(s);
    }
  });
});
