/**
 * `inventory-graph skus import FILE.csv [--replace]`: loads the SKU map from a spreadsheet
 * export, all or nothing. Two layouts are understood, told apart by the header:
 *
 *   wide  `sku,name,erp,wms,...`   one row per canonical SKU, one column per system
 *                                  (an empty cell: that system lacks the SKU)
 *   long  `sku,system,code[,name]` one row per code
 *
 * `name` is optional in both. Every problem of the file is reported at once, each with its line
 * number, what is wrong and the value, before anything is written: a row with more or fewer
 * values than the header, an unclosed quote, an unknown system, an empty or too long SKU or
 * code, a code given to two SKUs, a SKU on two rows of the wide layout, two names for one SKU.
 *
 * Merge (the default) adds and moves codes and keeps every code the file lacks; `--replace`
 * makes the file the whole list of codes of each system it covers (its columns, or the systems
 * of its rows), removing the others. Canonical SKUs the file lacks are kept either way
 * (`skus remove --sku` removes one). The command prints which of the two happened, with counts.
 */
import { parse } from 'csv-parse/sync';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configFile, loadConfig } from '../config/index.js';
import { openStore, type CanonicalSku } from '../store/index.js';
import type { ImportResult } from '../store/sku-map-store.js';
import { UsageError, type ParsedArgs } from './args.js';

/** What the store's columns hold. */
const MAX_SKU = 191;
const MAX_CODE = 191;
const MAX_NAME = 512;

