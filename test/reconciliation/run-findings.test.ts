/**
 * A reconcile run's findings, queryable: `inventory-graph reconcile` (the real command) writes its
 * lines that were not MATCH to the store as it writes lines.csv, and the running gateway serves
 * them as `ReconciliationRun.findings`, filtered and paged, exactly as a live line; the last
 * `reconcile.keepRuns` completed runs keep theirs, a failed run has none. Also `reconciliationRuns`
 * and `orphanCodes` as connections. On the demo (SQLite sources, the 3PL as CSV files).
 */
import { parse } from 'csv-parse/sync';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, statements, type DemoApp, type GqlResult } from '../helpers/demo-app.js';
import { runCli } from '../helpers/serving.js';

const LINE = `sku location { id name } status authoritative quantity variance explained unexplained worstSource rule
  explanation explanations { source kind quantity references referenceCount }
  systems {
    source onHand committed asOf stale snapshotFallback authoritative variance explained unexplained status
    movements { kind kindName quantity asOf references referenceCount }
    explanations { source kind quantity references referenceCount }
  }`;
const FINDINGS = `query F($id: ID!, $filter: ReconciliationLineFilter, $first: Int, $after: String) {
  reconciliationRun(id: $id) {
    id status
    findings(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { sku location { id } } }
      nodes { ${LINE} }
    }
  }
}`;

interface Line {
  sku: string;
  location: { id: string };
  status: string;
  authoritative: string;
  worstSource: string | null;
  quantity: number;
  variance: number;
  explained: number;
  unexplained: number;
}
interface Findings {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: { sku: string; location: { id: string } } }[];
  nodes: Line[];
}

let demo: DemoApp;
let config: string;
const KEEP = 2;

async function reconcile(out: string, args: string[] = []) {
  const r = await runCli(['reconcile', '--config', config, '--out', out, '--batch', '25', ...args], { env: { LOG_LEVEL: 'silent' }, timeoutMs: 120_000 });
  const id = /^Reconciliation run (\d+)/.exec(r.stdout)?.[1];
  return { ...r, id: id as string };
}

async function findings(id: string, vars: Record<string, unknown> = {}) {
  const r = await demo.gql<{ reconciliationRun: { id: string; status: string; findings: Findings } | null }>(FINDINGS, { id, first: 1000, ...vars });
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.reconciliationRun!;
}

