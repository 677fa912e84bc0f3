import { describe, expect, it } from 'vitest';
import { AMBIGUOUS, addToIndex, compareCodes, decideMatch, normaliseIdentifier, planAliases, type IndexEntry } from '../../src/domain/sku-matching.js';

describe('normaliseIdentifier', () => {
  it('trims, and gives nothing for an empty or missing value', () => {
    expect(normaliseIdentifier('  ABC-1 \t', 'auto')).toBe('ABC-1');
    expect(normaliseIdentifier('   ', 'auto')).toBeNull();
    expect(normaliseIdentifier(null, 'auto')).toBeNull();
    expect(normaliseIdentifier(undefined, 'text')).toBeNull();
  });

  it('reads a 12-digit UPC, its 13-digit EAN and 14-digit GTIN as one value', () => {
    const upc = normaliseIdentifier('012345678905', 'auto');
    expect(upc).toBe('00012345678905');
    expect(normaliseIdentifier('0012345678905', 'auto')).toBe(upc);
    expect(normaliseIdentifier('00012345678905', 'auto')).toBe(upc);
    expect(normaliseIdentifier(' 012345678905 ', 'auto')).toBe(upc);
    // EAN-8 as its GTIN-14
    expect(normaliseIdentifier('96385074', 'auto')).toBe('00000096385074');
  });

  it('leaves digits of other lengths, and everything under `text`, as trimmed text', () => {
    expect(normaliseIdentifier('12345', 'auto')).toBe('12345');
    expect(normaliseIdentifier('012345678905', 'text')).toBe('012345678905');
    expect(normaliseIdentifier('0012345678905', 'text')).not.toBe(normaliseIdentifier('012345678905', 'text'));
    expect(normaliseIdentifier('A12345678905', 'auto')).toBe('A12345678905');
    expect(normaliseIdentifier(12345678, 'auto')).toBe('00000012345678');
  });
});

describe('compareCodes', () => {
  it('orders by code point, the byte order of UTF-8, not by UTF-16 unit', () => {
    const codes = ['b', 'a', 'B', '\u{1F600}', '\uFF21', 'ab', ''];
    const sorted = [...codes].sort(compareCodes);
    expect(sorted).toEqual(['', 'B', 'a', 'ab', 'b', '\uFF21', '\u{1F600}']);
    const bytes = [...codes].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(sorted).toEqual(bytes);
    // JavaScript's own order puts the emoji (a surrogate pair) before U+FF21
    expect([...codes].sort()).not.toEqual(bytes);
  });
});

describe('addToIndex', () => {
  it('makes a value two catalogue items with different SKUs share ambiguous, reporting the two codes once', () => {
    const index = new Map<string, IndexEntry>();
    const different = () => false;
    expect(addToIndex(index, 'barcode', 'V1', 'ITEM-1', different)).toBeNull();
    expect(addToIndex(index, 'barcode', 'V1', 'ITEM-1', different)).toBeNull();
    expect(addToIndex(index, 'barcode', 'V1', 'ITEM-2', different)).toEqual({ identifier: 'barcode', value: 'V1', codes: ['ITEM-1', 'ITEM-2'] });
    expect(index.get('V1')).toBe(AMBIGUOUS);
    expect(addToIndex(index, 'barcode', 'V1', 'ITEM-3', different)).toBeNull();
  });

  it('keeps the first code when both mean one SKU', () => {
    const index = new Map<string, IndexEntry>();
    addToIndex(index, 'barcode', 'V1', 'ITEM-1', () => true);
    expect(addToIndex(index, 'barcode', 'V1', 'ITEM-1B', () => true)).toBeNull();
    expect(index.get('V1')).toBe('ITEM-1');
  });
});

