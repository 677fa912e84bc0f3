/**
 * Exactly-once effect across a crash: the real command (`node bin/inventory-graph.mjs start`, its
 * store an SQLite file on disk) mirrors the demo's WMS through one message feed; 600 deltas of
 * -1/+1 with unique ids are sent while the process is killed with SIGKILL at a random point (once
 * a random share of them is applied: some applied, some in flight, some not yet sent), the rest is
 * sent, the process is started again, and once everything is through, every touched level is its
 * base plus the sum of its deltas, exactly (nothing lost, nothing applied twice), and the store
 * holds each id once.
 *
 * - amqp and nats: the broker keeps what was not acknowledged and delivers it again (JetStream
 *   after the consumer's ack wait, 5 s here); the restarted gateway recognises what it had applied.
 * - webhook: the sender re-POSTs every request that did not get a 202 (refused, reset, or in
 *   flight at the kill) until it does; the restarted gateway recognises what it had made durable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex } from '../../src/db/knex.js';
import { servingUrl } from '../helpers/serving.js';
import { eventually, sleep } from './feed-helpers.js';
import {
  amqpTarget,
  answeredLevels,
  createDemo,
  expectedLevels,
  natsTarget,
  pickTargets,
  postIngest,
  randomDeltas,
  webhookFeed,
  WmsModel,
  type AmqpTarget,
  type Change,
  type Demo,
  type NatsTarget,
  type Target,
} from './message-demo.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
const N = 600;

let demo: Demo;
let model: WmsModel;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  demo = await createDemo({ skus: 100, mysql: false });
  model = await WmsModel.load(demo, 'crash');
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await demo?.close();
});

interface Gateway {
  child: ChildProcess;
  url: string;
  base: string;
  exited: Promise<number | null>;
}

interface StatusJson {
  mirrors: { source: string; state: string; feeds: { name: string; connected: boolean; applied: number; heardAt: string | null }[] }[];
}

/** Starts the command on `file` and waits until its WMS mirror is loaded and its feed connected. */
async function startGateway(file: string): Promise<Gateway> {
  const child = spawn(process.execPath, [BIN, 'start', '--config', file, '--port', '0'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const url = await servingUrl(child.stdout, exited, { stderr: () => stderr });
  const g = { child, url, base: url.replace(/\/graphql$/, ''), exited };
  await eventually(async () => {
    const wms = await mirrorStatus(g);
    expect(wms.state).toBe('current');
    expect(wms.feeds[0]?.connected).toBe(true);
  }, 60_000);
  return g;
}

async function mirrorStatus(g: Gateway): Promise<StatusJson['mirrors'][number]> {
  const res = await fetch(`${g.base}/status.json`, { headers: { 'x-api-key': demo.adminKey } });
  const status = (await res.json()) as StatusJson;
  const wms = status.mirrors.find((m) => m.source === 'wms');
  if (wms === undefined) throw new Error('no wms mirror on /status.json');
  return wms;
}

const applied = async (g: Gateway) => (await mirrorStatus(g)).feeds[0]?.applied ?? 0;

async function kill(g: Gateway): Promise<void> {
  g.child.kill('SIGKILL');
  await g.exited;
}

/** How many ids of `tag` the store holds (read after the gateway stopped). */
async function keptIds(file: string, tag: string): Promise<number> {
  const db = createKnex({ client: 'better-sqlite3', connection: file });
  try {
    const rows: { n: number | string }[] = await db('feed_changes').where('message_id', 'like', `${tag}-%`).count({ n: '*' });
    return Number(rows[0]?.n);
  } finally {
    await db.destroy();
  }
}

/** A point to kill at: once this many changes are applied (20% to 60% of them). */
function killPoint(kind: string): number {
  const at = Math.floor(N * (0.2 + Math.random() * 0.4));
  console.info(`${kind}: SIGKILL once ${at} of ${N} changes are applied`);
  return at;
}

describe('a gateway killed with SIGKILL mid-stream and started again', () => {
  for (const kind of ['amqp', 'nats'] as const) {
    it(`applies every change exactly once (${kind})`, async () => {
      let amqp: AmqpTarget | undefined;
      let nats: NatsTarget | undefined;
      try {
        if (kind === 'amqp') amqp = await amqpTarget();
        else nats = await natsTarget({ ackWaitMs: 5000 });
        const feedConfig = amqp?.feed() ?? nats?.feed() ?? {};
        const file = demo.variant(`crash-${kind}`, { mode: 'mirror', feeds: [feedConfig] });
        let g = await startGateway(file);
        const targets = await pickTargets(model, g.url, demo.adminKey, 10);
        const tag = `crash-${kind}`;
        const changes = randomDeltas(targets, N, tag, kind === 'amqp' ? 21 : 22);
        const bodies = changes.map((c) => JSON.stringify(c));
        const publish = (from: number, to: number) =>
          amqp !== undefined ? amqp.publish(bodies.slice(from, to), (i) => changes[from + i]?.id) : (nats as NatsTarget).publish(bodies.slice(from, to));

        // published 20 at a time, paced by looking at what the gateway applied; killed at the point
        const at = killPoint(kind);
        let published = 0;
        for (;;) {
          if ((await applied(g)) >= at) break;
          if (published < N) {
            await publish(published, Math.min(N, published + 20));
            published = Math.min(N, published + 20);
          } else await sleep(20);
        }
        await kill(g);
        await publish(published, N);

        g = await startGateway(file);
        const expected = Object.fromEntries(expectedLevels(targets, changes));
        await eventually(async () => expect(Object.fromEntries(await answeredLevels(g.url, demo.adminKey, targets))).toEqual(expected), 60_000);
        // drained: the broker holds nothing more for the gateway (nats: nothing pending or
        // unacknowledged; amqp: the queue empty and the feed caught up after the last publish)
        const drainedFrom = Date.now();
        await eventually(async () => {
          if (nats !== undefined) expect(await nats.pending()).toEqual({ pending: 0, ackPending: 0 });
          else {
            expect((await (amqp as AmqpTarget).inspect()).messageCount).toBe(0);
            const heard = (await mirrorStatus(g)).feeds[0]?.heardAt;
            expect(heard != null && Date.parse(heard) > drainedFrom).toBe(true);
          }
        }, 60_000);
        expect(Object.fromEntries(await answeredLevels(g.url, demo.adminKey, targets))).toEqual(expected);

        g.child.kill('SIGTERM');
        expect(await g.exited).toBe(0);
        expect(await keptIds(join(demo.dir, `crash-${kind}.store.sqlite`), tag)).toBe(N);
      } finally {
        await amqp?.close();
        await nats?.close();
      }
    }, 180_000);
  }

  it('applies every change exactly once (webhook: the sender re-POSTs what got no 202)', async () => {
    const file = demo.variant('crash-webhook', { mode: 'mirror', feeds: [webhookFeed()] });
    let g = await startGateway(file);
    const targets: Target[] = await pickTargets(model, g.url, demo.adminKey, 10);
    const tag = 'crash-webhook';
    const changes = randomDeltas(targets, N, tag, 23);
    const at = killPoint('webhook');

    // four senders, one change a request, each request POSTed (same webhook-id, a fresh
    // signature) to wherever the gateway is now until it gets its 202
    let accepted = 0;
    let retried = 0;
    let next = 0;
    let current = g;
    async function sender(): Promise<void> {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const c = changes[i] as Change;
        for (;;) {
          const r = await postIngest(current.base, JSON.stringify(c), { id: `wh-${c.id}` }).catch(() => ({ status: 0, body: null }));
          if (r.status === 202) break;
          retried++;
          await sleep(50);
        }
        accepted++;
      }
    }
    const senders = Promise.all([sender(), sender(), sender(), sender()]);
    await eventually(() => expect(accepted).toBeGreaterThanOrEqual(at), 60_000);
    await kill(g);
    expect(accepted).toBeLessThan(N);
    g = await startGateway(file);
    current = g;
    await senders;
    expect(retried).toBeGreaterThan(0);

    // every request got its 202: every change is durable and applied, once
    const expected = Object.fromEntries(expectedLevels(targets, changes));
    expect(Object.fromEntries(await answeredLevels(g.url, demo.adminKey, targets))).toEqual(expected);
    g.child.kill('SIGTERM');
    expect(await g.exited).toBe(0);
    expect(await keptIds(join(demo.dir, 'crash-webhook.store.sqlite'), tag)).toBe(N);
  }, 180_000);
});
