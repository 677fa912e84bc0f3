/**
 * Movement kinds (src/domain/movements.ts) and how reconciliation uses them
 * (src/domain/reconciliation.ts): which way each kind moves the reporting system's figure, which
 * systems it explains, counts not yet posted, the documents shown per line (bounded), and the
 * config keys that declare kinds, with their cross-checks.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { BUILT_IN_MOVEMENT_KINDS, MAX_REFERENCES, MovementKinds } from '../../src/domain/movements.js';
import { compareLine, describeExplanations, type MovementFigure, type RawFigure } from '../../src/domain/reconciliation.js';

const at = new Date('2026-01-01T00:00:00Z');
const mv = (kind: string, quantity: number, references: string[] = []): MovementFigure => ({
  kind,
  quantity,
  asOf: at,
  references: references.slice(0, MAX_REFERENCES),
  referenceCount: references.length,
});
const fig = (source: string, onHand: number, movements: MovementFigure[] = []): RawFigure => ({
  source,
  onHand,
  committed: 0,
  asOf: at,
  stale: false,
  snapshotFallback: false,
  movements,
});

describe('MovementKinds', () => {
  it('has the built-in kinds, countNotPosted among them, each explaining every other system', () => {
    const k = new MovementKinds();
    expect(k.names).toEqual(['pickedNotInvoiced', 'inTransit', 'receivedNotPutAway', 'countNotPosted', 'pickedNotDelivered']);
    expect(Object.keys(BUILT_IN_MOVEMENT_KINDS)).toEqual(k.names);
    expect(k.contribution('pickedNotInvoiced', 5, 'anyone')).toBe(5);
    expect(k.contribution('countNotPosted', -3, 'anyone')).toBe(3);
    // an ERP's open pick list: its figure is higher by it
    expect(k.contribution('pickedNotDelivered', 4, 'anyone')).toBe(-4);
    expect(k.contribution('nonsense', 5, 'anyone')).toBe(0);
  });

  it('takes declared kinds, and overrides of built-in ones keep what they do not give', () => {
    const k = new MovementKinds({ pickedNotInvoiced: { explains: ['erp'] }, countNotPosted: { explains: ['erp'] }, shrink: { effect: 'higher' }, pick: {} });
    expect(k.names).toEqual(['pickedNotInvoiced', 'inTransit', 'receivedNotPutAway', 'countNotPosted', 'pickedNotDelivered', 'shrink', 'pick']);
    expect(k.get('pickedNotInvoiced')).toEqual({ effect: 'lower', explains: ['erp'] });
    expect(k.get('countNotPosted')).toEqual({ effect: 'higher', explains: ['erp'] });
    expect(k.get('pick')).toEqual({ effect: 'lower', explains: null });
    expect(k.contribution('pickedNotInvoiced', 5, 'erp')).toBe(5);
    expect(k.contribution('pickedNotInvoiced', 5, 'shop')).toBe(0);
  });
});

describe('compareLine with movement kinds', () => {
  // the shop copies the WMS: picks the WMS records explain the ERP's higher figure, not the shop's
  const kinds = new MovementKinds({ pickedNotInvoiced: { explains: ['erp'] } });

  it('a kind explains the systems it names and no other', () => {
    const figures = [fig('wms', 115, [mv('pickedNotInvoiced', 5, ['SAL-ORD-42'])]), fig('erp', 120), fig('shop', 115)];
    const { systems } = compareLine(figures, 0, 0, kinds);
    expect(systems[1]).toMatchObject({ source: 'erp', variance: 5, explained: 5, unexplained: 0, status: 'EXPLAINED' });
    expect(systems[1]?.explanations).toEqual([{ source: 'wms', kind: 'pickedNotInvoiced', quantity: 5, references: ['SAL-ORD-42'], referenceCount: 1 }]);
    expect(systems[2]).toMatchObject({ source: 'shop', variance: 0, explained: 0, unexplained: 0, status: 'MATCH', explanations: [] });
    // with the built-in kinds (explaining everyone) the shop would be a discrepancy of -5
    expect(compareLine(figures, 0, 0).systems[2]).toMatchObject({ explained: 5, unexplained: -5, status: 'DISCREPANCY' });
  });

  it('a shop that does lag by picks is not explained away', () => {
    const { systems } = compareLine([fig('wms', 115, [mv('pickedNotInvoiced', 5)]), fig('shop', 120)], 0, 0, kinds);
    expect(systems[1]).toMatchObject({ variance: 5, explained: 0, unexplained: 5, status: 'DISCREPANCY' });
  });

  it('a movement the other system reports explains the difference the other way', () => {
    // the ERP authoritative, the WMS 5 lower with 5 picked: the WMS's own pick explains it toward the ERP
    const { systems } = compareLine([fig('erp', 120), fig('wms', 115, [mv('pickedNotInvoiced', 5)])], 0, 0, kinds);
    expect(systems[1]).toMatchObject({ variance: -5, explained: -5, unexplained: 0, status: 'EXPLAINED' });
    // toward the shop the pick explains nothing
    const shop = compareLine([fig('shop', 120), fig('wms', 115, [mv('pickedNotInvoiced', 5)])], 0, 0, kinds);
    expect(shop.systems[1]).toMatchObject({ explained: 0, unexplained: -5, status: 'DISCREPANCY' });
  });

  it('a cycle count not yet posted explains the difference: counted minus book, the counting system higher by it', () => {
    // counted 97 in the WMS (3 short), the ERP still books 100
    const short = compareLine([fig('wms', 97, [mv('countNotPosted', -3, ['CC-7'])]), fig('erp', 100)], 0, 0);
    expect(short.systems[1]).toMatchObject({ variance: 3, explained: 3, unexplained: 0, status: 'EXPLAINED' });
    expect(short.systems[1]?.explanations).toEqual([{ source: 'wms', kind: 'countNotPosted', quantity: 3, references: ['CC-7'], referenceCount: 1 }]);
    // 4 found, with 2 picked besides: both explain their part
    const found = compareLine([fig('wms', 102, [mv('countNotPosted', 4, ['CC-8']), mv('pickedNotInvoiced', 2)]), fig('erp', 100)], 0, 0);
    expect(found.systems[1]).toMatchObject({ variance: -2, explained: -2, unexplained: 0, status: 'EXPLAINED' });
    // the ERP reports its own pending count (not yet posted there): declared `lower`
    const erpSide = compareLine(
      [fig('wms', 97), fig('erp', 100, [mv('stocktakeDraft', -3, ['ERP-SR-1'])])],
      0,
      0,
      new MovementKinds({ stocktakeDraft: { effect: 'lower' } }),
    );
    expect(erpSide.systems[1]).toMatchObject({ variance: 3, explained: 3, unexplained: 0, status: 'EXPLAINED' });
  });

  it('names the movements and their documents in words, bounded', () => {
    const refs = Array.from({ length: 13 }, (_, i) => `SAL-ORD-${40 + i}`);
    const { systems } = compareLine([fig('wms', 100, [mv('pickedNotInvoiced', 13, refs), mv('inTransit', 4)]), fig('erp', 117)], 0, 0);
    const e = systems[1]!.explanations;
    expect(e[0]).toMatchObject({ kind: 'pickedNotInvoiced', quantity: 13, referenceCount: 13 });
    expect(e[0]?.references).toHaveLength(MAX_REFERENCES);
    expect(describeExplanations(e)).toBe(`explained by pickedNotInvoiced of ${refs.slice(0, 10).join(', ')} and 3 more; inTransit (4 units)`);
    expect(describeExplanations([{ source: 'wms', kind: 'pick', quantity: 5, references: ['SAL-ORD-42'], referenceCount: 1 }])).toBe(
      'explained by pick of SAL-ORD-42',
    );
    expect(describeExplanations([])).toBeNull();
  });
});

describe('movementKinds in the config', () => {
  const yaml = (kinds: string, movementKind: string) => `
store: { client: better-sqlite3, connection: ":memory:" }
sources:
  erp: { kind: sql, client: better-sqlite3, connection: ./erp.sqlite, stock: { table: t, columns: { sku: s, location: l, onHand: q } } }
  wms:
    kind: sql
    client: better-sqlite3
    connection: ./wms.sqlite
    stock: { table: t, columns: { sku: s, location: l, onHand: q } }
    movements: { kind: ${movementKind}, table: m, columns: { sku: s, location: l, quantity: q, reference: doc } }
locations: [{ id: A, codes: { erp: A, wms: A } }]
${kinds}
precedence: { quantity: [wms, erp] }
`;

  it('declares kinds with their effect and the systems they explain; a mapping may name one, with a reference column', () => {
    const c = parseConfig(yaml('movementKinds: { pick: { effect: lower, explains: [erp] } }', 'pick'), '/tmp/k.yaml');
    expect(c.movementKinds).toEqual({ pick: { effect: 'lower', explains: ['erp'] } });
    const wms = c.sources.wms as Extract<(typeof c.sources)[string], { kind: 'sql' }>;
    expect(wms.movements?.[0]).toMatchObject({ kind: 'pick', columns: { reference: 'doc' } });
    // none declared: the built-in kinds, unchanged
    expect(parseConfig(yaml('', 'countNotPosted'), '/tmp/k.yaml').movementKinds).toEqual({});
  });

  it('refuses a kind neither built in nor declared, and an explains naming no source', () => {
    expect(() => parseConfig(yaml('movementKinds: { pick: { explains: [erpp] } }', 'picked'), '/tmp/k.yaml')).toThrowError(
      /movementKinds\.pick\.explains\[0\]: unknown source "erpp" \(known: erp, wms\)[\s\S]*sources\.wms\.movements\[0\]\.kind: unknown movement kind "picked" \(known: pickedNotInvoiced, inTransit, receivedNotPutAway, countNotPosted, pickedNotDelivered, pick; declare it in `movementKinds`\)/,
    );
    expect(() => parseConfig(yaml('movementKinds: { pick: { effect: sideways } }', 'pick'), '/tmp/k.yaml')).toThrowError(/movementKinds\.pick\.effect: /);
  });
});
