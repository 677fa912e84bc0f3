/**
 * The `inventory-graph` command as a user runs it: a bad config is refused with every problem
 * and nothing served; the SKU map imports from CSV all or nothing; the trusted documents print
 * as a manifest and a broken one is named; the server starts and stops.
 * Every command's --help only prints; a mistake on the command line is one line and exit 2; the
 * port comes from --port, PORT or the config, and one in use is said before anything is written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore } from '../../src/store/index.js';
import { servingUrl, runCli } from '../helpers/serving.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
// a command that should stop at once but serves instead is killed after 30 s (and fails its test)
const run = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => runCli(args, { env, ...(cwd !== undefined ? { cwd } : {}) });

/** `inventory-graph ARGS` serving: its URL and what it printed until then; `stop` sends SIGTERM and resolves with the exit code. */
const serving = new Set<ChildProcess>();
afterAll(() => serving.forEach((c) => c.kill('SIGKILL')));
async function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
  serving.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (serving.delete(child), resolve(code))));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // the demo's curl line is the last it prints
  const url = await servingUrl(child.stdout, exited, { ready: (o) => !args.includes('--demo') || /^ {2}curl .*\n/m.test(o) });
  return { url, out: () => out, stop: () => (child.kill('SIGTERM'), exited) };
}

/** A port taken by another server for the test's length. */
async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** Every file under `d` with its size and modification time. */
const snapshot = (d: string): string[] =>
  readdirSync(d, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((f) => `${f} ${statSync(join(d, f)).size} ${statSync(join(d, f)).mtimeMs}`);

let dir: string;
let storefrontKey = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-cli-'));
  await generateDemo({ dir, skus: 30 });
});

