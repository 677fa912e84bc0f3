/**
 * What every fault scenario shares: a MariaDB demo whose WMS has a short deadline and a
 * quick breaker, a GraphQL client, and `runFaultScenario`, which checks one fault end to end:
 * the answer arrives within the deadline plus a margin, the other sources' figures are
 * intact, the error names the source, the breaker opens after repeated failures and then
 * fails fast, the pool goes back to idle, and the first request after recovery succeeds
 * (through the half-open trial). Loopback only.
 */
import knexFactory, { type Knex } from 'knex';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseDocument } from 'yaml';
import { generateDemo } from '../../src/cli/demo-data.js';
import { prepareDemo } from '../../src/cli/start.js';
import { loadConfig } from '../../src/config/index.js';
import { mysqlConnection } from '../../src/db/knex.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/server/app.js';
import type { PoolStats } from '../../src/sources/health.js';
import { DEMO_NOW, liveOnly, MARIADB_URL, statements, type GqlResult, withoutEvents } from '../helpers/demo-app.js';

/** The WMS's deadline in these suites, and the bound every answer must meet (a correctness bound, not a benchmark). */
export const TIMEOUT_MS = 800;
export const MARGIN_MS = 1500;
export const RESET_AFTER_MS = 1000;
export const FAILURE_THRESHOLD = 2;

export const SKUS = Array.from({ length: 20 }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`);
export const AVAILABILITY = `query A($skus: [ID!]!) { availability(skus: $skus) {
  sku available flags
  byLocation { location { id } onHand committed available counted flags provenance { source stale fallback rule } }
} }`;
export const SOURCES = `{ sources { name kind status breaker lastSuccessAt lastError lastErrorAt lastLatencyMs errorCount successCount rejectedCount
  newestAsOf oldestAsOf timeoutMs failureThreshold inFlight queued pool { size used free pendingAcquires pendingCreates } } }`;
/** Locations the demo WMS speaks for; the others must not notice a WMS fault at all. */
export const WMS_LOCATIONS = new Set(['DC-EAST', 'DC-CENTRAL']);

export interface Level {
  location: { id: string };
  onHand: number;
  committed: number;
  available: number;
  counted: boolean;
  flags: string[];
  provenance: { source: string | null; stale: boolean; fallback: boolean; rule: string };
}
export interface Answer {
  sku: string;
  available: number;
  flags: string[];
  byLocation: Level[];
}

/** Sets the WMS's deadline, breaker and (optionally) connection in a demo config. */
export function wmsSettings(o: { connection?: string; stockQuery?: string }) {
  return (yaml: string): string => {
    const doc = parseDocument(yaml);
    doc.setIn(['sources', 'wms', 'timeoutMs'], TIMEOUT_MS);
    doc.setIn(['sources', 'wms', 'breaker'], { failureThreshold: FAILURE_THRESHOLD, resetAfterMs: RESET_AFTER_MS });
    if (o.connection !== undefined) doc.setIn(['sources', 'wms', 'connection'], o.connection);
    if (o.stockQuery !== undefined) doc.setIn(['sources', 'wms', 'stock'], { query: o.stockQuery });
    return doc.toString();
  };
}

/**
 * A MariaDB demo (databases `${prefix}_*`) served on 127.0.0.1:0, like startDemoApp, with a
 * hook that runs after the databases exist and before the gateway starts (to add a fault
 * control table the config's query reads).
 */
export async function startFaultDemo(o: {
  prefix: string;
  skus?: number;
  editConfig: (yaml: string) => string;
  beforeStart?: () => Promise<void>;
}): Promise<Client & { dir: string; file: string; keys: Record<string, string>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-faults-'));
  await generateDemo({ dir, skus: o.skus ?? 60, now: DEMO_NOW, mysqlUrl: MARIADB_URL, databasePrefix: o.prefix });
  const file = join(dir, 'inventory-graph.yaml');
  // the faults are those of sources read live (the demo mirrors its WMS and 3PL itself)
  writeFileSync(file, o.editConfig(withoutEvents(liveOnly(readFileSync(file, 'utf8')))));
  const { keys } = await prepareDemo(dir, { generate: false });
  await o.beforeStart?.();
  const app = await createApp(loadConfig(file), { logger: createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? 'silent') });
  const url = await app.listen(0, '127.0.0.1');
  return { ...client(app, url, keys.admin), dir, file, keys, close: () => app.close() };
}

export interface Client {
  app: App;
  url: string;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T> & { ms: number }>;
}

export function client(app: App, url: string, key: string): Client {
  return {
    app,
    url,
    async gql(query, variables) {
      const t = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text, ms: performance.now() - t };
    },
  };
}

export function adminKnex(database?: string): Knex {
  return knexFactory({
    client: 'mysql2',
    connection: mysqlConnection(database === undefined ? MARIADB_URL : MARIADB_URL.replace(/\/[^/]*$/, `/${database}`)),
    pool: { min: 0, max: 2 },
  });
}

export { dropDemoDatabases } from '../helpers/demo-app.js';

/** Counts unhandled rejections in this worker while a suite runs. */
export function unhandledRejections() {
  let count = 0;
  const on = () => count++;
  process.on('unhandledRejection', on);
  return {
    get count() {
      return count;
    },
    stop: () => process.off('unhandledRejection', on),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` passes (throws nothing), or fails with its last error after `ms`. */
export async function eventually(check: () => void | Promise<void>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
      await sleep(50);
    }
  }
}

