/**
 * A slow but healthy source under more load than it can take: the reads that wait for a slot
 * (the bulkhead) or a connection (the pool) past what their deadline allows are load shed, which
 * says nothing about the source, so its breaker stays closed and it keeps serving its figures to
 * the reads it can answer in time. The demo's WMS answers in 600 ms (a SLEEP in its stock query)
 * against a 1,000 ms deadline, and twelve requests (three times its pool of four) arrive at once,
 * several times over: once with the bulkhead as the queue (maxConcurrent is the pool's size, the
 * default) and once with the pool as the queue (maxConcurrent is twelve). Counts, never timings.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/server/app.js';
import {
  AVAILABILITY,
  SKUS,
  adminKnex,
  client,
  dropDemoDatabases,
  expectIdle,
  startFaultDemo,
  unhandledRejections,
  wmsHealth,
  type Answer,
  type Client,
} from './fault-helpers.js';

const prefix = `ig_test_faults_shed_${process.pid}_${Date.now().toString(36)}`;
const WMS_DB = `${prefix}_wms`;
const SLEEPY_STOCK = `select b.item_code as sku, b.wh as location, b.qty as onHand, b.picked_qty as committed, b.updated_at as asOf
  from bin_stock b cross join (select sleep(coalesce((select seconds from fault_control limit 1), 0)) as slept) z`;
const DEADLINE_MS = 1000;
const SLOW_SECONDS = 0.6;
const POOL = 4;
const CONCURRENT = 3 * POOL;
const BURSTS = 3;
/** What a shed read's error says. */
const SHED_REASON = 'load shed: too busy to start it in time';

let demo: Awaited<ReturnType<typeof startFaultDemo>>;
/** The same demo served a second time, with reads queueing in the pool rather than the bulkhead. */
let poolQueued: Client & { close(): Promise<void> };
let admin: Knex;
const unhandled = unhandledRejections();

const setSleep = (seconds: number) => admin.raw('update ??.fault_control set seconds = ?', [WMS_DB, seconds]);

/** The demo config with the WMS slow-capable, its deadline 1,000 ms and its default breaker; `maxConcurrent` if given. */
function wmsConfig(maxConcurrent?: number) {
  return (yaml: string): string => {
    const doc = parseDocument(yaml);
    doc.setIn(['sources', 'wms', 'timeoutMs'], DEADLINE_MS);
    doc.setIn(['sources', 'wms', 'pool'], POOL);
    doc.setIn(['sources', 'wms', 'stock'], { query: SLEEPY_STOCK });
    if (maxConcurrent !== undefined) doc.setIn(['sources', 'wms', 'maxConcurrent'], maxConcurrent);
    return doc.toString();
  };
}

beforeAll(async () => {
  admin = adminKnex();
  demo = await startFaultDemo({
    prefix,
    editConfig: wmsConfig(),
    beforeStart: async () => {
      await admin.raw('create table ??.fault_control (seconds double not null)', [WMS_DB]);
      await admin.raw('insert into ??.fault_control values (0)', [WMS_DB]);
    },
  });
  const file = join(demo.dir, 'inventory-graph.pool-queued.yaml');
  writeFileSync(file, wmsConfig(CONCURRENT)(readFileSync(demo.file, 'utf8')));
  const app = await createApp(loadConfig(file), { logger: createLogger('silent') });
  poolQueued = { ...client(app, await app.listen(0, '127.0.0.1'), demo.keys.admin!), close: () => app.close() };
});

afterAll(async () => {
  unhandled.stop();
  await poolQueued?.close();
  await demo?.close();
  await dropDemoDatabases(prefix);
  await admin?.destroy();
});

/** The WMS's shed reads as `/metrics` counts them (`inventory_graph_source_errors_total{kind="shed"}`). */
async function shedMetric(c: Client): Promise<number> {
  const text = await (await fetch(new URL('/metrics', c.url), { headers: { 'x-api-key': demo.keys.admin! } })).text();
  return Number(/^inventory_graph_source_errors_total\{source="wms",kind="shed"\} (\d+)$/m.exec(text)?.[1]);
}

