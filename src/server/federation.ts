/**
 * Apollo Federation 2: the gateway is the inventory subgraph of a company's graph
 * (docs/federation.md). schema/federation.graphql links the federation spec and makes
 * `InventoryItem` an entity keyed by `sku`; `buildSubgraphSchema` adds what a router calls,
 * `_service { sdl }` (the schema it composes) and `_entities(representations:)` (the SKUs it
 * joins onto another subgraph's products), to the one executable schema (src/server/graphql.ts),
 * so both run on the one request pipeline: the jit executor, the limits (representations count
 * as SKUs against `maxSkus`: src/server/cost.ts) and `@auth`.
 *
 * `@auth(requires:)` stays ours: the resolver wrapper (src/server/auth-directive.ts) enforces it
 * on every path, `_entities` included. For a router that enforces access itself, the SDL also
 * carries federation's own directives, derived here from `@auth` when the schema is built, so
 * the two can never disagree: a field guarded for role R requires one of the scopes of R and the
 * roles above it (`@requiresScopes(scopes: [["inventory:analyst"], ["inventory:admin"]])`), a
 * field any key may read but that needs a key (`STOREFRONT`) is `@authenticated`. An argument
 * guarded on its own (`inventoryItems(filter:)`) has no federation equivalent (the router's
 * directives go on fields and types only): only we enforce it.
 *
 * `@cost`, `@listSize`, `@perLocation`, `@skus`, `@scan` and `@auth` stay subgraph-local: they
 * are printed in `_service { sdl }` and read by our limits, not composed into the supergraph.
 * Federation's own `@cost`/`@listSize` (v2.9) refuse ours (a list argument as a slicing
 * argument, `input.lines` paths, `reservation.lines` sized fields), so a router's demand control
 * cannot read this model; the gateway applies it to every request the router sends.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import {
  concatAST,
  Kind,
  parse,
  print,
  Source,
  visit,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROLES, type Role } from './auth.js';

/** The scope a router's token must carry for a role: `inventory:analyst`. */
export const scopeOf = (role: Role): string => `inventory:${role}`;

/** The scopes that satisfy `@auth(requires: role)`: the role's and every role above it, any one of them. */
export function scopesFor(role: Role): string[][] {
  return ROLES.slice(ROLES.indexOf(role)).map((r) => [scopeOf(r)]);
}

/** Every .graphql file in `dir`, in name order, as one document (each file named in its errors). */
export function readTypeDefs(dir: string): DocumentNode {
  return concatAST(
    readdirSync(dir)
      .filter((f) => f.endsWith('.graphql'))
      .sort()
      .map((f) => parse(new Source(readFileSync(join(dir, f), 'utf8'), join('schema', f)))),
  );
}

const name = (value: string) => ({ kind: Kind.NAME, value }) as const;
const str = (value: string): ConstValueNode => ({ kind: Kind.STRING, value });

/** The router's directive for a field guarded by `@auth(requires: role)`. */
function routerDirective(role: Role): ConstDirectiveNode {
  if (role === 'storefront') return { kind: Kind.DIRECTIVE, name: name('authenticated') };
  const scopes: ConstValueNode = {
    kind: Kind.LIST,
    values: scopesFor(role).map((any) => ({ kind: Kind.LIST, values: any.map(str) })),
  };
  return { kind: Kind.DIRECTIVE, name: name('requiresScopes'), arguments: [{ kind: Kind.ARGUMENT, name: name('scopes'), value: scopes }] };
}

/** The role a field's own `@auth(requires:)` names, if it has one. */
export function authRole(field: Pick<FieldDefinitionNode, 'directives'>): Role | undefined {
  const auth = field.directives?.find((d) => d.name.value === 'auth');
  const v = auth?.arguments?.find((a) => a.name.value === 'requires')?.value;
  return v?.kind === Kind.ENUM ? (v.value.toLowerCase() as Role) : undefined;
}

/**
 * `typeDefs` with federation's access directives beside each field's `@auth` (see above). A
 * field that already carries one by hand is refused: the two would drift apart.
 */
