/**
 * /metrics on the real server: every series the dashboard uses exists, and the counters move
 * after a query. Plus the bounded operation label.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCountsOf } from '../../src/server/finalize.js';
import { OperationLabels, errorCodeLabel } from '../../src/server/metrics.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

/** Every metric family of src/server/metrics.ts (process metrics aside). */
const FAMILIES = [
  'inventory_graph_graphql_request_duration_seconds',
  'inventory_graph_source_read_duration_seconds',
  'inventory_graph_source_errors_total',
  'inventory_graph_source_statements_total',
  'inventory_graph_source_breaker_state',
  'inventory_graph_source_status',
  'inventory_graph_source_freshness_seconds',
  'inventory_graph_source_max_age_seconds',
  'inventory_graph_source_reads_in_flight',
  'inventory_graph_source_reads_queued',
  'inventory_graph_anomalies_open',
  'inventory_graph_reservations_counting',
  'inventory_graph_reserved_units',
  'inventory_graph_anomaly_writes_queued',
  'inventory_graph_anomaly_writes_dropped_total',
  'inventory_graph_reconciliation_last_run_timestamp_seconds',
  'inventory_graph_reconciliation_last_run_lines',
  'inventory_graph_reconciliation_last_run_abs_units',
  'inventory_graph_compiled_operation_cache_requests_total',
  'inventory_graph_compiled_operation_cache_hit_ratio',
  'inventory_graph_compiled_operation_cache_size',
  'inventory_graph_graphql_errors_total',
  'inventory_graph_build_info',
];

/** Samples of the exposition text: `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The value of the one sample of `name` whose labels include all of `labels` (0 when there is none). */
function value(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let found = 0;
  for (const [k, v] of samples) {
    const brace = k.indexOf('{');
    if ((brace === -1 ? k : k.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([l, lv]) => k.includes(`${l}="${lv}"`))) found += v;
  }
  return found;
}

let demo: DemoApp;
let origin: string;
const scrape = async () => {
  const res = await fetch(`${origin}/metrics`, { headers: { 'x-api-key': demo.keys.analyst } });
  expect(res.status).toBe(200);
  return { res, text: await res.text() };
};

beforeAll(async () => {
  demo = await startDemoApp({ skus: 300 });
  origin = new URL(demo.url).origin;
});
afterAll(async () => {
  await demo?.close();
});

