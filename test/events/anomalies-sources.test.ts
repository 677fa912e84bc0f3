/**
 * anomaly.* and source.* events from a real gateway over the demo, delivered to real webhook
 * receivers (./receiver.ts): a negative on-hand found by a query opens an anomaly
 * (anomaly.opened), the GraphQL workflow acknowledges and resolves it (anomaly.acknowledged,
 * anomaly.resolved), and the same condition seen again reopens it (anomaly.reopened, naming the
 * anomaly a person closed): each exactly once per transition, however often the SKU is asked
 * for. The round-1 `anomalies.webhook: { url }` still receives anomaly.opened and .reopened,
 * now as the event body, unsigned. A live WMS that fails until /status shows it DOWN gives one
 * source.down, and once it answers again one source.up; nothing more while a state holds, not
 * even while its breaker's trial reads fail one after the other (a locked WMS file).
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { EventBody } from '../../src/domain/events.js';
import { eventually, sleep } from '../feeds/feed-helpers.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { startReceiver, type Receiver } from './receiver.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const AVAILABILITY = `query A($skus: [ID!]!) { availability(skus: $skus) { sku available byLocation { location { id } onHand flags } } }`;
const ACKNOWLEDGE = `mutation K($id: ID!, $note: String) { acknowledgeAnomaly(id: $id, note: $note) { id status acknowledgeNote } }`;
const RESOLVE = `mutation R($id: ID!, $note: String!) { resolveAnomaly(id: $id, note: $note) { id status resolutionNote } }`;

interface AnomalyData {
  anomaly: { id: string; kind: string; sku: string | null; location: string | null; source: string | null; status: string };
  previousId?: string;
}
const anomalyOf = (e: EventBody) => (e.data as unknown as AnomalyData).anomaly;

let demo: DemoApp;
let hook: Receiver;
let legacy: Receiver;

beforeAll(async () => {
  hook = await startReceiver({ secret: SECRET });
  legacy = await startReceiver();
  demo = await startDemoApp({
    skus: 120,
    events: true, // every 97th SKU is negative at EAST in the WMS
    editConfig: (yaml) => {
      const doc = parseDocument(yaml);
      doc.set('events', {
        sinks: { hook: { kind: 'webhook', url: hook.url, secret: SECRET, filter: { types: ['anomaly.*', 'source.*'] } } },
        sourceCheckSeconds: 0.2,
        pollIntervalMs: 100,
      });
      // the WMS's breaker opens after 2 failures in a row and tries again after 1 s
      doc.setIn(['sources', 'wms', 'breaker'], { failureThreshold: 2, resetAfterMs: 1000 });
      doc.setIn(['sources', 'wms', 'timeoutMs'], 800);
      return doc.toString();
    },
    override: { anomalies: { webhook: { url: legacy.url } } },
  });
  await demo.app.eventsStarted;
});

afterAll(async () => {
  await demo?.close();
  await hook?.close();
  await legacy?.close();
});

/** Events of `types` in the outbox, oldest first, as their bodies. */
async function outbox(types: string[]): Promise<EventBody[]> {
  const list = await demo.app.store.events.list({ limit: 10_000, types });
  return list.reverse().map((e) => ({ id: e.id, type: e.type, occurredAt: e.occurredAt.toISOString(), sku: e.sku, channel: e.channel, data: e.data }));
}

/** Asks for `sku` (anomalies are found while answering) and waits until what was found is written and sent. */
async function ask(sku: string): Promise<void> {
  const r = await demo.gql(AVAILABILITY, { skus: [sku] });
  expect(r.status).toBe(200);
  expect(await demo.app.store.anomalies.flush()).toBe(0);
  await demo.app.events?.publisher.drain(10_000);
}

async function mutate<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await demo.gql<T>(query, variables);
  expect(r.body.errors).toBeUndefined();
  await demo.app.events?.publisher.drain(10_000);
  return r.body.data as T;
}

