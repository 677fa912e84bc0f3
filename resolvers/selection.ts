/**
 * Whether an operation selects a field under the field being resolved (through fragments and
 * inline fragments, at the next level only): `selects(info, 'channelViews')` lets a resolver ask
 * the service for work (reading the channels' views) only when the answer needs it.
 */
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

export function selects(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, name: string): boolean {
  return info.fieldNodes.some((n) => n.selectionSet !== undefined && inSet(n.selectionSet, name, info.fragments, new Set()));
}

function inSet(set: SelectionSetNode, name: string, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>): boolean {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD && s.name.value === name) return true;
    if (s.kind === Kind.INLINE_FRAGMENT && inSet(s.selectionSet, name, fragments, seen)) return true;
    if (s.kind === Kind.FRAGMENT_SPREAD && !seen.has(s.name.value)) {
      seen.add(s.name.value);
      const f = fragments[s.name.value];
      if (f !== undefined && inSet(f.selectionSet, name, fragments, seen)) return true;
    }
  }
  return false;
}
