/**
 * The `inventory-graph` command as a user runs it: a bad config is refused with every problem
 * and nothing served; the SKU map imports from CSV all or nothing; the server starts and stops.
 * Every command's --help only prints; a mistake on the command line is one line and exit 2.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore } from '../../src/store/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
// a command that should stop at once but serves instead is killed after 30 s (and fails its test)
const run = async (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

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
    expect(ok.stdout).toMatch(/Imported 30 canonical SKUs with \d+ system codes/);

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
    expect((await run(['keys', 'create', '--role', 'king', '--name', 'x'])).stderr).toContain('--role must be one of storefront, oms, analyst, admin, got "king"');
  });

  it('starts on a config, serves GraphQL, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'start', '--config', join(dir, 'inventory-graph.yaml'), '--port', '0'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /serving (http:\S+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
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
    for (const args of [['config', 'check', bad], ['config', 'check', '--config', bad]]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(bad);
      expect(r.stderr).toContain('store.client: Invalid option');
    }
    const missing = await run(['config', 'check', join(dir, 'nowhere.yaml')]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('nowhere.yaml: 1 configuration problem:\n  - cannot read the file (ENOENT)') });
  });
});
