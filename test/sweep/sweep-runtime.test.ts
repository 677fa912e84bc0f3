/**
 * The sweep as the runtime runs it (src/service/sweep.ts), over a live WMS on SQLite and a live
 * ERP on MariaDB, the store on MariaDB: what one run costs in statements (counted twice: by the
 * run and by the drivers), one run at a time, stale sources found and resolved, a source that
 * fails keeping its anomalies open, and a store that fails ending the run as FAILED.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/logger.js';
import { createRuntime, type Runtime } from '../../src/service/runtime.js';
import { mariadb, sqlite, type TestDatabase } from '../helpers/databases.js';
import { addWms, anomalies, createErp, createWms, writeConfig, type ConfigOptions, type StockRow } from './fixtures.js';

let dir: string;
let wms: TestDatabase;
let erp: TestDatabase;
let storeDb: TestDatabase;
let runtime: Runtime | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-sweep-'));
  [wms, erp, storeDb] = await Promise.all([sqlite.create(), mariadb.create(), mariadb.create()]);
});

afterEach(async () => {
  await runtime?.close({ flushMs: 1000 });
  runtime = undefined;
  await Promise.all([wms?.cleanup(), erp?.cleanup(), storeDb?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

const sku = (i: number) => `SKU-${String(i).padStart(5, '0')}`;

async function start(o: Partial<ConfigOptions> = {}): Promise<Runtime> {
  const file = writeConfig(dir, {
    store: { client: 'mysql2', connection: storeDb.connection },
    wms: { backend: sqlite, connection: wms.connection },
    erp: { backend: mariadb, connection: erp.connection },
    ...o,
  });
  runtime = await createRuntime(loadConfig(file), { logger: silentLogger, health: false });
  return runtime;
}

/** `n` SKUs, each with a WMS code (W-i) and an ERP code (E-i). */
async function catalogue(r: Runtime, n: number): Promise<void> {
  const skus = Array.from({ length: n }, (_, i) => ({
    sku: sku(i),
    name: null,
    aliases: [
      { system: 'wms', code: `W-${i}` },
      { system: 'erp', code: `E-${i}` },
    ],
  }));
  await r.store.skus.import(skus);
}

describe('one sweep over 1,200 SKUs with maxSkusPerQuery 500', () => {
  it('costs 3 stock statements per live source and 2 code pages per source, counted by the run and by the drivers alike', async () => {
    const n = 1200;
    const wmsRows: StockRow[] = Array.from({ length: n }, (_, i) => ({ code: `W-${i}`, location: 'EAST', qty: i === 7 ? -2 : 5 }));
    // one code no SKU maps: an orphan
    wmsRows.push({ code: 'W-ORPHAN', location: 'EAST', qty: 1 });
    await createWms(wms, sqlite, wmsRows);
    await createErp(
      erp,
      Array.from({ length: n }, (_, i) => ({ code: `E-${i}`, location: 'NYC', qty: i === 1100 ? -1 : 3 })),
    );
    const r = await start();
    await catalogue(r, n);

    const spies = [sqlite.spyOnStatements(), mariadb.spyOnStatements()];
    let run;
    try {
      // asked twice while it runs: one run, joined
      const [a, b] = await Promise.all([r.sweep.run(), r.sweep.run()]);
      expect(b).toBe(a);
      run = a;
    } finally {
      for (const s of spies) s.restore();
    }
    const sent = spies.flatMap((s) => s.sql).filter((q) => /wms_stock|erp_inv/.test(q));
    // ceil(1200 / 500) = 3 batches per live source; 1,201 and 1,200 codes: 2 pages of 1,000 each
    expect(sent.filter((q) => /wms_stock/.test(q))).toHaveLength(3 + 2);
    expect(sent.filter((q) => /erp_inv/.test(q))).toHaveLength(3 + 2);
    expect(run).toMatchObject({ status: 'COMPLETED', skus: 1200, codes: 2401, statements: 10, failures: [], error: null, orphansBySource: { wms: 1, erp: 0 } });
    expect(run.byKind).toEqual({
      NEGATIVE_ON_HAND: { found: 2, resolved: 0 },
      ORPHAN_CODE: { found: 1, resolved: 0 },
      STALE_SOURCE: { found: 0, resolved: 0 },
    });
    expect(r.sweep.orphanCount('wms')).toBe(1);
    expect(r.sweep.orphanCount('erp')).toBe(0);

    const found = await anomalies(storeDb.db);
    expect(found.map((a) => [a.kind, a.sku ?? a.code, a.location, a.source, a.status])).toEqual([
      ['NEGATIVE_ON_HAND', sku(7), 'DC-EAST', 'wms', 'OPEN'],
      ['NEGATIVE_ON_HAND', sku(1100), 'STORE-NYC', 'erp', 'OPEN'],
      ['ORPHAN_CODE', 'W-ORPHAN', null, 'wms', 'OPEN'],
    ]);
    // by hand only (intervalSeconds 0): no next one
    expect(r.sweep.status()).toEqual({ intervalSeconds: 0, running: false, last: run, nextAt: null });
  });
});

