/**
 * Is a source's record fit to be used? Connectors mark what they cannot parse (`invalid`);
 * these checks add what no parser sees: absurd magnitudes, a committed quantity below zero,
 * an `asOf` in the future. One place, for every kind of connector. A record that fails is
 * dropped for its (sku, location), precedence falls back to the next source, the level is
 * flagged INVALID_SOURCE_DATA and an anomaly is recorded: never a crash, never a silent zero.
 * Pure functions: no I/O, no clock except the `now` passed in.
 */
import { BadUserInputError } from '../errors.js';
import type { CostRecord, StockRecord } from './records.js';

/** The largest quantity believed: beyond it (either sign) a figure is a unit or overflow mistake, not stock. */
export const MAX_QUANTITY = 1_000_000_000;
/** How far in the future an `asOf` may be (clocks differ a little between systems), in ms. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Why a stock record cannot be used, or undefined when it can. */
export function stockProblem(r: StockRecord, now: Date): string | undefined {
  if (r.invalid !== undefined) return r.invalid;
  if (!Number.isSafeInteger(r.onHand)) return `onHand is not a whole number (${String(r.onHand)})`;
  if (Math.abs(r.onHand) > MAX_QUANTITY) return `onHand ${r.onHand} is beyond ±${MAX_QUANTITY}`;
  if (!Number.isSafeInteger(r.committed)) return `committed is not a whole number (${String(r.committed)})`;
  if (r.committed < 0 || r.committed > MAX_QUANTITY) return `committed ${r.committed} is outside 0..${MAX_QUANTITY}`;
  if (!(r.asOf instanceof Date) || Number.isNaN(r.asOf.getTime())) return 'asOf is not a valid instant';
  if (r.asOf.getTime() > now.getTime() + MAX_FUTURE_SKEW_MS) return `asOf ${r.asOf.toISOString()} is in the future`;
  return undefined;
}

/** Why a cost record cannot be used, or undefined when it can. */
export function costProblem(r: CostRecord): string | undefined {
  if (r.invalid !== undefined) return r.invalid;
  if (!/^\d+(\.\d+)?$/.test(r.amount)) return `unit cost is not a non-negative decimal (${JSON.stringify(r.amount)})`;
  if (r.currency.trim() === '') return 'unit cost has no currency';
  return undefined;
}

/** The most anomalies or reconciliation runs one list answers. */
export const MAX_LIST_PAGE = 1000;

/** A page size asked by a caller (`first`): a whole number from 1 to `max`, else a BadUserInputError naming the value. */
export function checkPageSize(first: number, max: number): number {
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw new BadUserInputError(`\`first\` must be between 1 and ${max}, got ${first}.`, { argumentName: 'first' });
  }
  return first;
}
