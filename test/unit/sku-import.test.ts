import { describe, expect, it } from 'vitest';
import { parseSkuMapCsv, SkuImportError } from '../../src/cli/sku-import.js';

const systems = ['erp', 'wms', 'shop', 'tpl'];

function problems(text: string): readonly string[] {
  try {
    parseSkuMapCsv(text, 'map.csv', systems);
  } catch (e) {
    if (e instanceof SkuImportError) return e.problems;
    throw e;
  }
  throw new Error('expected a SkuImportError');
}

describe('SKU map CSV', () => {
  it('reads the wide layout: one column per system, empty cells skipped', () => {
    const entries = parseSkuMapCsv('\ufeffsku,name,erp,wms,tpl\nSKU-1,"Tent, 2 person",100-1,ITM1,\nSKU-2,,100-2,,ACM2\n', 'm.csv', systems);
    expect(entries).toEqual([
      {
        sku: 'SKU-1',
        name: 'Tent, 2 person',
        aliases: [
          { system: 'erp', code: '100-1' },
          { system: 'wms', code: 'ITM1' },
        ],
      },
      {
        sku: 'SKU-2',
        name: null,
        aliases: [
          { system: 'erp', code: '100-2' },
          { system: 'tpl', code: 'ACM2' },
        ],
      },
    ]);
  });

  it('reads the long layout, merging rows of one SKU (two codes in one system allowed)', () => {
    const entries = parseSkuMapCsv('sku,system,code,name\nSKU-1,erp,100-1,Tent\nSKU-1,wms,ITM1,\nSKU-1,wms,ITM1-OLD,\n', 'm.csv', systems);
    expect(entries).toEqual([
      {
        sku: 'SKU-1',
        name: 'Tent',
        aliases: [
          { system: 'erp', code: '100-1' },
          { system: 'wms', code: 'ITM1' },
          { system: 'wms', code: 'ITM1-OLD' },
        ],
      },
    ]);
  });

  it('rejects columns that are not configured sources', () => {
    expect(problems('sku,erp,pos\nA,1,2\n')).toEqual(['line 1: column "pos" is not a configured source (known: erp, wms, shop, tpl)']);
  });

  it('rejects a header without sku, and an empty file', () => {
    expect(problems('code,erp\nA,1\n')[0]).toBe('line 1: the header has no `sku` column');
    expect(problems('')[0]).toMatch(/the file is empty/);
  });

  it('reports every bad line with its number, and imports nothing', () => {
    expect(problems('sku,system,code\n,erp,1\nA,erp,X\nB,erp,X\nC,pos,Y\n')).toEqual([
      'line 2: empty sku',
      'line 4: erp code "X" is already given to A on line 3',
      'line 5: system "pos" is not a configured source (known: erp, wms, shop, tpl)',
    ]);
  });

  it('reports malformed CSV', () => {
    expect(problems('sku,erp\nA,"unclosed\n')[0]).toMatch(/quote/i);
    expect(problems('sku,erp\nA,1,extra\n')[0]).toMatch(/record length.*line 2/i);
  });
});
