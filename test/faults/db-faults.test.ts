/**
 * Faults inside a real MariaDB, the WMS reached directly: a statement that sleeps past its
 * deadline (it must be killed in the database, not merely abandoned), connections killed from
 * another session, and a graceful stop (in process and by SIGTERM to the command) while a
 * request is in flight. The WMS's stock mapping is a `query` that first sleeps for as long as
 * a control table (`fault_control.seconds`) says, so the test can make it slow at will.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statements } from '../helpers/demo-app.js';
import { servingUrl } from '../helpers/serving.js';
import {
  AVAILABILITY,
  SKUS,
  TIMEOUT_MS,
  adminKnex,
  client,
  dropDemoDatabases,
  eventually,
  expectIdle,
  expectPartial,
  healthyAnswer,
  runFaultScenario,
  sleep,
  startFaultDemo,
  unhandledRejections,
  wmsHealth,
  wmsPool,
  wmsSettings,
  type Answer,
  type Client,
} from './fault-helpers.js';

const prefix = `ig_test_faults_db_${process.pid}_${Date.now().toString(36)}`;
const WMS_DB = `${prefix}_wms`;
const SLEEPY_STOCK = `select b.item_code as sku, b.wh as location, b.qty as onHand, b.picked_qty as committed, b.updated_at as asOf
  from bin_stock b cross join (select sleep(coalesce((select seconds from fault_control limit 1), 0)) as slept) z`;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');

let demo: Awaited<ReturnType<typeof startFaultDemo>>;
let c: Client;
let admin: Knex;
let baseline: Answer[];
const unhandled = unhandledRejections();

const setSleep = (seconds: number) => admin.raw('update ??.fault_control set seconds = ?', [WMS_DB, seconds]);

/** The WMS statements running on the server right now (the sleepy mapping names fault_control). */
async function runningStatements(): Promise<Array<{ id: number; time: number }>> {
  const [rows] = (await admin.raw("select id, time from information_schema.processlist where db = ? and command = 'Query' and info like ?", [
    WMS_DB,
    '%fault_control%',
  ])) as [Array<{ id: number; time: number }>];
  return rows;
}

/** Kills, from another session, every connection that runs a WMS statement (at most `max`). */
function startKiller(max = Number.POSITIVE_INFINITY) {
  let kills = 0;
  let running = true;
  const loop = (async () => {
    while (running && kills < max) {
      for (const r of await runningStatements()) {
        if (kills >= max) break;
        await admin.raw('kill connection ?', [Number(r.id)]).then(
          () => kills++,
          () => {},
        );
      }
      await sleep(10);
    }
  })();
  return {
    get kills() {
      return kills;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

beforeAll(async () => {
  admin = adminKnex();
  demo = await startFaultDemo({
    prefix,
    editConfig: wmsSettings({ stockQuery: SLEEPY_STOCK }),
    beforeStart: async () => {
      await admin.raw('create table ??.fault_control (seconds double not null)', [WMS_DB]);
      await admin.raw('insert into ??.fault_control values (0)', [WMS_DB]);
    },
  });
  c = client(demo.app, demo.url, demo.keys.admin!);
  baseline = await healthyAnswer(c);
});

afterAll(async () => {
  unhandled.stop();
  await demo?.close();
  await dropDemoDatabases(prefix);
  await admin?.destroy();
});

describe('a statement that sleeps past the deadline', () => {
  it('is answered at the deadline and killed in the database (KILL QUERY), its connection kept for the next read', async () => {
    const connectionsBefore = wmsPool(c.app).used + wmsPool(c.app).free;
    await setSleep(5);

    await expectPartial(c, baseline, new RegExp(`timed out after ${TIMEOUT_MS} ms`));
    // without the kill it would run for 5 s more; it is gone almost at once
    const t = performance.now();
    await eventually(async () => expect(await runningStatements()).toEqual([]), 1_500);
    expect(performance.now() - t).toBeLessThan(1_500);
    // killed as a query, not as a connection: the pooled connection came back, idle
    await expectIdle(c.app);
    expect(wmsPool(c.app).free).toBeGreaterThanOrEqual(Math.min(1, connectionsBefore));

    await setSleep(0);
    expect(await healthyAnswer(c)).toEqual(baseline);
  });

  it('opens the breaker after repeated timeouts, fails fast, and closes after a good trial', async () => {
    await runFaultScenario(
      c,
      baseline,
      { inject: () => setSleep(5), recover: () => setSleep(0), reason: new RegExp(`timed out after ${TIMEOUT_MS} ms`) },
      unhandled,
    );
    expect(await runningStatements()).toEqual([]);
  });
});

describe('a connection killed from another session (KILL <id>)', () => {
  it('once: the read is retried on a fresh connection and answers in full', async () => {
    await setSleep(0.3);
    const killer = startKiller(1);
    const r = await c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
    await killer.stop();
    await setSleep(0);
    expect(killer.kills).toBe(1);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.availability).toEqual(baseline);
    expect(statements(r.headers).get('wms/stock')).toBe(2);
    // the killed connection was evicted, never lent again
    await expectIdle(c.app);
    expect(await healthyAnswer(c)).toEqual(baseline);
  });

  it('every time: the answer names the source, the breaker opens, the pool recovers without a restart', async () => {
    let killer: ReturnType<typeof startKiller> | undefined;
    await runFaultScenario(
      c,
      baseline,
      {
        async inject() {
          await setSleep(0.3);
          killer = startKiller();
        },
        async recover() {
          await killer?.stop();
          await setSleep(0);
        },
        reason: /connection killed by the database|connection lost/,
      },
      unhandled,
    );
    expect(killer!.kills).toBeGreaterThanOrEqual(2);
    expect(wmsHealth(c.app).errorCount).toBeGreaterThan(0);
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM the command finishes the request in flight and exits 0 (even with NODE_ENV=production)', async () => {
    await setSleep(0.6);
    const child = spawn(process.execPath, [BIN, 'start', '--config', demo.file, '--port', '0'], {
      env: { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await servingUrl(child.stdout, exited, { stderr: () => stderr });
      const cli = client(demo.app, url, demo.keys.admin!);
      const inFlight = cli.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
      await sleep(250);
      const signalledAt = performance.now();
      child.kill('SIGTERM');

      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.availability).toEqual(baseline);
      expect(r.headers.get('connection')).toBe('close');
      expect(await exited).toBe(0);
      expect(performance.now() - signalledAt).toBeLessThan(5_000);
    } finally {
      child.kill('SIGKILL');
      await setSleep(0);
    }
  });

  it('in process: requests in flight finish, new connections are refused, then the pools close', async () => {
    await setSleep(0.6);
    const inFlight = c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS });
    await sleep(200);
    const t = performance.now();
    const closing = c.app.close({ graceMs: 5_000 });
    await sleep(50);

    await expect(fetch(c.url.replace(/graphql$/, 'healthz'))).rejects.toThrow();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.availability).toEqual(baseline);
    await closing;
    expect(performance.now() - t).toBeLessThan(3_000);
    await setSleep(0);
    expect(unhandled.count).toBe(0);
  });
});
