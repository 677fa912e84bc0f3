/**
 * `selects(info, path)` (resolvers/selection.ts): whether an operation selects a field below the
 * one being resolved, directly, through named and inline fragments, at a dotted path.
 */
import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selects } from '../../resolvers/selection.js';

/** The resolve info of the operation's first root field. */
function infoOf(doc: string) {
  const d = parse(doc);
  const op = d.definitions.find((x): x is OperationDefinitionNode => x.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(
    d.definitions.filter((x): x is FragmentDefinitionNode => x.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  return { fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments };
}

describe('selects', () => {
  it('finds a field selected directly, in a named fragment, in an inline fragment', () => {
    expect(selects(infoOf('{ availability(skus: ["A"]) { sku channelViews { source } } }'), 'channelViews')).toBe(true);
    expect(selects(infoOf('{ availability(skus: ["A"]) { ...F } } fragment F on Availability { channelViews { source } }'), 'channelViews')).toBe(true);
    expect(selects(infoOf('{ availability(skus: ["A"]) { ... on Availability { channelViews { source } } } }'), 'channelViews')).toBe(true);
  });

  it('does not find one that is absent, or selected deeper than asked', () => {
    expect(selects(infoOf('{ availability(skus: ["A"]) { sku flags } }'), 'channelViews')).toBe(false);
    expect(selects(infoOf('{ inventoryItem(sku: "A") { availability { channelViews { source } } } }'), 'channelViews')).toBe(false);
  });

  it('follows a dotted path through fragments', () => {
    const doc = '{ orphanCodes(source: "wms") { ...P } } fragment P on OrphanCodeConnection { nodes { code ... on OrphanCode { onHand } } }';
    expect(selects(infoOf(doc), 'nodes.onHand')).toBe(true);
    expect(selects(infoOf(doc), 'nodes.locations')).toBe(false);
    expect(selects(infoOf('{ orphanCodes(source: "wms") { nodes { code } } }'), 'nodes.onHand')).toBe(false);
    expect(selects(infoOf('{ orphanCodes(source: "wms") { edges { node { locations { code } } } } }'), 'edges.node.locations')).toBe(true);
  });

  it('survives a fragment spread twice', () => {
    const doc = '{ availability(skus: ["A"]) { ...F ...F } } fragment F on Availability { sku }';
    expect(selects(infoOf(doc), 'channelViews')).toBe(false);
  });
});
