/**
 * The subgraph schema without a server (src/server/federation.ts, src/server/cost.ts): every
 * `@auth` field carries the router's directive for the same role in `_service { sdl }`, one
 * written by hand is refused, the SDL for @apollo/gateway drops only those, and `_entities` is
 * measured as the SKUs its representations name.
 */
import { Kind, parse, type ObjectTypeDefinitionNode, type ObjectTypeExtensionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationDemand, operationShape } from '../../src/server/cost.js';
import { authRole, readTypeDefs, scopesFor, withoutRouterAuth, withRouterAuth } from '../../src/server/federation.js';
import { createSchema, SCHEMA_DIR } from '../../src/server/graphql.js';

const schema = createSchema();
const sdl = (schema.getQueryType()!.getFields()._service!.resolve as () => { sdl: string })().sdl;

type ObjectNode = ObjectTypeDefinitionNode | ObjectTypeExtensionNode;
const objects = (doc: ReturnType<typeof parse>) =>
  doc.definitions.filter((d): d is ObjectNode => d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION);

/** `@requiresScopes(scopes:)` of a field as lists of strings, or 'authenticated', or undefined. */
function routerRule(field: NonNullable<ObjectNode['fields']>[number]): string[][] | 'authenticated' | undefined {
  if (field.directives?.some((d) => d.name.value === 'authenticated')) return 'authenticated';
  const d = field.directives?.find((x) => x.name.value === 'requiresScopes');
  const v = d?.arguments?.[0]?.value;
  if (v?.kind !== Kind.LIST) return undefined;
  return v.values.map((any) => (any.kind === Kind.LIST ? any.values.map((s) => (s.kind === Kind.STRING ? s.value : '?')) : []));
}

describe('@auth for a router', () => {
  it('gives every guarded field of _service { sdl } the scopes of its role and the roles above, and no other field any', () => {
    let guarded = 0;
    for (const type of objects(parse(sdl))) {
      for (const field of type.fields ?? []) {
        const role = authRole(field);
        const rule = routerRule(field);
        if (role === undefined) {
          expect(rule, `${type.name.value}.${field.name.value}`).toBeUndefined();
          continue;
        }
        guarded++;
        expect(rule, `${type.name.value}.${field.name.value}`).toEqual(role === 'storefront' ? 'authenticated' : scopesFor(role));
      }
    }
    // the schema guards many fields (unitCost, sources, reconciliation, the anomaly workflow, ...)
    expect(guarded).toBeGreaterThan(10);
    expect(scopesFor('analyst')).toEqual([['inventory:analyst'], ['inventory:admin']]);
  });

  it('refuses a router directive written by hand in schema/', () => {
    const doc = parse('type Query { x: Int @auth(requires: ADMIN) @requiresScopes(scopes: [["inventory:oms"]]) }');
    expect(() => withRouterAuth(doc)).toThrow('x: @requiresScopes is derived from @auth (src/server/federation.ts); do not write it in schema/');
  });

  it('drops only the router directives and their imports for @apollo/gateway', () => {
    const plain = withoutRouterAuth(sdl);
    expect(plain).not.toMatch(/@requiresScopes|@authenticated/);
    expect(plain).toContain('import: ["@key", "@shareable"]');
    expect(plain).toMatch(/unitCost: Money @auth\(requires: ANALYST\)/);
    expect(plain).toMatch(/type InventoryItem @key\(fields: "sku"\)/);
  });

  it('builds from schema/ as the files say, the link included', () => {
    expect(readTypeDefs(SCHEMA_DIR).definitions.some((d) => d.kind === Kind.SCHEMA_EXTENSION)).toBe(true);
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.14"');
  });
});

describe('_entities and _service in the limits', () => {
  const op = (query: string) => {
    const doc = parse(query);
    const operation = doc.definitions[0];
    if (operation?.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
    return operation;
  };
  const ENTITIES = op('query ($r: [_Any!]!) { _entities(representations: $r) { ... on InventoryItem { sku availability { available } } } }');
  const reps = (n: number) => Array.from({ length: n }, (_, i) => ({ __typename: 'InventoryItem', sku: `S${i}` }));

  it('counts each representation as a SKU and its selection once per representation', () => {
    const one = operationDemand(schema, ENTITIES, new Map(), { r: reps(1) }, 3);
    const many = operationDemand(schema, ENTITIES, new Map(), { r: reps(10_000) }, 3);
    expect(one.skus).toBe(1);
    expect(many.skus).toBe(10_000);
    // the field itself, then per representation: sku, availability and its available
    expect(many.cost - 1).toBe((one.cost - 1) * 10_000);
    const direct = operationDemand(schema, op('{ availability(skus: ["a", "b"]) { available } }'), new Map(), {}, 3);
    expect(direct.skus).toBe(2);
  });

  it('treats _service as introspection (analyst and admin only)', () => {
    expect(operationShape(schema, op('{ _service { sdl } }'), new Map()).introspection).toBe(true);
    expect(operationShape(schema, ENTITIES, new Map()).introspection).toBe(false);
  });
});
