/**
 * Reconciliation runs kept in the store (migration 0004), their findings (migration 0010: the
 * lines that were not MATCH, of the last `reconcile.keepRuns` runs), and the batched SKU-map
 * lookups that orphan detection needs: which of a page of a source's codes the map knows.
 *
 * A finding is kept as the line's figures in columns (what the filters and the CSV read) and its
 * systems and explanations as JSON text, so that a stored line is served exactly as a live one.
 * The run's status is kept in lower case (`running`, `completed`, `failed`), as the summary and
 * failed.json files write it; the API's enum is its upper case (resolvers/reconciliation.ts).
 */
import type { Knex } from 'knex';
import { timestamp } from '../db/values.js';
import type {
  Explanation,
  ReconciliationLine,
  ReconciliationLineFilter,
  ReconciliationRun,
  ReconciliationStatus,
  RunCounts,
  RunStatus,
  SystemFigure,
} from '../domain/reconciliation.js';

export type { ReconciliationRun, RunCounts, RunStatus };

const CHUNK = 1000;
/** Findings per multi-row INSERT: 16 columns each stays far below SQLite's bound on variables. */
const INSERT_ROWS = 200;

/** A stored finding: the line with its location as the canonical id (the service gives it its Location). */
export interface StoredFinding {
  seq: number;
  locationId: string;
  line: Omit<ReconciliationLine, 'location'>;
}

/** A page of a run's findings, `seq` order. */
export interface StoredFindingPage {
  findings: StoredFinding[];
  totalCount: number;
  hasNextPage: boolean;
}

/** A page of runs, newest first. */
export interface StoredRunPage {
  runs: ReconciliationRun[];
  totalCount: number;
  hasNextPage: boolean;
}

export function createReconciliationStore(db: Knex) {
  return {
    async start(o: { startedAt: Date; tolerance: number; outDir: string | null }): Promise<string> {
      const [id] = await db('reconciliation_runs').insert({ started_at: o.startedAt, status: 'running', tolerance: o.tolerance, out_dir: o.outDir });
      return String(typeof id === 'object' && id !== null ? (id as { id: number }).id : id);
    },

    async finish(id: string, o: { finishedAt: Date; status: RunStatus; counts: RunCounts; error?: string | null }): Promise<void> {
      const c = o.counts;
      await db('reconciliation_runs')
        .where({ id: Number(id) })
        .update({
          finished_at: o.finishedAt,
          status: o.status,
          skus: c.skus,
          lines: c.lines,
          matched: c.matched,
          explained: c.explained,
          within_tolerance: c.withinTolerance,
          discrepancies: c.discrepancies,
          orphans: c.orphans,
          gaps: c.gaps,
          abs_variance: c.absVariance,
          abs_explained: c.absExplained,
          abs_unexplained: c.absUnexplained,
          error: o.error === undefined || o.error === null ? null : o.error.slice(0, 1024),
        });
    },

    /** The latest runs, newest first. */
    async list(first: number): Promise<ReconciliationRun[]> {
      const rows = (await db('reconciliation_runs').orderBy('id', 'desc').limit(first)) as Record<string, unknown>[];
      return rows.map(runOf);
    },

    /** Runs newest first, `first` at a time, older than the run `after` (exclusive), and how many there are. */
    async page(first: number, after: number | null): Promise<StoredRunPage> {
      const q = db('reconciliation_runs')
        .orderBy('id', 'desc')
        .limit(first + 1);
      if (after !== null) q.where('id', '<', after);
      const [rows, count] = await Promise.all([q as Promise<Record<string, unknown>[]>, db('reconciliation_runs').count({ n: '*' }).first()]);
      return {
        runs: rows.slice(0, first).map(runOf),
        totalCount: Number((count as { n: number | string } | undefined)?.n ?? 0),
        hasNextPage: rows.length > first,
      };
    },

    /** One run, or null. */
    async get(id: number): Promise<ReconciliationRun | null> {
      const row = (await db('reconciliation_runs').where({ id }).first()) as Record<string, unknown> | undefined;
      return row === undefined ? null : runOf(row);
    },

    /**
     * Adds a run's findings (lines that were not MATCH: the caller leaves MATCH lines out),
     * numbered from `firstSeq` in the order given. One multi-row INSERT per 200 lines.
     */
    async addFindings(runId: string, firstSeq: number, lines: readonly ReconciliationLine[]): Promise<void> {
      const rows = lines.map((l, i) => ({
        run_id: Number(runId),
        seq: firstSeq + i,
        sku: l.sku,
        location: l.location.id,
        status: l.status,
        authoritative: l.authoritative,
        quantity: l.quantity,
        variance: l.variance,
        explained: l.explained,
        unexplained: l.unexplained,
        worst_source: l.worstSource,
        explanation: l.explanation,
        rule: l.rule.slice(0, 512),
        systems: JSON.stringify(l.systems),
        explanations: JSON.stringify(l.explanations),
      }));
      for (let i = 0; i < rows.length; i += INSERT_ROWS) await db('reconciliation_findings').insert(rows.slice(i, i + INSERT_ROWS));
    },

    /** Removes a run's findings (a failed run keeps none). */
    async deleteFindings(runId: string): Promise<void> {
      await db('reconciliation_findings')
        .where({ run_id: Number(runId) })
        .delete();
    },

    /**
     * Keeps the findings of the `keep` newest completed runs (and of any newer run, such as one
     * still running), removes the older runs' findings; returns how many lines it removed.
     */
    async pruneFindings(keep: number): Promise<number> {
      const kept = (await db('reconciliation_runs').where({ status: 'completed' }).orderBy('id', 'desc').limit(keep).select('id')) as { id: number }[];
      if (kept.length < keep) return 0;
      const oldest = Math.min(...kept.map((r) => Number(r.id)));
      return db('reconciliation_findings').where('run_id', '<', oldest).delete();
    },

    /**
     * A page of a run's findings in `seq` order (SKU then location), after the finding `after`
     * (exclusive), narrowed by `filter`, and how many match the filter over every page.
     */
    async findings(runId: string, filter: ReconciliationLineFilter, first: number, after: number | null): Promise<StoredFindingPage> {
      const where = (q: Knex.QueryBuilder) => {
        q.where({ run_id: Number(runId) });
        if (filter.statuses?.length) q.whereIn('status', [...filter.statuses]);
        if (filter.skus?.length) q.whereIn('sku', [...filter.skus]);
        if (filter.locations?.length) q.whereIn('location', [...filter.locations]);
        const sources = filter.sources;
        if (sources?.length) q.where((w) => w.whereIn('worst_source', [...sources]).orWhereIn('authoritative', [...sources]));
        return q;
      };
      const page = where(db('reconciliation_findings'))
        .orderBy('seq')
        .limit(first + 1);
      if (after !== null) page.where('seq', '>', after);
      const [rows, count] = await Promise.all([page as Promise<Record<string, unknown>[]>, where(db('reconciliation_findings')).count({ n: '*' }).first()]);
      return {
        findings: rows.slice(0, first).map(findingOf),
        totalCount: Number((count as { n: number | string } | undefined)?.n ?? 0),
        hasNextPage: rows.length > first,
      };
    },

    /**
     * The codes among `codes` that the SKU map knows for `system` (or, for a source that uses
     * canonical SKUs as its codes, that are canonical SKUs). One statement per 1,000 codes.
     */
    async knownCodes(system: string, codes: readonly string[], canonical: boolean): Promise<Set<string>> {
      const known = new Set<string>();
      for (let i = 0; i < codes.length; i += CHUNK) {
        const chunk = codes.slice(i, i + CHUNK) as string[];
        const rows = canonical
          ? ((await db('skus').whereIn('sku', chunk).select({ code: 'sku' })) as { code: string }[])
          : ((await db('sku_aliases').where({ system }).whereIn('code', chunk).select('code')) as { code: string }[]);
        for (const r of rows) known.add(r.code);
      }
      return known;
    },
  };
}

