/**
 * Operation limits, checked before anything executes, per role: document size, tokens, depth,
 * aliases, directives, a cost estimate, and the total SKUs the whole operation asks about (so
 * aliases cannot multiply the per-field SKU cap), plus introspection only for analysts and
 * admins, and a per-key rate budget in cost points. An Apollo plugin: resolvers never see any
 * of this. Limits follow graphql-armor's checks, configurable per role.
 *
 * Introspection (`__schema`, `__type`) counts as one field: its depth is the schema's.
 *
 * The cost estimate: every selected field costs 1, and a field's children cost as many times
 * as the field can return items: the length of a `skus` or `lines` argument, the value of
 * `first`, the number of locations for per-location lists.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { ErrorCode } from '../errors.js';
import type { GatewayContext } from './context.js';
import { allows, ROLES, type Role } from './auth.js';

export interface Limits {
  maxDocumentBytes: number;
  maxTokens: number;
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxCost: number;
  /** SKUs across the whole operation (all `skus` lists, `lines` and `first` added up). */
  maxSkus: number;
  /** Cost points a key may spend per minute; 0: no budget. */
  pointsPerMinute: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxDocumentBytes: 32 * 1024,
  maxTokens: 2000,
  maxDepth: 10,
  maxAliases: 30,
  maxDirectives: 10,
  maxCost: 200_000,
  maxSkus: 500,
  pointsPerMinute: 10_000_000,
};

/** Fields whose items are one per location. */
const PER_LOCATION = new Set(['byLocation', 'locations', 'trace', 'shipments']);

export function limitError(message: string, extensions: Record<string, unknown>, status = 400): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.LIMIT_EXCEEDED, ...extensions, http: { status } } });
}

export interface LimitsPluginOptions {
  limitsFor: (role: Role) => Limits;
  locationCount: number;
  now?: () => number;
}

/** The limits as a check of one resolved operation (throws the refusal), and as Apollo's plugin around that check. */
export interface OperationLimits {
  /**
   * Checks `operation` of `document` (its text `query`, with `variables`) against the limits of
   * the context's role, spends its cost from the key's budget, and notes the cost on the
   * context; throws the refusal (a GraphQLError with its HTTP status) before anything executes.
   */
  check(context: GatewayContext, query: string, variables: Record<string, unknown>, document: DocumentNode, operation: OperationDefinitionNode | undefined): void;
  /** Gives back what a passed `check` spent, for an operation that then never ran (the fast path handing it to Apollo, which checks again). */
  refund(context: GatewayContext): void;
  plugin: ApolloServerPlugin<GatewayContext>;
}

export function createOperationLimits(o: LimitsPluginOptions): OperationLimits {
  const now = o.now ?? Date.now;
  const buckets = new Map<string, { points: number; at: number }>();
  // Apollo keeps one parsed document per query text (and the fast path one per text too), so a
  // document's token count (up to the largest role's cap) is counted once, not on every request
  const tokenCap = Math.max(...ROLES.map((r) => o.limitsFor(r).maxTokens)) + 1;
  const tokenCounts = new WeakMap<DocumentNode, number>();

  function check(contextValue: GatewayContext, query: string, variables: Record<string, unknown>, document: DocumentNode, operation: OperationDefinitionNode | undefined): void {
    const role = contextValue.principal.role;
    const limits = o.limitsFor(role);
    const bytes = Buffer.byteLength(query, 'utf8');
    if (bytes > limits.maxDocumentBytes) {
      throw limitError(`The document is ${bytes} bytes; at most ${limits.maxDocumentBytes} for role ${role}.`, { limit: 'maxDocumentBytes', max: limits.maxDocumentBytes });
    }
    let tokens = tokenCounts.get(document);
    if (tokens === undefined) tokenCounts.set(document, (tokens = countTokens(query, tokenCap)));
    if (tokens > limits.maxTokens) {
      throw limitError(`The document has more than ${limits.maxTokens} tokens (the most for role ${role}).`, { limit: 'maxTokens', max: limits.maxTokens });
    }
    if (operation === undefined) return;
    if (operation.operation === 'subscription') {
      throw new GraphQLError('Subscriptions are not served: ask again with a query.', { extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } } });
    }
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const m = measure(operation, fragments, variables, o.locationCount);
    const over = (limit: keyof Limits, actual: number, what: string) => {
      if (actual > limits[limit]) throw limitError(`The operation ${what} ${actual}; at most ${limits[limit]} for role ${role}.`, { limit, max: limits[limit], actual });
    };
    over('maxDepth', m.depth, 'is nested');
    over('maxAliases', m.aliases, 'has aliases:');
    over('maxDirectives', m.directives, 'uses directives:');
    if (m.skus > limits.maxSkus) {
      throw new GraphQLError(`Too many SKUs: the operation asks about ${m.skus} in all (aliases and fields added up), at most ${limits.maxSkus} for role ${role}.`, {
        extensions: { code: ErrorCode.BAD_USER_INPUT, limit: 'maxSkus', max: limits.maxSkus, actual: m.skus, http: { status: 400 } },
      });
    }
    over('maxCost', m.cost, 'is estimated to cost');
    if (m.introspection && !allows(role, 'analyst')) {
      throw new GraphQLError(`Introspection is for the analyst and admin roles; this key (${contextValue.principal.name}) is ${role}.`, {
        extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
      });
    }
    if (limits.pointsPerMinute > 0) spend(contextValue.principal.name, m.cost, limits.pointsPerMinute);
    contextValue.cost = m.cost;
  }

  const plugin: ApolloServerPlugin<GatewayContext> = {
    async requestDidStart({ request, contextValue }) {
      return {
        // Apollo turns what is thrown here into an error response; nothing has executed yet.
        // (The parser already stopped at the largest role's maxTokens.)
        async didResolveOperation({ document, operation }) {
          check(contextValue, request.query ?? '', request.variables ?? {}, document, operation);
        },
      };
    },
  };
  function refund(contextValue: GatewayContext): void {
    const perMinute = o.limitsFor(contextValue.principal.role).pointsPerMinute;
    const b = buckets.get(contextValue.principal.name);
    if (perMinute > 0 && b !== undefined && contextValue.cost !== undefined) b.points = Math.min(perMinute, b.points + contextValue.cost);
  }

  return { check, refund, plugin };

  /** A token bucket per key: refills pointsPerMinute a minute, holds at most that much. */
  function spend(key: string, cost: number, perMinute: number): void {
    const t = now();
    const b = buckets.get(key) ?? { points: perMinute, at: t };
    b.points = Math.min(perMinute, b.points + ((t - b.at) / 60_000) * perMinute);
    b.at = t;
    if (cost > b.points) {
      buckets.set(key, b);
      const wait = Math.max(1, Math.ceil(((cost - b.points) / perMinute) * 60));
      const headers = new Map([['retry-after', String(wait)]]);
      throw new GraphQLError(`Rate budget spent: this operation costs ${cost} points and ${Math.floor(b.points)} are left; retry in ${wait} s.`, {
        extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: wait, http: { status: 429, headers } },
      });
    }
    b.points -= cost;
    buckets.set(key, b);
  }
}

