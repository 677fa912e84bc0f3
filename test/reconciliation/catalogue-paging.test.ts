/**
 * `reconciliation` without `skus`: the whole catalogue in SKU order, a page at a time, over real
 * HTTP on the demo with its ERP and WMS in SQLite files and in MariaDB. The pages must add up to
 * what `reconciliation(skus:)` answers for every SKU: the lines in the statuses asked for, no
 * SKU's lines split across pages, summary and gaps over every SKU read; a page stops at
 * `server.maxScanSkus` SKUs with its cursor on the last one read; one statement per source per
 * entity per batch of `server.maxSkusPerQuery` SKUs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, statements, type DemoApp, dropDemoDatabases } from '../helpers/demo-app.js';
import type { ReconciliationSummary } from '../../src/domain/reconciliation.js';

const PAGE = `query P($statuses: [ReconciliationStatus!], $first: Int, $after: String, $skus: [ID!]) {
  reconciliation(statuses: $statuses, first: $first, after: $after, skus: $skus) {
    lines { sku location { id } status authoritative quantity variance explained unexplained worstSource explanation systems { source onHand status } }
    gaps { sku source reason }
    summary { lines matched explained withinTolerance discrepancies absVariance absExplained absUnexplained gaps }
    pageInfo { hasNextPage endCursor }
    scanned
    totalCount
  }
}`;

interface Line {
  sku: string;
  location: { id: string };
  status: string;
}
type Summary = ReconciliationSummary;
interface Page {
  lines: Line[];
  gaps: { sku: string; source: string | null; reason: string }[];
  summary: Summary;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  scanned: number;
  totalCount: number | null;
}

const SKUS = 100;
/** Batches of 20 SKUs, a page reads at most 50: 20 + 20 + 10. */
const BATCH = 20;
const SCAN = 50;
const prefix = `ig_test_recpage_${process.pid}_${Date.now().toString(36)}`;

function addSummaries(all: readonly Summary[]): Summary {
  const out: Summary = {
    lines: 0,
    matched: 0,
    explained: 0,
    withinTolerance: 0,
    discrepancies: 0,
    absVariance: 0,
    absExplained: 0,
    absUnexplained: 0,
    gaps: 0,
  };
  for (const s of all) for (const k of Object.keys(out) as (keyof Summary)[]) out[k] += s[k];
  return out;
}

