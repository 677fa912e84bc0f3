/**
 * Turns a JSON document (one page of an API answer, or a file holding one) into flat rows, one
 * per record, by JSON paths: the one mapping shared by `kind: http` sources (src/sources/http.ts)
 * and file sources with `format: json` (src/sources/csv.ts).
 *
 *   records: items[*]          the list of items in a page (JSON paths, src/sources/json-path.ts)
 *   each: locations[*]         optional: a nested list per item; one row per element
 *   fields:                    canonical name -> path, read from the row's element
 *     sku: ^.sku               `^.` reads from one level up: the element's item (with `each`),
 *     location: location_id    or the page (without); `^^.` two levels up (the page, with `each`)
 *     onHand: on_hand_quantity
 *
 * A field whose path reaches nothing is `undefined` in the row: the caller decides what a missing
 * value costs (the http connector marks the record invalid, a file is refused at that row).
 *
 *   const m = compileJsonMapping({ records: 'items[*]', each: 'locations[*]', fields: { sku: '^.sku', ... } });
 *   for (const row of jsonRows(page, m)) row.sku, row.onHand ...
 */
import { compile, first, select, type JsonPath } from './json-path.js';

/** A mapping as configured: `records`, optional `each`, and `fields` by canonical name. */
export interface JsonRecordMapping {
  records: string;
  each?: string | undefined;
  fields: Readonly<Record<string, string | undefined>>;
}

/** One field's path: how many levels up it starts (`^` each), and the path from there. */
export interface FieldPath {
  up: number;
  path: JsonPath;
}

export interface CompiledJsonMapping {
  records: JsonPath;
  each: JsonPath | undefined;
  fields: readonly (readonly [string, FieldPath])[];
}

/** `^.sku` -> one level up, then `sku`; `^` alone -> the parent itself. Throws JsonPathError for a path that cannot be read. */
export function compileField(text: string): FieldPath {
  const s = text.trim();
  let up = 0;
  while (s[up] === '^') up++;
  const rest = s.slice(up);
  if (up > 0 && rest !== '' && !rest.startsWith('.') && !rest.startsWith('[')) {
    throw new Error(`JSON path ${JSON.stringify(text)}: \`^\` is followed by \`.\` or \`[\` (as in ^.sku)`);
  }
  return { up, path: compile(rest === '' ? '$' : rest.startsWith('.') ? `$${rest}` : rest) };
}

/** Compiles a mapping once; throws naming the field whose path is wrong or reaches too far up. */
export function compileJsonMapping(m: JsonRecordMapping): CompiledJsonMapping {
  const levels = m.each === undefined ? 1 : 2;
  const fields: [string, FieldPath][] = [];
  for (const [name, text] of Object.entries(m.fields)) {
    if (text === undefined) continue;
    let f: FieldPath;
    try {
      f = compileField(text);
    } catch (e) {
      throw new Error(`fields.${name}: ${(e as Error).message}`, { cause: e });
    }
    if (f.up > levels) {
      throw new Error(
        `fields.${name}: ${JSON.stringify(text)} goes ${f.up} levels up, but a row has only ${levels} above it${m.each === undefined ? ' (no `each`)' : ''}`,
      );
    }
    fields.push([name, f]);
  }
  return { records: compile(m.records), each: m.each === undefined ? undefined : compile(m.each), fields };
}

/** The rows of one document, in document order: every field by canonical name (undefined: not there). */
export function* jsonRows(doc: unknown, m: CompiledJsonMapping): Generator<Record<string, unknown>> {
  for (const item of select(m.records, doc)) {
    if (m.each === undefined) {
      yield row([doc, item], m);
      continue;
    }
    for (const element of select(m.each, item)) yield row([doc, item, element], m);
  }
}

/** `chain`: the page, the item, and (with `each`) the element; a field is read `up` levels above the last. */
function row(chain: readonly unknown[], m: CompiledJsonMapping): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of m.fields) out[name] = first(f.path, chain[chain.length - 1 - f.up]);
  return out;
}
