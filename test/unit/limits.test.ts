import {
  buildSchema,
  getOperationAST,
  Kind,
  parse,
  print,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type OperationDefinitionNode,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GatewayContext } from '../../src/server/context.js';
import { createDiagnostics } from '../../src/server/diagnostics.js';
import { createSchema } from '../../src/server/graphql.js';
import { operationDemand, operationShape } from '../../src/server/cost.js';
import { createOperationLimits, DEFAULT_LIMITS } from '../../src/server/limits.js';

const QUERY = 'query($s: [ID!]!) { availability(skus: $s) { sku available } }';
const document = parse(QUERY);
const operation = getOperationAST(document) ?? undefined;

function limits(now: () => number) {
  return createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxSkus: 500, pointsPerMinute: 100 }), locationCount: 5, now });
}
const schema = createSchema();
const context = () => ({ principal: { name: 'shop', role: 'storefront' }, diagnostics: createDiagnostics() }) as unknown as GatewayContext;

describe('operation limits', () => {
  it('spends an operation cost from the key budget, and refuses past it with 429', async () => {
    const l = limits(() => 0);
    const c = context();
    await l.check(c, QUERY, { s: ['A', 'B'] }, document, operation);
    expect(c.diagnostics.cost).toBeGreaterThan(0);
    const perCall = c.diagnostics.cost as number;
    const calls = Math.floor(100 / perCall);
    for (let k = 1; k < calls; k++) await l.check(context(), QUERY, { s: ['A', 'B'] }, document, operation);
    expect(() => l.check(context(), QUERY, { s: ['A', 'B'] }, document, operation)).toThrow(/Rate budget spent/);
  });

  it('counts a document once however often it comes, and refuses one over the token cap', () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxTokens: 10 }), locationCount: 5 });
    expect(() => l.check(context(), QUERY, { s: ['A'] }, document, operation)).toThrow(/more than 10 tokens/);
    expect(() => l.check(context(), QUERY, { s: ['A'] }, document, operation)).toThrow(/more than 10 tokens/);
  });

  it('refuses a key with no points left before it measures anything', async () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, pointsPerMinute: 10 }), locationCount: 5, now: () => 0 });
    const c = context();
    // 3 SKUs cost 7 (the field, and two fields per SKU): once leaves 3 points
    await l.check(c, QUERY, { s: ['A', 'B', 'C'] }, document, operation);
    expect(() => l.check(context(), QUERY, { s: ['A', 'B', 'C'] }, document, operation)).toThrow(/costs 7 points and 3 are left/);
    await l.check(context(), QUERY, { s: ['A'] }, document, operation);
    // no points at all: RATE_LIMITED whatever the document; had the walk run first, the
    // fan-out's 2^40 SKUs would have been refused by maxSkus instead
    const bomb = fanOut(40);
    const err = catchError(() => l.check(context(), bomb.text, {}, bomb.document, bomb.operation));
    expect(err?.extensions.code).toBe('RATE_LIMITED');
    expect(err?.message).toMatch(/at least 1 point and 0 are left/);
  });

  it('refuses an operation that costs more than a minute of points as a limit, not with a Retry-After', async () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, pointsPerMinute: 10 }), locationCount: 5, now: () => 0 });
    const err = catchError(() => l.check(context(), QUERY, { s: ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'] }, document, operation));
    expect(err?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'pointsPerMinute', max: 10, actual: 21 });
    expect(err?.extensions.retryAfterSeconds).toBeUndefined();
    // and it spent nothing: a cheap one still passes
    await l.check(context(), QUERY, { s: ['A'] }, document, operation);
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

const fragmentsOf = (d: DocumentNode) =>
  new Map(d.definitions.filter((x): x is FragmentDefinitionNode => x.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
const measure = (text: string, variables: Record<string, unknown> = {}) => {
  const d = parse(text);
  return operationDemand(schema, getOperationAST(d) as OperationDefinitionNode, fragmentsOf(d), variables, 5);
};

describe('measuring an operation', () => {
  it('takes one step per selection, however often its fragments are spread', () => {
    const { document: d, operation: op } = fanOut(40);
    const m = operationDemand(schema, op as OperationDefinitionNode, fragmentsOf(d), {}, 5);
    const shape = operationShape(schema, op as OperationDefinitionNode, fragmentsOf(d));
    // the operation's spread, two spreads in each of 40 fragments, and the leaf's two fields
    expect(m.steps).toBe(1 + 40 * 2 + 2);
    expect(shape.steps).toBe(1 + 40 * 2 + 2);
    // what the executor would do: 2^40 availability calls of one SKU each
    expect(m.skus).toBe(2 ** 40);
    expect(m.cost).toBe(2 ** 40 * 2);
    expect(shape).toMatchObject({ depth: 2, aliases: 0, directives: 0 });
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
    expect(measure('query($n: Int = 1000000) { anomalies(first: $n) { nodes { id } } }').cost).toBe(2 + 1_000_000);
  });

  it('counts arguments with the schema defaults and coercion', () => {
    // anomalies(first: Int = 50): no argument is 50 items (the connection and its nodes list count 1 each)
    expect(measure('{ anomalies { nodes { id } } }').cost).toBe(2 + 50);
    // a single value for a list argument is coerced to a list of one
    expect(measure('{ availability(skus: "A") { sku } }').skus).toBe(1);
    expect(measure('query($s: [ID!]!) { availability(skus: $s) { sku } }', { s: 'A' }).skus).toBe(1);
    // per-location lists inside fragments and inline fragments count as before
    expect(measure('{ availability(skus: ["A", "B"]) { ...L } } fragment L on Availability { ... on Availability { byLocation { available } } }').cost).toBe(
      1 + 2 * (1 + 5 * 1),
    );
  });
});

describe('the cost model declared in the schema', () => {
  const tiny = buildSchema(`
    directive @cost(weight: Int!) on FIELD_DEFINITION
    directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
    directive @perLocation on FIELD_DEFINITION
    directive @skus on ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION
    input Order { lines: [String!]! @skus, note: String }
    type Query {
      expensive: Int @cost(weight: 7)
      guessed: [Item!] @listSize(assumedSize: 12)
      page(first: Int = 10 @skus): Page @listSize(slicingArguments: ["first"], sizedFields: ["items", "nested.items"])
      order(o: Order!): Page @listSize(slicingArguments: ["o.lines"], sizedFields: ["items"])
      here: [Item!] @perLocation
      either(ids: [ID!] @skus, first: Int = 4): Page @listSize(slicingArguments: ["ids", "first"], sizedFields: ["items"], requireOneSlicingArgument: false)
    }
    type Page { items: [Item!] total: Int nested: Page }
    type Item { a: Int b: Int }
  `);
  const demand = (text: string, variables: Record<string, unknown> = {}, locations = 3) => {
    const d = parse(text);
    return operationDemand(tiny, getOperationAST(d) as OperationDefinitionNode, fragmentsOf(d), variables, locations);
  };

  it('reads @cost, assumedSize, slicing arguments with their defaults, sizedFields and paths inside children', () => {
    expect(demand('{ expensive }').cost).toBe(7);
    expect(demand('{ guessed { a b } }').cost).toBe(1 + 12 * 2);
    // first defaults to 10: it sizes `items`, not `total`, and `nested.items` inside `nested`
    expect(demand('{ page { total items { a } nested { total items { a } } } }').cost).toBe(1 + 1 + (1 + 10) + (1 + 1 + (1 + 10)));
    expect(demand('{ page(first: 2) { items { a } } }')).toMatchObject({ cost: 1 + 1 + 2, skus: 2 });
    // a path into an input object; `@skus` on an input field
    expect(demand('query($o: Order!) { order(o: $o) { items { a b } } }', { o: { lines: ['x', 'y', 'z'] } })).toMatchObject({ cost: 1 + 1 + 3 * 2, skus: 3 });
    expect(demand('{ here { a } }', {}, 4).cost).toBe(1 + 4);
  });

  it('sizes a list by the first slicing argument given when one is not required (in the order listed)', () => {
    // `ids` given: it sizes the list, `first` (a default) does not; its ids count as SKUs
    expect(demand('{ either(ids: ["x", "y"]) { items { a } } }')).toMatchObject({ cost: 1 + 1 + 2, skus: 2 });
    expect(demand('{ either(ids: ["x", "y"], first: 50) { items { a } } }')).toMatchObject({ cost: 1 + 1 + 2, skus: 2 });
    // left out, or null: `first` sizes it (its default too), and no SKU is counted
    expect(demand('{ either { items { a } } }')).toMatchObject({ cost: 1 + 1 + 4, skus: 0 });
    expect(demand('{ either(ids: null, first: 9) { items { a } } }')).toMatchObject({ cost: 1 + 1 + 9, skus: 0 });
    expect(demand('query($i: [ID!]) { either(ids: $i) { items { a } } }', {})).toMatchObject({ cost: 1 + 1 + 4, skus: 0 });
  });

  it('sizes a fragment by where it is spread, and measures it once per size', () => {
    const m = demand('{ a: page(first: 2) { ...P } b: page(first: 5) { ...P } c: page(first: 5) { ...P } } fragment P on Page { items { a } }');
    expect(m.cost).toBe(3 * 2 + 2 + 5 + 5);
    // 3 fields and 3 spreads, and the fragment's two selections once for each of its two sizes
    expect(m.steps).toBe(6 + 2 * 2);
  });
});

describe('the schema declares its cost model', () => {
  it('sizes the real fields as documented', () => {
    // a route: its unfulfilled lines and each shipment's lines by the order's lines, shipments and trace per location
    const route = measure(
      'query($o: RouteOrderInput!) { routeOrder(order: $o) { complete unfulfilled { sku } shipments { location { id } lines { sku quantity } } trace { reasons } } }',
      {
        o: {
          lines: [
            { sku: 'A', quantity: 1 },
            { sku: 'B', quantity: 2 },
          ],
        },
      },
    );
    expect(route).toMatchObject({ skus: 2, cost: 1 + 1 + (1 + 2 * 1) + (1 + 5 * (1 + 1 + 1 + 2 * 2)) + (1 + 5 * 1) });
    // the catalogue: nodes and edges by first, pageInfo once
    expect(measure('{ inventoryItems(first: 20) { nodes { sku } pageInfo { hasNextPage } } }')).toMatchObject({ skus: 20, cost: 1 + (1 + 20) + (1 + 1) });
    // reconciliation lines: one per SKU and location
    expect(measure('{ reconciliation(skus: ["A", "B"]) { lines { sku } gaps { sku } } }')).toMatchObject({ skus: 2, cost: 1 + (1 + 2 * 5) + (1 + 2) });
    // `first` does not size a reconciliation of given SKUs
    expect(measure('{ reconciliation(skus: ["A", "B"], first: 1000) { lines { sku } } }')).toMatchObject({ skus: 2, cost: 1 + (1 + 2 * 5) });
    // the whole catalogue, a page at a time: `first` lines per location (the default 100), gaps by
    // `first`, pageInfo once; no SKU counted (the server bounds the SKUs a page reads: server.maxScanSkus)
    expect(measure('{ reconciliation { lines { sku } gaps { sku } pageInfo { endCursor } totalCount } }')).toMatchObject({
      skus: 0,
      cost: 1 + (1 + 100 * 5) + (1 + 100) + (1 + 1) + 1,
    });
    expect(measure('{ reconciliation(first: 10, statuses: [DISCREPANCY]) { lines { sku status } } }')).toMatchObject({ skus: 0, cost: 1 + (1 + 10 * 5 * 2) });
    // aliased pages add up
    expect(measure('{ a: reconciliation(first: 1000) { lines { sku } } b: reconciliation(first: 1000) { lines { sku } } }').cost).toBe(2 * (1 + 1 + 1000 * 5));
  });

  it('lets a whole-catalogue reconciliation through the SKU limit, and refuses too many listed SKUs', () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxSkus: 3 }), locationCount: 5 });
    const page = parse('{ reconciliation(first: 500, statuses: [DISCREPANCY]) { lines { sku } pageInfo { endCursor hasNextPage } } }');
    expect(() => l.check(context(), print(page), {}, page, getOperationAST(page) ?? undefined)).not.toThrow();
    const listed = parse('{ reconciliation(skus: ["A", "B", "C", "D"]) { lines { sku } } }');
    expect(catchError(() => l.check(context(), print(listed), {}, listed, getOperationAST(listed) ?? undefined))?.message).toMatch(/asks about 4 in all/);
  });
});