describe('anomaly events', () => {
  it('opened, acknowledged, resolved and reopened: once per transition, to the sink and (opened, reopened) to the legacy webhook', async () => {
    const sku = demo.facts.negativeWms[0] as string;
    expect(sku).toBeDefined();
    const mine = async () => (await outbox(['anomaly.*'])).filter((e) => anomalyOf(e).sku === sku && anomalyOf(e).kind === 'NEGATIVE_ON_HAND');

    // a query finds the negative on-hand: one anomaly.opened, however often it is asked again
    await ask(sku);
    const [opened] = await eventually(async () => {
      const got = await mine();
      expect(got.map((e) => e.type)).toEqual(['anomaly.opened']);
      return got;
    });
    const first = anomalyOf(opened as EventBody);
    expect(first).toMatchObject({ kind: 'NEGATIVE_ON_HAND', sku, location: 'DC-EAST', source: 'wms', status: 'OPEN' });
    expect(opened).toMatchObject({ sku, channel: null });
    await ask(sku);
    await ask(sku);
    expect((await mine()).map((e) => e.type)).toEqual(['anomaly.opened']);

    // the workflow: each step is one event carrying the anomaly as it is now
    const ack = await mutate<{ acknowledgeAnomaly: { status: string } }>(ACKNOWLEDGE, { id: first.id, note: 'counting the EAST bins' });
    expect(ack.acknowledgeAnomaly.status).toBe('ACKNOWLEDGED');
    await ask(sku);
    const res = await mutate<{ resolveAnomaly: { status: string } }>(RESOLVE, { id: first.id, note: 'bins recounted' });
    expect(res.resolveAnomaly.status).toBe('RESOLVED');
    let events = await mine();
    expect(events.map((e) => `${e.type} ${anomalyOf(e).id} ${anomalyOf(e).status}`)).toEqual([
      `anomaly.opened ${first.id} OPEN`,
      `anomaly.acknowledged ${first.id} ACKNOWLEDGED`,
      `anomaly.resolved ${first.id} RESOLVED`,
    ]);
    // each step names the API key that made it (the demo's admin key)
    expect(anomalyOf(events[1] as EventBody)).toMatchObject({ acknowledgeNote: 'counting the EAST bins', acknowledgedBy: 'demo-admin', resolvedBy: null });
    expect(anomalyOf(events[2] as EventBody)).toMatchObject({ resolutionNote: 'bins recounted', acknowledgedBy: 'demo-admin', resolvedBy: 'demo-admin' });

    // the same condition again: a new anomaly, announced as reopened, naming the resolved one
    await ask(sku);
    events = await eventually(async () => {
      const got = await mine();
      expect(got).toHaveLength(4);
      return got;
    });
    const reopened = events[3] as EventBody;
    expect(reopened.type).toBe('anomaly.reopened');
    expect(reopened.data.previousId).toBe(first.id);
    expect(anomalyOf(reopened)).toMatchObject({ kind: 'NEGATIVE_ON_HAND', sku, status: 'OPEN' });
    expect(anomalyOf(reopened).id).not.toBe(first.id);
    await ask(sku);
    await ask(sku);
    expect((await mine()).map((e) => e.type)).toEqual(['anomaly.opened', 'anomaly.acknowledged', 'anomaly.resolved', 'anomaly.reopened']);

    // resolved straight from OPEN and seen again: reopened once more, naming the newest resolved one
    const second = anomalyOf(reopened);
    await mutate(RESOLVE, { id: second.id, note: 'recounted again' });
    await ask(sku);
    events = await eventually(async () => {
      const got = await mine();
      expect(got.map((e) => e.type).slice(4)).toEqual(['anomaly.resolved', 'anomaly.reopened']);
      return got;
    });
    expect(anomalyOf(events[4] as EventBody)).toMatchObject({ id: second.id, status: 'RESOLVED', resolutionNote: 'recounted again' });
    expect(events[5]?.data.previousId).toBe(second.id);
    expect(new Set(events.map((e) => anomalyOf(e).id)).size).toBe(3);

    // the sink got the six, signed; the legacy webhook the opening and the reopenings, unsigned, as event bodies
    const about = (r: Receiver) =>
      r.received.filter((x) => (x.json as EventBody | undefined)?.sku === sku && anomalyOf(x.json as EventBody).kind === 'NEGATIVE_ON_HAND');
    await eventually(() => {
      expect(about(hook).map((x) => x.json)).toEqual(events);
      expect(about(legacy).map((x) => x.json)).toEqual([events[0], events[3], events[5]]);
    });
    expect(about(hook).every((x) => x.verified === true && x.id === (x.json as EventBody).id)).toBe(true);
    for (const x of about(legacy)) {
      expect(x.signature).toBeUndefined();
      expect(x.verified).toBeNull();
      expect(x.id).toBe((x.json as EventBody).id);
      expect(x.headers['content-type']).toContain('application/json');
    }
  });
});

