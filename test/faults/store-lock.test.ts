/**
 * The gateway's SQLite store locked by another writer (a second better-sqlite3 connection in a
 * write transaction, as a reconcile job or an admin's sqlite3 shell would hold it), over real
 * HTTP: requests that find anomalies answer with their data and /healthz answers while the lock
 * is held, the anomalies wait in the write queue and are all written once the lock is gone; an
 * analyst's mutation fails at once with STORE_BUSY; a full queue drops the newest anomalies,
 * counts them in /metrics and says so in one log line. Nothing here measures time: answers are
 * counted while the lock is still held, and the lock is released only after they arrived.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const AVAILABILITY = 'query A($skus: [ID!]!) { availability(skus: $skus) { sku flags } }';
const NEGATIVES =
  'query N($skus: [ID!]) { anomalies(filter: { statuses: [OPEN], kinds: [NEGATIVE_ON_HAND], skus: $skus }, first: 1000) { nodes { id kind sku occurrences } } }';
const ACK = 'mutation A($id: ID!) { acknowledgeAnomaly(id: $id, note: "on it") { id status } }';

interface Listed {
  id: string;
  kind: string;
  sku: string;
  occurrences: number;
}

/** A second connection on the store's file, holding its write lock until `release`. */
function lockStore(file: string) {
  const conn = new Database(file);
  conn.exec('BEGIN IMMEDIATE');
  return {
    get held() {
      return conn.inTransaction;
    },
    release() {
      conn.exec('COMMIT');
      conn.close();
    },
  };
}

/** The NEGATIVE_ON_HAND anomalies of `skus` in the store, read over the API. */
async function negativesOf(demo: DemoApp, skus: readonly string[]): Promise<Listed[]> {
  const r = await demo.gql<{ anomalies: { nodes: Listed[] } }>(NEGATIVES, { skus });
  expect(r.body.errors).toBeUndefined();
  return r.body.data!.anomalies.nodes;
}

