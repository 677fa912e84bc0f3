/**
 * Change-to-visible latency of a mirrored gateway's feeds (issue #15): how long after a change
 * reaches its transport the API first answers with it, while changes keep arriving and the API
 * is under load.
 *
 *   npx tsx bench/feed-latency.ts                               # poll, amqp, nats, webhook in turn; 1M SKUs on MariaDB
 *   npx tsx bench/feed-latency.ts --feeds amqp --duration 20    # one feed
 *   npx tsx bench/feed-latency.ts --skus 1000 --prefix ig_bench_1k --duration 10   # a small dataset, to try it out
 *
 * Options: --feeds poll,amqp,nats,webhook --rate 1000 (changes/s) --batch 10 (changes per
 * statement, message or POST) --duration 30 (s measured) --warmup 5 (s of writing and load
 * before sampling) --sample 20 (changes probed per second) --connections 8 --scenario
 * availability-50 (the load) --source erp (the mirrored source the feed carries) --interval 1
 * --overlap 2 (poll) --amqp URL (amqp://guest:guest@127.0.0.1:5672) --nats URL
 * (nats://127.0.0.1:4222) --skus N --locations N --mysql URL --prefix P --label TEXT --no-record.
 *
 * Per feed, a gateway is started with every source mirrored (bench/lib/mirror.ts) and that one
 * feed on `--source`, and measured once its mirrors are loaded (/status.json). Then, for
 * `warmup + duration` seconds and all at once, in this process:
 *
 * - the load: autocannon sends `--scenario` at `--connections` (bench/lib/load.ts);
 * - the writer sends `--rate` changes a second, each a `set` of one (code, location) of the
 *   source to a new on-hand, in batches of `--batch`: `poll` writes the source's stock table
 *   (a multi-row INSERT ... ON DUPLICATE KEY UPDATE of the on-hand and `updated_at`, i.e. updates
 *   of existing rows), `amqp` publishes to a fresh durable queue (confirm channel, persistent),
 *   `nats` publishes to a fresh JetStream stream (with a message id), `webhook` POSTs to
 *   `/ingest/<source>` signed per Standard Webhooks; messages carry the changes as
 *   src/domain/changes.ts documents them (an array per batch);
 * - the prober: `--sample` changes a second (on SKUs the rest of the writing never touches) are
 *   each timed from the moment the writer hands their batch to the transport (t0) to the arrival
 *   of the first API answer that shows their on-hand; it asks one availability request for
 *   every change it still waits for, again as soon as the last one is answered (at most every
 *   20 ms). A change not visible within 60 s is counted as missed.
 *
 * The locations written are those where `--source` is the first quantity source with a code
 * (for the demo's ERP: the NYC store and in-transit), so every change is visible in the answer
 * (asked without a channel: every location). Afterwards the dataset is left as it was: poll's rows
 * get their values and `updated_at` back; a message feed's changes, which the store keeps for a
 * mirror to replay over its next full load, are deleted from the store's `feed_changes`.
 *
 * Reported per feed: changes sent (and the rate reached), p50/p99/max change-to-visible of the
 * sampled changes, missed ones, the load's req/s and p99 meanwhile, the gateway's RSS and CPU.
 * Appended to bench/RESULTS.md and bench/results.jsonl unless --no-record. Timings are never
 * asserted anywhere. Needs RabbitMQ and NATS (JetStream) on 127.0.0.1 for those feeds.
 */
import amqp from 'amqplib';
import { connect as natsConnect, type JetStreamClient, type NatsConnection } from 'nats';
import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Knex } from 'knex';
import { loadConfig, type Config } from '../src/config/index.js';
import { createKnex } from '../src/db/knex.js';
import { openStore } from '../src/store/index.js';
import { BENCH_API_KEY, ensureDataset, warmDataset, type Dataset } from './lib/dataset.js';
import { measure, type LoadResult } from './lib/load.js';
import { mirroredConfig, type FeedYaml } from './lib/mirror.js';
import { AVAILABILITY, bodies, rng, SCENARIOS, type ScenarioName } from './lib/scenarios.js';
import { startTarget, type Running } from './lib/servers.js';
import type { FeedChange } from './lib/amqp.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const FEEDS = ['poll', 'amqp', 'nats', 'webhook'] as const;
export type FeedKind = (typeof FEEDS)[number];

