/**
 * Leases in the store (src/service/leases.ts, src/store/lease-store.ts), two instances on one
 * store (two pools on one SQLite file), on a clock the test moves:
 *
 * - one holder at a time; the other takes the lease over only once it expired: a holder that
 *   stopped renewing (crashed: the store no longer hears from it) loses it after `leaseMs` on
 *   its own clock too, so the two never both hold it;
 * - a holder that stops releases: the other takes it at its next try;
 * - the lease store's compare-and-set: renewing keeps it, a stranger cannot take an unexpired lease.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createLeases } from '../../src/service/leases.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { LeaseStore } from '../../src/store/lease-store.js';
import { eventually } from '../feeds/feed-helpers.js';

let dir: string;
let s1: Store;
let s2: Store;
let t = Date.UTC(2026, 0, 1);
const now = () => t;
const logger = createLogger('silent');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-leases-'));
  const file = join(dir, 'store.sqlite');
  s1 = await openStore({ client: 'better-sqlite3', connection: file });
  s2 = await openStore({ client: 'better-sqlite3', connection: file });
});

afterAll(async () => {
  await s1?.close();
  await s2?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('compare-and-set: the holder renews, nobody else takes an unexpired lease, anybody takes an expired one', async () => {
  expect(await s1.leases.acquire('job', 'a', 2000, t)).toBe(true);
  expect(await s2.leases.acquire('job', 'b', 2000, t + 1)).toBe(false);
  expect(await s1.leases.acquire('job', 'a', 2000, t + 1000)).toBe(true);
  // a's renewal moved the expiry to t + 3000
  expect(await s2.leases.acquire('job', 'b', 2000, t + 2500)).toBe(false);
  expect(await s2.leases.acquire('job', 'b', 2000, t + 3000)).toBe(true);
  expect(await s1.leases.acquire('job', 'a', 2000, t + 3001)).toBe(false);
  await s1.leases.release('job', 'a'); // not a's: nothing changes
  expect((await s1.leases.list()).map((r) => [r.name, r.holder])).toEqual([['job', 'b']]);
  await s2.leases.release('job', 'b');
  expect(await s1.leases.acquire('job', 'a', 2000, t + 3002)).toBe(true);
});

it('a crashed holder is taken over once its lease expired, never before; a stopped one at once', async () => {
  let crashed = false;
  const dying: LeaseStore = {
    ...s1.leases,
    acquire: (...args) => (crashed ? Promise.reject(new Error('crashed')) : s1.leases.acquire(...args)),
  };
  const a = createLeases({ store: dying, instanceId: 'a', leaseMs: 2000, logger, now });
  const b = createLeases({ store: s2.leases, instanceId: 'b', leaseMs: 2000, logger, now });
  const la = a.lease('events-publisher');
  const lb = b.lease('events-publisher');
  await a.start();
  await b.start();
  expect([la.held(), lb.held()]).toEqual([true, false]);
  crashed = true;
  // b keeps trying (every leaseMs / 3) while the clock is short of a's expiry: still a's
  t += 1500;
  await new Promise((r) => setTimeout(r, 1500));
  expect(lb.held()).toBe(false);
  expect((await b.view())[0]).toEqual({ name: 'events-publisher', holder: 'a', mine: false });
  // past it: a knows it lost it (its own clock), b takes it at its next try
  t += 600;
  expect(la.held()).toBe(false);
  await eventually(() => expect(lb.held()).toBe(true));
  expect((await b.view())[0]).toEqual({ name: 'events-publisher', holder: 'b', mine: true });

  // b stops: released, so a (back) takes it at its next try without waiting for the expiry
  crashed = false;
  await b.stop();
  expect(lb.held()).toBe(false);
  await eventually(() => expect(la.held()).toBe(true));
  await a.stop();
});