/** lines.csv's rows that are not MATCH: what the run's findings must be. */
function csvFindings(out: string): Record<string, string>[] {
  const rows = parse(readFileSync(join(out, 'lines.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  return rows.filter((r) => r.status !== 'MATCH');
}

beforeAll(async () => {
  demo = await startDemoApp({ skus: 80, editConfig: (yaml) => `${yaml}\nreconcile:\n  keepRuns: ${KEEP}\n` });
  config = join(demo.dir, 'inventory-graph.yaml');
});
afterAll(async () => {
  await demo?.close();
});

describe('a run’s findings', () => {
  let first: { id: string; out: string };

  it('are the run’s lines that were not MATCH, in lines.csv order, served exactly as live lines', async () => {
    const out = join(demo.dir, 'run-1');
    const r = await reconcile(out);
    expect(r.code, r.stderr).toBe(0);
    first = { id: r.id, out };
    const expected = csvFindings(out);
    expect(expected.length).toBeGreaterThan(10);

    const run = await findings(r.id);
    expect(run.status).toBe('COMPLETED');
    const f = run.findings;
    expect(f.totalCount).toBe(expected.length);
    expect(f.pageInfo.hasNextPage).toBe(false);
    expect(
      f.nodes.map((l) =>
        [l.sku, l.location.id, l.status, l.authoritative, l.quantity, l.variance, l.explained, l.unexplained, l.worstSource ?? ''].map(String),
      ),
    ).toEqual(expected.map((x) => [x.sku, x.location, x.status, x.authoritative, x.quantity, x.variance, x.explained, x.unexplained, x.worst_source]));
    expect(f.edges.map((e) => e.node)).toEqual(f.nodes.map((l) => ({ sku: l.sku, location: { id: l.location.id } })));
    expect(new Set(f.nodes.map((l) => l.status))).toEqual(new Set(['EXPLAINED', 'DISCREPANCY']));

    // the same lines as the live query: every field, the Location object, systems, movements and explanations
    const skus = [...new Set(f.nodes.map((l) => l.sku))].slice(0, 20);
    const live = await demo.gql<{ reconciliation: { lines: Line[] } }>(
      `query L($skus: [ID!]) { reconciliation(skus: $skus, statuses: [EXPLAINED, WITHIN_TOLERANCE, DISCREPANCY]) { lines { ${LINE} } } }`,
      { skus },
    );
    // a source without an asOf column is dated when it is read: the run's figures keep the run's instant
    const undated = (lines: Line[]) =>
      lines.map((l) => ({
        ...l,
        systems: (l as unknown as { systems: { asOf: string }[] }).systems.map(({ asOf, ...x }) => ({ ...x, asOf: !Number.isNaN(Date.parse(asOf)) })),
      }));
    expect(undated(f.nodes.filter((l) => skus.includes(l.sku)))).toEqual(undated(live.body.data!.reconciliation.lines));
  });

  it('are narrowed by each filter, with totalCount the matching lines', async () => {
    const all = (await findings(first.id)).findings.nodes;
    const check = async (filter: Record<string, unknown>, keep: (l: Line) => boolean) => {
      const f = (await findings(first.id, { filter })).findings;
      const wanted = all.filter(keep);
      expect(wanted.length, JSON.stringify(filter)).toBeGreaterThan(0);
      expect(f.nodes).toEqual(wanted);
      expect(f.totalCount).toBe(wanted.length);
    };
    await check({ statuses: ['DISCREPANCY'] }, (l) => l.status === 'DISCREPANCY');
    await check({ statuses: ['EXPLAINED'] }, (l) => l.status === 'EXPLAINED');
    const two = [all[0]!.sku, all.at(-1)!.sku];
    await check({ skus: two }, (l) => two.includes(l.sku));
    await check({ locations: ['DC-CENTRAL'] }, (l) => l.location.id === 'DC-CENTRAL');
    await check({ sources: ['erp'] }, (l) => l.worstSource === 'erp' || l.authoritative === 'erp');
    await check(
      { statuses: ['DISCREPANCY'], locations: ['DC-EAST'], sources: ['erp'] },
      (l) => l.status === 'DISCREPANCY' && l.location.id === 'DC-EAST' && (l.worstSource === 'erp' || l.authoritative === 'erp'),
    );
    // a status no line has: an empty page, not an error
    expect((await findings(first.id, { filter: { statuses: ['WITHIN_TOLERANCE'] } })).findings).toMatchObject({
      totalCount: 0,
      nodes: [],
      pageInfo: { hasNextPage: false },
    });
  });

  it('page by cursor without a line lost or repeated, and read the store only (no source statement)', async () => {
    const all = (await findings(first.id)).findings.nodes;
    const seen: Line[] = [];
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const r: GqlResult<{ reconciliationRun: { findings: Findings } }> = await demo.gql(FINDINGS, { id: first.id, first: 7, after });
      const f: Findings = r.body.data!.reconciliationRun.findings;
      expect(statements(r.headers).size).toBe(0);
      expect(f.totalCount).toBe(all.length);
      expect(f.nodes.length).toBeLessThanOrEqual(7);
      expect(f.pageInfo.endCursor).toBe(f.edges.at(-1)?.cursor ?? after);
      seen.push(...f.nodes);
      after = f.pageInfo.endCursor;
      if (!f.pageInfo.hasNextPage) break;
    }
    expect(seen).toEqual(all);
  });

  it('refuses a bad cursor, page size, location or source with BAD_USER_INPUT', async () => {
    const error = async (vars: Record<string, unknown>) => (await demo.gql(FINDINGS, { id: first.id, ...vars })).body.errors?.[0];
    expect(await error({ after: 'abc' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'after' } });
    expect(await error({ first: 0 })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'first' } });
    expect((await error({ filter: { locations: ['MOON'] } }))?.message).toContain('"MOON"');
    expect(await error({ filter: { sources: ['wsm'] } })).toMatchObject({ message: expect.stringContaining('"wsm"'), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('of a failed run are removed: FAILED answers an empty page, the other runs keep theirs', async () => {
    // lines.csv cannot replace a directory: the run fails after every batch wrote its findings
    const out = join(demo.dir, 'run-failed');
    mkdirSync(join(out, 'lines.csv'), { recursive: true });
    writeFileSync(join(out, 'lines.csv', 'keep'), 'x');
    const r = await reconcile(out);
    expect(r.code).toBe(3);
    const id = /Reconciliation run (\d+) failed/.exec(r.stdout)?.[1] as string;
    const run = await findings(id);
    expect(run).toMatchObject({ status: 'FAILED', findings: { totalCount: 0, nodes: [], edges: [], pageInfo: { hasNextPage: false } } });
    expect(
      await demo.app.store
        .db('reconciliation_findings')
        .where({ run_id: Number(id) })
        .count({ n: '*' })
        .first(),
    ).toMatchObject({ n: 0 });
    expect((await findings(first.id)).findings.totalCount).toBe(csvFindings(first.out).length);
  });

  it(`are kept for the last reconcile.keepRuns (${KEEP}) completed runs: an older run answers an empty page`, async () => {
    const second = await reconcile(join(demo.dir, 'run-2'));
    expect((await findings(first.id)).findings.totalCount).toBeGreaterThan(0);
    const third = await reconcile(join(demo.dir, 'run-3'), ['--tolerance', '100000']);
    expect(third.code).toBe(0);
    expect((await findings(first.id)).findings).toMatchObject({ totalCount: 0, nodes: [] });
    expect((await findings(second.id)).findings.totalCount).toBe(csvFindings(join(demo.dir, 'run-2')).length);
    // another tolerance, other statuses: each run's own lines
    const t3 = await findings(third.id);
    expect(t3.findings.totalCount).toBe(csvFindings(join(demo.dir, 'run-3')).length);
    expect(t3.findings.nodes.some((l) => l.status === 'WITHIN_TOLERANCE')).toBe(true);
  });
});

describe('reconciliationRuns and reconciliationRun', () => {
  const RUNS = `query R($first: Int, $after: String) {
    reconciliationRuns(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } nodes { id status tolerance } }
  }`;

  it('page the runs newest first with totalCount, statuses in upper case', async () => {
    const all = (await demo.gql<{ reconciliationRuns: { totalCount: number; nodes: { id: string; status: string }[] } }>(RUNS, { first: 100 })).body.data!
      .reconciliationRuns;
    expect(all.totalCount).toBe(4);
    expect(all.nodes.map((n) => n.status)).toEqual(['COMPLETED', 'COMPLETED', 'FAILED', 'COMPLETED']);
    expect(all.nodes.map((n) => Number(n.id))).toEqual([...all.nodes.map((n) => Number(n.id))].sort((a, b) => b - a));
    const p1 = (
      await demo.gql<{ reconciliationRuns: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string }; nodes: { id: string }[] } }>(RUNS, {
        first: 3,
      })
    ).body.data!.reconciliationRuns;
    expect(p1).toMatchObject({ totalCount: 4, pageInfo: { hasNextPage: true, endCursor: all.nodes[2]!.id } });
    const p2 = (
      await demo.gql<{ reconciliationRuns: { pageInfo: { hasNextPage: boolean }; nodes: { id: string }[] } }>(RUNS, { first: 3, after: p1.pageInfo.endCursor })
    ).body.data!.reconciliationRuns;
    expect(p2).toMatchObject({ pageInfo: { hasNextPage: false }, nodes: [{ id: all.nodes[3]!.id }] });
    expect((await demo.gql(RUNS, { after: 'x' })).body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'after' });
    expect((await demo.gql(RUNS, { first: 1001 })).body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'first' });
  });

  it('answers null for a run that does not exist', async () => {
    for (const id of ['999999', 'abc']) {
      const r = await demo.gql<{ reconciliationRun: unknown }>('query($id: ID!) { reconciliationRun(id: $id) { id } }', { id });
      expect(r.body).toEqual({ data: { reconciliationRun: null } });
    }
  });
});

