/**
 * Whether an operation selects a field below the field being resolved, through fragments and
 * inline fragments: `selects(info, 'channelViews')` (the next level) or
 * `selects(info, 'nodes.onHand')` (a dotted path). A resolver passes the answer to its
 * service, which then does the work (reads the channels' views, the orphans' stock) only when
 * the answer needs it. Directives (@skip, @include) are not judged: a skipped field counts as
 * selected, which costs a read, never a wrong answer.
 */
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

export function selects(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: string): boolean {
  const names = path.split('.');
  return info.fieldNodes.some((n) => n.selectionSet !== undefined && inSet(n.selectionSet, names, info.fragments));
}

function inSet(set: SelectionSetNode, names: readonly string[], fragments: Record<string, FragmentDefinitionNode>, seen = new Set<string>()): boolean {
  const [name, ...rest] = names;
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD && s.name.value === name) {
      if (rest.length === 0) return true;
      if (s.selectionSet !== undefined && inSet(s.selectionSet, rest, fragments)) return true;
    }
    if (s.kind === Kind.INLINE_FRAGMENT && inSet(s.selectionSet, names, fragments, seen)) return true;
    if (s.kind === Kind.FRAGMENT_SPREAD && !seen.has(s.name.value)) {
      seen.add(s.name.value);
      const f = fragments[s.name.value];
      if (f !== undefined && inSet(f.selectionSet, names, fragments, seen)) return true;
    }
  }
  return false;
}
