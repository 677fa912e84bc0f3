/**
 * Config errors that help: a YAML syntax error names its real line and column (and for a quote
 * never closed, the line that opened it), and an unknown key suggests the known key of that
 * place in the schema it most likely misspells (a source's keys by its `kind`), or nothing
 * rather than nonsense.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { editDistance, nearestKey } from '../../src/config/known-keys.js';

const base = `store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  erp:
    kind: sql
    client: better-sqlite3
    connection: ./erp.sqlite
    stock: { table: inv, columns: { sku: item_no, location: site, onHand: qty } }
  tpl:
    kind: csv
    path: ./tpl-*.csv
    stock: { columns: { sku: sku, location: location, onHand: qty } }
locations:
  - { id: EAST, codes: { erp: EAST, tpl: W01 } }
precedence:
  quantity: [erp, tpl]
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, '/etc/ig/test.yaml', {});
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('YAML syntax errors', () => {
  it('the base config is valid', () => {
    expect(problems(base)).toEqual([]);
  });

  it('names the line and column of a bad indentation, once, with the line', () => {
    const text = base.replace('    connection: ./erp.sqlite', '   connection: ./erp.sqlite');
    expect(problems(text)).toEqual(['line 6, column 1: All mapping items must start at the same column (at "   connection: ./erp.sqlite")']);
  });

  it('names where an unclosed quote was opened, not only the end of the file', () => {
    const text = base.replace('connection: ./erp.sqlite', 'connection: "./erp.sqlite');
    expect(problems(text)).toEqual(['line 6, column 17: Missing closing "quote (at "    connection: \\"./erp.sqlite"; the quoted value runs on to line 16)']);
  });

  it('names the line of a tab used as indentation', () => {
    const text = base.replace('    kind: csv', '\tkind: csv');
    expect(problems(text)).toEqual(['line 9, column 1: Tabs are not allowed as indentation (at "\\tkind: csv")']);
  });

  it('names a duplicated key at its second occurrence', () => {
    const text = base.replace('    kind: csv\n', '    kind: csv\n    kind: sql\n');
    expect(problems(text)).toEqual(['line 10, column 5: Map keys must be unique (at "    kind: sql")']);
  });
});

describe('unknown keys', () => {
  it('suggests the nearest key of a SQL source', () => {
    expect(problems(base.replace('    stock: { table: inv', '    stok: { table: inv'))).toContain('sources.erp.stok: unknown key (did you mean "stock"?)');
    expect(problems(base.replace('    client: better-sqlite3\n', '    client: better-sqlite3\n    timeoutMS: 300\n'))).toEqual([
      'sources.erp.timeoutMS: unknown key (did you mean "timeoutMs"?)',
    ]);
  });

  it('takes a source’s known keys from its kind: a file source has no `client`', () => {
    expect(problems(base.replace('    kind: csv\n', '    kind: csv\n    clent: x\n'))).toEqual(['sources.tpl.clent: unknown key']);
    expect(problems(base.replace('    kind: sql\n', '    kind: sql\n    clent: x\n'))).toEqual(['sources.erp.clent: unknown key (did you mean "client"?)']);
    expect(problems(base.replace('    path: ./tpl-*.csv\n', '    path: ./tpl-*.csv\n    delimeter: ";"\n'))).toEqual([
      'sources.tpl.delimeter: unknown key (did you mean "delimiter"?)',
    ]);
  });

  it('suggests inside mappings, lists of mappings, and at the top level', () => {
    expect(problems(base.replace('location: site, onHand: qty', 'location: site, onHand: qty, comitted: picked'))).toEqual([
      'sources.erp.stock.columns.comitted: unknown key (did you mean "committed"?)',
    ]);
    const movements = '    movements: [{ table: m, kind: inTransit, colums: { sku: a, location: b, quantity: c } }]\n';
    expect(problems(base.replace('    stock: { table: inv', `${movements}    stock: { table: inv`))).toContain(
      'sources.erp.movements[0].colums: unknown key (did you mean "columns"?)',
    );
    expect(problems(base.replace('precedence:', 'precedance:'))).toContain('precedance: unknown key (did you mean "precedence"?)');
    expect(problems(`${base}server: { prot: 4000 }\n`)).toEqual(['server.prot: unknown key (did you mean "port"?)']);
    expect(problems(base.replace('- { id: EAST,', '- { id: EAST, priorty: 1,'))).toEqual(['locations[0].priorty: unknown key (did you mean "priority"?)']);
  });

  it('suggests nothing rather than nonsense', () => {
    expect(problems(base.replace('    kind: sql\n', '    kind: sql\n    colour: blue\n'))).toEqual(['sources.erp.colour: unknown key']);
    expect(problems(`${base}foo: 1\n`)).toEqual(['foo: unknown key']);
  });
});

describe('nearestKey', () => {
  const known = ['stock', 'cost', 'items', 'movements', 'client', 'connection', 'timeoutMs'];

  it('finds a slip of one or two letters, a swap, or a different case', () => {
    expect(nearestKey('stok', known)).toBe('stock');
    expect(nearestKey('sotck', known)).toBe('stock');
    expect(nearestKey('Items', known)).toBe('items');
    expect(nearestKey('movments', known)).toBe('movements');
    expect(nearestKey('conection', known)).toBe('connection');
  });

  it('gives nothing when no key is close', () => {
    expect(nearestKey('foo', known)).toBeUndefined();
    expect(nearestKey('x', known)).toBeUndefined();
    expect(nearestKey('price', known)).toBeUndefined();
    expect(nearestKey('cast', ['a', 'b'])).toBeUndefined();
    expect(nearestKey('anything', [])).toBeUndefined();
  });

  it('counts a swap of two neighbours as one edit', () => {
    expect(editDistance('stcok', 'stock')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
