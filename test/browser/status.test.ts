/**
 * The status page in real headless Chromium, on the real server: a stopped source reads as
 * down (since when, next retry), the 3PL's old file as stale in the headline, the traffic block
 * counts the request, the page renders under its CSP with nothing blocked and nothing leaving
 * the host, and an anomaly count opens its filtered list.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { launchChromium, SKIP_BROWSER, SKIP_REASON } from '../helpers/browser.js';

let demo: DemoApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  // the WMS "stopped": its SQLite file is gone
  // a browser sends no key to a plain page: from this host, with server.loopbackStatus on
  demo = await startDemoApp({
    skus: 200,
    // checks every second: the WMS's failed check shows it down since, and when it is tried next
    editConfig: (y) =>
      y
        .replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite')
        .replace(/(\n {2}wms:[^\n]*\n)/, '$1    healthCheck: { intervalSeconds: 1 }\n'),
    override: { server: { loopbackStatus: true } },
  });
  origin = new URL(demo.url).origin;
  // two open NEGATIVE_ON_HAND anomalies and one ORPHAN_CODE, for the links
  await demo.app.store.anomalies.record([
    { kind: 'NEGATIVE_ON_HAND', sku: 'SKU-000001', location: 'DC-EAST', source: 'erp', detail: 'onHand -3' },
    { kind: 'NEGATIVE_ON_HAND', sku: 'SKU-000002', location: 'DC-EAST', source: 'erp', detail: 'onHand -1' },
    { kind: 'ORPHAN_CODE', sku: null, location: null, source: 'erp', code: 'X-9', detail: 'no SKU maps it' },
  ]);
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

describe('status page in a browser', () => {
  it('shows the stopped source as down, the others up, under its CSP, offline', { timeout: 120_000 }, async (ctx) => {
    ctx.skip(SKIP_BROWSER, SKIP_REASON);
    // one query, so the registry sees the WMS fail where it would be asked
    const r = await demo.gql('query Probe { availability(skus: ["SKU-000001", "SKU-000097"]) { sku available } }', {}, { 'x-api-key': demo.keys.analyst });
    expect(r.body.errors?.map((e) => e.extensions?.source)).toEqual(['wms']);

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) await route.continue();
      else await route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    // a CSP violation (a style or resource the policy blocks) is reported as a console error
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`requestfailed: ${request.url()} ${request.failure()?.errorText}`));

    const response = await page.goto(`${origin}/status`);
    expect(response?.status()).toBe(200);
    // the 3PL's file is two days old: stale, not up
    expect(await page.title()).toBe('1 down · 1 stale · inventory-graph status');

    const row = (source: string) => page.locator(`table.sources tr[data-source="${source}"]`);
    await expect.poll(() => row('wms').locator('td').nth(1).innerText()).toContain('DOWN');
    expect(await row('wms').innerText()).toContain('cannot open its database');
    expect(await row('wms').locator('td').nth(5).innerText()).toContain('100 %');
    for (const up of ['erp', 'tpl', 'shop']) expect(await row(up).locator('td').nth(1).innerText(), up).toContain('UP');
    // the 3PL's two-day-old file against its 26 hours
    expect(await row('tpl').locator('td').nth(4).innerText()).toContain('STALE');
    const headline = page.locator('.cards .card').first();
    expect(await headline.getAttribute('data-worst')).toBe('DOWN');
    expect(await headline.locator('.big').innerText()).toBe('2 up · 1 stale · 1 down');
    // coloured by the worst state: the card's left border is the "bad" red
    expect(await headline.evaluate((el) => getComputedStyle(el).borderLeftColor)).toBe('rgb(207, 34, 46)');
    expect(await row('tpl').locator('td').first().getAttribute('data-state')).toBe('STALE');
    // the WMS was never reached: down since its first failure, tried again at the next check
    await expect
      .poll(() => row('wms').locator('.down-since').innerText(), { timeout: 20_000 })
      .toMatch(/^down since \d\d:\d\d:\d\d UTC, next retry \d\d:\d\d:\d\d UTC$/);
    // the traffic block: the one GraphQL request so far, its error by code
    const traffic = page.locator('.card.traffic');
    expect(await traffic.innerText()).toMatch(/req\/s[\s\S]*p95 [\d.]+ ms · 1 requests[\s\S]*SOURCE_UNAVAILABLE 1/);
    expect(await page.locator('header .build').innerText()).toMatch(/^version \d+\.\d+\.\d+.* · config \S+inventory-graph\.yaml$/);

    // the stylesheet applied (the CSP hash matched): a badge has its colour and border
    const badge = await row('wms')
      .locator('.badge')
      .first()
      .evaluate((el) => getComputedStyle(el).borderTopStyle);
    expect(badge).toBe('solid');
    // the charts are there and labelled
    expect(await row('wms').locator('svg[role="img"]').count()).toBeGreaterThanOrEqual(1);
    expect(await row('wms').locator('svg[role="img"]').last().getAttribute('aria-label')).toMatch(/failed/);

    await page.screenshot({ path: '/tmp/status.png', fullPage: true });

    expect(requests.filter((u) => u !== `${origin}/status`)).toEqual([]);
    expect(problems).toEqual([]);

    // an anomaly count opens its filtered list
    await page.locator('tr[data-kind="NEGATIVE_ON_HAND"] a.open').click();
    await page.waitForURL(`${origin}/status/anomalies?kind=NEGATIVE_ON_HAND&status=OPEN`);
    expect(await page.locator('table.anomalies tbody tr').count()).toBe(2);
    expect(await page.locator('header .total').innerText()).toBe('2');
    expect(await page.locator('table.anomalies').innerText()).not.toContain('ORPHAN_CODE');
    expect(problems).toEqual([]);
    await context.close();
  });
});
