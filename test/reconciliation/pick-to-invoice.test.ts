/**
 * The case reconciliation exists for: the WMS deducts at pick, the ERP at invoice. ERP 120,
 * WMS 115, 5 picked not invoiced must come out EXPLAINED, not DISCREPANCY. First as pure
 * arithmetic, then end to end over two real SQLite source systems with config mappings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { LocationIndex } from '../../src/domain/locations.js';
import { DefaultPrecedenceStrategy } from '../../src/domain/precedence.js';
import { compareLine, type RawFigure, type ReconciliationLine } from '../../src/domain/reconciliation.js';
import { createReconciler } from '../../src/service/reconciler.js';
import { silentLogger } from '../../src/logger.js';
import { createConnector } from '../../src/sources/registry.js';
import type { Connector } from '../../src/sources/connector.js';
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.js';

const fig = (source: string, onHand: number | null, picked = 0): RawFigure => ({
  source,
  onHand,
  committed: 0,
  asOf: new Date('2026-01-01T00:00:00Z'),
  stale: false,
  snapshotFallback: false,
  movements: picked === 0 ? [] : [{ kind: 'pickedNotInvoiced', quantity: picked, asOf: new Date('2026-01-01T00:00:00Z'), references: [], referenceCount: 0 }],
});

describe('compareLine', () => {
  it('ERP 120, WMS 115 with 5 picked not invoiced: EXPLAINED', () => {
    const { systems, worst } = compareLine([fig('wms', 115, 5), fig('erp', 120)], 0, 0);
    expect(systems[1]).toMatchObject({ source: 'erp', variance: 5, explained: 5, unexplained: 0, status: 'EXPLAINED' });
    expect(systems[0]).toMatchObject({ source: 'wms', authoritative: true, status: 'MATCH' });
    expect(worst).toBe(1);
  });

  it('the same seen from the ERP as authoritative: the WMS is 5 lower, and that is explained too', () => {
    const { systems } = compareLine([fig('erp', 120), fig('wms', 115, 5)], 0, 0);
    expect(systems[1]).toMatchObject({ variance: -5, explained: -5, unexplained: 0, status: 'EXPLAINED' });
  });

  it('more difference than the movements explain: the rest is unexplained', () => {
    expect(compareLine([fig('wms', 115, 5), fig('erp', 127)], 0, 0).systems[1]).toMatchObject({
      variance: 12,
      explained: 5,
      unexplained: 7,
      status: 'DISCREPANCY',
    });
    expect(compareLine([fig('wms', 115, 5), fig('erp', 127)], 0, 7).systems[1]).toMatchObject({ status: 'WITHIN_TOLERANCE' });
    expect(compareLine([fig('wms', 115, 5), fig('erp', 127)], 0, 6).systems[1]).toMatchObject({ status: 'DISCREPANCY' });
  });

  it('less difference than the movements say: not explained away', () => {
    // 5 picked, but the ERP already shows only 2 more: 3 units are missing somewhere
    expect(compareLine([fig('wms', 115, 5), fig('erp', 117)], 0, 0).systems[1]).toMatchObject({
      variance: 2,
      explained: 5,
      unexplained: -3,
      status: 'DISCREPANCY',
    });
    // picked stock and no difference at all is no match either
    expect(compareLine([fig('wms', 115, 5), fig('erp', 115)], 0, 0).systems[1]).toMatchObject({ unexplained: -5, status: 'DISCREPANCY' });
  });

  it('no variance and nothing in flight: MATCH; a missing record counts as 0', () => {
    expect(compareLine([fig('wms', 7), fig('erp', 7)], 0, 0).systems[1]?.status).toBe('MATCH');
    expect(compareLine([fig('wms', null), fig('erp', 7)], 1, 0).systems[0]).toMatchObject({ variance: -7, unexplained: -7, status: 'DISCREPANCY' });
  });
});

describe('pick-to-invoice over two SQLite systems', () => {
  let erp: TestDatabase;
  let wms: TestDatabase;
  const connectors = new Map<string, Connector>();

  beforeAll(async () => {
    [erp, wms] = await Promise.all([createSqliteDatabase(), createSqliteDatabase()]);
    await erp.exec('create table inv_balance (item_no text, site text, qty integer)');
    await erp.db('inv_balance').insert([
      { item_no: '100-1', site: 'East', qty: 120 },
      { item_no: '100-2', site: 'East', qty: 50 },
      { item_no: '100-3', site: 'East', qty: 30 },
    ]);
    await wms.exec('create table bins (item text, wh text, qty integer, picked integer, updated_at text)');
    await wms.db('bins').insert([
      // 115 on the shelves over two bins, 5 of them picked (already deducted from qty)
      { item: 'W-1', wh: 'E', qty: 100, picked: 5, updated_at: '2026-01-01T10:00:00Z' },
      { item: 'W-1', wh: 'E', qty: 15, picked: 0, updated_at: '2026-01-01T09:00:00Z' },
      { item: 'W-2', wh: 'E', qty: 50, picked: 0, updated_at: '2026-01-01T10:00:00Z' },
      { item: 'W-3', wh: 'E', qty: 21, picked: 0, updated_at: '2026-01-01T10:00:00Z' },
    ]);
  });
  afterAll(async () => {
    for (const c of connectors.values()) await c.close();
    await Promise.all([erp?.cleanup(), wms?.cleanup()]);
  });

  it('comes out EXPLAINED, not DISCREPANCY; an unexplained difference still does', async () => {
    const config = parseConfig(
      `
store: { client: better-sqlite3, connection: ":memory:" }
sources:
  erp:
    kind: sql
    client: better-sqlite3
    connection: ${erp.connection}
    stock: { table: inv_balance, columns: { sku: item_no, location: site, onHand: qty } }
  wms:
    kind: sql
    client: better-sqlite3
    connection: ${wms.connection}
    stock: { table: bins, columns: { sku: item, location: wh, onHand: qty, asOf: updated_at } }
    movements:
      kind: pickedNotInvoiced
      table: bins
      columns: { sku: item, location: wh, quantity: picked, asOf: updated_at }
locations:
  - { id: DC-EAST, codes: { wms: E, erp: East } }
precedence: { quantity: [wms, erp] }
`,
      '/tmp/pick-to-invoice.yaml',
    );
    for (const [name, s] of Object.entries(config.sources)) connectors.set(name, createConnector(name, s));
    const locations = new LocationIndex(config.locations);
    const reconciler = createReconciler({
      connectors,
      settings: new Map([
        ['erp', { maxAgeSeconds: undefined, skuCodes: 'mapped' as const }],
        ['wms', { maxAgeSeconds: undefined, skuCodes: 'mapped' as const }],
      ]),
      locations,
      precedence: new DefaultPrecedenceStrategy(config.precedence),
      logger: silentLogger,
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

    const line = (n: number) => r.lines.find((l) => l.sku === `SKU-${n}`) as ReconciliationLine;
    expect(line(1)).toMatchObject({ authoritative: 'wms', quantity: 115, variance: 5, explained: 5, unexplained: 0, status: 'EXPLAINED', worstSource: 'erp' });
    expect(line(1).systems.map((s) => [s.source, s.onHand, s.movements.map((m) => [m.kind, m.quantity])])).toEqual([
      ['wms', 115, [['pickedNotInvoiced', 5]]],
      ['erp', 120, []],
    ]);
    expect(line(2)).toMatchObject({ status: 'MATCH', variance: 0 });
    expect(line(3)).toMatchObject({ status: 'DISCREPANCY', variance: 9, explained: 0, unexplained: 9 });
    expect(r.anomalies.filter((a) => a.kind === 'DISCREPANCY').map((a) => [a.sku, a.source])).toEqual([['SKU-3', 'erp']]);
    expect(r.failures).toEqual([]);
    // one statement per source per entity for the batch
    expect(statements.sort()).toEqual(['erp/stock', 'wms/movements', 'wms/stock']);
  });
});
