/**
 * Self-hosted GraphiQL explorer.
 *
 * Apollo's default landing page pulls its code from a CDN, which fails on a
 * closed network. This module serves a GraphiQL 3 explorer entirely from our
 * own node_modules (the UMD builds of graphiql@3, react@18 and react-dom@18),
 * so opening the endpoint in a browser makes no request that leaves the host.
 *
 * The assets are read once when `createExplorer` is called and kept in memory.
 * Only a fixed allow-list of asset names is served (no file system lookups per
 * request, so no path traversal). The page is built once for fixed examples, or
 * per request when the examples come from a function (the gateway's are filled in
 * from its data: src/server/examples.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Kind, parse } from 'graphql';

export interface ExplorerOptions {
  /** Path of the GraphQL endpoint, e.g. '/graphql'. The fetcher posts here (same origin). */
  endpoint: string;
  /** Page title; defaults to 'inventory-graph'. */
  title?: string;
  /** Prefilled into GraphiQL's headers editor (every example tab and new tabs); editable by the user. */
  headers?: Record<string, string>;
  /**
   * Preloaded operations, one tab each; the first one is active. A tab is titled
   * with the example's `name` (GraphiQL itself titles a tab with the operation's
   * name, which cannot hold spaces: the page relabels it while the operation keeps
   * that name). An example whose query is a single anonymous operation is given an
   * operation name derived from `name`. A function is called for every page
   * (the examples may change with the data); the handler then answers pages with a promise.
   */
  examples: Example[] | (() => Promise<Example[]>);
}

export interface Example {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
}

export interface StaticResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export type ExplorerHandler = (method: string, path: string, accept: string | undefined) => StaticResponse | undefined;
/** The handler of an explorer whose examples are read per page: pages come as promises, assets at once. */
export type LiveExplorerHandler = (method: string, path: string, accept: string | undefined) => StaticResponse | Promise<StaticResponse> | undefined;

/** Extra page path that also opens the explorer (besides the endpoint itself). */
const ALIAS_PATH = '/graphiql';

/**
 * Hashes of the only inline `<style>` GraphiQL injects: when a dialog or dropdown
 * opens (settings, short keys, operation picker), Radix's scroll lock
 * (react-remove-scroll-bar) adds a `<style>` whose text depends only on the
 * scrollbar gap. The page never scrolls (EXPLORER_CSS), so the gap is always 0
 * and the text is fixed for the installed graphiql@3.8.3. If a graphiql update
 * changes it, the browser test fails on the CSP console error (the dialog still
 * works; only that style is dropped) and the printed hash goes here.
 */
const STYLE_HASHES = ["'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='"];

