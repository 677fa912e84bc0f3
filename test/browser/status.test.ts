/**
 * The status page in real headless Chromium, on the real server: a stopped source reads as
 * down, the page renders under its CSP with nothing blocked and nothing leaving the host.
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
    editConfig: (y) => y.replace(/connection: "?\.\/wms\.sqlite"?/, 'connection: ./gone/wms.sqlite'),
    override: { server: { loopbackStatus: true } },
  });
  origin = new URL(demo.url).origin;
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
    expect(await page.title()).toBe('1 down · inventory-graph status');

    const row = (source: string) => page.locator(`table.sources tr[data-source="${source}"]`);
    await expect.poll(() => row('wms').locator('td').nth(1).innerText()).toContain('DOWN');
    expect(await row('wms').innerText()).toContain('cannot open its database');
    expect(await row('wms').locator('td').nth(5).innerText()).toContain('100 %');
    for (const up of ['erp', 'tpl', 'shop']) expect(await row(up).locator('td').nth(1).innerText(), up).toContain('UP');
    // the 3PL's two-day-old file against its 26 hours
    expect(await row('tpl').locator('td').nth(4).innerText()).toContain('STALE');
    expect(await page.locator('.cards .card').first().innerText()).toMatch(/3 up[\s\S]*1 down/);

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

    expect(requests).toEqual([`${origin}/status`]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
