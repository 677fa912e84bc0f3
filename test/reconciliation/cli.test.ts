/**
 * `inventory-graph reconcile` as a user (or a nightly job) runs it: exit codes, files, and no
 * progress noise when stdout is not a terminal.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { runCli } from '../helpers/serving.js';

const run = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'silent' }, timeoutMs: 120_000 });

let dir: string;
let config: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-reconcile-cli-'));
  await generateDemo({ dir, skus: 60 });
  config = join(dir, 'inventory-graph.yaml');
  expect((await run(['skus', 'import', join(dir, 'sku-map.csv'), '--config', config])).code).toBe(0);
});

describe('inventory-graph reconcile', () => {
  it('writes its files and exits 0; with --fail-on-discrepancy it exits 1 when unexplained variance exceeds the tolerance', async () => {
    const out = join(dir, 'run-1');
    const ok = await run(['reconcile', '--config', config, '--out', out]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^Reconciliation run \d+ completed: 60 SKUs, \d+ lines: \d+ match, \d+ explained, 0 within tolerance \(0\), [1-9]\d* discrepancies; 1 gaps, 5 orphan codes\./,
    );
    // not a terminal: no progress lines
    expect(ok.stdout).not.toContain('\r');
    for (const f of ['lines.csv', 'gaps.csv', 'orphans.csv', 'summary.json']) expect(existsSync(join(out, f)), f).toBe(true);

    const strict = await run(['reconcile', '--config', config, '--out', join(dir, 'run-2'), '--fail-on-discrepancy']);
    expect(strict.code).toBe(1);

    const lenient = await run(['reconcile', '--config', config, '--out', join(dir, 'run-3'), '--fail-on-discrepancy', '--tolerance', '100000']);
    expect(lenient.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'run-3', 'summary.json'), 'utf8')).byStatus.DISCREPANCY).toBe(0);
  });

  it('refuses bad flags with exit code 2', async () => {
    expect((await run(['reconcile', '--config', config, '--tolerance', '-3'])).code).toBe(2);
    expect((await run(['reconcile', '--config', config, '--bogus'])).code).toBe(2);
  });

  it('exits 3 and records a failed run when a source fails', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, readFileSync(config, 'utf8').replace('path: ./3pl/inventory-*.csv', 'path: ./nowhere/inventory-*.csv'));
    const r = await run(['reconcile', '--config', broken, '--out', join(dir, 'run-4')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('tpl');
    // no file that could pass for a result: only failed.json (test/reconciliation/failed-run.test.ts)
    expect(readdirSync(join(dir, 'run-4'))).toEqual(['failed.json']);
    expect(JSON.parse(readFileSync(join(dir, 'run-4', 'failed.json'), 'utf8'))).toMatchObject({ status: 'failed', failedSources: [{ source: 'tpl' }] });
  });
});