/**
 * Content-Security-Policy of the page. Everything comes from our own origin; the
 * bootstrap code is an external file and the configuration a non-executable
 * JSON data block, so no inline script hash or nonce is needed. `data:` fonts
 * are the typefaces embedded in graphiql.min.css; `data:` images cover its
 * inline SVG backgrounds.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  `style-src 'self' ${STYLE_HASHES.join(' ')}`,
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** Browser code that mounts GraphiQL. Served as a file so the CSP needs no 'unsafe-inline'. */
const BOOTSTRAP_JS = `(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var configElement = document.getElementById('explorer-config');
  if (!root || !configElement) return;
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    root.textContent = 'The GraphiQL explorer failed to load its scripts.';
    return;
  }
  var config = JSON.parse(configElement.textContent || '{}');

  // Tabs, queries and headers live in memory only: with shouldPersistHeaders off,
  // GraphiQL would store tabs without their headers and bring back stale tabs
  // instead of the examples on the next visit. Only the theme choice is kept.
  var PERSISTED = { 'graphiql:theme': true };
  var memory = new Map();
  function local() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  var storage = {
    getItem: function (key) {
      if (PERSISTED[key]) { var ls = local(); try { return ls ? ls.getItem(key) : null; } catch (e) { return null; } }
      return memory.has(key) ? memory.get(key) : null;
    },
    setItem: function (key, value) {
      if (PERSISTED[key]) { var ls = local(); try { if (ls) ls.setItem(key, String(value)); } catch (e) { /* ignore */ } return; }
      memory.set(key, String(value));
    },
    removeItem: function (key) {
      if (PERSISTED[key]) { var ls = local(); try { if (ls) ls.removeItem(key); } catch (e) { /* ignore */ } return; }
      memory.delete(key);
    },
    clear: function () { memory.clear(); },
    key: function (index) { var keys = Array.from(memory.keys()); return index < keys.length ? keys[index] : null; },
    get length() { return memory.size; }
  };

  var fetcher = window.GraphiQL.createFetcher({ url: config.endpoint });
  var props = {
    fetcher: fetcher,
    storage: storage,
    defaultTabs: config.tabs,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    showPersistHeadersSettings: false
  };
  if (config.headers) props.defaultHeaders = config.headers;
  // GraphiQL 3 fills the variables editor of the first tab from the \`variables\`
  // prop only (not from defaultTabs[0].variables), so pass them explicitly.
  var first = config.tabs && config.tabs[0];
  if (first && first.variables) props.variables = first.variables;
  if (config.editorTools) props.defaultEditorToolsVisibility = config.editorTools;
  window.ReactDOM.createRoot(root).render(window.React.createElement(window.GraphiQL, props));

  // GraphiQL titles a tab with its operation's name (NegativeStock); show the example's task
  // title instead ("Negative stock"). React rewrites a tab's text only when its title changes
  // (the operation renamed), and then this puts the task title back if the name is still one.
  var titles = config.titles || {};
  function relabel() {
    var buttons = root.querySelectorAll('.graphiql-tab-button');
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      var title = Object.prototype.hasOwnProperty.call(titles, button.textContent) ? titles[button.textContent] : null;
      if (title !== null && button.textContent !== title) {
        button.setAttribute('data-operation', button.textContent);
        button.textContent = title;
      }
    }
  }
  if (window.MutationObserver) new window.MutationObserver(relabel).observe(root, { childList: true, subtree: true, characterData: true });
})();
`;

// overflow on <html> (not <body>): the viewport never scrolls, so the scroll lock
// of GraphiQL's dialogs always computes a zero scrollbar gap (see STYLE_HASHES).
const EXPLORER_CSS = `html { overflow: hidden; }
html, body, #graphiql { height: 100%; margin: 0; }
#graphiql > .explorer-loading { font: 14px/1.5 system-ui, sans-serif; padding: 16px; color: #555; }
`;

interface Asset {
  contentType: string;
  body: Buffer;
  version: string;
}

function makeAsset(contentType: string, body: Buffer | string): Asset {
  const buffer = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { contentType, body: buffer, version: createHash('sha256').update(buffer).digest('hex').slice(0, 16) };
}

