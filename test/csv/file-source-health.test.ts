/**
 * A file source's troubles as an operator sees them, on the real app over real files in a
 * temporary directory: a directory that disappears, a pattern that no longer matches any file,
 * and a newer file over a limit. Each is reported at once (the source DEGRADED with the reason,
 * an anomaly, a log line) while the last snapshot keeps serving, and clears when files are back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';

const HEADER = 'client_sku,facility,lot,on_hand,allocated,snapshot_at\n';
const GOOD = `${HEADER}A1,W01,L1,10,1,2026-11-24T21:00:00Z\n`;

let dir: string;
let files: string;
let running: App | undefined;
let lines: Record<string, unknown>[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ig-csv-health-'));
  files = join(dir, '3pl');
  mkdirSync(files);
  writeFileSync(join(files, 'inventory-2026-11-24.csv'), GOOD);
});
afterEach(async () => {
  await running?.close({ graceMs: 0 });
  running = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The app over one file source, `extra` added to its config (YAML lines). */
async function start(extra = ''): Promise<App> {
  writeFileSync(
    join(dir, 'inventory-graph.yaml'),
    `store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  tpl:
    kind: csv
    path: ./3pl/inventory-*.csv
    checkIntervalMs: 0${extra}
    skuCodes: canonical
    stock: { columns: { sku: client_sku, location: facility, onHand: on_hand, committed: allocated, asOf: snapshot_at } }
locations:
  - { id: 3PL-WEST, codes: { tpl: W01 } }
precedence: { quantity: [tpl] }
auth: { open: true }
`,
  );
  const mine: Record<string, unknown>[] = [];
  lines = mine;
  running = await createApp(loadConfig(join(dir, 'inventory-graph.yaml')), {
    logger: createLogger('info', (l) => mine.push(JSON.parse(l) as Record<string, unknown>)),
  });
  return running;
}

const logged = (msg: RegExp) => lines.filter((l) => l.source === 'tpl' && msg.test(String(l.msg)));
/** The one open anomaly of `kind`, once the store has it (it is written off the read path). */
const anomaly = (app: App, kind: string) =>
  vi.waitFor(async () => {
    const found = (await app.store.anomalies.list({ statuses: ['OPEN'], kinds: [kind] })).anomalies;
    expect(found).toHaveLength(1);
    return found[0]!;
  });
const served = [{ code: 'A1', location: 'W01', onHand: 10, committed: 1, asOf: new Date('2026-11-24T21:00:00Z') }];

describe('a 3PL directory that disappears', () => {
  it('is reported at once while the last snapshot keeps serving, and clears when it comes back', async () => {
    const app = await start();
    const tpl = app.connectors.get('tpl')!;
    expect(await tpl.fetch('stock', ['A1'])).toEqual(served);
    expect(app.health.get('tpl')?.status).toBe('UP');

    rmSync(files, { recursive: true });
    await tpl.ping();

    // served as before: the same figures, flagged only as they would be (STALE in time)
    expect(await tpl.fetch('stock', ['A1'])).toEqual(served);
    expect(app.health.get('tpl')).toMatchObject({ status: 'DEGRADED', problem: expect.stringMatching(/directory .*is missing/) });
    expect(logged(/files missing/)).toEqual([
      expect.objectContaining({ level: 'warn', path: join(files, 'inventory-*.csv'), reason: expect.stringContaining(files) }),
    ]);
    expect(await anomaly(app, 'SOURCE_FILES_MISSING')).toMatchObject({ source: 'tpl', code: 'inventory-*.csv', detail: expect.stringContaining(files) });

    // looked at again while still gone: one log line, one anomaly
    await tpl.ping();
    expect(logged(/files missing/)).toHaveLength(1);

    mkdirSync(files);
    writeFileSync(join(files, 'inventory-2026-11-25.csv'), `${HEADER}A1,W01,L1,7,0,2026-11-25T21:00:00Z\n`);
    await tpl.ping();
    expect((await tpl.fetch('stock', ['A1']))[0]?.onHand).toBe(7);
    expect(app.health.get('tpl')).toMatchObject({ status: 'UP', problem: null });
    expect(logged(/files found again/)).toEqual([expect.objectContaining({ level: 'info' })]);
  });

  it('is reported the same when the pattern matches no file any more', async () => {
    const app = await start();
    const tpl = app.connectors.get('tpl')!;
    await tpl.fetch('stock', ['A1']);
    rmSync(join(files, 'inventory-2026-11-24.csv'));
    writeFileSync(join(files, 'other-2026-11-25.csv'), GOOD);
    await tpl.ping();

    expect(await tpl.fetch('stock', ['A1'])).toEqual(served);
    expect(app.health.get('tpl')).toMatchObject({ status: 'DEGRADED', problem: expect.stringMatching(/no file matches inventory-\*\.csv/) });
    expect(logged(/files missing/)).toHaveLength(1);
    expect(await anomaly(app, 'SOURCE_FILES_MISSING')).toMatchObject({ source: 'tpl', code: 'inventory-*.csv' });

    writeFileSync(join(files, 'inventory-2026-11-24.csv'), GOOD);
    await tpl.ping();
    expect(app.health.get('tpl')).toMatchObject({ status: 'UP', problem: null });
  });
});

describe('a newer 3PL file over maxFileBytes', () => {
  it('keeps the previous snapshot, records an anomaly and a log line naming the file and the limit, and degrades the source', async () => {
    const app = await start('\n    maxFileBytes: 200');
    const tpl = app.connectors.get('tpl')!;
    await tpl.fetch('stock', ['A1']);
    const big = `${HEADER}${Array.from({ length: 6 }, (_, i) => `B${i},W01,L1,1,0,2026-11-25T21:00:00Z`).join('\n')}\n`;
    writeFileSync(join(files, 'inventory-2026-11-25.csv'), big);
    await tpl.ping();

    expect(await tpl.fetch('stock', ['A1'])).toEqual([{ ...served[0], snapshotFallback: true }]);
    expect(app.health.get('tpl')).toMatchObject({ status: 'DEGRADED', problem: expect.stringMatching(/inventory-2026-11-25\.csv .*maxFileBytes/) });
    const line = logged(/over a limit/);
    expect(line).toEqual([expect.objectContaining({ level: 'warn', file: join(files, 'inventory-2026-11-25.csv'), limit: 'maxFileBytes' })]);
    expect(await anomaly(app, 'SNAPSHOT_TOO_LARGE')).toMatchObject({
      source: 'tpl',
      code: 'inventory-2026-11-25.csv',
      detail: expect.stringMatching(new RegExp(`inventory-2026-11-25\\.csv: ${big.length} bytes, over maxFileBytes \\(200\\)`)),
    });
  });
});
