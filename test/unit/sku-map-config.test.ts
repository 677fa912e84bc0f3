import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const base = `
store: { client: better-sqlite3, connection: ./store.sqlite }
sources:
  erp:
    kind: sql
    client: better-sqlite3
    connection: ./erp.sqlite
    items: { table: tabItem, columns: { sku: name, name: item_name } }
    identifiers:
      barcode: { table: tabItem Barcode, columns: { sku: parent, value: barcode } }
  woo:
    kind: sql
    client: better-sqlite3
    connection: ./woo.sqlite
    stock: { query: "select sku, 'web' as location, qty as onHand from stock" }
    identifiers:
      barcode: { query: "select sku, gtin as value from products" }
  tpl:
    kind: csv
    path: ./tpl-*.csv
    stock: { columns: { sku: item, location: wh, onHand: qty } }
locations:
  - { id: DC, codes: { woo: web } }
precedence: { quantity: [woo] }
`;

function problems(skuMap: string): string[] {
  try {
    parseConfig(`${base}skuMap:\n${skuMap}`, '/etc/ig/test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('skuMap config', () => {
  it('defaults to nothing to match, every hour, pages of 5000', () => {
    const c = parseConfig(base, '/etc/ig/test.yaml');
    expect(c.skuMap).toEqual({ catalogueCodes: 'canonical', match: [], intervalSeconds: 3600, batchSize: 5000 });
  });

  it('reads a catalogue and rules, compare defaulting to auto', () => {
    const c = parseConfig(
      `${base}skuMap:\n  catalogue: erp\n  match:\n    - { identifier: barcode, systems: [woo] }\n    - { identifier: code, systems: [tpl], compare: text }\n  intervalSeconds: 0\n`,
      '/etc/ig/test.yaml',
    );
    expect(c.skuMap).toEqual({
      catalogue: 'erp',
      catalogueCodes: 'canonical',
      match: [
        { identifier: 'barcode', systems: ['woo'], compare: 'auto' },
        { identifier: 'code', systems: ['tpl'], compare: 'text' },
      ],
      intervalSeconds: 0,
      batchSize: 5000,
    });
  });

  it('names an unknown system, an unknown catalogue, the catalogue matched onto itself and a system listed twice', () => {
    expect(problems('  catalogue: erp\n  match:\n    - { identifier: code, systems: [woo, wms, woo, erp] }\n')).toEqual([
      'skuMap.match[0].systems[1]: unknown source "wms" (known: erp, woo, tpl)',
      'skuMap.match[0].systems[2]: "woo" is listed twice',
      'skuMap.match[0].systems[3]: "erp" is the catalogue, which the other systems are matched onto',
    ]);
    expect(problems('  catalogue: erpp\n')).toEqual(['skuMap.catalogue: unknown source "erpp" (known: erp, woo, tpl)']);
  });

  it('names an identifier the catalogue or a system does not map', () => {
    expect(problems('  catalogue: woo\n  match:\n    - { identifier: gtin, systems: [erp, tpl] }\n')).toEqual([
      'skuMap.match[0].identifier: the catalogue "woo" maps no identifier "gtin" (add sources.woo.identifiers.gtin)',
      'skuMap.match[0].systems[0]: source "erp" maps no identifier "gtin" (add sources.erp.identifiers.gtin)',
      'skuMap.match[0].systems[1]: source "tpl" maps no identifier "gtin" (add sources.tpl.identifiers.gtin)',
    ]);
  });

  it('reserves the identifier name `code`', () => {
    const text = base.replace(
      '      barcode: { query: "select sku, gtin as value from products" }',
      '      code: { query: "select sku, gtin as value from products" }',
    );
    expect(() => parseConfig(text, '/etc/ig/test.yaml')).toThrow(/sources\.woo\.identifiers\.code: `code` is reserved/);
  });

  it('needs a catalogue with rules, and refuses a rule without systems or an unknown key', () => {
    expect(problems('  match:\n    - { identifier: barcode, systems: [woo] }\n')).toEqual([
      'skuMap.catalogue: required with `match` rules (the system the others are matched onto)',
    ]);
    expect(problems('  catalogue: erp\n  match:\n    - { identifier: barcode, systems: [] }\n')).toEqual([
      'skuMap.match[0].systems: Too small: expected array to have >=1 items',
    ]);
    expect(problems('  catalogue: erp\n  interval: 5\n')).toEqual(['skuMap.interval: unknown key']);
  });
});
