/**
 * Unit costs compared across systems, and inventory value. Every source that maps `cost` gives
 * its unit cost for a SKU; they are compared with a reference (the cost `precedence.cost`
 * picks, else the first source's) within `costs.tolerancePercent`:
 *
 *   |other − reference| × 100 ≤ tolerancePercent × |reference|   (exact: src/domain/decimal.ts)
 *
 * A cost beyond it is a COST_MISMATCH (anomaly per source, deduplicated while open). A cost in
 * another currency than the reference is listed but not compared: there are no exchange rates.
 *
 * Inventory value: max(0, onHand) × unit cost per location (a negative on-hand is a data error,
 * flagged NEGATIVE_ON_HAND, and is worth 0, not a negative asset); a SKU's value is the sum over
 * the locations shown. Pure functions: amounts are decimal strings already checked usable.
 */
import type { NewAnomaly } from './anomalies.js';
import { addDecimals, multiplyByInteger, percentApart, withinTolerance } from './decimal.js';

/** One source's unit cost (`amount` a decimal string). */
export interface SourceCost {
  amount: string;
  currency: string;
  source: string;
}

export interface CostMismatch {
  cost: SourceCost;
  /** |cost − reference| in percent of the reference, truncated to 4 decimals; null when the reference is 0. */
  percentApart: string | null;
}

export interface CostComparison {
  /** The cost the others are compared with; null when no source has a cost. */
  reference: SourceCost | null;
  mismatch: boolean;
  /** Costs beyond the tolerance, in the reference's currency. */
  mismatches: CostMismatch[];
  /** Costs in another currency than the reference: not compared. */
  notCompared: SourceCost[];
  tolerancePercent: string;
}

/** Compares `costs` with the one from `referenceSource` (else the first) within `tolerancePercent`. */
export function compareCosts(costs: readonly SourceCost[], referenceSource: string | null, tolerancePercent: string): CostComparison {
  const reference = costs.find((c) => c.source === referenceSource) ?? costs[0] ?? null;
  const mismatches: CostMismatch[] = [];
  const notCompared: SourceCost[] = [];
  if (reference !== null) {
    for (const c of costs) {
      if (c === reference) continue;
      if (c.currency !== reference.currency) notCompared.push(c);
      else if (!withinTolerance(reference.amount, c.amount, tolerancePercent)) {
        mismatches.push({ cost: c, percentApart: percentApart(reference.amount, c.amount) });
      }
    }
  }
  return { reference, mismatch: mismatches.length > 0, mismatches, notCompared, tolerancePercent };
}

/** COST_MISMATCH for `sku`: the differing source, both amounts, how far apart, the tolerance. */
export function costMismatchAnomaly(sku: string, reference: SourceCost, m: CostMismatch, tolerancePercent: string): NewAnomaly {
  const apart = m.percentApart === null ? 'the reference is 0' : `${m.percentApart}% apart`;
  return {
    kind: 'COST_MISMATCH',
    sku,
    location: null,
    source: m.cost.source,
    detail: `${m.cost.source} costs ${sku} at ${m.cost.amount} ${m.cost.currency}, ${reference.source} (reference) at ${reference.amount} ${reference.currency}: ${apart}, tolerance ${tolerancePercent}%`,
  };
}

/** The value of `onHand` units at `unitCost`: max(0, onHand) × amount, exact, at the amount's scale. */
export function stockValue(onHand: number, unitCost: SourceCost): SourceCost {
  return { amount: multiplyByInteger(unitCost.amount, Math.max(0, onHand)), currency: unitCost.currency, source: unitCost.source };
}

/** The sum of values in one currency (the SKU's unit cost's); null for none. */
export function totalValue(values: readonly SourceCost[]): SourceCost | null {
  const first = values[0];
  if (first === undefined) return null;
  let amount = first.amount;
  for (const v of values.slice(1)) amount = addDecimals(amount, v.amount);
  return { amount, currency: first.currency, source: first.source };
}
