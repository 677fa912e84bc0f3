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
 * `first`, the number of locations for per-location lists. Arguments are read as the executor
 * will read them (variables coerced, defaults filled in), and the walk is linear in the
 * document: each fragment is measured once (measureOperation).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import {
  getArgumentValues,
  getNamedType,
  getVariableValues,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  Kind,
  Lexer,
  Source,
  TokenKind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
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
  /** The schema the operations run against: arguments are measured as it coerces them, defaults included. */
  schema: GraphQLSchema;
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

  // The cheap checks come first (bytes, tokens, a key with no points left), then the walk,
  // which is linear in the document (measureOperation), then the limits on what it measured.
  function check(contextValue: GatewayContext, query: string, variables: Record<string, unknown>, document: DocumentNode, operation: OperationDefinitionNode | undefined): void {
    const role = contextValue.principal.role;
    const limits = o.limitsFor(role);
    const bytes = Buffer.byteLength(query, 'utf8');
    if (bytes > limits.maxDocumentBytes) {
      throw limitError(`The document is ${bytes} bytes; at most ${limits.maxDocumentBytes} for role ${role}.`, { limit: 'maxDocumentBytes', max: limits.maxDocumentBytes, actual: bytes });
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
    // a key with less than one point left can afford no operation: refused before any walk
    if (limits.pointsPerMinute > 0) spend(contextValue.principal.name, 1, limits.pointsPerMinute, false);
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const m = measureOperation(o.schema, operation, fragments, variables, o.locationCount);
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
    // more than a whole minute's points could never be paid, however long the client waits
    if (limits.pointsPerMinute > 0 && m.cost > limits.pointsPerMinute) {
      throw limitError(`The operation is estimated to cost ${m.cost} points, more than the ${limits.pointsPerMinute} a key of role ${role} may spend in a minute: ask for fewer SKUs or fields.`, {
        limit: 'pointsPerMinute',
        max: limits.pointsPerMinute,
        actual: m.cost,
      });
    }
    if (m.introspection && !allows(role, 'analyst')) {
      throw new GraphQLError(`Introspection is for the analyst and admin roles; this key (${contextValue.principal.name}) is ${role}.`, {
        extensions: { code: ErrorCode.FORBIDDEN, http: { status: 403 } },
      });
    }
    if (limits.pointsPerMinute > 0) spend(contextValue.principal.name, m.cost, limits.pointsPerMinute, true);
    contextValue.cost = m.cost;
  }

  const plugin: ApolloServerPlugin<GatewayContext> = {
    async requestDidStart({ request, contextValue }) {
      return {
        // Apollo turns what is thrown here into an error response; nothing has executed yet.
        // (The parser already stopped at the largest role's maxTokens.)
        // `source` is the text that was parsed: also the stored document when the client sent
        // only a persisted query's hash (its own `query` is then empty)
        async didResolveOperation({ source, document, operation }) {
          check(contextValue, source, request.variables ?? {}, document, operation);
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

  /** A token bucket per key: refills pointsPerMinute a minute, holds at most that much. Takes `cost` when `take`, else only checks it is there. */
  function spend(key: string, cost: number, perMinute: number, take: boolean): void {
    const t = now();
    const b = buckets.get(key) ?? { points: perMinute, at: t };
    b.points = Math.min(perMinute, b.points + ((t - b.at) / 60_000) * perMinute);
    b.at = t;
    buckets.set(key, b);
    if (cost > b.points) {
      const wait = Math.max(1, Math.ceil(((cost - b.points) / perMinute) * 60));
      const headers = new Map([['retry-after', String(wait)]]);
      throw new GraphQLError(`Rate budget spent: this operation costs ${take ? cost : 'at least 1'} point${cost === 1 ? '' : 's'} and ${Math.floor(b.points)} are left; retry in ${wait} s.`, {
        extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: wait, http: { status: 429, headers } },
      });
    }
    if (take) b.points -= cost;
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

export interface Measure {
  depth: number;
  aliases: number;
  directives: number;
  skus: number;
  cost: number;
  introspection: boolean;
  /** Selections visited: each selection of the document once, whatever its fragments spread (what a test counts). */
  steps: number;
}

type Summary = Omit<Measure, 'steps'>;
type FieldParent = GraphQLObjectType | GraphQLInterfaceType;

/**
 * Measures `op` with the values the executor will use: variables coerced by the schema (their
 * defaults included), arguments coerced with the schema's defaults (`anomalies` without
 * `first` asks for its default 100). Every fragment is measured once and its summary reused
 * at each spread (a spread adds its fragment's figures, its SKUs times the items around it),
 * so the work is one step per selection in the document: a fragment spread twice in each of
 * 24 fragments costs 2^24 in the estimate (and is refused), not 2^24 steps. Validation has
 * refused fragment cycles already; a fragment met again while it is being measured counts 0.
 */
export function measureOperation(
  schema: GraphQLSchema,
  op: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  rawVariables: Record<string, unknown>,
  locations: number,
): Measure {
  const coercedVariables = getVariableValues(schema, op.variableDefinitions ?? [], rawVariables);
  const variables = coercedVariables.coerced ?? rawVariables;
  const summaries = new Map<string, Summary | 'measuring'>();
  let steps = 0;

  const fragment = (name: string): Summary | undefined => {
    const known = summaries.get(name);
    if (known === 'measuring') return undefined;
    if (known !== undefined) return known;
    const f = fragments.get(name);
    if (f === undefined) return undefined;
    summaries.set(name, 'measuring');
    const s = summarize(f.selectionSet, parentOf(schema.getType(f.typeCondition.name.value)));
    summaries.set(name, s);
    return s;
  };

  // depth counts field levels: `{ viewer { role } }` is 2; a set's own fields are level 1
  const summarize = (set: SelectionSetNode, parent: FieldParent | undefined): Summary => {
    const s: Summary = { depth: 1, aliases: 0, directives: 0, skus: 0, cost: 0, introspection: false };
    const add = (inner: Summary, times: number, deeper: number) => {
      s.depth = Math.max(s.depth, inner.depth + deeper);
      s.aliases += inner.aliases;
      s.directives += inner.directives;
      s.skus += inner.skus * times;
      s.cost += inner.cost * times;
      s.introspection ||= inner.introspection;
    };
    for (const sel of set.selections) {
      steps++;
      s.directives += sel.directives?.length ?? 0;
      if (sel.kind === Kind.FIELD) {
        const name = sel.name.value;
        if (sel.alias) s.aliases++;
        if (name === '__schema' || name === '__type') {
          // introspection is refused below analyst, and its shape is the schema's, not the
          // caller's: GraphiQL's own introspection query nests `ofType` 15 deep. Like
          // graphql-armor, depth and cost do not look inside it.
          s.introspection = true;
          s.cost += 1;
          continue;
        }
        const def = parent?.getFields()[name];
        const args = def === undefined ? {} : argumentsOf(def, sel, variables);
        let items = 1;
        for (const [arg, value] of Object.entries(args)) {
          const n = skusIn(name, arg, value);
          items = Math.max(items, n, arg === 'first' ? countOf(value) : 0);
          s.skus += n;
        }
        if (PER_LOCATION.has(name)) items = Math.max(items, locations);
        s.cost += 1;
        if (sel.selectionSet) add(summarize(sel.selectionSet, def === undefined ? undefined : parentOf(getNamedType(def.type))), items, 1);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        add(summarize(sel.selectionSet, sel.typeCondition ? parentOf(schema.getType(sel.typeCondition.name.value)) : parent), 1, 0);
      } else {
        const f = fragment(sel.name.value);
        if (f !== undefined) add(f, 1, 0);
      }
    }
    return s;
  };

  const top = summarize(op.selectionSet, parentOf(schema.getRootType(op.operation) ?? undefined));
  return { ...top, directives: top.directives + (op.directives?.length ?? 0), steps };
}

/** The type whose fields a selection set selects, when it has fields (objects and interfaces). */
function parentOf(type: GraphQLNamedType | null | undefined): FieldParent | undefined {
  return isObjectType(type) || isInterfaceType(type) ? type : undefined;
}

/**
 * A field's arguments as the executor will see them (coerced, defaults filled in); when they
 * cannot be coerced the field fails before its resolver runs, and it asks for nothing.
 */
function argumentsOf(def: GraphQLField<unknown, unknown>, node: FieldNode, variables: Record<string, unknown>): Record<string, unknown> {
  try {
    return getArgumentValues(def, node, variables);
  } catch {
    return {};
  }
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
