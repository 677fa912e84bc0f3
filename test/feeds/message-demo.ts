/**
 * What the message-feed suites over the real demo share (parity-messages, exactly-once,
 * message-lag): a generated demo (SQLite files or MariaDB databases) whose config is written
 * in variants (the WMS live, or mirrored with given feeds; the 3PL always live, so that no test
 * consumes the demo's own queue), a model of the WMS's bins that turns random changes into both
 * the UPDATE the WMS makes and the change message its outbox would publish, publishers for the
 * three message feeds (RabbitMQ, NATS JetStream, a signed webhook POST), and the GraphQL
 * comparison of two gateways figure by figure.
 */
import knexFactory, { type Knex } from 'knex';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as amqpConnect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { connect as natsConnect, AckPolicy, nanos, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { expect } from 'vitest';
import { parseDocument } from 'yaml';
import { generateDemo } from '../../src/cli/demo-data.js';
import { prepareDemo } from '../../src/cli/start.js';
import { loadConfig, type SqlSourceConfig } from '../../src/config/index.js';
import { createKnex, mysqlConnection } from '../../src/db/knex.js';
import { DEMO_NOW, dropDemoDatabases, MARIADB_URL, statements, withoutEvents } from '../helpers/demo-app.js';
import { suffix } from './feed-helpers.js';

export const BROKER_PORT = { amqp: 5672, nats: 4222 } as const;

export interface Demo {
  dir: string;
  /** The generated config (WMS and 3PL made live). */
  file: string;
  adminKey: string;
  mysql: boolean;
  /** A read-write connection to the WMS database, for the changes the test makes. */
  wms: Knex;
  skus: string[];
  /** A config file for a gateway whose WMS has `sync`, with a store of its own (a copy of the demo's, SKU map included). */
  variant(name: string, sync: Record<string, unknown>): string;
  close(): Promise<void>;
}

/** A demo of `skus` SKUs; the WMS and the 3PL read live in its config file. */
export async function createDemo(o: { skus: number; mysql: boolean }): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-feeds-e2e-'));
  const prefix = o.mysql ? `ig_test_msg_${suffix()}` : null;
  await generateDemo({ dir, skus: o.skus, now: DEMO_NOW, ...(prefix !== null ? { mysqlUrl: MARIADB_URL, databasePrefix: prefix } : {}) });
  const file = join(dir, 'inventory-graph.yaml');
  const doc = parseDocument(withoutEvents(readFileSync(file, 'utf8')));
  doc.setIn(['sources', 'wms', 'sync'], { mode: 'live' });
  doc.setIn(['sources', 'tpl', 'sync'], { mode: 'live' });
  writeFileSync(file, doc.toString());
  const { keys } = await prepareDemo(dir, { generate: false });
  const w = loadConfig(file).sources.wms as SqlSourceConfig;
  const wms = o.mysql
    ? knexFactory({ client: 'mysql2', connection: mysqlConnection(w.connection) })
    : createKnex({ client: 'better-sqlite3', connection: w.connection });
  return {
    dir,
    file,
    adminKey: keys.admin,
    mysql: o.mysql,
    wms,
    skus: Array.from({ length: o.skus }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`),
    variant(name, sync) {
      const store = join(dir, `${name}.store.sqlite`);
      copyFileSync(join(dir, 'gateway.sqlite'), store);
      const d = parseDocument(readFileSync(file, 'utf8'));
      d.setIn(['store', 'connection'], store);
      d.setIn(['sources', 'wms', 'sync'], sync);
      const out = join(dir, `${name}.yaml`);
      writeFileSync(out, d.toString());
      return out;
    },
    async close() {
      await wms.destroy();
      if (prefix !== null) {
        await dropDemoDatabases(prefix);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One change message (docs/feeds.md), in the WMS's own codes. */
export interface Change {
  id: string;
  op: 'set' | 'delta';
  code: string;
  location: string;
  onHand?: number;
  onHandDelta?: number;
  eventTime: string;
}

/** A seeded pseudo-random generator (mulberry32), so a failure can be replayed. */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Level {
  code: string;
  wh: string;
  bins: Map<string, number>;
  /** What the live read answers as asOf: the newest updated_at of its bins. */
  asOf: number;
  /** When the level was last stated whole (the load, or a set): a delta must be later to count. */
  statedAt: number;
}

const levelKey = (code: string, wh: string) => `${code}\u0000${wh}`;

/**
 * The WMS's bins as the test changes them. `randomChanges` makes each change twice: an UPDATE
 * (or INSERT) of `bin_stock`, and the message a WMS outbox would publish for it: a `set` of the
 * new sum of the (item_code, wh) with eventTime the new updated_at (the newest of its bins, which
 * is the live asOf), or a `delta` of the bin's change when the level was last stated before it.
 */
export class WmsModel {
  private readonly levels = new Map<string, Level>();
  private readonly whs: string[] = [];
  private seq = 0;
  /** The newest updated_at written so far: the WMS's clock never goes back. */
  private last = 0;

  private constructor(
    private readonly demo: Demo,
    private readonly tag: string,
  ) {}

  static async load(demo: Demo, tag: string): Promise<WmsModel> {
    const m = new WmsModel(demo, tag);
    const rows: { bin_id: string; wh: string; item_code: string; qty: number | string; updated_at: string | Date }[] = await demo
      .wms('bin_stock')
      .select('bin_id', 'wh', 'item_code', 'qty', 'updated_at');
    for (const r of rows) {
      const at = m.parseStamp(r.updated_at);
      const k = levelKey(r.item_code, r.wh);
      let l = m.levels.get(k);
      if (l === undefined) m.levels.set(k, (l = { code: r.item_code, wh: r.wh, bins: new Map(), asOf: at, statedAt: at }));
      l.bins.set(r.bin_id, Number(r.qty));
      l.asOf = Math.max(l.asOf, at);
      l.statedAt = l.asOf;
      if (!m.whs.includes(r.wh)) m.whs.push(r.wh);
    }
    return m;
  }

  /** Levels of the demo's mapped codes (ITM0000001 ... for the first `n` SKUs). */
  codesOfFirst(n: number): Level[] {
    const last = `ITM${String(n).padStart(7, '0')}`;
    return [...this.levels.values()].filter((l) => l.code <= last);
  }

  /** The level's on-hand as the live WMS sums it. */
  onHand(code: string, wh: string): number {
    let n = 0;
    for (const q of this.levels.get(levelKey(code, wh))?.bins.values() ?? []) n += q;
    return n;
  }

  private parseStamp(v: string | Date): number {
    if (v instanceof Date) return v.getTime();
    return new Date(this.demo.mysql ? `${v.replace(' ', 'T')}Z` : v).getTime();
  }

  /** A timestamp as the demo's WMS keeps it (seconds). */
  private stamp(ms: number): string {
    const iso = new Date(ms).toISOString().slice(0, 19);
    return this.demo.mysql ? iso.replace('T', ' ') : `${iso}Z`;
  }

  /**
   * `n` random changes over the first `codes` SKUs' codes, made in the WMS (one transaction) and
   * returned as messages in order. Their updated_at start at the next second (after now and after
   * every earlier change) and move on a second every `perSecond` changes (so many share one, as
   * in a busy WMS); a few thousand stay well within the 5 minutes ahead a message may be.
   */
  async randomChanges(n: number, seed: number, o: { codes: number; perSecond?: number; deltaShare?: number }): Promise<Change[]> {
    const random = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const levels = this.codesOfFirst(o.codes);
    const start = Math.max(Math.ceil(Date.now() / 1000) * 1000, this.last) + 1000;
    const perSecond = o.perSecond ?? 100;
    const out: Change[] = [];
    const writes: { kind: 'update' | 'insert'; bin: string; code: string; wh: string; qty: number; at: string }[] = [];
    for (let i = 0; i < n; i++) {
      const at = start + Math.floor(i / perSecond) * 1000;
      this.last = at;
      const eventTime = new Date(at).toISOString().replace('.000Z', 'Z');
      const id = `${this.tag}-${seed}-${++this.seq}`;
      const l = pick(levels);
      if (random() < 0.05) {
        // a new bin, at one of the warehouses (maybe one the code had none at)
        const wh = pick(this.whs);
        const k = levelKey(l.code, wh);
        let target = this.levels.get(k);
        if (target === undefined) this.levels.set(k, (target = { code: l.code, wh, bins: new Map(), asOf: at, statedAt: at }));
        const bin = `N-${this.tag}-${seed}-${i}`;
        const qty = Math.floor(random() * 20);
        target.bins.set(bin, qty);
        target.asOf = at;
        target.statedAt = at;
        writes.push({ kind: 'insert', bin, code: l.code, wh, qty, at: this.stamp(at) });
        out.push({ id, op: 'set', code: l.code, location: wh, onHand: this.onHand(l.code, wh), eventTime });
        continue;
      }
      const bin = pick([...l.bins.keys()]);
      const before = l.bins.get(bin) as number;
      const qty = Math.floor(random() * 40) - 8;
      l.bins.set(bin, qty);
      l.asOf = at;
      writes.push({ kind: 'update', bin, code: l.code, wh: l.wh, qty, at: this.stamp(at) });
      if (random() < (o.deltaShare ?? 0.4) && at > l.statedAt) {
        out.push({ id, op: 'delta', code: l.code, location: l.wh, onHandDelta: qty - before, eventTime });
      } else {
        l.statedAt = at;
        out.push({ id, op: 'set', code: l.code, location: l.wh, onHand: this.onHand(l.code, l.wh), eventTime });
      }
    }
    await this.demo.wms.transaction(async (trx) => {
      for (const w of writes) {
        if (w.kind === 'insert') await trx('bin_stock').insert({ bin_id: w.bin, wh: w.wh, item_code: w.code, qty: w.qty, picked_qty: 0, updated_at: w.at });
        else await trx('bin_stock').where({ bin_id: w.bin, item_code: w.code, wh: w.wh }).update({ qty: w.qty, updated_at: w.at });
      }
    });
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// publishers

export interface AmqpTarget {
  queue: string;
  /** The feed's config (through `port`, a proxy, when given). */
  feed(port?: number): Record<string, unknown>;
  /** Publishes each body as one persistent message, confirmed; `messageId` defaults to the change id. */
  publish(bodies: readonly string[], messageId?: (i: number) => string | undefined): Promise<void>;
  /** Ready messages and consumers, asked on a channel of its own. */
  inspect(): Promise<{ messageCount: number; consumerCount: number }>;
  close(): Promise<void>;
}

export async function amqpTarget(): Promise<AmqpTarget> {
  const queue = `ig_test_e2e_${suffix()}`;
  const conn: ChannelModel = await amqpConnect(`amqp://guest:guest@127.0.0.1:${BROKER_PORT.amqp}`);
  const pub: ConfirmChannel = await conn.createConfirmChannel();
  await pub.assertQueue(queue, { durable: true });
  return {
    queue,
    feed: (port = BROKER_PORT.amqp) => ({ kind: 'amqp', url: `amqp://guest:guest@127.0.0.1:${port}`, queue, prefetch: 200 }),
    async publish(bodies, messageId) {
      bodies.forEach((b, i) => {
        const id = messageId?.(i);
        pub.sendToQueue(queue, Buffer.from(b), { persistent: true, contentType: 'application/json', ...(id !== undefined ? { messageId: id } : {}) });
      });
      await pub.waitForConfirms();
    },
    async inspect() {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        return await ch.checkQueue(queue);
      } finally {
        await ch.close().catch(() => undefined);
      }
    },
    async close() {
      await pub.deleteQueue(queue).catch(() => undefined);
      await conn.close().catch(() => undefined);
    },
  };
}

export interface NatsTarget {
  stream: string;
  subject: string;
  durable: string;
  feed(port?: number): Record<string, unknown>;
  /** Publishes each body (acknowledged by the stream); with `msgId`, JetStream's own dedupe header is set. */
  publish(bodies: readonly string[], msgId?: (i: number) => string | undefined): Promise<void>;
  /** The durable consumer's pending and unacknowledged counts. */
  pending(): Promise<{ pending: number; ackPending: number }>;
  close(): Promise<void>;
}

/**
 * A stream and its durable consumer, made here before the gateway starts (the feed uses them as
 * they are): the consumer's ack wait is `ackWaitMs` rather than the feed's 30 s, so what a dead
 * connection or process held comes back within a test's patience.
 */
export async function natsTarget(o: { ackWaitMs?: number } = {}): Promise<NatsTarget> {
  const id = suffix();
  const stream = `ig_test_e2e_${id}`;
  const subject = `ig.test.e2e.${id}.wms`;
  const durable = `ig_test_e2e_durable_${id}`;
  const nc: NatsConnection = await natsConnect({ servers: `127.0.0.1:${BROKER_PORT.nats}` });
  const jsm: JetStreamManager = await nc.jetstreamManager();
  const js: JetStreamClient = nc.jetstream();
  await jsm.streams.add({ name: stream, subjects: [subject] });
  await jsm.consumers.add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(o.ackWaitMs ?? 5000),
    max_deliver: -1,
    filter_subject: subject,
  });
  return {
    stream,
    subject,
    durable,
    feed: (port = BROKER_PORT.nats) => ({ kind: 'nats', servers: [`nats://127.0.0.1:${port}`], stream, subject, durable, batch: 200 }),
    async publish(bodies, msgId) {
      // in order, a window at a time (each publish waits for the stream's ack)
      for (let i = 0; i < bodies.length; i += 100) {
        await Promise.all(
          bodies.slice(i, i + 100).map((b, j) => {
            const mid = msgId?.(i + j);
            return js.publish(subject, b, mid !== undefined ? { msgID: mid } : undefined);
          }),
        );
      }
    },
    async pending() {
      const info = await jsm.consumers.info(stream, durable);
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
    async close() {
      await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close().catch(() => undefined);
    },
  };
}

