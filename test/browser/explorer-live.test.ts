/**
 * The GraphiQL explorer on the REAL server (startDemoApp): it loads with no request leaving
 * localhost, its tabs are titled by task in order and filled in from this gateway's config and
 * data (another config's channel and coordinates show in the Route tab, nothing of the demo's is
 * left over), an analyst enters their key in the headers editor and sees availability with
 * provenance for SKUs that show something, "Negative stock" lists the demo's negatives, and
 * "Acknowledge an anomaly", run with the admin key, acknowledges a real open anomaly. Also:
 * every query tab runs cleanly with the analyst key (a broken example is the first thing an
 * analyst would meet).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleChannel } from '../../src/server/examples.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { launchChromium, SKIP_BROWSER, SKIP_REASON } from '../helpers/browser.js';

const TITLES = [
  'Available to promise',
  'Negative stock',
  'ERP vs WMS',
  'Route an order',
  'Acknowledge an anomaly',
  'Item with cost',
  'Reconcile SKUs',
  'Open anomalies',
  'Browse the catalogue',
  'Locations and sources',
  'Resolve a code',
];

interface Tab {
  query: string;
  variables: string | null;
}

let demo: DemoApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  demo = await startDemoApp({ skus: 200 });
  origin = new URL(demo.url).origin;
  // the demo's negatives met by a query are recorded as NEGATIVE_ON_HAND anomalies (as the sweep records every one)
  const r = await demo.gql(
    'query($skus: [ID!]!) { availability(skus: $skus) { sku onHand } }',
    { skus: demo.facts.negativeWms },
    { 'x-api-key': demo.keys.analyst },
  );
  expect(r.body.errors).toBeUndefined();
  await demo.app.store.anomalies.flush();
});
afterAll(async () => {
  await browser?.close();
  await demo?.close();
});

/** The tabs of the explorer's page at `url`, as the page's configuration block holds them. */
async function pageTabs(url: string): Promise<{ tabs: Tab[]; titles: Record<string, string> }> {
  const res = await fetch(url, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  const json = /<script type="application\/json" id="explorer-config">([^<]*)<\/script>/.exec(await res.text())?.[1];
  return JSON.parse(json ?? 'null') as { tabs: Tab[]; titles: Record<string, string> };
}

const variablesOf = (tab: Tab | undefined) => JSON.parse(tab?.variables ?? '{}') as Record<string, unknown>;

describe('example tabs', () => {
  it('each query runs with the analyst key, without errors', async () => {
    const { tabs } = await pageTabs(demo.url);
    expect(tabs).toHaveLength(TITLES.length);
    for (const [i, tab] of tabs.entries()) {
      if (tab.query.includes('mutation ')) continue;
      const r = await demo.gql(tab.query, variablesOf(tab), { 'x-api-key': demo.keys.analyst });
      expect(r.status, TITLES[i]).toBe(200);
      expect(r.body.errors, `${TITLES[i]}: ${r.text.slice(0, 300)}`).toBeUndefined();
    }
  });

  it("are filled in from the config: another config's channel and coordinates, nothing of the demo's", async () => {
    const demoTabs = await pageTabs(demo.url);
    const route = variablesOf(demoTabs.tabs[3]).order as Record<string, unknown>;
    const { channel, destination } = exampleChannel(demo.app.config);
    expect(route).toMatchObject({ channel, destination, strategy: 'FEWEST_SHIPMENTS' });
    expect(channel).toBe('web');

    const renamed = await startDemoApp({
      skus: 60,
      editConfig: (yaml) =>
        yaml
          .replace(/channels: \[web, retail\]/g, 'channels: [online, stores]')
          .replace(/channels: \[retail\]/g, 'channels: [stores]')
          .replace(/channels: \[web\]/g, 'channels: [online]')
          .replace('latitude: 34.0522, longitude: -118.2437', 'latitude: 47.6062, longitude: -122.3321'),
    });
    try {
      const { tabs } = await pageTabs(renamed.url);
      expect(variablesOf(tabs[3]).order).toMatchObject({ channel: 'online', destination: { latitude: 47.6062, longitude: -122.3321 } });
      expect(variablesOf(tabs[0])).toMatchObject({ channel: 'online' });
      const variables = tabs.map((t) => t.variables ?? '').join('\n');
      for (const leftover of ['"web"', '"retail"', '41.88', '-87.63', '34.0522']) expect(variables).not.toContain(leftover);
      // what the tab says runs: the channel is one the config knows
      const r = await renamed.gql(tabs[3]?.query ?? '', variablesOf(tabs[3]), { 'x-api-key': renamed.keys.analyst });
      expect(r.body.errors, r.text.slice(0, 300)).toBeUndefined();
    } finally {
      await renamed.close();
    }
  });

  it("ERP vs WMS shows the demo's disagreements between those two, explained or not", async () => {
    const { tabs } = await pageTabs(demo.url);
    expect(variablesOf(tabs[2])).toEqual({ locationIds: ['DC-EAST', 'DC-CENTRAL'], sources: ['erp', 'wms'] });
    const r = await demo.gql<{
      reconciliation: { lines: Array<{ sku: string; location: { id: string }; status: string; worstSource: string; authoritative: string }> };
    }>(tabs[2]?.query ?? '', variablesOf(tabs[2]), { 'x-api-key': demo.keys.analyst });
    expect(r.body.errors, r.text.slice(0, 300)).toBeUndefined();
    const lines = r.body.data?.reconciliation.lines ?? [];
    const east = lines.filter((l) => l.location.id === 'DC-EAST');
    expect(east.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(['DISCREPANCY', 'EXPLAINED'], l.sku).toContain(l.status);
      expect(['DC-EAST', 'DC-CENTRAL'], l.sku).toContain(l.location.id);
    }
    // at DC-EAST the WMS is authoritative and the ERP is what disagrees: the demo's disagreeing SKUs
    for (const l of east) {
      expect(demo.facts.erpWmsDisagree, l.sku).toContain(l.sku);
      expect(l).toMatchObject({ authoritative: 'wms', worstSource: 'erp' });
    }
  });

  it('acknowledge the newest open anomaly, a negative, and say where to take an id', async () => {
    const { tabs } = await pageTabs(demo.url);
    const open = await demo.app.store.anomalies.list({ kinds: ['NEGATIVE_ON_HAND'], statuses: ['OPEN'] }, 1);
    expect(demo.facts.negativeWms).toContain(open.anomalies[0]?.sku);
    expect(variablesOf(tabs[4])).toEqual({ id: open.anomalies[0]?.id, note: 'Looking into it' });
    expect(tabs[4]?.query).toContain('the Negative stock tab');
  });
});

/** The text of a CodeMirror 5 editor under `selector`. */
const editorValue = (page: Page, selector: string) =>
  page.evaluate((sel) => {
    const element = document.querySelector(sel) as (Element & { CodeMirror?: { getValue(): string } }) | null;
    return element?.CodeMirror?.getValue() ?? null;
  }, selector);

/** Replaces the text of the headers editor (opened first). */
async function typeHeaders(page: Page, headers: Record<string, string>): Promise<void> {
  await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
  const editor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
  await editor.waitFor();
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(JSON.stringify(headers));
}

/** Opens the tab titled `title` and waits until GraphiQL has taken its operation (it re-derives the name 100 ms after a switch). */
async function openTab(page: Page, title: string, operation: string): Promise<void> {
  await page.locator('.graphiql-tab-button', { hasText: title }).click();
  await expect.poll(() => editorValue(page, '.graphiql-query-editor .CodeMirror')).toContain(` ${operation}`);
  await expect
    .poll(() =>
      page.evaluate(() => {
        const element = document.querySelector('.graphiql-query-editor .CodeMirror') as (Element & { CodeMirror?: { operationName?: string | null } }) | null;
        return element?.CodeMirror?.operationName ?? null;
      }),
    )
    .toBe(operation);
}

/** Runs the open tab and returns the answer once the result pane shows one holding `expected`. */
async function run(page: Page, expected: string): Promise<{ data?: Record<string, unknown> | null; errors?: unknown[] }> {
  await page.locator('.graphiql-execute-button').click();
  await expect.poll(() => editorValue(page, '.result-window .CodeMirror'), { timeout: 20_000 }).toContain(expected);
  return JSON.parse((await editorValue(page, '.result-window .CodeMirror')) ?? 'null') as { data?: Record<string, unknown> | null; errors?: unknown[] };
}

describe('explorer on the real server', () => {
  it('loads offline, tabs titled by task; availability, negative stock and an acknowledgement run from their tabs', { timeout: 180_000 }, async (ctx) => {
    ctx.skip(SKIP_BROWSER, SKIP_REASON);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
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

    // the tabs, titled by task, in order; the first one open
    const tabs = page.locator('.graphiql-tab');
    await expect.poll(() => tabs.count()).toBe(TITLES.length);
    await expect.poll(() => tabs.allInnerTexts()).toEqual(TITLES);
    expect(await editorValue(page, '.graphiql-query-editor .CodeMirror')).toContain('query Availability(');

    // without a key: the server refuses, and says so in the result pane
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorValue(page, '.result-window .CodeMirror'), { timeout: 15_000 }).toContain('UNAUTHENTICATED');

    // the analyst types their key into the (editable) headers editor
    await typeHeaders(page, { 'x-api-key': demo.keys.analyst });
    const availability = (await run(page, '"provenance"')) as {
      data: { availability: Array<{ sku: string; flags: string[]; byLocation: Array<{ available: number; provenance: { rule: string } }> }> };
      errors?: unknown;
    };
    expect(availability.errors).toBeUndefined();
    // SKUs that show something: the first available at several locations, one with a flag raised
    const [first] = availability.data.availability;
    expect(first?.byLocation.filter((l) => l.available > 0).length).toBeGreaterThanOrEqual(2);
    expect(availability.data.availability.some((a) => a.flags.length > 0)).toBe(true);
    expect(first?.byLocation[0]?.provenance.rule).toMatch(/^quantity: /);
    expect(keysSent).toContain(demo.keys.analyst);

    // Negative stock: the demo's negatives, as anomalies (and as flagged SKUs)
    await openTab(page, 'Negative stock', 'NegativeStock');
    await typeHeaders(page, { 'x-api-key': demo.keys.analyst });
    const negative = (await run(page, '"data"')) as {
      data: { anomalies: { nodes: Array<{ kind: string; sku: string }> }; inventoryItems: { nodes: Array<{ sku: string }> } };
      errors?: unknown;
    };
    expect(negative.errors).toBeUndefined();
    expect(negative.data.anomalies.nodes.filter((a) => a.kind === 'NEGATIVE_ON_HAND').length).toBeGreaterThanOrEqual(1);
    expect(negative.data.inventoryItems.nodes.map((n) => n.sku)).toEqual(demo.facts.negativeWms);
    await page.screenshot({ path: '/tmp/explorer-negative-stock.png' });

    // Acknowledge an anomaly, with the admin key: the newest open negative is acknowledged, by that key
    const open = await demo.app.store.anomalies.list({ kinds: ['NEGATIVE_ON_HAND'], statuses: ['OPEN'] }, 1);
    const id = open.anomalies[0]?.id;
    await openTab(page, 'Acknowledge an anomaly', 'AcknowledgeAnomaly');
    await typeHeaders(page, { 'x-api-key': demo.keys.admin });
    const acknowledged = (await run(page, '"acknowledgeAnomaly"')) as {
      data: { acknowledgeAnomaly: { id: string; status: string; acknowledgeNote: string; acknowledgedBy: string | null } };
      errors?: unknown;
    };
    expect(acknowledged.errors).toBeUndefined();
    expect(acknowledged.data.acknowledgeAnomaly).toMatchObject({ id, status: 'ACKNOWLEDGED', acknowledgeNote: 'Looking into it' });
    expect((await demo.app.store.anomalies.list({ statuses: ['ACKNOWLEDGED'] }, 10)).anomalies.map((a) => a.id)).toEqual([id]);

    // nothing left the host
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))).toEqual([]);
    // the only complaints: the 401s before the key was entered (schema introspection, first run)
    expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    await context.close();
  });
});
