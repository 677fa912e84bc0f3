/**
 * Reconciliation: per (sku, location), every system's quantity side by side, the authoritative
 * one (by `precedence.quantity`, as availability picks it), and for every other system its
 * variance against the authoritative figure, the part movements explain and the rest.
 *
 * Movements (picked not invoiced, in transit, received not put away, a count not yet posted, or
 * a kind the config declares) are what a source has already done to its on-hand at a location
 * that a system recording it later has not. So between the authoritative system A and another
 * system X:
 *
 *   variance    = onHand(X) - onHand(A)
 *   explained   = movements(A explaining X) - movements(X explaining A)   (what the difference should be)
 *   unexplained = variance - explained
 *
 * where a movement counts with its quantity when its kind's effect is `lower`, minus it when
 * `higher`, and only toward the systems its kind `explains` (src/domain/movements.ts): picks the
 * WMS records explain the ERP's higher figure, not the shop's that copies the WMS. The movements
 * that explain a comparison are its `explanations`, each with its documents (the first
 * MAX_REFERENCES and how many there are): "explained by pickedNotInvoiced of SAL-ORD-42".
 *
 * ERP 120, WMS 115 (authoritative), WMS reports 5 picked not invoiced: variance +5, explained
 * +5, unexplained 0: EXPLAINED. Status: MATCH (no variance, nothing in flight), EXPLAINED
 * (unexplained 0), WITHIN_TOLERANCE (|unexplained| <= tolerance), else DISCREPANCY. A line
 * takes its worst comparison's figures and status.
 *
 * A system that has the SKU's code but no record at the location says 0 there. Sources that
 * have no code for the SKU are left out of its lines; `gaps` lists SKUs a source should hold
 * (the SKU map gives it a code) and has no record of at all. Orphans, codes a source holds that
 * no canonical SKU maps, are found by paging through the source's codes.
 *
 * The rules and figures, pure; the reads (batched as for availability, one statement per
 * source per entity per ~1,000 codes) are src/service/reconciler.ts.
 */
import type { NewAnomaly } from './anomalies.js';
import type { Location } from './locations.js';
import { MovementKinds } from './movements.js';
import type { MovementKind } from './records.js';

export type ReconciliationStatus = 'MATCH' | 'EXPLAINED' | 'WITHIN_TOLERANCE' | 'DISCREPANCY';
export const STATUS_RANK: Record<ReconciliationStatus, number> = { MATCH: 0, EXPLAINED: 1, WITHIN_TOLERANCE: 2, DISCREPANCY: 3 };

export interface MovementFigure {
  kind: MovementKind;
  quantity: number;
  asOf: Date;
  /** Its documents (orders, pick lists, count numbers): the first MAX_REFERENCES, oldest first. */
  references: string[];
  /** How many documents in all. */
  referenceCount: number;
}

/** One kind of movement of one system that explains part of a comparison's variance. */
export interface Explanation {
  /** The system that reports the movement. */
  source: string;
  kind: MovementKind;
  /** The units it explains of the variance (this system minus the authoritative one). */
  quantity: number;
  references: string[];
  referenceCount: number;
}

/** One system's figure at one (sku, location), compared with the authoritative one. */
export interface SystemFigure extends RawFigure {
  authoritative: boolean;
  /** onHand - authoritative onHand (0 for the authoritative system). */
  variance: number;
  /** The variance movements account for: movements(authoritative) - movements(this). */
  explained: number;
  unexplained: number;
  status: ReconciliationStatus;
  /** The movements that make up `explained`. */
  explanations: Explanation[];
}

export interface ReconciliationLine {
  sku: string;
  location: Location;
  /** The source whose figure is authoritative (by precedence.quantity). */
  authoritative: string;
  /** The authoritative onHand. */
  quantity: number;
  /** The worst comparison's figures (largest |unexplained|, then |variance|); 0 when only one system reports. */
  variance: number;
  explained: number;
  unexplained: number;
  /** The worst status over the systems; also which system that is. */
  status: ReconciliationStatus;
  worstSource: string | null;
  systems: SystemFigure[];
  rule: string;
  /** The worst comparison's explanations, and in words ("explained by pickedNotInvoiced of SAL-ORD-42"); null when nothing explains it. */
  explanations: Explanation[];
  explanation: string | null;
}

