/**
 * /status and /status.json over HTTP: who may see them, what they show, and that the page is
 * inert (strict CSP, escaped output). The browser test (test/browser/status.test.ts) looks at
 * the rendered page.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duration, isLocalRequest, renderStatusPage, type StatusData } from '../../src/server/status-page.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

let demo: DemoApp;
let origin: string;

beforeAll(async () => {
  demo = await startDemoApp({
    skus: 200,
    editConfig: (y) => y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite'),
    override: { server: { loopbackStatus: true } },
  });
  origin = new URL(demo.url).origin;
  const r = await demo.gql('{ availability(skus: ["SKU-000001"]) { sku available } }', {}, { 'x-api-key': demo.keys.analyst });
  expect(r.body.errors?.[0]?.extensions?.code).toBe('SOURCE_UNAVAILABLE');
});
afterAll(async () => {
  await demo?.close();
});

/** A GET with any Host header (fetch will not send a foreign one). */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('access to /status, /status.json (and /metrics)', () => {
  it('is open to this host without a key when server.loopbackStatus is on', async () => {
    for (const path of ['/status', '/status.json']) expect((await fetch(`${origin}${path}`)).status, path).toBe(200);
  });

  it('needs an analyst or admin key in a header from anywhere else (a proxy, another host name)', async () => {
    const proxied = { 'x-forwarded-for': '203.0.113.7' };
    const cases: Array<[Record<string, string>, number]> = [
      [proxied, 401],
      [{ forwarded: 'for=203.0.113.7' }, 401],
      [{ via: '1.1 proxy' }, 401],
      [{ ...proxied, 'x-api-key': 'ig_not-a-key' }, 401],
      [{ ...proxied, 'x-api-key': demo.keys.storefront }, 403],
      [{ ...proxied, 'x-api-key': demo.keys.oms }, 403],
      [{ ...proxied, 'x-api-key': demo.keys.analyst }, 200],
      [{ ...proxied, authorization: `Bearer ${demo.keys.admin}` }, 200],
      // a key presented from this host is checked, not ignored
      [{ 'x-api-key': 'ig_not-a-key' }, 401],
      [{ 'x-api-key': demo.keys.storefront }, 403],
    ];
    for (const [headers, status] of cases) {
      for (const path of ['/status', '/status.json', '/metrics']) {
        const res = await fetch(`${origin}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(status);
        if (status === 401) expect(res.headers.get('www-authenticate')).toBe('Bearer');
        if (status !== 200) expect(await res.text()).toMatch(/analyst or admin key/);
      }
    }
  });

  it('refuses a DNS-rebound host name, keys in the URL, and other methods', async () => {
    expect((await rawGet('/status.json', { host: 'evil.example:4000' })).status).toBe(401);
    expect((await rawGet('/status.json', { host: `localhost:${new URL(origin).port}` })).status).toBe(200);
    const inUrl = await fetch(`${origin}/status?api_key=${demo.keys.analyst}`);
    expect(inUrl.status).toBe(400);
    expect(await inUrl.text()).toContain('never accepted in the URL');
    expect((await fetch(`${origin}/status.json?x=1`)).status).toBe(400);
    const post = await fetch(`${origin}/status`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${origin}/status`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('tells loopback requests apart', () => {
    const h = (host: string, extra: Record<string, string> = {}) => ({ host, ...extra });
    expect(isLocalRequest('127.0.0.1', h('127.0.0.1:4000'))).toBe(true);
    expect(isLocalRequest('::1', h('[::1]:4000'))).toBe(true);
    expect(isLocalRequest('::ffff:127.0.0.1', h('localhost'))).toBe(true);
    expect(isLocalRequest('10.0.0.5', h('127.0.0.1:4000'))).toBe(false);
    expect(isLocalRequest('::ffff:10.0.0.5', h('localhost'))).toBe(false);
    expect(isLocalRequest(undefined, h('localhost'))).toBe(false);
    expect(isLocalRequest('127.0.0.1', h('inventory.example.com'))).toBe(false);
    expect(isLocalRequest('127.0.0.1', h('localhost.evil.example'))).toBe(false);
    expect(isLocalRequest('127.0.0.1', h('localhost', { 'x-real-ip': '203.0.113.1' }))).toBe(false);
    expect(isLocalRequest('127.0.0.1', h('localhost', { 'x-forwarded-host': 'a' }))).toBe(false);
  });
});

describe('/status.json', () => {
  it('shows the stopped source down, the others up, freshness against max age, anomalies and runs', async () => {
    const res = await fetch(`${origin}/status.json`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const d = (await res.json()) as StatusData;
    expect(d.sources.map((s) => s.name)).toEqual(['erp', 'wms', 'shop', 'tpl']);
    const by = Object.fromEntries(d.sources.map((s) => [s.name, s]));
    expect(by.wms).toMatchObject({ status: 'DOWN', lastError: 'cannot open its database', lastSuccessAt: null });
    expect(by.wms!.reads.recent.failed).toBeGreaterThanOrEqual(2);
    expect(by.wms!.reads.recent.errorRate).toBe(1);
    expect(by.wms!.reads.perMinute).toHaveLength(15);
    expect(by.erp).toMatchObject({ status: 'UP', breaker: 'CLOSED', lastError: null });
    expect(by.erp!.reads.recent.errorRate).toBe(0);
    // the demo 3PL's file is two days old, past its 26 hours
    expect(by.tpl!.freshness).toMatchObject({ maxAgeSeconds: 93600, stale: true });
    expect(by.tpl!.freshness.ageSeconds).toBeGreaterThan(93600);
    expect(d.anomalies).not.toBeNull();
    expect(d.reconciliation).toMatchObject({ last: null, trend: [] });
    expect(d.problems).toEqual([]);
  });
});

describe('the page', () => {
  it('has a strict CSP whose style hash matches its one <style>, no script, and refreshes itself', async () => {
    const res = await fetch(`${origin}/status`);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).toMatch(/<meta http-equiv="refresh" content="15">/);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)];
    expect(styles).toHaveLength(1);
    const hash = createHash('sha256').update(styles[0]![1]!, 'utf8').digest('base64');
    expect(csp).toContain(`'sha256-${hash}'`);
    expect(html).toMatch(/<tr data-source="wms">[\s\S]*?DOWN[\s\S]*?<\/tr>/);
  });

  it('escapes everything it shows', () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const data: StatusData = {
      generatedAt: '2026-11-27T12:00:00.000Z',
      uptimeSeconds: 5,
      build: { version: evil, node: evil, configPath: evil },
      summary: { up: 0, stale: 0, degraded: 0, down: 1, configured: 1, worst: 'DOWN' },
      traffic: { windowSeconds: 60, requests: 1, perSecond: 0.02, p95Ms: 3, errorsByCode: { [evil]: 1 }, total: { requests: 1, errorsByCode: { [evil]: 1 } } },
      sweep: null,
      sources: [
        {
          name: evil,
          kind: evil,
          state: 'DOWN',
          downSince: '2026-11-27T11:59:00.000Z',
          nextRetryAt: '2026-11-27T12:00:10.000Z',
          healthCheck: { lastAt: '2026-11-27T11:59:30.000Z', ok: false, nextAt: null },
          mirrorLagging: false,
          status: 'DOWN',
          breaker: 'OPEN',
          latencyMs: 10,
          timeoutMs: 100,
          lastSuccessAt: null,
          lastErrorAt: '2026-11-27T11:59:00.000Z',
          lastError: evil,
          problem: evil,
          failingEntities: [{ entity: evil, reason: evil, since: '2026-11-27T11:59:00.000Z' }],
          consecutiveFailures: 5,
          failureThreshold: 5,
          freshness: { newestAsOf: null, ageSeconds: 100, maxAgeSeconds: 50, stale: true },
          reads: {
            total: { ok: 0, failed: 5, rejected: 1 },
            recent: { minutes: 15, ok: 0, failed: 5, rejected: 1, errorRate: 1 },
            perMinute: [{ at: '2026-11-27T11:59:00.000Z', ok: 0, failed: 5, rejected: 1 }],
          },
          inFlight: 0,
          queued: 0,
        },
      ],
      anomalies: { open: 1, acknowledged: 0, byKind: [{ kind: evil, open: 1, acknowledged: 0 }] },
      reconciliation: {
        last: null,
        latest: {
          id: '7',
          startedAt: '2026-11-27T11:00:00.000Z',
          finishedAt: '2026-11-27T11:01:00.000Z',
          status: 'failed',
          tolerance: 0,
          outDir: evil,
          error: evil,
          skus: 0,
          lines: 0,
          matched: 0,
          explained: 0,
          withinTolerance: 0,
          discrepancies: 0,
          orphans: 0,
          gaps: 0,
          absVariance: 0,
          absExplained: 0,
          absUnexplained: 0,
        },
        trend: [],
      },
      mirrors: [],
      reservations: { active: 3, counting: 5, heldUnits: 12 },
      events: null,
      cluster: null,
      problems: [evil],
    };
    const html = renderStatusPage(data, { refreshSeconds: 15 });
    expect(html).not.toContain('<img');
    expect(html).not.toContain('onerror=alert(1)>');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;');
  });

  it('words durations for people', () => {
    expect([5, 89, 90, 3599, 5400, 7200, 93600, 180000, 172800].map(duration)).toEqual([
      '5 s',
      '89 s',
      '2 min',
      '60 min',
      '1 h 30 min',
      '2 h',
      '26 h',
      '2 d 2 h',
      '2 d',
    ]);
  });
});