for (const backend of ['sqlite', 'mariadb'] as const) {
  describe(`the whole catalogue, a page at a time (${backend})`, () => {
    let demo: DemoApp;
    let catalogue: string[];
    /** What `reconciliation(skus:)` answers for every SKU, a batch at a time: the reference. */
    let full: { lines: Line[]; gaps: Page['gaps']; summary: Summary };

    async function page(vars: Record<string, unknown>) {
      const r = await demo.gql<{ reconciliation: Page }>(PAGE, vars);
      expect(r.body.errors).toBeUndefined();
      return { page: r.body.data!.reconciliation, statements: statements(r.headers) };
    }

    beforeAll(async () => {
      demo = await startDemoApp({
        skus: SKUS,
        override: { server: { maxSkusPerQuery: BATCH, maxScanSkus: SCAN }, routing: { maxLines: BATCH }, reservations: { maxLines: BATCH } },
        ...(backend === 'mariadb' ? { mysql: { prefix } } : {}),
      });
      catalogue = (await demo.app.store.skus.page(1000, null)).skus.map((s) => s.sku);
      const parts: Page[] = [];
      for (let i = 0; i < catalogue.length; i += BATCH) parts.push((await page({ skus: catalogue.slice(i, i + BATCH) })).page);
      full = { lines: parts.flatMap((p) => p.lines), gaps: parts.flatMap((p) => p.gaps), summary: addSummaries(parts.map((p) => p.summary)) };
    });
    afterAll(async () => {
      await demo?.close();
      if (backend !== 'mariadb') return;
      await dropDemoDatabases(prefix);
    });

    it('has a catalogue with discrepancies and other statuses to page through', () => {
      expect(catalogue).toHaveLength(SKUS);
      const statuses = new Set(full.lines.map((l) => l.status));
      expect(statuses).toContain('DISCREPANCY');
      expect(statuses).toContain('MATCH');
      expect(full.summary.lines).toBe(full.lines.length);
    });

    it('pages through every DISCREPANCY, never splitting a SKU, with summary and gaps over every SKU read', async () => {
      const pages: Page[] = [];
      let after: string | null = null;
      do {
        const { page: p } = await page({ statuses: ['DISCREPANCY'], first: 2, after });
        pages.push(p);
        after = p.pageInfo.endCursor;
        expect(p.lines.every((l) => l.status === 'DISCREPANCY')).toBe(true);
        expect(p.scanned).toBeLessThanOrEqual(SCAN);
        // a page stops once it holds `first` lines (or at the scan bound): only the last may hold fewer
        if (p.pageInfo.hasNextPage && p.scanned < SCAN) expect(p.lines.length).toBeGreaterThanOrEqual(2);
        expect(p.totalCount).toBeNull();
        expect(pages.length).toBeLessThan(60);
      } while (pages.at(-1)!.pageInfo.hasNextPage);

      expect(pages.length).toBeGreaterThan(2);
      const key = (l: Line) => `${l.sku}@${l.location.id}`;
      expect(pages.flatMap((p) => p.lines.map(key))).toEqual(full.lines.filter((l) => l.status === 'DISCREPANCY').map(key));
      // no SKU on two pages
      const pageOf = new Map<string, number>();
      pages.forEach((p, i) => {
        for (const l of p.lines) {
          expect(pageOf.get(l.sku) ?? i).toBe(i);
          pageOf.set(l.sku, i);
        }
      });
      expect(pages.reduce((n, p) => n + p.scanned, 0)).toBe(SKUS);
      expect(pages.flatMap((p) => p.gaps)).toEqual(full.gaps);
      expect(addSummaries(pages.map((p) => p.summary))).toEqual(full.summary);
      expect(pages.at(-1)!.pageInfo.endCursor).toBe(catalogue.at(-1));
    });

    it('stops at server.maxScanSkus with the cursor on the last SKU read, one statement per source per entity per batch', async () => {
      const one = await page({ first: 1000 });
      expect(one.page).toMatchObject({ scanned: SCAN, totalCount: null, pageInfo: { hasNextPage: true, endCursor: catalogue[SCAN - 1] } });
      expect(one.page.lines).toEqual(full.lines.filter((l) => catalogue.indexOf(l.sku) < SCAN));
      // batches of 20, 20 and 10 SKUs: three statements per source per entity
      expect([...one.statements.keys()].sort()).toEqual(['erp/stock', 'tpl/stock', 'wms/movements', 'wms/stock']);
      for (const n of one.statements.values()) expect(n).toBe(3);

      const two = await page({ first: 1000, after: one.page.pageInfo.endCursor });
      expect(two.page).toMatchObject({ scanned: SKUS - SCAN, totalCount: null, pageInfo: { hasNextPage: false, endCursor: catalogue.at(-1) } });
      expect(two.page.lines).toEqual(full.lines.filter((l) => catalogue.indexOf(l.sku) >= SCAN));
      for (const n of two.statements.values()) expect(n).toBe(3);
    });

    it('stops within a batch once the page holds `first` lines: one batch read, the cursor on the SKU that filled it', async () => {
      const { page: p, statements: s } = await page({ first: 1 });
      const firstSku = full.lines[0]!.sku;
      expect(p.lines).toEqual(full.lines.filter((l) => l.sku === firstSku));
      expect(p).toMatchObject({ scanned: catalogue.indexOf(firstSku) + 1, pageInfo: { hasNextPage: true, endCursor: firstSku } });
      for (const n of s.values()) expect(n).toBe(1);
    });

    it('records the DISCREPANCY lines of the SKUs read as anomalies, as for listed SKUs', async () => {
      const { page: p } = await page({ statuses: ['DISCREPANCY'], first: 1000 });
      await demo.app.store.anomalies.flush();
      const open = await demo.app.store.anomalies.list({ kinds: ['DISCREPANCY'], statuses: ['OPEN'] }, 1000, null);
      const recorded = new Set(open.anomalies.map((a) => `${a.sku}@${String(a.location)}`));
      for (const l of p.lines) expect(recorded.has(`${l.sku}@${l.location.id}`), `${l.sku}@${l.location.id}`).toBe(true);
    });

    it('answers listed SKUs in one go: no next page, totalCount the lines answered, scanned the known SKUs', async () => {
      const skus = [catalogue[3]!, 'NOT-A-SKU', catalogue[1]!];
      const { page: p } = await page({ skus, statuses: ['MATCH', 'EXPLAINED'] });
      expect(p.lines.every((l) => ['MATCH', 'EXPLAINED'].includes(l.status))).toBe(true);
      expect(p.lines.map((l) => l.sku)).toEqual(
        [catalogue[3], catalogue[1]].flatMap((sku) => full.lines.filter((l) => l.sku === sku && ['MATCH', 'EXPLAINED'].includes(l.status)).map((l) => l.sku)),
      );
      expect(p).toMatchObject({ scanned: 2, totalCount: p.lines.length, pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it('refuses a bad first, after, tolerance or statuses with BAD_USER_INPUT naming it', async () => {
      const bad = async (vars: Record<string, unknown>, query = PAGE) => (await demo.gql(query, vars)).body.errors?.[0];
      expect(await bad({ first: 0 })).toMatchObject({
        message: expect.stringContaining('`first` must be between 1 and 1000, got 0'),
        extensions: { code: 'BAD_USER_INPUT' },
      });
      expect(await bad({ first: 1001 })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'first' } });
      expect(await bad({ after: '' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'after' } });
      expect(await bad({ after: 'x'.repeat(300) })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'after' } });
      expect(await bad({ after: catalogue[0], skus: [catalogue[1]] })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'after' } });
      expect(await bad({ statuses: [] })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'statuses' } });
      expect((await bad({ statuses: ['WRONG'] }))?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await bad({}, '{ reconciliation(tolerance: -1) { scanned } }')).toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'tolerance' },
      });
      expect((await bad({}, '{ reconciliation(locationIds: ["MOON"]) { scanned } }'))?.message).toContain('"MOON"');
    });

    // last: it removes SKUs from the map
    it('counts totalCount when one page reads the catalogue from its start to its end, and pages on from a removed SKU', async () => {
      const removed = catalogue.slice(30, 90);
      expect((await demo.app.store.skus.removeSkus(removed)).unknown).toEqual([]);
      const left = [...catalogue.slice(0, 30), ...catalogue.slice(90)];
      const wanted = full.lines.filter((l) => left.includes(l.sku) && l.status === 'DISCREPANCY');

      const whole = await page({ statuses: ['DISCREPANCY'], first: 1000 });
      expect(whole.page).toMatchObject({ scanned: left.length, totalCount: wanted.length, pageInfo: { hasNextPage: false, endCursor: left.at(-1) } });
      expect(whole.page.lines.map((l) => l.sku)).toEqual(wanted.map((l) => l.sku));

      // a cursor that names a SKU no longer in the map is still a place in SKU order
      const rest = await page({ statuses: ['DISCREPANCY'], first: 1000, after: removed[5] });
      expect(rest.page).toMatchObject({ scanned: 10, totalCount: null, pageInfo: { hasNextPage: false } });
      expect(rest.page.lines.map((l) => l.sku)).toEqual(wanted.filter((l) => catalogue.indexOf(l.sku) >= 90).map((l) => l.sku));
    });
  });
}
