/**
 * Everything the server learns about one GraphQL request while answering it, in one object on
 * its context (`context.diagnostics`): the services note the sources that failed, the records
 * that could not be used and the statements sent (src/service/diagnostics.ts); the limits note
 * the operation's cost; the response finalizer notes the operation and its answer's error
 * codes. The answer's source errors and `x-source-statements`, the request log line and the
 * metrics are all read from it.
 *
 * Apollo runs each operation on a shallow copy of the context the front door built: the copy
 * and the original share this object, so what is written on one path is read on the other.
 */
import type { SourceDiagnostics } from '../service/diagnostics.js';

/** The operation a GraphQL request ran, once its answer is final. */
export interface OperationInfo {
  /** True once the document parsed and validated and an operation was chosen. */
  resolved: boolean;
  name: string | null;
  type: 'query' | 'mutation' | 'subscription' | null;
  /** Distinct `extensions.code`s of the answer's errors. */
  errorCodes: string[];
  /** Every error of the answer counted by its `extensions.code` (INTERNAL_SERVER_ERROR when it has none), for the metrics. */
  errorCounts: Map<string, number>;
}

export interface RequestDiagnostics extends SourceDiagnostics {
  /** The operation's estimated cost in points, once the limits have measured it. */
  cost?: number;
  /** Set when the answer is final (src/server/finalize.ts); absent when no GraphQL answer was made (a request Apollo refused as malformed). */
  operation?: OperationInfo;
}

export function createDiagnostics(): RequestDiagnostics {
  return { failures: new Map(), invalidData: new Map(), statements: new Map() };
}

/** The sources a request touched (asked, or failed), sorted, and its statements in all. */
export function sourcesTouched(d: SourceDiagnostics): { sources: string[]; statements: number } {
  const touched = new Set<string>(d.failures.keys());
  let statements = 0;
  for (const [key, n] of d.statements) {
    touched.add(key.slice(0, key.lastIndexOf('/')));
    statements += n;
  }
  return { sources: [...touched].sort(), statements };
}
