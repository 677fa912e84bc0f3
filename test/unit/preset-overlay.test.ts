import { describe, expect, it } from 'vitest';
import { applyPresets, overlay } from '../../src/sources/presets/index.js';

describe('preset overlay', () => {
  it('merges objects key by key and lets the user replace scalars and lists', () => {
    const base = { timeoutMs: 2000, stock: { query: 'select 1', where: { a: 1 } }, sync: { mode: 'live', feeds: [{ kind: 'poll' }] } };
    expect(overlay(base, { timeoutMs: 500, sync: { feeds: [] } })).toEqual({
      timeoutMs: 500,
      stock: { query: 'select 1', where: { a: 1 } },
      sync: { mode: 'live', feeds: [] },
    });
  });

  it('replaces a whole mapping the user gives with its own table or query', () => {
    const base = { stock: { query: 'select 1' }, identifiers: { barcode: { query: 'select 2' } } };
    const over = { stock: { table: 'bins', columns: { sku: 'c', location: 'l', onHand: 'q' } }, identifiers: { barcode: { query: 'select 3' } } };
    expect(overlay(base, over)).toEqual(over);
  });

  it('names an unknown preset and leaves the source as written', () => {
    const problems: string[] = [];
    const raw = { sources: { erp: { preset: 'sap-r3', connection: 'x' } } };
    expect(applyPresets(raw, problems)).toEqual(raw);
    expect(problems[0]).toMatch(/^sources\.erp\.preset: unknown preset "sap-r3" \(known: /);
  });
});