export interface FeedLatencyOptions {
  feeds?: FeedKind[];
  rate?: number;
  batch?: number;
  duration?: number;
  warmup?: number;
  sample?: number;
  connections?: number;
  scenario?: ScenarioName;
  source?: string;
  intervalSeconds?: number;
  overlapSeconds?: number;
  amqpUrl?: string;
  natsUrl?: string;
  skus?: number;
  locations?: number;
  mysqlUrl?: string;
  prefix?: string;
  label?: string;
  record?: boolean;
  command?: string;
  log?: (m: string) => void;
}

export interface FeedResult {
  feed: FeedKind;
  /** Changes written, and the rate reached over the measured time (changes/s). */
  sent: number;
  rate: number;
  sampled: number;
  seen: number;
  missed: number;
  p50: number;
  p99: number;
  max: number;
  load: LoadResult;
  startSeconds: number;
  startRssMiB: number;
  /** The mirror of the source in /status.json after the run (its feeds' counters), for the record (null: none). */
  status: unknown;
  /** Errors of the writer (a failed statement, publish or POST), the first one. */
  writeErrors: number;
  firstWriteError?: string;
}

/** One change as the message feeds carry it (src/domain/changes.ts). */
type Change = FeedChange;

/** A transport the writer sends batches of changes through. */
interface Writer {
  send(changes: readonly Change[]): Promise<void>;
  close(): Promise<void>;
}

/** A (code, location) the bench writes, where it shows in the API, and its value before the run. */
interface Key {
  sku: string;
  code: string;
  locationCode: string;
  locationId: string;
  original: number;
  originalUpdatedAt: string | null;
}

const PROBE_TIMEOUT_MS = 60_000;
const PROBE_EVERY_MS = 20;
const IN_FLIGHT = 8;
const HOT_SKUS = 10_000;

