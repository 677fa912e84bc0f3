/**
 * `inventory-graph skus import FILE.csv`: loads the SKU map from a spreadsheet export, all or
 * nothing. Two layouts are understood, told apart by the header:
 *
 *   wide  `sku,name,erp,wms,...`   one row per canonical SKU, one column per system
 *                                  (an empty cell: that system lacks the SKU)
 *   long  `sku,system,code[,name]` one row per code
 *
 * `name` is optional in both. Every problem is reported with its line number before anything
 * is written: an unknown system column, an empty SKU, a code given to two SKUs.
 */
import { parse } from 'csv-parse/sync';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configFile, loadConfig } from '../config/index.js';
import { openStore, type CanonicalSku } from '../store/index.js';
import type { ParsedArgs } from './args.js';

export class SkuImportError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 50);
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing imported:\n  - ${shown.join('\n  - ')}${problems.length > shown.length ? `\n  - ... and ${problems.length - shown.length} more` : ''}`,
    );
    this.name = 'SkuImportError';
  }
}

/** The command: FILE.csv into the store of `--config`'s config. */
export async function skusImportCommand({ values, positionals: [file] }: ParsedArgs): Promise<number> {
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  const entries = readSkuMapCsv(resolve(file as string), Object.keys(config.sources));
  const store = await openStore(config.store);
  try {
    const r = await store.skus.import(entries);
    process.stdout.write(`Imported ${r.skus} canonical SKUs with ${r.aliases} system codes from ${file}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

export function readSkuMapCsv(file: string, systems: readonly string[]): CanonicalSku[] {
  return parseSkuMapCsv(readFileSync(file, 'utf8'), file, systems);
}

export function parseSkuMapCsv(text: string, file: string, systems: readonly string[]): CanonicalSku[] {
  let rows: string[][];
  try {
    rows = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, trim: true });
  } catch (e) {
    throw new SkuImportError(file, [(e as Error).message]);
  }
  const [header, ...body] = rows;
  if (header === undefined) throw new SkuImportError(file, ['the file is empty (expected a header such as sku,name,erp,wms)']);
  const cols = header.map((h) => h.trim());
  const problems: string[] = [];
  const at = (name: string) => cols.indexOf(name);
  if (at('sku') < 0) problems.push('line 1: the header has no `sku` column');
  const long = at('system') >= 0 && at('code') >= 0;
  const systemCols = long ? [] : cols.map((c, i) => [c, i] as const).filter(([c]) => c !== 'sku' && c !== 'name');
  for (const [c] of systemCols) {
    if (!systems.includes(c)) problems.push(`line 1: column "${c}" is not a configured source (known: ${systems.join(', ')})`);
  }
  if (problems.length > 0) throw new SkuImportError(file, problems);

  const bySku = new Map<string, CanonicalSku>();
  const owner = new Map<string, { sku: string; line: number }>();
  body.forEach((row, i) => {
    const line = i + 2;
    const sku = row[at('sku')] ?? '';
    if (sku === '') return void problems.push(`line ${line}: empty sku`);
    if (sku.length > 191) return void problems.push(`line ${line}: sku longer than 191 characters`);
    let entry = bySku.get(sku);
    if (entry === undefined) bySku.set(sku, (entry = { sku, name: null, aliases: [] }));
    const name = at('name') >= 0 ? (row[at('name')] ?? '') : '';
    if (name !== '') entry.name = name;
    const pairs = long ? [[row[at('system')] ?? '', row[at('code')] ?? ''] as const] : systemCols.map(([c, idx]) => [c, row[idx] ?? ''] as const);
    for (const [system, code] of pairs) {
      if (code === '') continue;
      if (!systems.includes(system)) {
        problems.push(`line ${line}: system "${system}" is not a configured source (known: ${systems.join(', ')})`);
        continue;
      }
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
  });
  if (problems.length > 0) throw new SkuImportError(file, problems);
  return [...bySku.values()];
}
