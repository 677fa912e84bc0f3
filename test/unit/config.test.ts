import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configPath, loadConfig, parseConfig, type SqlSourceConfig } from '../../src/config/index.js';

/** A source known to be `kind: sql`, for reading its SQL-only keys. */
const sql = (s: unknown) => s as SqlSourceConfig | undefined;

const good = `
store: { client: better-sqlite3, connection: ./gateway.sqlite }
sources:
  wms:
    kind: sql
    client: mysql2
    connection: \${WMS_DATABASE_URL}
    timeoutMs: 300
    maxAgeSeconds: 120
    stock: { table: bin_totals, columns: { sku: item_code, location: wh, onHand: qty, committed: picked_qty, asOf: updated_at } }
  erp:
    kind: sql
    client: better-sqlite3
    connection: data/erp.sqlite
    stock: { table: inv_balance, columns: { sku: item_no, location: site, onHand: qty }, where: { cancelled: 0, site: [A, B] } }
    cost: { table: item_cost, columns: { sku: item_no, unitCost: std_cost }, currency: EUR }
    items: { query: "select item_no as sku, descr as name from items" }
locations:
  - { id: DC-EAST, codes: { wms: EAST, erp: "East DC - ACME" }, latitude: 40.7, longitude: -74.0, priority: 1, channels: [web, retail] }
  - { id: IN-TRANSIT, codes: { erp: Transit }, sellable: false }
precedence:
  quantity: [wms, erp]
  cost: [erp]
  name: [erp]
defaults: { safetyStock: 3 }
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, '/etc/ig/test.yaml', env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('loads a good file with defaults, env interpolation and resolved paths', () => {
    const c = parseConfig(good, '/etc/ig/test.yaml', { WMS_DATABASE_URL: 'mysql://root@127.0.0.1:3306/wms' });
    expect(sql(c.sources.wms)?.connection).toBe('mysql://root@127.0.0.1:3306/wms');
    expect(sql(c.sources.erp)?.connection).toBe('/etc/ig/data/erp.sqlite');
    expect(c.store.connection).toBe('/etc/ig/gateway.sqlite');
    expect(c.sources.erp?.timeoutMs).toBe(2000);
    expect(c.sources.erp?.stalePolicy).toBe('count');
    expect(c.server).toEqual({
      host: '127.0.0.1',
      port: 4000,
      maxSkusPerQuery: 500,
      maxScanSkus: 10_000,
      explorer: true,
      shutdownGraceMs: 10_000,
      drainIdleMs: 1_000,
      keepAliveTimeoutMs: 5_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      maxConnections: 1_000,
      executor: 'jit',
      fastPath: true,
      cacheControl: false,
      loopbackStatus: false,
    });
    expect(c.log).toEqual({});
    expect(c.locations[0]).toMatchObject({ id: 'DC-EAST', priority: 1, sellable: true, safetyStock: 3 });
    expect(c.locations[1]).toMatchObject({ sellable: false, priority: 100 });
    expect(c.precedence).toEqual({ quantity: ['wms', 'erp'], cost: ['erp'], name: ['erp'] });
  });

  it('takes the execution, status and log switches from the environment through ${VAR:-default}', () => {
    const text = `${good}\nserver:\n  executor: \${INVENTORY_GRAPH_EXECUTOR:-jit}\n  fastPath: \${INVENTORY_GRAPH_FAST_PATH:-on}\n  cacheControl: \${INVENTORY_GRAPH_CACHE_CONTROL:-off}\n  loopbackStatus: \${INVENTORY_GRAPH_LOOPBACK_STATUS:-off}\nlog:\n  level: \${LOG_LEVEL:-info}\n`;
    const env = { WMS_DATABASE_URL: 'mysql://root@127.0.0.1:3306/wms' };
    const unset = parseConfig(text, '/x.yaml', env);
    expect(unset.server).toMatchObject({ executor: 'jit', fastPath: true, cacheControl: false, loopbackStatus: false });
    expect(unset.log.level).toBe('info');
    const set = parseConfig(text, '/x.yaml', {
      ...env,
      INVENTORY_GRAPH_EXECUTOR: 'graphql-js',
      INVENTORY_GRAPH_FAST_PATH: 'off',
      INVENTORY_GRAPH_CACHE_CONTROL: 'on',
      INVENTORY_GRAPH_LOOPBACK_STATUS: 'true',
      LOG_LEVEL: 'silent',
    });
    expect(set.server).toMatchObject({ executor: 'graphql-js', fastPath: false, cacheControl: true, loopbackStatus: true });
    expect(set.log.level).toBe('silent');
    const bad = () => parseConfig(text, '/x.yaml', { ...env, INVENTORY_GRAPH_FAST_PATH: 'maybe', INVENTORY_GRAPH_EXECUTOR: 'fast', LOG_LEVEL: 'loud' });
    expect(bad).toThrow(/server\.fastPath: must be true or false \(or on \/ off\)/);
    expect(bad).toThrow(/server\.executor: /);
    expect(bad).toThrow(/log\.level: /);
  });

  it('supports ${VAR:-default}', () => {
    const c = parseConfig(good.replace('${WMS_DATABASE_URL}', '${WMS_DATABASE_URL:-mysql://root@127.0.0.1/x}'), '/x.yaml', {});
    expect(sql(c.sources.wms)?.connection).toBe('mysql://root@127.0.0.1/x');
  });

  it('reports every problem at once, each with its key path', () => {
    const bad = good
      .replace('sku: item_code, ', '')
      .replace('timeoutMs: 300', 'timeoutMs: -1\n    colour: blue')
      .replace('quantity: [wms, erp]', 'quantity: [wms, tpl, erp]')
      .replace('name: [erp]', 'name: [wms]')
      .replace('{ id: IN-TRANSIT, codes: { erp: Transit }', '{ id: DC-EAST, codes: { erp: Transit, shop: S1 }');
    expect(problems(bad)).toEqual(
      expect.arrayContaining([
        'sources.wms.connection: environment variable WMS_DATABASE_URL is not set',
        'sources.wms.timeoutMs: Too small: expected number to be >0',
        'sources.wms.colour: unknown key',
        'sources.wms.stock.columns.sku: required',
        'precedence.quantity[1]: unknown source "tpl" (known: wms, erp)',
        'precedence.name[0]: source "wms" maps no `items`',
        'locations[1].id: "DC-EAST" is also locations[0]',
        'locations[1].codes.shop: unknown source "shop"',
      ]),
    );
  });

  it('rejects unknown keys at every level', () => {
    const p = problems(`${good.replace('store:', 'stores: 1\nstore:')}`, { WMS_DATABASE_URL: 'mysql://x@h/d' });
    expect(p).toEqual(['stores: unknown key (did you mean "store"?)']);
  });

  it('checks mappings: table or query, read-only, single statement', () => {
    const env = { WMS_DATABASE_URL: 'mysql://x@h/d' };
    expect(problems(good.replace('items: { query: "select item_no as sku, descr as name from items" }', 'items: { query: "delete from items" }'), env)).toEqual(
      ['sources.erp.items.query: must be a read-only SELECT (or WITH ... SELECT)'],
    );
    expect(
      problems(good.replace('items: { query: "select item_no as sku, descr as name from items" }', 'items: { query: "select 1 as sku; drop table x" }'), env),
    ).toEqual(['sources.erp.items.query: must be a single statement']);
    expect(problems(good.replace('items: { query: "select item_no as sku, descr as name from items" }', 'items: { where: { a: 1 } }'), env)).toEqual([
      'sources.erp.items: needs either `table` (with `columns`) or `query`',
    ]);
    expect(problems(good.replace('currency: EUR', 'currency: euro'), env)).toEqual(['sources.erp.cost.currency: must be an ISO 4217 code such as USD']);
    expect(problems(good.replace(', currency: EUR', ''), env)).toEqual(['sources.erp.cost: needs `columns.currency` or a fixed `currency`']);
  });

  it('checks a mysql2 connection is a URL', () => {
    expect(problems(good, { WMS_DATABASE_URL: '127.0.0.1:3306' })).toEqual([
      'sources.wms.connection: mysql2 needs a URL such as mysql://user:pass@127.0.0.1:3306/db',
    ]);
  });

  it('takes pg for a source with a postgres:// URL, and for the store refuses it', () => {
    const pgSource = good.replace('client: mysql2', 'client: pg');
    const c = parseConfig(pgSource, '/etc/ig/test.yaml', { WMS_DATABASE_URL: 'postgres://odoo@127.0.0.1:5432/odoo' });
    expect(sql(c.sources.wms)?.client).toBe('pg');
    expect(sql(c.sources.wms)?.connection).toBe('postgres://odoo@127.0.0.1:5432/odoo');
    expect(problems(pgSource, { WMS_DATABASE_URL: 'mysql://root@127.0.0.1:3306/wms' })).toEqual([
      'sources.wms.connection: pg needs a URL such as postgres://user:pass@127.0.0.1:5432/db',
    ]);
    expect(
      problems(good.replace('client: better-sqlite3, connection: ./gateway.sqlite', 'client: pg, connection: "postgres://x@h/d"'), {
        WMS_DATABASE_URL: 'mysql://x@h/d',
      })[0],
    ).toMatch(/^store\.client: /);
    // a pg source may be mirrored (knex streams it with pg-query-stream): test/presets/odoo.test.ts loads one
    const mirrored = parseConfig(pgSource.replace('timeoutMs: 300', 'timeoutMs: 300\n    sync: { mode: mirror }'), '/etc/ig/test.yaml', {
      WMS_DATABASE_URL: 'postgres://x@h/d',
    });
    expect(mirrored.sources.wms?.sync.mode).toBe('mirror');
  });

  it("checks the connection limits: positive, and the whole request has at least the headers' time", () => {
    const env = { WMS_DATABASE_URL: 'mysql://x@h/d' };
    expect(problems(`${good}server: { headersTimeoutMs: 40000 }\n`, env)).toEqual([
      'server.requestTimeoutMs: 30000 is less than server.headersTimeoutMs (40000); the headers are part of the request',
    ]);
    expect(problems(`${good}server: { keepAliveTimeoutMs: 0, maxConnections: 0 }\n`, env)).toEqual([
      'server.keepAliveTimeoutMs: Too small: expected number to be >=1',
      'server.maxConnections: Too small: expected number to be >=1',
    ]);
    // an idle keep-alive connection is not subject to the headers timeout (Node >= 18): no ordering between the two
    expect(parseConfig(`${good}server: { keepAliveTimeoutMs: 65000, headersTimeoutMs: 10000 }\n`, '/x.yaml', env).server.keepAliveTimeoutMs).toBe(65_000);
  });

  it('checks the reservations section against itself, and reads an orders mapping', () => {
    const env = { WMS_DATABASE_URL: 'mysql://x@h/d' };
    const c = parseConfig(good, '/x.yaml', env);
    expect(c.reservations).toMatchObject({
      defaultTtlSeconds: 900,
      maxTtlSeconds: 14_400,
      confirmedHoldSeconds: 3_600,
      idempotencyWindowSeconds: 86_400,
      maxLines: 100,
    });
    expect(problems(`${good}reservations: { defaultTtlSeconds: 20000, keepSeconds: 600, maxLines: 501, maxTtlSeconds: 0 }\n`, env)).toEqual([
      'reservations.maxTtlSeconds: Too small: expected number to be >=1',
      'reservations.keepSeconds: 600 is less than reservations.confirmedHoldSeconds (3600); a confirmed hold must not be deleted while it counts',
      'reservations.keepSeconds: 600 is less than reservations.idempotencyWindowSeconds (86400); a replayed key must still find its reservation',
      'reservations.defaultTtlSeconds: 20000 exceeds reservations.maxTtlSeconds (0)',
      'reservations.maxLines: 501 exceeds server.maxSkusPerQuery (500); a reservation is read in one availability call',
    ]);
    const withOrders = good.replace('    timeoutMs: 300\n', '    timeoutMs: 300\n    orders: { table: so_lines, columns: { reference: order_no } }\n');
    expect(sql(parseConfig(withOrders, '/x.yaml', env).sources.wms)?.orders).toEqual({ table: 'so_lines', columns: { reference: 'order_no' } });
    expect(problems(withOrders.replace('columns: { reference: order_no }', 'columns: { ref: order_no }'), env)[0]).toMatch(/^sources\.wms\.orders\.columns/);
  });

  it('reports YAML syntax errors with a line and a column', () => {
    expect(problems('sources:\n  wms: [unclosed\n')[0]).toMatch(/^line [1-9]\d*, column [1-9]\d*: /);
  });

  it('reports a missing file', () => {
    expect(() => loadConfig('/nonexistent/ig.yaml')).toThrowError(/cannot read the file \(ENOENT\)/);
  });

  it('reads the file named by --config, then INVENTORY_GRAPH_CONFIG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ig-config-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, good);
    expect(configPath(['start', '--config', file], {})).toBe(file);
    expect(configPath(['start', `--config=${file}`], {})).toBe(file);
    expect(configPath(['start'], { INVENTORY_GRAPH_CONFIG: file })).toBe(file);
    expect(sql(loadConfig(file, { WMS_DATABASE_URL: 'mysql://a@b/c' }).sources.erp)?.connection).toBe(join(dir, 'data/erp.sqlite'));
  });
});