/** The value of one sample of /metrics (0 when absent). */
async function sample(demo: DemoApp, series: string): Promise<number> {
  const text = await (await fetch(`${new URL(demo.url).origin}/metrics`, { headers: { 'x-api-key': demo.keys.analyst } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('a store locked by another writer', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 400 });
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('answers requests that find anomalies and /healthz while it is held, and writes every anomaly once it is released', async () => {
    const skus = demo.facts.negativeWms;
    expect(skus.length).toBeGreaterThanOrEqual(3);
    const lock = lockStore(demo.app.config.store.connection);
    try {
      // each SKU asked twice: 2 × N requests, N anomalies
      const answers = Promise.all(
        [...skus, ...skus].map((sku) => demo.gql<{ availability: { sku: string; flags: string[] }[] }>(AVAILABILITY, { skus: [sku] })),
      );
      const health = Promise.all(Array.from({ length: 10 }, () => fetch(`${new URL(demo.url).origin}/healthz`).then((r) => r.status)));
      const [answered, healthy] = await Promise.all([answers, health]);
      expect(lock.held).toBe(true);
      expect(healthy).toEqual(Array(10).fill(200));
      for (const r of answered) {
        expect(r.body.errors).toBeUndefined();
        expect(r.body.data!.availability[0]!.flags).toContain('NEGATIVE_ON_HAND');
      }
      expect(await negativesOf(demo, skus)).toEqual([]);
    } finally {
      lock.release();
    }
    await expect.poll(async () => (await negativesOf(demo, skus)).map((a) => a.sku).sort(), { timeout: 10_000, interval: 100 }).toEqual([...skus].sort());
    // a repeat waiting in the queue merged with the first sighting, as a repeat within a minute does
    expect((await negativesOf(demo, skus)).map((a) => a.occurrences)).toEqual(skus.map(() => 1));
    expect(await sample(demo, 'inventory_graph_anomaly_writes_dropped_total{reason="queue_full"}')).toBe(0);
    expect(await sample(demo, 'inventory_graph_anomaly_writes_queued')).toBe(0);
  }, 120_000);

  it('refuses an analyst’s mutation at once with STORE_BUSY while it is held, and takes it afterwards', async () => {
    await demo.app.store.anomalies.record([
      { kind: 'UNMAPPED_LOCATION', sku: null, location: 'LOCKED', source: 'wms', detail: 'for the workflow under a lock' },
    ]);
    const { id } = (await demo.app.store.anomalies.list({ statuses: ['OPEN'] })).anomalies.find((a) => a.location === 'LOCKED')!;
    const lock = lockStore(demo.app.config.store.connection);
    let refused;
    try {
      refused = await demo.gql(ACK, { id });
      expect(lock.held).toBe(true);
    } finally {
      lock.release();
    }
    expect(refused.body.errors).toEqual([
      expect.objectContaining({
        message: 'The gateway’s store is busy (locked by another writer); nothing was changed. Try again shortly.',
        extensions: { code: 'STORE_BUSY' },
      }),
    ]);
    expect(refused.body.data).toEqual({ acknowledgeAnomaly: null });
    const taken = await demo.gql(ACK, { id });
    expect(taken.body).toEqual({ data: { acknowledgeAnomaly: { id, status: 'ACKNOWLEDGED' } } });
  }, 60_000);

  it('never busy-waits: the store connection gives up on a lock at once', async () => {
    expect(await demo.app.store.db.raw('pragma busy_timeout')).toEqual([{ timeout: 0 }]);
  });
});

describe('a full anomaly write queue', () => {
  let demo: DemoApp;
  const lines: string[] = [];
  beforeAll(async () => {
    demo = await startDemoApp({ skus: 400, editConfig: (y) => `${y}\nanomalies:\n  writeQueueSize: 2\n`, log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('drops the newest, counts them in /metrics, logs one line, and keeps the oldest in order', async () => {
    const skus = demo.facts.negativeWms.slice(0, 4);
    expect(skus).toHaveLength(4);
    const lock = lockStore(demo.app.config.store.connection);
    try {
      // one request finds 4 anomalies, in the order of its SKUs: 2 fit
      const r = await demo.gql<{ availability: { sku: string; flags: string[] }[] }>(AVAILABILITY, { skus });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.availability.map((a) => a.flags.includes('NEGATIVE_ON_HAND'))).toEqual([true, true, true, true]);
      expect(lock.held).toBe(true);
      expect(await sample(demo, 'inventory_graph_anomaly_writes_dropped_total{reason="queue_full"}')).toBe(2);
      expect(await sample(demo, 'inventory_graph_anomaly_writes_queued')).toBe(2);
      // the writer tried, was refused at once, and waits to try again
      const busy = () => lines.filter((l) => l.includes('"msg":"anomaly store busy (locked by another writer); anomalies wait in the queue"'));
      await expect.poll(() => busy().length, { timeout: 10_000, interval: 50 }).toBe(1);
      expect(lock.held).toBe(true);
    } finally {
      lock.release();
    }
    const full = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'anomaly write queue full; dropped the newest');
    expect(full).toEqual([expect.objectContaining({ level: 'warn', queueSize: 2, dropped: 1 })]);

    await expect.poll(async () => (await negativesOf(demo, skus)).length, { timeout: 10_000, interval: 100 }).toBe(2);
    const kept = await negativesOf(demo, skus);
    // newest first in the list: written in the order they were seen
    expect(kept.map((a) => a.sku)).toEqual([skus[1], skus[0]]);
    expect(Number(kept[0]!.id)).toBeGreaterThan(Number(kept[1]!.id));

    // a dropped anomaly is offered again by the next read that meets it
    await demo.gql(AVAILABILITY, { skus: [skus[2]] });
    await expect.poll(async () => (await negativesOf(demo, skus)).length, { timeout: 10_000, interval: 100 }).toBe(3);
  }, 60_000);
});
