/**
 * Dead letters and replay (issue #17), against a running demo gateway, a real receiver
 * (./receiver.ts) and the real command (`node bin/inventory-graph.mjs events ...`, on the same
 * store as the gateway):
 *
 * - a sink whose receiver answers 503 to every attempt gives up on each event after its
 *   `maxAttempts` (3): each is a dead letter in the store (attempts 3, the last error), counted
 *   in /status.json, shown on /status and in /metrics (inventory_graph_events_dead_letters);
 * - a 400 is a refusal: the event is a dead letter after its one attempt, and the sink goes on;
 * - `events list --dead` prints every dead letter; `events replay --sink NAME` makes them pending
 *   and the running gateway sends each again, with the id it had, in outbox order; then
 *   `events list --dead` prints none and nothing is dead any more;
 * - `events replay` without --all, --sink or --id is a usage error (exit 2).
 *
 * One gateway for the file, its phases in order; counts and contents only, conditions polled.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.js';
import type { EventDeadLetter } from '../../src/store/index.js';
import { eventually } from '../feeds/feed-helpers.js';
import type { DemoApp } from '../helpers/demo-app.js';
import { bodyOf, originOf, outbox, reserveOne, startEventsDemo, stockedSkus, webhookSecret } from './helpers.js';
import { startReceiver, type Receiver } from './receiver.js';
import { runCli } from '../helpers/serving.js';

const SINK = 'partner';
const MAX_ATTEMPTS = 3;

let receiver: Receiver;
let demo: DemoApp;
let config: string;
let sku: string;
/** The dead letters of the 503 phase, then those of the 400 phase. */
let storm: EventDeadLetter[] = [];
let refused: EventDeadLetter[] = [];

beforeAll(async () => {
  const secret = webhookSecret();
  receiver = await startReceiver({ secret });
  demo = await startEventsDemo({
    skus: 40,
    events: {
      pollIntervalMs: 50,
      sourceCheckSeconds: 3600,
      availability: { everyChange: true },
      sinks: {
        [SINK]: {
          kind: 'webhook',
          url: receiver.url,
          secret,
          maxAttempts: MAX_ATTEMPTS,
          baseDelayMs: 10,
          maxDelayMs: 50,
          // one lane: the whole sink in outbox order
          concurrency: 1,
          filter: { types: ['reservation.*', 'availability.changed'] },
        },
      },
    },
  });
  config = join(demo.dir, 'inventory-graph.yaml');
  [sku] = (await stockedSkus(demo, 1, 10)) as [string];
});

afterAll(async () => {
  await demo?.close();
  await receiver?.close();
});

/** `inventory-graph ARGS`, as a user runs it: exit code and output. */
const cli = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'warn' }, timeoutMs: 60_000 });

const tag = Math.random().toString(36).slice(2, 8);
const sinkCounts = async () => (await demo.app.store.events.counts()).find((c) => c.sink === SINK);
const deadLetters = () => demo.app.store.events.deadLetters({ sink: SINK, limit: 1000 });
/** The outbox's events this sink takes, after `afterSeq`. */
const forSink = async (afterSeq: number) =>
  (await outbox(demo.app.store.events)).filter((e) => e.seq > afterSeq && (e.type === 'availability.changed' || e.type.startsWith('reservation.')));
const posts = (id: string) => receiver.received.filter((r) => r.id === id);

/** Holds `n` times 1 unit, then waits until every event they wrote is a dead letter; answers those dead letters and events. */
async function holdUntilDead(n: number, phase: string): Promise<{ letters: EventDeadLetter[]; events: StoredEvent[] }> {
  const since = (await demo.app.store.events.lastSeq()) || 0;
  for (let i = 0; i < n; i++) await reserveOne(demo.gql, `${tag}-${phase}-${i}`, sku, 1, 'DC-EAST');
  await demo.app.events?.availability.flush(30_000);
  const events = await forSink(since);
  // a hold's reservation.created and one availability.changed per channel (web, retail)
  expect(events.filter((e) => e.type === 'reservation.created')).toHaveLength(n);
  expect(events.filter((e) => e.type === 'availability.changed').length).toBeGreaterThanOrEqual(2);
  const letters = await eventually(async () => {
    expect(await sinkCounts()).toMatchObject({ pending: 0 });
    const all = await deadLetters();
    const mine = all.filter((l) => l.event.seq > since);
    expect(mine.map((l) => l.event.id)).toEqual(events.map((e) => e.id));
    return mine;
  }, 30_000);
  return { letters, events };
}

