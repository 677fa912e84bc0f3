import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql } from 'graphql';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExplorer, type Example, type ExplorerOptions } from '../../src/server/explorer.js';
import { launchChromium, SKIP_BROWSER, SKIP_REASON } from '../helpers/browser.js';

const API_KEY = 'test-key-123';
const HOSTILE = '</script><script>window.__pwned = true</script>';

const options: ExplorerOptions & { examples: Example[] } = {
  endpoint: '/graphql',
  title: 'inventory-graph test',
  headers: { 'x-api-key': API_KEY },
  examples: [
    { name: 'Hello', query: 'query Hello($name: String) {\n  hello(name: $name)\n}\n', variables: { name: 'Ada' } },
    { name: 'Plain hello', query: '{\n  hello\n}\n' },
    { name: 'Hostile', query: `# ${HOSTILE}\nquery Hostile {\n  hello(name: "${HOSTILE.replace(/"/g, '\\"')}")\n}\n` },
  ],
};

const schema = buildSchema('type Query { hello(name: String): String }');
const rootValue = { hello: ({ name }: { name?: string | null }) => `Hello, ${name ?? 'world'}!` };

interface Harness {
  server: Server;
  origin: string;
  apiKeysSeen: Array<string | undefined>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function startServer(): Promise<Harness> {
  const explorer = createExplorer(options);
  const apiKeysSeen: Array<string | undefined> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const answer = explorer(method, path, req.headers.accept);
      if (answer) {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
        return;
      }
      if (method === 'POST' && path.split('?')[0] === '/graphql') {
        const header = req.headers['x-api-key'];
        apiKeysSeen.push(Array.isArray(header) ? header[0] : header);
        const { query, variables, operationName } = JSON.parse(await readBody(req)) as {
          query: string;
          variables?: Record<string, unknown>;
          operationName?: string;
        };
        const result = await graphql({ schema, source: query, rootValue, variableValues: variables, operationName });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    })().catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, apiKeysSeen };
}

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await new Promise<void>((resolve) => harness.server.close(() => resolve()));
});

