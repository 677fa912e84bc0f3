/**
 * Reconciliation, orphans, the reconcile job and the anomaly workflow over real HTTP, on the
 * generated demo (SQLite ERP/WMS/shop, the 3PL as daily CSV files). The demo's facts name the
 * SKUs concerned: picked-not-invoiced ones must come out EXPLAINED, the others DISCREPANCY.
 */
import { parse } from 'csv-parse/sync';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReconcile } from '../../src/cli/reconcile.js';
import { loadConfig } from '../../src/config/index.js';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';
import type { ReconciliationSummary } from '../../src/domain/reconciliation.js';

const RECONCILE = `query R($skus: [ID!]!, $locationIds: [ID!], $tolerance: Int) {
  reconciliation(skus: $skus, locationIds: $locationIds, tolerance: $tolerance) {
    tolerance
    lines {
      sku location { id } status authoritative quantity variance explained unexplained worstSource rule
      explanation explanations { source kind quantity references referenceCount }
      systems {
        source onHand committed asOf stale snapshotFallback authoritative variance explained unexplained status
        movements { kind kindName quantity asOf references referenceCount }
        explanations { source kind quantity references referenceCount }
      }
    }
    gaps { sku source reason detail }
    summary { lines matched explained withinTolerance discrepancies absVariance absExplained absUnexplained gaps }
  }
}`;

interface System {
  source: string;
  onHand: number | null;
  stale: boolean;
  snapshotFallback: boolean;
  authoritative: boolean;
  variance: number;
  explained: number;
  unexplained: number;
  status: string;
  movements: { kind: string; quantity: number }[];
}
interface Line {
  sku: string;
  location: { id: string };
  status: string;
  authoritative: string;
  quantity: number;
  variance: number;
  explained: number;
  unexplained: number;
  worstSource: string | null;
  systems: System[];
  explanation: string | null;
  explanations: { source: string; kind: string; quantity: number; references: string[]; referenceCount: number }[];
}
interface Rec {
  tolerance: number;
  lines: Line[];
  gaps: { sku: string; source: string | null; reason: string }[];
  summary: ReconciliationSummary;
}

