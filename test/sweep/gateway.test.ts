/**
 * The sweep in the gateway as users run it (`inventory-graph start`, a child process, SQLite
 * sources and store): anomalies appear without any query, and resolve themselves (by `sweep`,
 * with a note) once the source is corrected or the orphan mapped with `skus import`; a source
 * that cannot be reached makes the run PARTIAL, named in `Query.sweep`.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKnex } from '../../src/db/knex.js';
import { eventually } from '../feeds/feed-helpers.js';
import { sqlite, type TestDatabase } from '../helpers/databases.js';
import { runCli, startGateway } from '../helpers/serving.js';
import { anomalies, createErp, createWms, skuMapCsv, writeConfig, type ConfigOptions } from './fixtures.js';

const children = new Set<ChildProcess>();
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

let dir: string;
let wms: TestDatabase;
let erp: TestDatabase;
let store: Knex | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-sweep-gw-'));
  [wms, erp] = await Promise.all([sqlite.create(), sqlite.create()]);
});

afterEach(async () => {
  for (const c of children) c.kill('SIGTERM');
  await store?.destroy();
  store = undefined;
  await Promise.all([wms?.cleanup(), erp?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

function config(o: Partial<ConfigOptions> = {}): string {
  return writeConfig(dir, {
    store: { client: 'better-sqlite3', connection: join(dir, 'store.sqlite') },
    wms: { backend: sqlite, connection: wms.connection },
    erp: { backend: sqlite, connection: erp.connection },
    sweep: '{ intervalSeconds: 1, startAfterSeconds: 0 }',
    ...o,
  });
}

async function gql<T>(url: string, query: string): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const body = (await res.json()) as { data: T; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}

const SWEEP = '{ sweep { intervalSeconds running nextAt last { status skus codes found resolved statements failures { source error } error } } }';

interface SweepAnswer {
  sweep: {
    intervalSeconds: number;
    running: boolean;
    nextAt: string | null;
    last: {
      status: string;
      skus: number;
      codes: number;
      found: number;
      resolved: number;
      statements: number;
      failures: { source: string; error: string }[];
      error: string | null;
    } | null;
  };
}

describe('the gateway with sweep.intervalSeconds', () => {
  it('records a negative and an orphan without any query, then resolves them by sweep once corrected and mapped', async () => {
    await createWms(wms, sqlite, [
      { code: 'W-1', location: 'EAST', qty: -4 },
      { code: 'W-2', location: 'EAST', qty: 3 },
      { code: 'W-NEW', location: 'EAST', qty: 7 },
    ]);
    await createErp(erp, [{ code: 'E-1', location: 'NYC', qty: 2 }]);
    const file = config();
    const map = skuMapCsv(dir, [
      ['SKU-1', 'wms', 'W-1'],
      ['SKU-1', 'erp', 'E-1'],
      ['SKU-2', 'wms', 'W-2'],
    ]);
    expect((await runCli(['skus', 'import', map, '--config', file], { env: { LOG_LEVEL: 'silent' } })).code).toBe(0);

    const gw = await startGateway(file, children);
    store = createKnex({ client: 'better-sqlite3', connection: join(dir, 'store.sqlite') });
    const db = store;
    // nobody asked about SKU-1 or W-NEW
    await eventually(async () => {
      const found = await anomalies(db);
      expect(found.map((a) => [a.kind, a.sku ?? a.code, a.location, a.source, a.status])).toEqual([
        ['NEGATIVE_ON_HAND', 'SKU-1', 'DC-EAST', 'wms', 'OPEN'],
        ['ORPHAN_CODE', 'W-NEW', null, 'wms', 'OPEN'],
      ]);
    });
    const status = await gql<SweepAnswer>(gw.url, SWEEP);
    expect(status.sweep).toMatchObject({ intervalSeconds: 1, last: { status: 'COMPLETED', skus: 2, codes: 4, found: 2, failures: [], error: null } });
    // two SKUs: one batch per source; three WMS codes and one ERP code: one page each
    expect(status.sweep.last!.statements).toBe(4);

    // someone is on the negative: acknowledged, it is still resolved when it clears
    const negative = (await anomalies(db, 'NEGATIVE_ON_HAND'))[0]!;
    await gql(gw.url, `mutation { acknowledgeAnomaly(id: "${negative.id}", note: "counting the bin") { status } }`);

    await wms.exec("update wms_stock set qty = 5 where sku_code = 'W-1'");
    const more = skuMapCsv(dir, [['SKU-3', 'wms', 'W-NEW']], 'more.csv');
    expect((await runCli(['skus', 'import', more, '--config', file], { env: { LOG_LEVEL: 'silent' } })).code).toBe(0);

    await eventually(async () => {
      const found = await anomalies(db);
      expect(found.map((a) => [a.kind, a.status, a.resolved_by])).toEqual([
        ['NEGATIVE_ON_HAND', 'RESOLVED', 'sweep'],
        ['ORPHAN_CODE', 'RESOLVED', 'sweep'],
      ]);
      expect(found[0]!.resolution_note).toMatch(/^cleared: the sweep of \S+Z found no negative on-hand for SKU-1 at DC-EAST from wms$/);
      expect(found[1]!.resolution_note).toMatch(/^cleared: the sweep of \S+Z listed every code of wms: "W-NEW" is mapped to a canonical SKU now, or gone$/);
    });
  });

  it('keeps the anomalies of a source it cannot reach open, and says PARTIAL naming it', async () => {
    await createWms(wms, sqlite, [{ code: 'W-1', location: 'EAST', qty: 1 }]);
    await createErp(erp, [{ code: 'E-1', location: 'NYC', qty: -2 }]);
    const file = config({ sweep: '{ intervalSeconds: 0 }' });
    const map = skuMapCsv(dir, [
      ['SKU-1', 'wms', 'W-1'],
      ['SKU-1', 'erp', 'E-1'],
    ]);
    expect((await runCli(['skus', 'import', map, '--config', file], { env: { LOG_LEVEL: 'silent' } })).code).toBe(0);
    const once = await runCli(['sweep', '--config', file], { env: { LOG_LEVEL: 'silent' } });
    expect(once.code).toBe(0);

    // the ERP's database goes away; the gateway sweeps every second
    const gone = config({ erp: { backend: sqlite, connection: sqlite.unreachable() } });
    const gw = await startGateway(gone, children);
    const answer = await eventually(async () => {
      const s = await gql<SweepAnswer>(gw.url, SWEEP);
      expect(s.sweep.last?.status).toBe('PARTIAL');
      return s;
    });
    expect(answer.sweep.last!.failures).toEqual([{ source: 'erp', error: expect.stringMatching(/cannot open its database/) }]);
    store = createKnex({ client: 'better-sqlite3', connection: join(dir, 'store.sqlite') });
    expect((await anomalies(store)).map((a) => [a.kind, a.source, a.status])).toEqual([['NEGATIVE_ON_HAND', 'erp', 'OPEN']]);
  });
});
