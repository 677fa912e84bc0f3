/**
 * The file connector on real files in a temporary directory: which file is the snapshot, what
 * asOf each record gets, what happens when the newest file is half-written, malformed or over
 * a limit, that a directory is re-read only when a newer file appears, and that reads are
 * answered from the current snapshot while a newer one loads.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { csvSourceSchema } from '../../src/config/schema.js';
import type { StockRecord } from '../../src/domain/records.js';
import { createLogger } from '../../src/logger.js';
import { createCsvConnector, dateInName, globToRegExp, type RejectedFile } from '../../src/sources/csv.js';
import { SourceHealthRegistry } from '../../src/sources/health.js';
import { resilienceSettings, withResilience } from '../../src/sources/resilience.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ig-csv-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = 'client_sku,facility,lot,on_hand,allocated,snapshot_at\n';
const COLUMNS = { sku: 'client_sku', location: 'facility', onHand: 'on_hand', committed: 'allocated', asOf: 'snapshot_at' };

function connector(extra: Record<string, unknown> = {}, pattern = 'inventory-*.csv') {
  const loaded: string[] = [];
  const rejected: RejectedFile[] = [];
  const config = csvSourceSchema.parse({ kind: 'csv', path: join(dir, pattern), checkIntervalMs: 0, stock: { columns: COLUMNS }, ...extra });
  const c = createCsvConnector('tpl', config, { events: { loaded: (l) => loaded.push(l.file), rejected: (r) => rejected.push(r) } });
  return { c, loaded, rejected, config };
}
/** The connector as the server wires it: behind its deadline and breaker, feeding a health registry. */
function guarded(extra: Record<string, unknown> = {}) {
  const { c, config, ...rest } = connector(extra);
  const health = new SourceHealthRegistry();
  const source = withResilience(c, resilienceSettings(config), { health, logger: createLogger('silent') });
  return { c, source, health, ...rest };
}
const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
const sorted = (rs: StockRecord[]) => [...rs].sort((a, b) => (a.code + a.location < b.code + b.location ? -1 : 1));