export const WEBHOOK_KEY = randomBytes(32);
export const WEBHOOK_SECRET = `whsec_${WEBHOOK_KEY.toString('base64')}`;
export const webhookFeed = () => ({ kind: 'webhook', secret: WEBHOOK_SECRET });

/** The Standard Webhooks headers for `body`, signed here (HMAC-SHA256 of `id.timestamp.body`), independently of the feed's code. */
export function signedHeaders(body: string, o: { id?: string; timestamp?: number; key?: Buffer } = {}): Record<string, string> {
  const id = o.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', o.key ?? WEBHOOK_KEY)
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${sig}` };
}

/** `POST /ingest/wms` with `body`, signed; the status and the JSON answer. */
export async function postIngest(
  base: string,
  body: string,
  o: { id?: string; timestamp?: number; key?: Buffer } = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/ingest/wms`, { method: 'POST', headers: signedHeaders(body, o), body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

// ---------------------------------------------------------------------------------------------
// answers

export const AVAILABILITY = `query A($skus: [ID!]!) { availability(skus: $skus) {
  sku available onHand committed safetyStock flags
  byLocation { location { id } onHand committed available counted flags provenance { source asOf stale fallback rule } }
} }`;

type Answer = { availability: { sku: string; byLocation: { provenance: { source: string | null; asOf?: string | null } }[] }[] };

export async function gql(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { headers: res.headers, body: JSON.parse(text) as { data?: unknown; errors?: unknown[] } };
}

/**
 * Both gateways' availability of `skus` (500 a request), compared figure by figure: identical
 * JSON but for the asOf of sources without an asOf column (the ERP's figures are "as of the
 * read"). On a difference the first SKU that differs is shown. The mirrored gateway must send
 * no WMS statement, the live one one per request.
 */
export async function expectParity(liveUrl: string, mirroredUrl: string, key: string, skus: readonly string[]): Promise<void> {
  const norm = (a: unknown) =>
    (a as Answer).availability.map((x) => {
      for (const l of x.byLocation) if (l.provenance.source !== 'wms') delete l.provenance.asOf;
      return JSON.stringify(x);
    });
  for (let i = 0; i < skus.length; i += 500) {
    const chunk = skus.slice(i, i + 500);
    const [l, m] = await Promise.all([gql(liveUrl, key, AVAILABILITY, { skus: chunk }), gql(mirroredUrl, key, AVAILABILITY, { skus: chunk })]);
    expect(l.body.errors).toBeUndefined();
    expect(m.body.errors).toBeUndefined();
    const ln = norm(l.body.data);
    const mn = norm(m.body.data);
    expect(mn.length).toBe(chunk.length);
    const d = mn.findIndex((x, j) => x !== ln[j]);
    if (d !== -1) expect(mn[d]).toBe(ln[d]);
    expect(statements(m.headers).get('wms/stock')).toBeUndefined();
    expect(statements(l.headers).get('wms/stock')).toBe(1);
  }
}

const LEVELS = `query L($skus: [ID!]!) { availability(skus: $skus) { sku byLocation { location { id } onHand flags provenance { source stale } } } }`;

export interface WmsLevel {
  sku: string;
  location: string;
  onHand: number;
  flags: string[];
  stale: boolean;
}

/** The WMS's levels of `skus` as a gateway answers them. */
export async function wmsLevels(url: string, key: string, skus: readonly string[]): Promise<WmsLevel[]> {
  const r = await gql(url, key, LEVELS, { skus });
  expect(r.body.errors).toBeUndefined();
  const data = r.body.data as {
    availability: {
      sku: string;
      byLocation: { location: { id: string }; onHand: number; flags: string[]; provenance: { source: string; stale: boolean } }[];
    }[];
  };
  return data.availability.flatMap((a) =>
    a.byLocation
      .filter((b) => b.provenance.source === 'wms')
      .map((b) => ({ sku: a.sku, location: b.location.id, onHand: b.onHand, flags: b.flags, stale: b.provenance.stale })),
  );
}

/** The WMS location code of a canonical location of the demo. */
export const WMS_CODE: Record<string, string> = { 'DC-EAST': 'EAST', 'DC-CENTRAL': 'CENTRAL' };
export const CANONICAL: Record<string, string> = { EAST: 'DC-EAST', CENTRAL: 'DC-CENTRAL' };
/** The demo's WMS code of SKU number `i` (1-based), and back. */
export const wmsCodeOf = (i: number) => `ITM${String(i).padStart(7, '0')}`;
export const skuOfCode = (code: string) => `SKU-${code.slice(3).slice(-6)}`;

/** A WMS level the exactly-once tests move with deltas, and what the API answered for it before. */
export interface Target {
  code: string;
  wh: string;
  sku: string;
  location: string;
  base: number;
}

const targetKey = (sku: string, location: string) => `${sku} ${location}`;

/**
 * `n` WMS levels of the first SKUs whose figure the gateway at `url` answers from the WMS and
 * equal to the bins' sum (so the SKU map and the locations are read right).
 */
export async function pickTargets(model: WmsModel, url: string, key: string, n: number): Promise<Target[]> {
  const candidates = model.codesOfFirst(60).filter((l) => CANONICAL[l.wh] !== undefined);
  const skus = [...new Set(candidates.map((l) => skuOfCode(l.code)))];
  const answered = new Map((await wmsLevels(url, key, skus)).map((l) => [targetKey(l.sku, l.location), l.onHand]));
  const out: Target[] = [];
  for (const l of candidates) {
    const t = { code: l.code, wh: l.wh, sku: skuOfCode(l.code), location: CANONICAL[l.wh] as string, base: model.onHand(l.code, l.wh) };
    if (answered.get(targetKey(t.sku, t.location)) === t.base) out.push(t);
    if (out.length === n) break;
  }
  expect(out.length).toBe(n);
  return out;
}

/** `n` deltas of -1 or +1 over `targets`, with unique ids, at now: each applies once on top of the loaded levels. */
export function randomDeltas(targets: readonly Target[], n: number, tag: string, seed: number): Change[] {
  const random = rng(seed);
  const eventTime = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => {
    const t = targets[Math.floor(random() * targets.length)] as Target;
    return { id: `${tag}-${seed}-${i}`, op: 'delta', code: t.code, location: t.wh, onHandDelta: random() < 0.5 ? -1 : 1, eventTime };
  });
}

/** Each target's level once every change of `changes` is applied exactly once. */
export function expectedLevels(targets: readonly Target[], changes: readonly Change[]): Map<string, number> {
  const out = new Map(targets.map((t) => [targetKey(t.sku, t.location), t.base]));
  for (const c of changes) {
    const k = targetKey(skuOfCode(c.code), CANONICAL[c.location] as string);
    out.set(k, (out.get(k) as number) + (c.onHandDelta ?? 0));
  }
  return out;
}

/** The targets' levels as the gateway at `url` answers them, keyed as `expectedLevels`. */
export async function answeredLevels(url: string, key: string, targets: readonly Target[]): Promise<Map<string, number>> {
  const want = new Set(targets.map((t) => targetKey(t.sku, t.location)));
  const got = await wmsLevels(url, key, [...new Set(targets.map((t) => t.sku))]);
  return new Map(got.filter((l) => want.has(targetKey(l.sku, l.location))).map((l) => [targetKey(l.sku, l.location), l.onHand]));
}