let demo: DemoApp;
const skus = Array.from({ length: 400 }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`);
async function reconcile(vars: Record<string, unknown>) {
  const r = await demo.gql<{ reconciliation: Rec }>(RECONCILE, vars);
  expect(r.body.errors).toBeUndefined();
  return { rec: r.body.data!.reconciliation, headers: r.headers };
}
const lineAt = (rec: Rec, sku: string, location: string) => rec.lines.find((l) => l.sku === sku && l.location.id === location);

beforeAll(async () => {
  demo = await startDemoApp({ skus: 400 });
});
afterAll(async () => {
  await demo?.close();
});

describe('reconciliation', () => {
  it('explains picked-not-invoiced stock: ERP = WMS + picked is EXPLAINED, not DISCREPANCY', async () => {
    const { rec } = await reconcile({ skus: demo.facts.pickedNotInvoiced.slice(0, 10), locationIds: ['DC-EAST'] });
    expect(rec.lines).toHaveLength(10);
    for (const l of rec.lines) {
      const wms = l.systems.find((s) => s.source === 'wms')!;
      const erp = l.systems.find((s) => s.source === 'erp')!;
      expect(l).toMatchObject({ status: 'EXPLAINED', authoritative: 'wms', worstSource: 'erp', unexplained: 0 });
      expect(l.variance).toBeGreaterThan(0);
      expect(l.explained).toBe(l.variance);
      expect(wms).toMatchObject({
        authoritative: true,
        onHand: l.quantity,
        movements: [{ kind: 'PICKED_NOT_INVOICED', kindName: 'pickedNotInvoiced', quantity: l.variance, references: [], referenceCount: 0 }],
      });
      expect(erp.onHand).toBe((wms.onHand ?? 0) + l.variance);
      // the demo's picks carry no document: the explanation names the kind and the units
      const because = [{ source: 'wms', kind: 'pickedNotInvoiced', quantity: l.variance, references: [], referenceCount: 0 }];
      expect(l.explanations).toEqual(because);
      expect((erp as unknown as { explanations: unknown }).explanations).toEqual(because);
      expect(l.explanation).toBe(`explained by pickedNotInvoiced (${l.variance} unit${l.variance === 1 ? '' : 's'})`);
    }
  });

  it('finds unexplained differences, negative stock and stock one system lacks', async () => {
    const unexplained = demo.facts.unexplained.find((s) => !demo.facts.negativeWms.includes(s))!;
    const negative = demo.facts.negativeWms[0]!;
    const missing = demo.facts.missingInWmsCentral[0]!;
    const { rec } = await reconcile({ skus: [unexplained, negative, missing] });

    expect(lineAt(rec, unexplained, 'DC-EAST')).toMatchObject({ status: 'DISCREPANCY', explained: 0 });
    expect(lineAt(rec, negative, 'DC-EAST')).toMatchObject({ status: 'DISCREPANCY', authoritative: 'wms' });
    expect(lineAt(rec, negative, 'DC-EAST')!.quantity).toBeLessThan(0);
    // the WMS has the SKU but no CENTRAL bin: the ERP's figure is authoritative, the WMS says 0
    const central = lineAt(rec, missing, 'DC-CENTRAL')!;
    expect(central).toMatchObject({ status: 'DISCREPANCY', authoritative: 'erp', worstSource: 'wms', rule: 'quantity: wms > erp (wms: no record)' });
    expect(central.systems.find((s) => s.source === 'wms')).toMatchObject({ onHand: null, variance: -central.quantity });
    // discrepancies past tolerance are recorded as anomalies (written off the query path)
    await demo.app.store.anomalies.flush();
    const a = await demo.gql<{ anomalies: { nodes: { kind: string; sku: string; location: { id: string }; source: string }[] } }>(
      '{ anomalies(filter: { statuses: [OPEN], kinds: [DISCREPANCY] }, first: 1000) { nodes { kind sku location { id } source } } }',
    );
    expect(a.body.data!.anomalies.nodes).toContainEqual({ kind: 'DISCREPANCY', sku: missing, location: { id: 'DC-CENTRAL' }, source: 'wms' });
  });

  it('accepts unexplained units up to the tolerance', async () => {
    const sku = demo.facts.unexplained.find((s) => !demo.facts.negativeWms.includes(s))!;
    const { rec: strict } = await reconcile({ skus: [sku], locationIds: ['DC-EAST'] });
    const units = Math.abs(strict.lines[0]!.unexplained);
    expect((await reconcile({ skus: [sku], locationIds: ['DC-EAST'], tolerance: units })).rec.lines[0]!.status).toBe('WITHIN_TOLERANCE');
    expect((await reconcile({ skus: [sku], locationIds: ['DC-EAST'], tolerance: units - 1 })).rec.lines[0]!.status).toBe('DISCREPANCY');
  });

  it('shows the stale 3PL file beside the ERP, with asOf and stale on every figure', async () => {
    const { rec } = await reconcile({ skus: [demo.facts.staleTpl[0]!], locationIds: ['3PL-WEST'] });
    const l = rec.lines[0]!;
    expect(l).toMatchObject({ authoritative: 'tpl', status: 'MATCH' });
    expect(l.systems.find((s) => s.source === 'tpl')).toMatchObject({ stale: true, snapshotFallback: false });
    expect(l.systems.find((s) => s.source === 'erp')).toMatchObject({ stale: false });
    // one old figure is not a stale source: STALE_SOURCE is the sweep's (the source's newest
    // figure), so a reconciliation never reopens what the sweep resolved
    await demo.app.store.anomalies.flush();
    expect((await demo.app.store.anomalies.list({ kinds: ['STALE_SOURCE'] })).totalCount).toBe(0);
  });

  it('lists gaps (SKUs no stock source has a code for), leaves unknown SKUs out, and sums up', async () => {
    const { rec } = await reconcile({ skus: [...demo.facts.unmapped, 'NOPE', 'SKU-000001'] });
    expect(rec.gaps).toEqual([{ sku: demo.facts.unmapped[0], source: null, reason: 'NO_CODE' }].map((g) => expect.objectContaining(g)));
    expect(new Set(rec.lines.map((l) => l.sku))).toEqual(new Set(['SKU-000001']));
    expect(rec.summary).toMatchObject({ lines: rec.lines.length, gaps: 1 });
    expect(rec.summary.matched + rec.summary.explained + rec.summary.withinTolerance + rec.summary.discrepancies).toBe(rec.lines.length);
  });

  it('costs one statement per source per entity for 200 SKUs', async () => {
    const { rec, headers } = await reconcile({ skus: skus.slice(0, 200) });
    expect(rec.lines.length).toBeGreaterThan(600);
    const counts = statements(headers);
    expect([...counts.keys()].sort()).toEqual(['erp/stock', 'tpl/stock', 'wms/movements', 'wms/stock']);
    for (const n of counts.values()) expect(n).toBe(1);
  });

  it('refuses a negative tolerance and an unknown location with BAD_USER_INPUT', async () => {
    const neg = await demo.gql(RECONCILE, { skus: ['SKU-000001'], tolerance: -1 });
    expect(neg.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    const loc = await demo.gql(RECONCILE, { skus: ['SKU-000001'], locationIds: ['MOON'] });
    expect(loc.body.errors?.[0]?.message).toContain('"MOON"');
  });
});

describe('orphan codes', () => {
  it('pages through a source’s codes and finds the ones no canonical SKU maps', async () => {
    const Q =
      'query O($after: String) { orphanCodes(source: "wms", first: 3, after: $after) { nodes { source code } scanned pageInfo { endCursor hasNextPage } } }';
    type Page = { nodes: { code: string }[]; pageInfo: { endCursor: string; hasNextPage: boolean } };
    const first = await demo.gql<{ orphanCodes: Page }>(Q, {});
    expect(first.body.data!.orphanCodes.nodes.map((o) => o.code)).toEqual(demo.facts.orphanWmsCodes.slice(0, 3));
    expect(first.body.data!.orphanCodes.pageInfo.hasNextPage).toBe(true);
    expect(statements(first.headers).get('wms/stock')).toBe(1);
    const next = await demo.gql<{ orphanCodes: Page }>(Q, { after: first.body.data!.orphanCodes.pageInfo.endCursor });
    expect(next.body.data!.orphanCodes).toMatchObject({
      nodes: demo.facts.orphanWmsCodes.slice(3).map((code) => ({ source: 'wms', code })),
      pageInfo: { hasNextPage: false },
    });
    await demo.app.store.anomalies.flush();
    const a = await demo.gql<{ anomalies: { nodes: { kind: string; code: string | null; source: string }[] } }>(
      '{ anomalies(filter: { statuses: [OPEN], kinds: [ORPHAN_CODE], sources: ["wms"] }, first: 1000) { nodes { kind code source } } }',
    );
    expect(a.body.data!.anomalies.nodes.map((x) => x.code).sort()).toEqual(demo.facts.orphanWmsCodes);
    expect((await demo.gql('{ orphanCodes(source: "shop") { scanned } }')).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('the reconcile job', () => {
  it('gives the same lines as the query, writes its files and records the run', async () => {
    const out = join(demo.dir, 'reconcile-out');
    const result = await runReconcile({ config: loadConfig(join(demo.dir, 'inventory-graph.yaml')), outDir: out, tolerance: 0, batch: 150 });
    expect(result.status).toBe('completed');

    const rows = parse(readFileSync(join(out, 'lines.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    const { rec } = await reconcile({ skus });
    const fromQuery = rec.lines.map((l) => {
      const on = (s: string) => l.systems.find((x) => x.source === s)?.onHand;
      return [
        l.sku,
        l.location.id,
        l.status,
        l.authoritative,
        l.quantity,
        l.variance,
        l.explained,
        l.unexplained,
        l.worstSource ?? '',
        on('wms') ?? '',
        on('tpl') ?? '',
        on('erp') ?? '',
      ].map(String);
    });
    const fromJob = rows.map((r) =>
      [
        r.sku,
        r.location,
        r.status,
        r.authoritative,
        r.quantity,
        r.variance,
        r.explained,
        r.unexplained,
        r.worst_source,
        r.wms_on_hand,
        r.tpl_on_hand,
        r.erp_on_hand,
      ].map(String),
    );
    expect(fromJob).toEqual(fromQuery);
    expect(rows.filter((r) => r.status === 'EXPLAINED' && r.location === 'DC-EAST').map((r) => r.sku)).toEqual(demo.facts.pickedNotInvoiced);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({
      status: 'completed',
      skus: 400,
      lines: rec.summary.lines,
      byStatus: { EXPLAINED: rec.summary.explained, DISCREPANCY: rec.summary.discrepancies },
    });
    expect(summary.orphans.count).toBe(5);
    expect(summary.gaps.count).toBe(1);
    // three pages of SKUs: one statement per source per entity per page, plus one page of the source's codes for orphans
    expect(summary.statements['erp/stock']).toBe(3 + 1);
    expect(summary.statements['wms/movements']).toBe(3);
    const orphans = parse(readFileSync(join(out, 'orphans.csv'), 'utf8'), { columns: true }) as { source: string; code: string }[];
    expect(orphans.map((o) => o.code)).toEqual(demo.facts.orphanWmsCodes);

    const runs = await demo.gql<{ reconciliationRuns: { nodes: Record<string, unknown>[] } }>(
      '{ reconciliationRuns(first: 5) { nodes { id status tolerance skus lines explained discrepancies orphans gaps absUnexplained outDir startedAt finishedAt } } }',
    );
    expect(runs.body.data!.reconciliationRuns.nodes[0]).toMatchObject({
      id: result.runId,
      status: 'COMPLETED',
      skus: 400,
      lines: rec.summary.lines,
      explained: rec.summary.explained,
      discrepancies: rec.summary.discrepancies,
      orphans: 5,
      gaps: 1,
      absUnexplained: rec.summary.absUnexplained,
      outDir: out,
    });
  });
});

describe('the anomaly workflow', () => {
  const LIST = 'query L($sku: ID!) { anomalies(filter: { statuses: [OPEN], kinds: [NEGATIVE_ON_HAND], skus: [$sku] }) { nodes { id kind sku status } } }';
  const ACK = 'mutation A($id: ID!, $note: String) { acknowledgeAnomaly(id: $id, note: $note) { id status acknowledgedAt acknowledgeNote } }';
  const RESOLVE = 'mutation R($id: ID!, $note: String!) { resolveAnomaly(id: $id, note: $note) { id status resolvedAt resolutionNote } }';

  it('acknowledges and resolves with notes, refuses unknown ids and invalid steps, and reopens on recurrence', async () => {
    const sku = demo.facts.negativeWms[1] ?? demo.facts.negativeWms[0]!;
    await demo.gql('query A($s: [ID!]!) { availability(skus: $s) { sku } }', { s: [sku] });
    await demo.app.store.anomalies.flush();
    const [neg] = (await demo.gql<{ anomalies: { nodes: { id: string; kind: string; sku: string }[] } }>(LIST, { sku })).body.data!.anomalies.nodes;

    const ack = await demo.gql<{ acknowledgeAnomaly: Record<string, unknown> }>(ACK, { id: neg!.id, note: 'cycle count booked' });
    expect(ack.body.data!.acknowledgeAnomaly).toMatchObject({ id: neg!.id, status: 'ACKNOWLEDGED', acknowledgeNote: 'cycle count booked' });
    // acknowledged is still open for dedupe: seen again, no new anomaly
    const again = await demo.gql(ACK, { id: neg!.id });
    expect(again.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_TRANSITION', status: 'ACKNOWLEDGED' } });

    const unknown = await demo.gql(RESOLVE, { id: '999999', note: 'x' });
    expect(unknown.body.errors?.[0]).toMatchObject({
      message: 'No anomaly with id "999999".',
      extensions: { code: 'BAD_USER_INPUT', reason: 'UNKNOWN_ANOMALY' },
    });
    expect((await demo.gql(RESOLVE, { id: neg!.id, note: '  ' })).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const res = await demo.gql<{ resolveAnomaly: Record<string, unknown> }>(RESOLVE, { id: neg!.id, note: 'bins corrected' });
    expect(res.body.data!.resolveAnomaly).toMatchObject({ id: neg!.id, status: 'RESOLVED', resolutionNote: 'bins corrected' });
    expect((await demo.gql(RESOLVE, { id: neg!.id, note: 'again' })).body.errors?.[0]?.extensions).toMatchObject({
      reason: 'INVALID_TRANSITION',
      status: 'RESOLVED',
    });

    // the WMS still says negative: a new anomaly opens
    await demo.gql('query A($s: [ID!]!) { availability(skus: $s) { sku } }', { s: [sku] });
    await demo.app.store.anomalies.flush();
    const reopened = (await demo.gql<{ anomalies: { nodes: { id: string; kind: string; sku: string }[] } }>(LIST, { sku })).body.data!.anomalies.nodes;
    expect(reopened).toHaveLength(1);
    expect(Number(reopened[0]!.id)).toBeGreaterThan(Number(neg!.id));
  });
});

describe('a malformed newest 3PL file', () => {
  it('keeps the previous snapshot serving, flags SNAPSHOT_FALLBACK and records which file and line', async () => {
    const sku = demo.facts.staleTpl[0]!;
    const Q = `{ availability(skus: ["${sku}"], locationIds: ["3PL-WEST"]) { byLocation { onHand counted flags provenance { source asOf stale } } } }`;
    const before = (await demo.gql<{ availability: { byLocation: { onHand: number; flags: string[] }[] }[] }>(Q)).body.data!.availability[0]!.byLocation[0]!;
    // a file dated a day after the newest, cut off in its second data row
    const newest = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    writeFileSync(
      join(demo.dir, '3pl', `inventory-${newest}.csv`),
      'client_sku,facility,lot,on_hand,allocated,snapshot_at\nACM1,W01,L1A,1,0,2026-01-01T00:00:00Z\nACM2,W01\n',
    );
    // a read is answered from the current snapshot while a newer file is looked at; ping waits for the look
    await demo.app.connectors.get('tpl')!.ping();

    const r = await demo.gql<{
      availability: { byLocation: { onHand: number; flags: string[]; counted: boolean; provenance: { source: string; asOf: string } }[] }[];
    }>(Q);
    const after = r.body.data!.availability[0]!.byLocation[0]!;
    expect(after.onHand).toBe(before.onHand);
    expect(after.flags).toEqual(expect.arrayContaining(['STALE', 'SNAPSHOT_FALLBACK']));
    expect(after).toMatchObject({ counted: true, provenance: { source: 'tpl' } });
    await demo.app.store.anomalies.flush(); // the anomaly is written off the query path
    const a = await demo.gql<{ anomalies: { nodes: { kind: string; source: string; code: string; detail: string }[] } }>(
      '{ anomalies(filter: { statuses: [OPEN], kinds: [SNAPSHOT_REJECTED] }, first: 1000) { nodes { kind source code detail } } }',
    );
    const [rejected] = a.body.data!.anomalies.nodes;
    expect(rejected).toMatchObject({ source: 'tpl', code: `inventory-${newest}.csv` });
    expect(rejected!.detail).toContain(`inventory-${newest}.csv:3:`);
  });
});