describe('which file is the snapshot', () => {
  it('takes the newest by the date in the file name, whatever the modification times', async () => {
    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,10,1,2026-11-25T21:00:00Z\n`);
    write('inventory-2026-11-24.csv', `${HEADER}A1,W01,L1,99,0,2026-11-24T21:00:00Z\n`);
    // the older file was touched last: the name's date still decides
    utimesSync(join(dir, 'inventory-2026-11-24.csv'), new Date(), new Date());
    utimesSync(join(dir, 'inventory-2026-11-25.csv'), new Date('2026-01-01'), new Date('2026-01-01'));
    const { c } = connector();

    expect(await c.fetch('stock', ['A1'])).toEqual([{ code: 'A1', location: 'W01', onHand: 10, committed: 1, asOf: new Date('2026-11-25T21:00:00Z') }]);
    expect(c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-25.csv'), fallback: false, rejected: [] });
  });

  it('takes the newest by modification time when names carry no date', async () => {
    write('inventory-a.csv', `${HEADER}A1,W01,L1,1,0,\n`);
    write('inventory-b.csv', `${HEADER}A1,W01,L1,2,0,\n`);
    utimesSync(join(dir, 'inventory-a.csv'), new Date('2026-03-02T00:00:00Z'), new Date('2026-03-02T00:00:00Z'));
    utimesSync(join(dir, 'inventory-b.csv'), new Date('2026-03-01T00:00:00Z'), new Date('2026-03-01T00:00:00Z'));
    const { c } = connector();

    const [r] = await c.fetch('stock', ['A1']);
    expect(r?.onHand).toBe(1);
    // no asOf value in the row and no date in the name: the file's mtime
    expect(r?.asOf.toISOString()).toBe('2026-03-02T00:00:00.000Z');
  });

  it('takes asOf from the date in the name when no asOf column is mapped, and sums rows per (sku, location)', async () => {
    write('inventory-20261125T0600.csv', `${HEADER}A1,W01,L1,5,1,x\nA1,W01,L2,7,2,x\nA1,W02,L1,1,0,x\nB2,W01,L1,3,0,x\n`);
    const { c } = connector({ stock: { columns: { sku: 'client_sku', location: 'facility', onHand: 'on_hand', committed: 'allocated' } } });

    expect(sorted(await c.fetch('stock', ['A1', 'B2', 'NOPE']))).toEqual([
      { code: 'A1', location: 'W01', onHand: 12, committed: 3, asOf: new Date('2026-11-25T06:00:00Z') },
      { code: 'A1', location: 'W02', onHand: 1, committed: 0, asOf: new Date('2026-11-25T06:00:00Z') },
      { code: 'B2', location: 'W01', onHand: 3, committed: 0, asOf: new Date('2026-11-25T06:00:00Z') },
    ]);
  });

  it('ignores files that do not match the pattern, and fails clearly when none does', async () => {
    write('other-2026-11-26.csv', `${HEADER}A1,W01,L1,1,0,\n`);
    const { c } = connector();
    await expect(c.fetch('stock', ['A1'])).rejects.toThrow(/no file matches .*inventory-\*\.csv/);
    await expect(c.ping()).rejects.toThrow(/no file matches/);
  });

  it('reads JSON lines', async () => {
    write(
      'inventory-2026-11-25.jsonl',
      '{"client_sku":"A1","facility":"W01","on_hand":4,"allocated":"1","snapshot_at":"2026-11-25T08:00:00Z"}\n\n{"client_sku":"A1","facility":"W01","on_hand":"2"}\n',
    );
    const { c } = connector({}, 'inventory-*.jsonl');

    expect(await c.fetch('stock', ['A1'])).toEqual([{ code: 'A1', location: 'W01', onHand: 6, committed: 1, asOf: new Date('2026-11-25T08:00:00Z') }]);
  });
});

describe('a newest file that is half-written or malformed', () => {
  const good = `${HEADER}A1,W01,L1,10,1,2026-11-24T21:00:00Z\nB2,W01,L1,4,0,2026-11-24T21:00:00Z\n`;

  it('never replaces the last good snapshot: the previous one keeps serving, flagged, and the error names file and line', async () => {
    write('inventory-2026-11-24.csv', good);
    const { c, rejected } = connector();
    expect((await c.fetch('stock', ['A1']))[0]).not.toHaveProperty('snapshotFallback');

    // a transfer cut off mid-row: the third line has too few fields (reads do not wait for a
    // newer file to be looked at; ping does)
    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,11,1,2026-11-25T21:00:00Z\nB2,W01,L1,5`);
    await c.ping();
    const [a] = await c.fetch('stock', ['A1']);

    expect(a).toMatchObject({ onHand: 10, snapshotFallback: true, asOf: new Date('2026-11-24T21:00:00Z') });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ source: 'tpl', file: join(dir, 'inventory-2026-11-25.csv'), line: 3 });
    expect(c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-24.csv'), fallback: true });

    // asked again, the refused file is not parsed again, and still refused
    await c.fetch('stock', ['A1']);
    expect(rejected).toHaveLength(1);

    // the transfer completes: the file is rewritten whole, and now it is the snapshot
    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,11,1,2026-11-25T21:00:00Z\nB2,W01,L1,5,0,2026-11-25T21:00:00Z\n`);
    utimesSync(join(dir, 'inventory-2026-11-25.csv'), new Date(Date.now() + 5_000), new Date(Date.now() + 5_000));
    await c.ping();
    const [b] = await c.fetch('stock', ['A1']);
    expect(b).toEqual({ code: 'A1', location: 'W01', onHand: 11, committed: 1, asOf: new Date('2026-11-25T21:00:00Z') });
    expect(c.state().fallback).toBe(false);
  });

  it.each([
    ['a non-numeric quantity', `${HEADER}A1,W01,L1,10,1,\nB2,W01,L1,4x,0,\n`, 3, /on_hand: not a whole quantity: "4x"/],
    ['an empty SKU', `${HEADER}A1,W01,L1,10,1,\n,W01,L1,4,0,\n`, 3, /empty client_sku/],
    ['a bad timestamp', `${HEADER}A1,W01,L1,10,1,yesterday\n`, 2, /snapshot_at: not a timestamp/],
    ['a missing column', 'client_sku,facility,qty\nA1,W01,3\n', 1, /missing column "on_hand"/],
    ['an unclosed quote', `${HEADER}A1,W01,"L1,10,1,\n`, null, /quote/i],
    ['no rows at all', HEADER, null, /no rows/],
    ['an empty file', '', null, /no rows/],
  ])('refuses %s, naming the line, and serves the previous file', async (_what, text, line, reason) => {
    write('inventory-2026-11-24.csv', good);
    write('inventory-2026-11-25.csv', text);
    const { c, rejected } = connector();

    const recs = await c.fetch('stock', ['A1', 'B2']);

    expect(recs.map((r) => [r.code, r.onHand, r.snapshotFallback])).toEqual([
      ['A1', 10, true],
      ['B2', 4, true],
    ]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.file).toBe(join(dir, 'inventory-2026-11-25.csv'));
    expect(rejected[0]?.reason).toMatch(reason);
    if (line !== null) expect(rejected[0]?.line).toBe(line);
  });

  it('fails with the refusal when no file is usable', async () => {
    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,ten,1,\n`);
    const { c } = connector();
    await expect(c.fetch('stock', ['A1'])).rejects.toThrow(/no usable file .*inventory-2026-11-25\.csv:2: on_hand: not a whole quantity/);
  });
});

describe('re-reading', () => {
  it('parses a file once, and again only when a newer file appears', async () => {
    write('inventory-2026-11-24.csv', `${HEADER}A1,W01,L1,1,0,\n`);
    const { c, loaded } = connector();
    for (let i = 0; i < 5; i++) await c.fetch('stock', ['A1']);
    expect(loaded).toEqual([join(dir, 'inventory-2026-11-24.csv')]);

    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,2,0,\n`);
    await c.ping();
    expect((await c.fetch('stock', ['A1']))[0]?.onHand).toBe(2);
    for (let i = 0; i < 5; i++) await c.fetch('stock', ['A1']);
    await c.ping();
    expect(loaded).toEqual([join(dir, 'inventory-2026-11-24.csv'), join(dir, 'inventory-2026-11-25.csv')]);
    // an older file appearing later changes nothing
    write('inventory-2026-11-20.csv', `${HEADER}A1,W01,L1,3,0,\n`);
    await c.ping();
    expect((await c.fetch('stock', ['A1']))[0]?.onHand).toBe(2);
    expect(loaded).toHaveLength(2);
  });

  it('looks at the directory at most every checkIntervalMs', async () => {
    write('inventory-2026-11-24.csv', `${HEADER}A1,W01,L1,1,0,\n`);
    const { c } = connector({ checkIntervalMs: 60_000 });
    expect((await c.fetch('stock', ['A1']))[0]?.onHand).toBe(1);
    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,2,0,\n`);
    expect((await c.fetch('stock', ['A1']))[0]?.onHand).toBe(1);
    // ping() always looks
    await c.ping();
    expect((await c.fetch('stock', ['A1']))[0]?.onHand).toBe(2);
  });
});

describe('movements and codes', () => {
  it('reads movements from the same file, per kind, summed', async () => {
    write('inventory-2026-11-25.csv', 'sku,wh,qty,transit,kind\nA1,W01,5,2,inTransit\nA1,W01,1,3,inTransit\nB2,W01,1,0,inTransit\n');
    const { c } = connector({
      stock: { columns: { sku: 'sku', location: 'wh', onHand: 'qty' } },
      movements: { columns: { sku: 'sku', location: 'wh', quantity: 'transit', kind: 'kind' } },
    });
    expect([...c.entities]).toEqual(['stock', 'movements']);
    expect(await c.fetch('movements', ['A1', 'B2'])).toEqual([
      { code: 'A1', location: 'W01', kind: 'inTransit', quantity: 5, asOf: new Date('2026-11-25T00:00:00Z') },
    ]);
  });

  it('answers a code once, its locations in file order, the newest asOf of summed rows, and new objects on every read', async () => {
    write(
      'inventory-2026-11-25.csv',
      `${HEADER}B2,W03,L1,2,0,2026-11-25T01:00:00Z\nA1,W02,L1,1,0,2026-11-25T02:00:00Z\nB2,W01,L1,4,1,2026-11-25T03:00:00Z\nB2,W03,L2,3,1,2026-11-25T05:00:00Z\nB2,W03,L3,0,0,2026-11-25T04:00:00Z\n`,
    );
    const { c } = connector();
    const first = await c.fetch('stock', ['B2', 'A1', 'B2']);
    expect(first).toEqual([
      { code: 'B2', location: 'W03', onHand: 5, committed: 1, asOf: new Date('2026-11-25T05:00:00Z') },
      { code: 'B2', location: 'W01', onHand: 4, committed: 1, asOf: new Date('2026-11-25T03:00:00Z') },
      { code: 'A1', location: 'W02', onHand: 1, committed: 0, asOf: new Date('2026-11-25T02:00:00Z') },
    ]);
    // a caller that changes what it got changes nothing the next caller sees
    (first[0] as StockRecord).onHand = 999;
    (first[0] as StockRecord).asOf.setTime(0);
    expect((await c.fetch('stock', ['B2']))[0]).toEqual({ code: 'B2', location: 'W03', onHand: 5, committed: 1, asOf: new Date('2026-11-25T05:00:00Z') });
  });

  it('lists its codes in order, a page at a time', async () => {
    write('inventory-2026-11-25.csv', `${HEADER}${['C', 'A', 'E', 'B', 'D', 'A'].map((k) => `${k},W01,L,1,0,`).join('\n')}\n`);
    const { c } = connector();
    expect(await c.listCodes(null, 2)).toEqual(['A', 'B']);
    expect(await c.listCodes('B', 2)).toEqual(['C', 'D']);
    expect(await c.listCodes('D', 2)).toEqual(['E']);
    expect(await c.listCodes('E', 2)).toEqual([]);
  });
});

describe('many rows', () => {
  it('lists the codes of a file in no order sorted, across the slices they are sorted in', async () => {
    // 150,000 codes (more than two slices of 65,536) in a fixed pseudo-random order
    const codes = Array.from({ length: 150_000 }, (_, i) => `C${((i * 7919) % 150_000).toString(36)}`);
    write('inventory-2026-11-25.csv', `${HEADER}${codes.map((k) => `${k},W01,L1,1,0,`).join('\n')}\n`);
    const { c } = connector();
    const listed: string[] = [];
    for (let page = await c.listCodes(null, 40_000); page.length > 0; page = await c.listCodes(page.at(-1) as string, 40_000)) listed.push(...page);
    expect(listed).toEqual([...codes].sort());
  });

  it('takes rows shorter than it made room for, summed per (sku, location) in file order', async () => {
    // 5,000 rows of 9 bytes or so: more than a file of this size was expected to hold
    const rows = Array.from({ length: 5_000 }, (_, i) => `K${i % 2_000},${i % 3 === 0 ? 'X' : 'Y'},${i % 7}`);
    write('inventory-2026-11-25.csv', `sku,wh,qty\n${rows.join('\n')}\n`);
    const { c } = connector({ stock: { columns: { sku: 'sku', location: 'wh', onHand: 'qty' } } });
    const expected = new Map<string, Map<string, number>>();
    rows.forEach((r, i) => {
      const [k, wh] = r.split(',') as [string, string];
      const byWh = expected.get(k) ?? new Map<string, number>();
      expected.set(k, byWh.set(wh, (byWh.get(wh) ?? 0) + (i % 7)));
    });
    const got = await c.fetch('stock', [...expected.keys()]);
    expect(got.map((r) => [r.code, r.location, r.onHand])).toEqual([...expected].flatMap(([k, byWh]) => [...byWh].map(([wh, n]) => [k, wh, n])));
  });
});

describe('a reload in the background', () => {
  it('answers every read from the current snapshot while a newer file loads, then swaps to it whole', async () => {
    write('inventory-2026-11-24.csv', `${HEADER}A1,W01,L1,10,1,2026-11-24T21:00:00Z\n`);
    const { source, health, loaded } = guarded();
    await source.ping();
    // a newer file big enough that parsing it takes many turns of the event loop
    const rows = Array.from({ length: 50_000 }, (_, i) => `B${i},W01,L1,${i},0,2026-11-25T21:00:00Z`);
    write('inventory-2026-11-25.csv', `${HEADER}A1,W01,L1,11,2,2026-11-25T21:00:00Z\n${rows.join('\n')}\n`);

    // read until the newer file is loaded, yielding to the event loop between reads
    const during: (number | string)[] = [];
    do {
      during.push(
        await source.fetch('stock', ['A1']).then(
          (r) => r[0]?.onHand ?? 'none',
          (e: Error) => `failed: ${e.message}`,
        ),
      );
      await new Promise((r) => setImmediate(r));
    } while (loaded.length < 2);

    expect(during.filter((v) => v !== 10)).toEqual([]);
    expect(during.length).toBeGreaterThan(1);
    expect(await source.fetch('stock', ['A1', 'B49999'])).toEqual([
      { code: 'A1', location: 'W01', onHand: 11, committed: 2, asOf: new Date('2026-11-25T21:00:00Z') },
      { code: 'B49999', location: 'W01', onHand: 49_999, committed: 0, asOf: new Date('2026-11-25T21:00:00Z') },
    ]);
    expect(health.get('tpl')).toMatchObject({ status: 'UP', errorCount: 0, rejectedCount: 0, successCount: during.length + 2 });
  });
});

describe('limits on a file', () => {
  const good = `${HEADER}A1,W01,L1,10,1,2026-11-24T21:00:00Z\nB2,W01,L1,4,0,2026-11-24T21:00:00Z\n`;
  const bigger = `${HEADER}${['A1', 'B2', 'C3', 'D4'].map((k) => `${k},W01,L1,5,0,2026-11-25T21:00:00Z`).join('\n')}\n`;

  it('has documented defaults', () => {
    const config = csvSourceSchema.parse({ kind: 'csv', path: join(dir, 'inventory-*.csv'), stock: { columns: COLUMNS } });
    expect(config).toMatchObject({ maxFileBytes: 1_073_741_824, maxRows: 10_000_000 });
  });

  it.each([
    ['maxRows', { maxRows: 3 }, /more than 3 rows \(maxRows\)/],
    ['maxFileBytes', { maxFileBytes: 150 }, new RegExp(`${bigger.length} bytes, over maxFileBytes \\(150\\)`)],
  ])('refuses a newer file over %s: the previous snapshot keeps serving, flagged, and the source is DEGRADED', async (limit, extra, reason) => {
    write('inventory-2026-11-24.csv', good);
    const { c, source, health, rejected } = guarded(extra);
    await source.ping();
    expect(health.get('tpl')?.status).toBe('UP');

    write('inventory-2026-11-25.csv', bigger);
    await source.ping();

    expect((await source.fetch('stock', ['A1', 'C3'])).map((r) => [r.code, r.onHand, r.snapshotFallback])).toEqual([['A1', 10, true]]);
    expect(rejected).toEqual([{ source: 'tpl', file: join(dir, 'inventory-2026-11-25.csv'), line: null, limit, reason: expect.stringMatching(reason) }]);
    expect(c.state()).toMatchObject({ file: join(dir, 'inventory-2026-11-24.csv'), fallback: true });
    expect(health.get('tpl')).toMatchObject({ status: 'DEGRADED', problem: expect.stringMatching(new RegExp(`inventory-2026-11-25\\.csv.*${limit}`)) });

    // a newer file within the limit ends it
    write('inventory-2026-11-26.csv', good);
    await source.ping();
    expect(health.get('tpl')).toMatchObject({ status: 'UP', problem: null });
  });

  it('fails with the limit when the only file is over it', async () => {
    write('inventory-2026-11-25.csv', bigger);
    const { c } = connector({ maxRows: 3 });
    await expect(c.fetch('stock', ['A1'])).rejects.toThrow(/no usable file .*inventory-2026-11-25\.csv: more than 3 rows \(maxRows\)/);
  });
});

describe('helpers', () => {
  it('reads dates in file names', () => {
    expect(dateInName('inventory-2026-11-25.csv')?.toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(dateInName('stock_20261125T0630.csv')?.toISOString()).toBe('2026-11-25T06:30:00.000Z');
    expect(dateInName('inv-2026-02-30.csv')).toBeNull();
    expect(dateInName('inventory-latest.csv')).toBeNull();
    expect(dateInName('batch-123456789.csv')).toBeNull();
  });

  it('matches wildcards in the file name only, everything else literally', () => {
    expect(globToRegExp('inventory-*.csv').test('inventory-2026-11-25.csv')).toBe(true);
    expect(globToRegExp('inventory-*.csv').test('inventory-2026-11-25.csvx')).toBe(false);
    expect(globToRegExp('inv?.csv').test('inv1.csv')).toBe(true);
    expect(globToRegExp('a.b(c).csv').test('axb(c).csv')).toBe(false);
    expect(csvSourceSchema.safeParse({ kind: 'csv', path: '/data/*/inv.csv', stock: { columns: COLUMNS } }).success).toBe(false);
  });
});