describe('orphanCodes as a connection', () => {
  const Q = `query O($first: Int, $after: String) {
    orphanCodes(source: "wms", first: $first, after: $after) { totalCount scanned pageInfo { hasNextPage endCursor } edges { cursor node { code } } nodes { source code } }
  }`;
  interface Conn {
    totalCount: number | null;
    scanned: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { cursor: string; node: { code: string } }[];
    nodes: { source: string; code: string }[];
  }

  it('pages through the orphans; totalCount is counted by a call that starts at the first code, else null without a sweep', async () => {
    const orphans = demo.facts.orphanWmsCodes;
    const p1 = await demo.gql<{ orphanCodes: Conn }>(Q, { first: 2 });
    const c1 = p1.body.data!.orphanCodes;
    expect(c1.nodes).toEqual(orphans.slice(0, 2).map((code) => ({ source: 'wms', code })));
    expect(c1.edges.map((e) => e.cursor)).toEqual(orphans.slice(0, 2));
    expect(c1).toMatchObject({ totalCount: orphans.length, pageInfo: { hasNextPage: true, endCursor: orphans[1] } });
    expect(statements(p1.headers).get('wms/stock')).toBe(1);

    const c2 = (await demo.gql<{ orphanCodes: Conn }>(Q, { first: 2, after: c1.pageInfo.endCursor })).body.data!.orphanCodes;
    expect(c2.nodes.map((n) => n.code)).toEqual(orphans.slice(2, 4));
    // not from the first code, and no sweep has counted this source
    expect(c2.totalCount).toBeNull();
    const all: string[] = [...c1.nodes, ...c2.nodes].map((n) => n.code);
    let after = c2.pageInfo.endCursor;
    let more = c2.pageInfo.hasNextPage;
    while (more) {
      const c = (await demo.gql<{ orphanCodes: Conn }>(Q, { first: 2, after })).body.data!.orphanCodes;
      all.push(...c.nodes.map((n) => n.code));
      after = c.pageInfo.endCursor;
      more = c.pageInfo.hasNextPage;
    }
    expect(all).toEqual(orphans);
  });
});
