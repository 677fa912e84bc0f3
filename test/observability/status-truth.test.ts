/**
 * /status tells the truth at a glance (issue #19), on the real gateway and real sources:
 *
 * - the headline counts every source once by its worst state: a stale source is not "up";
 * - freshness ignores a record refused as INVALID_SOURCE_DATA (dated in the future): /status.json
 *   and the lag metric show the age of the usable records;
 * - the background health check shows a MariaDB source behind a TCP proxy go DOWN (with
 *   downSince and nextRetryAt) and come back UP with no GraphQL request in between;
 * - API traffic (requests, p95, errors by code), version and config path;
 * - each anomaly count links to its filtered list, paged 50 at a time, escaped.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusData } from '../../src/server/status-page.js';
import { MARIADB_URL, startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { dropDemoDatabases } from '../faults/fault-helpers.js';

const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
const HOUR = 3_600_000;

async function statusJson(d: DemoApp): Promise<StatusData> {
  const res = await fetch(`${new URL(d.url).origin}/status.json`, { headers: { 'x-api-key': d.keys.analyst } });
  expect(res.status).toBe(200);
  return (await res.json()) as StatusData;
}

async function get(d: DemoApp, path: string, headers: Record<string, string> = { 'x-api-key': d.keys.analyst }) {
  const res = await fetch(`${new URL(d.url).origin}${path}`, { headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

const source = (s: StatusData, name: string) => s.sources.find((x) => x.name === name)!;

describe('headline, freshness, traffic, build and anomaly links (SQLite demo)', () => {
  let d: DemoApp;
  beforeAll(async () => {
    d = await startDemoApp({
      skus: 80,
      // the shop is gone (DOWN), checks off here: traffic is what this suite counts
      editConfig: (y) => {
        const doc = parseDocument(y.replace(/connection: "?\.\/shop\.sqlite"?/, 'connection: ./gone/shop.sqlite'));
        for (const s of ['erp', 'wms', 'shop', 'tpl']) doc.setIn(['sources', s, 'healthCheck'], { intervalSeconds: 0 });
        return doc.toString();
      },
      // the WMS's rows of SKU-000001 three hours old (over its hour), one of them dated two hours ahead
      prepare: (dir) => {
        const db = new Database(join(dir, 'wms.sqlite'));
        const now = Date.now();
        db.prepare("update bin_stock set updated_at = ? where item_code = 'ITM0000001'").run(new Date(now - 3 * HOUR).toISOString().slice(0, 19) + 'Z');
        db.prepare("update bin_stock set updated_at = ? where rowid = (select min(rowid) from bin_stock where item_code = 'ITM0000001')").run(
          new Date(now + 2 * HOUR).toISOString().slice(0, 19) + 'Z',
        );
        db.close();
      },
    });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('ignores the future-dated record: /status.json and /metrics show the age of the old rows, not 0', async () => {
    // the WMS and the 3PL are read for SKU-000001 (the shop is not asked for stock)
    const r = await d.gql<{ availability: Array<{ sku: string; flags: string[] }> }>('{ availability(skus: ["SKU-000001"]) { sku flags } }');
    // the future-dated row was refused: its level is flagged
    expect(r.body.data!.availability[0]!.flags).toContain('INVALID_SOURCE_DATA');

    const s = await statusJson(d);
    const wms = source(s, 'wms');
    expect(Date.parse(wms.freshness.newestAsOf!)).toBeLessThan(Date.now());
    expect(wms.freshness.ageSeconds).toBeGreaterThanOrEqual(3 * 3600 - 60);
    expect(wms.freshness.stale).toBe(true);
    expect(wms.state).toBe('STALE');

    const gq = await d.gql<{ sources: Array<{ name: string; newestAsOf: string; oldestAsOf: string }> }>('{ sources { name newestAsOf oldestAsOf } }');
    const g = gq.body.data!.sources.find((x) => x.name === 'wms')!;
    expect(Date.parse(g.newestAsOf)).toBeLessThan(Date.now());

    const metrics = (await get(d, '/metrics')).body;
    const lag = /^inventory_graph_source_freshness_seconds\{source="wms"\} (\d+)$/m.exec(metrics);
    expect(Number(lag?.[1])).toBeGreaterThanOrEqual(3 * 3600 - 60);
  });

  it('counts every source once by its worst state: a stale source is not up', async () => {
    await d.gql('{ inventoryItem(sku: "SKU-000002") { sku name } }');
    const s = await statusJson(d);
    expect(Object.fromEntries(s.sources.map((x) => [x.name, x.state]))).toEqual({ erp: 'UP', wms: 'STALE', shop: 'DOWN', tpl: 'STALE' });
    expect(s.summary).toEqual({ up: 1, stale: 2, degraded: 0, down: 1, configured: 4, worst: 'DOWN' });
    const page = (await get(d, '/status')).body;
    expect(page).toMatch(/data-worst="DOWN"/);
    expect(page).toMatch(
      /<span class="good" data-count="up">1 up<\/span> · <span class="warn" data-count="stale">2 stale<\/span> · <span class="bad" data-count="down">1 down<\/span>/,
    );
    expect(page).toContain('<title>1 down · 2 stale · inventory-graph status</title>');
    // the shop never answered: down since its first failure; no check planned, so its next try is the next request
    const shop = source(s, 'shop');
    expect(shop.downSince).not.toBeNull();
    expect(shop.healthCheck).toEqual({ lastAt: null, ok: null, nextAt: null });
  });

  it('shows API traffic: requests and errors by code, counted, a p95, the version and the config path', async () => {
    const before = (await statusJson(d)).traffic!;
    for (let i = 0; i < 3; i++) expect((await d.gql('{ viewer { name } }')).status).toBe(200);
    const bad = await d.gql('{ availability(skus: ["SKU-000001"], locationIds: ["NO-SUCH-LOCATION"]) { sku } }');
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const s = await statusJson(d);
    const t = s.traffic!;
    expect(t.total.requests - before.total.requests).toBe(4);
    expect((t.total.errorsByCode.BAD_USER_INPUT ?? 0) - (before.total.errorsByCode.BAD_USER_INPUT ?? 0)).toBe(1);
    expect(t.requests).toBeGreaterThanOrEqual(4);
    expect(t.errorsByCode.BAD_USER_INPUT).toBeGreaterThanOrEqual(1);
    expect(t.p95Ms).toBeGreaterThan(0);
    expect(t.perSecond).toBe(Math.round((t.requests / 60) * 100) / 100);
    expect(s.build.version).toBe(VERSION);
    expect(s.build.configPath).toBe(join(d.dir, 'inventory-graph.yaml'));
    const page = (await get(d, '/status')).body;
    expect(page).toMatch(/<div class="card traffic" data-requests="\d+">/);
    expect(page).toContain('<span data-code="BAD_USER_INPUT">BAD_USER_INPUT ');
    expect(page).toContain(`version ${VERSION}`);
    expect(page).toContain(`config <code>${join(d.dir, 'inventory-graph.yaml')}</code>`);
  });

  it('links each anomaly count to its filtered list, newest first, 50 a page, escaped', async () => {
    const store = d.app.store.anomalies;
    await store.record(
      Array.from({ length: 55 }, (_, i) => ({
        kind: 'NEGATIVE_ON_HAND',
        sku: `SKU-NEG-${String(i).padStart(3, '0')}`,
        location: 'DC-EAST',
        source: 'wms',
        detail: i === 54 ? '<script>alert(1)</script>' : `onHand -${i + 1}`,
      })),
    );
    await store.record([{ kind: 'ORPHAN_CODE', sku: null, location: null, source: 'erp', code: 'X-1', detail: 'no SKU maps it' }]);
    const page = (await get(d, '/status')).body;
    const href = /<tr data-kind="NEGATIVE_ON_HAND">[\s\S]*?<a class="open" href="([^"]+)">55<\/a>/.exec(page)?.[1];
    expect(href).toBe('/status/anomalies?kind=NEGATIVE_ON_HAND&#38;status=OPEN');
    const path = href!.replaceAll('&#38;', '&');

    const first = await get(d, path);
    expect(first.status).toBe(200);
    expect(first.type).toContain('text/html');
    expect(first.body.match(/<tr data-anomaly="/g)).toHaveLength(50);
    expect(first.body).toContain('<span class="total">55</span>');
    expect(first.body).not.toContain('ORPHAN_CODE');
    // newest first: the last one recorded heads the list, escaped
    expect(first.body).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(first.body).not.toContain('<script>');
    const next = /<a class="next" href="([^"]+)">/.exec(first.body)?.[1]?.replaceAll('&#38;', '&');
    expect(next).toMatch(/^\/status\/anomalies\?kind=NEGATIVE_ON_HAND&status=OPEN&after=\d+$/);
    const second = await get(d, next!);
    expect(second.body.match(/<tr data-anomaly="/g)).toHaveLength(5);
    expect(second.body).not.toContain('class="next"');

    const json = JSON.parse((await get(d, '/status/anomalies.json?kind=NEGATIVE_ON_HAND&status=OPEN')).body) as {
      anomalies: Array<{ id: string; kind: string }>;
      totalCount: number;
      hasNextPage: boolean;
      endCursor: string;
    };
    expect(json.anomalies).toHaveLength(50);
    expect(json.totalCount).toBe(55);
    expect(json.hasNextPage).toBe(true);
    expect(new Set(json.anomalies.map((a) => a.kind))).toEqual(new Set(['NEGATIVE_ON_HAND']));
    const ids = json.anomalies.map((a) => Number(a.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    // the same access rule as /status; bad filters named; keys never in the URL
    expect((await get(d, path, { 'x-api-key': d.keys.storefront })).status).toBe(403);
    expect((await get(d, path, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(401);
    const badKind = await get(d, '/status/anomalies?kind=NOPE');
    expect(badKind.status).toBe(400);
    expect(badKind.body).toContain('kind "NOPE" is not a kind of anomaly');
    expect((await get(d, '/status/anomalies?status=open')).status).toBe(400);
    expect((await get(d, '/status/anomalies?after=abc')).status).toBe(400);
    const key = await get(d, `/status/anomalies?kind=ORPHAN_CODE&api_key=${d.keys.analyst}`);
    expect(key.status).toBe(400);
    expect(key.body).toContain('never accepted in the URL');
  });
});

describe('the background health check: a source goes DOWN and comes back UP without traffic (MariaDB behind a proxy)', () => {
  const prefix = `ig_test_status_${process.pid}_${Date.now().toString(36)}`;
  let proxy: TcpProxy;
  let d: DemoApp;
  beforeAll(async () => {
    proxy = await startTcpProxy();
    d = await startDemoApp({
      skus: 40,
      mysql: { prefix },
      editConfig: (y) => {
        const doc = parseDocument(y);
        doc.setIn(['sources', 'wms', 'connection'], proxy.url(`${prefix}_wms`));
        doc.setIn(['sources', 'wms', 'timeoutMs'], 1000);
        doc.setIn(['sources', 'wms', 'healthCheck'], { intervalSeconds: 1 });
        doc.setIn(['sources', 'wms', 'breaker'], { failureThreshold: 2, resetAfterMs: 1500 });
        return doc.toString();
      },
    });
    expect(MARIADB_URL).toContain('127.0.0.1');
  });
  afterAll(async () => {
    await d?.close();
    await proxy?.close();
    await dropDemoDatabases(prefix);
  });

  it('shows DOWN with down since and next retry, then UP, with no GraphQL request in between', { timeout: 60_000 }, async () => {
    await expect.poll(async () => source(await statusJson(d), 'wms').healthCheck.ok, { timeout: 15_000, interval: 200 }).toBe(true);
    const before = (await statusJson(d)).traffic!.total.requests;

    await proxy.stop();
    await expect.poll(async () => source(await statusJson(d), 'wms').status, { timeout: 20_000, interval: 200 }).toBe('DOWN');
    const down = source(await statusJson(d), 'wms');
    expect(down.state).toBe('DOWN');
    expect(down.downSince).not.toBeNull();
    expect(down.nextRetryAt).not.toBeNull();
    expect(Date.parse(down.nextRetryAt!)).toBeGreaterThanOrEqual(Date.parse(down.downSince!));
    expect(down.healthCheck.ok).toBe(false);
    expect(down.lastError).toMatch(/connection refused|connection lost|timed out/);
    const page = (await get(d, '/status')).body;
    expect(page).toMatch(/<tr data-source="wms">\n<td data-state="DOWN">[\s\S]*?down since \d\d:\d\d:\d\d UTC, next retry \d\d:\d\d:\d\d UTC/);

    await proxy.start();
    await expect.poll(async () => source(await statusJson(d), 'wms').status, { timeout: 20_000, interval: 200 }).toBe('UP');
    const up = await statusJson(d);
    expect(source(up, 'wms')).toMatchObject({ downSince: null, nextRetryAt: null, breaker: 'CLOSED', healthCheck: { ok: true } });
    // nothing but the checks asked the WMS: not one GraphQL request was answered meanwhile
    expect(up.traffic!.total.requests).toBe(before);

    const g = await d.gql<{
      sources: Array<{ name: string; status: string; lastCheckAt: string | null; downSince: string | null; nextRetryAt: string | null }>;
    }>('{ sources { name status lastCheckAt downSince nextRetryAt } }');
    expect(g.body.data!.sources.find((x) => x.name === 'wms')).toMatchObject({ status: 'UP', downSince: null, nextRetryAt: null });
    expect(g.body.data!.sources.find((x) => x.name === 'wms')!.lastCheckAt).not.toBeNull();
  });
});
