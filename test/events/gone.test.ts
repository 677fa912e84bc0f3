/**
 * A webhook receiver answering 410 Gone (Standard Webhooks: the endpoint is gone for good): the
 * sink stops sending, nothing is dead-lettered for it (the events are not at fault), every event
 * stays pending in the outbox, and /status.json and /status say the sink stopped; the other sink
 * goes on.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../feeds/feed-helpers.js';
import type { DemoApp } from '../helpers/demo-app.js';
import { originOf, reserveOne, startEventsDemo, stockedSkus, webhookSecret } from './helpers.js';
import { startReceiver, type Receiver } from './receiver.js';

let gone: Receiver;
let other: Receiver;
let demo: DemoApp;

beforeAll(async () => {
  const secret = webhookSecret();
  gone = await startReceiver({ secret });
  other = await startReceiver({ secret });
  gone.respond(410);
  // one lane: a batch stops at its first failure, so the gone receiver is asked exactly once
  const sink = (url: string) => ({ kind: 'webhook', url, secret, concurrency: 1, baseDelayMs: 10, maxDelayMs: 50, filter: { types: ['reservation.*'] } });
  demo = await startEventsDemo({ skus: 30, events: { pollIntervalMs: 50, sourceCheckSeconds: 3600, sinks: { gone: sink(gone.url), other: sink(other.url) } } });
});

afterAll(async () => {
  await demo?.close();
  await gone?.close();
  await other?.close();
});

it('stops the sink at a 410: its events wait in the outbox, none is a dead letter, the other sink goes on', async () => {
  const skus = await stockedSkus(demo, 3, 2);
  for (const [i, sku] of skus.entries()) await reserveOne(demo.gql, `gone-${i}`, sku, 1, 'DC-EAST');
  // the other sink takes all three; the gone one was asked once and then never again
  await eventually(() => expect(other.received.filter((r) => r.status === 200)).toHaveLength(3));
  await eventually(async () => {
    const counts = new Map((await demo.app.store.events.counts()).map((c) => [c.sink, c]));
    expect(counts.get('gone')).toMatchObject({ pending: 3, dead: 0 });
    expect(counts.get('other')).toMatchObject({ pending: 0, dead: 0 });
  });
  expect(gone.received).toHaveLength(1);
  expect(gone.received[0]?.status).toBe(410);

  const origin = originOf(demo.url);
  const headers = { 'x-api-key': demo.keys.admin };
  const status = (await (await fetch(`${origin}/status.json`, { headers })).json()) as {
    events: { sinks: Array<{ name: string; stopped: string | null; pending: number; deadLetters: number }> };
  };
  expect(status.events.sinks.find((s) => s.name === 'gone')).toMatchObject({ pending: 3, deadLetters: 0, stopped: expect.stringContaining('410') });
  expect(status.events.sinks.find((s) => s.name === 'other')).toMatchObject({ stopped: null });
  const html = await (await fetch(`${origin}/status`, { headers })).text();
  expect(html).toMatch(/<tr data-sink="gone">.*?stopped until a restart/);
  // a new event for it is written, and waits too
  await reserveOne(demo.gql, 'gone-late', skus[0] as string, 1, 'DC-EAST');
  await eventually(async () => expect((await demo.app.store.events.counts()).find((c) => c.sink === 'gone')).toMatchObject({ pending: 4, dead: 0 }));
  expect(gone.received).toHaveLength(1);
});
