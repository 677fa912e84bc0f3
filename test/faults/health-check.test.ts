/**
 * The background health check on a scripted in-memory connector (as resilience.test.ts): it goes
 * through the breaker (while open it waits for the trial time, then is the trial: an answer closes
 * the breaker), it is bounded by the deadline, it is not a read (read counts do not move), a
 * failed check makes the source DOWN with `downSince` kept through a failed trial and `nextRetryAt`;
 * freshness ignores records refused as INVALID_SOURCE_DATA; the scheduler never overlaps checks
 * of one source; the traffic tracker's counts and p95.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvSourceSchema } from '../../src/config/schema.js';
import { createCsvConnector } from '../../src/sources/csv.js';
import type { Entity, RecordOf, StockRecord } from '../../src/domain/records.js';
import { silentLogger } from '../../src/logger.js';
import type { Connector, ReadOptions } from '../../src/sources/connector.js';
import { SourceHealthRegistry } from '../../src/sources/health.js';
import { asOfRange, withResilience, type ResilienceSettings } from '../../src/sources/resilience.js';
import { createHealthChecks } from '../../src/service/health-checks.js';
import { createTrafficTracker } from '../../src/server/traffic.js';

const SETTINGS: ResilienceSettings = { timeoutMs: 200, breaker: { failureThreshold: 2, resetAfterMs: 300 }, maxConcurrent: 2, maxQueue: 4, retries: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connector whose `check` does what `answer` says now; counts its checks and reads. */
function source() {
  const state = { answer: 'ok' as 'ok' | 'refused' | 'hang', checks: 0, reads: 0, inFlight: 0, overlapped: 0 };
  const c: Connector = {
    name: 'wms',
    kind: 'fake',
    entities: new Set<Entity>(['stock']),
    async fetch<E extends Entity>(): Promise<RecordOf[E][]> {
      state.reads++;
      if (state.answer !== 'ok') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return [];
    },
    async ping() {},
    async check(_o?: ReadOptions) {
      state.checks++;
      state.inFlight++;
      if (state.inFlight > 1) state.overlapped++;
      try {
        if (state.answer === 'hang') await new Promise(() => {});
        if (state.answer === 'refused') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      } finally {
        state.inFlight--;
      }
    },
    async close() {},
  };
  const health = new SourceHealthRegistry();
  const r = withResilience(c, SETTINGS, { health, logger: silentLogger, policy: { maxAgeSeconds: 60, stalePolicy: 'count' } });
  return { state, health, r };
}

describe('the health check of one source', () => {
  it('a refused check makes the source DOWN without a read, counts nothing as a read, and an answer makes it UP', async () => {
    const { state, health, r } = source();
    state.answer = 'refused';
    expect(await r.healthCheck()).toEqual({ outcome: 'failed' });
    const down = health.get('wms')!;
    expect(down).toMatchObject({ status: 'DOWN', breaker: 'CLOSED', lastError: 'connection refused', lastCheckOk: false, errorCount: 0, successCount: 0 });
    expect(down.downSince).not.toBeNull();
    expect(down.lastCheckAt).not.toBeNull();
    state.answer = 'ok';
    expect(await r.healthCheck()).toEqual({ outcome: 'ok' });
    expect(health.get('wms')).toMatchObject({ status: 'UP', downSince: null, nextRetryAt: null, lastCheckOk: true, errorCount: 0, successCount: 0 });
    expect(state.reads).toBe(0);
  });

  it('opens the breaker like reads; while open it waits for the trial time, then is the trial: an answer closes the breaker', async () => {
    const { state, health, r } = source();
    state.answer = 'refused';
    await r.healthCheck();
    await r.healthCheck();
    const open = health.get('wms')!;
    expect(open).toMatchObject({ status: 'DOWN', breaker: 'OPEN' });
    const since = open.downSince!;
    // the breaker's trial time is ahead: that is the next retry, and a check now asks nothing
    expect(open.nextRetryAt).not.toBeNull();
    const skipped = await r.healthCheck();
    expect(skipped.outcome).toBe('skipped');
    expect(skipped.retryAt?.getTime()).toBe(open.nextRetryAt!.getTime());
    expect(state.checks).toBe(2);

    // a failed trial: still DOWN since the same moment, the breaker open again
    await sleep(SETTINGS.breaker.resetAfterMs + 20);
    expect(await r.healthCheck()).toEqual({ outcome: 'failed' });
    expect(state.checks).toBe(3);
    expect(health.get('wms')).toMatchObject({ status: 'DOWN', breaker: 'OPEN', downSince: since });

    // the source is back: the next check after the trial time closes the breaker, with no read
    state.answer = 'ok';
    await sleep(SETTINGS.breaker.resetAfterMs + 20);
    expect(await r.healthCheck()).toEqual({ outcome: 'ok' });
    expect(health.get('wms')).toMatchObject({ status: 'UP', breaker: 'CLOSED', downSince: null, nextRetryAt: null });
    expect(state.reads).toBe(0);
    // and reads go through at once
    await r.fetch('stock', ['A']);
    expect(state.reads).toBe(1);
  });

  it('is bounded by the deadline: a hung check fails as timed out', async () => {
    const { state, health, r } = source();
    state.answer = 'hang';
    expect(await r.healthCheck()).toEqual({ outcome: 'failed' });
    expect(health.get('wms')).toMatchObject({ status: 'DOWN', lastError: `timed out after ${SETTINGS.timeoutMs} ms` });
  });
});

