/**
 * What an operation asks of the gateway, measured from the document and the schema before
 * anything runs: its shape (depth, aliases, directives, introspection), the same for every
 * request of the document and so measured once per operation, and its demand (a cost estimate
 * and the SKUs it asks about), measured per request with the values the executor will use
 * (variables coerced, variable and argument defaults filled in).
 *
 * The cost model is declared in schema/, with the directives of the GraphQL cost directive
 * specification that Apollo Router, Hive and graphql-query-complexity read:
 * - every selected field costs 1, or its `@cost(weight:)`;
 * - a list field's selection costs as many times as the list can have items: its
 *   `@listSize(slicingArguments:)` (an Int argument's value, a list argument's length; a path
 *   such as `order.lines` reads inside an input object; with `requireOneSlicingArgument: false`
 *   the first of them given, in the order listed, so that `reconciliation(skus:)` is sized by its
 *   SKUs and, without them, by `first`), else its `assumedSize`, else 1; a field
 *   that returns an object passes its slicing size to the lists its `sizedFields` names
 *   (`shipments.lines`: a list inside a child);
 * - `@perLocation` (ours): a list with one item per configured location (times the slicing
 *   size, if a parent sized it).
 * - `@scan` (ours) on an argument: given, the field may read `scanSkus` SKUs' availability
 *   (`server.maxScanSkus`), each costing 1 + one per location, whatever it returns.
 * SKUs: every argument or input field marked `@skus` (ours) counts its list's length, or its
 * Int value, toward the operation's `maxSkus` (aliases and fields added up); one left out counts
 * none: `reconciliation` without `skus` pages the catalogue, its reads bounded by the server
 * (`server.maxScanSkus`), its answer by `first` (the cost: `first` lines per location).
 *
 * Federation (src/server/federation.ts): `_entities(representations:)`, which the subgraph
 * adds without our directives, counts as if it were declared `representations: [_Any!]! @skus`
 * and `@listSize(slicingArguments: ["representations"])`: every representation is a SKU (the
 * entity is keyed by `sku`) against `maxSkus`, and the selection costs once per representation,
 * so a router cannot ask through `_entities` what `availability(skus:)` would be refused.
 * `_service { sdl }` is the schema in full: it counts as introspection (analyst and admin only).
 *
 * Each walk takes one step per selection of the document: a fragment is measured once (per
 * sizes its parent gives it) and its figures reused at every spread, so a fragment spread twice
 * in each of 24 fragments adds 2^24 to the estimate (and is refused), not 2^24 steps.
 * Validation has refused fragment cycles already; a fragment met again while it is being
 * measured counts 0.
 */
import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type ConstDirectiveNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

/** Document-only figures: the same for every request of the operation. */
export interface OperationShape {
  /** Field levels: `{ viewer { role } }` is 2. Introspection counts as one field. */
  depth: number;
  aliases: number;
  directives: number;
  /** Whether it selects `__schema` or `__type`. */
  introspection: boolean;
  /** Selections visited: one per selection of the document. */
  steps: number;
}

/** Figures that depend on the request's variables. */
export interface OperationDemand {
  cost: number;
  skus: number;
  /** Selections visited: one per selection of the document (per sizes a parent gives a fragment). */
  steps: number;
}

type FieldParent = GraphQLObjectType | GraphQLInterfaceType;

/** A selection set's measures; `merge` adds an inner set's. */
interface Walk<T> {
  empty(): T;
  /** A field: `into` is what its own selection set measured (undefined: a leaf). */
  field(
    acc: T,
    node: FieldNode,
    def: GraphQLField<unknown, unknown> | undefined,
    into: ((parent: FieldParent | undefined, sizes?: Sizes) => T) | undefined,
    sizes: Sizes | undefined,
  ): void;
  merge(acc: T, inner: T): void;
  /** Every selection (field, spread, inline fragment) where it stands, before it is walked. */
  selection?(acc: T, node: SelectionNode): void;
}

/** Sizes a parent field gives its child lists (`sizedFields`). */
type Sizes = ReadonlyMap<string, number>;

/**
 * Walks `op` with `w`, each fragment once per `sizes` it is met with; `steps` counts the
 * selections visited.
 */