/** Drops the trailing `sourceMappingURL` comment: the maps are not served, so devtools would 404 on them. */
function stripSourceMap(source: Buffer): Buffer {
  const text = source.toString('utf8');
  return Buffer.from(text.replace(/\n?\/[/*]# sourceMappingURL=[^\n]*\s*$/, '\n'), 'utf8');
}

let vendorCache: Map<string, Asset> | undefined;

/** The vendor files, read from node_modules once per process. */
function vendorAssets(): Map<string, Asset> {
  if (vendorCache) return vendorCache;
  const require = createRequire(import.meta.url);
  const packageDir = (name: string): string => dirname(require.resolve(`${name}/package.json`));
  const read = (name: string, file: string): Buffer => stripSourceMap(readFileSync(join(packageDir(name), file)));
  vendorCache = new Map<string, Asset>([
    ['react.production.min.js', makeAsset(JS, read('react', 'umd/react.production.min.js'))],
    ['react-dom.production.min.js', makeAsset(JS, read('react-dom', 'umd/react-dom.production.min.js'))],
    ['graphiql.min.js', makeAsset(JS, read('graphiql', 'graphiql.min.js'))],
    ['graphiql.min.css', makeAsset(CSS, read('graphiql', 'graphiql.min.css'))],
  ]);
  return vendorCache;
}

/** JSON for embedding in an HTML `<script type="application/json">` block. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * True when the Accept header asks for HTML at least as much as for a GraphQL
 * JSON response (`text/html` listed with q > 0, and not ranked below
 * application/json or application/graphql-response+json).
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';');
    const type = (rawType ?? '').trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() === 'q') {
        const parsed = Number(value?.trim());
        q = Number.isFinite(parsed) ? parsed : 0;
      }
    }
    if (type === 'text/html') html = Math.max(html, q);
    else if (type === 'application/json' || type === 'application/graphql-response+json') json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}

/** 'Stock by SKU' -> 'StockBySKU'; undefined when nothing usable remains. */
function toOperationName(name: string): string | undefined {
  const words = name.split(/[^A-Za-z0-9_]+/).filter(Boolean);
  let result = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  if (/^[0-9]/.test(result)) result = `_${result}`;
  return /^[_A-Za-z][_0-9A-Za-z]*$/.test(result) ? result : undefined;
}

/**
 * GraphiQL titles tabs with the operation name. For a document holding a single
 * anonymous operation, insert a name derived from the example's name so the tab
 * shows it; anything else (named, several operations, unparsable) is left as is.
 */
export function nameAnonymousOperation(query: string, name: string): string {
  let document;
  try {
    document = parse(query);
  } catch {
    return query;
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const [operation] = operations;
  if (operations.length !== 1 || !operation || operation.name || !operation.loc) return query;
  const operationName = toOperationName(name);
  if (!operationName) return query;
  const start = operation.loc.start;
  if (query.charAt(start) === '{') {
    return `${query.slice(0, start)}query ${operationName} ${query.slice(start)}`;
  }
  if (query.startsWith(operation.operation, start)) {
    const end = start + operation.operation.length;
    return `${query.slice(0, end)} ${operationName}${query.slice(end)}`;
  }
  return query;
}

function normalizePath(path: string): string {
  const cut = path.search(/[?#]/);
  return cut === -1 ? path : path.slice(0, cut);
}

/**
 * Returns a request handler that answers the explorer's page and assets, or undefined for
 * anything else; with examples from a function, it answers pages with a promise.
 */
export function createExplorer(options: ExplorerOptions & { examples: Example[] }): ExplorerHandler;
export function createExplorer(options: ExplorerOptions): LiveExplorerHandler;
export function createExplorer(options: ExplorerOptions): LiveExplorerHandler {
  if (!options.endpoint.startsWith('/')) {
    throw new Error(`explorer endpoint must be a path starting with '/', got ${JSON.stringify(options.endpoint)}`);
  }
  const endpoint = options.endpoint.length > 1 ? options.endpoint.replace(/\/+$/, '') : options.endpoint;
  const prefix = `${endpoint === '/' ? '' : endpoint}/explorer/`;
  const pagePaths = new Set([endpoint, ALIAS_PATH]);

  const assets = new Map(vendorAssets());
  assets.set('explorer.js', makeAsset(JS, BOOTSTRAP_JS));
  assets.set('explorer.css', makeAsset(CSS, EXPLORER_CSS));

  const title = options.title ?? 'inventory-graph';
  const render = (examples: readonly Example[]): Buffer =>
    pageHtml(examples, { endpoint, title, headers: options.headers, src: (name) => `${prefix}${name}?v=${assets.get(name)?.version ?? ''}` });
  const examples = options.examples;
  const fixed = typeof examples === 'function' ? undefined : render(examples);
  // The page may carry prefilled credentials (headers): never cached.
  const pageHeaders = htmlPageHeaders(CSP);
  const pageResponse = (page: Buffer, head: boolean): StaticResponse => ({
    status: 200,
    headers: { ...pageHeaders, 'content-length': String(page.length) },
    body: head ? '' : page,
  });

  return (method: string, rawPath: string, accept: string | undefined): StaticResponse | Promise<StaticResponse> | undefined => {
    const path = normalizePath(rawPath);
    const upper = method.toUpperCase();
    const readOnly = upper === 'GET' || upper === 'HEAD';

    if (pagePaths.has(path)) {
      if (!readOnly || !prefersHtml(accept)) return undefined;
      if (fixed !== undefined) return pageResponse(fixed, upper === 'HEAD');
      return (examples as () => Promise<Example[]>)().then((e) => pageResponse(render(e), upper === 'HEAD'));
    }

    if (!path.startsWith(prefix)) return undefined;
    const name = path.slice(prefix.length);
    const asset = assets.get(name);
    if (!asset) {
      return {
        status: 404,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
        body: 'Not found\n',
      };
    }
    if (!readOnly) {
      return {
        status: 405,
        headers: { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' },
        body: 'Method not allowed\n',
      };
    }
    return {
      status: 200,
      headers: {
        'content-type': asset.contentType,
        'content-length': String(asset.body.length),
        // URLs in the page carry ?v=<content hash>, so a new version gets a new URL.
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      },
      body: upper === 'HEAD' ? '' : asset.body,
    };
  };
}

/** GraphiQL's own title for a tab holding `query` (its fuzzyExtractOperationName): the first operation's name. */
export function graphiqlTabTitle(query: string): string | null {
  return /^(?!#).*(query|subscription|mutation)\s+([a-zA-Z0-9_]+)/m.exec(query)?.[2] ?? null;
}

/** The explorer's page for `examples`: the GraphiQL bootstrap's configuration in a JSON block. */
function pageHtml(
  examples: readonly Example[],
  o: { endpoint: string; title: string; headers: Record<string, string> | undefined; src: (asset: string) => string },
): Buffer {
  const headersText = o.headers && Object.keys(o.headers).length > 0 ? JSON.stringify(o.headers, null, 2) : undefined;
  const tabs = examples.map((example) => ({
    query: nameAnonymousOperation(example.query, example.name),
    variables: example.variables === undefined ? null : JSON.stringify(example.variables, null, 2),
    headers: headersText ?? null,
  }));
  // operation name -> task title, for the tabs GraphiQL titles by operation name
  const titles: Record<string, string> = {};
  tabs.forEach((tab, i) => {
    const name = graphiqlTabTitle(tab.query);
    const example = examples[i] as Example;
    if (name !== null && name !== example.name && !Object.prototype.hasOwnProperty.call(titles, name)) titles[name] = example.name;
  });
  const firstHasVariables = examples[0]?.variables !== undefined;
  const config = {
    endpoint: o.endpoint,
    tabs: tabs.length > 0 ? tabs : undefined,
    titles,
    headers: headersText,
    // Open the tools pane on the headers when there are some to show (e.g. an API key).
    editorTools: headersText ? 'headers' : firstHasVariables ? 'variables' : undefined,
  };
  const src = o.src;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(o.title)}</title>
<link rel="stylesheet" href="${escapeHtml(src('graphiql.min.css'))}">
<link rel="stylesheet" href="${escapeHtml(src('explorer.css'))}">
</head>
<body>
<div id="graphiql"><div class="explorer-loading">Loading the GraphiQL explorer…<noscript> (it needs JavaScript)</noscript></div></div>
<script type="application/json" id="explorer-config">${jsonForHtml(config)}</script>
<script src="${escapeHtml(src('react.production.min.js'))}"></script>
<script src="${escapeHtml(src('react-dom.production.min.js'))}"></script>
<script src="${escapeHtml(src('graphiql.min.js'))}"></script>
<script src="${escapeHtml(src('explorer.js'))}"></script>
</body>
</html>
`;
  return Buffer.from(html, 'utf8');
}

/** Headers for an HTML page of ours: its CSP, never cached, not sniffed, framed or referred. */
export function htmlPageHeaders(csp: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': csp,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}
