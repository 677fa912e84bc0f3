/**
 * The sweep: every so often (`sweep.intervalSeconds`, or `inventory-graph sweep`), the whole
 * catalogue is read as availability reads it, and every stock source's codes and freshness, so
 * that each negative on-hand, orphan code and stale source is recorded as an anomaly before
 * anyone asks about it; open anomalies of those kinds (SWEPT_KINDS) whose condition the sweep no
 * longer finds are resolved by `sweep`. What it could not read (a failing source) resolves
 * nothing. Entity types here; the job is src/service/sweep.ts.
 */

export type SweepRunStatus = 'RUNNING' | 'COMPLETED' | 'PARTIAL' | 'FAILED';

export interface SweepFailure {
  source: string;
  error: string;
}

export interface SweepRun {
  startedAt: Date;
  finishedAt: Date | null;
  status: SweepRunStatus;
  /** Canonical SKUs read. */
  skus: number;
  /** Codes listed over the stock sources (for orphans). */
  codes: number;
  /** Negatives, orphans and stale sources found. */
  found: number;
  /** Open anomalies resolved because their condition had cleared. */
  resolved: number;
  /** Source statements made. */
  statements: number;
  failures: SweepFailure[];
  /** Orphans found per stock source that was listed to its end (OrphanCodeConnection.totalCount). */
  orphansBySource: Record<string, number>;
}

export interface SweepStatus {
  intervalSeconds: number;
  running: boolean;
  last: SweepRun | null;
  nextAt: Date | null;
}
