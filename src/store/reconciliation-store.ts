/**
 * Reconciliation runs kept in the store (migration 0004), and the batched SKU-map lookups that
 * orphan detection needs: which of a page of a source's codes the map knows.
 */
import type { Knex } from 'knex';
import { timestamp } from '../db/values.js';
import type { ReconciliationRun, RunCounts, RunStatus } from '../domain/reconciliation.js';

export type { ReconciliationRun, RunCounts, RunStatus };

const CHUNK = 1000;

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
      return rows.map((r) => ({
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
      }));
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
