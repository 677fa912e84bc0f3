/**
 * `inventory-graph sweep` as an operator (or a cron job) runs it: a summary line and one line per
 * kind; exit 0 completed, 1 partial (a source failed, named), 2 a config error, 3 failed (the store).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKnex } from '../../src/db/knex.js';
import { mariadb, sqlite, type TestDatabase } from '../helpers/databases.js';
import { runCli } from '../helpers/serving.js';
import { createErp, createWms, skuMapCsv, writeConfig, type ConfigOptions } from './fixtures.js';

const run = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'silent' } });

let dir: string;
let wms: TestDatabase;
let erp: TestDatabase;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-sweep-cli-'));
  [wms, erp] = await Promise.all([sqlite.create(), mariadb.create()]);
  await createWms(wms, sqlite, [
    { code: 'W-1', location: 'EAST', qty: -4 },
    { code: 'W-ORPHAN', location: 'EAST', qty: 2 },
  ]);
  await createErp(erp, [{ code: 'E-1', location: 'NYC', qty: 3 }]);
});

afterEach(async () => {
  await Promise.all([wms?.cleanup(), erp?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

async function setUp(o: Partial<ConfigOptions> = {}): Promise<string> {
  const file = writeConfig(dir, {
    store: { client: 'better-sqlite3', connection: join(dir, 'store.sqlite') },
    wms: { backend: sqlite, connection: wms.connection },
    erp: { backend: mariadb, connection: erp.connection },
    ...o,
  });
  const map = skuMapCsv(dir, [
    ['SKU-1', 'wms', 'W-1'],
    ['SKU-1', 'erp', 'E-1'],
  ]);
  expect((await run(['skus', 'import', map, '--config', file])).code).toBe(0);
  return file;
}

const HEAD = /^Sweep of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

describe('inventory-graph sweep', () => {
  it('prints the run and each kind, exit 0; run again, nothing new', async () => {
    const file = await setUp();
    const r = await run(['sweep', '--config', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(HEAD);
    // one SKU: a stock statement per source; 2 WMS codes and 1 ERP code: a page each
    expect(lines[0]!.replace(HEAD, '')).toBe('COMPLETED: 1 SKUs, 3 codes listed, 4 source statements; 2 found, 0 resolved');
    expect(lines.slice(1)).toEqual([
      '  NEGATIVE_ON_HAND: 1 found, 0 resolved',
      '  ORPHAN_CODE: 1 found, 0 resolved',
      '  STALE_SOURCE: 0 found, 0 resolved',
      '',
    ]);

    await wms.exec("update wms_stock set qty = 1 where sku_code = 'W-1'");
    const again = await run(['sweep', '--config', file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('1 found, 1 resolved\n  NEGATIVE_ON_HAND: 0 found, 1 resolved\n  ORPHAN_CODE: 1 found, 0 resolved\n');
  });

  it('exits 1 when a source fails, naming it', async () => {
    const file = await setUp({ erp: { backend: mariadb, connection: mariadb.unreachable() } });
    const r = await run(['sweep', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ PARTIAL: 1 SKUs, /);
    expect(r.stdout).toMatch(/\n {2}failed: erp: .+ \(its anomalies were left open\)\n$/);
  });

  it('exits 3 when the store fails, saying why', async () => {
    const file = await setUp();
    const db = createKnex({ client: 'better-sqlite3', connection: join(dir, 'store.sqlite') });
    try {
      await db.schema.dropTable('anomalies');
    } finally {
      await db.destroy();
    }
    const r = await run(['sweep', '--config', file]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/ FAILED: /);
    expect(r.stderr).toMatch(/^inventory-graph sweep: failed: the store failed: .*anomalies/m);
  });

  it('exits 2 on a config error or a bad flag, and prints its help', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'sweep: { intervalSeconds: -1 }\n');
    const bad = await run(['sweep', '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/sweep\.intervalSeconds/);
    expect((await run(['sweep', '--bogus'])).code).toBe(2);
    const help = await run(['sweep', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: inventory-graph sweep \[--config FILE\]/);
    expect((await run(['--help'])).stdout).toContain('inventory-graph sweep [--config FILE]');
  });
});