function walk<T>(
  schema: GraphQLSchema,
  op: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  w: Walk<T>,
): { result: T; steps: number } {
  const memo = new Map<string, T | 'measuring'>();
  let steps = 0;
  const fragment = (name: string, sizes: Sizes | undefined): T | undefined => {
    const key = sizes === undefined || sizes.size === 0 ? name : `${name}\u0000${JSON.stringify([...sizes])}`;
    const known = memo.get(key);
    if (known === 'measuring') return undefined;
    if (known !== undefined) return known;
    const f = fragments.get(name);
    if (f === undefined) return undefined;
    memo.set(key, 'measuring');
    const t = set(f.selectionSet, parentOf(schema.getType(f.typeCondition.name.value)), sizes);
    memo.set(key, t);
    return t;
  };
  const set = (selections: SelectionSetNode, parent: FieldParent | undefined, sizes: Sizes | undefined): T => {
    const acc = w.empty();
    for (const sel of selections.selections) {
      steps++;
      w.selection?.(acc, sel);
      if (sel.kind === Kind.FIELD) {
        const def = parent?.getFields()[sel.name.value];
        const inner = sel.selectionSet;
        w.field(acc, sel, def, inner === undefined ? undefined : (p, s) => set(inner, p, s), sizes);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        w.merge(acc, set(sel.selectionSet, sel.typeCondition ? parentOf(schema.getType(sel.typeCondition.name.value)) : parent, sizes));
      } else {
        const f = fragment(sel.name.value, sizes);
        if (f !== undefined) w.merge(acc, f);
      }
    }
    return acc;
  };
  const result = set(op.selectionSet, parentOf(schema.getRootType(op.operation) ?? undefined), undefined);
  return { result, steps };
}

/** Depth, aliases, directives and introspection of `op`: measure once per operation and keep. */
export function operationShape(schema: GraphQLSchema, op: OperationDefinitionNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>): OperationShape {
  type S = Omit<OperationShape, 'steps'>;
  const { result, steps } = walk<S>(schema, op, fragments, {
    empty: () => ({ depth: 1, aliases: 0, directives: 0, introspection: false }),
    merge(acc, inner) {
      acc.depth = Math.max(acc.depth, inner.depth);
      acc.aliases += inner.aliases;
      acc.directives += inner.directives;
      acc.introspection ||= inner.introspection;
    },
    selection(acc, node) {
      acc.directives += node.directives?.length ?? 0;
    },
    field(acc, node, def, into) {
      if (node.alias) acc.aliases++;
      // introspection is refused below analyst, and its shape is the schema's, not the
      // caller's: GraphiQL's own introspection query nests `ofType` 15 deep. Like
      // graphql-armor, depth does not look inside it.
      if (node.name.value === '__schema' || node.name.value === '__type' || node.name.value === SERVICE) {
        acc.introspection = true;
        return;
      }
      if (into === undefined) return;
      const inner = into(def === undefined ? undefined : parentOf(getNamedType(def.type)));
      acc.depth = Math.max(acc.depth, inner.depth + 1);
      acc.aliases += inner.aliases;
      acc.directives += inner.directives;
      acc.introspection ||= inner.introspection;
    },
  });
  return { ...result, directives: result.directives + (op.directives?.length ?? 0), steps };
}

/** The cost estimate and SKUs of `op` with `rawVariables`, as the executor will read them. */
export function operationDemand(
  schema: GraphQLSchema,
  op: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  rawVariables: Record<string, unknown>,
  locations: number,
  scanSkus = 0,
): OperationDemand {
  const coerced = getVariableValues(schema, op.variableDefinitions ?? [], rawVariables);
  const variables = coerced.coerced ?? rawVariables;
  type D = Omit<OperationDemand, 'steps'>;
  const { result, steps } = walk<D>(schema, op, fragments, {
    empty: () => ({ cost: 0, skus: 0 }),
    merge(acc, inner) {
      acc.cost += inner.cost;
      acc.skus += inner.skus;
    },
    field(acc, node, def, into, sizes) {
      const name = node.name.value;
      if (name === '__schema' || name === '__type' || def === undefined) {
        acc.cost += 1;
        return;
      }
      const c = fieldCost(def);
      const args = argumentsOf(def, node, variables);
      acc.cost += c.weight;
      if (scans(def, args)) acc.cost += scanSkus * (1 + locations);
      acc.skus += skusIn(def, args);
      if (into === undefined) return;
      // requireOneSlicingArgument false: the first slicing argument given sizes the list (below)
      const slicingPaths = c.requireOne
        ? c.slicingArguments
        : c.slicingArguments.filter((path) => valueAt(args, path) !== undefined && valueAt(args, path) !== null).slice(0, 1);
      const slicing = Math.max(0, ...slicingPaths.map((path) => countOf(valueAt(args, path))));
      const sliced = slicingPaths.length > 0 && slicingPaths.some((path) => valueAt(args, path) !== undefined);
      const isList = isListType(getNullableType(def.type));
      // a list's items: sized by its parent, else its own slicing argument, else assumed; per location
      let items = 1;
      if (isList) items = sizes?.get(name) ?? (sliced ? slicing : (c.assumedSize ?? 1));
      if (c.perLocation) items *= locations;
      const inner = into(parentOf(getNamedType(def.type)), childSizes(sizes, name, sliced ? c.sizedFields : [], slicing));
      acc.cost += items * inner.cost;
      acc.skus += items * inner.skus;
    },
  });
  return { ...result, steps };
}

