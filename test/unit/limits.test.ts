import { getOperationAST, Kind, parse, type DocumentNode, type FragmentDefinitionNode, type GraphQLError, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GatewayContext } from '../../src/server/context.js';
import { createSchema } from '../../src/server/graphql.js';
import { createOperationLimits, DEFAULT_LIMITS, measureOperation } from '../../src/server/limits.js';

const QUERY = 'query($s: [ID!]!) { availability(skus: $s) { sku available } }';
const document = parse(QUERY);
const operation = getOperationAST(document) ?? undefined;

function limits(now: () => number) {
  return createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxSkus: 500, pointsPerMinute: 100 }), locationCount: 5, now });
}
const schema = createSchema();
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
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxTokens: 10 }), locationCount: 5 });
    expect(() => l.check(context(), QUERY, { s: ['A'] }, document, operation)).toThrow(/more than 10 tokens/);
    expect(() => l.check(context(), QUERY, { s: ['A'] }, document, operation)).toThrow(/more than 10 tokens/);
  });

  it('refuses a key with no points left before it measures anything', () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, pointsPerMinute: 10 }), locationCount: 5, now: () => 0 });
    const c = context();
    // 3 SKUs cost 7 (the field, and two fields per SKU): once leaves 3 points
    l.check(c, QUERY, { s: ['A', 'B', 'C'] }, document, operation);
    expect(() => l.check(context(), QUERY, { s: ['A', 'B', 'C'] }, document, operation)).toThrow(/costs 7 points and 3 are left/);
    l.check(context(), QUERY, { s: ['A'] }, document, operation);
    // no points at all: RATE_LIMITED whatever the document; had the walk run first, the
    // fan-out's 2^40 SKUs would have been refused by maxSkus instead
    const bomb = fanOut(40);
    const err = catchError(() => l.check(context(), bomb.text, {}, bomb.document, bomb.operation));
    expect(err?.extensions.code).toBe('RATE_LIMITED');
    expect(err?.message).toMatch(/at least 1 point and 0 are left/);
  });

  it('refuses an operation that costs more than a minute of points as a limit, not with a Retry-After', () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, pointsPerMinute: 10 }), locationCount: 5, now: () => 0 });
    const err = catchError(() => l.check(context(), QUERY, { s: ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'] }, document, operation));
    expect(err?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'pointsPerMinute', max: 10, actual: 21 });
    expect(err?.extensions.retryAfterSeconds).toBeUndefined();
    // and it spent nothing: a cheap one still passes
    l.check(context(), QUERY, { s: ['A'] }, document, operation);
  });
});

/** `depth` fragments, each spreading the next twice: 2^depth leaves from a few hundred bytes. */
function fanOut(depth: number) {
  const fragments = Array.from({ length: depth }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  const text = `query Bomb { ...F0 } ${fragments.join(' ')} fragment F${depth} on Query { availability(skus: ["A"]) { sku } }`;
  const document = parse(text);
  return { text, document, operation: getOperationAST(document) ?? undefined };
}

function catchError(f: () => void): GraphQLError | undefined {
  try {
    f();
  } catch (e) {
    return e as GraphQLError;
  }
  return undefined;
}

const fragmentsOf = (d: DocumentNode) => new Map(d.definitions.filter((x): x is FragmentDefinitionNode => x.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
const measure = (text: string, variables: Record<string, unknown> = {}) => {
  const d = parse(text);
  return measureOperation(schema, getOperationAST(d) as OperationDefinitionNode, fragmentsOf(d), variables, 5);
};

describe('measuring an operation', () => {
  it('takes one step per selection, however often its fragments are spread', () => {
    const { document: d, operation: op } = fanOut(40);
    const m = measureOperation(schema, op as OperationDefinitionNode, fragmentsOf(d), {}, 5);
    // the operation's spread, two spreads in each of 40 fragments, and the leaf's two fields
    expect(m.steps).toBe(1 + 40 * 2 + 2);
    // what the executor would do: 2^40 availability calls of one SKU each
    expect(m.skus).toBe(2 ** 40);
    expect(m.cost).toBe(2 ** 40 * 2);
    expect(m.depth).toBe(2);
  });

  it('refuses the fan-out with a limit error, not by running out of time', () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxSkus: 500 }), locationCount: 5 });
    const { text, document: d, operation: op } = fanOut(24);
    const err = catchError(() => l.check(context(), text, {}, d, op));
    expect(err?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxSkus', actual: 2 ** 24 });
  });

  it('sees variable defaults as the executor will use them', () => {
    const s = Array.from({ length: 500 }, (_, i) => `S${i}`);
    const aliases = Array.from({ length: 30 }, (_, i) => `a${i}: availability(skus: $s) { sku }`).join(' ');
    const withDefault = `query V($s: [ID!] = ${JSON.stringify(s)}) { ${aliases} }`;
    expect(measure(withDefault).skus).toBe(15_000);
    // a value sent replaces the default
    expect(measure(withDefault, { s: ['A'] }).skus).toBe(30);
    expect(measure('query($n: Int = 1000000) { anomalies(first: $n) { id } }').cost).toBe(1 + 1_000_000);
  });

  it('counts arguments with the schema defaults and coercion', () => {
    // anomalies(first: Int = 100): no argument is 100 items
    expect(measure('{ anomalies { id } }').cost).toBe(1 + 100);
    // a single value for a list argument is coerced to a list of one
    expect(measure('{ availability(skus: "A") { sku } }').skus).toBe(1);
    expect(measure('query($s: [ID!]!) { availability(skus: $s) { sku } }', { s: 'A' }).skus).toBe(1);
    // per-location lists inside fragments and inline fragments count as before
    expect(measure('{ availability(skus: ["A", "B"]) { ...L } } fragment L on Availability { ... on Availability { byLocation { available } } }').cost).toBe(1 + 2 * (1 + 5 * 1));
  });
});
