/**
 * An anomaly: something found while answering queries that a person should review (a negative
 * on-hand, a code no canonical SKU maps, invalid source data, a discrepancy past tolerance).
 * Workflow: OPEN -> ACKNOWLEDGED -> RESOLVED (or OPEN -> RESOLVED), each step with an optional
 * note. Entity types and the workflow's refusal; the store keeps them.
 */
export type AnomalyStatus = 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';

/** Every kind of anomaly (schema/anomalies.graphql `AnomalyKind`). */
export const ANOMALY_KINDS = [
  'NEGATIVE_ON_HAND',
  'UNMAPPED_LOCATION',
  'DISCREPANCY',
  'ORPHAN_CODE',
  'STALE_SOURCE',
  'INVALID_SOURCE_DATA',
  'SNAPSHOT_REJECTED',
  'SNAPSHOT_TOO_LARGE',
  'SOURCE_FILES_MISSING',
  'CHANNEL_OVERSTATES',
  'COST_MISMATCH',
  'SKU_MATCH_CONFLICT',
  'UNMATCHED_CODE',
] as const;

export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Whether `kind` is one this version knows (a row written by a newer version may hold another). */
export function isAnomalyKind(kind: string): kind is AnomalyKind {
  return (ANOMALY_KINDS as readonly string[]).includes(kind);
}

/** The kinds the sweep checks over the whole catalogue, and so may resolve when their condition has cleared. */
export const SWEPT_KINDS = ['NEGATIVE_ON_HAND', 'ORPHAN_CODE', 'STALE_SOURCE'] as const satisfies readonly AnomalyKind[];

/** Who resolved an anomaly whose condition the sweep no longer found. */
export const SWEEP_ACTOR = 'sweep';

/** Narrows a list of anomalies: each list given keeps the anomalies matching one of its values; empty or absent lists do not narrow. */
export interface AnomalyFilter {
  kinds?: readonly string[] | null;
  statuses?: readonly AnomalyStatus[] | null;
  skus?: readonly string[] | null;
  sources?: readonly string[] | null;
  /** Canonical location ids (the `location` column). */
  locations?: readonly string[] | null;
}

/** A page of anomalies, newest first: `endCursor` (an anomaly id) is passed as `after` for the next. */
export interface AnomalyPage {
  anomalies: Anomaly[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface NewAnomaly {
  /** One of ANOMALY_KINDS, so the compiler keeps every kind recorded in the schema's enum. */
  kind: AnomalyKind;
  sku: string | null;
  location: string | null;
  source: string | null;
  detail: string;
  /** The source's own code, when the anomaly is about a code no canonical SKU maps (an orphan). */
  code?: string | null;
}

/** A source reports stock at a location code no configured location maps: the stock is ignored, and this says so. */
export function unmappedLocationAnomaly(source: string, code: string): NewAnomaly {
  return {
    kind: 'UNMAPPED_LOCATION',
    sku: null,
    location: code,
    source,
    detail: `${source} reports stock at location code "${code}", which no configured location maps`,
  };
}

/** A source reports a negative on-hand for a SKU at a location (a canonical location id). */
export function negativeOnHandAnomaly(source: string | null, sku: string, location: string, onHand: number): NewAnomaly {
  return { kind: 'NEGATIVE_ON_HAND', sku, location, source, detail: `${source ?? '?'} reports onHand ${onHand} for ${sku} at ${location}` };
}

/**
 * A source holds figures older than its `maxAgeSeconds`: `newest` is the newest of those stale
 * figures (the reconciler), or the source's newest usable figure when even that one is stale (the
 * sweep: the whole source is behind).
 */
export function staleSourceAnomaly(source: string, maxAgeSeconds: number | undefined, newest: Date): NewAnomaly {
  return {
    kind: 'STALE_SOURCE',
    sku: null,
    location: null,
    source,
    detail: `${source} has figures older than its maxAgeSeconds (${maxAgeSeconds ?? '?'} s); the newest stale one is as of ${newest.toISOString()}`,
  };
}

export interface Anomaly extends NewAnomaly {
  id: string;
  code: string | null;
  status: AnomalyStatus;
  firstSeen: Date;
  lastSeen: Date;
  occurrences: number;
  acknowledgedAt: Date | null;
  /** The API key's name that acknowledged it. */
  acknowledgedBy: string | null;
  acknowledgeNote: string | null;
  resolvedAt: Date | null;
  /** The API key's name that resolved it, or `sweep` (SWEEP_ACTOR) when its condition cleared. */
  resolvedBy: string | null;
  resolutionNote: string | null;
}

/** Why a workflow step was refused: the id is unknown, or the anomaly's status does not allow it. */
export class AnomalyTransitionError extends Error {
  constructor(
    readonly reason: 'UNKNOWN_ANOMALY' | 'INVALID_TRANSITION',
    readonly id: string,
    readonly status: AnomalyStatus | null,
    message: string,
  ) {
    super(message);
    this.name = 'AnomalyTransitionError';
  }
}
