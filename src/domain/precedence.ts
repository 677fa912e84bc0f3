/**
 * Which system speaks for a field. Per field (quantity, cost, name) the config gives an
 * ordered list of sources; for each (sku, location) the first source in that list that has
 * an answer wins. A source that failed for this request, or that lacks the record, is passed
 * over and the answer is marked as a fallback. This module is pure: it sees what each source
 * said, never how it was read.
 *
 * The policy is pluggable in the Vendure way: a small interface and a Default implementation
 * built from the config's `precedence` section.
 */

export type PrecedenceField = 'quantity' | 'cost' | 'name';

/** What one source said about one (sku, location) or one sku. */
export type Candidate<T> =
  | { source: string; status: 'found'; value: T }
  | { source: string; status: 'missing' }
  | { source: string; status: 'failed' }
  /** The source has a record, but it cannot be used (see src/domain/validation.ts): passed over like a failure. */
  | { source: string; status: 'invalid' };

export interface Decision<T> {
  /** The source that speaks, with its value; undefined when no source had an answer. */
  winner: { source: string; value: T } | undefined;
  /** A source ahead of the winner (or ahead of nothing) was passed over. */
  fallback: boolean;
  /** A source that should have answered failed for this request. */
  sourceUnavailable: boolean;
  /** A source ahead of the winner (or ahead of nothing) had a record that could not be used. */
  invalidData?: boolean;
  /** The decision in words, e.g. `quantity: wms > erp (wms: no record)`. */
  rule: string;
}

export interface PrecedenceStrategy {
  /** The sources that may answer `field`, in order of precedence. */
  order(field: PrecedenceField): readonly string[];
  /** Picks the answer from candidates listed in `order(field)` order (sources that cannot answer left out). */
  decide<T>(field: PrecedenceField, candidates: readonly Candidate<T>[]): Decision<T>;
}

export class DefaultPrecedenceStrategy implements PrecedenceStrategy {
  constructor(private readonly lists: Readonly<Record<PrecedenceField, readonly string[]>>) {}

  order(field: PrecedenceField): readonly string[] {
    return this.lists[field];
  }

  decide<T>(field: PrecedenceField, candidates: readonly Candidate<T>[]): Decision<T> {
    const passed: string[] = [];
    let sourceUnavailable = false;
    let invalidData = false;
    for (const c of candidates) {
      if (c.status === 'found') {
        return {
          winner: { source: c.source, value: c.value },
          fallback: passed.length > 0,
          sourceUnavailable,
          ...invalid(invalidData),
          rule: rule(field, candidates, passed),
        };
      }
      if (c.status === 'failed') sourceUnavailable = true;
      if (c.status === 'invalid') invalidData = true;
      passed.push(`${c.source}: ${c.status === 'failed' ? 'unavailable' : c.status === 'invalid' ? 'invalid data' : 'no record'}`);
    }
    return { winner: undefined, fallback: passed.length > 0, sourceUnavailable, ...invalid(invalidData), rule: rule(field, candidates, passed) };
  }
}

/** `invalidData` is only set when true, so decisions without it read as before. */
const invalid = (invalidData: boolean): { invalidData?: true } => (invalidData ? { invalidData: true } : {});

function rule(field: PrecedenceField, candidates: readonly Candidate<unknown>[], passed: readonly string[]): string {
  const order = candidates.map((c) => c.source).join(' > ');
  return passed.length === 0 ? `${field}: ${order}` : `${field}: ${order} (${passed.join('; ')})`;
}
