/**
 * The anomaly workflow, orphan codes and reconciliation runs in the store, on SQLite and MariaDB.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AnomalyTransitionError, createAnomalyStore } from '../../src/store/anomaly-store.js';
import { openStore, type Anomaly, type NewAnomaly, type Store } from '../../src/store/index.js';
import { createReconciliationStore } from '../../src/store/reconciliation-store.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';

const NEGATIVE: NewAnomaly = { kind: 'NEGATIVE_ON_HAND', sku: 'SKU-001', location: 'DC-EAST', source: 'wms', detail: 'onHand -3' };
const orphan = (code: string): NewAnomaly => ({ kind: 'ORPHAN_CODE', sku: null, location: null, source: 'wms', code, detail: `code ${code}` });

for (const backend of BACKENDS) {
  describe(`anomaly workflow and runs on ${backend.name}`, () => {
    let t: TestDatabase;
    let store: Store;
    beforeEach(async () => {
      t = await backend.create();
      store = await openStore({ client: backend.client, connection: t.connection });
    });
    afterEach(async () => {
      await store?.close();
      await t?.cleanup();
    });

    it('acknowledges, resolves, refuses invalid steps, and reopens a resolved anomaly on recurrence', async () => {
      let now = Date.UTC(2026, 0, 1);
      const anomalies = createAnomalyStore(store.db, () => now);
      const opened: Anomaly[][] = [];
      anomalies.onOpened((a) => opened.push(a));

      await anomalies.record([NEGATIVE]);
      const [a] = (await anomalies.list({ statuses: ['OPEN'] })).anomalies;
      expect(opened).toEqual([[expect.objectContaining({ id: a!.id, kind: 'NEGATIVE_ON_HAND', status: 'OPEN' })]]);

      const ack = await anomalies.acknowledge(a!.id, 'looking', 'ops-key', new Date('2026-01-01T01:00:00Z'));
      expect(ack).toMatchObject({
        status: 'ACKNOWLEDGED',
        acknowledgeNote: 'looking',
        acknowledgedBy: 'ops-key',
        acknowledgedAt: new Date('2026-01-01T01:00:00Z'),
      });
      // acknowledged is still open: seen again, the same row counts it, nothing new opens
      now += 120_000;
      await anomalies.record([NEGATIVE]);
      expect((await anomalies.list()).anomalies).toHaveLength(1);
      expect((await anomalies.get(a!.id))?.occurrences).toBe(2);
      expect(opened).toHaveLength(1);

      await expect(anomalies.acknowledge(a!.id, null)).rejects.toMatchObject({ reason: 'INVALID_TRANSITION', status: 'ACKNOWLEDGED' });
      await expect(anomalies.resolve('424242', 'x')).rejects.toBeInstanceOf(AnomalyTransitionError);
      await expect(anomalies.resolve('not-a-number', 'x')).rejects.toMatchObject({ reason: 'UNKNOWN_ANOMALY' });

      const done = await anomalies.resolve(a!.id, 'fixed');
      expect(done).toMatchObject({ status: 'RESOLVED', resolutionNote: 'fixed' });
      await expect(anomalies.resolve(a!.id, 'again')).rejects.toMatchObject({ reason: 'INVALID_TRANSITION', status: 'RESOLVED' });

      // within the minute the process would not write again, but resolving cleared that too
      await anomalies.record([NEGATIVE]);
      const open = (await anomalies.list({ statuses: ['OPEN'] })).anomalies;
      expect(open).toHaveLength(1);
      expect(Number(open[0]!.id)).toBeGreaterThan(Number(a!.id));
      expect(opened).toHaveLength(2);
    });

    it('keeps orphans of one source apart by code, and tells new ones from ones seen again', async () => {
      const opened: string[] = [];
      store.anomalies.onOpened((a) => opened.push(...a.map((x) => x.code ?? '')));
      await store.anomalies.record([orphan('A'), orphan('B')]);
      await createAnomalyStore(store.db).record([orphan('B'), orphan('C')]);
      await store.anomalies.record(Array.from({ length: 450 }, (_, i) => orphan(`X${i}`)));
      expect(opened.slice(0, 2).sort()).toEqual(['A', 'B']);
      expect(opened).toHaveLength(2 + 450);
      const all = (await store.anomalies.list({ statuses: ['OPEN'] }, 1000)).anomalies;
      expect(all).toHaveLength(453);
      expect(all.find((x) => x.code === 'B')?.occurrences).toBe(2);
    });

    it('records reconciliation runs and finds the codes the SKU map knows', async () => {
      const runs = createReconciliationStore(store.db);
      const id = await runs.start({ startedAt: new Date('2026-01-01T00:00:00Z'), tolerance: 2, outDir: '/tmp/x' });
      const counts = {
        skus: 10,
        lines: 50,
        matched: 40,
        explained: 5,
        withinTolerance: 2,
        discrepancies: 3,
        orphans: 1,
        gaps: 1,
        absVariance: 3_000_000_000,
        absExplained: 10,
        absUnexplained: 20,
      };
      await runs.finish(id, { finishedAt: new Date('2026-01-01T00:01:00Z'), status: 'completed', counts });
      expect(await runs.list(5)).toEqual([
        {
          id,
          startedAt: new Date('2026-01-01T00:00:00Z'),
          finishedAt: new Date('2026-01-01T00:01:00Z'),
          status: 'completed',
          tolerance: 2,
          outDir: '/tmp/x',
          error: null,
          ...counts,
        },
      ]);

      await store.skus.import([
        {
          sku: 'SKU-1',
          name: null,
          aliases: [
            { system: 'wms', code: 'W-1' },
            { system: 'erp', code: 'w-1' },
          ],
        },
      ]);
      expect(await runs.knownCodes('wms', ['W-1', 'w-1', 'W-2'], false)).toEqual(new Set(['W-1']));
      expect(await runs.knownCodes('any', ['SKU-1', 'sku-1'], true)).toEqual(new Set(['SKU-1']));
    });
  });
}
