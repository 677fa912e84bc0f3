import { describe, expect, it } from 'vitest';
import { compile, first, JsonPathError, select } from '../../src/sources/json-path.js';

const SHOPIFY = {
  data: {
    inventoryItems: {
      edges: [
        {
          node: {
            sku: 'A-1',
            inventoryLevels: {
              edges: [
                {
                  node: {
                    location: { name: 'East' },
                    quantities: [
                      { name: 'available', quantity: 4 },
                      { name: 'on_hand', quantity: 6 },
                    ],
                  },
                },
                {
                  node: {
                    location: { name: 'West' },
                    quantities: [
                      { name: 'available', quantity: 0 },
                      { name: 'on_hand', quantity: 1 },
                    ],
                  },
                },
              ],
            },
          },
        },
      ],
      pageInfo: { hasNextPage: true, endCursor: 'abc' },
    },
  },
};

describe('json paths', () => {
  it('walks members, lists and filters', () => {
    expect(select(compile('$.data.inventoryItems.edges[*].node.sku'), SHOPIFY)).toEqual(['A-1']);
    const levels = select(compile('data.inventoryItems.edges[0].node.inventoryLevels.edges[*].node'), SHOPIFY);
    expect(levels).toHaveLength(2);
    expect(select(compile("quantities[?(@.name=='on_hand')].quantity"), levels[0])).toEqual([6]);
    expect(first(compile('location.name'), levels[1])).toBe('West');
    expect(first(compile('$.data.inventoryItems.pageInfo.endCursor'), SHOPIFY)).toBe('abc');
  });

  it('reads quoted names, negative indexes and typed filter values', () => {
    const doc = {
      'on hand': [1, 2, 3],
      rows: [
        { id: 3, ok: true },
        { id: 4, ok: false },
        { id: 5, ok: null },
      ],
    };
    expect(first(compile("['on hand'][-1]"), doc)).toBe(3);
    expect(select(compile('rows[?(@.id==4)].ok'), doc)).toEqual([false]);
    expect(select(compile('rows[?(@.ok==true)].id'), doc)).toEqual([3]);
    expect(select(compile('rows[?(@.ok==null)].id'), doc)).toEqual([5]);
  });

  it('reaches nothing through a missing member, a scalar or an index out of range', () => {
    expect(select(compile('a.b.c'), { a: 1 })).toEqual([]);
    expect(first(compile('a[5]'), { a: [1] })).toBeUndefined();
    expect(select(compile('a.constructor'), { a: {} })).toEqual([]);
  });

  it('refuses a path it cannot read, naming the position', () => {
    expect(() => compile('a..b')).toThrow(JsonPathError);
    expect(() => compile('a[')).toThrow(/unclosed \[/);
    expect(() => compile('a[?(@.x>1)]')).toThrow(/a filter is/);
    expect(() => compile('')).toThrow(/empty path/);
  });
});
