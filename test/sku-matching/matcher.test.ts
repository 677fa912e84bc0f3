/**
 * SKU matching (src/service/sku-matching.ts) through the real composition root, on every backend:
 * source systems shaped like ERPNext, WooCommerce and a WMS on a real SQLite file or MariaDB
 * database, and the real store on the same backend. What the map holds after each run is read
 * from the store's own tables.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/logger.js';
import { createRuntime, type Runtime } from '../../src/service/runtime.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';
import { addErpItems, addWmsItems, addWooProducts, configYaml, createSystems } from './fixtures.js';

const RULES = `  catalogue: erp
  match:
    - { identifier: barcode, systems: [woo, wms] }
    - { identifier: supplierPart, systems: [wms] }
  batchSize: 100`;

for (const backend of BACKENDS) {
  describe(`SKU matching on ${backend.name}`, () => {
    let sources: TestDatabase;
    let storeDb: TestDatabase;
    const runtimes: Runtime[] = [];

    beforeEach(async () => {
      sources = await backend.create();
      storeDb = await backend.create();
      await createSystems(sources);
      await addErpItems(sources, [
        { code: 'ERP-1', barcodes: ['4006381333931'], supplierParts: ['P-1'], stock: { 'Stores - AC': 5 } },
        // an EAN-13 with a leading zero: the shop has it as its 12-digit UPC
        { code: 'ERP-2', barcodes: ['0012345678905'], supplierParts: ['P-2'] },
        { code: 'ERP-3', supplierParts: ['P-3'] },
      ]);
      await addWooProducts(sources, [
        { id: 1, sku: 'woo-1', gtin: '4006381333931', stock: 3 },
        { id: 2, sku: 'woo-2', gtin: '012345678905' },
        { id: 3, sku: 'woo-3', gtin: '9999999999994' },
        { id: 4, sku: 'woo-4' },
      ]);
      await addWmsItems(sources, [
        // the barcode rule comes first and wins over the supplier part, which says ERP-2
        { code: 'W-1', ean: ' 4006381333931 ', vendorPart: 'P-2' },
        { code: 'W-3', vendorPart: 'P-3' },
        { code: 'W-9', ean: '5555555555555' },
      ]);
    });

    afterEach(async () => {
      for (const r of runtimes.splice(0)) await r.close({ flushMs: 1000 });
      await sources?.cleanup();
      await storeDb?.cleanup();
    });

    async function runtime(skuMap = RULES): Promise<Runtime> {
      const text = configYaml(backend, sources, { client: backend.client, connection: storeDb.connection }, skuMap);
      const config = parseConfig(text, join(tmpdir(), 'sku-matching.yaml'));
      const r = await createRuntime(config, { logger: silentLogger, health: false });
      runtimes.push(r);
      return r;
    }

    async function aliases(r: Runtime): Promise<string[]> {
      const rows = (await r.store.db('sku_aliases').select('system', 'code', 'sku', 'origin')) as {
        system: string;
        code: string;
        sku: string;
        origin: string;
      }[];
      return rows.map((a) => `${a.system}/${a.code} -> ${a.sku} (${a.origin})`).sort();
    }

    async function anomalies(r: Runtime): Promise<{ kind: string; source: string | null; code: string | null; detail: string }[]> {
      const { anomalies: list } = await r.store.anomalies.list({}, 1000);
      return list
        .map(({ kind, source, code, detail }) => ({ kind, source, code, detail }))
        .sort((a, b) => `${a.source}/${a.code}`.localeCompare(`${b.source}/${b.code}`));
    }

    const MATCHED = [
      'erp/ERP-1 -> ERP-1 (match)',
      'erp/ERP-2 -> ERP-2 (match)',
      'erp/ERP-3 -> ERP-3 (match)',
      'wms/W-1 -> ERP-1 (match)',
      'wms/W-3 -> ERP-3 (match)',
      'woo/woo-1 -> ERP-1 (match)',
      'woo/woo-2 -> ERP-2 (match)',
    ];

    it('creates the catalogue SKUs and matches the other systems by barcode (UPC = EAN) and supplier part', async () => {
      const r = await runtime();

      const result = await r.skuMatcher.run();

      expect(result).toEqual({ dryRun: false, matched: 7, unchanged: 0, removed: 0, handWritten: 0, conflicts: 0, unmatched: 2, firstConflicts: [] });
      expect(await aliases(r)).toEqual(MATCHED);
      expect((await r.store.db('skus').select('sku').orderBy('sku')).map((s: { sku: string }) => s.sku)).toEqual(['ERP-1', 'ERP-2', 'ERP-3']);
      expect(await anomalies(r)).toEqual([
        { kind: 'UNMATCHED_CODE', source: 'wms', code: 'W-9', detail: 'wms code "W-9" matches no catalogue item (barcode "05555555555555")' },
        { kind: 'UNMATCHED_CODE', source: 'woo', code: 'woo-3', detail: 'woo code "woo-3" matches no catalogue item (barcode "09999999999994")' },
      ]);
      // the map is what availability reads: woo-1's stock now counts for ERP-1
      const found = await r.store.skus.findMany(['ERP-1']);
      expect(found.get('ERP-1')?.aliases).toEqual([
        { system: 'erp', code: 'ERP-1' },
        { system: 'wms', code: 'W-1' },
        { system: 'woo', code: 'woo-1' },
      ]);
    });

    it('changes nothing when run again', async () => {
      const r = await runtime();
      await r.skuMatcher.run();
      const before = await aliases(r);

      const again = await r.skuMatcher.run();

      expect(again).toMatchObject({ matched: 0, unchanged: 7, removed: 0, conflicts: 0, unmatched: 2 });
      expect(await aliases(r)).toEqual(before);
      expect((await anomalies(r)).length).toBe(2);
    });

    it('writes nothing on a dry run, and counts the same', async () => {
      const r = await runtime();

      const dry = await r.skuMatcher.run({ dryRun: true });

      expect(dry).toMatchObject({ dryRun: true, matched: 7, unmatched: 2 });
      expect(await aliases(r)).toEqual([]);
      expect(await anomalies(r)).toEqual([]);
    });

    it('reports one barcode on two catalogue items and a code whose only barcode is that one; a later rule still matches', async () => {
      await addErpItems(sources, [{ code: 'ERP-4', barcodes: ['4006381333931'] }]);
      // one shop SKU on two products (a duplicate listing) with the GTINs of two items
      await addWooProducts(sources, [
        { id: 5, sku: 'woo-5', gtin: '4006381333931' },
        { id: 6, sku: 'woo-5', gtin: '0012345678905' },
      ]);
      const r = await runtime();

      const result = await r.skuMatcher.run();

      // woo-1 has only the shared barcode: a conflict; woo-5's shared one matches nothing and its other finds ERP-2
      expect(result.conflicts).toBe(2);
      const found = await anomalies(r);
      expect(found.filter((a) => a.kind === 'SKU_MATCH_CONFLICT')).toEqual([
        {
          kind: 'SKU_MATCH_CONFLICT',
          source: 'erp',
          code: '04006381333931',
          detail: 'erp items "ERP-1" and "ERP-4" share barcode "04006381333931": it matches no other system\'s code until one of them drops it',
        },
        {
          kind: 'SKU_MATCH_CONFLICT',
          source: 'woo',
          code: 'woo-1',
          detail:
            'woo code "woo-1" matches more than one SKU: its barcode "04006381333931" is shared by two catalogue items; no alias derived (write one by hand to decide)',
        },
      ]);
      expect(result.firstConflicts).toHaveLength(2);
      const map = await aliases(r);
      expect(map).not.toContain('woo/woo-1 -> ERP-1 (match)');
      expect(map).toContain('woo/woo-5 -> ERP-2 (match)');
      // W-1's barcode is shared: its supplier part (the next rule) decides
      expect(map).toContain('wms/W-1 -> ERP-2 (match)');
    });

    it('reports a code whose values in one rule lead to two SKUs, naming both', async () => {
      await addWooProducts(sources, [
        { id: 5, sku: 'woo-5', gtin: '4006381333931' },
        { id: 6, sku: 'woo-5', gtin: '0012345678905' },
      ]);
      const r = await runtime();

      const result = await r.skuMatcher.run();

      expect(result.conflicts).toBe(1);
      expect(result.firstConflicts).toEqual([
        'woo code "woo-5" matches more than one SKU: barcode "00012345678905" is ERP-2 (catalogue code "ERP-2"), barcode "04006381333931" is ERP-1 (catalogue code "ERP-1"); no alias derived (write one by hand to decide)',
      ]);
      expect((await aliases(r)).filter((a) => a.startsWith('woo/woo-5'))).toEqual([]);
    });

    it('never changes a hand-written alias, and a catalogue code written by hand gives its SKU to the matches', async () => {
      const r = await runtime();
      await r.store.skus.import([
        { sku: 'HAND-1', name: null, aliases: [{ system: 'woo', code: 'woo-1' }] },
        { sku: 'SKU-TWO', name: 'Two', aliases: [{ system: 'erp', code: 'ERP-2' }] },
      ]);

      const result = await r.skuMatcher.run();

      expect(result).toMatchObject({ handWritten: 2, matched: 5 });
      const map = await aliases(r);
      expect(map).toContain('woo/woo-1 -> HAND-1 (import)');
      expect(map).toContain('erp/ERP-2 -> SKU-TWO (import)');
      expect(map).toContain('woo/woo-2 -> SKU-TWO (match)');
      expect(map).not.toContain('erp/ERP-2 -> ERP-2 (match)');
    });

    it('lets an import made after a match take the alias over for good', async () => {
      const r = await runtime();
      await r.skuMatcher.run();
      await r.store.skus.import([{ sku: 'HAND-1', name: null, aliases: [{ system: 'woo', code: 'woo-1' }] }]);

      const again = await r.skuMatcher.run();

      expect(again).toMatchObject({ handWritten: 1, matched: 0, removed: 0 });
      expect(await aliases(r)).toContain('woo/woo-1 -> HAND-1 (import)');
    });

    it('removes a matched alias when its barcode changes or goes, and moves one whose barcode now names another item', async () => {
      const r = await runtime();
      await r.skuMatcher.run();
      await sources.db('wp_postmeta').where({ post_id: 1, meta_key: '_global_unique_id' }).update({ meta_value: '1111111111116' });
      await sources.db('wp_postmeta').where({ post_id: 2, meta_key: '_global_unique_id' }).delete();
      await sources.db('wms_items').where({ sku_code: 'W-1' }).update({ ean: '0012345678905' });

      const result = await r.skuMatcher.run();

      expect(result).toMatchObject({ matched: 1, removed: 2, unchanged: 4, unmatched: 3 });
      const map = await aliases(r);
      expect(map.filter((a) => a.startsWith('woo/'))).toEqual([]);
      expect(map).toContain('wms/W-1 -> ERP-2 (match)');
      // the SKU stays: other systems may still point at it
      expect(await r.store.skus.existing(['ERP-1'])).toEqual(new Set(['ERP-1']));
    });

    it('removes the catalogue alias of an item that left the catalogue', async () => {
      const r = await runtime();
      await r.skuMatcher.run();
      await sources.db('tabItem').where({ name: 'ERP-3' }).delete();
      await sources.db('tabItem Supplier').where({ parent: 'ERP-3' }).delete();

      const result = await r.skuMatcher.run();

      expect(result.removed).toBe(2);
      const map = await aliases(r);
      expect(map).not.toContain('erp/ERP-3 -> ERP-3 (match)');
      expect(map).not.toContain('wms/W-3 -> ERP-3 (match)');
    });

    it('with `catalogueCodes: mapped`, matches onto the SKUs the map gives catalogue codes, and creates none', async () => {
      const r = await runtime(`  catalogue: erp
  catalogueCodes: mapped
  match:
    - { identifier: barcode, systems: [woo] }`);
      await r.store.skus.import([{ sku: 'SKU-A', name: 'A', aliases: [{ system: 'erp', code: 'ERP-1' }] }]);

      const result = await r.skuMatcher.run();

      expect(result).toMatchObject({ matched: 1, unmatched: 2 });
      expect(await aliases(r)).toEqual(['erp/ERP-1 -> SKU-A (import)', 'woo/woo-1 -> SKU-A (match)']);
    });

    it('matches on the systems’ own codes with `identifier: code`', async () => {
      await addWooProducts(sources, [{ id: 9, sku: 'ERP-3', stock: 1 }]);
      const r = await runtime(`  catalogue: erp
  match:
    - { identifier: code, systems: [woo] }`);

      const result = await r.skuMatcher.run();

      // the shop's codes are those of its stock mapping: woo-1 and ERP-3
      expect(result).toMatchObject({ matched: 4, unmatched: 1 });
      expect((await aliases(r)).filter((a) => a.startsWith('woo/'))).toEqual(['woo/ERP-3 -> ERP-3 (match)']);
    });

    it('matches a catalogue larger than a page, every system read in pages', async () => {
      const n = 250;
      const ean = (i: number) => `40${String(i).padStart(10, '0')}`;
      await addErpItems(
        sources,
        Array.from({ length: n }, (_, i) => ({ code: `BIG-${String(i).padStart(4, '0')}`, barcodes: [`${ean(i)}0`] })),
      );
      await addWooProducts(
        sources,
        Array.from({ length: n }, (_, i) => ({ id: 100 + i, sku: `shop-${String(n - i).padStart(4, '0')}`, gtin: `0${ean(i)}0` })),
      );
      const r = await runtime();
      const spy = backend.spyOnStatements();
      let result;
      try {
        result = await r.skuMatcher.run();
      } finally {
        spy.restore();
      }

      expect(result).toMatchObject({ matched: 3 + n + 2 + n + 2, conflicts: 0, unmatched: 2 });
      // 252 barcodes (ERP-1, ERP-2 and the 250) in pages of 100: three statements, each a page
      expect(spy.sql.filter((sql) => /from `tabItem Barcode`/.test(sql))).toHaveLength(3);
      const shop = (await r.store.db('sku_aliases').where({ system: 'woo' }).where('code', 'like', 'shop-%').select('code', 'sku')) as {
        code: string;
        sku: string;
      }[];
      expect(shop).toHaveLength(n);
      for (const a of shop) expect(Number(a.code.slice(5)) + Number(a.sku.slice(4))).toBe(n);
      expect(await r.skuMatcher.run()).toMatchObject({ matched: 0, unchanged: 3 + n + 2 + n + 2 });
    });
  });
}
