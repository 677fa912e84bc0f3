/**
 * The gateway's own store (migrations, SKU map, anomalies) on every backend it supports: one
 * suite looped over SQLite and MariaDB, a fresh database per test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { openStore, type CanonicalSku, type NewAnomaly, type Store } from '../src/store/index.js';
import { createAnomalyStore } from '../src/store/anomaly-store.js';
import { migrationSource } from '../src/store/migrations.js';
import { BACKENDS, type TestDatabase } from './helpers/databases.js';

/** Two systems, two ERP codes for SKU-001, an unnamed SKU and one without codes. */
const CATALOGUE: CanonicalSku[] = [
  {
    sku: 'SKU-001',
    name: 'Widget',
    aliases: [
      { system: 'wms', code: 'W-1' },
      { system: 'erp', code: '100-A' },
      { system: 'erp', code: '100-B' },
    ],
  },
  { sku: 'SKU-002', name: null, aliases: [{ system: 'wms', code: 'W-2' }] },
  { sku: 'SKU-003', name: 'Gadget', aliases: [] },
  { sku: 'SKU-004', name: 'Sprocket', aliases: [{ system: 'shop', code: 'sprocket' }] },
  { sku: 'SKU-005', name: 'Flange', aliases: [{ system: 'erp', code: '500' }] },
];

/** `n` SKUs with four codes each: one per system and a second ERP code. */
function bigCatalogue(n: number): CanonicalSku[] {
  return Array.from({ length: n }, (_, i) => {
    const id = String(i).padStart(5, '0');
    return {
      sku: `BIG-${id}`,
      name: `Item ${id}`,
      aliases: [
        { system: 'wms', code: `W${id}` },
        { system: 'erp', code: `E${id}` },
        { system: 'erp', code: `E${id}-OLD` },
        { system: 'shop', code: `shop-${id}` },
      ],
    };
  });
}

const NEGATIVE: NewAnomaly = { kind: 'NEGATIVE_ON_HAND', sku: 'SKU-001', location: 'DC-EAST', source: 'wms', detail: 'onHand -3' };

