/**
 * `inventory-graph config check [FILE] [--connect]`: the config validated offline (every problem,
 * exit 2), and with `--connect` every mapping of every source checked against the real system
 * (src/sources/probe.ts), one plain line per source and entity; exit 1 when one fails.
 */
import { configFile, loadConfig } from '../config/index.js';
import { formatProbeLines, probeSources } from '../sources/probe.js';
import { createConnector } from '../sources/registry.js';
import { UsageError, type ParsedArgs } from './args.js';

export async function configCheckCommand({ values, positionals: [file] }: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (file !== undefined && values.config !== undefined) throw new UsageError('give FILE or --config FILE, not both');
  const path = configFile(file ?? (values.config as string | undefined), env);
  const config = loadConfig(path, env);
  if (values.connect !== true) {
    process.stdout.write(`${path}: ok\n`);
    return 0;
  }
  // bare connectors: a check reads each source once, with each statement's own deadline (no breaker, no mirror)
  const connectors = Object.entries(config.sources).map(([name, s]) => createConnector(name, s));
  let lines;
  try {
    lines = await probeSources(connectors);
  } finally {
    await Promise.all(connectors.map((c) => c.close().catch(() => {})));
  }
  for (const l of formatProbeLines(lines)) process.stdout.write(`${l}\n`);
  const failed = lines.filter((l) => !l.ok).length;
  process.stdout.write(
    failed === 0 ? `${path}: ok, every mapping answers\n` : `${path}: ${failed} of ${lines.length} mapping${lines.length === 1 ? '' : 's'} FAILED\n`,
  );
  return failed === 0 ? 0 : 1;
}
