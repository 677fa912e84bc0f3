/**
 * File snapshots that keep history (`keepMissingDays`), on real dated daily files in a temporary
 * directory: an item (sku × location) missing from the newest file keeps its row from the newest
 * older file that has it, with that file's asOf and `carriedFrom`, until that file is more than
 * `keepMissingDays` older; a restart reads the window back and answers as the process that saw
 * every file arrive; and through the real gateway the carried figure wins its location (STALE,
 * CARRIED_FORWARD) where a lower source would otherwise stand in.
 */
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { csvSourceSchema } from '../../src/config/schema.js';
import type { StockRecord } from '../../src/domain/records.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import { createCsvConnector, type RejectedFile } from '../../src/sources/csv.js';

const HEADER = 'client_sku,facility,lot,on_hand,allocated,snapshot_at\n';
const COLUMNS = { sku: 'client_sku', location: 'facility', onHand: 'on_hand', committed: 'allocated', asOf: 'snapshot_at' };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ig-csv-history-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A daily file `inventory-<day>.csv`, its rows taken as true at 21:00 UTC that day. */
function day(d: string, rows: readonly (readonly [sku: string, location: string, onHand: number])[], into = dir): void {
  writeFileSync(join(into, `inventory-${d}.csv`), HEADER + rows.map(([s, l, q]) => `${s},${l},L1,${q},0,${d}T21:00:00Z\n`).join(''));
}

function connector(extra: Record<string, unknown> = {}) {
  const rejected: RejectedFile[] = [];
  const loaded: { file: string; rows: number; carried: number }[] = [];
  const config = csvSourceSchema.parse({ kind: 'csv', path: join(dir, 'inventory-*.csv'), checkIntervalMs: 0, stock: { columns: COLUMNS }, ...extra });
  const c = createCsvConnector('tpl', config, { events: { rejected: (r) => rejected.push(r), loaded: (l) => loaded.push(l) } });
  return { c, rejected, loaded };
}

type Connector = ReturnType<typeof connector>['c'];

/** Everything a connector answers: every code it lists, with its records, in order. */
async function everything(c: Connector): Promise<StockRecord[]> {
  const codes = await c.listCodes(null, 1000);
  const out = await c.fetch('stock', codes);
  return out.sort((a, b) => (a.code + a.location < b.code + b.location ? -1 : 1));
}

const at = (d: string) => new Date(`${d}T21:00:00Z`);

