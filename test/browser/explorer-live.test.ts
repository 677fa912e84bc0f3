/**
 * The GraphiQL explorer on the REAL server (startDemoApp): it loads with no request leaving
 * localhost, an analyst enters their key in the headers editor, runs the availability example
 * and sees the answer with provenance. Also: every example operation runs cleanly with the
 * analyst key (a broken example is the first thing an analyst would meet).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleOperations } from '../../src/server/examples.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { launchChromium, SKIP_BROWSER, SKIP_REASON } from '../helpers/browser.js';

let demo: DemoApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  demo = await startDemoApp({ skus: 200 });
  origin = new URL(demo.url).origin;
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

describe('example operations', () => {
  it('each runs with the analyst key, without errors', async () => {
    const examples = exampleOperations(['SKU-000001', 'SKU-000002', 'SKU-000003'], demo.app.config);
    expect(examples.map((e) => e.name)).toEqual(
      expect.arrayContaining(['Availability with provenance', 'Item with cost', 'Route an order', 'Reconcile systems']),
    );
    for (const e of examples) {
      const r = await demo.gql(e.query, e.variables, { 'x-api-key': demo.keys.analyst });
      expect(r.status, e.name).toBe(200);
      expect(r.body.errors, `${e.name}: ${r.text.slice(0, 300)}`).toBeUndefined();
    }
  });
});

/** The text of a CodeMirror 5 editor under `selector`. */
const editorValue = (page: Page, selector: string) =>
  page.evaluate((sel) => {
    const element = document.querySelector(sel) as (Element & { CodeMirror?: { getValue(): string } }) | null;
    return element?.CodeMirror?.getValue() ?? null;
  }, selector);

describe('explorer on the real server', () => {
  it('loads offline, takes the analyst key in the headers editor and shows an availability answer', { timeout: 120_000 }, async (ctx) => {
    ctx.skip(SKIP_BROWSER, SKIP_REASON);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const requests: string[] = [];
    const keysSent: Array<string | undefined> = [];
    const problems: string[] = [];
    // record every request; let only our loopback origin through
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) await route.continue();
      else await route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('request', (request) => {
      requests.push(request.url());
      if (request.method() === 'POST') keysSent.push(request.headers()['x-api-key']);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));

    const response = await page.goto(`${origin}/graphql`);
    expect(response?.status()).toBe(200);
    await page.locator('.graphiql-container').waitFor();
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();

    // the examples are there, the availability one first
    const tabs = page.locator('.graphiql-tab');
    await expect.poll(() => tabs.count()).toBeGreaterThanOrEqual(8);
    const titles = await tabs.allInnerTexts();
    expect(titles.slice(0, 4)).toEqual(['Availability', 'Item', 'Route', 'Reconcile']);
    expect(await editorValue(page, '.graphiql-query-editor .CodeMirror')).toContain('query Availability(');

    // without a key: the server refuses, and says so in the result pane
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorValue(page, '.result-window .CodeMirror'), { timeout: 15_000 }).toContain('UNAUTHENTICATED');

    // the analyst types their key into the (editable) headers editor
    await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
    await headers.waitFor();
    await headers.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type(`{"x-api-key": "${demo.keys.analyst}"}`);
    const typed = await page.evaluate(() => {
      const editors = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')];
      const visible = editors.find((e) => !e.classList.contains('hidden'));
      const cm = visible?.querySelector('.CodeMirror') as (Element & { CodeMirror?: { getValue(): string } }) | null;
      return cm?.CodeMirror?.getValue() ?? null;
    });
    expect(JSON.parse(typed ?? 'null')).toEqual({ 'x-api-key': demo.keys.analyst });

    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorValue(page, '.result-window .CodeMirror'), { timeout: 15_000 }).toContain('"provenance"');
    const result = JSON.parse((await editorValue(page, '.result-window .CodeMirror')) ?? 'null') as {
      data: { availability: Array<{ sku: string; byLocation: Array<{ provenance: { source: string; rule: string } }> }> };
      errors?: unknown;
    };
    expect(result.errors).toBeUndefined();
    // the example's SKUs: the first page of this gateway's SKU map
    expect(result.data.availability.map((a) => a.sku)).toEqual(['SKU-000001', 'SKU-000002', 'SKU-000003']);
    expect(result.data.availability[0]!.byLocation[0]!.provenance.rule).toMatch(/^quantity: /);
    expect(keysSent).toContain(demo.keys.analyst);

    await page.screenshot({ path: '/tmp/explorer-live.png' });

    // nothing left the host
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))).toEqual([]);
    // the only complaints: the 401s before the key was entered (schema introspection, first run)
    expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    await context.close();
  });
});