/** Tokens in the document, counting no further than `stop`. */
function countTokens(query: string, stop: number): number {
  const lexer = new Lexer(new Source(query));
  let n = 0;
  try {
    while (n < stop && lexer.advance().kind !== TokenKind.EOF) n++;
  } catch {
    // a syntax error: the parser will report it properly
  }
  return n;
}

interface Measure {
  depth: number;
  aliases: number;
  directives: number;
  skus: number;
  cost: number;
  introspection: boolean;
}

/** Walks the operation with its fragments (validation has already refused fragment cycles). */
function measure(op: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>, variables: Record<string, unknown>, locations: number): Measure {
  const m: Measure = { depth: 0, aliases: 0, directives: op.directives?.length ?? 0, skus: 0, cost: 0, introspection: false };

  // depth counts field levels: `{ viewer { role } }` is 2
  const walk = (set: SelectionSetNode, depth: number, multiplier: number, seen: Set<string>): number => {
    m.depth = Math.max(m.depth, depth);
    let cost = 0;
    for (const sel of set.selections) {
      m.directives += sel.directives?.length ?? 0;
      if (sel.kind === Kind.FIELD) {
        const name = sel.name.value;
        if (sel.alias) m.aliases++;
        if (name === '__schema' || name === '__type') {
          // introspection is refused below analyst, and its shape is the schema's, not the
          // caller's: GraphiQL's own introspection query nests `ofType` 15 deep. Like
          // graphql-armor, depth and cost do not look inside it.
          m.introspection = true;
          cost += 1;
          continue;
        }
        let items = 1;
        for (const arg of sel.arguments ?? []) {
          const n = skusIn(name, arg.name.value, valueOf(arg.value, variables));
          items = Math.max(items, n, arg.name.value === 'first' ? countOf(valueOf(arg.value, variables)) : 0);
          m.skus += n * multiplier;
        }
        if (PER_LOCATION.has(name)) items = Math.max(items, locations);
        cost += 1 + (sel.selectionSet ? items * walk(sel.selectionSet, depth + 1, multiplier * items, seen) : 0);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        cost += walk(sel.selectionSet, depth, multiplier, seen);
      } else {
        const f = fragments.get(sel.name.value);
        if (f === undefined || seen.has(f.name.value)) continue;
        cost += walk(f.selectionSet, depth, multiplier, new Set([...seen, f.name.value]));
      }
    }
    return cost;
  };
  m.cost = walk(op.selectionSet, 1, 1, new Set());
  return m;
}

/**
 * SKUs an argument asks about: a `skus` list anywhere, the `lines` of an order, the `first`
 * items of the catalogue.
 */
function skusIn(field: string, arg: string, value: unknown): number {
  if (arg === 'skus') return countOf(value);
  if (arg === 'first') return field === 'inventoryItems' ? countOf(value) : 0;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    return countOf(o.lines) + countOf(o.skus);
  }
  return 0;
}

/** How many items a value stands for: a list's length, a whole number's value. */
function countOf(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  return typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.floor(v)) : 0;
}

/** An argument's value as plain data, variables substituted (enough to count, not to coerce). */
function valueOf(v: ValueNode, variables: Record<string, unknown>): unknown {
  switch (v.kind) {
    case Kind.VARIABLE:
      return variables[v.name.value];
    case Kind.LIST:
      return v.values.map((x) => valueOf(x, variables));
    case Kind.OBJECT:
      return Object.fromEntries(v.fields.map((f) => [f.name.value, valueOf(f.value, variables)]));
    case Kind.INT:
    case Kind.FLOAT:
      return Number(v.value);
    case Kind.STRING:
    case Kind.ENUM:
      return v.value;
    case Kind.BOOLEAN:
      return v.value;
    default:
      return null;
  }
}
