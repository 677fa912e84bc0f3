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
    expect(problems('sku,erp\nA,1,extra\n')).toEqual(['line 2: 3 values where the header has 2: "A,1,extra"']);
  });

  it('numbers lines as the file has them (blank lines, values over several lines), and reports each row once', () => {
    expect(problems('sku,name,erp\n\nA,"two\nlines",1\nB,,1\nC,"x"y,2\n')).toEqual([
      'line 5: erp code "1" is already given to A on line 3',
      expect.stringMatching(/^line 6: Invalid Closing Quote/),
    ]);
  });

  it('refuses a SKU repeated in the wide layout naming both lines, and two names for one SKU in the long one', () => {
    expect(problems('sku,erp,wms\nA,1,\nB,2,\nA,,W1\n')).toEqual([
      'line 4: sku "A" is already on line 2 (the wide layout has one row per SKU: put its codes on one row)',
    ]);
    expect(problems('sku,system,code,name\nA,erp,1,Tent\nA,,,Tent\nA,wms,W,Lamp\nB,erp,,\n')).toEqual([
      'line 4: A is named "Lamp" here and "Tent" on line 2',
      'line 5: empty code for system "erp"',
    ]);
    // a long row without system and code names its SKU
    expect(parseSkuMapCsv('sku,system,code,name\nA,,,Tent\n', 'm.csv', systems)).toEqual([{ sku: 'A', name: 'Tent', aliases: [] }]);
  });
});
