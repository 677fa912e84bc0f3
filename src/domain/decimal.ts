/**
 * Exact decimal arithmetic on decimal strings ("12.340000000", "-3", "0.5"), never through a
 * float: a decimal is held as a bigint of units and a scale (value = units / 10^scale). What
 * money needs: a unit cost times a whole quantity (inventory value), sums of values, and the
 * comparison of two costs against a tolerance given in percent.
 *
 *   multiplyByInteger('12.345000000', 3)            -> '37.035000000'  (the amount's scale kept)
 *   addDecimals('0.10', '0.2')                      -> '0.30'
 *   withinTolerance('10.00', '10.10', '1')          -> true   (|10.10 - 10.00| * 100 <= 1 * 10.00)
 *   percentApart('10.00', '10.25')                  -> '2.5'
 * Pure functions: a malformed string is a RangeError naming it (callers check amounts first:
 * src/domain/validation.ts).
 */

/** A decimal as units and a scale: `units / 10^scale`. */
export interface Dec {
  units: bigint;
  scale: number;
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Whether `s` is a plain decimal string: digits, an optional fraction, an optional minus sign. */
export function isDecimal(s: string): boolean {
  return DECIMAL.test(s);
}

export function parseDecimal(s: string): Dec {
  const m = DECIMAL.exec(s);
  if (m === null) throw new RangeError(`not a decimal: ${JSON.stringify(s)}`);
  const fraction = m[3] ?? '';
  const units = BigInt(`${m[2]}${fraction}`);
  return { units: m[1] === '-' ? -units : units, scale: fraction.length };
}

export function formatDecimal(d: Dec): string {
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const whole = digits.slice(0, digits.length - d.scale);
  const fraction = d.scale === 0 ? '' : `.${digits.slice(digits.length - d.scale)}`;
  return `${negative && d.units !== 0n ? '-' : ''}${whole}${fraction}`;
}

/** `d` at a larger (or equal) scale. */
function rescale(d: Dec, scale: number): bigint {
  return d.units * 10n ** BigInt(scale - d.scale);
}

/** `amount × quantity`, exactly, at the amount's scale. `quantity` must be a safe integer. */
export function multiplyByInteger(amount: string, quantity: number): string {
  if (!Number.isSafeInteger(quantity)) throw new RangeError(`not a whole quantity: ${quantity}`);
  const d = parseDecimal(amount);
  return formatDecimal({ units: d.units * BigInt(quantity), scale: d.scale });
}

/** `a + b`, exactly, at the larger of their scales. */
export function addDecimals(a: string, b: string): string {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  return formatDecimal({ units: rescale(x, scale) + rescale(y, scale), scale });
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b` ("1.50" equals "1.5"). */
export function compareDecimals(a: string, b: string): -1 | 0 | 1 {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const scale = Math.max(x.scale, y.scale);
  const d = rescale(x, scale) - rescale(y, scale);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

const abs = (n: bigint) => (n < 0n ? -n : n);

/**
 * Whether `other` is within `tolerancePercent` percent of `reference`:
 * |other − reference| × 100 ≤ tolerancePercent × |reference|, in exact arithmetic. A reference
 * of 0 accepts only 0.
 */
export function withinTolerance(reference: string, other: string, tolerancePercent: string): boolean {
  const r = parseDecimal(reference);
  const o = parseDecimal(other);
  const t = parseDecimal(tolerancePercent);
  // bring all three to one scale, then compare |o - r| * 100 with t * |r| (both at scale * 2)
  const scale = Math.max(r.scale, o.scale, t.scale);
  const rr = rescale(r, scale);
  const diff = abs(rescale(o, scale) - rr);
  return diff * 100n * 10n ** BigInt(scale) <= rescale(t, scale) * abs(rr);
}

/**
 * How far apart two amounts are, in percent of `reference`, truncated to `digits` decimals and
 * without trailing zeros ('2.5', '0.01', '100'); null when the reference is 0 (no percentage).
 */
export function percentApart(reference: string, other: string, digits = 4): string | null {
  const r = parseDecimal(reference);
  const o = parseDecimal(other);
  const scale = Math.max(r.scale, o.scale);
  const rr = abs(rescale(r, scale));
  if (rr === 0n) return null;
  const diff = abs(rescale(o, scale) - rescale(r, scale));
  const units = (diff * 100n * 10n ** BigInt(digits)) / rr;
  const text = formatDecimal({ units, scale: digits });
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}
