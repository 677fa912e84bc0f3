/**
 * Movement kinds declared in config, with documents, on real databases (SQLite and MariaDB): a
 * WMS (authoritative) whose picks explain the ERP's higher figure but not the web shop's (which
 * copies the WMS), and a cycle count counted in the WMS and not yet posted to the ERP. The
 * reconciliation line names the movements and their documents: "explained by pick of
 * SAL-ORD-42, SAL-ORD-43"; so does the reconcile job's lines.csv row. A file source reads a
 * declared kind from its kind column and its documents from a reference column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineHeader, lineRow } from '../../src/cli/reconcile.js';
import { parseConfig } from '../../src/config/index.js';
import { csvSourceSchema } from '../../src/config/schema.js';
import { LocationIndex } from '../../src/domain/locations.js';
import { MovementKinds } from '../../src/domain/movements.js';
import { DefaultPrecedenceStrategy } from '../../src/domain/precedence.js';
import type { ReconciliationLine } from '../../src/domain/reconciliation.js';
import { silentLogger } from '../../src/logger.js';
import { createReconciler } from '../../src/service/reconciler.js';
import type { Connector } from '../../src/sources/connector.js';
import { createCsvConnector } from '../../src/sources/csv.js';
import { createConnector } from '../../src/sources/registry.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';

for (const backend of BACKENDS) {
  describe(`movement kinds and documents on ${backend.name}`, () => {
    let erp: TestDatabase;
    let wms: TestDatabase;
    let shop: TestDatabase;
    const connectors = new Map<string, Connector>();

    beforeAll(async () => {
      [erp, wms, shop] = await Promise.all([backend.create(), backend.create(), backend.create()]);
      await erp.exec('create table inv_balance (item_no varchar(20), site varchar(20), qty integer)');
      await erp.db('inv_balance').insert([
        { item_no: '100-1', site: 'East', qty: 120 },
        { item_no: '100-2', site: 'East', qty: 100 },
        { item_no: '100-3', site: 'East', qty: 50 },
      ]);
      await wms.exec('create table bins (item varchar(20), wh varchar(10), qty integer)');
      await wms.db('bins').insert([
        { item: 'W-1', wh: 'E', qty: 115 },
        { item: 'W-2', wh: 'E', qty: 97 },
        { item: 'W-3', wh: 'E', qty: 50 },
      ]);
      await wms.exec(`create table picks (item varchar(20), wh varchar(10), qty integer, order_ref varchar(30), picked_at ${backend.types.datetime})`);
      await wms.db('picks').insert([
        { item: 'W-1', wh: 'E', qty: 2, order_ref: 'SAL-ORD-43', picked_at: '2026-01-01 10:00:00' },
        { item: 'W-1', wh: 'E', qty: 1, order_ref: 'SAL-ORD-42', picked_at: '2026-01-01 09:00:00' },
        { item: 'W-1', wh: 'E', qty: 2, order_ref: 'SAL-ORD-42', picked_at: '2026-01-01 09:30:00' },
      ]);
      // counted 97 where the books say 100: posted in the WMS, not yet in the ERP
      await wms.exec(`create table counts (item varchar(20), wh varchar(10), diff integer, count_no varchar(20), counted_at ${backend.types.datetime})`);
      await wms.db('counts').insert([{ item: 'W-2', wh: 'E', diff: -3, count_no: 'CC-7', counted_at: '2026-01-01 08:00:00' }]);
      // the web shop copies the WMS's figures
      await shop.exec('create table stock (sku varchar(20), loc varchar(20), qty integer)');
      await shop.db('stock').insert([
        { sku: 'SKU-1', loc: 'EAST-WEB', qty: 115 },
        { sku: 'SKU-2', loc: 'EAST-WEB', qty: 97 },
        { sku: 'SKU-3', loc: 'EAST-WEB', qty: 50 },
      ]);
    });
    afterAll(async () => {
      for (const c of connectors.values()) await c.close();
      await Promise.all([erp?.cleanup(), wms?.cleanup(), shop?.cleanup()]);
    });

    it('shows the documents on the line, explains the ERP but not the shop by picks, and a pending count', async () => {
      const config = parseConfig(
        `
store: { client: better-sqlite3, connection: ":memory:" }
movementKinds:
  pick: { effect: lower, explains: [erp] }
  countNotPosted: { explains: [erp] }
sources:
  erp:
    kind: sql
    client: ${backend.client}
    connection: "${erp.connection}"
    stock: { table: inv_balance, columns: { sku: item_no, location: site, onHand: qty } }
  wms:
    kind: sql
    client: ${backend.client}
    connection: "${wms.connection}"
    stock: { table: bins, columns: { sku: item, location: wh, onHand: qty } }
    movements:
      - { kind: pick, table: picks, columns: { sku: item, location: wh, quantity: qty, reference: order_ref, asOf: picked_at } }
      - kind: countNotPosted
        query: select item as sku, wh as location, diff as quantity, count_no as reference, counted_at as asOf from counts
  shop:
    kind: sql
    client: ${backend.client}
    connection: "${shop.connection}"
    skuCodes: canonical
    stock: { table: stock, columns: { sku: sku, location: loc, onHand: qty } }
locations:
  - { id: DC-EAST, codes: { wms: E, erp: East, shop: EAST-WEB } }
precedence: { quantity: [wms, erp, shop] }
`,
        '/tmp/movement-kinds.yaml',
      );
      const kinds = new MovementKinds(config.movementKinds);
      for (const [name, s] of Object.entries(config.sources)) connectors.set(name, createConnector(name, s, { movementKinds: kinds.names }));
      const locations = new LocationIndex(config.locations);
      const reconciler = createReconciler({
        connectors,
        settings: new Map(Object.entries(config.sources).map(([n, s]) => [n, { maxAgeSeconds: s.maxAgeSeconds, skuCodes: s.skuCodes }])),
        locations,
        precedence: new DefaultPrecedenceStrategy(config.precedence),
        logger: silentLogger,
        movementKinds: kinds,
      });
      const sku = (n: number) => ({
        sku: `SKU-${n}`,
        name: null,
        aliases: [
          { system: 'erp', code: `100-${n}` },
          { system: 'wms', code: `W-${n}` },
        ],
      });
      const statements: string[] = [];
      const r = await reconciler.batch([sku(1), sku(2), sku(3)], {
        locations: locations.all,
        tolerance: 0,
        meter: { statement: (s, e) => void statements.push(`${s}/${e}`) },
      });
      expect(r.failures).toEqual([]);
      const line = (n: number) => r.lines.find((l) => l.sku === `SKU-${n}`) as ReconciliationLine;
      const system = (n: number, s: string) => line(n).systems.find((f) => f.source === s);

      // picks: the ERP's 5 more are explained, documents oldest first; the shop copies the WMS and matches
      expect(line(1)).toMatchObject({ authoritative: 'wms', status: 'EXPLAINED', worstSource: 'erp', variance: 5, explained: 5, unexplained: 0 });
      expect(line(1).explanation).toBe('explained by pick of SAL-ORD-42, SAL-ORD-43');
      expect(line(1).explanations).toEqual([{ source: 'wms', kind: 'pick', quantity: 5, references: ['SAL-ORD-42', 'SAL-ORD-43'], referenceCount: 2 }]);
      expect(system(1, 'shop')).toMatchObject({ variance: 0, explained: 0, unexplained: 0, status: 'MATCH', explanations: [] });
      expect(system(1, 'wms')?.movements).toEqual([
        { kind: 'pick', quantity: 5, asOf: new Date('2026-01-01T10:00:00Z'), references: ['SAL-ORD-42', 'SAL-ORD-43'], referenceCount: 2 },
      ]);

      // a count not yet posted: the ERP's 3 more are explained by CC-7
      expect(line(2)).toMatchObject({ status: 'EXPLAINED', worstSource: 'erp', variance: 3, explained: 3, unexplained: 0 });
      expect(line(2).explanation).toBe('explained by countNotPosted of CC-7');
      expect(system(2, 'shop')).toMatchObject({ status: 'MATCH', explained: 0 });
      expect(line(3)).toMatchObject({ status: 'MATCH', explanation: null });

      // one statement per source per entity (the WMS's two movement mappings, one each)
      expect(statements.sort()).toEqual(['erp/stock', 'shop/stock', 'wms/movements', 'wms/movements', 'wms/stock']);

      // the reconcile job's CSV row ends with the explanation
      const header = lineHeader(['wms', 'erp', 'shop']);
      const row = lineRow(line(1), ['wms', 'erp', 'shop']);
      expect(header.at(-1)).toBe('explanation');
      expect(row.at(-1)).toBe('explained by pick of SAL-ORD-42, SAL-ORD-43');
    });
  });
}

describe('a file source with movement documents', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ig-moves-'));
    writeFileSync(
      join(dir, 'inventory-2026-01-02.csv'),
      'sku,site,qty,moving,what,doc\nT-1,W01,10,2,pick,SO-1\nT-1,W01,10,3,pick,SO-2\nT-1,W01,0,1,pick,SO-1\nT-2,W01,5,4,inTransit,\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a declared kind from its kind column and sums per document', async () => {
    const kinds = new MovementKinds({ pick: { explains: ['erp'] } });
    const c = createCsvConnector(
      'tpl',
      csvSourceSchema.parse({
        kind: 'csv',
        path: join(dir, 'inventory-*.csv'),
        stock: { columns: { sku: 'sku', location: 'site', onHand: 'qty' } },
        movements: { columns: { sku: 'sku', location: 'site', quantity: 'moving', kind: 'what', reference: 'doc' } },
      }),
      { movementKinds: kinds.names },
    );
    const got = (await c.fetch('movements', ['T-1', 'T-2'])).map((m) => [m.code, m.kind, m.quantity, m.reference ?? null]);
    expect(got.sort()).toEqual([
      ['T-1', 'pick', 3, 'SO-1'],
      ['T-1', 'pick', 3, 'SO-2'],
      ['T-2', 'inTransit', 4, null],
    ]);
    await c.close();
  });
});