describe('/metrics', () => {
  it('exposes every family, with the Prometheus content type, and process metrics', async () => {
    const { res, text } = await scrape();
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    for (const f of FAMILIES) expect(text, f).toContain(`# TYPE ${f} `);
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    const s = parse(text);
    // every source has its breaker, status and error series from the start
    for (const source of ['erp', 'wms', 'shop', 'tpl']) {
      expect(s.has(`inventory_graph_source_breaker_state{source="${source}"}`), source).toBe(true);
      expect(s.get(`inventory_graph_source_status{source="${source}"}`), source).toBe(0);
      expect(s.has(`inventory_graph_source_errors_total{source="${source}",kind="timeout"}`), source).toBe(true);
    }
    expect(s.get('inventory_graph_source_max_age_seconds{source="tpl"}')).toBeGreaterThan(0);
    // the version of package.json and the Node.js that runs it
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(s.get(`inventory_graph_build_info{version="${version}",node="${process.version}"}`)).toBe(1);
    expect(value(s, 'inventory_graph_build_info')).toBe(1);
  });

  it('moves after a query: request histogram by operation, statements, reads, freshness, cache, anomalies', async () => {
    const before = parse((await scrape()).text);
    const sku = demo.facts.negativeWms[0]!;
    const query = 'query ObsAvailability($skus: [ID!]!) { availability(skus: $skus) { sku available byLocation { location { id } provenance { source } } } }';
    for (let i = 0; i < 2; i++) {
      const r = await demo.gql(query, { skus: [sku, 'SKU-000002'] }, { 'x-api-key': demo.keys.analyst });
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
    }
    await demo.gql('{ viewer { name } }');
    await demo.gql('{ nope');
    const after = parse((await scrape()).text);

    const count = (s: Map<string, number>, operation: string) =>
      value(s, 'inventory_graph_graphql_request_duration_seconds_count', { operation, status: '200' });
    expect(count(after, 'ObsAvailability') - count(before, 'ObsAvailability')).toBe(2);
    expect(count(after, '(anonymous)') - count(before, '(anonymous)')).toBe(1);
    expect(value(after, 'inventory_graph_graphql_request_duration_seconds_count', { operation: '(none)', status: '400' })).toBeGreaterThanOrEqual(1);
    expect(value(after, 'inventory_graph_graphql_request_duration_seconds_sum', { operation: 'ObsAvailability' })).toBeGreaterThan(0);

    for (const key of ['wms', 'erp', 'tpl']) {
      const stmts = (s: Map<string, number>) => value(s, 'inventory_graph_source_statements_total', { source: key, entity: 'stock' });
      expect(stmts(after) - stmts(before), key).toBe(2);
      const reads = (s: Map<string, number>) => value(s, 'inventory_graph_source_read_duration_seconds_count', { source: key, outcome: 'ok' });
      expect(reads(after) - reads(before), key).toBeGreaterThanOrEqual(2);
    }
    // the WMS's records are minutes old; the 3PL's file two days, past its max age
    const wmsAge = after.get('inventory_graph_source_freshness_seconds{source="wms"}')!;
    expect(wmsAge).toBeGreaterThan(0);
    expect(wmsAge).toBeLessThan(3600);
    expect(after.get('inventory_graph_source_freshness_seconds{source="tpl"}')).toBeGreaterThan(
      after.get('inventory_graph_source_max_age_seconds{source="tpl"}')!,
    );

    // the same operation twice: compiled once, then found
    const hits = (s: Map<string, number>) => value(s, 'inventory_graph_compiled_operation_cache_requests_total', { result: 'hit' });
    const misses = (s: Map<string, number>) => value(s, 'inventory_graph_compiled_operation_cache_requests_total', { result: 'miss' });
    expect(hits(after) - hits(before)).toBeGreaterThanOrEqual(1);
    expect(misses(after) - misses(before)).toBeGreaterThanOrEqual(1);
    expect(after.get('inventory_graph_compiled_operation_cache_hit_ratio')).toBeGreaterThan(0);
    expect(after.get('inventory_graph_compiled_operation_cache_size')).toBeGreaterThanOrEqual(2);

    // the negative WMS on-hand was recorded as an open anomaly
    await expect
      .poll(async () => value(parse((await scrape()).text), 'inventory_graph_anomalies_open', { kind: 'NEGATIVE_ON_HAND', status: 'OPEN' }), { timeout: 5_000 })
      .toBeGreaterThanOrEqual(1);
  });

  it('counts holds at checkout: units held and reservations counting, on /metrics and /status.json', async () => {
    const held = (s: Map<string, number>) => s.get('inventory_graph_reserved_units') ?? 0;
    const active = (s: Map<string, number>) => value(s, 'inventory_graph_reservations_counting', { status: 'ACTIVE' });
    const before = parse((await scrape()).text);
    const r = await demo.gql<{ reserve: { reservation: { id: string } } }>('mutation($i: ReserveInput!) { reserve(input: $i) { reservation { id } } }', {
      i: { idempotencyKey: `metrics-${Date.now()}`, lines: [{ sku: 'SKU-000001', quantity: 3, locationId: 'DC-EAST' }] },
    });
    const id = r.body.data?.reserve.reservation.id;
    expect(id).toMatch(/^res_/);
    const during = parse((await scrape()).text);
    expect(held(during) - held(before)).toBe(3);
    expect(active(during) - active(before)).toBe(1);
    const json = (await (await fetch(`${origin}/status.json`, { headers: { 'x-api-key': demo.keys.analyst } })).json()) as {
      reservations: { active: number; heldUnits: number };
    };
    expect(json.reservations.heldUnits).toBe(held(during));
    await demo.gql(`mutation { releaseReservation(id: "${id}") { status } }`);
    const after = parse((await scrape()).text);
    expect(held(after)).toBe(held(before));
    expect(active(after)).toBe(active(before));
  });

  it('by default (server.loopbackStatus off) refuses a request from this host without a key with 401, as /status does', async () => {
    for (const path of ['/metrics', '/status', '/status.json']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toBe('Bearer');
      expect(await res.text(), path).toMatch(new RegExp(`${path.replace('.', '\\.')} needs an analyst or admin key\\.\\n$`));
    }
  });

  it('needs an analyst key from anywhere, as /status does', async () => {
    const forwarded = { 'x-forwarded-for': '203.0.113.9' };
    expect((await fetch(`${origin}/metrics`, { headers: forwarded })).status).toBe(401);
    expect((await fetch(`${origin}/metrics`, { headers: { ...forwarded, 'x-api-key': demo.keys.oms } })).status).toBe(403);
    const ok = await fetch(`${origin}/metrics`, { headers: { ...forwarded, authorization: `Bearer ${demo.keys.analyst}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('inventory_graph_source_status');
    expect((await fetch(`${origin}/metrics?api_key=${demo.keys.analyst}`)).status).toBe(400);
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../dashboards/grafana-inventory-graph.json'), 'utf8')) as {
    panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }>; datasource?: { uid: string } }>;
    templating: { list: Array<{ name: string; query: unknown }> };
  };

  it('queries only metric names /metrics exposes, and every family has a panel', async () => {
    const { text } = await scrape();
    const exposed = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap((m) => (m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_count`, `${m[1]}_sum`] : [m[1]!])),
    );
    const used = new Set<string>();
    for (const p of dashboard.panels) {
      if (p.type === 'row') continue;
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/\b(inventory_graph_\w+|process_\w+|nodejs_\w+)/g)) used.add(m[1]!);
    }
    for (const v of dashboard.templating.list) for (const m of JSON.stringify(v.query).matchAll(/\b(inventory_graph_\w+)/g)) used.add(m[1]!);
    for (const name of used) expect(exposed.has(name), `${name} is not exposed`).toBe(true);
    for (const f of FAMILIES) {
      expect(
        [...used].some((u) => u === f || u.startsWith(`${f}_`)),
        `${f} has no panel`,
      ).toBe(true);
    }
  });
});