describe('a filtered inventoryItems is costed as the scan it may be', () => {
  const FILTERED = 'query($f: InventoryItemFilter) { inventoryItems(filter: $f, first: 20) { nodes { sku } } }';
  const scan = (variables: Record<string, unknown>, scanSkus: number) => {
    const d = parse(FILTERED);
    return operationDemand(schema, getOperationAST(d) as OperationDefinitionNode, fragmentsOf(d), variables, 5, scanSkus);
  };

  it('adds, per SKU it may read (server.maxScanSkus), one SKU of availability with a figure per location; its SKUs are not the caller’s', () => {
    const page = 1 + (1 + 20);
    // no filter: the catalogue page alone, whatever maxScanSkus is
    expect(scan({}, 10_000)).toMatchObject({ cost: page, skus: 20 });
    expect(scan({ f: null }, 10_000)).toMatchObject({ cost: page, skus: 20 });
    // a filter, even an empty one, reads up to maxScanSkus SKUs: 10,000 × (1 + 5 locations)
    expect(scan({ f: { flags: ['STALE'] } }, 10_000)).toMatchObject({ cost: page + 10_000 * 6, skus: 20 });
    expect(scan({ f: {} }, 1_000)).toMatchObject({ cost: page + 1_000 * 6, skus: 20 });
  });

  it('refuses a filtered call over the role’s maxCost before anything runs, and lets the same call through without a filter', async () => {
    const l = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxCost: 50_000 }), locationCount: 5, scanSkus: 10_000 });
    const d = parse(FILTERED);
    const op = getOperationAST(d) ?? undefined;
    const err = catchError(() => l.check(context(), FILTERED, { f: { flags: ['STALE'] } }, d, op));
    expect(err?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'maxCost', max: 50_000, actual: 1 + 21 + 60_000 });
    const c = context();
    await l.check(c, FILTERED, {}, d, op);
    expect(c.diagnostics.cost).toBe(1 + 21);
    // a smaller scan bound fits the same limit
    const small = createOperationLimits({ schema, limitsFor: () => ({ ...DEFAULT_LIMITS, maxCost: 50_000 }), locationCount: 5, scanSkus: 1_000 });
    const ok = context();
    await small.check(ok, FILTERED, { f: { flags: ['STALE'] } }, d, op);
    expect(ok.diagnostics.cost).toBe(1 + 21 + 6_000);
  });
});