for (const backend of BACKENDS) {
  describe(`store on ${backend.name}`, () => {
    let t: TestDatabase;
    let store: Store;
    const options = () => ({ client: backend.client, connection: t.connection });

    beforeEach(async () => {
      t = await backend.create();
      store = await openStore(options());
    });

    afterEach(async () => {
      await store?.close();
      await t?.cleanup();
    });

    describe('migrations', () => {
      it('create the tables on a fresh database', async () => {
        for (const table of ['skus', 'sku_aliases', 'anomalies']) expect(await store.db.schema.hasTable(table)).toBe(true);
        await expect(store.ping()).resolves.toBeUndefined();
        expect(await store.skus.count()).toBe(0);
      });

      it('are idempotent: opening the same database again runs nothing and keeps the data', async () => {
        await store.skus.import(CATALOGUE);
        const applied = await store.db('knex_migrations').count({ n: '*' }).first();

        const again = await openStore(options());
        try {
          expect(await again.db('knex_migrations').count({ n: '*' }).first()).toEqual(applied);
          expect(Number(applied?.n)).toBe((await migrationSource.getMigrations([])).length);
          expect(await again.skus.count()).toBe(CATALOGUE.length);
        } finally {
          await again.close();
        }
        // and once more after everything was closed
        await store.close();
        store = await openStore(options());
        expect(await store.skus.resolve('erp', '100-B')).toBe('SKU-001');
      });
    });

    describe('SKU map', () => {
      it('finds imported SKUs with their aliases; unknown SKUs are absent', async () => {
        expect(await store.skus.import(CATALOGUE)).toEqual({ skus: 5, newSkus: 5, aliases: 6, added: 6, moved: 0, unchanged: 0, removed: 0 });

        const found = await store.skus.findMany(['SKU-001', 'SKU-002', 'SKU-003', 'NOPE']);

        expect([...found.keys()].sort()).toEqual(['SKU-001', 'SKU-002', 'SKU-003']);
        expect(found.get('SKU-001')).toEqual({
          sku: 'SKU-001',
          name: 'Widget',
          aliases: [
            { system: 'erp', code: '100-A' },
            { system: 'erp', code: '100-B' },
            { system: 'wms', code: 'W-1' },
          ],
        });
        expect(found.get('SKU-002')).toEqual({ sku: 'SKU-002', name: null, aliases: [{ system: 'wms', code: 'W-2' }] });
        expect(found.get('SKU-003')).toEqual({ sku: 'SKU-003', name: 'Gadget', aliases: [] });
        expect((await store.skus.findMany([])).size).toBe(0);
      });

      it('resolves a (system, code) pair, and null for a code it does not know', async () => {
        await store.skus.import(CATALOGUE);

        expect(await store.skus.resolve('erp', '100-A')).toBe('SKU-001');
        expect(await store.skus.resolve('erp', '100-B')).toBe('SKU-001');
        expect(await store.skus.resolve('wms', 'W-2')).toBe('SKU-002');
        expect(await store.skus.resolve('erp', 'W-1')).toBeNull(); // W-1 is a WMS code
        expect(await store.skus.resolve('erp', 'nope')).toBeNull();
        expect(await store.skus.resolve('nope', '100-A')).toBeNull();
      });

      // MariaDB's default collations are case-insensitive and PAD SPACE: the store's own
      // tables must compare exactly, as SQLite does
      it('matches SKUs and codes exactly (case and trailing spaces count)', async () => {
        await store.skus.import(CATALOGUE);

        expect(await store.skus.resolve('wms', 'w-1')).toBeNull();
        expect(await store.skus.resolve('wms', 'W-1 ')).toBeNull();
        await store.skus.import([{ sku: 'sku-001', name: 'lower case', aliases: [] }]);
        expect(await store.skus.count()).toBe(CATALOGUE.length + 1);
        expect((await store.skus.findMany(['SKU-001'])).get('SKU-001')?.name).toBe('Widget');
      });

      it('counts the catalogue', async () => {
        expect(await store.skus.count()).toBe(0);
        await store.skus.import(CATALOGUE);
        expect(await store.skus.count()).toBe(5);
      });

      it('pages through the catalogue in SKU order, hasNextPage false exactly at the end', async () => {
        await store.skus.import(CATALOGUE);
        const skus = async (first: number, after: string | null) => {
          const p = await store.skus.page(first, after);
          return { skus: p.skus.map((s) => s.sku), hasNextPage: p.hasNextPage };
        };

        expect(await skus(2, null)).toEqual({ skus: ['SKU-001', 'SKU-002'], hasNextPage: true });
        expect(await skus(2, 'SKU-002')).toEqual({ skus: ['SKU-003', 'SKU-004'], hasNextPage: true });
        expect(await skus(2, 'SKU-004')).toEqual({ skus: ['SKU-005'], hasNextPage: false });
        expect(await skus(2, 'SKU-005')).toEqual({ skus: [], hasNextPage: false });
        expect(await skus(4, null)).toEqual({ skus: ['SKU-001', 'SKU-002', 'SKU-003', 'SKU-004'], hasNextPage: true });
        expect(await skus(5, null)).toEqual({ skus: CATALOGUE.map((c) => c.sku), hasNextPage: false });
        expect(await skus(3, 'SKU-002')).toEqual({ skus: ['SKU-003', 'SKU-004', 'SKU-005'], hasNextPage: false });
        // a page carries the SKUs' names and aliases, not only their ids
        expect((await store.skus.page(1, null)).skus[0]?.aliases).toHaveLength(3);
      });

      it('walks a whole catalogue page by page, each SKU once', async () => {
        await store.skus.import(CATALOGUE);
        const seen: string[] = [];
        let after: string | null = null;
        for (let pages = 0; pages < 10; pages++) {
          const p = await store.skus.page(2, after);
          seen.push(...p.skus.map((s) => s.sku));
          if (!p.hasNextPage) break;
          after = p.skus.at(-1)?.sku ?? null;
        }
        expect(seen).toEqual(CATALOGUE.map((c) => c.sku));
      });

      it('re-import moves a (system, code) to its new SKU and updates names', async () => {
        await store.skus.import(CATALOGUE);

        await store.skus.import([
          { sku: 'SKU-003', name: 'Gadget v2', aliases: [{ system: 'erp', code: '100-B' }] },
          // an entry without a name adds codes but leaves the stored name alone
          { sku: 'SKU-001', name: null, aliases: [{ system: 'shop', code: 'widget' }] },
        ]);

        expect(await store.skus.resolve('erp', '100-B')).toBe('SKU-003');
        const found = await store.skus.findMany(['SKU-001', 'SKU-003']);
        expect(found.get('SKU-001')).toEqual({
          sku: 'SKU-001',
          name: 'Widget',
          aliases: [
            { system: 'erp', code: '100-A' },
            { system: 'shop', code: 'widget' },
            { system: 'wms', code: 'W-1' },
          ],
        });
        expect(found.get('SKU-003')).toEqual({ sku: 'SKU-003', name: 'Gadget v2', aliases: [{ system: 'erp', code: '100-B' }] });
        expect(await store.skus.count()).toBe(5);
      });

      it('imports all or nothing: a failure in a later chunk leaves the map as it was', async () => {
        await store.skus.import(CATALOGUE);
        // 450 aliases are two insert chunks (400 rows each); the bad one is in the second
        const entries = bigCatalogue(450).map((e) => ({ ...e, aliases: e.aliases.slice(0, 1) }));
        const bad = entries[449];
        if (bad === undefined) throw new Error('fixture too short');
        bad.aliases = [{ system: 'wms', code: null as unknown as string }];
        entries.push({ sku: 'SKU-001', name: 'Renamed', aliases: [{ system: 'erp', code: '500' }] });

        // SQLite: "NOT NULL constraint failed", MariaDB: "Column 'code' cannot be null"
        await expect(store.skus.import(entries)).rejects.toThrow(/null/i);

        expect(await store.skus.count()).toBe(CATALOGUE.length);
        expect((await store.skus.findMany(['BIG-00000', 'BIG-00449'])).size).toBe(0);
        expect(await store.skus.resolve('wms', 'W00000')).toBeNull();
        expect(await store.skus.resolve('erp', '500')).toBe('SKU-005');
        expect((await store.skus.findMany(['SKU-001'])).get('SKU-001')?.name).toBe('Widget');
      });

      // SQLite does not enforce VARCHAR lengths; MariaDB (strict mode) does, so an over-long SKU is a real failure there
      if (backend.client === 'mysql2')
        it('rolls back when an over-long SKU fails the second SKU chunk', async () => {
          await store.skus.import(CATALOGUE);
          const entries = bigCatalogue(450);
          const bad = entries[449];
          if (bad === undefined) throw new Error('fixture too short');
          bad.sku = 'X'.repeat(192);

          await expect(store.skus.import(entries)).rejects.toThrow(/too long/i);

          expect(await store.skus.count()).toBe(CATALOGUE.length);
          expect(await store.skus.resolve('wms', 'W00000')).toBeNull();
        });

      it('imports 2,500 SKUs with 4 codes each, and again (every row an update)', async () => {
        const entries = bigCatalogue(2_500);

        expect(await store.skus.import(entries)).toEqual({ skus: 2_500, newSkus: 2_500, aliases: 10_000, added: 10_000, moved: 0, unchanged: 0, removed: 0 });
        // the second time every alias is already there: nothing added, nothing moved
        expect(await store.skus.import(entries)).toEqual({ skus: 2_500, newSkus: 0, aliases: 10_000, added: 0, moved: 0, unchanged: 10_000, removed: 0 });

        expect(await store.skus.count()).toBe(2_500);
        const found = await store.skus.findMany(entries.map((e) => e.sku));
        expect(found.size).toBe(2_500);
        for (const c of found.values()) expect(c.aliases).toHaveLength(4);
        expect(found.get('BIG-01234')).toEqual({
          sku: 'BIG-01234',
          name: 'Item 01234',
          aliases: [
            { system: 'erp', code: 'E01234' },
            { system: 'erp', code: 'E01234-OLD' },
            { system: 'shop', code: 'shop-01234' },
            { system: 'wms', code: 'W01234' },
          ],
        });
        expect(await store.skus.resolve('erp', 'E02499-OLD')).toBe('BIG-02499');
        const count = await store.db('sku_aliases').count({ n: '*' }).first();
        expect(Number(count?.n)).toBe(10_000);
      }, 30_000);
    });

    describe('anomalies', () => {
      const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);

      it('records an anomaly once while open: one OPEN row, timestamps as Dates', async () => {
        let now = T0;
        const anomalies = createAnomalyStore(store.db, () => now);

        expect(await anomalies.record([NEGATIVE])).toBe(1);
        now += 1_000;
        // seen again within a minute by the same process: not written at all
        expect(await anomalies.record([NEGATIVE, { ...NEGATIVE }])).toBe(0);

        const open = (await anomalies.list({ statuses: ['OPEN'] })).anomalies;
        expect(open).toHaveLength(1);
        const [a] = open;
        expect(a).toMatchObject({ ...NEGATIVE, status: 'OPEN', occurrences: 1 });
        expect(typeof a?.id).toBe('string');
        expect(a?.firstSeen).toBeInstanceOf(Date);
        expect(a?.lastSeen).toBeInstanceOf(Date);
        expect(a?.firstSeen.toISOString()).toBe('2024-05-01T10:00:00.000Z');
        expect(a?.lastSeen.toISOString()).toBe('2024-05-01T10:00:00.000Z');
      });

      it('refreshes the open row when seen again later or by another process', async () => {
        let now = T0;
        const first = createAnomalyStore(store.db, () => now);
        const other = createAnomalyStore(store.db, () => now);

        await first.record([NEGATIVE]);
        now += 61_000;
        expect(await first.record([NEGATIVE])).toBe(1);
        now += 1_000;
        expect(await other.record([NEGATIVE])).toBe(1);

        const open = (await first.list({ statuses: ['OPEN'] })).anomalies;
        expect(open).toHaveLength(1);
        expect(open[0]?.occurrences).toBe(3);
        expect(open[0]?.firstSeen.toISOString()).toBe('2024-05-01T10:00:00.000Z');
        expect(open[0]?.lastSeen.toISOString()).toBe('2024-05-01T10:01:02.000Z');
      });

      it('keeps different anomalies apart, including ones without sku or location', async () => {
        const sourceWide: NewAnomaly = { kind: 'STALE_SOURCE', sku: null, location: null, source: 'erp', detail: 'stale' };
        const otherLocation: NewAnomaly = { ...NEGATIVE, location: 'DC-WEST' };

        expect(await store.anomalies.record([NEGATIVE, sourceWide, otherLocation])).toBe(3);
        expect(await store.anomalies.record([NEGATIVE])).toBe(0);

        const all = (await store.anomalies.list()).anomalies;
        expect(all).toHaveLength(3);
        // newest first
        expect(all.map((a) => Number(a.id))).toEqual([...all.map((a) => Number(a.id))].sort((x, y) => y - x));
        expect(all.find((a) => a.kind === 'STALE_SOURCE')).toMatchObject({ ...sourceWide, status: 'OPEN', occurrences: 1 });
        for (const a of all) {
          expect(a.firstSeen).toBeInstanceOf(Date);
          expect(Math.abs(a.lastSeen.getTime() - Date.now())).toBeLessThan(60_000);
        }
        expect((await store.anomalies.list({ statuses: ['OPEN'] })).totalCount).toBe(3);
        expect(await store.anomalies.list({ statuses: ['RESOLVED'] })).toEqual({ anomalies: [], totalCount: 0, hasNextPage: false, endCursor: null });
        const two = await store.anomalies.list({}, 2);
        expect(two).toMatchObject({ totalCount: 3, hasNextPage: true, endCursor: two.anomalies[1]!.id });
        expect(two.anomalies).toEqual(all.slice(0, 2));
        expect((await store.anomalies.list({}, 2, two.endCursor)).anomalies).toEqual(all.slice(2));
      });

      it('list: narrows by every filter list, pages by id in two statements, and leaves out kinds it does not know', async () => {
        const unmapped: NewAnomaly = {
          kind: 'UNMAPPED_LOCATION',
          sku: null,
          location: 'DC-EAST',
          source: 'tpl',
          detail: 'a source code that looks like an id',
        };
        const orphan: NewAnomaly = { kind: 'ORPHAN_CODE', sku: null, location: null, source: 'tpl', code: 'X1', detail: 'orphan' };
        await store.anomalies.record([NEGATIVE, { ...NEGATIVE, sku: 'SKU-002', source: 'erp' }, unmapped, orphan]);
        // a row a newer version wrote, of a kind this one does not know: never listed, never counted
        const t = new Date(T0);
        await store
          .db('anomalies')
          .insert({ ...orphan, kind: 'FROM_THE_FUTURE', open_key: 'future', status: 'OPEN', first_seen: t, last_seen: t, occurrences: 1 });
        const future = (await store.db('anomalies').where({ kind: 'FROM_THE_FUTURE' }).first()) as { id: number };
        expect(await store.anomalies.get(String(future.id))).toBeNull();
        await expect(store.anomalies.acknowledge(String(future.id), null, 'ops')).rejects.toMatchObject({ reason: 'UNKNOWN_ANOMALY' });

        const all = await store.anomalies.list({}, 10);
        expect(all.totalCount).toBe(4);
        expect(all.anomalies.map((a) => a.kind)).toEqual(['ORPHAN_CODE', 'UNMAPPED_LOCATION', 'NEGATIVE_ON_HAND', 'NEGATIVE_ON_HAND']);
        const skus = async (f: Parameters<typeof store.anomalies.list>[0]) =>
          (await store.anomalies.list(f)).anomalies.map((a) => a.sku ?? a.code ?? a.location);
        expect(await skus({ kinds: ['NEGATIVE_ON_HAND'], sources: ['erp'] })).toEqual(['SKU-002']);
        expect(await skus({ skus: ['SKU-001', 'SKU-002'], statuses: ['OPEN'] })).toEqual(['SKU-002', 'SKU-001']);
        expect(await skus({ sources: ['tpl'] })).toEqual(['X1', 'DC-EAST']);
        // a canonical location id: the UNMAPPED_LOCATION row's `location` is the source's own code, not that id
        expect(await skus({ locations: ['DC-EAST'] })).toEqual(['SKU-002', 'SKU-001']);
        expect(await skus({ kinds: [], skus: null, locations: [] })).toHaveLength(4);
        expect(await store.anomalies.list({ statuses: ['ACKNOWLEDGED'] })).toEqual({ anomalies: [], totalCount: 0, hasNextPage: false, endCursor: null });

        const spy = backend.spyOnStatements();
        let page;
        try {
          page = await store.anomalies.list({ kinds: ['NEGATIVE_ON_HAND', 'ORPHAN_CODE'] }, 2, all.anomalies[0]!.id);
        } finally {
          spy.restore();
        }
        expect(spy.sql.filter((q) => /anomalies/.test(q))).toHaveLength(2);
        expect(page).toEqual({ anomalies: all.anomalies.slice(2, 4), totalCount: 3, hasNextPage: false, endCursor: all.anomalies[3]!.id });
      });

      it('enqueue: written in the background in the order seen, a repeat merged, each with the time it was seen', async () => {
        let now = T0;
        const anomalies = createAnomalyStore(store.db, () => now);
        const other: NewAnomaly = { ...NEGATIVE, sku: 'SKU-002' };
        await anomalies.record([NEGATIVE]);
        now += 61_000;
        expect(anomalies.enqueue([other, NEGATIVE])).toBeUndefined();
        now += 1_000;
        anomalies.enqueue([other]);
        expect(anomalies.writeStats()).toEqual({ queued: 2, dropped: { queueFull: 0, writeFailed: 0 } });
        expect(await anomalies.flush()).toBe(0);

        const [second, first] = (await anomalies.list({ statuses: ['OPEN'] })).anomalies;
        expect(first).toMatchObject({ sku: 'SKU-001', occurrences: 2 });
        expect(first?.lastSeen.toISOString()).toBe('2024-05-01T10:01:01.000Z');
        expect(second).toMatchObject({ sku: 'SKU-002', occurrences: 1 });
        expect([second?.firstSeen.toISOString(), second?.lastSeen.toISOString()]).toEqual(['2024-05-01T10:01:01.000Z', '2024-05-01T10:01:02.000Z']);
      });

      it('gives up a batch the store refuses after a few attempts, counts and logs it, and goes on', async () => {
        const lines: string[] = [];
        // the clock stands still: the failure lines are spaced by it, not by how fast retries come
        const anomalies = createAnomalyStore(store.db, () => T0, { logger: createLogger('warn', (l) => lines.push(l)) });
        await store.db.schema.renameTable('anomalies', 'anomalies_away');
        anomalies.enqueue([NEGATIVE]);
        expect(await anomalies.flush(30_000)).toBe(0);
        expect(anomalies.writeStats()).toEqual({ queued: 0, dropped: { queueFull: 0, writeFailed: 1 } });
        const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string; anomalies?: number; attempts?: number });
        expect(logged.at(-1)).toMatchObject({ level: 'error', msg: 'could not write anomalies; gave them up', anomalies: 1, attempts: 5 });
        // the first failure is logged, the retries within 10 s of it are not
        expect(logged.filter((l) => l.msg === 'could not write anomalies; retrying')).toHaveLength(1);

        await store.db.schema.renameTable('anomalies_away', 'anomalies');
        anomalies.enqueue([{ ...NEGATIVE, sku: 'SKU-002' }]);
        expect(await anomalies.flush()).toBe(0);
        expect((await anomalies.list({ statuses: ['OPEN'] })).anomalies.map((a) => a.sku)).toEqual(['SKU-002']);
      }, 60_000);
    });
  });
}
