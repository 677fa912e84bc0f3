/**
 * Help for two kinds of config mistakes (src/config/index.ts reports them):
 *
 * - an unknown key: `knownKeys(configSchema, path, raw)` finds the object schema at a key path
 *   (through records, arrays, optionals, defaults, pipes, and unions: a discriminated union
 *   by the value's own `kind`) and lists its keys; `nearestKey` picks the one the user most
 *   likely meant, or none rather than nonsense (`sources.erp.stok: unknown key (did you mean "stock"?)`);
 * - a YAML syntax error: `yamlProblems` gives each one's real line and column (from a LineCounter)
 *   and the line's text, for a quote never closed where it was opened, and leaves out the errors
 *   that only follow from an earlier one.
 */
import type { LineCounter, YAMLError } from 'yaml';
import type { z } from 'zod';

/** What zod keeps of a schema that this walk needs (zod 4's `_zod.def`). */
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  valueType?: Schema;
  element?: Schema;
  innerType?: Schema;
  in?: Schema;
  options?: Schema[];
  discriminator?: string;
}
type Schema = z.ZodType | { _zod: { def: Def } };

const defOf = (s: Schema): Def => (s as { _zod: { def: Def } })._zod.def;

/** The keys the object schema at `path` knows, in schema order; [] when there is no object schema there. */
export function knownKeys(schema: Schema, path: readonly PropertyKey[], raw: unknown): string[] {
  const at = objectAt(schema, path, raw);
  return at === undefined ? [] : Object.keys(defOf(at).shape ?? {});
}

/** Descends from `s` (whose value is `value`) along `path` to the object schema there. */
function objectAt(s: Schema, path: readonly PropertyKey[], value: unknown): Schema | undefined {
  const d = defOf(s);
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return objectAt(d.innerType as Schema, path, value);
    case 'pipe':
      return objectAt(d.in as Schema, path, value);
    case 'union': {
      const options = d.options ?? [];
      if (d.discriminator !== undefined) {
        const tag = (value as Record<string, unknown> | null)?.[d.discriminator];
        const chosen = options.find((o) => literalOf(o, d.discriminator as string) === tag);
        return chosen === undefined ? undefined : objectAt(chosen, path, value);
      }
      // a plain union (one mapping or a list of them): the option of the value's own shape
      for (const o of options) {
        const found = objectAt(o, path, value);
        if (found !== undefined && fits(o, value)) return found;
      }
      return undefined;
    }
  }
  if (path.length === 0) return d.type === 'object' ? s : undefined;
  const [head, ...rest] = path;
  const child = (value as Record<PropertyKey, unknown> | null | undefined)?.[head as PropertyKey];
  if (d.type === 'object') {
    const next = d.shape?.[String(head)];
    return next === undefined ? undefined : objectAt(next, rest, child);
  }
  if (d.type === 'record') return objectAt(d.valueType as Schema, rest, child);
  if (d.type === 'array') return objectAt(d.element as Schema, rest, child);
  return undefined;
}

/** The literal value of key `key` in an object schema (a discriminated union's option), if it has one. */
function literalOf(s: Schema, key: string): unknown {
  const d = defOf(s);
  if (d.type === 'pipe') return literalOf(d.in as Schema, key);
  const field = d.shape?.[key];
  if (field === undefined) return undefined;
  const values = (defOf(field) as { values?: unknown[] }).values;
  return values?.[0];
}

/** Whether `value` has the outer shape of `s`: a list for an array schema, an object otherwise. */
function fits(s: Schema, value: unknown): boolean {
  let d = defOf(s);
  while (d.type === 'optional' || d.type === 'default' || d.type === 'prefault' || d.type === 'pipe' || d.type === 'nullable')
    d = defOf((d.type === 'pipe' ? d.in : d.innerType) as Schema);
  return d.type === 'array' ? Array.isArray(value) : !Array.isArray(value);
}

/**
 * The known key `key` most likely misspells, or undefined when none is close enough: the fewest
 * edits (insert, delete, replace, swap two neighbours; case ignored), at most 1 for a key of up
 * to 4 letters, 2 up to 8, 3 beyond, and fewer than half the known key's letters.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    const allowed = Math.max(key.length, k.length) <= 4 ? 1 : Math.max(key.length, k.length) <= 8 ? 2 : 3;
    if (d <= allowed && d < k.length / 2 && d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus the swap of two neighbouring letters. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const up = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** Errors the YAML parser reports as consequences of an earlier one (a bad indentation makes the next lines look like compact mappings). */
const CASCADE = new Set(['BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY']);

/** A document's YAML syntax errors as problem lines: the first on each line, consequences of an earlier one left out. */
export function yamlProblems(errors: readonly YAMLError[], text: string, lines: LineCounter): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  for (const e of errors) {
    const { line } = lines.linePos(e.pos[0]);
    if (seen.has(line) || (out.length > 0 && CASCADE.has(e.code))) continue;
    seen.add(line);
    out.push(yamlProblem(e, text, lines));
  }
  return out;
}

/**
 * One YAML syntax error as a problem line: `line 3, column 2: <what> (at "<that line>")`. A quote
 * never closed is found only where the file ends: the line and column where it was opened are named.
 */
export function yamlProblem(e: YAMLError, text: string, lines: LineCounter): string {
  const offset = e.pos[0];
  const { line, col } = lines.linePos(offset);
  const what = e.message.split('\n')[0] ?? e.message;
  const textOf = (n: number) => (text.split(/\r?\n/)[n - 1] ?? '').trimEnd();
  const shown = textOf(line).trim() === '' ? '' : ` (at ${JSON.stringify(textOf(line))})`;
  if (e.code === 'MISSING_CHAR' && /quote/i.test(what)) {
    // found only where the file (or the flow) ends: the line that opened the quote is the one to fix
    const start = openingQuote(text, offset, what.includes("'quote") ? "'" : '"');
    if (start !== undefined) {
      const p = lines.linePos(start);
      return `line ${p.line}, column ${p.col}: ${what} (at ${JSON.stringify(textOf(p.line))}; the quoted value runs on to line ${line})`;
    }
  }
  return `line ${line}, column ${col}: ${what}${shown}`;
}

/** The last `quote` before `end` that starts a value (after `: `, `- `, `[`, `{` or `,`). */
function openingQuote(text: string, end: number, quote: string): number | undefined {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (text[i] !== quote) continue;
    const before = text.slice(0, i).replace(/[ \t]+$/, '');
    if (/(?:^|[:\-[{,])$/.test(before) || before.endsWith('\n')) return i;
  }
  return undefined;
}