describe('explorer over plain HTTP', () => {
  const html = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  it('serves the page with a strict CSP and the options JSON-escaped', async () => {
    const res = await fetch(`${harness.origin}/graphql`, { headers: html });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();

    // Exactly one closing tag per script element: the example's "</script>" did not survive as markup.
    expect(body.match(/<\/script>/g)).toHaveLength(5);
    expect(body).not.toContain('<script>window.__pwned');
    expect(body).toContain('\\u003c/script\\u003e\\u003cscript\\u003ewindow.__pwned = true\\u003c/script\\u003e');
    // No inline script: every executable <script> has a src under our own prefix.
    for (const tag of body.match(/<script\b[^>]*>/g) ?? []) {
      expect(tag).toMatch(/type="application\/json"|src="\/graphql\/explorer\//);
    }
    expect(body).not.toMatch(/https?:\/\//);

    // The JSON block round-trips to the original examples.
    const json = /<script type="application\/json" id="explorer-config">([^<]*)<\/script>/.exec(body)?.[1];
    const config = JSON.parse(json ?? 'null') as { endpoint: string; tabs: Array<{ query: string; headers: string }> };
    expect(config.endpoint).toBe('/graphql');
    expect(config.tabs).toHaveLength(3);
    expect(config.tabs[2]?.query).toContain(HOSTILE);
    expect(JSON.parse(config.tabs[0]?.headers ?? '{}')).toEqual({ 'x-api-key': API_KEY });
    // The anonymous example got an operation name so its tab is titled after it.
    expect(config.tabs[1]?.query).toBe('query PlainHello {\n  hello\n}\n');
  });

  it('also answers /graphiql, and HEAD', async () => {
    const alias = await fetch(`${harness.origin}/graphiql`, { headers: html });
    expect(alias.status).toBe(200);
    expect(await alias.text()).toContain('id="explorer-config"');
    const head = await fetch(`${harness.origin}/graphql`, { method: 'HEAD', headers: html });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('serves the assets with their content types and a cache header', async () => {
    const expected: Record<string, string> = {
      'graphiql.min.js': 'text/javascript; charset=utf-8',
      'graphiql.min.css': 'text/css; charset=utf-8',
      'react.production.min.js': 'text/javascript; charset=utf-8',
      'react-dom.production.min.js': 'text/javascript; charset=utf-8',
      'explorer.js': 'text/javascript; charset=utf-8',
      'explorer.css': 'text/css; charset=utf-8',
    };
    for (const [name, type] of Object.entries(expected)) {
      const res = await fetch(`${harness.origin}/graphql/explorer/${name}?v=whatever`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type'), name).toBe(type);
      expect(res.headers.get('cache-control'), name).toBe('public, max-age=31536000, immutable');
      const body = await res.text();
      expect(body.length, name).toBeGreaterThan(100);
      expect(body, name).not.toContain('sourceMappingURL');
    }
  });

  it('404s unknown assets and refuses path traversal', async () => {
    for (const name of ['nope.js', '../package.json', '..%2fpackage.json', 'graphiql.min.js.map', '', 'constructor']) {
      const res = await fetch(`${harness.origin}/graphql/explorer/${name}`);
      expect(res.status, name).toBe(404);
    }
    const explorer = createExplorer(options);
    expect(explorer('GET', '/graphql/explorer/../../package.json', undefined)?.status).toBe(404);
    expect(explorer('GET', '/graphql/explorer/%2e%2e/package.json', undefined)?.status).toBe(404);
    expect(explorer('POST', '/graphql/explorer/graphiql.min.js', undefined)?.status).toBe(405);
  });

  it('builds the page per request from examples given as a function, with each tab title by operation name', async () => {
    let served = 0;
    const explorer = createExplorer({
      endpoint: '/graphql',
      examples: async () => [
        { name: `Say hello ${++served}`, query: 'query Hello($name: String) {\n  hello(name: $name)\n}\n', variables: { name: `Ada ${served}` } },
      ],
    });
    const configOf = async (answer: ReturnType<typeof explorer>) => {
      const page = await answer;
      const json = /id="explorer-config">([^<]*)<\/script>/.exec(String(page?.body))?.[1];
      return JSON.parse(json ?? 'null') as { tabs: Array<{ variables: string }>; titles: Record<string, string> };
    };
    const first = await configOf(explorer('GET', '/graphql', 'text/html'));
    const second = await configOf(explorer('GET', '/graphql', 'text/html'));
    expect(first.titles).toEqual({ Hello: 'Say hello 1' });
    expect(JSON.parse(second.tabs[0]?.variables ?? '{}')).toEqual({ name: 'Ada 2' });
    expect(second.titles).toEqual({ Hello: 'Say hello 2' });
    // assets are answered at once, without calling the examples
    expect((explorer('GET', '/graphql/explorer/explorer.js', undefined) as { status: number }).status).toBe(200);
    expect(served).toBe(2);
  });

  it('leaves GraphQL requests and unrelated paths to the rest of the server', async () => {
    const explorer = createExplorer(options);
    expect(explorer('GET', '/graphql', 'application/json')).toBeUndefined();
    expect(explorer('GET', '/graphql', undefined)).toBeUndefined();
    expect(explorer('GET', '/graphql', '*/*')).toBeUndefined();
    expect(explorer('GET', '/graphql', 'application/json, text/html;q=0.5')).toBeUndefined();
    expect(explorer('GET', '/graphql', 'text/html;q=0')).toBeUndefined();
    expect(explorer('POST', '/graphql', 'text/html')).toBeUndefined();
    expect(explorer('GET', '/health', 'text/html')).toBeUndefined();
    expect(explorer('GET', '/graphqlx', 'text/html')).toBeUndefined();
    expect(explorer('GET', '/graphql?query=%7Bhello%7D', 'text/html')?.status).toBe(200);

    // Over HTTP, a JSON GET reaches the GraphQL side (our stub 404s it rather than the explorer answering).
    const res = await fetch(`${harness.origin}/graphql`, { headers: { accept: 'application/json' } });
    expect(res.headers.get('content-type')).not.toContain('text/html');
  });
});

describe('explorer in a browser', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it('renders GraphiQL offline, with the examples and headers, and runs a query', { timeout: 120_000 }, async (ctx) => {
    ctx.skip(SKIP_BROWSER, SKIP_REASON);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 800 } });
    const requests: string[] = [];
    const problems: string[] = [];
    // Record every request; let only our loopback origin through.
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${harness.origin}/`) || url.startsWith('data:')) await route.continue();
      else await route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console.${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`requestfailed: ${request.url()} ${request.failure()?.errorText}`));

    const response = await page.goto(`${harness.origin}/graphql`);
    expect(response?.status()).toBe(200);

    // GraphiQL mounted, schema introspected (the doc explorer / query editor are live).
    await page.locator('.graphiql-container').waitFor();
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();

    // One tab per example, titled by operation name, first one active.
    const tabs = page.locator('.graphiql-tab');
    await expect.poll(() => tabs.count()).toBe(3);
    expect(await tabs.allInnerTexts()).toEqual(['Hello', 'Plain hello', 'Hostile']);
    await expect.poll(() => tabs.nth(0).getAttribute('aria-selected')).toBe('true');

    const editorValue = (selector: string) =>
      page.evaluate((sel) => {
        const element = document.querySelector(sel) as (Element & { CodeMirror?: { getValue(): string } }) | null;
        return element?.CodeMirror?.getValue() ?? null;
      }, selector);
    expect(await editorValue('.graphiql-query-editor .CodeMirror')).toContain('query Hello($name: String)');

    // Headers editor is open and prefilled.
    const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
    await headersEditor.waitFor();
    const headersText = await page.evaluate(() => {
      const editors = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')];
      const visible = editors.find((e) => !e.classList.contains('hidden'));
      const cm = visible?.querySelector('.CodeMirror') as (Element & { CodeMirror?: { getValue(): string } }) | null;
      return cm?.CodeMirror?.getValue() ?? null;
    });
    expect(JSON.parse(headersText ?? 'null')).toEqual({ 'x-api-key': API_KEY });
    await expect.poll(() => page.locator('.graphiql-editor-tools button[data-name="headers"]').getAttribute('class')).toMatch(/\bactive\b/);
    expect(await page.locator('.graphiql-editor-tool').getAttribute('aria-label')).toBe('Headers');

    // Run the first example; the result pane shows the answer.
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorValue('.result-window .CodeMirror'), { timeout: 15_000 }).toContain('"hello": "Hello, Ada!"');
    expect(harness.apiKeysSeen).toContain(API_KEY);

    // The hostile example is inert text, not markup.
    expect(await page.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned)).toBeUndefined();

    await page.screenshot({ path: '/tmp/explorer.png' });

    // Other parts of the UI run under the CSP too: variables, docs, settings dialog, other tabs.
    await page.locator('.graphiql-editor-tools button[data-name="variables"]').click();
    await expect.poll(() => page.locator('.graphiql-editor-tool').getAttribute('aria-label')).toBe('Variables');
    await page.locator('button[aria-label="Show Documentation Explorer"]').click();
    await page.locator('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name', { hasText: 'Query' }).click({ timeout: 10_000 });
    await page.locator('.graphiql-doc-explorer a.graphiql-doc-explorer-field-name', { hasText: 'hello' }).waitFor({ timeout: 10_000 });
    await page.locator('button[aria-label="Open settings dialog"]').click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.locator('.graphiql-tab-button').nth(2).click();
    await expect.poll(() => editorValue('.graphiql-query-editor .CodeMirror')).toContain(HOSTILE);
    // GraphiQL re-derives the operation name 100 ms (debounced) after a tab switch; running
    // before that would send the previous tab's name, so wait for the editor to settle.
    await expect
      .poll(() =>
        page.evaluate(() => {
          const element = document.querySelector('.graphiql-query-editor .CodeMirror') as (Element & { CodeMirror?: { operationName?: string | null } }) | null;
          return element?.CodeMirror?.operationName ?? null;
        }),
      )
      .toBe('Hostile');
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(() => editorValue('.result-window .CodeMirror'), { timeout: 15_000 }).toContain('Hello, \u003c/script>');

    // Nothing left the host: every request went to our loopback server.
    expect(requests.length).toBeGreaterThan(0);
    const external = requests.filter((url) => !url.startsWith(`${harness.origin}/`) && !url.startsWith('data:'));
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
