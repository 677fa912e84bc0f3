/**
 * `inventory-graph demo traffic` as a user runs it (the built bin), on a freshly generated demo
 * (real SQLite files) and the real RabbitMQ at 127.0.0.1:5672 (guest/guest; CI starts it):
 * - the WMS rows it picks from and receives into change, their change column moves forward in
 *   the column's own format, and the totals add up to what it says it did;
 * - the 3PL picks are on the queue (a unique one per test), persistent, each a `delta` change
 *   that parseChange accepts, in the 3PL file's own codes;
 * - with no broker listening it says so once, goes on with the WMS alone and exits 0;
 * - SIGTERM stops it cleanly, exit 0, with its summary;
 * - a gateway serving the demo meanwhile answers every query without error, and its figures move.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel } from 'amqplib';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/cli/demo-data.js';
import { parseChange } from '../../src/domain/changes.js';
import { startDemoApp } from '../helpers/demo-app.js';
import { runCli } from '../helpers/serving.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

const run = (args: string[]) => runCli(args);

interface Bin {
  qty: number;
  picked_qty: number;
  updated_at: string;
}

let dir: string;
let config: string;
const queues: string[] = [];
let broker: ChannelModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-demo-traffic-'));
  await generateDemo({ dir, skus: 200 });
  config = join(dir, 'inventory-graph.yaml');
  broker = await connect(AMQP);
});
afterAll(async () => {
  const ch = await broker.createChannel();
  for (const q of queues) await ch.deleteQueue(q);
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every WMS bin by rowid. */
function bins(): Map<number, Bin> {
  const db = new Database(join(dir, 'wms.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('select rowid as id, qty, picked_qty, updated_at from bin_stock').all() as (Bin & { id: number })[];
    return new Map(rows.map(({ id, ...b }) => [id, b]));
  } finally {
    db.close();
  }
}

/** What changed between two reads of the WMS: the bins, and the on-hand and picked totals. */
function diff(before: Map<number, Bin>, after: Map<number, Bin>) {
  const changed: { before: Bin; after: Bin }[] = [];
  let qty = 0;
  let picked = 0;
  for (const [id, b] of before) {
    const a = after.get(id) as Bin;
    qty += a.qty - b.qty;
    picked += a.picked_qty - b.picked_qty;
    if (a.qty !== b.qty || a.updated_at !== b.updated_at) changed.push({ before: b, after: a });
  }
  return { changed, qty, picked };
}

/** The summary line: changes, WMS picks and receipts, 3PL picks published. */
function summary(stdout: string) {
  const m = /^Stopped after [\d.]+ s: (\d+) changes; wms (\d+) picks?, (\d+) receipts?; 3pl (\d+) picks? published$/m.exec(stdout);
  expect(m, stdout).not.toBeNull();
  const [total, picks, receipts, tplPicks] = (m as RegExpExecArray).slice(1).map(Number) as [number, number, number, number];
  return { total, picks, receipts, tplPicks };
}

const uniqueQueue = () => {
  const q = `ig-test.demo-traffic.${randomUUID()}`;
  queues.push(q);
  return q;
};

describe('inventory-graph demo traffic', () => {
  it('writes picks and receipts into the WMS and publishes the 3PL picks as persistent delta changes on a durable queue', async () => {
    const queue = uniqueQueue();
    const before = bins();
    const started = Math.floor(Date.now() / 1000) * 1000;
    const r = await run(['demo', 'traffic', '--config', config, '--duration', '2', '--rate', '20', '--amqp', AMQP, '--amqp-queue', queue, '--seed', '11']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`to queue ${queue} at amqp://guest:***@127.0.0.1:5672`);
    expect(r.stdout).not.toContain('guest:guest');
    const s = summary(r.stdout);
    expect(s.total).toBe(40);
    expect(s.picks + s.receipts + s.tplPicks).toBe(40);
    expect(s.picks).toBeGreaterThan(0);
    expect(s.receipts).toBeGreaterThan(0);
    expect(s.tplPicks).toBeGreaterThan(0);

    // the WMS: the bins written, their change column forward (ISO to the second, as the demo writes it), the totals as said
    const d = diff(before, bins());
    expect(d.changed.length).toBeGreaterThan(0);
    expect(d.changed.length).toBeLessThanOrEqual(s.picks + s.receipts);
    for (const c of d.changed) {
      expect(c.after.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(c.after.updated_at > c.before.updated_at).toBe(true);
      expect(Date.parse(c.after.updated_at)).toBeGreaterThanOrEqual(started);
    }
    expect(d.qty).toBe(s.receipts - s.picks);
    expect(d.picked).toBe(s.picks);

    // the 3PL: every pick on the queue, as the feed will read it
    const file = readdirSync(join(dir, '3pl')).sort().at(-1) as string;
    const rows = parse(readFileSync(join(dir, '3pl', file), 'utf8'), { columns: true }) as { client_sku: string; facility: string }[];
    const codes = new Set(rows.map((row) => row.client_sku));
    const ch = await broker.createChannel();
    try {
      expect((await ch.checkQueue(queue)).messageCount).toBe(s.tplPicks);
      const ids = new Set<string>();
      for (let m = await ch.get(queue, { noAck: true }); m !== false; m = await ch.get(queue, { noAck: true })) {
        const parsed = parseChange(JSON.parse(m.content.toString()) as unknown, new Date());
        expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
        if (!parsed.ok) continue;
        const c = parsed.change;
        expect(c).toMatchObject({ op: 'delta', location: 'W01', onHand: -1, committed: 0 });
        expect(codes.has(c.code), c.code).toBe(true);
        expect(c.eventTime.getTime()).toBeGreaterThanOrEqual(started);
        expect(c.eventTime.getTime()).toBeLessThanOrEqual(Date.now());
        expect(m.properties).toMatchObject({ deliveryMode: 2, contentType: 'application/json', messageId: c.id });
        ids.add(c.id);
      }
      expect(ids.size).toBe(s.tplPicks);
    } finally {
      await ch.close();
    }
    // declared durable: declaring it otherwise is refused
    const probe = await broker.createChannel();
    probe.on('error', () => {});
    await expect(probe.assertQueue(queue, { durable: false })).rejects.toThrow(/PRECONDITION_FAILED/);
  });

  it('says once that RabbitMQ is unreachable, writes the WMS alone and exits 0', async () => {
    const before = bins();
    const r = await run(['demo', 'traffic', '--config', config, '--duration', '1', '--rate', '20', '--amqp', 'amqp://127.0.0.1:1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/RabbitMQ is unreachable/g)).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^inventory-graph demo traffic: RabbitMQ is unreachable at amqp:\/\/127\.0\.0\.1:1 \(.*ECONNREFUSED.*\): the WMS alone gets changes\n$/,
    );
    const s = summary(r.stdout);
    expect(s).toMatchObject({ total: 20, tplPicks: 0 });
    const d = diff(before, bins());
    expect(d.changed.length).toBeGreaterThan(0);
    expect(d.qty).toBe(s.receipts - s.picks);
  });

  it('stops on SIGTERM, closing the connection, with its summary and exit code 0', async () => {
    const queue = uniqueQueue();
    const child = spawn(process.execPath, [BIN, 'demo', 'traffic', '--config', config, '--rate', '10', '--amqp', AMQP, '--amqp-queue', queue]);
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // one line per change at this rate: wait for three
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if ((out.match(/^\d\d:\d\d:\d\d\.\d{3} {2}(wms|3pl) /gm) ?? []).length >= 3) resolve();
      });
      void exited.then((code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
    });
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}wms {2}(pick|receipt) +ITM\d{7} at [A-Z0-9]+ {2}-?\d+ -> -?\d+$/m);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toBe('');
    const s = summary(out);
    expect(s.total).toBeGreaterThanOrEqual(3);
    const ch = await broker.createChannel();
    try {
      // nothing of this run is left unconfirmed: what it says it published is there
      expect((await ch.checkQueue(queue)).messageCount).toBe(s.tplPicks);
    } finally {
      await ch.close();
    }
  });

  it('changes figures the gateway serves meanwhile, which never waits for the writes nor fails', async () => {
    const demo = await startDemoApp({ skus: 200 });
    try {
      const skus = Array.from({ length: 60 }, (_, k) => `SKU-${String(k + 1).padStart(6, '0')}`);
      const query = `{ availability(skus: ${JSON.stringify(skus)}) { sku onHand } }`;
      const served = async () => {
        const r = await demo.gql<{ availability: { sku: string; onHand: number }[] }>(query);
        expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
        return r.body.data?.availability.map((a) => a.onHand) ?? [];
      };
      const before = await served();
      const traffic = run([
        'demo',
        'traffic',
        '--config',
        join(demo.dir, 'inventory-graph.yaml'),
        '--duration',
        '3',
        '--rate',
        '100',
        '--amqp',
        'amqp://127.0.0.1:1',
      ]);
      let done = false;
      void traffic.finally(() => (done = true));
      let answers = 0;
      while (!done) {
        await served();
        answers++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const r = await traffic;
      expect(r.code, r.stderr).toBe(0);
      expect(summary(r.stdout).total).toBe(300);
      expect(answers).toBeGreaterThan(10);
      // read live today, through a poll of the mirror once it lands (every 2 s): moved within a few seconds either way
      const deadline = Date.now() + 10_000;
      let after = await served();
      while (JSON.stringify(after) === JSON.stringify(before) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        after = await served();
      }
      expect(after).not.toEqual(before);
    } finally {
      await demo.close();
    }
  });

  it('says where the demo is missing, exit 1', async () => {
    const r = await run(['demo', 'traffic', '--config', join(dir, 'nowhere.yaml')]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain(`no demo at ${join(dir, 'nowhere.yaml')}: run \`inventory-graph demo\``);
  });
});