const hasWmsFigures = (answers: Answer[]) => answers.some((a) => a.byLocation.some((l) => l.provenance.source === 'wms'));

/** Why an answer lacks the WMS's figures, as its SOURCE_UNAVAILABLE error says (`Source "wms" is unavailable (<reason>); ...`). */
function reason(r: { body: { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }): string {
  const errors = r.body.errors ?? [];
  if (errors.length !== 1 || errors[0]!.extensions?.code !== 'SOURCE_UNAVAILABLE' || errors[0]!.extensions.source !== 'wms') return JSON.stringify(errors);
  return /unavailable \((.*)\); /.exec(errors[0]!.message)?.[1] ?? errors[0]!.message;
}

/**
 * `BURSTS` times, `CONCURRENT` requests at once: per burst, the answers with the WMS's figures;
 * the others counted by the reason their error gives.
 */
async function burstsAgainstSlowWms(c: Client): Promise<{ served: number[]; missing: Record<string, number> }> {
  const tally = { served: [] as number[], missing: {} as Record<string, number> };
  await setSleep(SLOW_SECONDS);
  try {
    for (let b = 0; b < BURSTS; b++) {
      const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => c.gql<{ availability: Answer[] }>(AVAILABILITY, { skus: SKUS })));
      tally.served.push(0);
      for (const r of answers) {
        expect(r.status).toBe(200);
        const figures = hasWmsFigures(r.body.data!.availability);
        if (figures && r.body.errors === undefined) tally.served[b]!++;
        else {
          const why = `${figures ? 'WMS figures, and yet ' : ''}${reason(r)}`;
          tally.missing[why] = (tally.missing[why] ?? 0) + 1;
        }
      }
      await expectIdle(c.app);
    }
  } finally {
    await setSleep(0);
  }
  return tally;
}

describe.each([
  ['the bulkhead (maxConcurrent = pool size)', () => demo as Client],
  ['the pool (maxConcurrent = 3 × pool size)', () => poolQueued],
])('a slow but healthy WMS, %s as the queue', (_, of) => {
  it('keeps serving its figures to the reads it can answer in time, sheds the rest, and never opens its breaker', async () => {
    const c = of();
    const before = wmsHealth(c.app);
    const shedBefore = await shedMetric(c);

    const tally = await burstsAgainstSlowWms(c);

    // every answer without the WMS's figures says it was load shed: nothing timed out, no circuit opened
    const served = tally.served.reduce((a, b) => a + b, 0);
    const shed = tally.missing[SHED_REASON] ?? 0;
    expect({ served, missing: tally.missing }).toEqual({ served: BURSTS * CONCURRENT - shed, missing: shed === 0 ? {} : { [SHED_REASON]: shed } });
    // burst after burst, at least as many reads served as the pool holds connections
    expect(tally.served).toEqual(tally.served.map((n) => Math.max(n, POOL)));
    const h = wmsHealth(c.app);
    expect({ breaker: h.breaker, errors: h.errorCount - before.errorCount, consecutiveFailures: h.consecutiveFailures }).toEqual({
      breaker: 'CLOSED',
      errors: 0,
      consecutiveFailures: 0,
    });
    expect(h.successCount - before.successCount).toBe(served);
    expect(h.shedCount - before.shedCount).toBe(shed);
    expect(h.rejectedCount - before.rejectedCount).toBe(0);
    // as operators see it
    expect((await shedMetric(c)) - shedBefore).toBe(shed);
    const s = await c.gql<{ sources: Array<{ name: string; breaker: string; shedCount: number }> }>('{ sources { name breaker shedCount } }');
    expect(s.body.data!.sources.find((x) => x.name === 'wms')).toEqual({ name: 'wms', breaker: 'CLOSED', shedCount: h.shedCount });
    expect(unhandled.count).toBe(0);
  });
});