describe('source events', () => {
  const sourceEvents = async () => (await outbox(['source.*'])).filter((e) => e.data.source === 'wms');
  const statusOfWms = async () => {
    const res = await fetch(demo.url.replace(/graphql$/, 'status.json'), { headers: { 'x-api-key': demo.keys.admin } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { sources: Array<{ name: string; status: string }> };
    return body.sources.find((s) => s.name === 'wms')?.status;
  };

  it('a live WMS going DOWN gives one source.down; answering again, one source.up; nothing while a state holds', async () => {
    // the check has recorded the WMS as up (silently: nothing was said before)
    await eventually(async () => {
      const b = await demo.app.store.events.baselines('source', ['wms']);
      expect(b.get('wms\u0000')?.band).toBe('up');
    });
    expect(await sourceEvents()).toEqual([]);

    // another connection holds the WMS's file locked: reads wait for it until their deadline and
    // fail until the breaker opens, and /status says DOWN (a missing table would be a broken
    // mapping of one entity instead: DEGRADED, test/e2e/entity-failure.test.ts)
    const wms = new Database(join(demo.dir, 'wms.sqlite'));
    wms.pragma('busy_timeout = 0');
    wms.exec('BEGIN EXCLUSIVE');
    try {
      await eventually(async () => {
        await demo.gql(AVAILABILITY, { skus: ['SKU-000001'] });
        expect(await statusOfWms()).toBe('DOWN');
      }, 60_000);
      const down = await eventually(async () => {
        const got = await sourceEvents();
        expect(got.map((e) => e.type)).toEqual(['source.down']);
        return got[0] as EventBody;
      });
      expect(down).toMatchObject({ sku: null, channel: null, data: { source: 'wms', state: 'down', previous: 'up', status: 'DOWN', breaker: 'OPEN' } });
      expect(String(down.data.lastError)).not.toBe('');
      // the state holds for a good ten checks: nothing more is said
      await sleep(2_000);
      expect(await statusOfWms()).toBe('DOWN');
      expect((await sourceEvents()).map((e) => e.type)).toEqual(['source.down']);
    } finally {
      wms.exec('ROLLBACK');
      wms.close();
    }

    // the lock is gone: the breaker's trial read succeeds and the WMS is up again
    await eventually(async () => {
      const r = await demo.gql<{ availability: Array<{ byLocation: Array<{ flags: string[] }> }> }>(AVAILABILITY, { skus: ['SKU-000001'] });
      expect(r.body.errors).toBeUndefined();
      expect(await statusOfWms()).toBe('UP');
    });
    const events = await eventually(async () => {
      const got = await sourceEvents();
      expect(got.map((e) => e.type)).toEqual(['source.down', 'source.up']);
      return got;
    });
    expect(events[1]).toMatchObject({ data: { source: 'wms', state: 'up', previous: 'down', status: 'UP', breaker: 'CLOSED' } });
    await sleep(2_000);
    expect((await sourceEvents()).map((e) => e.type)).toEqual(['source.down', 'source.up']);

    // the sink got exactly these two, signed
    await demo.app.events?.publisher.drain(10_000);
    await eventually(() => {
      const got = hook.received.filter((x) => (x.json as EventBody | undefined)?.type.startsWith('source.') && (x.json as EventBody).data.source === 'wms');
      expect(got.map((x) => x.json)).toEqual(events);
      expect(got.every((x) => x.verified === true)).toBe(true);
    });
    // the legacy anomaly webhook takes no source event
    expect(legacy.received.some((x) => (x.json as EventBody | undefined)?.type.startsWith('source.'))).toBe(false);
  });

  it('a WMS that stays down through failed trial reads is announced down once, not up and down at each trial', async () => {
    const before = (await sourceEvents()).length;
    const errors = demo.app.health.get('wms')!.errorCount;
    const writer = new Database(join(demo.dir, 'wms.sqlite'));
    writer.pragma('busy_timeout = 0');
    writer.exec('BEGIN EXCLUSIVE');
    try {
      // reads wait for the lock until their deadline and fail: the breaker opens, then each trial read fails too
      await eventually(async () => {
        await demo.gql(AVAILABILITY, { skus: ['SKU-000001'] });
        expect(demo.app.health.get('wms')!.errorCount).toBeGreaterThanOrEqual(errors + 5);
      }, 60_000);
      expect(await statusOfWms()).toBe('DOWN');
      const during = (await sourceEvents()).slice(before);
      expect(during.map((e) => e.type)).toEqual(['source.down']);
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
    await eventually(async () => {
      await demo.gql(AVAILABILITY, { skus: ['SKU-000001'] });
      expect(await statusOfWms()).toBe('UP');
    });
    await eventually(async () => expect((await sourceEvents()).slice(before).map((e) => e.type)).toEqual(['source.down', 'source.up']));
  });
});
