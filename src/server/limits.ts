/**
 * Operation limits, checked before anything executes, per role: document size, tokens, depth,
 * aliases, directives, a cost estimate, and the total SKUs the whole operation asks about (so
 * aliases cannot multiply the per-field SKU cap), plus introspection only for analysts and
 * admins, and a per-key rate budget in cost points. An Apollo plugin, and the same check for
 * the fast path (trusted documents measured as stored): resolvers never see any of this.
 * Limits follow graphql-armor's checks, configurable per role.
 *
 * What is measured, and the cost model declared in schema/ (`@cost`, `@listSize`,
 * `@perLocation`, `@skus`), is src/server/cost.ts. The cheap checks come first: bytes, tokens
 * and a key with no point left are refused before any walk; an operation's shape (depth,
 * aliases, directives, introspection) is measured once per document; its cost and SKUs per
 * request, with the values the executor will use.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, Lexer, Source, TokenKind, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { BadRequestError, BadUserInputError, ForbiddenError, LimitExceededError, RateLimitedError } from '../errors.js';
import { operationDemand, operationShape, type OperationShape } from './cost.js';
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

export interface LimitsPluginOptions {
  /** The schema the operations run against: arguments are measured as it coerces them, defaults included. */
  schema: GraphQLSchema;
  limitsFor: (role: Role) => Limits;
  locationCount: number;
  /** `server.maxScanSkus`: SKUs a field's `@scan` argument may make it read (src/server/cost.ts). Default 0. */
  scanSkus?: number;
  now?: () => number;
  /**
   * The budget shared by every instance (`cluster.redis`, src/service/cluster.ts): spent there
   * instead of in this process's buckets. Unset: each process keeps its own.
   */
  shared?: SharedBudget;
}

/** Cost points spent in a budget every instance shares (a fixed minute window per key). */
export interface SharedBudget {
  /** Takes `cost` points of `key`'s `perMinute`; when they are not there, takes none and says how many are left and when the window turns. */
  consume(
    key: string,
    cost: number,
    perMinute: number,
  ): Promise<{ ok: true; left: number; resetInMs: number } | { ok: false; left: number; resetInMs: number }>;
}

/** The limits as a check of one resolved operation (throws the refusal), and as Apollo's plugin around that check. */
export interface OperationLimits {
  /**
   * Checks `operation` of `document` (its text `query`, with `variables`) against the limits of
   * the context's role, spends its cost from the key's budget, and notes the cost on the
   * context's diagnostics; throws the refusal (a GraphQLError with its HTTP status) before anything executes.
   * With a shared budget the spending is a round trip to it: a promise, rejected with the refusal.
   */
  check(
    context: GatewayContext,
    query: string,
    variables: Record<string, unknown>,
    document: DocumentNode,
    operation: OperationDefinitionNode | undefined,
  ): void | Promise<void>;
  plugin: ApolloServerPlugin<GatewayContext>;
}

