/**
 * Black-holed episodes must not leak database sessions. A read that times out on a black-holed
 * network cannot have its statement killed (the KILL cannot reach the server either), so its
 * connection is evicted from the pool; the socket under it must be closed too, or the server
 * keeps the session (for `wait_timeout`, 8 h by default) while the pool already counts it gone,
 * and a flapping network uses up the server's `max_connections`. The hole here loses what it
 * swallows (a proxy or balancer on the path dropping what it buffered): a hole that merely
 * holds the statement delivers it afterwards, its answer comes and knex's COM_QUIT follows, so
 * only a lost statement shows whether anything closes the socket. After each episode (reads
 * running and queued when it starts), once the network is back, the sessions on the server and
 * the sockets in this process come back to at most the pool's size. Counts, never timings.
 */
import { Socket } from 'node:net';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import {
  AVAILABILITY,
  RESET_AFTER_MS,
  SKUS,
  adminKnex,
  client,
  dropDemoDatabases,
  eventually,
  expectIdle,
  healthyAnswer,
  sleep,
  unhandledRejections,
  wmsHealth,
  wmsPool,
  wmsSettings,
  type Answer,
  type Client,
} from './fault-helpers.js';

const prefix = `ig_test_faults_sessions_${process.pid}_${Date.now().toString(36)}`;
const WMS_DB = `${prefix}_wms`;
const EPISODES = 3;
/** Requests at once, before and during each episode: more than the pool holds, so some queue. */
const CONCURRENT = 6;
/** How long the counts may take to come back once the network is (a bound for polling, not an expectation). */
const SETTLE_MS = 15_000;

let proxy: TcpProxy;
let demo: DemoApp;
let c: Client;
let admin: Knex;
let baseline: Answer[];
const unhandled = unhandledRejections();

/** The sessions the server holds on the WMS database (this test's admin connection uses none). */
async function sessions(): Promise<number> {
  const [rows] = (await admin.raw('select count(*) as n from information_schema.processlist where db = ?', [WMS_DB])) as [Array<{ n: number }>];
  return Number(rows[0]!.n);
}

/**
 * The sockets this process holds open to the proxy: the gateway's WMS connections, as the
 * client side sees them (the proxy's own sockets have the proxy's port as their local port).
 */
function socketsToProxy(): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => h instanceof Socket && !h.destroyed && h.remotePort === proxy.port).length;
}

const ask = () => c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
const hasWmsFigures = (answers: Answer[]) => answers.some((a) => a.byLocation.some((l) => l.provenance.source === 'wms'));

beforeAll(async () => {
  proxy = await startTcpProxy();
  demo = await startDemoApp({ skus: 60, mysql: { prefix }, editConfig: wmsSettings({ connection: proxy.url(WMS_DB) }) });
  c = client(demo.app, demo.url, demo.keys.admin);
  admin = adminKnex();
  baseline = await healthyAnswer(c);
});

afterAll(async () => {
  unhandled.stop();
  await demo?.close();
  await proxy?.close();
  await admin?.destroy();
  await dropDemoDatabases(prefix);
});

describe('sessions after black-holed episodes', () => {
  it('the server and this process hold at most the pool size after each of several episodes with concurrent reads', async () => {
    const size = wmsPool(demo.app).size;
    for (let episode = 1; episode <= EPISODES; episode++) {
      // every pooled connection open and idle, as on a busy day
      const warm = await Promise.all(Array.from({ length: CONCURRENT }, ask));
      expect(warm.every((r) => r.body.errors === undefined && hasWmsFigures(r.body.data!.availability))).toBe(true);

      // the statements sent into the hole are lost: their connections can neither answer nor be killed
      proxy.blackHole({ lose: true });
      const during = await Promise.all(Array.from({ length: CONCURRENT }, ask));
      await sleep(RESET_AFTER_MS + 50);
      // the half-open trial fails in the hole too
      during.push(await ask());
      for (const r of during) {
        expect(r.status).toBe(200);
        expect(r.body.errors?.map((e) => e.extensions?.source)).toEqual(['wms']);
        expect(hasWmsFigures(r.body.data!.availability)).toBe(false);
      }
      proxy.pass();

      await expectIdle(demo.app);
      await sleep(RESET_AFTER_MS + 50);
      expect((await ask()).body.data!.availability).toEqual(baseline);
      expect(wmsHealth(demo.app).breaker).toBe('CLOSED');
      await eventually(async () => {
        expect(await sessions()).toBeLessThanOrEqual(size);
        expect(socketsToProxy()).toBeLessThanOrEqual(size);
      }, SETTLE_MS).catch(async (e: unknown) => {
        throw new Error(
          `after episode ${episode}: ${await sessions()} sessions on the server, ${socketsToProxy()} sockets here, pool size ${size} (${(e as Error).message})`,
        );
      });
    }
    expect(unhandled.count).toBe(0);
  });
});