export async function runFeedLatency(o: FeedLatencyOptions = {}): Promise<FeedResult[]> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`));
  const feeds = o.feeds ?? [...FEEDS];
  const rate = o.rate ?? 1000;
  const batch = o.batch ?? 10;
  const duration = o.duration ?? 30;
  const warmup = o.warmup ?? 5;
  const sample = o.sample ?? 20;
  const connections = o.connections ?? 8;
  const scenario = o.scenario ?? 'availability-50';
  const source = o.source ?? 'erp';
  const mysqlUrl = o.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test';
  const prefix = o.prefix ?? 'ig_bench';
  const skus = o.skus ?? 1_000_000;
  const locations = o.locations ?? 10;
  const headers = { authorization: `Bearer ${BENCH_API_KEY}` };

  const dataset = await ensureDataset({ backend: 'mariadb', skus, locations, mysqlUrl, prefix, dir: join(HERE, 'out', `dataset-${prefix}`), log });
  const db = await warmDataset(mysqlUrl, dataset.databases, log);
  const config = loadConfig(dataset.configPath);
  const load0 = loadavg()[0] ?? 0;
  const results: FeedResult[] = [];
  for (const feed of feeds) {
    const keys = await chooseKeys(config, source, dataset, Math.ceil(sample * (warmup + duration + 5)), 1000 + results.length);
    log(`${feed}: ${keys.hot.length} (code, location) keys written at ${rate}/s, ${keys.probed.length} more for probing`);
    const run = `${process.pid}_${Date.now().toString(36)}`;
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const amqpUrl = o.amqpUrl ?? 'amqp://guest:guest@127.0.0.1:5672';
    const natsUrl = o.natsUrl ?? 'nats://127.0.0.1:4222';
    const names = { queue: `ig_bench_${run}`, stream: `IG_BENCH_${run}`, subject: `ig.bench.${run}.${source}`, durable: `ig_bench_${run}` };
    const feedYaml: FeedYaml =
      feed === 'poll'
        ? { kind: 'poll', changedSince: 'updated_at', intervalSeconds: o.intervalSeconds ?? 1, overlapSeconds: o.overlapSeconds ?? 2, fullResyncSeconds: 0 }
        : feed === 'amqp'
          ? { kind: 'amqp', url: amqpUrl, queue: names.queue }
          : feed === 'nats'
            ? { kind: 'nats', servers: natsUrl, stream: names.stream, subject: `ig.bench.${run}.>`, durable: names.durable }
            : { kind: 'webhook', secret };
    const server = await startTarget(
      {
        name: `mirrored-${feed}`,
        kind: 'gateway',
        env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
        configure: (yaml) => mirroredConfig(yaml, { feeds: { [source]: [feedYaml] }, maxLagSeconds: 30 }),
        mirrored: true,
        startTimeoutMs: 1_800_000,
        description: `every source mirrored, ${source} fed by ${feed}`,
      },
      dataset.configPath,
    );
    log(`${feed}: gateway ready in ${server.startSeconds.toFixed(1)} s, RSS ${server.startRssMiB.toFixed(0)} MiB`);
    const writer = await openWriter(feed, { config, source, amqpUrl, natsUrl, names, secret, base: server.url.replace(/\/graphql$/, '') });
    try {
      results.push(
        await measureFeed({ feed, server, writer, keys, rate, batch, duration, warmup, sample, connections, scenario, dataset, headers, source, log }),
      );
    } catch (e) {
      log(`${feed} stderr (last lines):\n${server.stderr().slice(-3000)}`);
      throw e;
    } finally {
      await writer.close().catch(() => undefined);
      await server.stop();
      await cleanUp(feed, { amqpUrl, natsUrl, names }).catch((e: unknown) => log(`${feed}: clean-up failed: ${String(e)}`));
      await restore(feed, config, source, [...keys.hot, ...keys.probed]).then(
        (n) => log(`${feed}: ${feed === 'poll' ? `${n} rows set back` : `${n} changes of the bench deleted from the store`}`),
        (e: unknown) => log(`${feed}: restoring failed: ${String(e)}`),
      );
    }
    const r = results.at(-1) as FeedResult;
    log(
      `${feed}: ${r.sent} changes (${r.rate.toFixed(0)}/s); change-to-visible p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms (${r.seen} of ${r.sampled} seen, ${r.missed} missed); load ${r.load.rps.toFixed(0)} req/s p99 ${r.load.p99.toFixed(0)} ms errors ${r.load.errors}; writer errors ${r.writeErrors}${r.firstWriteError ? ` (${r.firstWriteError})` : ''}`,
    );
  }
  const markdown = report({
    results,
    dataset,
    db,
    load: [load0, loadavg()[0] ?? 0],
    o: { rate, batch, duration, warmup, sample, connections, scenario, source, intervalSeconds: o.intervalSeconds ?? 1, overlapSeconds: o.overlapSeconds ?? 2 },
    label: o.label,
    command: o.command,
  });
  process.stdout.write(`${markdown}\n`);
  if (o.record !== false) {
    appendFileSync(join(HERE, 'RESULTS.md'), `${markdown}\n`);
    mkdirSync(join(HERE, 'out'), { recursive: true });
    writeFileSync(join(HERE, 'out', `feed-latency-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ dataset, results }, null, 2));
    appendFileSync(
      join(HERE, 'results.jsonl'),
      `${JSON.stringify({ at: new Date().toISOString(), kind: 'feed-latency', command: o.command ?? 'npx tsx bench/feed-latency.ts', label: o.label ?? null, dataset, results })}\n`,
    );
  }
  return results;
}

/**
 * The (code, location) keys written: `hot` ones (HOT_SKUS SKUs at every visible location) for
 * the bulk of the changes, and `probed` ones on other SKUs, each written once and timed. A
 * location is visible for `source` when it is the first quantity source with a code there.
 */