describe('inventory-graph', () => {
  it('refuses a bad config with every problem and exit code 2, serving nothing', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'store: { client: oracle }\nsources: {}\nlocations: []\nprecedence: { quantity: [wms] }\nextra: 1\n');
    const r = await run(['start', '--config', file, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('configuration problems');
    expect(r.stderr).toContain('store.client: Invalid option');
    expect(r.stderr).toContain('store.connection: required');
    expect(r.stderr).toContain('extra: unknown key');
    expect(r.stderr).toContain('precedence.quantity[0]: unknown source "wms"');
    expect(r.stdout).not.toContain('serving');
  });

  it('checks a config', async () => {
    const r = await run(['config', 'check', '--config', join(dir, 'inventory-graph.yaml')]);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining(': ok') });
  });

  it('imports the SKU map from CSV, and refuses a bad file whole', async () => {
    const config = join(dir, 'inventory-graph.yaml');
    const ok = await run(['skus', 'import', join(dir, 'sku-map.csv'), '--config', config]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^merged .*sku-map\.csv: 30 SKUs \(\d+ new\), \d+ aliases added, 0 moved from another SKU, \d+ unchanged; aliases not in the file were kept/,
    );

    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'sku,erp,pos\nNEW-1,100-9,P1\n');
    const r = await run(['skus', 'import', bad, '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('column "pos" is not a configured source');
    const store = await openStore(loadConfig(config).store);
    try {
      expect(await store.skus.count()).toBe(30);
    } finally {
      await store.close();
    }
  });

  it('answers unknown commands and bad flags with usage and exit code 2', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['start', '--demo', '--skus', 'many'])).stderr).toContain('--skus must be a whole number');
  });

  it('creates an API key whose config line works', async () => {
    const r = await run(['keys', 'create', '--role', 'storefront', '--name', 'web']);
    expect(r.code).toBe(0);
    const key = /^\s+(ig_\S+)$/m.exec(r.stdout)?.[1];
    const line = /^\s+(- \{ name: web, role: storefront, hash: "sha256:[0-9a-f]{64}" \})$/m.exec(r.stdout)?.[1];
    expect(key).toMatch(/^ig_[\w-]{43}$/);
    expect(line).toBeDefined();
    storefrontKey = key!;
    writeFileSync(join(dir, 'inventory-graph.yaml'), `${readFileSync(join(dir, 'inventory-graph.yaml'), 'utf8')}\nauth:\n  keys:\n    ${line}\n`);
    expect((await run(['keys', 'create', '--role', 'king', '--name', 'x'])).stderr).toContain(
      '--role must be one of storefront, oms, analyst, admin, got "king"',
    );
  });

  it('starts on a config, serves GraphQL, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'start', '--config', join(dir, 'inventory-graph.yaml'), '--port', '0'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    const url = await servingUrl(child.stdout, new Promise((resolve) => child.on('exit', resolve)));
    const query = JSON.stringify({ query: '{ availability(skus: ["SKU-000001"]) { sku available } }' });
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: query })).status).toBe(401);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${storefrontKey}` }, body: query });
    expect((await res.json()) as unknown).toMatchObject({ data: { availability: [{ sku: 'SKU-000001' }] } });
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });

  it.each([
    [['--help'], 'inventory-graph: one inventory truth'],
    [['-h'], 'inventory-graph: one inventory truth'],
    [['start', '--help'], 'Usage: inventory-graph start'],
    [['start', '--demo', '-h'], 'Usage: inventory-graph start'],
    [['start', '--port', '1', '--help'], 'Usage: inventory-graph start'],
    [['demo', '--help'], 'Usage: inventory-graph demo'],
    [['demo', 'traffic', '--help'], 'Usage: inventory-graph demo traffic'],
    [['reconcile', '--help'], 'Usage: inventory-graph reconcile'],
    [['skus', '--help'], 'Usage: inventory-graph skus import'],
    [['skus', 'import', '--help'], 'Usage: inventory-graph skus import'],
    [['keys', 'create', '--help'], 'Usage: inventory-graph keys create'],
    [['config', 'check', '-h'], 'Usage: inventory-graph config check'],
  ])('%j prints that help and does nothing else', async (args, help) => {
    const cwd = mkdtempSync(join(tmpdir(), 'ig-cli-help-'));
    const r = await run(args, {}, cwd);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(help)).toBe(true);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.each([
    [['start', '--workers', '2'], 'unknown flag --workers'],
    [['start', '--demo', '--bogus'], 'unknown flag --bogus'],
    [['start', '--port'], '--port needs a value'],
    [['start', '--demo=yes'], '--demo takes no value'],
    [['start', '--dir', 'x'], '--dir and --skus go with --demo'],
    [['demo', '--bogus'], 'unknown flag --bogus'],
    [['demo', 'traffic', '--bogus'], 'unknown flag --bogus'],
    [['demo', 'traffic', '--rate', '0'], '--rate must be a whole number from 1 to 1000, got "0"'],
    [['demo', 'traffic', '--duration', '2s'], '--duration must be a whole number from 1 to 31536000, got "2s"'],
    [['demo', 'traffic', '--seed', 'x'], '--seed must be a 32-bit integer, got "x"'],
    [['demo', 'traffic', '--amqp', 'http://127.0.0.1:5672'], '--amqp must be an amqp:// or amqps:// URL, got "http://127.0.0.1:5672"'],
    [['demo', 'traffic', '--amqp-queue', 'amq.x'], '--amqp-queue must be 1 to 255 characters, not starting with "amq.", got "amq.x"'],
    [['reconcile', '--bogus'], 'unknown flag --bogus'],
    [['reconcile', '--out'], '--out needs a value'],
    [['skus', 'import', 'x.csv', '--bogus'], 'unknown flag --bogus'],
    [['skus', 'import'], 'FILE.csv is missing'],
    [['keys', 'create', '--role'], '--role needs a value'],
    [['keys', 'create', '--role', 'oms', '--name', 'x', '-x'], 'unknown flag -x'],
    [['config', 'check', '--bogus'], 'unknown flag --bogus'],
    [['config', 'check', 'a.yaml', 'b.yaml'], 'unexpected argument b.yaml'],
  ])('%j is one line naming the mistake, exit code 2, nothing done', async (args, message) => {
    const cwd = mkdtempSync(join(tmpdir(), 'ig-cli-flags-'));
    const r = await run(args, {}, cwd);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^inventory-graph [a-z ]+: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\n$`));
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('checks the config file given as FILE, as with --config, and names the problems of a bad one', async () => {
    const good = join(dir, 'inventory-graph.yaml');
    expect(await run(['config', 'check', good])).toMatchObject({ code: 0, stdout: `${good}: ok\n` });
    const bad = join(dir, 'bad-check.yaml');
    writeFileSync(bad, readFileSync(good, 'utf8').replace('client: better-sqlite3', 'client: oracle'));
    for (const args of [
      ['config', 'check', bad],
      ['config', 'check', '--config', bad],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(bad);
      expect(r.stderr).toContain('store.client: Invalid option');
    }
    const missing = await run(['config', 'check', join(dir, 'nowhere.yaml')]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('nowhere.yaml: 1 configuration problem:\n  - cannot read the file (ENOENT)') });
  });

  it('listens on PORT when there is no --port, and --port beats it', async () => {
    const config = join(dir, 'inventory-graph.yaml');
    const { port: free, server: probe } = await busyPort();
    await new Promise((r) => probe.close(r));
    const byEnv = await serve(['start', '--config', config], { PORT: String(free) });
    expect(byEnv.url).toBe(`http://127.0.0.1:${free}/graphql`);
    expect(await byEnv.stop()).toBe(0);

    const { port, server } = await busyPort();
    try {
      const byFlag = await serve(['start', '--config', config, '--port', '0'], { PORT: String(port) });
      expect(Number(new URL(byFlag.url).port)).not.toBe(port);
      expect(await byFlag.stop()).toBe(0);
      const bad = await run(['start', '--config', config], { PORT: 'http' });
      expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/^inventory-graph start: PORT must be a whole number from 0 to 65535, got "http"/) });
    } finally {
      server.close();
    }
  });

  it('says in one line that the port is in use, before the demo is regenerated', async () => {
    const demoDir = join(dir, 'demo-in-use');
    mkdirSync(demoDir);
    writeFileSync(join(demoDir, 'inventory-graph.yaml'), '# an earlier demo\n');
    const before = snapshot(demoDir);
    const { port, server } = await busyPort();
    try {
      for (const args of [
        ['start', '--demo', '--dir', demoDir, '--skus', '30', '--port', String(port)],
        ['start', '--config', join(dir, 'inventory-graph.yaml'), '--port', String(port)],
      ]) {
        const r = await run(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`inventory-graph start: port ${port} is in use on 127.0.0.1: stop the other server or pass --port N\n`);
        expect(r.stdout).toBe('');
      }
    } finally {
      server.close();
    }
    expect(snapshot(demoDir)).toEqual(before);
  });

  it('prints a curl command for the served URL with the demo storefront key, and it works', async () => {
    const demo = await serve(['start', '--demo', '--dir', join(dir, 'demo-try'), '--skus', '30', '--port', '0']);
    try {
      const line = /^ {2}(curl .*)$/m.exec(demo.out())?.[1] ?? '';
      const storefront = /^ {2}storefront (\S+)$/m.exec(demo.out())?.[1];
      // shell words in single quotes, as pasted: URL, two headers, the body
      const m = /^curl -s '([^']+)' -H '(content-type: application\/json)' -H 'x-api-key: ([^']+)' -d '([^']+)'$/.exec(line);
      expect(m, line).not.toBeNull();
      const [, url, , key, body] = m as unknown as string[];
      expect(url).toBe(demo.url);
      expect(key).toBe(storefront);
      const res = await fetch(url as string, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key as string }, body });
      expect(await res.json()).toEqual({ data: { availability: [{ sku: 'SKU-000001', available: expect.any(Number) }] } });
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });

  it('prints the trusted documents as a persisted query manifest whose ids are the sha256 of the bodies', async () => {
    const r = await run(['documents']);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout) as { format: string; version: number; operations: { id: string; name: string; type: string; body: string }[] };
    expect(manifest).toMatchObject({ format: 'apollo-persisted-query-manifest', version: 1 });
    expect(manifest.operations.map((o) => o.name)).toEqual(
      expect.arrayContaining(['Availability', 'Item', 'Route', 'Reconcile', 'BenchAvailability', 'BenchItem', 'BenchRoute']),
    );
    for (const o of manifest.operations) {
      expect(o.id, o.name).toBe(createHash('sha256').update(o.body).digest('hex'));
      // every document reads, but the explorer's Acknowledge an anomaly tab
      expect(o.type, o.name).toBe(o.name === 'AcknowledgeAnomaly' ? 'mutation' : 'query');
    }
    expect(manifest.operations.filter((o) => o.type === 'mutation').map((o) => o.name)).toEqual(['AcknowledgeAnomaly']);
  });

  it('--check names a document that does not validate, and a manifest whose id is wrong', async () => {
    const docs = join(dir, 'documents');
    mkdirSync(docs);
    writeFileSync(join(docs, 'good.graphql'), 'query Good { viewer { name } }\n');
    writeFileSync(join(docs, 'bad.graphql'), 'query Broken($s: [ID!]!) { availability(skus: $s) { sku nope } }\n');
    const r = await run(['documents', '--check', '--dir', docs]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Broken: Cannot query field "nope" on type "Availability".');
    expect(r.stderr).not.toContain('Good');

    const body = 'query Good { viewer { name } }';
    const file = join(dir, 'manifest.json');
    writeFileSync(
      file,
      JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: '0'.repeat(64), name: 'Good', type: 'query', body }] }),
    );
    const wrongId = await run(['documents', '--check', '--manifest', file]);
    expect(wrongId.code).toBe(1);
    expect(wrongId.stderr).toContain(`Good: id ${'0'.repeat(64)} is not the sha256 of its body`);
  });
});