/**
 * The sizes a field's selection gets: what its parent gave to paths inside it (`shipments.lines`
 * given to `shipments` is `lines` inside it), and its own slicing size for its `sizedFields`.
 */
function childSizes(given: Sizes | undefined, field: string, sizedFields: readonly string[], size: number): Sizes | undefined {
  const out = new Map<string, number>();
  for (const [path, n] of given ?? []) if (path.startsWith(`${field}.`)) out.set(path.slice(field.length + 1), n);
  for (const path of sizedFields) out.set(path, size);
  return out.size === 0 ? undefined : out;
}

/** A field's cost directives, read once from its definition in schema/. */
interface FieldCost {
  weight: number;
  slicingArguments: string[];
  sizedFields: string[];
  assumedSize: number | undefined;
  perLocation: boolean;
  /** `@listSize(requireOneSlicingArgument:)`, true unless declared false. */
  requireOne: boolean;
}

const fieldCosts = new WeakMap<object, FieldCost>();

/** Federation's root fields (src/server/federation.ts): the router's entity fetch, and the subgraph's SDL. */
const ENTITIES = '_entities';
const SERVICE = '_service';

function fieldCost(def: GraphQLField<unknown, unknown>): FieldCost {
  let c = fieldCosts.get(def);
  if (c === undefined) {
    const directives = def.astNode?.directives ?? [];
    const listSize = directiveArgs(directives, 'listSize');
    const cost = directiveArgs(directives, 'cost');
    c = {
      weight: typeof cost?.weight === 'number' ? cost.weight : 1,
      // `_entities` is sized by its representations (see above)
      slicingArguments: def.name === ENTITIES && listSize === undefined ? ['representations'] : stringList(listSize?.slicingArguments),
      sizedFields: stringList(listSize?.sizedFields),
      assumedSize: typeof listSize?.assumedSize === 'number' ? listSize.assumedSize : undefined,
      perLocation: directives.some((d) => d.name.value === 'perLocation'),
      requireOne: listSize?.requireOneSlicingArgument !== false,
    };
    fieldCosts.set(def, c);
  }
  return c;
}

/** The literal arguments of a directive on a schema element, or undefined when it is not there. */
function directiveArgs(directives: readonly ConstDirectiveNode[], name: string): Record<string, unknown> | undefined {
  const d = directives.find((x) => x.name.value === name);
  if (d === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const a of d.arguments ?? []) {
    const v = a.value;
    if (v.kind === Kind.INT) out[a.name.value] = Number(v.value);
    else if (v.kind === Kind.LIST) out[a.name.value] = v.values.map((x) => (x.kind === Kind.STRING ? x.value : null));
    else if (v.kind === Kind.STRING) out[a.name.value] = [v.value];
    else if (v.kind === Kind.BOOLEAN) out[a.name.value] = v.value;
  }
  return out;
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

const hasSkus = (a: GraphQLArgument | GraphQLInputField) => (a.astNode?.directives ?? []).some((d) => d.name.value === 'skus');

/** Whether a `@scan` argument of the field is given. */
function scans(def: GraphQLField<unknown, unknown>, args: Record<string, unknown>): boolean {
  return def.args.some((a) => args[a.name] !== undefined && args[a.name] !== null && (a.astNode?.directives ?? []).some((d) => d.name.value === 'scan'));
}

/** SKUs a field's arguments ask about: each `@skus` argument, and each `@skus` field of an input-object argument. */
function skusIn(def: GraphQLField<unknown, unknown>, args: Record<string, unknown>): number {
  // each representation a router sends names one SKU (see above)
  let n = def.name === ENTITIES ? countOf(args.representations) : 0;
  for (const a of def.args) {
    const value = args[a.name];
    if (value === undefined || value === null) continue;
    if (hasSkus(a)) n += countOf(value);
    const input = getNamedType(a.type);
    if (isInputObjectType(input) && typeof value === 'object') {
      for (const f of Object.values(input.getFields())) if (hasSkus(f)) n += countOf((value as Record<string, unknown>)[f.name]);
    }
  }
  return n;
}

/** A value inside the arguments by a dotted path (`order.lines`). */
function valueAt(args: Record<string, unknown>, path: string): unknown {
  let v: unknown = args;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** How many items a value stands for: a list's length, a whole number's value (0 below zero). */
export function countOf(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  return typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.floor(v)) : 0;
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