async function chooseKeys(config: Config, source: string, d: Dataset, probes: number, seed: number): Promise<{ hot: Key[]; probed: Key[] }> {
  const visible = config.locations.filter((l) => config.precedence.quantity.find((s) => l.codes[s] !== undefined) === source);
  if (visible.length === 0) throw new Error(`${source} is not the first quantity source at any location: its changes would not show`);
  const next = rng(seed);
  const drawn = new Set<string>();
  while (drawn.size < Math.min(d.skus, HOT_SKUS + probes * 2)) drawn.add(`SKU-${String(1 + Math.floor(next() * d.skus)).padStart(d.width, '0')}`);
  const store = await openStore(config.store);
  let canon;
  try {
    canon = await store.skus.findMany([...drawn]);
  } finally {
    await store.close();
  }
  const skuCodes: [string, string][] = [];
  for (const s of drawn) {
    const c = canon.get(s);
    const code = config.sources[source]?.skuCodes === 'canonical' ? c?.sku : c?.aliases.find((a) => a.system === source)?.code;
    if (code !== undefined) skuCodes.push([s, code]);
  }
  const originals = await readOriginals(
    config,
    source,
    skuCodes.map(([, c]) => c),
  );
  const keys = (list: [string, string][]) =>
    list.flatMap(([sku, code]) =>
      visible.map((l): Key => {
        const locationCode = l.codes[source] as string;
        const o = originals.get(`${code}\u0000${locationCode}`);
        return { sku, code, locationCode, locationId: l.id, original: o?.onHand ?? 0, originalUpdatedAt: o?.updatedAt ?? null };
      }),
    );
  const hotCount = Math.max(1, skuCodes.length - probes);
  return { hot: keys(skuCodes.slice(0, hotCount)), probed: keys(skuCodes.slice(hotCount)).filter((_, k) => k % visible.length === 0) };
}

/** The SQL stock mapping of `source` (table and columns); the bench writes only a table-mapped source. */
function stockTable(
  config: Config,
  source: string,
): { s: Extract<Config['sources'][string], { kind: 'sql' }>; table: string; sku: string; location: string; onHand: string } {
  const s = config.sources[source];
  if (s?.kind !== 'sql' || s.stock?.table === undefined || s.stock.columns === undefined)
    throw new Error(`${source}: the poll writer needs a SQL source whose stock maps a table`);
  const c = s.stock.columns as { sku: string; location: string; onHand: string };
  return { s, table: s.stock.table, sku: c.sku, location: c.location, onHand: c.onHand };
}

async function readOriginals(config: Config, source: string, codes: readonly string[]): Promise<Map<string, { onHand: number; updatedAt: string | null }>> {
  const t = stockTable(config, source);
  const db = createKnex({ client: t.s.client, connection: t.s.connection, pool: 1 });
  const out = new Map<string, { onHand: number; updatedAt: string | null }>();
  try {
    for (let i = 0; i < codes.length; i += 1000) {
      const rows = (await db(t.table)
        .select({ code: t.sku, location: t.location, onHand: t.onHand }, db.raw("date_format(updated_at, '%Y-%m-%d %H:%i:%s.%f') as updated_at"))
        .whereIn(t.sku, codes.slice(i, i + 1000) as string[])) as { code: string; location: string; onHand: number; updated_at: string | null }[];
      for (const r of rows) out.set(`${r.code}\u0000${r.location}`, { onHand: Number(r.onHand), updatedAt: r.updated_at });
    }
  } finally {
    await db.destroy();
  }
  return out;
}