export type GapReason = 'NO_RECORD' | 'NO_CODE';

export interface Gap {
  sku: string;
  /** Null with NO_CODE: no stock source has a code for the SKU at all. */
  source: string | null;
  reason: GapReason;
  detail: string;
}

export interface OrphanCode {
  source: string;
  code: string;
  /** On hand over every location code the source reports it at; null: its quantities could not be read. */
  onHand?: number | null;
  locations?: OrphanLocation[] | null;
}

/** An orphan code's stock at one of the source's location codes (`location`: the configured one it maps to, if any). */
export interface OrphanLocation {
  code: string;
  location: Location | null;
  onHand: number;
}

/**
 * Orphans with their stock: per code, its records summed by location code (in code order) and
 * in total. A code without records has onHand 0 and no locations.
 */
export function orphansWithStock(
  source: string,
  codes: readonly string[],
  records: readonly { code: string; location: string; onHand: number }[],
  locate: (locationCode: string) => Location | undefined,
): OrphanCode[] {
  const byCode = new Map<string, Map<string, number>>();
  for (const r of records) {
    let m = byCode.get(r.code);
    if (m === undefined) byCode.set(r.code, (m = new Map()));
    m.set(r.location, (m.get(r.location) ?? 0) + r.onHand);
  }
  return codes.map((code) => {
    const locations = [...(byCode.get(code) ?? [])]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([l, onHand]) => ({ code: l, location: locate(l) ?? null, onHand }));
    return { source, code, onHand: locations.reduce((n, l) => n + l.onHand, 0), locations };
  });
}

export interface ReconciliationSummary {
  lines: number;
  matched: number;
  explained: number;
  withinTolerance: number;
  discrepancies: number;
  absVariance: number;
  absExplained: number;
  absUnexplained: number;
  gaps: number;
}

export interface Reconciliation {
  tolerance: number;
  /** The lines in the statuses asked for (all without a filter). */
  lines: ReconciliationLine[];
  /** Gaps and summary cover every SKU read, whatever the statuses asked for. */
  gaps: Gap[];
  summary: ReconciliationSummary;
  /** Known SKUs read for this answer. */
  scanned: number;
  /** Lines in the statuses asked for over every page; null when this answer cannot know (a catalogue page that did not start at the beginning or reach the end). */
  totalCount: number | null;
  hasNextPage: boolean;
  /** The last SKU read: the next catalogue page starts after it; null with `skus`. */
  endCursor: string | null;
}

/** What one system says at one location, before comparison. */
export interface RawFigure {
  source: string;
  /** Null: the source has the SKU's code but no record here (compared as 0). */
  onHand: number | null;
  committed: number | null;
  asOf: Date | null;
  stale: boolean;
  snapshotFallback: boolean;
  movements: MovementFigure[];
}

/**
 * Compares every system with the authoritative one (`figures[authoritative]`, which must have
 * an onHand). Pure.
 */
export function compareLine(
  figures: readonly RawFigure[],
  authoritative: number,
  tolerance: number,
  kinds: MovementKinds = DEFAULT_KINDS,
): { systems: SystemFigure[]; worst: number } {
  const a = figures[authoritative] as RawFigure;
  const base = a.onHand ?? 0;
  /** `reporter`'s movements that explain its difference with `other`, signed as this comparison's variance (`sign`). */
  const explaining = (reporter: RawFigure, other: string, sign: 1 | -1): Explanation[] =>
    reporter.movements.flatMap((m) => {
      const c = kinds.contribution(m.kind, m.quantity, other);
      return c === 0 ? [] : [{ source: reporter.source, kind: m.kind, quantity: sign * c, references: m.references, referenceCount: m.referenceCount }];
    });
  let worst = -1;
  const systems = figures.map((f, i): SystemFigure => {
    if (i === authoritative) return { ...f, authoritative: true, variance: 0, explained: 0, unexplained: 0, status: 'MATCH', explanations: [] };
    const variance = (f.onHand ?? 0) - base;
    const explanations = [...explaining(a, f.source, 1), ...explaining(f, a.source, -1)];
    const explained = explanations.reduce((n, e) => n + e.quantity, 0);
    const unexplained = variance - explained;
    const status: ReconciliationStatus =
      unexplained === 0 ? (variance === 0 && explained === 0 ? 'MATCH' : 'EXPLAINED') : Math.abs(unexplained) <= tolerance ? 'WITHIN_TOLERANCE' : 'DISCREPANCY';
    return { ...f, authoritative: false, variance, explained, unexplained, status, explanations };
  });
  systems.forEach((s, i) => {
    if (i === authoritative) return;
    const w = worst < 0 ? undefined : systems[worst];
    if (
      w === undefined ||
      STATUS_RANK[s.status] > STATUS_RANK[w.status] ||
      (STATUS_RANK[s.status] === STATUS_RANK[w.status] &&
        (Math.abs(s.unexplained) > Math.abs(w.unexplained) ||
          (Math.abs(s.unexplained) === Math.abs(w.unexplained) && Math.abs(s.variance) > Math.abs(w.variance))))
    ) {
      worst = i;
    }
  });
  return { systems, worst };
}

