/**
 * A SQLite source whose own system holds a write lock on its file (rollback journal, not WAL):
 * the gateway must not spin on the lock (better-sqlite3 busy-waits on the only thread), so the
 * process keeps answering, and the read is tried again until the lock goes or the deadline
 * comes. Real files, real HTTP; counts and states, never timings.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
beforeAll(async () => {
  // a WMS deadline long enough for the lock to come and go inside one read
  demo = await startDemoApp({ skus: 20, editConfig: (y) => y.replace(/(wms: #[^\n]*\n(?:.*\n){3}) {4}timeoutMs: 2000/, '$1    timeoutMs: 30000') });
});
afterAll(() => demo?.close());

const SKU = 'SKU-000001';
const QUERY = `{ availability(skus: ["${SKU}"]) { sku onHand byLocation { location { id } onHand provenance { source } } } }`;

describe('a SQLite source locked by its own writer', () => {
  it('is waited for off the event loop: /healthz answers while it is held, and the read gets its figures once it goes', async () => {
    expect(demo.app.config.sources.wms).toMatchObject({ timeoutMs: 30_000 });
    const before = await demo.gql(QUERY);
    expect(JSON.stringify(before.body.data)).toContain('"source":"wms"');

    const writer = new Database(join(demo.dir, 'wms.sqlite'));
    writer.pragma('busy_timeout = 0');
    writer.exec('BEGIN EXCLUSIVE');
    let released = false;
    try {
      const answer = demo.gql(QUERY).then((r) => ({ ...r, whileLocked: !released }));
      // the process is free: several health checks answer while the lock is still held
      for (let k = 0; k < 5; k++) {
        const health = await fetch(demo.url.replace('/graphql', '/healthz'));
        expect(health.status).toBe(200);
      }
      expect(demo.app.health.get('wms')?.breaker).toBe('CLOSED');
      writer.exec('COMMIT');
      released = true;
      const r = await answer;
      // answered after the lock went, with the WMS's own figures: no failure, no fallback
      expect(r.whileLocked).toBe(false);
      expect(r.body.errors).toBeUndefined();
      expect(JSON.stringify(r.body.data)).toContain('"source":"wms"');
      expect(r.body.data).toEqual(before.body.data);
    } finally {
      if (!released) writer.exec('ROLLBACK');
      writer.close();
    }
  });
});