describe('operation label', () => {
  it('keeps names bounded: anonymous, unresolved, other past the cap or when not a GraphQL name', () => {
    const labels = new OperationLabels(3);
    expect(labels.label(undefined)).toBe('(none)');
    expect(labels.label({ resolved: false, name: 'X' })).toBe('(none)');
    expect(labels.label({ resolved: true, name: null })).toBe('(anonymous)');
    expect(['A', 'B', 'C', 'D'].map((name) => labels.label({ resolved: true, name }))).toEqual(['A', 'B', 'C', '(other)']);
    expect(labels.label({ resolved: true, name: 'A' })).toBe('A');
    expect(new OperationLabels().label({ resolved: true, name: 'x'.repeat(101) })).toBe('(other)');
    expect(new OperationLabels().label({ resolved: true, name: 'a"b' })).toBe('(other)');
  });
});

describe('error code label', () => {
  it("keeps the gateway's codes and puts any other string in (other)", () => {
    expect(['SOURCE_UNAVAILABLE', 'BAD_USER_INPUT', 'FORBIDDEN', 'INTERNAL_SERVER_ERROR', 'UNAUTHENTICATED'].map(errorCodeLabel)).toEqual([
      'SOURCE_UNAVAILABLE',
      'BAD_USER_INPUT',
      'FORBIDDEN',
      'INTERNAL_SERVER_ERROR',
      'UNAUTHENTICATED',
    ]);
    expect(errorCodeLabel('SOMETHING_A_RESOLVER_MADE_UP')).toBe('(other)');
    expect(errorCodeLabel('a"b\n')).toBe('(other)');
  });

  it('counts every error of an answer, one without a code as INTERNAL_SERVER_ERROR', () => {
    const counts = errorCountsOf([
      { extensions: { code: 'FORBIDDEN' } },
      { extensions: { code: 'FORBIDDEN' } },
      { extensions: { code: 'SOURCE_UNAVAILABLE' } },
      {},
      { extensions: { code: 42 } },
    ]);
    expect(Object.fromEntries(counts)).toEqual({ FORBIDDEN: 2, SOURCE_UNAVAILABLE: 1, INTERNAL_SERVER_ERROR: 2 });
    expect(errorCountsOf(undefined).size).toBe(0);
  });
});
