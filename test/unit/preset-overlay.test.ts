import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { applyPresets, overlay, PRESETS } from '../../src/sources/presets/index.js';

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

  it('expands every registered preset, given only a connection, to a source the config schema takes', () => {
    expect(Object.keys(PRESETS)).toEqual(['erpnext', 'odoo', 'openboxes', 'magento', 'woocommerce', 'shipbob', 'shopify']);
    for (const [name, preset] of Object.entries(PRESETS)) {
      const connection = name === 'odoo' ? 'postgres://odoo@127.0.0.1:5432/odoo' : 'mysql://root@127.0.0.1:3306/shop';
      // an API preset takes its token (and Shopify its shop) instead of a connection
      const given =
        preset.kind === 'http'
          ? `auth: { bearer: token }${name === 'shopify' ? ', presetOptions: { shop: acme }' : ''}`
          : `${name === 'odoo' ? '' : 'client: mysql2, '}connection: "${connection}"`;
      const yaml = `store: { client: better-sqlite3, connection: ':memory:' }
sources: { sys: { preset: ${name}, ${given} } }
locations: [{ id: X, codes: { sys: x } }]
precedence: { quantity: [sys] }
`;
      const source = parseConfig(yaml, '/tmp/ig.yaml').sources.sys as Record<string, unknown>;
      expect(source.kind).toBe(preset.kind);
      expect(source.stock).toBeDefined();
      expect(source.preset).toBe(name);
    }
  });

  it('names an option a preset does not know by its key path', () => {
    const problems: string[] = [];
    applyPresets({ sources: { shop: { preset: 'woocommerce', presetOptions: { prefix: 'wp2_' } } } }, problems);
    expect(problems).toEqual([expect.stringMatching(/^sources\.shop\.presetOptions: .*prefix/)]);
  });
});
