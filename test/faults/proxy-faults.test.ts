/**
 * Network faults between the gateway and a real MariaDB: the demo's WMS is reached through a
 * TCP proxy the test controls (test/helpers/tcp-proxy.ts). For each fault (refused
 * connections, a peer that accepts and never answers, every packet late, connections cut
 * mid-query, a server that stops and restarts) the answer comes within the deadline plus a
 * margin, the other sources' figures are intact, the error names the source, the breaker opens
 * and fails fast, the pool goes back to idle and the first request after recovery succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import {
  AVAILABILITY,
  SKUS,
  TIMEOUT_MS,
  client,
  dropDemoDatabases,
  expectIdle,
  expectPartial,
  healthyAnswer,
  runFaultScenario,
  sleep,
  unhandledRejections,
  wmsHealth,
  wmsPool,
  wmsSettings,
  type Answer,
  type Client,
} from './fault-helpers.js';

const prefix = `ig_test_faults_net_${process.pid}_${Date.now().toString(36)}`;
let proxy: TcpProxy;
let demo: DemoApp;
let c: Client;
let baseline: Answer[];
const unhandled = unhandledRejections();

beforeAll(async () => {
  proxy = await startTcpProxy();
  demo = await startDemoApp({ skus: 60, mysql: { prefix }, editConfig: wmsSettings({ connection: proxy.url(`${prefix}_wms`) }) });
  c = client(demo.app, demo.url, demo.keys.admin);
  baseline = await healthyAnswer(c);
});

afterAll(async () => {
  unhandled.stop();
  await demo?.close();
  await proxy?.close();
  await dropDemoDatabases(prefix);
});

describe('the WMS behind a TCP proxy', () => {
  it('answers through the proxy, and shows the source healthy', async () => {
    const r = await c.gql<{ sources: Array<Record<string, unknown>> }>(
      `{ sources { name kind status breaker lastError errorCount newestAsOf oldestAsOf lastLatencyMs pool { size used pendingAcquires } } }`,
    );
    const wms = r.body.data!.sources.find((s) => s.name === 'wms')!;
    expect(wms).toMatchObject({ kind: 'SQL', status: 'UP', breaker: 'CLOSED', lastError: null, errorCount: 0, pool: { size: 4, used: 0, pendingAcquires: 0 } });
    expect(new Date(wms.newestAsOf as string).getTime()).toBeGreaterThanOrEqual(new Date(wms.oldestAsOf as string).getTime());
    expect(proxy.accepted).toBeGreaterThan(0);
  });

  it('refused connections: answers from the others, names the source, opens the breaker, recovers', async () => {
    await runFaultScenario(
      c,
      baseline,
      {
        inject: () => proxy.stop(),
        recover: () => proxy.start(),
        reason: /connection refused|connection lost/,
      },
      unhandled,
    );
  });

  it('a peer that accepts and never answers: answers at the deadline, the statement is abandoned and its connection evicted', async () => {
    await runFaultScenario(
      c,
      baseline,
      {
        inject: () => proxy.blackHole(),
        recover: () => proxy.pass(),
        reason: new RegExp(`timed out after ${TIMEOUT_MS} ms`),
      },
      unhandled,
    );
  });

  it('every packet late (past the deadline): answers at the deadline', async () => {
    await runFaultScenario(
      c,
      baseline,
      {
        inject: () => proxy.delay(TIMEOUT_MS + 400),
        recover: () => proxy.pass(),
        reason: new RegExp(`timed out after ${TIMEOUT_MS} ms`),
      },
      unhandled,
    );
  });

  it('connections cut mid-query, every time: the retry is cut too, the answer names the source', async () => {
    await runFaultScenario(
      c,
      baseline,
      {
        inject: () => proxy.cutQueries(Number.POSITIVE_INFINITY, 'bin_stock'),
        recover: () => proxy.pass(),
        reason: /connection lost/,
      },
      unhandled,
    );
  });

  it('a connection cut mid-query once: one retry on a fresh connection answers in full', async () => {
    proxy.cutQueries(1, 'bin_stock');
    const r = await c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.availability).toEqual(baseline);
    // the statement went out twice: the cut one and the retry
    expect(statements(r.headers).get('wms/stock')).toBe(2);
    expect(r.ms).toBeLessThan(TIMEOUT_MS);
    await expectIdle(c.app);
    expect(wmsHealth(c.app)).toMatchObject({ breaker: 'CLOSED', consecutiveFailures: 0 });
  });

  it('the server stops and restarts: the scenario, then a restart between two requests and one under a running query', async () => {
    await runFaultScenario(
      c,
      baseline,
      {
        inject: () => proxy.stop(),
        recover: () => proxy.start(),
        reason: /connection refused|connection lost/,
      },
      unhandled,
    );

    // a restart between two requests: the pool's dead connections are evicted, no process restart needed
    await proxy.stop();
    await expectPartial(c, baseline, /connection refused|connection lost/);
    await proxy.start();
    expect(await healthyAnswer(c)).toEqual(baseline);

    // a restart while a statement runs: its connection dies, the retry finds the server back
    proxy.delay(150);
    const pending = c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
    await sleep(60);
    await proxy.stop();
    await proxy.start();
    const r = await pending;
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.availability).toEqual(baseline);
    expect(r.ms).toBeLessThan(TIMEOUT_MS);
    await expectIdle(c.app);
    expect(unhandled.count).toBe(0);
  });

  it('keeps the pool bounded and idle after all of it', async () => {
    const p = wmsPool(demo.app);
    expect(p.used).toBe(0);
    expect(p.pendingAcquires).toBe(0);
    expect(p.used + p.free).toBeLessThanOrEqual(p.size);
    const ready = (await (await fetch(demo.url.replace(/graphql$/, 'readyz'))).json()) as { status: string; sources: Record<string, { breaker: string }> };
    expect(ready.status).toBe('ready');
    expect(ready.sources.wms!.breaker).toBe('CLOSED');
  });
});
