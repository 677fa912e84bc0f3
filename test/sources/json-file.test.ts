/**
 * File sources reading API payloads (`format: json`): a file holding one ShipBob
 * `inventory-level/locations` answer, or a JSON array of such pages, mapped with the same
 * `records` / `each` / `fields` paths as a `kind: http` source. A file that cannot be read is
 * refused naming its record, and the last good snapshot keeps serving.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigError } from '../../src/config/index.js';
import { csvSourceSchema } from '../../src/config/schema.js';
import { createCsvConnector, type RejectedFile } from '../../src/sources/csv.js';
import { shipBobItem } from '../helpers/api-stubs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ig-json-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MAPPING = {
  records: 'items[*]',
  each: 'locations[*]',
  fields: { sku: '^.sku', location: 'location_id', onHand: 'on_hand_quantity', committed: 'committed_quantity' },
};

const page = (items: unknown[], next: string | null = null) => ({ first: null, prev: null, next, last: null, items });

function connector(rejected: RejectedFile[] = []) {
  return createCsvConnector('tpl', csvSourceSchema.parse({ kind: 'csv', path: join(dir, 'shipbob-*.json'), checkIntervalMs: 0, stock: MAPPING }), {
    events: { rejected: (r) => rejected.push(r) },
  });
}

describe('a file of ShipBob pages', () => {
  it('reads one answer: a record per item and location, the file date as asOf', async () => {
    writeFileSync(
      join(dir, 'shipbob-2026-11-30.json'),
      JSON.stringify(page([shipBobItem(1, 'A-1', { 10: [9, 2], 20: [4, 0] }), shipBobItem(2, 'B-1', { 10: [1, 1] })])),
    );
    const c = connector();
    expect(await c.fetch('stock', ['A-1', 'NOPE'])).toEqual([
      { code: 'A-1', location: '10', onHand: 9, committed: 2, asOf: new Date('2026-11-30T00:00:00Z') },
      { code: 'A-1', location: '20', onHand: 4, committed: 0, asOf: new Date('2026-11-30T00:00:00Z') },
    ]);
    expect(await c.listCodes(null, 10)).toEqual(['A-1', 'B-1']);
    await c.close();
  });

  it('reads a JSON array of pages, summing an item that comes on two pages', async () => {
    const pages = [
      page([shipBobItem(1, 'A-1', { 10: [9, 2] })], '/2.0/inventory-level/locations?Cursor=1'),
      page([shipBobItem(1, 'A-1', { 10: [1, 0] }), shipBobItem(3, 'C-1', { 20: [5, 0] })]),
    ];
    writeFileSync(join(dir, 'shipbob-2026-11-30.json'), JSON.stringify(pages));
    const c = connector();
    expect(await c.fetch('stock', ['A-1', 'C-1'])).toEqual([
      { code: 'A-1', location: '10', onHand: 10, committed: 2, asOf: new Date('2026-11-30T00:00:00Z') },
      { code: 'C-1', location: '20', onHand: 5, committed: 0, asOf: new Date('2026-11-30T00:00:00Z') },
    ]);
    await c.close();
  });

  it('refuses a newer file with a record that cannot be read, naming it, and keeps serving the last good one', async () => {
    writeFileSync(join(dir, 'shipbob-2026-11-29.json'), JSON.stringify(page([shipBobItem(1, 'A-1', { 10: [9, 2] })])));
    const rejected: RejectedFile[] = [];
    const c = connector(rejected);
    expect((await c.fetch('stock', ['A-1']))[0]?.onHand).toBe(9);

    writeFileSync(join(dir, 'shipbob-2026-11-30.json'), JSON.stringify(page([shipBobItem(1, 'A-1', { 10: [3, 0] }), shipBobItem(2, 'B-1', { 10: [2.5, 0] })])));
    await c.ping();
    expect(rejected.map((r) => r.reason)).toEqual(['record 2: onHand: not a whole quantity: 2.5']);
    expect(await c.fetch('stock', ['A-1'])).toEqual([expect.objectContaining({ onHand: 9, snapshotFallback: true })]);

    writeFileSync(join(dir, 'shipbob-2026-12-01.json'), '{"items": [');
    await c.ping();
    expect(rejected.at(-1)?.reason).toMatch(/^not JSON \(a half-written file\?\)/);
    await c.close();
  });
});

describe('configuration of a json file', () => {
  const yaml = (stock: string, path = './shipbob-*.json') => `store: { client: better-sqlite3, connection: ./g.sqlite }
sources:
  tpl:
    kind: csv
    path: ${path}
    stock: ${stock}
locations: [{ id: FC, codes: { tpl: "10" } }]
precedence: { quantity: [tpl] }
`;
  const problems = (text: string) => {
    try {
      parseConfig(text, join(dir, 'x.yaml'));
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  it('takes records + fields for .json and columns for .csv, and says so otherwise', () => {
    expect(problems(yaml(JSON.stringify(MAPPING)))).toEqual([]);
    expect(problems(yaml('{ columns: { sku: sku, location: loc, onHand: qty } }'))).toEqual([
      'sources.tpl.stock: a `json` file is mapped by `records` + `fields`, not `columns`',
    ]);
    expect(problems(yaml(JSON.stringify(MAPPING), './inv-*.csv'))).toEqual([
      'sources.tpl.stock: a csv or jsonl file is mapped by `columns`; `fields` are for `format: json`',
    ]);
    expect(problems(yaml('{ fields: { sku: "^^.sku", location: loc, onHand: qty }, records: "items[*]" }'))).toEqual([
      'sources.tpl.stock: fields.sku: "^^.sku" goes 2 levels up, but a row has only 1 above it (no `each`)',
    ]);
  });
});
