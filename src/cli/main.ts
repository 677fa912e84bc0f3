/**
 * The `inventory-graph` command. Each subcommand returns an exit code; a bad config or bad
 * flags print what is wrong and exit non-zero, serving nothing.
 */
import cluster from 'node:cluster';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { join, resolve } from 'node:path';
import { ConfigError, configPath, loadConfig, type Config } from '../config/index.js';
import { createLogger, errorFields, type LogLevel } from '../logger.js';
import { createApp } from '../server/app.js';
import { hashKey, newKey, ROLES, type Role } from '../server/auth.js';
import { openStore } from '../store/index.js';
import { demoCommand, generateDemo } from './demo-data.js';
import { documentsCommand } from './documents.js';
import { reconcileCommand } from './reconcile.js';
import { readSkuMapCsv, SkuImportError } from './sku-import.js';

const USAGE = `inventory-graph: one inventory truth over systems that disagree

Usage:
  inventory-graph start [--config FILE] [--port N] [--host H] [--workers N]
      Serve GraphQL at /graphql with the given config (default: $INVENTORY_GRAPH_CONFIG,
      else ./inventory-graph.yaml). --workers N: N processes share the port (node:cluster),
      to use N cores; default 1.
  inventory-graph start --demo [--dir DIR] [--skus N]
      Generate the demo systems afresh as SQLite files in DIR (default ./data/demo; 2000
      SKUs), load their SKU map, and serve them.
  inventory-graph demo [--dir DIR] [--skus N] [--seed N] [--locations N] [--mysql URL] [--prefix P]
      Generate the demo systems only (SQLite files, or MariaDB databases with --mysql);
      --locations 6..30 adds regional DCs to the standard five.
  inventory-graph skus import FILE.csv [--config FILE]
      Load the SKU map from a CSV (wide: sku,name,<system>...; long: sku,system,code[,name]).
  inventory-graph keys create --role ROLE --name NAME
      Print a new API key (storefront, oms, analyst or admin) and its config line.
  inventory-graph config check [--config FILE]
      Validate a config file and print every problem.
  inventory-graph documents [--dir DIR] [--check] [--manifest FILE]
      Print the trusted documents (documents/*.graphql) as a persisted query manifest (Apollo's
      format: id = sha256 of the body), for clients and routers. --check: validate every document
      against the schema instead (exit 1 naming each bad operation); --manifest FILE: check that
      manifest file rather than a directory.
  inventory-graph reconcile [--config FILE] [--out DIR] [--tolerance N] [--fail-on-discrepancy] [--batch N]
      Reconcile the whole catalogue: lines.csv, gaps.csv, orphans.csv and summary.json in DIR
      (default ./reconciliation/<time>); the run is recorded in the store. Exit 1 with
      --fail-on-discrepancy when unexplained variance exceeds the tolerance, 3 when a source fails.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub] = argv;
  try {
    if (cmd === 'start') return await start(argv.slice(1));
    if (cmd === 'demo') return await demoCommand(argv.slice(1));
    if (cmd === 'reconcile') return await reconcileCommand(argv.slice(1));
    if (cmd === 'documents') return await documentsCommand(argv.slice(1));
    if (cmd === 'skus' && sub === 'import') return await importSkus(argv.slice(2));
    if (cmd === 'keys' && sub === 'create') return createKey(argv.slice(2));
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
  const workers = intFlag(argv, '--workers') ?? 1;
  if (workers < 1 || workers > 64) throw new UsageError(`--workers must be from 1 to 64, got ${workers}`);
  if (workers > 1 && cluster.isPrimary) return startPrimary(argv, workers, logger);
  let config: Config;
  let exampleSkus: string[] | undefined;
  let explorerHeaders: Record<string, string> | undefined;
  let demoKeys: Record<Role, string> | undefined;
  if (argv.includes('--demo')) {
    const dir = resolve(flag(argv, '--dir') ?? join('data', 'demo'));
    const say = (m: string) => process.stdout.write(`${m}\n`);
    ({ config, exampleSkus, keys: demoKeys } = await prepareDemo(dir, { generate: true, skus: intFlag(argv, '--skus'), say }));
    explorerHeaders = { 'x-api-key': demoKeys.analyst };
  } else {
    config = loadConfig(configPath(argv, process.env));
  }
  const app = await createApp(config, { logger, exampleSkus, explorerHeaders });
  const url = await app.listen(intFlag(argv, '--port') ?? config.server.port, flag(argv, '--host') ?? config.server.host);
  if (cluster.isWorker) logger.info('worker serving', { url, worker: cluster.worker?.id });
  else {
    process.stdout.write(`inventory-graph is serving ${url} (open it in a browser for the explorer)\n`);
    const origin = new URL(url).origin;
    process.stdout.write(`Operators: ${origin}/status (and /status.json), Prometheus metrics at ${origin}/metrics (from this host without a key, else an analyst key)\n`);
  }
  if (demoKeys !== undefined) {
    process.stdout.write('Demo API keys (new at every start; send as x-api-key or Authorization: Bearer):\n');
    for (const r of ROLES) process.stdout.write(`  ${r.padEnd(10)} ${demoKeys[r]}\n`);
    process.stdout.write('The explorer is prefilled with the analyst key.\n');
  }

  // SIGTERM/SIGINT: /readyz turns 503, no new connections, requests in flight finish (at most
  // server.shutdownGraceMs), idle keep-alive connections still answer for server.drainIdleMs and
  // are then closed without a reset (src/server/http.ts), then Apollo, the source pools and the
  // store; exit 0. A second signal, or a stop that overruns the grace by 5 s, exits 1 at once.
  const graceMs = config.server.shutdownGraceMs;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn('second signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down: finishing requests in flight', { signal, graceMs });
    const force = setTimeout(() => {
      logger.error('shutdown overran its grace period: exiting', { graceMs });
      process.exit(1);
    }, graceMs + 5_000);
    force.unref();
    app.close({ graceMs }).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (e: unknown) => {
        logger.error('shutdown failed', errorFields(e));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // a cluster worker is also told by its primary (a terminal's Ctrl-C reaches both: one stop)
  if (cluster.isWorker) process.on('message', (m) => m === STOP_WORKER && !stopping && stop('primary'));
  return new Promise<number>(() => {});
}

const STOP_WORKER = 'inventory-graph:stop';

/**
 * `start --workers N`: this process only supervises. It checks the config (or prepares the
 * demo) once, then forks N workers that each run the whole gateway (own pools, own caches) and
 * share the listening socket; the kernel's connections are dealt round-robin by the primary.
 * A worker that dies unexpectedly is replaced (at most once a second); SIGTERM/SIGINT are
 * passed on, and the primary exits once every worker has stopped (1 if any stop failed).
 */
async function startPrimary(argv: string[], workers: number, logger: ReturnType<typeof createLogger>): Promise<number> {
  const port = flag(argv, '--port');
  const host = flag(argv, '--host');
  let file: string;
  if (argv.includes('--demo')) {
    const dir = resolve(flag(argv, '--dir') ?? join('data', 'demo'));
    const say = (m: string) => process.stdout.write(`${m}\n`);
    const { keys } = await prepareDemo(dir, { generate: true, skus: intFlag(argv, '--skus'), say });
    file = join(dir, 'inventory-graph.yaml');
    process.stdout.write('Demo API keys (new at every start; send as x-api-key or Authorization: Bearer):\n');
    for (const r of ROLES) process.stdout.write(`  ${r.padEnd(10)} ${keys[r]}\n`);
  } else {
    file = configPath(argv, process.env);
  }
  const config = loadConfig(file); // a bad config stops here, once, with exit 2
  cluster.setupPrimary({
    args: ['start', '--config', file, ...(port !== undefined ? ['--port', port] : []), ...(host !== undefined ? ['--host', host] : [])],
  });
  let stopping = false;
  let failed = false;
  let lastRestart = 0;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  let listening = 0;
  cluster.on('listening', (_w, address) => {
    if (++listening === workers) {
      const h = address.address === undefined || address.address === null ? config.server.host : address.address;
      process.stdout.write(`inventory-graph is serving http://${h.includes(':') ? `[${h}]` : h}:${address.port}/graphql with ${workers} workers\n`);
    }
  });
  return new Promise<number>((done) => {
    cluster.on('exit', (w, code, signal) => {
      if (stopping) {
        if (code !== 0) failed = true;
        if (Object.keys(cluster.workers ?? {}).length === 0) done(failed ? 1 : 0);
        return;
      }
      logger.error('worker died; starting another', { worker: w.id, code, signal });
      const wait = Math.max(0, lastRestart + 1000 - Date.now());
      lastRestart = Date.now() + wait;
      setTimeout(() => {
        if (!stopping) fork();
      }, wait);
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting down workers', { signal });
      const alive = Object.values(cluster.workers ?? {});
      if (alive.length === 0) done(0);
      for (const w of alive) w?.send(STOP_WORKER);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * The demo in DIR, ready to serve: with `generate`, the source systems are (re)written as
 * SQLite files first, so their timestamps are fresh (the WMS's records go stale after an
 * hour, as real ones would); then the SKU map is loaded into the store.
 */
export async function prepareDemo(
  dir: string,
  o: { generate: boolean; skus?: number; say?: (msg: string) => void },
): Promise<{ config: Config; exampleSkus: string[]; keys: Record<Role, string> }> {
  const file = join(dir, 'inventory-graph.yaml');
  const say = o.say ?? (() => {});
  if (o.generate) {
    say(`Generating the demo systems in ${dir} ...`);
    await generateDemo({ dir, ...(o.skus !== undefined ? { skus: o.skus } : {}) });
  } else if (!existsSync(file)) {
    throw new UsageError(`${dir} holds no demo (no inventory-graph.yaml)`);
  }
  const keys = writeDemoKeys(file);
  const config = loadConfig(file);
  const entries = readSkuMapCsv(join(dir, 'sku-map.csv'), Object.keys(config.sources));
  const store = await openStore(config.store);
  try {
    const r = await store.skus.import(entries);
    say(`SKU map: ${r.skus} canonical SKUs, ${r.aliases} system codes loaded from ${join(dir, 'sku-map.csv')}`);
  } finally {
    await store.close();
  }
  return { config, exampleSkus: entries.slice(0, 5).map((e) => e.sku), keys };
}

/** Fresh demo API keys, one per role, written (as hashes) into the demo config's `auth.keys`. */
function writeDemoKeys(file: string): Record<Role, string> {
  const keys = Object.fromEntries(ROLES.map((r) => [r, newKey()])) as Record<Role, string>;
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.set('auth', { keys: ROLES.map((role) => ({ name: `demo-${role}`, role, hash: hashKey(keys[role]) })) });
  writeFileSync(file, doc.toString());
  return keys;
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

/** Prints a new API key once, and the line that puts its hash into the config. */
function createKey(argv: string[]): number {
  const role = flag(argv, '--role');
  const name = flag(argv, '--name');
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}${role === undefined ? '' : `, got "${role}"`}`);
  if (name === undefined || !/^[\w.:-]{1,64}$/.test(name)) throw new UsageError('--name is required: up to 64 letters, digits and _ . : -');
  const key = newKey();
  process.stdout.write(
    `New ${role} key "${name}" (shown once: store it now, it cannot be recovered):\n\n  ${key}\n\nAdd this line under auth.keys in the config:\n\n  - { name: ${name}, role: ${role}, hash: "${hashKey(key)}" }\n`,
  );
  return 0;
}

