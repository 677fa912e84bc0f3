/**
 * SKU matching as a user meets it: `inventory-graph skus match` (counts, dry run, conflicts, exit
 * codes) and the gateway itself, started as a child process with no CSV import at all, whose
 * availability for a canonical SKU includes the stock of systems matched to it by barcode.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { sqlite, type TestDatabase } from '../helpers/databases.js';
import { startGateway, runCli } from '../helpers/serving.js';
import { addErpItems, addWmsItems, addWooProducts, configYaml, createSystems } from './fixtures.js';

const run = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'silent' } });

const RULES = `  catalogue: erp
  match:
    - { identifier: barcode, systems: [woo, wms] }
    - { identifier: supplierPart, systems: [wms] }`;

const children = new Set<ChildProcess>();
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

let sources: TestDatabase;
let dir: string;
let storeFile: string;

beforeEach(async () => {
  sources = await sqlite.create();
  dir = mkdtempSync(join(tmpdir(), 'ig-sku-match-'));
  storeFile = join(dir, 'store.sqlite');
  await createSystems(sources);
  await addErpItems(sources, [
    { code: 'ERP-1', barcodes: ['4006381333931'], stock: { 'Stores - AC': 5 } },
    { code: 'ERP-2', barcodes: ['0012345678905'], supplierParts: ['P-2'], stock: { 'Stores - AC': 2 } },
  ]);
  await addWooProducts(sources, [
    { id: 1, sku: 'woo-1', gtin: '4006381333931', stock: 3 },
    { id: 2, sku: 'woo-2', gtin: '012345678905', stock: 4 },
    { id: 3, sku: 'woo-3', gtin: '9999999999994', stock: 1 },
  ]);
  await addWmsItems(sources, [{ code: 'W-1', ean: '4006381333931', stock: { EAST: 7 } }]);
});

afterEach(async () => {
  await sources?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(skuMap = RULES, server = '', edit = (yaml: string) => yaml): string {
  const file = join(dir, 'inventory-graph.yaml');
  writeFileSync(file, edit(configYaml(sqlite, sources, { client: 'better-sqlite3', connection: storeFile }, skuMap, server)));
  return file;
}

async function storedAliases(): Promise<string[]> {
  const store = await openStore({ client: 'better-sqlite3', connection: storeFile });
  try {
    const rows = (await store.db('sku_aliases').select('system', 'code', 'sku')) as { system: string; code: string; sku: string }[];
    return rows.map((a) => `${a.system}/${a.code} -> ${a.sku}`).sort();
  } finally {
    await store.close();
  }
}

describe('inventory-graph skus match', () => {
  it('counts without writing on --dry-run, then writes, then finds nothing to change', async () => {
    const file = writeConfig();

    const dry = await run(['skus', 'match', '--config', file, '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toBe(
      'SKU matching (dry run: nothing written): 5 matched, 0 unchanged, 0 removed, 0 conflicts, 1 unmatched, 0 left to hand-written aliases\n',
    );
    expect(await storedAliases()).toEqual([]);

    const wet = await run(['skus', 'match', '--config', file]);
    expect(wet.stdout).toBe('SKU matching: 5 matched, 0 unchanged, 0 removed, 0 conflicts, 1 unmatched, 0 left to hand-written aliases\n');
    expect(await storedAliases()).toEqual(['erp/ERP-1 -> ERP-1', 'erp/ERP-2 -> ERP-2', 'wms/W-1 -> ERP-1', 'woo/woo-1 -> ERP-1', 'woo/woo-2 -> ERP-2']);

    const again = await run(['skus', 'match', '--config', file]);
    expect(again.stdout).toBe('SKU matching: 0 matched, 5 unchanged, 0 removed, 0 conflicts, 1 unmatched, 0 left to hand-written aliases\n');
  });

  it('prints the first conflicts', async () => {
    await addErpItems(sources, [{ code: 'ERP-9', barcodes: ['4006381333931'] }]);
    const file = writeConfig();

    const r = await run(['skus', 'match', '--config', file]);

    expect(r.code).toBe(0);
    expect(r.stdout).toContain('3 conflicts');
    expect(r.stdout.split('\n').slice(1, 5)).toEqual([
      'Conflicts:',
      '  - erp items "ERP-1" and "ERP-9" share barcode "04006381333931": it matches no other system\'s code until one of them drops it',
      '  - woo code "woo-1" matches more than one SKU: its barcode "04006381333931" is shared by two catalogue items; no alias derived (write one by hand to decide)',
      '  - wms code "W-1" matches more than one SKU: its barcode "04006381333931" is shared by two catalogue items; no alias derived (write one by hand to decide)',
    ]);
  });

  it('says so when there is no catalogue (exit 2), and when a source fails (exit 3)', async () => {
    const none = await run(['skus', 'match', '--config', writeConfig('  intervalSeconds: 0')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/skuMap\.catalogue is not set/);

    await sources.exec('drop table `tabItem Barcode`');
    const failed = await run(['skus', 'match', '--config', writeConfig()]);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/^inventory-graph skus match: failed: .*tabItem Barcode/m);
  });

  it('prints its help, and refuses an unknown flag', async () => {
    const help = await run(['skus', 'match', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: inventory-graph skus match \[--config FILE\] \[--dry-run\]/);
    const bad = await run(['skus', 'match', '--dryrun']);
    expect(bad).toMatchObject({ code: 2, stderr: 'inventory-graph skus match: unknown flag --dryrun; see inventory-graph skus match --help\n' });
  });
});

describe('the gateway with skuMap and no SKU import', () => {
  it('matches at start, in the background: availability for a canonical SKU adds the stock of the systems matched by barcode', async () => {
    // the shop mirrored: its identifiers are still read from the source itself
    const file = writeConfig(RULES, 'auth: { open: true }\n', (y) => y.replace('  woo:\n', '  woo:\n    sync: { mode: mirror }\n'));
    const gw = await startGateway(file, children);
    const query = async () => {
      const res = await fetch(gw.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: '{ availability(skus: ["ERP-1", "ERP-2"]) { sku onHand flags byLocation { location { id } onHand provenance { source } } } }',
        }),
      });
      return (await res.json()) as {
        data: {
          availability: {
            sku: string;
            onHand: number;
            flags: string[];
            byLocation: { location: { id: string }; onHand: number; provenance: { source: string } }[];
          }[];
        };
      };
    };
    // matching runs after start-up, system after system: until it has written the map, a SKU is unknown or a location unanswered
    const done = (b: Awaited<ReturnType<typeof query>>) => b.data.availability.every((a) => a.byLocation.every((l) => l.provenance.source !== null));
    let body = await query();
    for (let i = 0; i < 100 && !done(body); i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = await query();
    }
    const [one, two] = body.data.availability;
    // ERP-1: the WMS's W-1 (matched by barcode) wins DC-EAST, the shop's woo-1 (by GTIN) is WEB
    expect(one?.byLocation.map((l) => [l.location.id, l.onHand, l.provenance.source])).toEqual([
      ['DC-EAST', 7, 'wms'],
      ['WEB', 3, 'woo'],
    ]);
    expect(one?.onHand).toBe(10);
    // ERP-2: the ERP's own stock at DC-EAST, and woo-2 matched by its 12-digit UPC
    expect(two?.byLocation.map((l) => [l.location.id, l.onHand, l.provenance.source])).toEqual([
      ['DC-EAST', 2, 'erp'],
      ['WEB', 4, 'woo'],
    ]);
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  });
});
