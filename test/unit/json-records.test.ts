/**
 * The JSON-document-to-rows mapping shared by http sources and `format: json` files: one row
 * per item (or per element of `each`), fields read from the element, `^.` one level up.
 */
import { describe, expect, it } from 'vitest';
import { compileField, compileJsonMapping, jsonRows } from '../../src/sources/json-records.js';

const PAGE = {
  generated_at: '2026-11-30T06:00:00Z',
  items: [
    {
      sku: 'A',
      locations: [
        { id: 1, qty: 3 },
        { id: 2, qty: 4 },
      ],
    },
    { sku: 'B', locations: [] },
    { sku: 'C', locations: [{ id: 1 }] },
  ],
};

describe('jsonRows', () => {
  it('makes one row per element of `each`, reading the item with ^. and the page with ^^.', () => {
    const m = compileJsonMapping({
      records: 'items[*]',
      each: 'locations[*]',
      fields: { sku: '^.sku', location: 'id', onHand: 'qty', asOf: '^^.generated_at' },
    });
    expect([...jsonRows(PAGE, m)]).toEqual([
      { sku: 'A', location: 1, onHand: 3, asOf: '2026-11-30T06:00:00Z' },
      { sku: 'A', location: 2, onHand: 4, asOf: '2026-11-30T06:00:00Z' },
      { sku: 'C', location: 1, onHand: undefined, asOf: '2026-11-30T06:00:00Z' },
    ]);
  });

  it('makes one row per item without `each`, ^. then being the page', () => {
    const m = compileJsonMapping({ records: '$.items[*]', fields: { sku: 'sku', count: 'locations[0].qty', at: '^.generated_at' } });
    expect([...jsonRows(PAGE, m)]).toEqual([
      { sku: 'A', count: 3, at: '2026-11-30T06:00:00Z' },
      { sku: 'B', count: undefined, at: '2026-11-30T06:00:00Z' },
      { sku: 'C', count: undefined, at: '2026-11-30T06:00:00Z' },
    ]);
  });

  it('refuses a field that goes further up than a row has levels, or a ^ not followed by a path', () => {
    expect(() => compileJsonMapping({ records: 'items[*]', fields: { sku: '^^.sku' } })).toThrow(
      'fields.sku: "^^.sku" goes 2 levels up, but a row has only 1 above it (no `each`)',
    );
    expect(() => compileField('^sku')).toThrow('`^` is followed by `.` or `[`');
    expect(compileField('^').up).toBe(1);
    expect(compileField("^['on hand']")).toMatchObject({ up: 1, path: { steps: [{ kind: 'member', name: 'on hand' }] } });
  });
});