describe('what clears resolves itself; what cannot be read stays open', () => {
  it('finds a stale source, and resolves it (acknowledged too) by sweep once its figures are fresh', async () => {
    const old = new Date(Date.now() - 2 * 3600_000);
    await createWms(wms, sqlite, [
      { code: 'W-0', location: 'EAST', qty: 4, asOf: old },
      { code: 'W-1', location: 'EAST', qty: 4, asOf: new Date(old.getTime() + 60_000) },
    ]);
    await createErp(erp, [{ code: 'E-0', location: 'NYC', qty: 1 }]);
    const r = await start({ wmsMaxAge: 3600 });
    await catalogue(r, 2);

    const first = await r.sweep.run();
    expect(first.byKind.STALE_SOURCE).toEqual({ found: 1, resolved: 0 });
    const [stale] = await anomalies(storeDb.db, 'STALE_SOURCE');
    expect(stale).toMatchObject({ source: 'wms', status: 'OPEN' });
    await r.store.anomalies.acknowledge(String(stale!.id), 'looking into the WMS export', 'ops');

    // a sweep that still finds it stale leaves it as it is
    expect((await r.sweep.run()).byKind.STALE_SOURCE).toEqual({ found: 1, resolved: 0 });
    expect((await anomalies(storeDb.db, 'STALE_SOURCE'))[0]).toMatchObject({ status: 'ACKNOWLEDGED' });

    await addWms(wms, [{ code: 'W-1', location: 'EAST', qty: 1 }]);
    const third = await r.sweep.run();
    expect(third.byKind.STALE_SOURCE).toEqual({ found: 0, resolved: 1 });
    const [after] = await anomalies(storeDb.db, 'STALE_SOURCE');
    expect(after).toMatchObject({ status: 'RESOLVED', resolved_by: 'sweep' });
    expect(after!.resolution_note).toMatch(/^cleared: the sweep of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ found the newest figure of wms within its maxAgeSeconds$/);
  });

  it('keeps a failed source’s anomalies open (PARTIAL, the failure named) while it resolves the others', async () => {
    await createWms(wms, sqlite, [
      { code: 'W-0', location: 'EAST', qty: -3 },
      { code: 'W-1', location: 'EAST', qty: 2 },
    ]);
    await createErp(erp, [
      { code: 'E-0', location: 'NYC', qty: 2 },
      { code: 'E-1', location: 'NYC', qty: -5 },
      { code: 'E-ORPHAN', location: 'NYC', qty: 1 },
    ]);
    const r = await start();
    await catalogue(r, 2);
    const first = await r.sweep.run();
    expect(first).toMatchObject({ status: 'COMPLETED', found: 3 });

    // the WMS's negative is corrected; the ERP's table is gone
    await wms.exec("update wms_stock set qty = 6 where sku_code = 'W-0'");
    await erp.exec('drop table erp_inv');
    const second = await r.sweep.run();
    expect(second.status).toBe('PARTIAL');
    expect(second.failures).toEqual([{ source: 'erp', error: expect.stringContaining('erp_inv') }]);
    expect(second.byKind).toEqual({
      NEGATIVE_ON_HAND: { found: 0, resolved: 1 },
      ORPHAN_CODE: { found: 0, resolved: 0 },
      STALE_SOURCE: { found: 0, resolved: 0 },
    });

    const all = await anomalies(storeDb.db);
    expect(all.map((a) => [a.kind, a.source, a.sku ?? a.code, a.status, a.resolved_by])).toEqual([
      ['NEGATIVE_ON_HAND', 'wms', sku(0), 'RESOLVED', 'sweep'],
      ['NEGATIVE_ON_HAND', 'erp', sku(1), 'OPEN', null],
      ['ORPHAN_CODE', 'erp', 'E-ORPHAN', 'OPEN', null],
    ]);
    expect(all[0]!.resolution_note).toMatch(/^cleared: the sweep of \S+ found no negative on-hand for SKU-00000 at DC-EAST from wms$/);
    // the ERP listed no code to its end: no orphan count for it from this run
    expect(second.orphansBySource).toEqual({ wms: 0 });
    expect(r.sweep.orphanCount('erp')).toBe(1);
  });

  it('ends as FAILED when the store fails, resolving nothing', async () => {
    await createWms(wms, sqlite, [{ code: 'W-0', location: 'EAST', qty: -1 }]);
    await createErp(erp, []);
    const r = await start();
    await catalogue(r, 1);
    await storeDb.exec('drop table anomalies');
    const run = await r.sweep.run();
    expect(run).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^the store failed: .*anomalies/), resolved: 0 });
    expect(r.sweep.status()?.last).toBe(run);
  });
});
