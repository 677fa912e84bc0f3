/**
 * JSON paths for mapping API answers and nested JSON files to records: the small subset of
 * JSONPath that real payloads need, compiled once per mapping.
 *
 *   $.data.inventoryItems.edges[*].node     members, then every element of a list
 *   locations[*].onhand_quantity            the leading `$.` is optional
 *   quantities[?(@.name=='available')].quantity
 *                                           the elements of a list whose member equals a value
 *   ['on hand'][0]                          a quoted member name, an index
 *
 * `select` answers every value a path reaches (a `[*]` or a filter may reach several, a missing
 * member none); `first` the first of them or undefined. Nothing is ever evaluated as code.
 */

export type Step =
  | { kind: 'member'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; member: string; value: string | number | boolean | null };

export interface JsonPath {
  /** The path as written. */
  readonly text: string;
  readonly steps: readonly Step[];
}

/** Thrown for a path that cannot be read; the message names the path and the position. */
export class JsonPathError extends Error {
  constructor(path: string, at: number, what: string) {
    super(`JSON path ${JSON.stringify(path)}: ${what} at character ${at + 1}`);
    this.name = 'JsonPathError';
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/** Compiles a path; throws JsonPathError naming the problem. */
export function compile(text: string): JsonPath {
  const steps: Step[] = [];
  let i = 0;
  const s = text.trim();
  if (s === '') throw new JsonPathError(text, 0, 'empty path');
  if (s.startsWith('$')) i = 1;
  let first = true;
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      i++;
      const m = IDENT.exec(s.slice(i));
      if (m === null) throw new JsonPathError(text, i, 'a member name expected');
      steps.push({ kind: 'member', name: m[0] });
      i += m[0].length;
    } else if (c === '[') {
      const close = bracketEnd(s, i, text);
      const inner = s.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'member', name: inner.slice(1, -1) });
      else if (inner.startsWith('?')) steps.push(filter(inner, text, i));
      else throw new JsonPathError(text, i, `cannot read [${inner}]`);
    } else if (first && i === 0) {
      const m = IDENT.exec(s);
      if (m === null) throw new JsonPathError(text, 0, 'a member name expected');
      steps.push({ kind: 'member', name: m[0] });
      i += m[0].length;
    } else {
      throw new JsonPathError(text, i, `unexpected ${JSON.stringify(c)}`);
    }
    first = false;
  }
  return { text, steps };
}

function bracketEnd(s: string, open: number, text: string): number {
  let quote: string | null = null;
  for (let j = open + 1; j < s.length; j++) {
    const ch = s[j];
    if (quote !== null) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === ']') return j;
  }
  throw new JsonPathError(text, open, 'unclosed [');
}

/** `?(@.name=='available')`, `?(@.id==3)`, `?(@.active==true)`. */
function filter(inner: string, text: string, at: number): Step {
  const m = /^\?\(\s*@\.([A-Za-z_$][A-Za-z0-9_$-]*)\s*==\s*(.+?)\s*\)$/.exec(inner);
  if (m === null) throw new JsonPathError(text, at, `a filter is ?(@.member==value), not ${inner}`);
  const raw = m[2] as string;
  let value: string | number | boolean | null;
  if (/^'.*'$|^".*"$/.test(raw)) value = raw.slice(1, -1);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (raw === 'null') value = null;
  else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
  else throw new JsonPathError(text, at, `cannot read the value ${raw}`);
  return { kind: 'filter', member: m[1] as string, value };
}

/** Every value `path` reaches from `root`, in document order. */
export function select(path: JsonPath, root: unknown): unknown[] {
  let current: unknown[] = [root];
  for (const step of path.steps) {
    const next: unknown[] = [];
    for (const v of current) {
      if (step.kind === 'member') {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, step.name)) next.push((v as Record<string, unknown>)[step.name]);
      } else if (step.kind === 'index') {
        if (Array.isArray(v)) {
          const k = step.index < 0 ? v.length + step.index : step.index;
          if (k >= 0 && k < v.length) next.push(v[k]);
        }
      } else if (step.kind === 'all') {
        if (Array.isArray(v)) next.push(...(v as unknown[]));
        else if (v !== null && typeof v === 'object') next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const e of v as unknown[]) {
          if (e !== null && typeof e === 'object' && (e as Record<string, unknown>)[step.member] === step.value) next.push(e);
        }
      }
    }
    current = next;
  }
  return current;
}

/** The first value `path` reaches, or undefined. */
export function first(path: JsonPath, root: unknown): unknown {
  return select(path, root)[0];
}