describe('decideMatch', () => {
  // rule 0: barcode, rule 1: supplier part
  const indexes: Map<string, IndexEntry>[] = [
    new Map<string, IndexEntry>([
      ['B1', 'ERP-1'],
      ['B2', 'ERP-2'],
      ['BX', AMBIGUOUS],
    ]),
    new Map<string, IndexEntry>([
      ['P1', 'ERP-1'],
      ['P3', 'ERP-3'],
    ]),
  ];
  const lookup = (i: number, v: string) => indexes[i]?.get(v);
  const skuOf = (c: string) => ({ 'ERP-1': 'SKU-1', 'ERP-2': 'SKU-2', 'ERP-3': 'SKU-3' })[c];
  const rules = (barcode: string[], part: string[]) => [
    { identifier: 'barcode', values: barcode },
    { identifier: 'supplierPart', values: part },
  ];

  it('matches by the first rule that finds the value', () => {
    expect(decideMatch(rules(['B1', 'NOPE'], []), lookup, skuOf)).toEqual({
      kind: 'matched',
      sku: 'SKU-1',
      evidence: { identifier: 'barcode', value: 'B1', catalogueCode: 'ERP-1', sku: 'SKU-1' },
    });
  });

  it('lets an earlier rule win over a later one that disagrees', () => {
    expect(decideMatch(rules(['B2'], ['P1']), lookup, skuOf)).toMatchObject({ kind: 'matched', sku: 'SKU-2' });
  });

  it('asks a later rule when the earlier ones find nothing', () => {
    expect(decideMatch(rules(['NOPE'], ['P3']), lookup, skuOf)).toMatchObject({ kind: 'matched', sku: 'SKU-3', evidence: { identifier: 'supplierPart' } });
  });

  it('is a conflict when one rule finds two SKUs, naming both', () => {
    const o = decideMatch(rules(['B1', 'B2'], ['P3']), lookup, skuOf);
    expect(o.kind).toBe('conflict');
    expect(o.kind === 'conflict' && o.evidence.map((e) => [e.value, e.sku])).toEqual([
      ['B1', 'SKU-1'],
      ['B2', 'SKU-2'],
    ]);
  });

  it('is a conflict when the only value found is shared by two catalogue items', () => {
    expect(decideMatch(rules(['BX'], []), lookup, skuOf)).toEqual({ kind: 'conflict', identifier: 'barcode', evidence: [], ambiguous: ['BX'] });
  });

  it('is unmatched when values exist and none is found; nothing when there are no values', () => {
    expect(decideMatch(rules(['NOPE'], ['NADA']), lookup, skuOf)).toEqual({ kind: 'unmatched', values: rules(['NOPE'], ['NADA']) });
    expect(decideMatch(rules([], []), lookup, skuOf)).toEqual({ kind: 'none' });
  });

  it('ignores a catalogue code without a SKU', () => {
    expect(decideMatch(rules(['B1'], []), lookup, () => undefined)).toMatchObject({ kind: 'unmatched' });
  });
});

describe('planAliases', () => {
  it('adds new matches, keeps equal ones, changes moved ones and removes gone ones', () => {
    const plan = planAliases(
      [
        { code: 'same', sku: 'S1', origin: 'match' },
        { code: 'moved', sku: 'S1', origin: 'match' },
        { code: 'gone', sku: 'S9', origin: 'match' },
      ],
      new Map([
        ['same', 'S1'],
        ['moved', 'S2'],
        ['new', 'S3'],
      ]),
    );
    expect(plan).toEqual({
      upserts: [
        { code: 'moved', sku: 'S2' },
        { code: 'new', sku: 'S3' },
      ],
      deletes: ['moved', 'gone'],
      changed: 1,
      unchanged: 1,
      handWritten: 0,
    });
  });

  it('never touches a hand-written alias, matched or not', () => {
    const plan = planAliases(
      [
        { code: 'hand', sku: 'S1', origin: 'import' },
        { code: 'hand-only', sku: 'S7', origin: 'import' },
      ],
      new Map([['hand', 'S2']]),
    );
    expect(plan).toEqual({ upserts: [], deletes: [], changed: 0, unchanged: 0, handWritten: 1 });
  });

  it('plans nothing the second time', () => {
    const desired = new Map([['c', 'S1']]);
    const first = planAliases([], desired);
    const second = planAliases(
      first.upserts.map((u) => ({ ...u, origin: 'match' as const })),
      desired,
    );
    expect(second).toEqual({ upserts: [], deletes: [], changed: 0, unchanged: 1, handWritten: 0 });
  });
});
