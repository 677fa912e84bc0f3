/**
 * One JSON log line per request, through pino, with the fields an operator searches by, and
 * never the API key.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { prepareDemo } from '../../src/cli/start.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger, errorFields } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import type { Role } from '../../src/server/auth.js';
import { DEMO_NOW, liveOnly, withOverride, withoutEvents } from '../helpers/demo-app.js';

type Line = Record<string, unknown> & { msg: string; level: string };

const lines: string[] = [];
let app: App;
let keys: Record<Role, string>;
let url: string;
let origin: string;

const parsed = (): Line[] => lines.map((l) => JSON.parse(l) as Line);
const requestLines = (id: string) => parsed().filter((l) => l.msg === 'request' && l.requestId === id);

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ig-log-'));
  await generateDemo({ dir, skus: 200, now: DEMO_NOW });
  ({ keys } = await prepareDemo(dir, { generate: false }));
  // debug: every request's line, health probes and scrapes included
  // /status.json from this host without a key: the request line names the loopback principal
  const file = join(dir, 'inventory-graph.yaml');
  writeFileSync(file, withOverride(withoutEvents(liveOnly(readFileSync(file, 'utf8'))), { server: { loopbackStatus: true } }));
  app = await createApp(loadConfig(file), { logger: createLogger('debug', (l) => lines.push(l)) });
  url = await app.listen(0, '127.0.0.1');
  origin = new URL(url).origin;
});
afterAll(async () => {
  await app?.close();
});

const post = (body: unknown, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('request log', () => {
  it('writes one line per GraphQL request with id, operation, duration, sources, statements, status and key name', async () => {
    const res = await post(
      { query: 'query LogAvailability($skus: [ID!]!) { availability(skus: $skus) { sku available } }', variables: { skus: ['SKU-000001', 'SKU-000002'] } },
      { 'x-api-key': keys.analyst, 'x-request-id': 'log-test-1' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('log-test-1');
    await res.text();
    await expect.poll(() => requestLines('log-test-1').length).toBe(1);
    const [line] = requestLines('log-test-1');
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request',
      requestId: 'log-test-1',
      method: 'POST',
      path: '/graphql',
      route: 'graphql',
      status: 200,
      keyName: 'demo-analyst',
      role: 'analyst',
      operation: 'LogAvailability',
      operationType: 'query',
      sources: ['erp', 'tpl', 'wms'],
      statements: 3,
      statementsBy: { 'erp/stock': 1, 'tpl/stock': 1, 'wms/stock': 1 },
    });
    expect(typeof line!.durationMs).toBe('number');
    expect(line!.durationMs as number).toBeGreaterThan(0);
    expect(typeof line!.time).toBe('string');
    expect(line!.pid).toBe(process.pid);
    expect(line!.cost).toBeGreaterThan(0);
  });

  it('logs refused, failed and non-GraphQL requests once each, with their status', async () => {
    const cases: Array<{ id: string; run: (h: Record<string, string>) => Promise<Response>; expect: Record<string, unknown> }> = [
      { id: 'log-401', run: (h) => post({ query: '{ viewer { name } }' }, h), expect: { status: 401, keyName: null, route: 'graphql', level: 'info' } },
      {
        id: 'log-403',
        run: (h) => post({ query: '{ sources { name } }' }, { ...h, 'x-api-key': keys.storefront }),
        expect: { status: 200, keyName: 'demo-storefront', role: 'storefront', operation: null, operationType: 'query', errors: ['FORBIDDEN'] },
      },
      {
        id: 'log-parse',
        run: (h) => post({ query: '{ nope' }, { ...h, 'x-api-key': keys.admin }),
        expect: { status: 400, operation: null, errors: ['GRAPHQL_PARSE_FAILED'] },
      },
      {
        id: 'log-status',
        run: (h) => fetch(`${origin}/status.json`, { headers: h }),
        expect: { status: 200, route: 'status', keyName: 'loopback', level: 'info' },
      },
      { id: 'log-healthz', run: (h) => fetch(`${origin}/healthz`, { headers: h }), expect: { status: 200, route: 'health', level: 'debug' } },
      { id: 'log-metrics', run: (h) => fetch(`${origin}/metrics`, { headers: h }), expect: { status: 200, route: 'metrics', level: 'debug' } },
      { id: 'log-404', run: (h) => fetch(`${origin}/nowhere`, { headers: h }), expect: { status: 404, route: 'other', level: 'info' } },
    ];
    for (const c of cases) await (await c.run({ 'x-request-id': c.id })).text();
    for (const c of cases) {
      await expect.poll(() => requestLines(c.id).length, { message: c.id }).toBe(1);
      expect(requestLines(c.id)[0], c.id).toMatchObject(c.expect);
    }
  });

  it('never writes an API key, whatever the request carried', async () => {
    await (await post({ query: '{ viewer { name } }' }, { authorization: `Bearer ${keys.admin}`, 'x-request-id': 'log-keys' })).text();
    await (await post({ query: '{ viewer { name } }' }, { 'x-api-key': 'ig_wrong-key-never-logged' })).text();
    await (await fetch(`${origin}/status.json`, { headers: { 'x-api-key': keys.analyst, 'x-forwarded-for': '198.51.100.1' } })).text();
    await expect.poll(() => requestLines('log-keys').length).toBe(1);
    const all = lines.join('');
    for (const k of [...Object.values(keys), 'ig_wrong-key-never-logged']) expect(all).not.toContain(k);
    // pino redacts credential-looking fields even if a caller logs them by mistake
    const out: string[] = [];
    createLogger('info', (l) => out.push(l)).info('oops', { authorization: 'Bearer secret1', headers: { 'x-api-key': 'secret2' }, apiKey: 'secret3' });
    expect(out.join('')).not.toMatch(/secret\d/);
  });

  it('keeps the logger interface: levels, fields, errorFields with code and stack', () => {
    const out: string[] = [];
    const log = createLogger('warn', (l) => out.push(l));
    log.info('dropped');
    const e = Object.assign(new Error('boom'), { code: 'ECONNREFUSED' });
    log.error('failed', { source: 'wms', ...errorFields(e) });
    expect(out).toHaveLength(1);
    const line = JSON.parse(out[0]!) as Line & { err: Record<string, unknown> };
    expect(line).toMatchObject({ level: 'error', msg: 'failed', source: 'wms', err: { name: 'Error', message: 'boom', code: 'ECONNREFUSED' } });
    expect(line.err.stack).toContain('boom');
    expect(() => createLogger('silent').error('nothing')).not.toThrow();
  });
});