const DEFAULT_KINDS = new MovementKinds();

/** Explanations in words: "explained by pickedNotInvoiced of SAL-ORD-42, SAL-ORD-43; inTransit (4 units)"; null for none. */
export function describeExplanations(explanations: readonly Explanation[]): string | null {
  if (explanations.length === 0) return null;
  const parts = explanations.map((e) => {
    if (e.referenceCount === 0) return `${e.kind} (${e.quantity} unit${Math.abs(e.quantity) === 1 ? '' : 's'})`;
    const more = e.referenceCount - e.references.length;
    return `${e.kind} of ${e.references.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  });
  return `explained by ${parts.join('; ')}`;
}

export function emptySummary(): ReconciliationSummary {
  return { lines: 0, matched: 0, explained: 0, withinTolerance: 0, discrepancies: 0, absVariance: 0, absExplained: 0, absUnexplained: 0, gaps: 0 };
}

/** Adds lines (and gaps) to a running summary. */
export function addToSummary(s: ReconciliationSummary, lines: readonly ReconciliationLine[], gaps = 0): ReconciliationSummary {
  for (const l of lines) {
    s.lines++;
    if (l.status === 'MATCH') s.matched++;
    else if (l.status === 'EXPLAINED') s.explained++;
    else if (l.status === 'WITHIN_TOLERANCE') s.withinTolerance++;
    else s.discrepancies++;
    for (const f of l.systems) {
      s.absVariance += Math.abs(f.variance);
      s.absExplained += Math.abs(f.explained);
      s.absUnexplained += Math.abs(f.unexplained);
    }
  }
  s.gaps += gaps;
  return s;
}

export function orphanAnomaly(source: string, code: string): NewAnomaly {
  return { kind: 'ORPHAN_CODE', sku: null, location: null, source, code, detail: `${source} holds stock under code "${code}", which no canonical SKU maps` };
}

/** One run of `inventory-graph reconcile`, as the store keeps it. */
export type RunStatus = 'running' | 'completed' | 'failed';

export interface RunCounts {
  skus: number;
  lines: number;
  matched: number;
  explained: number;
  withinTolerance: number;
  discrepancies: number;
  orphans: number;
  gaps: number;
  absVariance: number;
  absExplained: number;
  absUnexplained: number;
}

export interface ReconciliationRun extends RunCounts {
  id: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: RunStatus;
  tolerance: number;
  outDir: string | null;
  error: string | null;
}

/** A page of recorded runs, newest first: `endCursor` (a run id) is passed as `after`. */
export interface ReconciliationRunPage {
  runs: ReconciliationRun[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

/** A page of a recorded run's lines (its findings: the lines that were not MATCH), in SKU then location order. */
export interface ReconciliationLinePage {
  lines: ReconciliationLine[];
  /** Each line's cursor (its place in the run), in the same order. */
  cursors: string[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

/** Narrows a recorded run's lines: each list given keeps the lines matching one of its values. */
export interface ReconciliationLineFilter {
  statuses?: readonly ReconciliationStatus[] | null;
  skus?: readonly string[] | null;
  locations?: readonly string[] | null;
  /** The line's worst or authoritative source. */
  sources?: readonly string[] | null;
}
