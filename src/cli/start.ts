/**
 * `inventory-graph start`: serves a config, or (`--demo`) the demo systems generated afresh.
 * The port is `--port`, else the PORT environment variable, else `server.port`; it is tried
 * before anything is generated or opened, so a port in use is one line and touches nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { configFile, loadConfig, serverDefaults, type Config } from '../config/index.js';
import { createLogger, errorFields, type Logger } from '../logger.js';
import { createApp, type App } from '../server/app.js';
import { hashKey, newKey, ROLES, type Role } from '../server/auth.js';
import { openStore } from '../store/index.js';
import { UsageError, wholeNumber, type ParsedArgs } from './args.js';
import { generateDemo } from './demo-data.js';
import { readSkuMapCsv } from './sku-import.js';

export async function startCommand({ values }: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const demo = values.demo === true;
  if (demo && values.config !== undefined) throw new UsageError("--demo serves the demo's own config: leave out --config");
  if (!demo && (values.dir !== undefined || values.skus !== undefined)) throw new UsageError('--dir and --skus go with --demo');
  const skus = wholeNumber(values.skus, '--skus', 1, 99_999_999);

  // the demo's config is written by generateDemo, with no host or port: the defaults
  const configPath = demo ? undefined : configFile(values.config as string | undefined, env);
  let config = configPath === undefined ? undefined : loadConfig(configPath);
  const server = config?.server ?? serverDefaults();
  const port = wholeNumber(values.port, '--port', 0, 65_535) ?? wholeNumber(env.PORT || undefined, 'PORT', 0, 65_535) ?? server.port;
  const host = typeof values.host === 'string' ? values.host : server.host;
  const busy = port === 0 ? undefined : await tryListen(port, host);
  if (busy !== undefined) return cannotListen(busy, port, host);

  let exampleSkus: string[] | undefined;
  let servedFile = configPath;
  let demoKeys: Record<Role, string> | undefined;
  if (demo) {
    const dir = resolve(typeof values.dir === 'string' ? values.dir : join('data', 'demo'));
    const say = (m: string) => process.stdout.write(`${m}\n`);
    ({ config, exampleSkus, keys: demoKeys } = await prepareDemo(dir, { generate: true, skus, say }));
    servedFile = join(dir, 'inventory-graph.yaml');
  }
  const logger = createLogger((config as Config).log.level ?? 'info');
  const app = await createApp(config as Config, {
    logger,
    exampleSkus,
    explorerHeaders: demoKeys && { 'x-api-key': demoKeys.analyst },
    ...(servedFile !== undefined ? { configPath: servedFile } : {}),
  });
  let url: string;
  try {
    url = await app.listen(port, host);
  } catch (e) {
    // taken since it was tried
    await app.close({ graceMs: 0 });
    return cannotListen(e as NodeJS.ErrnoException, port, host);
  }
  stopOnSignals(app, (config as Config).server.shutdownGraceMs, logger);

  process.stdout.write(`inventory-graph is serving ${url} (open it in a browser for the explorer)\n`);
  const origin = new URL(url).origin;
  process.stdout.write(
    `Operators: ${origin}/status (and /status.json), Prometheus metrics at ${origin}/metrics (${(config as Config).server.loopbackStatus ? 'from this host without a key, else ' : 'with '}an analyst key)\n`,
  );
  if (demoKeys !== undefined) {
    process.stdout.write('Demo API keys (new at every start; send as x-api-key or Authorization: Bearer):\n');
    for (const r of ROLES) process.stdout.write(`  ${r.padEnd(10)} ${demoKeys[r]}\n`);
    process.stdout.write('The explorer is prefilled with the analyst key (its Acknowledge an anomaly tab needs the admin key). Try it:\n');
    process.stdout.write(`  ${curlCommand(url, demoKeys.storefront, exampleSkus?.[0] ?? 'SKU-000001')}\n`);
  }
  return new Promise<number>(() => {});
}

/** Binds host:port and lets go at once: the error a listen would get there, or undefined. */
function tryListen(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => done(e));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => done(undefined)));
  });
}

/** One line on stderr saying why the server cannot listen; exit code 1. */
function cannotListen(e: NodeJS.ErrnoException, port: number, host: string): number {
  const why =
    e.code === 'EADDRINUSE'
      ? `port ${port} is in use on ${host}: stop the other server or pass --port N`
      : e.code === 'EACCES'
        ? `no permission to listen on port ${port} of ${host}: pass --port N (from 1024)`
        : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND'
          ? `cannot listen on ${host}: not an address of this machine (--host or server.host)`
          : `cannot listen on ${host}:${port}: ${e.message}`;
  process.stderr.write(`inventory-graph start: ${why}\n`);
  return 1;
}

/** A command to paste into a shell: availability of one SKU with the given key. */
export function curlCommand(url: string, key: string, sku: string): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const body = JSON.stringify({ query: `{ availability(skus: [${JSON.stringify(sku)}]) { sku available } }` });
  return `curl -s ${q(url)} -H 'content-type: application/json' -H ${q(`x-api-key: ${key}`)} -d ${q(body)}`;
}

/**
 * SIGTERM/SIGINT (handled before the URL is announced): /readyz turns 503, no new connections,
 * requests in flight finish (at most server.shutdownGraceMs), idle keep-alive connections still
 * answer for server.drainIdleMs and are then closed without a reset (src/server/http.ts), then
 * Apollo, the source pools and the store; exit 0. A second signal (other than the same one
 * within a second), or a stop that overruns the grace by 5 s, exits 1 at once.
 */
function stopOnSignals(app: App, graceMs: number, logger: Logger): void {
  let stopping = false;
  let stoppedBy = '';
  let stoppedAt = 0;
  const stop = (signal: string) => {
    if (stopping) {
      // under `npm start`, a terminal's Ctrl-C arrives twice at once (from the terminal, and
      // forwarded by npm to its child): one stop
      if (signal === stoppedBy && performance.now() - stoppedAt < 1_000) return;
      logger.warn('second signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stopping = true;
    stoppedBy = signal;
    stoppedAt = performance.now();
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