/** A SKU file (or a removal) with problems: every one, each on its line; nothing was written. */
export class SkuImportError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    outcome = 'nothing imported',
  ) {
    const shown = problems.slice(0, 50);
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}, ${outcome}:\n  - ${shown.join('\n  - ')}${problems.length > shown.length ? `\n  - ... and ${problems.length - shown.length} more` : ''}`,
    );
    this.name = 'SkuImportError';
  }
}

/** A SKU map file read: its entries, its layout and the systems it gives codes for. */
export interface SkuMapFile {
  layout: 'wide' | 'long';
  /** The systems the file covers: the wide layout's columns, or the systems named in the long layout's rows. */
  systems: string[];
  entries: CanonicalSku[];
}

/** The command: FILE.csv into the store of `--config`'s config. */
export async function skusImportCommand({ values, positionals: [file] }: ParsedArgs): Promise<number> {
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  const map = parseSkuMap(readText(file as string), resolve(file as string), Object.keys(config.sources));
  const replace = values.replace === true;
  const store = await openStore(config.store);
  try {
    const r = await store.skus.import(map.entries, replace ? { replace: map.systems } : {});
    process.stdout.write(`${importSummary(file as string, r, replace ? map.systems : null)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** What an import did, in one line: merged or replaced, and the counts. */
export function importSummary(file: string, r: ImportResult, replaced: readonly string[] | null): string {
  const counts = `${r.skus} SKU${r.skus === 1 ? '' : 's'} (${r.newSkus} new), ${r.added} alias${r.added === 1 ? '' : 'es'} added, ${r.moved} moved from another SKU, ${r.unchanged} unchanged`;
  if (replaced === null) return `merged ${file}: ${counts}; aliases not in the file were kept (--replace removes them)`;
  return `replaced the ${replaced.join(', ')} codes with ${file}: ${counts}, ${r.removed} not in the file removed; other systems' codes and SKUs not in the file were kept`;
}

/** A file's text; a file that cannot be read is a mistake on the command line. */
export function readText(file: string): string {
  try {
    return readFileSync(resolve(file), 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function readSkuMapCsv(file: string, systems: readonly string[]): CanonicalSku[] {
  return parseSkuMapCsv(readFileSync(file, 'utf8'), file, systems);
}

export function parseSkuMapCsv(text: string, file: string, systems: readonly string[]): CanonicalSku[] {
  return parseSkuMap(text, file, systems).entries;
}

/** A CSV's records with the line each starts on, and every record that could not be read. */
export function readCsvLines(text: string, file: string): { lines: { line: number; values: string[] }[]; problems: string[] } {
  const problems: string[] = [];
  let quoteError = false;
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      info: true,
      raw: true,
      skip_records_with_error: true,
      on_skip: (e: (Error & { lines?: number; code?: string }) | undefined) => {
        if (e === undefined) return;
        // after a stray quote the parser reads on inside a quoted value: the quote left open at the end is the same mistake
        const follows = e.code === 'CSV_QUOTE_NOT_CLOSED' && quoteError;
        quoteError ||= /QUOTE/.test(e.code ?? '');
        if (!follows) problems.push(`line ${e.lines ?? '?'}: ${e.message.replace(/ at line \d+/, '')}`);
      },
    }) as unknown as { record: string[]; info: { lines: number }; raw: string }[];
  } catch (e) {
    throw new SkuImportError(file, [(e as Error).message]);
  }
  const lines = records.map((r) => {
    // the line it starts on: a quoted value may span lines, and blank lines before it are in its raw text
    const own = r.raw.replace(/^[\r\n]+/, '').replace(/\r?\n$/, '');
    return { line: r.info.lines - (own.match(/\n/g)?.length ?? 0), values: r.record };
  });
  return { lines, problems };
}

/** Problems in the order of their lines (a problem of the whole file first). */
export function byLine(problems: readonly string[]): string[] {
  const lineOf = (p: string) => Number(/^line (\d+)/.exec(p)?.[1] ?? 0);
  return [...problems].sort((a, b) => lineOf(a) - lineOf(b));
}

export function parseSkuMap(text: string, file: string, systems: readonly string[]): SkuMapFile {
  const { lines, problems } = readCsvLines(text, file);
  const [head, ...body] = lines;
  if (head === undefined) throw new SkuImportError(file, [...problems, 'the file is empty (expected a header such as sku,name,erp,wms)']);
  const cols = head.values.map((h) => h.trim());
  const at = (name: string) => cols.indexOf(name);
  const known = `(known: ${systems.join(', ')})`;
  if (at('sku') < 0) problems.unshift(`line ${head.line}: the header has no \`sku\` column`);
  const long = at('system') >= 0 && at('code') >= 0;
  const systemCols = long ? [] : cols.map((c, i) => [c, i] as const).filter(([c]) => c !== 'sku' && c !== 'name');
  for (const [c] of systemCols) if (!systems.includes(c)) problems.push(`line ${head.line}: column "${c}" is not a configured source ${known}`);
  if (at('sku') < 0) throw new SkuImportError(file, problems);

  const bySku = new Map<string, CanonicalSku & { line: number; nameLine: number }>();
  const owner = new Map<string, { sku: string; line: number }>();
  const covered = new Set<string>(long ? [] : systemCols.map(([c]) => c).filter((c) => systems.includes(c)));
  for (const { line, values: row } of body) {
    if (row.length !== cols.length) {
      problems.push(`line ${line}: ${row.length} value${row.length === 1 ? '' : 's'} where the header has ${cols.length}: ${JSON.stringify(row.join(','))}`);
      continue;
    }
    const sku = row[at('sku')] ?? '';
    if (sku === '') {
      problems.push(`line ${line}: empty sku`);
      continue;
    }
    if (sku.length > MAX_SKU) {
      problems.push(`line ${line}: sku longer than ${MAX_SKU} characters: ${JSON.stringify(`${sku.slice(0, 40)}...`)}`);
      continue;
    }
    let entry = bySku.get(sku);
    if (entry !== undefined && !long) {
      problems.push(
        `line ${line}: sku ${JSON.stringify(sku)} is already on line ${entry.line} (the wide layout has one row per SKU: put its codes on one row)`,
      );
      continue;
    }
    if (entry === undefined) bySku.set(sku, (entry = { sku, name: null, aliases: [], line, nameLine: line }));
    const name = at('name') >= 0 ? (row[at('name')] ?? '') : '';
    if (name.length > MAX_NAME) problems.push(`line ${line}: name longer than ${MAX_NAME} characters: ${JSON.stringify(`${name.slice(0, 40)}...`)}`);
    else if (name !== '' && entry.name !== null && entry.name !== name)
      problems.push(`line ${line}: ${sku} is named ${JSON.stringify(name)} here and ${JSON.stringify(entry.name)} on line ${entry.nameLine}`);
    else if (name !== '' && entry.name === null) [entry.name, entry.nameLine] = [name, line];
    const pairs = long ? [[row[at('system')] ?? '', row[at('code')] ?? ''] as const] : systemCols.map(([c, idx]) => [c, row[idx] ?? ''] as const);
    for (const [system, code] of pairs) {
      if (code === '') {
        // a long row without system and code names its SKU only
        if (long && system !== '') problems.push(`line ${line}: empty code for system ${JSON.stringify(system)}`);
        continue;
      }
      if (system === '') {
        problems.push(`line ${line}: empty system for code ${JSON.stringify(code)}`);
        continue;
      }
      if (!systems.includes(system)) {
        // a wide layout's unknown column is told once, on the header
        if (long) problems.push(`line ${line}: system ${JSON.stringify(system)} is not a configured source ${known}`);
        continue;
      }
      if (code.length > MAX_CODE) {
        problems.push(`line ${line}: ${system} code longer than ${MAX_CODE} characters: ${JSON.stringify(`${code.slice(0, 40)}...`)}`);
        continue;
      }
      covered.add(system);
      const key = `${system}\u0000${code}`;
      const prev = owner.get(key);
      if (prev !== undefined && prev.sku !== sku) {
        problems.push(`line ${line}: ${system} code "${code}" is already given to ${prev.sku} on line ${prev.line}`);
        continue;
      }
      if (prev === undefined) {
        owner.set(key, { sku, line });
        entry.aliases.push({ system, code });
      }
    }
  }
  if (problems.length > 0) throw new SkuImportError(file, byLine(problems));
  return {
    layout: long ? 'long' : 'wide',
    systems: systems.filter((s) => covered.has(s)),
    entries: [...bySku.values()].map(({ sku, name, aliases }) => ({ sku, name, aliases })),
  };
}