async function openWriter(
  feed: FeedKind,
  o: {
    config: Config;
    source: string;
    amqpUrl: string;
    natsUrl: string;
    names: { queue: string; stream: string; subject: string };
    secret: string;
    base: string;
  },
): Promise<Writer> {
  switch (feed) {
    case 'poll': {
      const t = stockTable(o.config, o.source);
      const db: Knex = createKnex({ client: t.s.client, connection: t.s.connection, pool: 4 });
      return {
        async send(changes) {
          // rows in key order, so that concurrent statements lock in the same order; a deadlock all the same is retried, as a writer would
          const rows = [...changes].sort((a, b) =>
            a.code < b.code ? -1 : a.code > b.code ? 1 : a.location < b.location ? -1 : a.location > b.location ? 1 : 0,
          );
          const statement = () =>
            db.raw(
              `insert into ?? (??, ??, ??, updated_at) values ${rows.map(() => '(?, ?, ?, utc_timestamp(3))').join(', ')} on duplicate key update ?? = values(??), updated_at = values(updated_at)`,
              [t.table, t.sku, t.location, t.onHand, ...rows.flatMap((c) => [c.code, c.location, c.onHand]), t.onHand, t.onHand],
            );
          for (let attempt = 1; ; attempt++) {
            try {
              await statement();
              return;
            } catch (e) {
              if (attempt >= 3 || (e as { code?: string }).code !== 'ER_LOCK_DEADLOCK') throw e;
            }
          }
        },
        close: () => db.destroy(),
      };
    }
    case 'amqp': {
      const conn = await amqp.connect(o.amqpUrl);
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(o.names.queue, { durable: true });
      let n = 0;
      return {
        async send(changes) {
          ch.sendToQueue(o.names.queue, Buffer.from(JSON.stringify(changes)), {
            persistent: true,
            contentType: 'application/json',
            messageId: `${changes[0]?.id ?? 'b'}+${changes.length}-${n++}`,
          });
          await ch.waitForConfirms();
        },
        async close() {
          await ch.close();
          await conn.close();
        },
      };
    }
    case 'nats': {
      const nc: NatsConnection = await natsConnect({ servers: o.natsUrl });
      const js: JetStreamClient = nc.jetstream();
      let n = 0;
      return {
        async send(changes) {
          await js.publish(o.names.subject, Buffer.from(JSON.stringify(changes)), { msgID: `${changes[0]?.id ?? 'b'}+${changes.length}-${n++}` });
        },
        close: () => nc.drain(),
      };
    }
    case 'webhook': {
      const key = Buffer.from(o.secret.slice('whsec_'.length), 'base64');
      const url = `${o.base}/ingest/${o.source}`;
      let n = 0;
      return {
        async send(changes) {
          const body = JSON.stringify(changes);
          const id = `msg_${process.pid}_${n++}`;
          const ts = String(Math.floor(Date.now() / 1000));
          const signature = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${signature}` },
            body,
          });
          const text = await res.text();
          if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
        },
        close: () => Promise.resolve(),
      };
    }
  }
}

async function cleanUp(feed: FeedKind, o: { amqpUrl: string; natsUrl: string; names: { queue: string; stream: string } }): Promise<void> {
  if (feed === 'amqp') {
    const conn = await amqp.connect(o.amqpUrl);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(o.names.queue);
      await ch.close();
    } finally {
      await conn.close();
    }
  } else if (feed === 'nats') {
    const nc = await natsConnect({ servers: o.natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(o.names.stream).catch(() => false);
    } finally {
      await nc.drain();
    }
  }
}

/**
 * Leaves the dataset as it was: poll wrote the source's rows, which get their values and
 * `updated_at` back; a message feed's changes are kept in the store (`feed_changes`, replayed
 * over the next full load of a mirror within the dedupe window), so the bench's are deleted there
 * once the gateway has stopped.
 */
async function restore(feed: FeedKind, config: Config, source: string, keys: readonly Key[]): Promise<number> {
  if (feed !== 'poll') {
    const store = createKnex({ client: config.store.client, connection: config.store.connection, pool: 1 });
    try {
      const changes = await store('feed_changes').where('source', source).andWhere('message_id', 'like', `bench-${process.pid}-%`).delete();
      const dead = await store('feed_dead_letters').where('message_id', 'like', `bench-${process.pid}-%`).delete();
      return changes + dead;
    } finally {
      await store.destroy();
    }
  }
  const t = stockTable(config, source);
  const db = createKnex({ client: t.s.client, connection: t.s.connection, pool: 1 });
  let n = 0;
  try {
    for (let i = 0; i < keys.length; i += 500) {
      const part = keys.slice(i, i + 500).filter((k) => k.originalUpdatedAt !== null);
      if (part.length === 0) continue;
      await db.raw(
        `insert into ?? (??, ??, ??, updated_at) values ${part.map(() => '(?, ?, ?, ?)').join(', ')} on duplicate key update ?? = values(??), updated_at = values(updated_at)`,
        [t.table, t.sku, t.location, t.onHand, ...part.flatMap((k) => [k.code, k.locationCode, k.original, k.originalUpdatedAt]), t.onHand, t.onHand],
      );
      n += part.length;
    }
  } finally {
    await db.destroy();
  }
  return n;
}

/** One feed's run: the load, the writer and the prober at once. */
async function measureFeed(o: {
  feed: FeedKind;
  server: Running;
  writer: Writer;
  keys: { hot: Key[]; probed: Key[] };
  rate: number;
  batch: number;
  duration: number;
  warmup: number;
  sample: number;
  connections: number;
  scenario: ScenarioName;
  dataset: Dataset;
  headers: Record<string, string>;
  source: string;
  log: (m: string) => void;
}): Promise<FeedResult> {
  const total = o.warmup + o.duration;
  const started = performance.now();
  const measureFrom = started + o.warmup * 1000;
  const stopAt = started + total * 1000;
  const next = rng(4242);
  let seq = 0;
  let sent = 0;
  let sentMeasured = 0;
  let writeErrors = 0;
  let firstWriteError: string | undefined;
  let inFlight = 0;
  /** Probed changes: when their batch was handed over, and when an answer first showed them. */
  const probes: { key: Key; onHand: number; t0: number; seenAt: number | null }[] = [];
  let probeNext = 0;
  const pending = new Set<(typeof probes)[number]>();

  const value = () => 100_000 + (seq % 800_000);
  const change = (k: Key, onHand: number): Change => ({
    id: `bench-${process.pid}-${seq++}`,
    op: 'set',
    code: k.code,
    location: k.locationCode,
    onHand,
    eventTime: new Date().toISOString(),
  });

  // the writer: every 10 ms, what is due by now at `rate`, in batches; a probed change now and then
  const writing = (async () => {
    let probeDue = 0;
    while (performance.now() < stopAt) {
      const now = performance.now();
      const due = Math.floor(((now - started) / 1000) * o.rate) - sent;
      let left = due;
      while (left > 0 && inFlight < IN_FLIGHT) {
        const n = Math.min(o.batch, left);
        const changes: Change[] = [];
        const probed: (typeof probes)[number][] = [];
        const sampling = now >= measureFrom && now < stopAt - 1000;
        if (sampling) probeDue += (n / o.rate) * o.sample;
        for (let k = 0; k < n; k++) {
          if (probeDue >= 1 && probeNext < o.keys.probed.length) {
            probeDue -= 1;
            const key = o.keys.probed[probeNext++] as Key;
            const v = value();
            changes.push(change(key, v));
            probed.push({ key, onHand: v, t0: 0, seenAt: null });
          } else {
            const key = o.keys.hot[Math.floor(next() * o.keys.hot.length)] as Key;
            changes.push(change(key, value()));
          }
        }
        left -= n;
        sent += n;
        if (sampling) sentMeasured += n;
        inFlight++;
        const t0 = performance.now();
        for (const p of probed) {
          p.t0 = t0;
          probes.push(p);
          pending.add(p);
        }
        void o.writer.send(changes).then(
          () => inFlight--,
          (e: unknown) => {
            inFlight--;
            writeErrors++;
            const m = String(e);
            firstWriteError ??= m.length > 300 ? `${m.slice(0, 80)} … ${m.slice(-220)}` : m;
            // a change that was not written cannot be seen
            for (const p of probed) pending.delete(p);
            for (const p of probed) probes.splice(probes.indexOf(p), 1);
          },
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();

  // the prober: one availability request for every change it waits for, back to back
  const probing = (async () => {
    const url = o.server.url;
    while (performance.now() < stopAt + PROBE_TIMEOUT_MS && (performance.now() < stopAt || pending.size > 0)) {
      const asked = [...pending].slice(0, 200);
      if (asked.length === 0) {
        await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
        continue;
      }
      const t = performance.now();
      const body = JSON.stringify({
        operationName: 'BenchAvailability',
        variables: { skus: [...new Set(asked.map((p) => p.key.sku))], channel: null },
        extensions: { persistedQuery: { version: 1, sha256Hash: AVAILABILITY.id } },
      });
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...o.headers }, body }).then(
        (r) => r.json() as Promise<{ data?: { availability?: { sku: string; byLocation: { location: { id: string }; onHand: number }[] }[] } }>,
        () => undefined,
      );
      const at = performance.now();
      const bySku = new Map((res?.data?.availability ?? []).map((a) => [a.sku, a]));
      for (const p of asked) {
        const level = bySku.get(p.key.sku)?.byLocation.find((l) => l.location.id === p.key.locationId);
        if (level?.onHand === p.onHand) {
          p.seenAt = at;
          pending.delete(p);
        } else if (at - p.t0 > PROBE_TIMEOUT_MS) pending.delete(p);
      }
      const wait = PROBE_EVERY_MS - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();

  // the load, over the measured part (after the warm-up)
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  const load = await measure({
    url: o.server.url,
    headers: o.headers,
    connections: o.connections,
    duration: o.duration,
    next: bodies(o.scenario, o.dataset.skus, o.dataset.width, 77),
    rssMiB: o.server.rssMiB,
    cpuMs: o.server.cpuMs,
  });
  await writing;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  await probing;

  const times = probes
    .filter((p) => p.seenAt !== null)
    .map((p) => (p.seenAt as number) - p.t0)
    .sort((a, b) => a - b);
  const pct = (q: number) => (times.length === 0 ? Number.NaN : (times[Math.min(times.length - 1, Math.floor(q * times.length))] as number));
  const status = await fetch(o.server.url.replace(/\/graphql$/, '/status.json'), { headers: o.headers }).then(
    (r) => (r.ok ? (r.json() as Promise<{ mirrors?: { source?: string }[] }>) : undefined),
    () => undefined,
  );
  return {
    feed: o.feed,
    sent,
    rate: sentMeasured / Math.max(0.001, o.duration - 1),
    sampled: probes.length,
    seen: times.length,
    missed: probes.length - times.length,
    p50: pct(0.5),
    p99: pct(0.99),
    max: times.at(-1) ?? Number.NaN,
    load,
    startSeconds: o.server.startSeconds,
    startRssMiB: o.server.startRssMiB,
    status: status?.mirrors?.find((m) => m.source === o.source) ?? null,
    writeErrors,
    ...(firstWriteError !== undefined ? { firstWriteError } : {}),
  };
}

function report(r: {
  results: FeedResult[];
  dataset: Dataset;
  db: { poolMiB: number; dataMiB: number };
  load: number[];
  o: {
    rate: number;
    batch: number;
    duration: number;
    warmup: number;
    sample: number;
    connections: number;
    scenario: ScenarioName;
    source: string;
    intervalSeconds: number;
    overlapSeconds: number;
  };
  label?: string;
  command?: string;
}): string {
  const d = r.dataset;
  const goal = (f: FeedKind) => (f === 'poll' ? (r.o.intervalSeconds + 1) * 1000 : 1000);
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
  return [
    `## Feed latency, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${r.label ? ` — ${r.label}` : ''}`,
    '',
    `- command: \`${r.command ?? 'npx tsx bench/feed-latency.ts'}\``,
    `- data: ${d.skus.toLocaleString('en-US')} canonical SKUs x ${d.locations} locations on MariaDB (${d.reused ? 'reused' : 'generated'} dataset, ${d.generatedAt}); MariaDB data ${r.db.dataMiB} MiB, buffer pool ${r.db.poolMiB} MiB`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; the gateway, MariaDB, RabbitMQ, NATS, the writer, the prober and autocannon share the cores; other work on the machine not controlled (load average ${r.load.map((x) => x.toFixed(1)).join(' → ')} over the run)`,
    `- each feed: a gateway with every source mirrored and \`${r.o.source}\` fed by the feed (poll: every ${r.o.intervalSeconds} s, ${r.o.overlapSeconds} s overlap), measured once loaded; ${r.o.rate} changes/s (\`set\`s, ${r.o.batch} per statement/message/POST) for ${r.o.warmup} s + ${r.o.duration} s while autocannon sends ${r.o.scenario} at ${r.o.connections} connections (the last ${r.o.duration} s); ${r.o.sample} changes/s on otherwise untouched SKUs timed from hand-over to the transport to the first API answer showing them (one probe request at a time, at most every ${PROBE_EVERY_MS} ms; missed: not visible within ${PROBE_TIMEOUT_MS / 1000} s); goal p99 ≤ 1 s (poll: ≤ interval + 1 s)`,
    '',
    '| feed | changes/s reached | sampled | seen | missed | p50 ms | p99 ms | max ms | goal p99 | load req/s | load p99 ms | load errors | writer errors | gateway RSS MiB | gateway CPU ms/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
    ...r.results.map(
      (x) =>
        `| ${x.feed} | ${x.rate.toFixed(0)} | ${x.sampled} | ${x.seen} | ${x.missed} | ${ms(x.p50)} | ${ms(x.p99)} | ${ms(x.max)} | ≤ ${goal(x.feed)} ms: ${x.missed === 0 && x.p99 <= goal(x.feed) ? 'met' : 'NOT met'} | ${x.load.rps.toFixed(1)} | ${x.load.p99.toFixed(1)} | ${x.load.errors} | ${x.writeErrors} | ${x.load.rssMaxMiB.toFixed(0)} | ${x.load.cpuMsPerRequest.toFixed(2)} |`,
    ),
    '',
  ].join('\n');
}

function list(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      feeds: { type: 'string' },
      rate: { type: 'string' },
      batch: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      sample: { type: 'string' },
      connections: { type: 'string' },
      scenario: { type: 'string' },
      source: { type: 'string' },
      interval: { type: 'string' },
      overlap: { type: 'string' },
      amqp: { type: 'string' },
      nats: { type: 'string' },
      skus: { type: 'string' },
      locations: { type: 'string' },
      mysql: { type: 'string' },
      prefix: { type: 'string' },
      label: { type: 'string' },
      'no-record': { type: 'boolean' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const feeds = list(values.feeds);
  for (const f of feeds ?? []) if (!(FEEDS as readonly string[]).includes(f)) throw new Error(`unknown feed ${f} (known: ${FEEDS.join(', ')})`);
  if (values.scenario !== undefined && !(SCENARIOS as readonly string[]).includes(values.scenario)) throw new Error(`unknown scenario ${values.scenario}`);
  const results = await runFeedLatency({
    feeds: feeds as FeedKind[] | undefined,
    rate: num(values.rate),
    batch: num(values.batch),
    duration: num(values.duration),
    warmup: num(values.warmup),
    sample: num(values.sample),
    connections: num(values.connections),
    scenario: values.scenario as ScenarioName | undefined,
    source: values.source,
    intervalSeconds: num(values.interval),
    overlapSeconds: num(values.overlap),
    amqpUrl: values.amqp,
    natsUrl: values.nats,
    skus: num(values.skus),
    locations: num(values.locations),
    mysqlUrl: values.mysql,
    prefix: values.prefix,
    label: values.label,
    record: values['no-record'] !== true,
    command: `npx tsx bench/feed-latency.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
  });
  if (results.some((r) => r.missed > 0 || r.writeErrors > 0)) process.exitCode = 1;
}
