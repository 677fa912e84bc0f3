/**
 * The sweep: every so often (`sweep.intervalSeconds`, or `inventory-graph sweep`), the whole
 * catalogue is read as availability reads it, and every stock source's codes and freshness, so
 * that each negative on-hand, orphan code and stale source is recorded as an anomaly before
 * anyone asks about it; open anomalies of those kinds (SWEPT_KINDS) whose condition the sweep no
 * longer finds are resolved by `sweep`. What it could not read (a failing source) resolves
 * nothing. Entity types and the sweep's rules here; the job is src/service/sweep.ts.
 */
import { isStale } from './availability.js';
import { staleSourceAnomaly, type NewAnomaly, SWEPT_KINDS } from './anomalies.js';

export type SweepRunStatus = 'RUNNING' | 'COMPLETED' | 'PARTIAL' | 'FAILED';

/** The kinds the sweep finds and resolves (SWEPT_KINDS). */
export type SweptKind = (typeof SWEPT_KINDS)[number];

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
  /** Why the run stopped before the end (the store failed, the server is stopping); null unless FAILED. */
  error: string | null;
  /** Found and resolved, per swept kind (the CLI's summary lines). */
  byKind: Record<SweptKind, { found: number; resolved: number }>;
  /** Orphans found per stock source that was listed to its end (OrphanCodeConnection.totalCount). */
  orphansBySource: Record<string, number>;
}

export interface SweepStatus {
  intervalSeconds: number;
  running: boolean;
  last: SweepRun | null;
  nextAt: Date | null;
}

/** A run that has just started: nothing read yet. */
export function startedRun(at: Date): SweepRun {
  const byKind = Object.fromEntries(SWEPT_KINDS.map((k) => [k, { found: 0, resolved: 0 }])) as SweepRun['byKind'];
  return {
    startedAt: at,
    finishedAt: null,
    status: 'RUNNING',
    skus: 0,
    codes: 0,
    found: 0,
    resolved: 0,
    statements: 0,
    failures: [],
    error: null,
    byKind,
    orphansBySource: {},
  };
}

/** How a run that reached its end ended: PARTIAL when some source failed (its anomalies were left open), else COMPLETED. */
export function finishedStatus(failures: readonly SweepFailure[]): 'COMPLETED' | 'PARTIAL' {
  return failures.length > 0 ? 'PARTIAL' : 'COMPLETED';
}

/**
 * STALE_SOURCE when even the newest usable figure a source gave during the sweep is older than its
 * `maxAgeSeconds` (the source as a whole is behind, not one forgotten row); null when it is
 * fresh, has no `maxAgeSeconds`, or gave no figure.
 */
export function staleSource(source: string, newest: Date | undefined, maxAgeSeconds: number | undefined, at: Date): NewAnomaly | null {
  if (newest === undefined || !isStale({ asOf: newest }, { maxAgeSeconds, stalePolicy: 'count' }, at)) return null;
  return staleSourceAnomaly(source, maxAgeSeconds, newest);
}

/** An instant to the second, as notes show it (`2026-12-01T10:00:00Z`). */
const instant = (at: Date) => at.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The note a resolution by `sweep` carries: what the sweep that started at `at` checked and no
 * longer found, for this anomaly.
 */
export function clearedNote(a: { kind: string; sku: string | null; location: string | null; source: string | null; code: string | null }, at: Date): string {
  const sweep = `cleared: the sweep of ${instant(at)}`;
  switch (a.kind) {
    case 'NEGATIVE_ON_HAND':
      return `${sweep} found no negative on-hand for ${a.sku ?? '?'} at ${a.location ?? '?'} from ${a.source ?? '?'}`;
    case 'ORPHAN_CODE':
      return `${sweep} listed every code of ${a.source ?? '?'}: "${a.code ?? '?'}" is mapped to a canonical SKU now, or gone`;
    case 'STALE_SOURCE':
      return `${sweep} found the newest figure of ${a.source ?? '?'} within its maxAgeSeconds`;
    default:
      return `${sweep} no longer found it`;
  }
}
