/**
 * The seam between the gateway and a source system. A connector answers batched reads for
 * the entities it maps, in the source's own codes, and knows nothing of canonical SKUs or
 * precedence. One contract test suite (test/connector-contract.test.ts) runs against every
 * implementation.
 */
import type { Entity, RecordOf } from '../domain/records.js';

/** Told about every statement a connector sends, so a request can count its I/O. */
export interface StatementMeter {
  statement(source: string, entity: Entity): void;
}

export interface Connector {
  /** The source's name in the config (`wms`, `erp`, ...). */
  readonly name: string;
  /** The kind of system behind it (`sql`, ...), shown to operators. */
  readonly kind: string;
  /** The entities this source maps; `fetch` is only called for these. */
  readonly entities: ReadonlySet<Entity>;
  /**
   * All records for the given source codes, in any order; a code the source lacks simply has
   * no record. Rows for the same (code, location) arrive already summed. Issues as few
   * statements as the source allows: one per batch of about 1,000 codes. Rejects when the
   * source fails; the caller turns that into a partial answer.
   */
  fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter): Promise<RecordOf[E][]>;
  /** Verifies the source can be reached (used at start-up and by readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