describe('the check of a file source', () => {
  it('looks at the directory: answers while a snapshot serves (missing files shown as its problem), fails with none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-check-'));
    try {
      const files = join(dir, 'files');
      mkdirSync(files);
      writeFileSync(join(files, 'inventory-2026-11-30.csv'), 'sku,loc,qty\nA,W01,3\n');
      const config = (path: string) =>
        csvSourceSchema.parse({ kind: 'csv', path, checkIntervalMs: 0, stock: { columns: { sku: 'sku', location: 'loc', onHand: 'qty' } } });
      const c = createCsvConnector('tpl', config(join(files, 'inventory-*.csv')));
      await c.check!();
      expect(c.problem!()).toBeNull();
      renameSync(files, join(dir, 'moved'));
      // the last snapshot keeps serving: the source answers, degraded by what is missing
      await c.check!();
      expect(c.problem!()).toMatch(/directory of inventory-\*\.csv is missing/);
      const none = createCsvConnector('tpl', config(join(dir, 'nothing', 'inventory-*.csv')));
      await expect(none.check!()).rejects.toThrow(/is missing/);
      await c.close();
      await none.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the scheduler', () => {
  it('never runs two checks of a source at once, plans the next one, and stops', { timeout: 15_000 }, async () => {
    const { state, health, r } = source();
    state.answer = 'hang';
    const checks = createHealthChecks({ sources: [{ name: 'wms', intervalSeconds: 1, healthCheck: () => r.healthCheck() }], health, logger: silentLogger });
    checks.start();
    expect(health.nextCheckAt('wms')).not.toBeNull();
    // the first hangs: it fails at the deadline, and the next ones do not ask the hung source again
    await expect.poll(() => checks.counts().get('wms')?.skipped ?? 0, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    expect(checks.counts().get('wms')?.failed).toBe(1);
    expect(state.checks).toBe(1);
    expect(state.overlapped).toBe(0);
    await checks.stop();
    expect(health.nextCheckAt('wms')).toBeNull();
    const n = state.checks;
    await sleep(1_200);
    expect(state.checks).toBe(n);
  });
});

describe('the health check scheduler, beside reads', () => {
  it(
    'checks a source only once it has been quiet for an interval: its reads tell its health, and a check would take a slot from them',
    { timeout: 15_000 },
    async () => {
      const { state, health, r } = source();
      const checks = createHealthChecks({ sources: [{ name: 'wms', intervalSeconds: 1, healthCheck: () => r.healthCheck() }], health, logger: silentLogger });
      checks.start();
      // reads every 200 ms for 3 intervals: each planned check finds a read within the interval
      for (let i = 0; i < 15; i++) {
        await r.fetch('stock', ['A']);
        await sleep(200);
      }
      expect(state.checks).toBe(0);
      expect(checks.counts().get('wms')?.skipped ?? 0).toBeGreaterThanOrEqual(2);
      // quiet: the next check asks the source
      await expect.poll(() => state.checks, { timeout: 5_000, interval: 100 }).toBeGreaterThanOrEqual(1);
      expect(checks.counts().get('wms')?.ok).toBeGreaterThanOrEqual(1);
      await checks.stop();
    },
  );
});

describe('freshness', () => {
  it('ignores records refused as INVALID_SOURCE_DATA: unreadable, absurd, or dated in the future', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const rec = (asOf: string, extra: Partial<StockRecord> = {}): StockRecord =>
      ({ code: 'A', location: 'EAST', onHand: 1, committed: 0, asOf: new Date(asOf), ...extra }) as StockRecord;
    const old = rec('2026-12-01T09:00:00Z');
    expect(asOfRange('stock', [old, rec('2026-12-01T14:00:00Z')], now)).toEqual({ newest: old.asOf, oldest: old.asOf });
    expect(asOfRange('stock', [old, rec('2026-12-01T11:59:00Z', { onHand: 2e12 })], now)).toEqual({ newest: old.asOf, oldest: old.asOf });
    expect(asOfRange('stock', [old, rec('2026-12-01T11:59:00Z', { invalid: 'onHand is not a number' })], now)).toEqual({ newest: old.asOf, oldest: old.asOf });
    // within the allowed clock skew it counts
    const skew = rec('2026-12-01T12:04:00Z');
    expect(asOfRange('stock', [old, skew], now)).toEqual({ newest: skew.asOf, oldest: old.asOf });
    expect(asOfRange('stock', [rec('2026-12-01T14:00:00Z')], now)).toBeUndefined();
  });
});

describe('traffic', () => {
  it('counts requests and errors by code over the last minute and since start, with a p95', () => {
    let t = Date.parse('2026-12-01T12:00:00Z');
    const tr = createTrafficTracker(() => t);
    for (let i = 0; i < 19; i++) tr.record(10, []);
    tr.record(1000, [['BAD_USER_INPUT', 1]]);
    let v = tr.view();
    expect(v).toMatchObject({
      requests: 20,
      perSecond: 0.33,
      errorsByCode: { BAD_USER_INPUT: 1 },
      total: { requests: 20, errorsByCode: { BAD_USER_INPUT: 1 } },
    });
    // the 19th of 20 (95 %) took 10 ms: its bucket's bound, at most 25 % over
    expect(v.p95Ms).toBeGreaterThanOrEqual(10);
    expect(v.p95Ms).toBeLessThanOrEqual(12.5);
    t += 61_000;
    tr.record(5, [['SOURCE_UNAVAILABLE', 2]]);
    v = tr.view();
    expect(v).toMatchObject({
      requests: 1,
      errorsByCode: { SOURCE_UNAVAILABLE: 2 },
      total: { requests: 21, errorsByCode: { BAD_USER_INPUT: 1, SOURCE_UNAVAILABLE: 2 } },
    });
    t += 61_000;
    expect(tr.view()).toMatchObject({ requests: 0, p95Ms: null, errorsByCode: {} });
  });
});
