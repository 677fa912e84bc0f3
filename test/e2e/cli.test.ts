/**
 * The `inventory-graph` command as a user runs it: a bad config is refused with every problem
 * and nothing served; the SKU map imports from CSV all or nothing; the trusted documents print
 * as a manifest and a broken one is named; the server starts and stops.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore } from '../../src/store/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
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

  it('prints the trusted documents as a persisted query manifest whose ids are the sha256 of the bodies', async () => {
    const r = await run(['documents']);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(r.stdout) as { format: string; version: number; operations: { id: string; name: string; type: string; body: string }[] };
    expect(manifest).toMatchObject({ format: 'apollo-persisted-query-manifest', version: 1 });
    expect(manifest.operations.map((o) => o.name)).toEqual(expect.arrayContaining(['Availability', 'Item', 'Route', 'Reconcile', 'BenchAvailability', 'BenchItem', 'BenchRoute']));
    for (const o of manifest.operations) {
      expect(o.id, o.name).toBe(createHash('sha256').update(o.body).digest('hex'));
      expect(o.type).toBe('query');
    }
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
    writeFileSync(file, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: '0'.repeat(64), name: 'Good', type: 'query', body }] }));
    const wrongId = await run(['documents', '--check', '--manifest', file]);
    expect(wrongId.code).toBe(1);
    expect(wrongId.stderr).toContain(`Good: id ${'0'.repeat(64)} is not the sha256 of its body`);
  });
});
