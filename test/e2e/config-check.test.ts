/**
 * `inventory-graph config check --connect` as a user runs it: every mapping of every source
 * tried against a real SQLite file, a real MariaDB database and a real 3PL file, one plain line
 * per source and entity, exit 1 when one fails (and never a stack trace), 0 when all answer.
 * Without --connect it stays the offline check. Also: the two query mappings that used to pass
 * the offline check and fail at start (a stock query without committed/asOf, a cost query with
 * a fixed currency) answer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMariaDbDatabase, createSqliteDatabase, mariadb, type TestDatabase } from '../helpers/databases.js';
import { runCli } from '../helpers/serving.js';

const run = (args: string[]) => runCli(args);

let dir: string;
let lite: TestDatabase;
let maria: TestDatabase;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-config-check-'));
  [lite, maria] = await Promise.all([createSqliteDatabase(), createMariaDbDatabase()]);
  for (const t of [lite, maria]) {
    await t.exec('create table bins (item_code varchar(64) not null, wh varchar(32) not null, qty integer not null)');
    await t.exec('create table items (item_no varchar(64) not null, title varchar(255) not null)');
    await t.exec('create table item_cost (item_no varchar(64) not null, std_cost decimal(12,4) not null)');
    await t.db('bins').insert([
      { item_code: 'A-1', wh: 'EAST', qty: 5 },
      { item_code: 'A-1', wh: 'EAST', qty: 2 },
      { item_code: 'B-2', wh: 'EAST', qty: 1 },
    ]);
    await t.db('items').insert([{ item_no: 'A-1', title: 'Widget' }]);
    await t.db('item_cost').insert([{ item_no: 'A-1', std_cost: '1.5000' }]);
  }
  writeFileSync(join(dir, 'tpl-2026-11-30.csv'), 'sku,location,qty\nA-1,W01,3\nB-2,W01,4\nC-3,W01,0\n');
});

afterAll(async () => {
  await Promise.all([lite?.cleanup(), maria?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

/** A config over the three sources; `sources` adds to or replaces the good ones. */
function config(name: string, sources: Record<string, string>): string {
  const all: Record<string, string> = {
    erp: `
    kind: sql
    client: better-sqlite3
    connection: ${JSON.stringify(lite.connection)}
    # the query gives neither committed nor asOf: both are optional
    stock: { query: "select item_code as sku, wh as location, qty as onHand from bins" }
    # a fixed currency next to a query without a currency alias
    cost: { query: "select item_no as sku, std_cost as unitCost from item_cost", currency: EUR }
    items: { table: items, columns: { sku: item_no, name: title } }`,
    wms: `
    kind: sql
    client: mysql2
    connection: ${maria.connection}
    stock: { table: bins, columns: { sku: item_code, location: wh, onHand: qty } }
    items: { table: items, columns: { sku: item_no, name: title } }`,
    tpl: `
    kind: csv
    path: ./tpl-*.csv
    stock: { columns: { sku: sku, location: location, onHand: qty } }`,
    ...sources,
  };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `store: { client: better-sqlite3, connection: ./store.sqlite }
sources:
${Object.entries(all)
  .map(([k, v]) => `  ${k}:${v}`)
  .join('\n')}
locations:
  - { id: EAST, codes: { erp: EAST, wms: EAST } }
  - { id: W01, codes: { tpl: W01 } }
precedence:
  quantity: [${Object.keys(all).join(', ')}]
`,
  );
  return file;
}

describe('inventory-graph config check --connect', () => {
  it('prints one ok line per source and entity, with what each holds, and exits 0', async () => {
    const file = config('good', {});
    const r = await run(['config', 'check', file, '--connect']);

    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'erp  stock  ok      2 codes',
        'erp  cost   ok      1 code',
        'erp  items  ok      1 code',
        'wms  stock  ok      2 codes',
        'wms  items  ok      1 code',
        'tpl  stock  ok      3 codes, 3 rows in tpl-2026-11-30.csv',
        `${file}: ok, every mapping answers`,
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
  });

  it('names the entity and what is wrong with it, checks the rest, and exits 1 without a stack trace', async () => {
    const file = config('broken', {
      erp: `
    kind: sql
    client: better-sqlite3
    connection: ${JSON.stringify(lite.connection)}
    stock: { query: "select item_code as sku, wh as location, qty from bins" }
    cost: { table: "tabItem Price", columns: { sku: item_no, unitCost: std_cost }, currency: USD }
    items: { table: items, columns: { sku: item_no, name: title } }`,
      wms: `
    kind: sql
    client: mysql2
    connection: ${maria.connection}
    stock: { table: bins, columns: { sku: item_code, location: wh, onHand: qty } }
    items: { table: items, columns: { sku: item_no, name: description } }`,
      down: `
    kind: sql
    client: mysql2
    connection: ${mariadb.unreachable()}
    stock: { table: bins, columns: { sku: item_code, location: wh, onHand: qty } }`,
    });
    const r = await run(['config', 'check', '--config', file, '--connect']);

    expect(r.stdout).toBe(
      [
        'erp   stock  FAILED  its query gives no `onHand` column; it gives sku, location, qty',
        'erp   cost   FAILED  table "tabItem Price" does not exist',
        'erp   items  ok      1 code',
        'wms   stock  ok      2 codes',
        'wms   items  FAILED  column "description" does not exist',
        'tpl   stock  ok      3 codes, 3 rows in tpl-2026-11-30.csv',
        'down  stock  FAILED  connection refused',
        `${file}: 4 of 7 mappings FAILED`,
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(1);
  });

  it('names the refused newest file of a file source', async () => {
    const sub = mkdtempSync(join(dir, 'files-'));
    writeFileSync(join(sub, 'tpl-2026-11-29.csv'), 'sku,location,qty\nA-1,W01,3\n');
    writeFileSync(join(sub, 'tpl-2026-11-30.csv'), 'sku,location,quantity\nA-1,W01,3\n');
    const file = config('files', {
      tpl: `
    kind: csv
    path: ${JSON.stringify(join(sub, 'tpl-*.csv'))}
    stock: { columns: { sku: sku, location: location, onHand: qty } }`,
    });
    const r = await run(['config', 'check', file, '--connect']);

    expect(r.stdout).toContain(
      'tpl  stock  FAILED  the newest file tpl-2026-11-30.csv:1 was refused: missing column "qty" (header: sku,location,quantity) (tpl-2026-11-29.csv keeps serving)\n',
    );
    expect(r.code).toBe(1);
  });

  it('stays the offline check without --connect: a wrong table is not looked for', async () => {
    const file = config('offline', {
      erp: `
    kind: sql
    client: better-sqlite3
    connection: ${JSON.stringify(lite.connection)}
    stock: { table: no_such_table, columns: { sku: item_code, location: wh, onHand: qty } }`,
    });
    const r = await run(['config', 'check', file]);

    expect(r).toEqual({ code: 0, stdout: `${file}: ok\n`, stderr: '' });
  });

  it('documents --connect in its help', async () => {
    const r = await run(['config', 'check', '--help']);

    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--connect');
    expect(r.stdout).toContain('erp  cost   FAILED  table "tabItem Price" does not exist');
  });
});
