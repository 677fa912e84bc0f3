/**
 * `inventory-graph skus match`: runs SKU matching (`skuMap`, src/service/sku-matching.ts) once
 * against the configured systems and the store, and prints the counts and the first conflicts.
 * `--dry-run` reads and counts but writes neither aliases nor anomalies.
 */
import { configFile, loadConfig } from '../config/index.js';
import { createLogger, errorFields } from '../logger.js';
import { createRuntime } from '../service/runtime.js';
import type { SkuMatchResult } from '../service/sku-matching.js';
import type { ParsedArgs } from './args.js';

export async function skusMatchCommand({ values }: ParsedArgs): Promise<number> {
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  if (config.skuMap.catalogue === undefined) {
    process.stderr.write('inventory-graph skus match: skuMap.catalogue is not set, so there is nothing to match onto (docs/sku-matching.md)\n');
    return 2;
  }
  const logger = createLogger(config.log.level ?? 'warn');
  const runtime = await createRuntime(config, { logger, health: false });
  try {
    const r = await runtime.skuMatcher.run({ dryRun: values['dry-run'] === true });
    process.stdout.write(describeMatch(r));
    return 0;
  } catch (e) {
    logger.error('SKU matching failed', errorFields(e));
    process.stderr.write(`inventory-graph skus match: failed: ${(e as Error).message}\n`);
    return 3;
  } finally {
    await runtime.close({ flushMs: 5_000 });
  }
}

/** The counts on one line, then the first conflicts, one a line. */
export function describeMatch(r: SkuMatchResult): string {
  const head = `SKU matching${r.dryRun ? ' (dry run: nothing written)' : ''}: ${r.matched} matched, ${r.unchanged} unchanged, ${r.removed} removed, ${r.conflicts} conflicts, ${r.unmatched} unmatched, ${r.handWritten} left to hand-written aliases\n`;
  if (r.firstConflicts.length === 0) return head;
  const more = r.conflicts - r.firstConflicts.length;
  return `${head}Conflicts${more > 0 ? ` (the first ${r.firstConflicts.length})` : ''}:\n${r.firstConflicts.map((c) => `  - ${c}\n`).join('')}`;
}
