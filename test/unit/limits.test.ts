import { getOperationAST, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GatewayContext } from '../../src/server/context.js';
import { createOperationLimits, DEFAULT_LIMITS } from '../../src/server/limits.js';

const QUERY = 'query($s: [ID!]!) { availability(skus: $s) { sku available } }';
const document = parse(QUERY);
const operation = getOperationAST(document) ?? undefined;

function limits(now: () => number) {
  return createOperationLimits({ limitsFor: () => ({ ...DEFAULT_LIMITS, maxSkus: 500, pointsPerMinute: 100 }), locationCount: 5, now });
}
const context = () => ({ principal: { name: 'shop', role: 'storefront' } }) as unknown as GatewayContext;

describe('operation limits', () => {
  it('spends an operation cost from the key budget, and refuses past it with 429', () => {
    const l = limits(() => 0);
    const c = context();
    l.check(c, QUERY, { s: ['A', 'B'] }, document, operation);
    expect(c.cost).toBeGreaterThan(0);
    const perCall = c.cost as number;
    const calls = Math.floor(100 / perCall);
    for (let k = 1; k < calls; k++) l.check(context(), QUERY, { s: ['A', 'B'] }, document, operation);
    expect(() => l.check(context(), QUERY, { s: ['A', 'B'] }, document, operation)).toThrow(/Rate budget spent/);
  });

  it('gives back what a check spent when the operation never ran', () => {
    const l = limits(() => 0);
    const c = context();
    l.check(c, QUERY, { s: ['A', 'B'] }, document, operation);
    const perCall = c.cost as number;
    // an operation refused after its check (the fast path handing it to Apollo) costs nothing
    for (let k = 0; k < 1000; k++) {
      const again = context();
      l.check(again, QUERY, { s: ['A', 'B'] }, document, operation);
      l.refund(again);
    }
    const calls = Math.floor(100 / perCall);
    for (let k = 1; k < calls; k++) l.check(context(), QUERY, { s: ['A', 'B'] }, document, operation);
    expect(() => l.check(context(), QUERY, { s: ['A', 'B'] }, document, operation)).toThrow(/Rate budget spent/);
  });

  it('counts a document once however often it comes, and refuses one over the token cap', () => {
    const l = createOperationLimits({ limitsFor: () => ({ ...DEFAULT_LIMITS, maxTokens: 10 }), locationCount: 5 });
    expect(() => l.check(context(), QUERY, { s: ['A'] }, document, operation)).toThrow(/more than 10 tokens/);
    expect(() => l.check(context(), QUERY, { s: ['A'] }, document, operation)).toThrow(/more than 10 tokens/);
  });
});
