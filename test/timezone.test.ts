/**
 * A source's `timezone` on real systems: DATETIME values (MariaDB DATETIME, SQLite text) and a
 * file's asOf values and name date carry no zone; with `timezone: Europe/Berlin` they are read as
 * Berlin wall-clock time (summer +02:00, winter +01:00), stock and movements alike, live reads
 * and whole-source scans (what a mirror loads) alike. Without it they stay UTC, as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvSourceSchema, sqlSourceSchema } from '../src/config/schema.js';
import type { MovementRecord, StockRecord } from '../src/domain/records.js';
import { createCsvConnector } from '../src/sources/csv.js';
import { createSqlConnector } from '../src/sources/sql.js';
import { BACKENDS, type TestDatabase } from './helpers/databases.js';

const asOfs = (records: readonly (StockRecord | MovementRecord)[]) => Object.fromEntries(records.map((r) => [`${r.code}@${r.location}`, r.asOf.toISOString()]));

for (const backend of BACKENDS) {
  describe(`${backend.name}: ${backend.types.datetime} asOf columns`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await backend.create();
      await t.exec(`create table bins (item varchar(20), wh varchar(10), qty integer, picked integer, updated_at ${backend.types.datetime})`);
      await t.db('bins').insert([
        { item: 'S-1', wh: 'E', qty: 10, picked: 2, updated_at: '2026-07-01 12:00:00' },
        { item: 'S-2', wh: 'E', qty: 20, picked: 3, updated_at: '2026-01-15 12:00:00' },
        // the hour Berlin's clocks go back: the earlier of the two instants
        { item: 'S-3', wh: 'E', qty: 30, picked: 4, updated_at: '2026-10-25 02:30:00' },
      ]);
    });
    afterAll(() => t?.cleanup());

    const source = (timezone?: string) =>
      createSqlConnector(
        'wms',
        sqlSourceSchema.parse({
          kind: 'sql',
          client: backend.client,
          connection: t.connection,
          ...(timezone === undefined ? {} : { timezone }),
          stock: { table: 'bins', columns: { sku: 'item', location: 'wh', onHand: 'qty', asOf: 'updated_at' } },
          movements: { kind: 'pickedNotInvoiced', table: 'bins', columns: { sku: 'item', location: 'wh', quantity: 'picked', asOf: 'updated_at' } },
        }),
      );
    const berlin = { 'S-1@E': '2026-07-01T10:00:00.000Z', 'S-2@E': '2026-01-15T11:00:00.000Z', 'S-3@E': '2026-10-25T00:30:00.000Z' };

    it('timezone: Europe/Berlin reads them as Berlin wall-clock time, stock and movements', async () => {
      const c = source('Europe/Berlin');
      try {
        expect(asOfs(await c.fetch('stock', ['S-1', 'S-2', 'S-3']))).toEqual(berlin);
        expect(asOfs(await c.fetch('movements', ['S-1', 'S-2', 'S-3']))).toEqual(berlin);
        // a whole-source scan, as a mirror loads it, reads them the same way
        const scanned: StockRecord[] = [];
        await c.scan('stock', (batch) => void scanned.push(...batch));
        expect(asOfs(scanned)).toEqual(berlin);
      } finally {
        await c.close();
      }
    });

    it('without a timezone they are UTC, as before', async () => {
      const c = source();
      try {
        expect(asOfs(await c.fetch('stock', ['S-1', 'S-2', 'S-3']))).toEqual({
          'S-1@E': '2026-07-01T12:00:00.000Z',
          'S-2@E': '2026-01-15T12:00:00.000Z',
          'S-3@E': '2026-10-25T02:30:00.000Z',
        });
      } finally {
        await c.close();
      }
    });
  });
}

describe('a file source', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ig-tz-'));
    writeFileSync(
      join(dir, 'inventory-2026-07-01.csv'),
      'sku,site,qty,moving,at\nS-1,W01,5,1,2026-07-01 06:00:00\nS-2,W01,6,2,\nS-3,W01,7,3,2026-07-01T06:00:00+00:00\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const source = (timezone?: string) =>
    createCsvConnector(
      'tpl',
      csvSourceSchema.parse({
        kind: 'csv',
        path: join(dir, 'inventory-*.csv'),
        ...(timezone === undefined ? {} : { timezone }),
        stock: { columns: { sku: 'sku', location: 'site', onHand: 'qty', asOf: 'at' } },
        movements: { kind: 'inTransit', columns: { sku: 'sku', location: 'site', quantity: 'moving', asOf: 'at' } },
      }),
    );

  it('reads asOf values and the date in its name as wall-clock time in its timezone; an offset keeps its own', async () => {
    const c = source('Europe/Berlin');
    const want = {
      'S-1@W01': '2026-07-01T04:00:00.000Z',
      // no asOf on the row: the date in the file name, midnight in Berlin
      'S-2@W01': '2026-06-30T22:00:00.000Z',
      'S-3@W01': '2026-07-01T06:00:00.000Z',
    };
    expect(asOfs(await c.fetch('stock', ['S-1', 'S-2', 'S-3']))).toEqual(want);
    expect(asOfs(await c.fetch('movements', ['S-1', 'S-2', 'S-3']))).toEqual(want);
    await c.close();
  });

  it('without a timezone, UTC as before', async () => {
    const c = source();
    expect(asOfs(await c.fetch('stock', ['S-1', 'S-2', 'S-3']))).toEqual({
      'S-1@W01': '2026-07-01T06:00:00.000Z',
      'S-2@W01': '2026-07-01T00:00:00.000Z',
      'S-3@W01': '2026-07-01T06:00:00.000Z',
    });
    await c.close();
  });
});
