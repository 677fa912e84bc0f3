/**
 * A file source's troubles as an operator sees them, on the real app over real files in a
 * temporary directory: a newer file over a limit is reported at once (the source DEGRADED with
 * the reason, an anomaly, a log line) while the last snapshot keeps serving.
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
  lines = [];
  running = await createApp(loadConfig(join(dir, 'inventory-graph.yaml')), { logger: createLogger('info', (l) => lines.push(JSON.parse(l) as Record<string, unknown>)) });
  return running;
}

const logged = (msg: RegExp) => lines.filter((l) => l.source === 'tpl' && msg.test(String(l.msg)));
/** The one open anomaly of `kind`, once the store has it (it is written off the read path). */
const anomaly = (app: App, kind: string) =>
  vi.waitFor(async () => {
    const found = (await app.store.anomalies.list('OPEN')).filter((a) => a.kind === kind);
    expect(found).toHaveLength(1);
    return found[0]!;
  });
const served = [{ code: 'A1', location: 'W01', onHand: 10, committed: 1, asOf: new Date('2026-11-24T21:00:00Z') }];

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