describe(`dead letters of a webhook sink (maxAttempts ${MAX_ATTEMPTS}) and their replay`, () => {
  it('a receiver answering 503 every time: each event is a dead letter after its last attempt, counted on /status, /status.json and /metrics', async () => {
    receiver.respond(503);
    const { letters, events } = await holdUntilDead(3, 'storm');
    storm = letters;
    for (const l of letters) {
      expect(l).toMatchObject({ sink: SINK, attempts: MAX_ATTEMPTS, lastError: 'HTTP 503' });
      expect(l.failedAt).toBeInstanceOf(Date);
      // each attempt reached the receiver, signed, with the event's own body
      expect(posts(l.event.id).map((p) => p.status)).toEqual([503, 503, 503]);
      expect(posts(l.event.id).every((p) => p.verified === true)).toBe(true);
      expect(posts(l.event.id)[0]?.json).toEqual(bodyOf(l.event));
    }
    expect(letters.map((l) => l.event.seq)).toEqual(events.map((e) => e.seq));

    const origin = originOf(demo.url);
    const headers = { 'x-api-key': demo.keys.admin };
    const status = (await (await fetch(`${origin}/status.json`, { headers })).json()) as {
      events: { sinks: Array<{ name: string; kind: string; pending: number; deadLetters: number; lastError: string | null }> };
    };
    expect(status.events.sinks.find((s) => s.name === SINK)).toMatchObject({ kind: 'webhook', pending: 0, deadLetters: letters.length, lastError: 'HTTP 503' });
    const html = await (await fetch(`${origin}/status`, { headers })).text();
    expect(html).toContain('<h2>Events out</h2>');
    expect(html).toMatch(new RegExp(`<tr data-sink="${SINK}">.*?<span class="bad">${letters.length}</span>`));
    const metrics = await (await fetch(`${origin}/metrics`, { headers })).text();
    expect(metrics).toContain(`inventory_graph_events_dead_letters{sink="${SINK}",kind="webhook"} ${letters.length}`);
    expect(metrics).toContain(`inventory_graph_events_pending{sink="${SINK}",kind="webhook"} 0`);
  });

  it('a receiver answering 400 refuses the event: a dead letter after its one attempt, and the sink goes on to the next', async () => {
    receiver.respond(400);
    const { letters } = await holdUntilDead(1, 'refused');
    refused = letters;
    for (const l of letters) {
      expect(l).toMatchObject({ attempts: 1, lastError: 'HTTP 400' });
      expect(posts(l.event.id).map((p) => p.status)).toEqual([400]);
    }
    expect((await deadLetters()).map((l) => l.event.id)).toEqual([...storm, ...refused].map((l) => l.event.id));
  });

  it('events list --dead prints them; events replay --sink sends each again, same id, in outbox order; then none is dead', async () => {
    const dead = [...storm, ...refused];
    expect(dead.length).toBeGreaterThan(0);
    const listed = await cli(['events', 'list', '--dead', '--sink', SINK, '--json', '--limit', '1000', '--config', config]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; sink: string; attempts: number; lastError: string });
    expect(lines.map((l) => [l.id, l.sink, l.attempts, l.lastError])).toEqual(dead.map((l) => [l.event.id, SINK, l.attempts, l.lastError]));
    const text = await cli(['events', 'list', '--dead', '--config', config]);
    for (const l of dead) expect(text.stdout).toContain(`id ${l.event.id}, ${l.attempts} attempts`);

    receiver.respond(200);
    const before = receiver.received.length;
    const replayed = await cli(['events', 'replay', '--sink', SINK, '--config', config]);
    expect(replayed).toMatchObject({ code: 0 });
    expect(replayed.stdout).toContain(`${dead.length} dead letters pending again`);

    // the running gateway reads the outbox on its own and sends them, in the order they were written
    await eventually(async () => {
      expect(await sinkCounts()).toMatchObject({ pending: 0, dead: 0 });
      expect(receiver.received.slice(before).filter((r) => r.status === 200)).toHaveLength(dead.length);
    }, 30_000);
    const again = receiver.received.slice(before);
    expect(again.map((r) => r.id)).toEqual(dead.map((l) => l.event.id));
    for (const [i, r] of again.entries()) {
      expect(r.verified).toBe(true);
      expect(r.json).toEqual(bodyOf((dead[i] as EventDeadLetter).event));
    }
    expect(await deadLetters()).toEqual([]);
    const after = await cli(['events', 'list', '--dead', '--config', config]);
    expect(after).toMatchObject({ code: 0, stdout: 'no dead letters\n' });
    const metrics = await (await fetch(`${originOf(demo.url)}/metrics`, { headers: { 'x-api-key': demo.keys.admin } })).text();
    expect(metrics).toContain(`inventory_graph_events_dead_letters{sink="${SINK}",kind="webhook"} 0`);
    // nothing is dead, so a second replay has nothing to send
    expect((await cli(['events', 'replay', '--all', '--config', config])).stdout).toContain('0 dead letters pending again');
  });

  it('events replay without --all, --sink or --id is a usage error (exit 2), and so is a sink not configured', async () => {
    const r = await cli(['events', 'replay', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('replay needs --all, --sink S or --id ID');
    expect(r.stdout).toBe('');
    const unknown = await cli(['events', 'replay', '--sink', 'nowhere', '--config', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--sink "nowhere" is not a configured sink');
  });
});