export function createOperationLimits(o: LimitsPluginOptions): OperationLimits {
  const now = o.now ?? Date.now;
  const buckets = new Map<string, { points: number; at: number }>();
  /**
   * The shared budget's last answer per key with nothing left, until its window turns: a key known
   * to be spent is refused before any walk, as by the local buckets, without asking the budget.
   */
  const spentUntil = new Map<string, number>();
  // Apollo keeps one parsed document per query text (and the fast path one per trusted document), so a
  // document's token count (up to the largest role's cap) is counted once, not on every request
  const tokenCap = Math.max(...ROLES.map((r) => o.limitsFor(r).maxTokens)) + 1;
  const tokenCounts = new WeakMap<DocumentNode, number>();
  // an operation's shape (depth, aliases, directives) is its document's: measured once
  const shapes = new WeakMap<OperationDefinitionNode, OperationShape>();

  function check(
    contextValue: GatewayContext,
    query: string,
    variables: Record<string, unknown>,
    document: DocumentNode,
    operation: OperationDefinitionNode | undefined,
  ): void | Promise<void> {
    const role = contextValue.principal.role;
    const limits = o.limitsFor(role);
    const bytes = Buffer.byteLength(query, 'utf8');
    if (bytes > limits.maxDocumentBytes) {
      throw new LimitExceededError(`The document is ${bytes} bytes; at most ${limits.maxDocumentBytes} for role ${role}.`, {
        limit: 'maxDocumentBytes',
        max: limits.maxDocumentBytes,
        actual: bytes,
      });
    }
    let tokens = tokenCounts.get(document);
    if (tokens === undefined) tokenCounts.set(document, (tokens = countTokens(query, tokenCap)));
    if (tokens > limits.maxTokens) {
      throw new LimitExceededError(`The document has more than ${limits.maxTokens} tokens (the most for role ${role}).`, {
        limit: 'maxTokens',
        max: limits.maxTokens,
      });
    }
    if (operation === undefined) return;
    if (operation.operation === 'subscription') {
      throw new BadRequestError('Subscriptions are not served: ask again with a query.');
    }
    // a key with less than one point left can afford no operation: refused before any walk
    if (limits.pointsPerMinute > 0) {
      if (o.shared === undefined) spend(contextValue.principal.name, 1, limits.pointsPerMinute, false);
      else spentShared(contextValue.principal.name);
    }
    const fragments = fragmentsOf(document);
    let shape = shapes.get(operation);
    if (shape === undefined) shapes.set(operation, (shape = operationShape(o.schema, operation, fragments)));
    const over = (limit: keyof Limits, actual: number, what: string) => {
      if (actual > limits[limit])
        throw new LimitExceededError(`The operation ${what} ${actual}; at most ${limits[limit]} for role ${role}.`, { limit, max: limits[limit], actual });
    };
    over('maxDepth', shape.depth, 'is nested');
    over('maxAliases', shape.aliases, 'has aliases:');
    over('maxDirectives', shape.directives, 'uses directives:');
    if (shape.introspection && !allows(role, 'analyst')) {
      throw new ForbiddenError(`Introspection is for the analyst and admin roles; this key (${contextValue.principal.name}) is ${role}.`, 403);
    }
    const m = operationDemand(o.schema, operation, fragments, variables, o.locationCount, o.scanSkus ?? 0);
    if (m.skus > limits.maxSkus) {
      throw BadUserInputError.tooManySkus(
        `Too many SKUs: the operation asks about ${m.skus} in all (aliases and fields added up), at most ${limits.maxSkus} for role ${role}.`,
        {
          max: limits.maxSkus,
          actual: m.skus,
        },
      );
    }
    over('maxCost', m.cost, 'is estimated to cost');
    // more than a whole minute's points could never be paid, however long the client waits
    if (limits.pointsPerMinute > 0 && m.cost > limits.pointsPerMinute) {
      throw new LimitExceededError(
        `The operation is estimated to cost ${m.cost} points, more than the ${limits.pointsPerMinute} a key of role ${role} may spend in a minute: ask for fewer SKUs or fields.`,
        {
          limit: 'pointsPerMinute',
          max: limits.pointsPerMinute,
          actual: m.cost,
        },
      );
    }
    contextValue.diagnostics.cost = m.cost;
    if (limits.pointsPerMinute > 0 && o.shared !== undefined) return spendShared(o.shared, contextValue.principal.name, m.cost, limits.pointsPerMinute);
    if (limits.pointsPerMinute > 0) spend(contextValue.principal.name, m.cost, limits.pointsPerMinute, true);
  }

  const plugin: ApolloServerPlugin<GatewayContext> = {
    async requestDidStart({ request, contextValue }) {
      return {
        // Apollo turns what is thrown here into an error response; nothing has executed yet.
        // (The parser already stopped at the largest role's maxTokens.)
        // `source` is the text that was parsed: also the stored document when the client sent
        // only a persisted query's hash (its own `query` is then empty)
        async didResolveOperation({ source, document, operation }) {
          await check(contextValue, source, request.variables ?? {}, document, operation);
        },
      };
    },
  };
  return { check, plugin };

  /** The refusal of a spent budget, worded alike for this process's buckets and the shared one. */
  function refusal(cost: number, take: boolean, left: number, wait: number): RateLimitedError {
    return new RateLimitedError(
      `Rate budget spent: this operation costs ${take ? cost : 'at least 1'} point${cost === 1 ? '' : 's'} and ${Math.floor(left)} are left; retry in ${wait} s.`,
      wait,
    );
  }

  function spentShared(key: string): void {
    const until = spentUntil.get(key);
    if (until === undefined) return;
    const t = now();
    if (t >= until) spentUntil.delete(key);
    else throw refusal(1, false, 0, Math.max(1, Math.ceil((until - t) / 1000)));
  }
  async function spendShared(shared: SharedBudget, key: string, cost: number, perMinute: number): Promise<void> {
    const r = await shared.consume(key, cost, perMinute);
    if (r.left < 1) spentUntil.set(key, now() + r.resetInMs);
    else spentUntil.delete(key);
    if (!r.ok) throw refusal(cost, true, r.left, Math.max(1, Math.ceil(r.resetInMs / 1000)));
  }

  /** A token bucket per key: refills pointsPerMinute a minute, holds at most that much. Takes `cost` when `take`, else only checks it is there. */
  function spend(key: string, cost: number, perMinute: number, take: boolean): void {
    const t = now();
    const b = buckets.get(key) ?? { points: perMinute, at: t };
    b.points = Math.min(perMinute, b.points + ((t - b.at) / 60_000) * perMinute);
    b.at = t;
    buckets.set(key, b);
    if (cost > b.points) throw refusal(cost, take, b.points, Math.max(1, Math.ceil(((cost - b.points) / perMinute) * 60)));
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

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return fragments;
}
