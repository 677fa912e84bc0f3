/**
 * `inventory-graph skus remove`: takes codes, or whole canonical SKUs, out of the SKU map, all
 * or nothing:
 *
 *   --system S --code C [--code C ...]   codes of one system
 *   --file FILE.csv                      codes listed in a CSV with `system` and `code` columns
 *                                        (other columns are ignored: a long-layout map will do)
 *   --sku SKU [--sku SKU ...]            canonical SKUs, with every code of theirs
 *
 * A code or SKU the map does not have is refused by name, and nothing is removed. What was
 * removed is printed, a line each (the code and the SKU it meant). A removed code of a source
 * becomes an orphan again; a removed SKU is answered UNKNOWN_SKU.
 */
import { resolve } from 'node:path';
import { configFile, loadConfig } from '../config/index.js';
import type { Alias } from '../domain/skus.js';
import { openStore } from '../store/index.js';
import { UsageError, type ParsedArgs } from './args.js';
import { byLine, readCsvLines, readText, SkuImportError } from './sku-import.js';

/** The codes a removal file lists, in order, each once; every bad line is reported at once. */
export function parseCodesCsv(text: string, file: string): Alias[] {
  const { lines, problems } = readCsvLines(text, file);
  const [head, ...body] = lines;
  if (head === undefined) throw new SkuImportError(file, [...problems, 'the file is empty (expected a header with system,code)'], 'nothing removed');
  const cols = head.values;
  const system = cols.indexOf('system');
  const code = cols.indexOf('code');
  if (system < 0 || code < 0)
    throw new SkuImportError(file, [`line ${head.line}: the header needs \`system\` and \`code\` columns (header: ${cols.join(',')})`], 'nothing removed');
  const out: Alias[] = [];
  const seen = new Set<string>();
  for (const { line, values } of body) {
    if (values.length !== cols.length) {
      problems.push(
        `line ${line}: ${values.length} value${values.length === 1 ? '' : 's'} where the header has ${cols.length}: ${JSON.stringify(values.join(','))}`,
      );
      continue;
    }
    const a = { system: values[system] ?? '', code: values[code] ?? '' };
    if (a.system === '' || a.code === '') {
      problems.push(`line ${line}: empty ${a.system === '' ? 'system' : 'code'}`);
      continue;
    }
    const key = `${a.system}\u0000${a.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(a);
  }
  if (problems.length > 0) throw new SkuImportError(file, byLine(problems), 'nothing removed');
  if (out.length === 0) throw new SkuImportError(file, ['no codes listed'], 'nothing removed');
  return out;
}

/** The command's flags as one removal: codes, or SKUs. */
function removal(values: ParsedArgs['values']): { codes: Alias[]; file: string | null } | { skus: string[] } {
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);
  const codes = list(values.code);
  const skus = list(values.sku);
  const system = values.system as string | undefined;
  const file = values.file as string | undefined;
  const ways = [codes.length > 0 || system !== undefined, file !== undefined, skus.length > 0].filter(Boolean).length;
  if (ways !== 1) throw new UsageError('give --system and --code, or --file, or --sku (one of them)');
  if (skus.length > 0) return { skus: [...new Set(skus)] };
  if (file !== undefined) return { codes: parseCodesCsv(readText(file), resolve(file)), file };
  if (system === undefined) throw new UsageError('--code needs --system');
  if (codes.length === 0) throw new UsageError('--system needs --code');
  return { codes: [...new Set(codes)].map((code) => ({ system, code })), file: null };
}

export async function skusRemoveCommand({ values }: ParsedArgs): Promise<number> {
  const what = removal(values);
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  const store = await openStore(config.store);
  try {
    if ('skus' in what) {
      const r = await store.skus.removeSkus(what.skus);
      if (r.unknown.length > 0)
        throw new SkuImportError(
          'skus remove',
          r.unknown.map((s) => `sku ${JSON.stringify(s)} is not in the SKU map`),
          'nothing removed',
        );
      const lines = r.removed.map(
        (s) => `  ${s.sku}${s.aliases.length === 0 ? ' (no codes)' : `: ${s.aliases.map((a) => `${a.system} ${a.code}`).join(', ')}`}`,
      );
      const codes = r.removed.reduce((n, s) => n + s.aliases.length, 0);
      process.stdout.write(
        `removed ${r.removed.length} SKU${r.removed.length === 1 ? '' : 's'} and their ${codes} code${codes === 1 ? '' : 's'}:\n${lines.join('\n')}\n`,
      );
      return 0;
    }
    const r = await store.skus.removeAliases(what.codes);
    if (r.unknown.length > 0)
      throw new SkuImportError(
        what.file ?? 'skus remove',
        r.unknown.map((a) => `${a.system} code ${JSON.stringify(a.code)} is not in the SKU map`),
        'nothing removed',
      );
    const lines = r.removed.map((a) => `  ${a.system} ${a.code} (meant ${a.sku})`);
    process.stdout.write(
      `removed ${r.removed.length} code${r.removed.length === 1 ? '' : 's'} from the SKU map (their SKUs keep their other codes):\n${lines.join('\n')}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