export type ReconciliationStore = ReturnType<typeof createReconciliationStore>;

function runOf(r: Record<string, unknown>): ReconciliationRun {
  return {
    id: String(r.id),
    startedAt: timestamp(r.started_at),
    finishedAt: r.finished_at === null || r.finished_at === undefined ? null : timestamp(r.finished_at),
    status: r.status as RunStatus,
    tolerance: Number(r.tolerance),
    skus: Number(r.skus),
    lines: Number(r.lines),
    matched: Number(r.matched),
    explained: Number(r.explained),
    withinTolerance: Number(r.within_tolerance),
    discrepancies: Number(r.discrepancies),
    orphans: Number(r.orphans),
    gaps: Number(r.gaps),
    absVariance: Number(r.abs_variance),
    absExplained: Number(r.abs_explained),
    absUnexplained: Number(r.abs_unexplained),
    outDir: (r.out_dir as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

/** A finding as stored, its JSON parsed back with its instants as Dates (as a live line has them). */
function findingOf(r: Record<string, unknown>): StoredFinding {
  const systems = (JSON.parse(r.systems as string) as SystemFigure[]).map((f) => ({
    ...f,
    asOf: f.asOf === null ? null : new Date(f.asOf),
    movements: f.movements.map((m) => ({ ...m, asOf: new Date(m.asOf) })),
  }));
  return {
    seq: Number(r.seq),
    locationId: r.location as string,
    line: {
      sku: r.sku as string,
      status: r.status as ReconciliationStatus,
      authoritative: r.authoritative as string,
      quantity: Number(r.quantity),
      variance: Number(r.variance),
      explained: Number(r.explained),
      unexplained: Number(r.unexplained),
      worstSource: (r.worst_source as string | null) ?? null,
      systems,
      rule: r.rule as string,
      explanations: JSON.parse(r.explanations as string) as Explanation[],
      explanation: (r.explanation as string | null) ?? null,
    },
  };
}
