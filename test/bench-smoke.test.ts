/**
 * The benchmark harness end to end in its smoke mode: 1k SKUs on SQLite, the floor, the
 * in-memory limit and the gateway as child processes, every scenario at 1 and 8 connections
 * for 0.4 s, their answers compared with the floor's. Only
 * that it produced numbers without errors is asserted: timings are never asserted in tests
 * (bench/RESULTS.md records them, by hand or `npm run bench`).
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../bench/run.js';
import { SCENARIOS } from '../bench/lib/scenarios.js';

describe('npm run bench -- --smoke', () => {
  it('measures every scenario on the floor, the limit and the gateway, without errors', async () => {
    const r = await runBench({ smoke: true, duration: 0.4, warmup: 0, record: false, log: () => {} });
    expect(r.cells).toHaveLength(SCENARIOS.length * 2 * 3);
    expect(r.sameAsFloor.limit).toMatchObject({ differ: 0 });
    expect(r.sameAsFloor.limit?.statementsDiffer).toBeUndefined();
    for (const c of r.cells) {
      expect(c.errors, `${c.target} ${c.scenario} c=${c.connections}: ${c.firstError ?? ''}`).toBe(0);
      expect(c.requests).toBeGreaterThan(0);
      expect(c.rps).toBeGreaterThan(0);
      expect(Number.isFinite(c.p50) && Number.isFinite(c.p99)).toBe(true);
      // source I/O is counted per response, whatever the number of SKUs (no N+1); the limit has none
      if (c.target === 'limit') expect(c.statements).toBe(0);
      else expect(c.statements).toBeGreaterThan(0);
      expect(c.statements).toBeLessThanOrEqual(6);
      expect(c.rssMaxMiB).toBeGreaterThan(0);
    }
    expect(r.markdown).toMatch(/\| availability-500 \| 8 \| gateway \|/);
    expect(r.startup.limit?.seconds).toBeGreaterThan(0);
  }, 120_000);
});
