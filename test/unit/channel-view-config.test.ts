/**
 * The config keys of the side-by-side views: `channelView` on any kind of source (never in
 * `precedence.quantity`, needs `stock`, names a known channel) and `costs.tolerancePercent`
 * (a plain decimal, kept as a string).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const base = (o: { shop?: string; precedence?: string; costs?: string } = {}) => `
store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  wms:
    kind: sql
    client: better-sqlite3
    connection: wms.sqlite
    stock: { table: bins, columns: { sku: sku, location: wh, onHand: qty } }
    cost: { table: costs, columns: { sku: sku, unitCost: cost }, currency: USD }
  shop:
${
  o.shop ??
  `    kind: sql
    client: better-sqlite3
    connection: shop.sqlite
    channelView: { channel: web }
    stock: { table: salable, columns: { sku: sku, location: stock_id, onHand: qty } }`
}
  tpl:
    kind: csv
    path: ./3pl/inventory-*.csv
    channelView: { channel: marketplace }
    stock: { columns: { sku: sku, location: wh, onHand: qty } }
locations:
  - { id: DC-EAST, codes: { wms: EAST }, channels: [web, retail] }
  - { id: 3PL, codes: { wms: W3 }, channels: [marketplace] }
precedence:
  quantity: ${o.precedence ?? '[wms]'}
  cost: [wms]
${o.costs ?? ''}
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, '/etc/ig/test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('channelView', () => {
  it('is accepted on a SQL and on a file source, and the tolerance defaults to 0', () => {
    const c = parseConfig(base(), '/etc/ig/test.yaml');
    expect(c.sources.shop?.channelView).toEqual({ channel: 'web' });
    expect(c.sources.tpl?.channelView).toEqual({ channel: 'marketplace' });
    expect(c.sources.wms?.channelView).toBeUndefined();
    expect(c.costs.tolerancePercent).toBe('0');
  });

  it('is refused in precedence.quantity: a view is never authoritative', () => {
    expect(problems(base({ precedence: '[wms, shop]' }))).toEqual([
      'precedence.quantity[1]: source "shop" is a channel\'s view (`channelView`), never authoritative; remove it from precedence.quantity',
    ]);
  });

  it('needs stock on its source, and a channel some location serves', () => {
    const shop = `    kind: sql
    client: better-sqlite3
    connection: shop.sqlite
    channelView: { channel: webshop }
    items: { table: products, columns: { sku: sku, name: title } }`;
    expect(problems(base({ shop }))).toEqual([
      'sources.shop.channelView: needs `stock` on the same source (the figure the channel promises)',
      'sources.shop.channelView.channel: unknown channel "webshop" (known: web, retail, marketplace)',
    ]);
  });

  it('refuses unknown keys and an empty channel, naming the key path', () => {
    const shop = `    kind: sql
    client: better-sqlite3
    connection: shop.sqlite
    channelView: { channel: "", chanel: web }
    stock: { table: salable, columns: { sku: sku, location: stock_id, onHand: qty } }`;
    const p = problems(base({ shop }));
    expect(p).toContain('sources.shop.channelView.chanel: unknown key (did you mean "channel"?)');
    expect(p.some((x) => x.startsWith('sources.shop.channelView.channel: '))).toBe(true);
  });
});

describe('costs.tolerancePercent', () => {
  it('keeps a YAML number or string as the decimal written', () => {
    expect(parseConfig(base({ costs: 'costs: { tolerancePercent: 0.5 }' }), '/x.yaml').costs.tolerancePercent).toBe('0.5');
    expect(parseConfig(base({ costs: 'costs: { tolerancePercent: "1.25" }' }), '/x.yaml').costs.tolerancePercent).toBe('1.25');
  });

  it('refuses what is not a plain decimal of 0 or more', () => {
    for (const bad of ['-1', '1e-7', 'one', '"5%"']) {
      expect(problems(base({ costs: `costs: { tolerancePercent: ${bad} }` }))).toEqual([
        'costs.tolerancePercent: must be a plain decimal of 0 or more, such as 1 or 0.5',
      ]);
    }
  });
});
