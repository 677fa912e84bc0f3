/** The sweep's pure rules (src/domain/sweep.ts): when a source is stale, how a run ends, what a resolution by `sweep` says. */
import { describe, expect, it } from 'vitest';
import { clearedNote, finishedStatus, staleSource, startedRun } from '../../src/domain/sweep.js';

const at = new Date('2026-12-01T10:00:00.250Z');

describe('staleSource', () => {
  it('is STALE_SOURCE only when the newest usable figure is older than maxAgeSeconds', () => {
    expect(staleSource('wms', new Date(at.getTime() - 121_000), 120, at)).toEqual({
      kind: 'STALE_SOURCE',
      sku: null,
      location: null,
      source: 'wms',
      detail: 'wms has figures older than its maxAgeSeconds (120 s); the newest stale one is as of 2026-12-01T09:57:59.250Z',
    });
    expect(staleSource('wms', new Date(at.getTime() - 120_000), 120, at)).toBeNull();
    // no maxAgeSeconds: never stale; no figure: nothing to judge
    expect(staleSource('wms', new Date(0), undefined, at)).toBeNull();
    expect(staleSource('wms', undefined, 120, at)).toBeNull();
  });
});

describe('a run', () => {
  it('starts with nothing counted, and ends PARTIAL when a source failed', () => {
    expect(startedRun(at)).toEqual({
      startedAt: at,
      finishedAt: null,
      status: 'RUNNING',
      skus: 0,
      codes: 0,
      found: 0,
      resolved: 0,
      statements: 0,
      failures: [],
      error: null,
      byKind: { NEGATIVE_ON_HAND: { found: 0, resolved: 0 }, ORPHAN_CODE: { found: 0, resolved: 0 }, STALE_SOURCE: { found: 0, resolved: 0 } },
      orphansBySource: {},
    });
    expect(finishedStatus([])).toBe('COMPLETED');
    expect(finishedStatus([{ source: 'erp', error: 'timed out after 300 ms' }])).toBe('PARTIAL');
  });
});

describe('clearedNote', () => {
  const a = { sku: 'SKU-1', location: 'DC-EAST', source: 'wms', code: null };
  it('says what the sweep checked, to the second', () => {
    expect(clearedNote({ ...a, kind: 'NEGATIVE_ON_HAND' }, at)).toBe(
      'cleared: the sweep of 2026-12-01T10:00:00Z found no negative on-hand for SKU-1 at DC-EAST from wms',
    );
    expect(clearedNote({ ...a, kind: 'ORPHAN_CODE', sku: null, location: null, code: 'W-9' }, at)).toBe(
      'cleared: the sweep of 2026-12-01T10:00:00Z listed every code of wms: "W-9" is mapped to a canonical SKU now, or gone',
    );
    expect(clearedNote({ ...a, kind: 'STALE_SOURCE', sku: null, location: null }, at)).toBe(
      'cleared: the sweep of 2026-12-01T10:00:00Z found the newest figure of wms within its maxAgeSeconds',
    );
  });
});
