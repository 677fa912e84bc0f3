/**
 * What a request's services note about the sources while they answer it: the sources that
 * failed, the records that could not be used and the statements sent. The services write here
 * and nowhere else; the server reads it (its RequestDiagnostics, src/server/diagnostics.ts, is
 * this plus the operation and its cost, one object on the request's context).
 */

/** What went wrong with one source during a request, in words fit for a client. */
export interface SourceFailure {
  source: string;
  reason: string;
  /** The entity whose mapping failed (`cost`), when the source itself answered; undefined when the source failed. */
  entity?: string;
}

/** A record a source sent that could not be used: dropped, fallen back from, flagged, recorded as an anomaly. */
export interface InvalidRecord {
  source: string;
  sku: string;
  /** The canonical location, or null for a per-SKU record (a cost). */
  location: string | null;
  /** Why, in words for an operator (no SQL). */
  reason: string;
}

export interface SourceDiagnostics {
  /** Per source, its first failure during the request (one SOURCE_UNAVAILABLE error each). */
  readonly failures: Map<string, SourceFailure>;
  /** Per source, the records it sent that could not be used (one INVALID_SOURCE_DATA error per source). */
  readonly invalidData: Map<string, InvalidRecord[]>;
  /** Statements (or file reads) sent, per `source/entity`. */
  readonly statements: Map<string, number>;
}

/** Notes `source`'s first failure of the request (`entity`: the one mapping that failed, see SourceFailure). */
export function noteFailure(d: SourceDiagnostics, source: string, reason: string, entity?: string): boolean {
  if (d.failures.has(source)) return false;
  d.failures.set(source, entity === undefined ? { source, reason } : { source, reason, entity });
  return true;
}