export function wmsPool(app: App): PoolStats {
  const p = app.health.get('wms')?.pool;
  if (p === null || p === undefined) throw new Error('the wms source has no pool stats');
  return p;
}

/** Every WMS statement has settled: nothing in flight or waiting, no connection lent or awaited. */
export async function expectIdle(app: App): Promise<void> {
  await eventually(() => {
    const h = app.health.get('wms')!;
    expect({ inFlight: h.inFlight, queued: h.queued, used: h.pool?.used, pendingAcquires: h.pool?.pendingAcquires }).toEqual({
      inFlight: 0,
      queued: 0,
      used: 0,
      pendingAcquires: 0,
    });
  });
}

export function wmsHealth(app: App) {
  return app.health.get('wms')!;
}

/** A healthy answer: no errors, WMS figures present. */
export async function healthyAnswer(c: Client): Promise<Answer[]> {
  const r = await c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
  expect(r.status).toBe(200);
  expect(r.body.errors).toBeUndefined();
  const answers = r.body.data!.availability;
  expect(answers.some((a) => a.byLocation.some((l) => l.provenance.source === 'wms'))).toBe(true);
  return answers;
}

/**
 * A partial answer while the WMS fails: HTTP 200 within the deadline + margin, one error
 * naming the WMS with `reason`, every non-WMS location exactly as in `baseline`, every WMS
 * location fallen back (or empty) and flagged SOURCE_UNAVAILABLE.
 */
export async function expectPartial(c: Client, baseline: Answer[], reason: RegExp, bound = TIMEOUT_MS + MARGIN_MS) {
  const r = await c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
  expect(r.status).toBe(200);
  expect(r.ms).toBeLessThan(bound);
  expect(r.body.errors).toHaveLength(1);
  const err = r.body.errors![0]!;
  expect(err.extensions).toEqual({ code: 'SOURCE_UNAVAILABLE', source: 'wms' });
  expect(err.message).toMatch(/^Source "wms" is unavailable \(/);
  expect(err.message).toMatch(reason);
  expect(r.text).not.toMatch(/select |bin_stock|127\.0\.0\.1|\bat .*\.(ts|js)/i);
  const answers = r.body.data!.availability;
  expect(answers.map((a) => a.sku)).toEqual(SKUS);
  answers.forEach((a, i) => {
    const before = baseline[i]!;
    for (const level of before.byLocation) {
      const now = a.byLocation.find((l) => l.location.id === level.location.id);
      if (!WMS_LOCATIONS.has(level.location.id)) {
        expect(now).toEqual(level);
      } else {
        expect(now, `${a.sku} at ${level.location.id}`).toBeDefined();
        expect(now!.flags).toContain('SOURCE_UNAVAILABLE');
        expect(now!.provenance.source).not.toBe('wms');
        expect(now!.provenance.rule).toMatch(/wms: unavailable/);
      }
    }
  });
  return r;
}

export interface Fault {
  /** Starts the fault. */
  inject(): void | Promise<void>;
  /** Ends it. */
  recover(): void | Promise<void>;
  /** What the error must say. */
  reason: RegExp;
}

/**
 * One fault end to end: two partial answers open the breaker, the third fails fast without
 * touching the source, everything settles back to idle, and after recovery and the reset
 * delay the first request (the half-open trial) succeeds with the WMS's figures.
 */
export async function runFaultScenario(c: Client, baseline: Answer[], fault: Fault, unhandled: { count: number }): Promise<void> {
  const before = unhandled.count;
  expect(c.app.health.get('wms')!.breaker).toBe('CLOSED');
  await fault.inject();

  for (let i = 0; i < FAILURE_THRESHOLD; i++) await expectPartial(c, baseline, fault.reason);
  const s = await c.gql<{ sources: Array<Record<string, unknown>> }>(SOURCES);
  const wms = s.body.data!.sources.find((x) => x.name === 'wms')!;
  expect(wms).toMatchObject({ kind: 'SQL', status: 'DOWN', breaker: 'OPEN', timeoutMs: TIMEOUT_MS, failureThreshold: FAILURE_THRESHOLD });
  expect(wms.lastError).toMatch(fault.reason);
  expect(s.body.data!.sources.filter((x) => x.name !== 'wms').every((x) => x.breaker === 'CLOSED')).toBe(true);

  // open: fails fast, the source is not asked
  const fast = await expectPartial(c, baseline, /circuit open/, 300);
  expect(statements(fast.headers).has('wms/stock')).toBe(false);

  await fault.recover();
  // every statement the fault left behind has settled: killed, returned or evicted
  await expectIdle(c.app);
  await sleep(RESET_AFTER_MS + 50);
  // the first request after the reset is the half-open trial, and it succeeds
  const ok = await c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
  expect(ok.status).toBe(200);
  expect(ok.body.errors).toBeUndefined();
  expect(ok.body.data!.availability).toEqual(baseline);
  expect(wmsHealth(c.app)).toMatchObject({ breaker: 'CLOSED', status: 'UP', consecutiveFailures: 0 });
  await expectIdle(c.app);
  expect(unhandled.count - before).toBe(0);
}
