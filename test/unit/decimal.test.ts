/**
 * Exact decimals (src/domain/decimal.ts): multiplication by large quantities, 9-decimal
 * ERPNext-style amounts, sums across scales and the tolerance comparison, checked against
 * bigint arithmetic done by hand and against properties (fast-check) that a float would break.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDecimals,
  compareDecimals,
  formatDecimal,
  isDecimal,
  multiplyByInteger,
  parseDecimal,
  percentApart,
  withinTolerance,
} from '../../src/domain/decimal.js';

describe('decimal strings', () => {
  it('parse and format without changing the text', () => {
    for (const s of ['0', '12', '12.340000000', '0.000000001', '-3.5', '99999999999999999999.999999999']) {
      expect(formatDecimal(parseDecimal(s))).toBe(s);
    }
    expect(formatDecimal({ units: -5n, scale: 3 })).toBe('-0.005');
    expect(formatDecimal({ units: 0n, scale: 2 })).toBe('0.00');
  });

  it('refuse what is not a plain decimal, naming it', () => {
    for (const s of ['', '1e3', '1.', '.5', '1,5', 'NaN', ' 1', '+1']) {
      expect(isDecimal(s)).toBe(false);
      expect(() => parseDecimal(s)).toThrow(`not a decimal: ${JSON.stringify(s)}`);
    }
  });
});

describe('multiplyByInteger', () => {
  it('is exact where floats are not', () => {
    expect(multiplyByInteger('0.1', 3)).toBe('0.3'); // 0.1 * 3 = 0.30000000000000004 as floats
    expect(multiplyByInteger('1.005', 1000)).toBe('1005.000');
    expect(multiplyByInteger('19.99', 0)).toBe('0.00');
  });

  it('keeps the 9 decimals of an ERPNext decimal(21,9) amount', () => {
    expect(multiplyByInteger('12.345678901', 7)).toBe('86.419752307');
    expect(multiplyByInteger('0.000000001', 999_999_999)).toBe('0.999999999');
  });

  it('handles large quantities and amounts beyond a double’s 15–17 digits', () => {
    // 1e9 units (the largest believed quantity) at a 12-digit, 9-decimal cost
    expect(multiplyByInteger('123456789012.123456789', 1_000_000_000)).toBe('123456789012123456789.000000000');
    // 7.777777777 x (2^53 - 1), checked with Python's decimal module
    expect(multiplyByInteger('7.777777777', Number.MAX_SAFE_INTEGER)).toBe('70055994196535441.690757007');
  });

  it('refuses a quantity that is not a safe whole number', () => {
    expect(() => multiplyByInteger('1.00', 1.5)).toThrow('not a whole quantity: 1.5');
    expect(() => multiplyByInteger('1.00', Number.MAX_SAFE_INTEGER + 1)).toThrow(RangeError);
  });

  it('agrees with bigint arithmetic for any amount and quantity', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: -1e9, max: 1e9 }), (units, scale, q) => {
        const amount = formatDecimal({ units, scale });
        expect(multiplyByInteger(amount, q)).toBe(formatDecimal({ units: units * BigInt(q), scale }));
      }),
    );
  });
});

describe('addDecimals and compareDecimals', () => {
  it('add across scales exactly', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.3');
    expect(addDecimals('12.345678901', '0.5')).toBe('12.845678901');
    expect(addDecimals('-1.25', '1.25')).toBe('0.00');
    expect(addDecimals('99999999999999999999.999999999', '0.000000001')).toBe('100000000000000000000.000000000');
  });

  it('compare by value, whatever the scale', () => {
    expect(compareDecimals('1.50', '1.5')).toBe(0);
    expect(compareDecimals('12.000000001', '12')).toBe(1);
    expect(compareDecimals('-0.1', '0')).toBe(-1);
  });
});

describe('withinTolerance', () => {
  it('accepts up to the tolerance and refuses past it, at the boundary exactly', () => {
    expect(withinTolerance('10.00', '10.10', '1')).toBe(true); // exactly 1 %
    expect(withinTolerance('10.00', '10.100000001', '1')).toBe(false); // a billionth past it
    expect(withinTolerance('10.00', '9.90', '1')).toBe(true); // below as well as above
    expect(withinTolerance('10.00', '9.899999999', '1')).toBe(false);
    expect(withinTolerance('12.345678901', '12.345678901', '0')).toBe(true);
    expect(withinTolerance('12.345678901', '12.345678902', '0')).toBe(false);
  });

  it('reads fractional tolerances exactly', () => {
    expect(withinTolerance('200', '201', '0.5')).toBe(true);
    expect(withinTolerance('200', '201.000000001', '0.5')).toBe(false);
    expect(withinTolerance('3', '3.0000003', '0.00001')).toBe(true);
    expect(withinTolerance('3', '3.0000004', '0.00001')).toBe(false);
  });

  it('with a reference of 0 accepts only 0', () => {
    expect(withinTolerance('0.00', '0', '50')).toBe(true);
    expect(withinTolerance('0.00', '0.01', '50')).toBe(false);
  });
});

describe('percentApart', () => {
  it('is truncated to 4 decimals, without trailing zeros', () => {
    expect(percentApart('10.00', '10.25')).toBe('2.5');
    expect(percentApart('3', '4')).toBe('33.3333');
    expect(percentApart('10', '20')).toBe('100');
    expect(percentApart('12.345678901', '12.345678901')).toBe('0');
    expect(percentApart('0', '1')).toBeNull();
  });
});
