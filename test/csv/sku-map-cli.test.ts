/**
 * The SKU map's CSV commands, run as a user runs them (`bin/inventory-graph.mjs` in a child
 * process) on a real store, SQLite and MariaDB: `skus import` merges (and says so, with counts)
 * or with `--replace` makes the file the whole list of each system it covers; a bad file has
 * every bad line reported at once and nothing written; `skus remove` takes codes (from flags or a
 * file) or whole SKUs out, refusing by name what the map does not have.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';
import { runCli } from '../helpers/serving.js';

const run = (args: string[]) => runCli(args);

const source = (name: string) => `  ${name}: { kind: csv, path: ./${name}-*.csv, stock: { columns: { sku: s, location: l, onHand: q } } }\n`;

for (const backend of BACKENDS) {
  describe(`the SKU map commands (${backend.name})`, () => {
    let dir: string;
    let database: TestDatabase;
    let config: string;
    let store: Store;
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    /** Every alias in the map, as `system code -> sku`, sorted. */
    const aliases = async () =>
      ((await store.db('sku_aliases').select('system', 'code', 'sku')) as { system: string; code: string; sku: string }[])
        .map((a) => `${a.system} ${a.code} -> ${a.sku}`)
        .sort();
    const skus = async () =>
      ((await store.db('skus').select('sku', 'name').orderBy('sku')) as { sku: string; name: string | null }[]).map((s) => `${s.sku} ${s.name ?? '-'}`);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ig-sku-cli-'));
      database = await backend.create();
      config = file(
        'inventory-graph.yaml',
        `store: { client: ${backend.client}, connection: ${JSON.stringify(database.connection)} }
sources:
${source('erp')}${source('wms')}${source('shop')}locations:
  - { id: DC, codes: { erp: D, wms: D, shop: D } }
precedence: { quantity: [wms, erp, shop] }
`,
      );
      // the store's tables, as the command makes them
      store = await openStore({ client: backend.client, connection: database.connection });
    });
    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('merges, says so with counts, and keeps what the file lacks', async () => {
      const first = await run([
        'skus',
        'import',
        file('map.csv', 'sku,name,erp,wms,shop\nA,Tent,100-A,WA,\nB,Lamp,100-B,WB,SB\nC,,100-C,,\n'),
        '--config',
        config,
      ]);
      expect(first).toMatchObject({ code: 0, stderr: '' });
      expect(first.stdout).toBe(
        `merged ${join(dir, 'map.csv')}: 3 SKUs (3 new), 6 aliases added, 0 moved from another SKU, 0 unchanged; aliases not in the file were kept (--replace removes them)\n`,
      );

      // B's shop code moves to C, A's erp code stays, a new SKU D; B's other codes are not in the file
      const second = await run([
        'skus',
        'import',
        file('more.csv', 'sku,system,code,name\nA,erp,100-A,\nC,shop,SB,Cable\nD,wms,WD,Dome\n'),
        '--config',
        config,
      ]);
      expect(second.stdout).toBe(
        `merged ${join(dir, 'more.csv')}: 3 SKUs (1 new), 1 alias added, 1 moved from another SKU, 1 unchanged; aliases not in the file were kept (--replace removes them)\n`,
      );
      expect(await aliases()).toEqual(['erp 100-A -> A', 'erp 100-B -> B', 'erp 100-C -> C', 'shop SB -> C', 'wms WA -> A', 'wms WB -> B', 'wms WD -> D']);
      expect(await skus()).toEqual(['A Tent', 'B Lamp', 'C Cable', 'D Dome']);
    });

    it('with --replace makes the file the whole list of the systems it covers, and says how many it removed', async () => {
      const r = await run(['skus', 'import', file('erp.csv', 'sku,erp\nA,100-A\nB,100-B2\n'), '--replace', '--config', config]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(
        `replaced the erp codes with ${join(dir, 'erp.csv')}: 2 SKUs (0 new), 1 alias added, 0 moved from another SKU, 1 unchanged, 2 not in the file removed; other systems' codes and SKUs not in the file were kept\n`,
      );
      expect(await aliases()).toEqual(['erp 100-A -> A', 'erp 100-B2 -> B', 'shop SB -> C', 'wms WA -> A', 'wms WB -> B', 'wms WD -> D']);
      expect(await skus()).toEqual(['A Tent', 'B Lamp', 'C Cable', 'D Dome']);
    });

    it('reports every bad line at once, with its number and value, and writes nothing', async () => {
      const before = [await aliases(), await skus()];
      const bad = file(
        'bad.csv',
        [
          'sku,name,erp,wms',
          'A,Tent,100-A,WA,extra', // 2: a value too many
          'E,Easel,100-E,WE', // 3: fine on its own
          'F,,100-F', // 4: a value short
          ',,100-G,WG', // 5: no sku
          'E,Easel again,100-E2,', // 6: E repeated in the wide layout
          'H,,100-E,', // 7: E's erp code given to H
          'I,,100-I,WI,x,y', // 8: two values too many
        ].join('\n'),
      );
      const r = await run(['skus', 'import', bad, '--config', config]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `${bad}: 6 problems, nothing imported:
  - line 2: 5 values where the header has 4: "A,Tent,100-A,WA,extra"
  - line 4: 3 values where the header has 4: "F,,100-F"
  - line 5: empty sku
  - line 6: sku "E" is already on line 3 (the wide layout has one row per SKU: put its codes on one row)
  - line 7: erp code "100-E" is already given to E on line 3
  - line 8: 6 values where the header has 4: "I,,100-I,WI,x,y"
`,
      );
      expect([await aliases(), await skus()]).toEqual(before);
    });

    it('removes codes given on the command line or in a file, naming what each meant, and refuses unknown ones whole', async () => {
      const unknown = await run(['skus', 'remove', '--system', 'wms', '--code', 'WA', '--code', 'NOPE', '--config', config]);
      expect(unknown).toMatchObject({ code: 2, stdout: '' });
      expect(unknown.stderr).toBe('skus remove: 1 problem, nothing removed:\n  - wms code "NOPE" is not in the SKU map\n');
      expect(await aliases()).toContain('wms WA -> A');

      const r = await run(['skus', 'remove', '--system', 'wms', '--code', 'WA', '--config', config]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe('removed 1 code from the SKU map (their SKUs keep their other codes):\n  wms WA (meant A)\n');

      const list = file('gone.csv', 'system,code,note\nwms,WB,old\nerp,100-B2,\nshop,SB,x,y\n');
      const badFile = await run(['skus', 'remove', '--file', list, '--config', config]);
      expect(badFile).toMatchObject({ code: 2 });
      expect(badFile.stderr).toBe(`${list}: 1 problem, nothing removed:\n  - line 4: 4 values where the header has 3: "shop,SB,x,y"\n`);

      file('gone.csv', 'system,code,note\nwms,WB,old\nerp,100-B2,\n');
      const fromFile = await run(['skus', 'remove', '--file', list, '--config', config]);
      expect(fromFile.stdout).toBe('removed 2 codes from the SKU map (their SKUs keep their other codes):\n  wms WB (meant B)\n  erp 100-B2 (meant B)\n');
      expect(await aliases()).toEqual(['erp 100-A -> A', 'shop SB -> C', 'wms WD -> D']);
      expect(await skus()).toEqual(['A Tent', 'B Lamp', 'C Cable', 'D Dome']);
    });

    it('removes whole SKUs with their codes, and refuses an unknown SKU whole', async () => {
      const unknown = await run(['skus', 'remove', '--sku', 'C', '--sku', 'ZZ', '--config', config]);
      expect(unknown).toMatchObject({ code: 2, stdout: '', stderr: 'skus remove: 1 problem, nothing removed:\n  - sku "ZZ" is not in the SKU map\n' });

      const r = await run(['skus', 'remove', '--sku', 'C', '--sku', 'B', '--config', config]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe('removed 2 SKUs and their 1 code:\n  B (no codes)\n  C: shop SB\n');
      expect(await skus()).toEqual(['A Tent', 'D Dome']);
      expect(await aliases()).toEqual(['erp 100-A -> A', 'wms WD -> D']);
    });

    it('tells a mistaken removal on the command line in one line', async () => {
      expect(await run(['skus', 'remove', '--code', 'X', '--config', config])).toMatchObject({
        code: 2,
        stderr: 'inventory-graph skus remove: --code needs --system; see inventory-graph skus remove --help\n',
      });
      expect((await run(['skus', 'remove', '--sku', 'A', '--system', 'wms', '--code', 'X', '--config', config])).stderr).toContain(
        'give --system and --code, or --file, or --sku (one of them)',
      );
      expect((await run(['skus', 'remove', '--file', join(dir, 'missing.csv'), '--config', config])).stderr).toContain(
        `cannot read ${join(dir, 'missing.csv')} (ENOENT)`,
      );
    });
  });
}

describe('the SKU map commands’ help', () => {
  it('states merge and --replace, and lists remove', async () => {
    const importHelp = await run(['skus', 'import', '--help']);
    expect(importHelp.stdout).toContain('Usage: inventory-graph skus import FILE.csv [--replace] [--config FILE]');
    expect(importHelp.stdout).toContain("that system's codes not in the file are removed");
    expect(importHelp.stdout).toContain('every code not in the file is kept');
    const removeHelp = await run(['skus', 'remove', '--help']);
    expect(removeHelp.stdout).toContain('Usage: inventory-graph skus remove --system S --code C [--code C ...] [--config FILE]');
    expect((await run(['skus', '--help'])).stdout).toContain('inventory-graph skus remove --sku SKU');
    expect((await run(['--help'])).stdout).toContain('inventory-graph skus remove --file FILE.csv');
  });
});
