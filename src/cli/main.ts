/**
 * The `inventory-graph` command. Each subcommand returns an exit code; a bad config or bad
 * flags print what is wrong and exit non-zero, serving nothing.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, configPath, loadConfig, type Config } from '../config/index.js';
import { createLogger, type LogLevel } from '../logger.js';
import { createApp } from '../server/app.js';
import { openStore } from '../store/index.js';
import { demoCommand, generateDemo } from './demo-data.js';
import { readSkuMapCsv, SkuImportError } from './sku-import.js';

const USAGE = `inventory-graph: one inventory truth over systems that disagree

Usage:
  inventory-graph start [--config FILE] [--port N] [--host H]
      Serve GraphQL at /graphql with the given config (default: $INVENTORY_GRAPH_CONFIG,
      else ./inventory-graph.yaml).
  inventory-graph start --demo [--dir DIR] [--skus N]
      Generate the demo systems afresh as SQLite files in DIR (default ./data/demo; 2000
      SKUs), load their SKU map, and serve them.
  inventory-graph demo [--dir DIR] [--skus N] [--seed N] [--mysql URL] [--prefix P]
      Generate the demo systems only (SQLite files, or MariaDB databases with --mysql).
  inventory-graph skus import FILE.csv [--config FILE]
      Load the SKU map from a CSV (wide: sku,name,<system>...; long: sku,system,code[,name]).
  inventory-graph config check [--config FILE]
      Validate a config file and print every problem.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub] = argv;
  try {
    if (cmd === 'start') return await start(argv.slice(1));
    if (cmd === 'demo') return await demoCommand(argv.slice(1));
    if (cmd === 'skus' && sub === 'import') return await importSkus(argv.slice(2));
    if (cmd === 'config' && sub === 'check') {
      const file = configPath(argv, process.env);
      loadConfig(file);
      process.stdout.write(`${file}: ok\n`);
      return 0;
    }
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    }
    process.stderr.write(`Unknown command: ${argv.join(' ')}\n\n${USAGE}`);
    return 2;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SkuImportError || e instanceof UsageError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

class UsageError extends Error {}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return v;
  }
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

function intFlag(argv: readonly string[], name: string): number | undefined {
  const v = flag(argv, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a whole number, got "${v}"`);
  return Number(v);
}

async function start(argv: string[]): Promise<number> {
  const logger = createLogger((process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info');
  let config: Config;
  let exampleSkus: string[] | undefined;
  if (argv.includes('--demo')) {
    const dir = resolve(flag(argv, '--dir') ?? join('data', 'demo'));
    const say = (m: string) => process.stdout.write(`${m}\n`);
    ({ config, exampleSkus } = await prepareDemo(dir, { generate: true, skus: intFlag(argv, '--skus'), say }));
  } else {
    config = loadConfig(configPath(argv, process.env));
  }
  const app = await createApp(config, { logger, exampleSkus });
  const url = await app.listen(intFlag(argv, '--port') ?? config.server.port, flag(argv, '--host') ?? config.server.host);
  process.stdout.write(`inventory-graph is serving ${url} (open it in a browser for the explorer)\n`);

  const stop = (signal: string) => {
    logger.info('shutting down', { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => {});
}

/**
 * The demo in DIR, ready to serve: with `generate`, the source systems are (re)written as
 * SQLite files first, so their timestamps are fresh (the WMS's records go stale after an
 * hour, as real ones would); then the SKU map is loaded into the store.
 */
export async function prepareDemo(
  dir: string,
  o: { generate: boolean; skus?: number; say?: (msg: string) => void },
): Promise<{ config: Config; exampleSkus: string[] }> {
  const file = join(dir, 'inventory-graph.yaml');
  const say = o.say ?? (() => {});
  if (o.generate) {
    say(`Generating the demo systems in ${dir} ...`);
    await generateDemo({ dir, ...(o.skus !== undefined ? { skus: o.skus } : {}) });
  } else if (!existsSync(file)) {
    throw new UsageError(`${dir} holds no demo (no inventory-graph.yaml)`);
  }
  const config = loadConfig(file);
  const entries = readSkuMapCsv(join(dir, 'sku-map.csv'), Object.keys(config.sources));
  const store = await openStore(config.store);
  try {
    const r = await store.skus.import(entries);
    say(`SKU map: ${r.skus} canonical SKUs, ${r.aliases} system codes loaded from ${join(dir, 'sku-map.csv')}`);
  } finally {
    await store.close();
  }
  return { config, exampleSkus: entries.slice(0, 5).map((e) => e.sku) };
}

async function importSkus(argv: string[]): Promise<number> {
  const file = argv.find((a) => !a.startsWith('--') && argv[argv.indexOf(a) - 1] !== '--config');
  if (file === undefined) throw new UsageError('Usage: inventory-graph skus import FILE.csv [--config FILE]');
  const config = loadConfig(configPath(argv, process.env));
  const entries = readSkuMapCsv(resolve(file), Object.keys(config.sources));
  const store = await openStore(config.store);
  try {
    const r = await store.skus.import(entries);
    process.stdout.write(`Imported ${r.skus} canonical SKUs with ${r.aliases} system codes from ${file}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
