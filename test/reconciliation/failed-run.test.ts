/**
 * A reconcile run that fails (a source down) as the real command runs it: exit 3, no lines.csv,
 * gaps.csv, orphans.csv or summary.json written (a previous good run's stay byte for byte),
 * failed.json and the stored run say `failed` naming the source; a later good run writes
 * everything and removes failed.json. On SQLite sources (a missing database file) and MariaDB
 * sources (a port nothing listens on).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { openStore } from '../../src/store/index.js';
import { createReconciliationStore } from '../../src/store/reconciliation-store.js';
import { MARIADB_URL } from '../helpers/demo-app.js';
import { dropDemoDatabases } from '../faults/fault-helpers.js';
import { runCli } from '../helpers/serving.js';

const run = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'silent' }, timeoutMs: 120_000 });
const FILES = ['gaps.csv', 'lines.csv', 'orphans.csv', 'summary.json'];
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** The runs recorded in the demo's store (gateway.sqlite), newest first. */
async function storedRuns(dir: string) {
  const store = await openStore({ client: 'better-sqlite3', connection: join(dir, 'gateway.sqlite') });
  try {
    return await createReconciliationStore(store.db).list(10);
  } finally {
    await store.close();
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Checks one failed run of `config` into `out`; returns the failed.json document. */
async function expectFailed(dir: string, config: string, out: string, source: string) {
  const r = await run(['reconcile', '--config', config, '--out', out]);
  expect(r.code, r.stderr).toBe(3);
  const [latest] = await storedRuns(dir);
  expect(r.stdout).toBe(
    `Reconciliation run ${latest!.id} failed: ${latest!.error}\n` +
      `No lines.csv, gaps.csv, orphans.csv or summary.json written; the failure is in ${join(out, 'failed.json')}.\n`,
  );
  expect(r.stderr).toMatch(new RegExp(`^inventory-graph reconcile: failed: ${source} \\(.+\\)\\n$`));
  // the stored run: failed, with the error naming the source
  expect(latest).toMatchObject({ status: 'failed', outDir: out });
  expect(latest!.error).toMatch(new RegExp(`^source "${source}" failed: .+`));
  const failed = json(join(out, 'failed.json'));
  expect(failed).toMatchObject({ runId: latest!.id, status: 'failed', error: latest!.error, failedSources: [{ source }] });
  expect(failed).not.toHaveProperty('byStatus');
  return failed;
}

describe('a failed reconcile run on SQLite sources (a database file missing)', () => {
  let dir: string;
  let config: string;
  let broken: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ig-reconcile-failed-'));
    await generateDemo({ dir, skus: 40 });
    config = join(dir, 'inventory-graph.yaml');
    expect((await run(['skus', 'import', join(dir, 'sku-map.csv'), '--config', config])).code).toBe(0);
    broken = join(dir, 'broken.yaml');
    const text = readFileSync(config, 'utf8');
    expect(text).toContain('connection: ./erp.sqlite');
    writeFileSync(broken, text.replace('connection: ./erp.sqlite', 'connection: ./gone/erp.sqlite'));
  });

  it('in a new directory writes only failed.json', async () => {
    const out = join(dir, 'fresh');
    const failed = await expectFailed(dir, broken, out, 'erp');
    expect(readdirSync(out)).toEqual(['failed.json']);
    expect(failed.skusBeforeFailure).toBe(0);
  });

  it("leaves a previous good run's files as they were, and the next good run writes everything and removes failed.json", async () => {
    const out = join(dir, 'nightly');
    const good = await run(['reconcile', '--config', config, '--out', out]);
    expect(good.code, good.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(FILES);
    const before = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(out, f), 'utf8')]));
    const goodRun = json(join(out, 'summary.json'));
    expect(goodRun).toMatchObject({ status: 'completed', skus: 40 });
    expect(before['lines.csv']!.split('\n').length).toBeGreaterThan(40);

    await expectFailed(dir, broken, out, 'erp');
    expect(readdirSync(out).sort()).toEqual(['failed.json', ...FILES].sort());
    for (const f of FILES) expect(readFileSync(join(out, f), 'utf8'), f).toBe(before[f]);

    const again = await run(['reconcile', '--config', config, '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Reconciliation run \d+ completed: 40 SKUs, /);
    expect(readdirSync(out).sort()).toEqual(FILES);
    const [latest] = await storedRuns(dir);
    expect(latest).toMatchObject({ status: 'completed', error: null, skus: 40 });
    expect(json(join(out, 'summary.json'))).toMatchObject({ runId: latest!.id, status: 'completed', skus: 40 });
    expect(latest!.id).not.toBe(goodRun.runId);
    // the same sources, the same lines
    expect(readFileSync(join(out, 'lines.csv'), 'utf8')).toBe(before['lines.csv']);
  });
});

describe('a failed reconcile run on MariaDB sources (a port nothing listens on)', () => {
  const prefix = `ig_test_recfail_${process.pid}_${Date.now().toString(36)}`;
  let dir: string;
  let config: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ig-reconcile-failed-maria-'));
    await generateDemo({ dir, skus: 30, mysqlUrl: MARIADB_URL, databasePrefix: prefix });
    config = join(dir, 'inventory-graph.yaml');
    expect((await run(['skus', 'import', join(dir, 'sku-map.csv'), '--config', config])).code).toBe(0);
  });
  afterAll(async () => {
    await dropDemoDatabases(prefix);
  });

  it("exits 3, writes failed.json naming the source and leaves the good run's files", async () => {
    const out = join(dir, 'nightly');
    const good = await run(['reconcile', '--config', config, '--out', out]);
    expect(good.code, good.stderr).toBe(0);
    const before = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(out, f), 'utf8')]));

    const text = readFileSync(config, 'utf8');
    const port = await closedPort();
    const wms = new RegExp(`(mysql://[^\\s]*?)127\\.0\\.0\\.1:3306(/${prefix}_wms)`);
    expect(text).toMatch(wms);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, text.replace(wms, `$1127.0.0.1:${port}$2`));

    await expectFailed(dir, broken, out, 'wms');
    expect(readdirSync(out).sort()).toEqual(['failed.json', ...FILES].sort());
    for (const f of FILES) expect(readFileSync(join(out, f), 'utf8'), f).toBe(before[f]);
  });
});