export function withRouterAuth(typeDefs: DocumentNode): DocumentNode {
  return visit(typeDefs, {
    FieldDefinition(field) {
      const own = field.directives?.find((d) => d.name.value === 'requiresScopes' || d.name.value === 'authenticated');
      if (own !== undefined) {
        throw new Error(`${field.name.value}: @${own.name.value} is derived from @auth (src/server/federation.ts); do not write it in schema/`);
      }
      const role = authRole(field);
      if (role === undefined) return undefined;
      return { ...field, directives: [...(field.directives ?? []), routerDirective(role)] };
    },
  });
}

/** The subgraph schema of `typeDefs` with `resolvers`: ours, plus `_service` and `_entities`. */
export function subgraphSchema(typeDefs: DocumentNode, resolvers?: object): GraphQLSchema {
  internOneByte(typeDefs);
  const schema = buildSubgraphSchema({ typeDefs: withRouterAuth(typeDefs), resolvers: resolvers as GraphQLResolverMap<unknown> | undefined });
  const entities = schema.getQueryType()?.getFields()._entities;
  if (entities?.resolve !== undefined) entities.resolve = settledEntities(entities.resolve);
  return schema;
}

/** Every name `internOneByte` has interned, held for the life of the process so that V8 keeps them. */
const interned: Record<string, true> = Object.create(null) as Record<string, true>;

/**
 * Every name in `typeDefs` (types, fields, arguments, enum values) interned by V8 as a one-byte
 * string, before federation's code sees them.
 *
 * `buildSubgraphSchema` prints the schema and parses the print again, and V8 holds that print as
 * a two-byte (UTF-16) string, though every character in it is Latin-1. Each name cut from it is
 * then two-byte, and whichever string is interned first is the one V8 gives every later
 * occurrence of the same word: the property names in graphql-jit's compiled code, the `STALE` our
 * resolvers return. Every answer's JSON then comes out two-byte, and Node transcodes it to UTF-8
 * twice to send it (once to measure it, once to write it). On the availability-50 bench that
 * cost 30 % more CPU per request and a third of the throughput (bench/RESULTS.md, "federation").
 * Interned here first, from our own one-byte parse, the same words stay one-byte wherever they
 * come from later. test/federation/schema.test.ts checks the schema's names and an answer.
 */
function internOneByte(typeDefs: DocumentNode): void {
  visit(typeDefs, {
    Name(node) {
      // a GraphQL name is ASCII: the Latin-1 round trip is exact and always one-byte
      interned[Buffer.from(node.value, 'latin1').toString('latin1')] = true;
    },
  });
}

/**
 * `_entities` with every representation settled before the list is returned: a failed one is
 * its error in its place (null there, the error beside the data), the others answered. A router
 * matches the answers to its representations by position; graphql-jit, given the promises
 * themselves, leaves out a failed item that fails before an earlier one resolves (a shorter
 * list: every later answer would land on the wrong product), where graphql-js answers null.
 */
function settledEntities(resolve: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> {
  return async (source, args, context, info) => {
    const items = (await resolve(source, args, context, info)) as unknown[];
    return Promise.all(items.map((item) => Promise.resolve(item).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
  };
}

/**
 * `sdl` (our `_service { sdl }`) without federation's access directives, their definitions and
 * their `@link` imports. @apollo/gateway cannot enforce `@requiresScopes`/`@authenticated` and refuses a
 * supergraph that uses them (a SECURITY feature it does not support: it fails closed); Apollo
 * Router enforces them. Composing for @apollo/gateway from this SDL loses nothing we enforce:
 * `@auth` is applied by this gateway to every request the router sends (docs/federation.md).
 */
export function withoutRouterAuth(sdl: string): string {
  const doc = visit(parse(sdl), {
    DirectiveDefinition(d) {
      return d.name.value === 'requiresScopes' || d.name.value === 'authenticated' ? null : undefined;
    },
    FieldDefinition(field) {
      const kept = field.directives?.filter((d) => d.name.value !== 'requiresScopes' && d.name.value !== 'authenticated');
      return kept?.length === field.directives?.length ? undefined : { ...field, directives: kept };
    },
    ListValue(list, _key, parent) {
      // the federation @link's `import:` list: without the two names
      const arg = parent as { kind?: string; name?: { value: string } } | undefined;
      if (arg?.kind !== Kind.ARGUMENT || arg.name?.value !== 'import') return undefined;
      return { ...list, values: list.values.filter((v) => !(v.kind === Kind.STRING && (v.value === '@requiresScopes' || v.value === '@authenticated'))) };
    },
  });
  return print(doc);
}