describe('an item missing from the newest file', () => {
  it('keeps its row from the newest older file that has it, with that asOf, within keepMissingDays', async () => {
    day('2026-11-21', [['OLD', 'W01', 9]]); // 4 days before the newest: beyond the window of 3
    day('2026-11-22', [['EDGE', 'W01', 4]]); // 3 days before: the window's edge, still in
    day('2026-11-23', [['B', 'W01', 1]]);
    day('2026-11-24', [
      ['A', 'W01', 5],
      ['B', 'W01', 2],
      ['B', 'W02', 3],
    ]);
    day('2026-11-25', [
      ['A', 'W01', 6],
      ['B', 'W01', 7],
    ]);
    const { c, loaded } = connector({ keepMissingDays: 3 });

    expect(await everything(c)).toEqual([
      { code: 'A', location: 'W01', onHand: 6, committed: 0, asOf: at('2026-11-25') },
      { code: 'B', location: 'W01', onHand: 7, committed: 0, asOf: at('2026-11-25') },
      // B is in the newest file at W01 only: W02 is carried from the 24th
      { code: 'B', location: 'W02', onHand: 3, committed: 0, asOf: at('2026-11-24'), carriedFrom: 'inventory-2026-11-24.csv' },
      { code: 'EDGE', location: 'W01', onHand: 4, committed: 0, asOf: at('2026-11-22'), carriedFrom: 'inventory-2026-11-22.csv' },
    ]);
    expect(c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-25.csv'), rows: 2, carried: 2, fallback: false, rejected: [] });
    // the window was read at start, and only the snapshot it made was told of
    expect(loaded).toEqual([{ source: 'tpl', file: join(dir, 'inventory-2026-11-25.csv'), rows: 2, carried: 2, asOf: new Date('2026-11-25T00:00:00Z') }]);
  });

  it('is gone once the older file falls out of the window, and with keepMissingDays: 0 at once', async () => {
    day('2026-11-20', [['B', 'W01', 2]]);
    day('2026-11-21', [['A', 'W01', 1]]);
    const { c } = connector({ keepMissingDays: 3 });
    expect((await c.fetch('stock', ['B']))[0]).toMatchObject({ onHand: 2, carriedFrom: 'inventory-2026-11-20.csv' });

    day('2026-11-23', [['A', 'W01', 1]]);
    await c.ping();
    expect((await c.fetch('stock', ['B']))[0]).toMatchObject({ onHand: 2, carriedFrom: 'inventory-2026-11-20.csv' });
    day('2026-11-24', [['A', 'W01', 1]]);
    await c.ping();
    expect(await c.fetch('stock', ['B'])).toEqual([]);
    expect(await c.listCodes(null, 10)).toEqual(['A']);
    expect(c.state()).toMatchObject({ rows: 1, carried: 0 });

    const off = connector({ keepMissingDays: 0 }).c;
    day('2026-11-25', [['C', 'W01', 1]]);
    expect(await everything(off)).toEqual([{ code: 'C', location: 'W01', onHand: 1, committed: 0, asOf: at('2026-11-25') }]);
  });

  it('costs nothing more when every row is present, and a few rows when a few are missing', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => [`S${i}`, i % 2 === 0 ? 'W01' : 'W02', i] as const);
    day('2026-11-24', rows);
    const { c } = connector();
    day('2026-11-25', rows);
    await c.ping();
    expect(c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-25.csv'), rows: 500, carried: 0 });

    day(
      '2026-11-26',
      rows.filter((_, i) => i % 100 !== 7),
    );
    await c.ping();
    expect(c.state()).toMatchObject({ rows: 495, carried: 5 });
    expect(await c.fetch('stock', ['S107', 'S108'])).toEqual([
      { code: 'S107', location: 'W02', onHand: 107, committed: 0, asOf: at('2026-11-25'), carriedFrom: 'inventory-2026-11-25.csv' },
      { code: 'S108', location: 'W01', onHand: 108, committed: 0, asOf: at('2026-11-26') },
    ]);
  });

  it('is not carried from an earlier version of the same file: a rewrite replaces it', async () => {
    day('2026-11-25', [
      ['A', 'W01', 1],
      ['B', 'W01', 2],
    ]);
    const { c } = connector();
    expect(await c.fetch('stock', ['B'])).toHaveLength(1);
    // the same day's file, corrected: B taken out on purpose (a later mtime makes it the newer)
    writeFileSync(join(dir, 'inventory-2026-11-25.csv'), `${HEADER}A,W01,L1,1,0,2026-11-25T22:00:00Z\n`);
    utimesSync(join(dir, 'inventory-2026-11-25.csv'), new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    await c.ping();
    expect(await c.fetch('stock', ['B'])).toEqual([]);
  });

  it('keeps today’s fallback when the newest file is refused: the last good snapshot, carried rows and all', async () => {
    day('2026-11-24', [
      ['A', 'W01', 1],
      ['B', 'W01', 2],
    ]);
    day('2026-11-25', [['A', 'W01', 3]]);
    const { c, rejected } = connector();
    await c.fetch('stock', ['A']);
    writeFileSync(join(dir, 'inventory-2026-11-26.csv'), `${HEADER}A,W01,L1,many,0,2026-11-26T21:00:00Z\n`);
    await c.ping();

    expect(await everything(c)).toEqual([
      { code: 'A', location: 'W01', onHand: 3, committed: 0, asOf: at('2026-11-25'), snapshotFallback: true },
      { code: 'B', location: 'W01', onHand: 2, committed: 0, asOf: at('2026-11-24'), snapshotFallback: true, carriedFrom: 'inventory-2026-11-24.csv' },
    ]);
    expect(rejected).toEqual([expect.objectContaining({ file: join(dir, 'inventory-2026-11-26.csv'), line: 2 })]);
    expect(c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-25.csv'), carried: 1, fallback: true });
  });
});

describe('a restart', () => {
  /** Seven days of files: items dropping out and coming back, a refused file, two days arriving at once. */
  const days: [string, (readonly [string, string, number])[] | string][] = [
    [
      '2026-11-19',
      [
        ['A', 'W01', 1],
        ['B', 'W01', 1],
        ['C', 'W01', 1],
        ['D', 'W02', 1],
      ],
    ],
    [
      '2026-11-20',
      [
        ['A', 'W01', 2],
        ['C', 'W01', 2],
      ],
    ],
    ['2026-11-21', `${HEADER}A,W01,L1,3,0,2026-11-21T21:00:00Z\nC,W01,L1\n`], // torn: refused
    [
      '2026-11-22',
      [
        ['A', 'W01', 4],
        ['B', 'W02', 4],
      ],
    ],
    [
      '2026-11-23',
      [
        ['A', 'W01', 5],
        ['E', 'W01', 5],
      ],
    ],
    ['2026-11-24', [['A', 'W01', 6]]],
  ];
  const write = ([d, rows]: (typeof days)[number]) => (typeof rows === 'string' ? writeFileSync(join(dir, `inventory-${d}.csv`), rows) : day(d, rows));

  it('reads the window back and answers as the process that saw every file arrive', async () => {
    write(days[0]!);
    const live = connector({ keepMissingDays: 3 });
    await live.c.ping();
    for (const d of days.slice(1, 4)) {
      write(d);
      await live.c.ping();
    }
    // the last two arrive between two looks
    write(days[4]!);
    write(days[5]!);
    await live.c.ping();

    const restarted = connector({ keepMissingDays: 3 });
    const answer = await everything(restarted.c);
    expect(answer).toEqual(await everything(live.c));
    expect(answer).toEqual([
      { code: 'A', location: 'W01', onHand: 6, committed: 0, asOf: at('2026-11-24') },
      { code: 'B', location: 'W02', onHand: 4, committed: 0, asOf: at('2026-11-22'), carriedFrom: 'inventory-2026-11-22.csv' },
      { code: 'E', location: 'W01', onHand: 5, committed: 0, asOf: at('2026-11-23'), carriedFrom: 'inventory-2026-11-23.csv' },
    ]);
    expect(restarted.c.state()).toMatchObject({ rows: 1, carried: 2, fallback: false });
    expect(live.c.state()).toMatchObject({ rows: 1, carried: 2, fallback: false });
    // the refused 21st is at the edge of the restart's window: read again, refused again, passed over
    expect(live.rejected.map((r) => r.file)).toEqual([join(dir, 'inventory-2026-11-21.csv')]);
    expect(restarted.rejected.map((r) => r.file)).toEqual([join(dir, 'inventory-2026-11-21.csv')]);
  });

  it('serves the file before a refused newest one with that file’s own window, and passes over a refused file inside a window', async () => {
    for (const d of days.slice(0, 3)) write(d);
    const first = connector({ keepMissingDays: 3 });
    const fallback = { snapshotFallback: true, committed: 0 };
    expect(await everything(first.c)).toEqual([
      { code: 'A', location: 'W01', onHand: 2, asOf: at('2026-11-20'), ...fallback },
      { code: 'B', location: 'W01', onHand: 1, asOf: at('2026-11-19'), carriedFrom: 'inventory-2026-11-19.csv', ...fallback },
      { code: 'C', location: 'W01', onHand: 2, asOf: at('2026-11-20'), ...fallback },
      { code: 'D', location: 'W02', onHand: 1, asOf: at('2026-11-19'), carriedFrom: 'inventory-2026-11-19.csv', ...fallback },
    ]);
    expect(first.rejected).toEqual([expect.objectContaining({ file: join(dir, 'inventory-2026-11-21.csv'), line: 3 })]);
    expect(first.c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-20.csv'), carried: 2, fallback: true });

    write(days[3]!);
    await first.c.ping();
    const second = connector({ keepMissingDays: 3 });
    const answer = await everything(second.c);
    expect(answer).toEqual(await everything(first.c));
    expect(answer).toEqual([
      { code: 'A', location: 'W01', onHand: 4, committed: 0, asOf: at('2026-11-22') },
      { code: 'B', location: 'W01', onHand: 1, committed: 0, asOf: at('2026-11-19'), carriedFrom: 'inventory-2026-11-19.csv' },
      { code: 'B', location: 'W02', onHand: 4, committed: 0, asOf: at('2026-11-22') },
      { code: 'C', location: 'W01', onHand: 2, committed: 0, asOf: at('2026-11-20'), carriedFrom: 'inventory-2026-11-20.csv' },
      { code: 'D', location: 'W02', onHand: 1, committed: 0, asOf: at('2026-11-19'), carriedFrom: 'inventory-2026-11-19.csv' },
    ]);
    expect(second.rejected.map((r) => r.file)).toEqual([join(dir, 'inventory-2026-11-21.csv')]);
    expect(second.c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-22.csv'), rows: 2, carried: 3, fallback: false });
  });
});

describe('through the gateway', () => {
  let running: App | undefined;
  afterEach(async () => {
    await running?.close({ graceMs: 0 });
    running = undefined;
  });

  let clock = new Date('2026-11-25T22:00:00Z');
  /** The app over the 3PL's files (first) and an ERP that also knows 3PL-WEST (second), on `clock`. */
  async function start(): Promise<App> {
    const erp = new Database(join(dir, 'erp.sqlite'));
    erp.exec('CREATE TABLE IF NOT EXISTS inv (item TEXT, site TEXT, qty INTEGER, updated TEXT)');
    erp.exec("DELETE FROM inv; INSERT INTO inv VALUES ('A', 'W01', 100, '2026-11-25T20:00:00Z'), ('B', 'W01', 100, '2026-11-25T20:00:00Z')");
    erp.close();
    writeFileSync(
      join(dir, 'inventory-graph.yaml'),
      `store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  tpl:
    kind: csv
    path: ./3pl/inventory-*.csv
    checkIntervalMs: 0
    maxAgeSeconds: 7200
    keepMissingDays: 3
    skuCodes: canonical
    stock: { columns: { sku: client_sku, location: facility, onHand: on_hand, committed: allocated, asOf: snapshot_at } }
  erp:
    kind: sql
    client: better-sqlite3
    connection: ./erp.sqlite
    skuCodes: canonical
    stock: { table: inv, columns: { sku: item, location: site, onHand: qty, asOf: updated } }
locations:
  - { id: 3PL-WEST, codes: { tpl: W01, erp: W01 } }
precedence: { quantity: [tpl, erp] }
auth: { open: true }
`,
    );
    running = await createApp(loadConfig(join(dir, 'inventory-graph.yaml')), {
      logger: createLogger('silent'),
      now: () => clock,
    });
    await running.store.skus.import(['A', 'B'].map((sku) => ({ sku, name: null, aliases: [] })));
    return running;
  }

  interface Level {
    onHand: number;
    available: number;
    counted: boolean;
    flags: string[];
    provenance: { source: string; asOf: string; stale: boolean; fallback: boolean; carriedFrom: string | null };
  }
  /** A and B at 3PL-WEST, by SKU. */
  async function west(url: string): Promise<Record<string, Level>> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: '{ availability(skus: ["A", "B"]) { sku byLocation { onHand available counted flags provenance { source asOf stale fallback carriedFrom } } } }',
      }),
    });
    const body = (await res.json()) as { data: { availability: { sku: string; byLocation: Level[] }[] }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    return Object.fromEntries(body.data.availability.map((a) => [a.sku, a.byLocation[0]!]));
  }

  it('answers the dropped item with its older asOf, STALE and CARRIED_FORWARD, and no lower source stands in; a restart says the same', async () => {
    mkdirSync(join(dir, '3pl'));
    const files = join(dir, '3pl');
    day(
      '2026-11-24',
      [
        ['A', 'W01', 5],
        ['B', 'W01', 8],
      ],
      files,
    );
    day('2026-11-25', [['A', 'W01', 6]], files);

    const app = await start();
    const first = await west(await app.listen(0));
    expect(first.A).toEqual({
      onHand: 6,
      available: 6,
      counted: true,
      flags: [],
      provenance: { source: 'tpl', asOf: '2026-11-25T21:00:00.000Z', stale: false, fallback: false, carriedFrom: null },
    });
    expect(first.B).toEqual({
      onHand: 8,
      available: 8,
      counted: true,
      flags: ['STALE', 'CARRIED_FORWARD'],
      provenance: { source: 'tpl', asOf: '2026-11-24T21:00:00.000Z', stale: true, fallback: false, carriedFrom: 'inventory-2026-11-24.csv' },
    });

    await app.close({ graceMs: 0 });
    running = undefined;
    const again = await start();
    const url = await again.listen(0);
    expect(await west(url)).toEqual(first);

    // three days on, the 24th is out of the window: the ERP stands in for B
    clock = new Date('2026-11-28T22:00:00Z');
    day('2026-11-28', [['A', 'W01', 7]], files);
    await again.connectors.get('tpl')!.ping();
    const later = await west(url);
    expect(later.A).toMatchObject({ onHand: 7, flags: [], provenance: { source: 'tpl', carriedFrom: null } });
    expect(later.B).toMatchObject({ onHand: 100, flags: ['FALLBACK'], provenance: { source: 'erp', fallback: true, carriedFrom: null } });
  });
});
