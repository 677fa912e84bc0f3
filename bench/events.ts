/**
 * Events out under a feed (issue #17): with `--rate` source changes a second arriving through an
 * amqp feed on a mirrored gateway, how many availability.changed events reach RabbitMQ a second,
 * how long after its change each one arrives, and the API's throughput meanwhile against the same
 * gateway without events.
 *
 *   npx tsx bench/events.ts                                      # 1M SKUs on MariaDB, 2 rounds
 *   npx tsx bench/events.ts --skus 10000 --duration 10 --rounds 1 --no-record   # a quick try
 *
 * Options: --rate 1000 (changes/s) --batch 10 (changes per message) --duration 30 (s measured)
 * --warmup 5 --rounds 2 --connections 8 --scenario availability-50 --source wms (the mirrored
 * source the feed carries) --amqp URL --skus N (1000000) --locations N (10) --mysql URL --prefix P
 * (ig_bench at 1M, else ig_bench_<n>k) --sink-batch N, --recompute-batch N (the sink's
 * `batchSize`, `events.availability.batchSize`) --crossings (`everyChange: false`, the default:
 * no event for these changes, only the recompute's cost) --profile DIR (each gateway's V8 CPU
 * profile, summarised over its first measured run) --label TEXT --no-record.
 *
 * Two gateways with every source mirrored (bench/lib/mirror.ts) and `--source` fed by an amqp
 * feed on a queue of its own start at once on the same dataset and store: `events` with
 * `events.availability.everyChange: true` (the worst case: every change an event per channel) and
 * one amqp sink, `bus`, to a fresh exchange; `none` without `events` (the demo's is removed). Each
 * round measures both in turn (order alternating): for `warmup + duration` s the writer sends
 * `--rate` `set`s of on-hand (bench/lib/amqp.ts), each on a SKU drawn from the catalogue (none
 * twice in a run while it allows) at a location where the source decides the figure, in every
 * published channel (demo: the WMS's DCs, web and retail: 2 events per change); autocannon sends
 * `--scenario` over the last `duration` s. A consumer here, bound with `#`, times each change from
 * its message's hand-over to RabbitMQ (t0) to the arrival of its events (bench/lib/event-latency.ts;
 * missed: not within 60 s), split at the event's `occurredAt`. Also: the outbox backlog when
 * writing stops and after, CPU of gateway, MariaDB, RabbitMQ, this process and the rest
 * (bench/lib/cpu.ts), MariaDB's statement rates, the gateway's event-loop delay. Afterwards the
 * bench's feed changes, events, baselines and marks leave the store, its exchange and queues
 * RabbitMQ. Appends to bench/RESULTS.md and bench/results.jsonl unless --no-record.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { loadConfig, type Config } from '../src/config/index.js';
import { createKnex } from '../src/db/knex.js';
import { eventChannels } from '../src/events/events.js';
import { openStore } from '../src/store/index.js';
import { consumeExchange, deleteQueues, pacedWrite, queueDepth, type ExchangeConsumer } from './lib/amqp.js';
import { cpuMeter, pidByName, type CpuShares } from './lib/cpu.js';
import { BENCH_API_KEY, ensureDataset, skuName, warmDataset, type Dataset } from './lib/dataset.js';
import { createLatencyTracker, type LatencyFigures } from './lib/event-latency.js';
import { counterDelta, serverCounters } from './lib/holds.js';
import { measure, type LoadResult } from './lib/load.js';
import { mirroredConfig } from './lib/mirror.js';
import { entries, entriesText, summarise, summaryText, type CpuProfile } from './lib/profile.js';
import { bodies, rng, SCENARIOS, type ScenarioName } from './lib/scenarios.js';
import { eventLoopDelay, startTarget, type Running } from './lib/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const MISSED_MS = 60_000;
const SINK = 'bus';
const headers = { authorization: `Bearer ${BENCH_API_KEY}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);

type Mode = 'events' | 'none';
interface Key {
  sku: string;
  code: string;
  locations: { code: string; id: string; channels: number }[];
}
/** Outbox deliveries pending, marks in event_triggers, marks queued in memory, messages in the feed's queue. */
type Backlog = [number | null, number, number | null, number | null];
interface RunResult {
  mode: Mode;
  round: number;
  sent: number;
  rate: number;
  writeErrors: number;
  load: LoadResult;
  cpu: CpuShares;
  atStop: Backlog;
  after: Backlog;
  /** Seconds from the end of writing to every timed change seen and the backlog empty; MariaDB's statements, commits and fsyncs a second while measured (the whole server's). */
  drainSeconds: number;
  db: { statements: number; commits: number; fsyncs: number };
  /** The gateway's event-loop delay while measured: p50, p99, max in ms. */
  loop: number[];
  events?: LatencyFigures & { perSecond: number; received: number; delivered: number; published: number; bodyBytes: number };
}
interface EventsView {
  events?: { sinks: { name: string; pending: number; delivered: number }[]; availability: { queued: number; published: number } } | null;
}

/** The options and their defaults (`--sink-batch`, `--recompute-batch`, `--profile` have none: the config's, no profile). */
const DEFAULTS = { rate: 1000, batch: 10, duration: 30, warmup: 5, rounds: 2, connections: 8, scenario: 'availability-50' as ScenarioName, source: 'wms' };
const SERVICES = { amqp: 'amqp://guest:guest@127.0.0.1:5672', skus: 1_000_000, locations: 10, mysql: 'mysql://root@127.0.0.1:3306/test' };
export type EventsOptions = typeof DEFAULTS &
  typeof SERVICES & { prefix: string; crossings?: boolean; sinkBatch?: number; recomputeBatch?: number; profileDir?: string };

const statusOf = (server: Running): Promise<EventsView> =>
  fetch(server.url.replace(/\/graphql$/, '/status.json'), { headers }).then(
    (r) => (r.ok ? (r.json() as Promise<EventsView>) : {}),
    () => ({}),
  );

/** `count` SKUs drawn from the catalogue (distinct), with their code in `source` and the sellable locations where `source` decides the figure, in the most published channels. */
async function chooseKeys(config: Config, source: string, d: Dataset, count: number): Promise<Key[]> {
  const channels = eventChannels(config);
  const visible = config.locations
    .filter((l) => l.sellable !== false && config.precedence.quantity.find((s) => l.codes[s] !== undefined) === source)
    .map((l) => ({ code: l.codes[source] as string, id: l.id, channels: channels.filter((c) => c === null || l.channels?.includes(c) !== false).length }));
  const most = Math.max(0, ...visible.map((l) => l.channels));
  const locations = visible.filter((l) => l.channels === most && most > 0);
  if (locations.length === 0) throw new Error(`${source} decides the figure at no sellable location in a published channel: its changes give no event`);
  const next = rng(1717);
  const drawn = new Set<string>();
  while (drawn.size < Math.min(d.skus, count)) drawn.add(skuName(1 + Math.floor(next() * d.skus), d.width));
  const store = await openStore(config.store);
  try {
    const canon = await store.skus.findMany([...drawn]);
    return [...drawn].flatMap((sku) => {
      const c = canon.get(sku);
      const code = config.sources[source]?.skuCodes === 'canonical' ? c?.sku : c?.aliases.find((a) => a.system === source)?.code;
      return code === undefined ? [] : [{ sku, code, locations }];
    });
  } finally {
    await store.close();
  }
}

/** The gateway config: every source mirrored, `source` fed by amqp from `queue`; with `sink`, events (everyChange) to it, else no `events` section at all. */
function gatewayConfig(yaml: string, o: EventsOptions, queue: string, sink: Record<string, unknown> | null): string {
  const doc = parseDocument(mirroredConfig(yaml, { feeds: { [o.source]: [{ kind: 'amqp', url: o.amqp, queue }] }, maxLagSeconds: 30 }));
  doc.delete('events');
  if (sink !== null) {
    const availability = {
      everyChange: o.crossings !== true,
      lowStock: { default: 5 },
      ...(o.recomputeBatch !== undefined ? { batchSize: o.recomputeBatch } : {}),
    };
    doc.set('events', doc.createNode({ availability, sinks: { [SINK]: sink } }));
  }
  return doc.toString();
}

export async function runEvents(o: EventsOptions) {
  const dir = join(HERE, 'out', `dataset-${o.prefix}`);
  const dataset = await ensureDataset({ backend: 'mariadb', skus: o.skus, locations: o.locations, mysqlUrl: o.mysql, prefix: o.prefix, dir, log });
  const db = await warmDataset(o.mysql, dataset.databases, log);
  const config = loadConfig(dataset.configPath);
  const keys = await chooseKeys(config, o.source, dataset, Math.ceil(o.rate * (o.warmup + o.duration + 2)));
  const byCode = new Map(keys.map((k) => [k.code, k]));
  log(`${keys.length} SKUs to change at ${keys[0]?.locations.map((l) => `${l.id} (${l.channels} channels)`).join(', ')}`);
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const exchange = `ig_bench_events_${tag}`;
  const queues: Record<Mode, string> = { events: `ig_bench_ev_on_${tag}`, none: `ig_bench_ev_off_${tag}` };
  const sink = { kind: 'amqp', url: o.amqp, exchange, ...(o.sinkBatch !== undefined ? { batchSize: o.sinkBatch } : {}) };
  const profileName = (mode: Mode) => `events-${tag}-${mode}.cpuprofile`;
  const start = (mode: Mode) =>
    startTarget(
      {
        name: `events-${mode}`,
        kind: 'gateway',
        env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
        configure: (yaml) => gatewayConfig(yaml, o, queues[mode], mode === 'events' ? sink : null),
        mirrored: true,
        startTimeoutMs: 1_800_000,
        ...(o.profileDir !== undefined ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`, `--cpu-prof-name=${profileName(mode)}`] } : {}),
        description: `every source mirrored, ${o.source} fed by amqp, ${mode === 'events' ? 'events to an amqp sink' : 'no events'}`,
      },
      dataset.configPath,
    ).then((r) => ({ r, spawnedAt: performance.now() - r.startSeconds * 1000 }));
  const load0 = loadavg()[0] ?? 0;
  log('starting both gateways (their mirrors load at the same time)');
  const started = await Promise.allSettled([start('events'), sleep(10_000).then(() => start('none'))]);
  const [on, off] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  const store = createKnex({ client: config.store.client, connection: config.store.connection, pool: 2 });
  const results: RunResult[] = [];
  const windows: Partial<Record<Mode, { fromMs: number; toMs: number }>> = {};
  let seq0: number | null = null;
  let onEvent: (body: Buffer, at: number) => void = () => {};
  let consumer: ExchangeConsumer | undefined;
  try {
    consumer = await consumeExchange(o.amqp, exchange, (b, at) => onEvent(b, at));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined || on === undefined || off === undefined) throw (failed as PromiseRejectedResult).reason;
    const servers: Record<Mode, Running> = { events: on.r, none: off.r };
    for (const m of ['events', 'none'] as const) log(`${m}: ready in ${servers[m].startSeconds.toFixed(1)} s, RSS ${servers[m].startRssMiB.toFixed(0)} MiB`);
    const backlog = async (mode: Mode): Promise<Backlog> => {
      const s = mode === 'events' ? await statusOf(servers.events) : {};
      const marks = (await store('event_triggers').count({ n: '*' }).first()) as { n: number | string };
      return [
        s.events?.sinks.find((x) => x.name === SINK)?.pending ?? null,
        Number(marks.n),
        s.events?.availability.queued ?? null,
        await queueDepth(o.amqp, queues[mode]),
      ];
    };
    // what the start wrote (anomalies the load found) is sent before anything is measured
    for (const until = Date.now() + 600_000; ; await sleep(1000)) {
      const [pending, , queued] = await backlog('events');
      if ((pending === 0 && queued === 0) || Date.now() > until) break;
      log(`events: waiting for the outbox to drain: ${pending} pending, ${queued} marks queued`);
    }
    seq0 = Number(((await store('events').max({ m: 'seq' }).first()) as { m: number | string | null }).m ?? 0);
    const pids = { mariadb: pidByName('mariadbd', 'mysqld'), rabbitmq: pidByName('beam.smp') };
    let seq = 0;
    for (let round = 1; round <= o.rounds; round++) {
      for (const mode of round % 2 === 1 ? (['events', 'none'] as const) : (['none', 'events'] as const)) {
        const server = servers[mode];
        const s0 = await statusOf(server);
        const measureFrom = performance.now() + o.warmup * 1000;
        const stopAt = measureFrom + o.duration * 1000;
        const tracker = createLatencyTracker(MISSED_MS);
        let [inWindow, received, bytes] = [0, 0, 0];
        onEvent = (body, at) => {
          const e = JSON.parse(body.toString('utf8')) as Parameters<typeof tracker.received>[0];
          if (mode !== 'events' || e.type !== 'availability.changed') return;
          received++;
          bytes += body.length;
          if (at >= measureFrom && at <= stopAt) inWindow++;
          tracker.received(e, at);
        };
        let k = (round * 7919) % keys.length;
        log(`round ${round}, ${mode}: writing ${o.rate}/s for ${o.warmup} + ${o.duration} s`);
        const target = { url: o.amqp, queue: queues[mode], rate: o.rate, batch: o.batch, durationMs: (o.warmup + o.duration) * 1000 };
        const writing = pacedWrite({
          ...target,
          next: () => {
            const key = keys[k++ % keys.length] as Key;
            const loc = key.locations[seq % key.locations.length] as Key['locations'][number];
            return { id: `bench-${tag}-${seq}`, op: 'set', code: key.code, location: loc.code, onHand: 100_000 + (seq++ % 800_000) };
          },
          sent: (changes, t0) => {
            if (mode !== 'events' || o.crossings === true || t0 < measureFrom || t0 > stopAt) return;
            for (const c of changes) {
              const key = byCode.get(c.code) as Key;
              const loc = key.locations.find((l) => l.code === c.location) as Key['locations'][number];
              tracker.sent(key.sku, loc.id, c.onHand, t0, loc.channels);
            }
          },
        });
        await sleep(o.warmup * 1000);
        const meter = cpuMeter({ gateway: server.pid, ...pids });
        const counters = await serverCounters(store);
        await eventLoopDelay(server, headers);
        const next = bodies(o.scenario, dataset.skus, dataset.width, 77 + round);
        const load = await measure({
          url: server.url,
          headers,
          connections: o.connections,
          duration: o.duration,
          next,
          rssMiB: server.rssMiB,
          cpuMs: server.cpuMs,
        });
        const cpu = meter.stop();
        const loop = await eventLoopDelay(server, headers);
        const c = counterDelta(counters, await serverCounters(store));
        const dbRates = { statements: c.Questions / o.duration, commits: c.Com_commit / o.duration, fsyncs: c.Innodb_data_fsyncs / o.duration };
        const w = await writing;
        const atStop = await backlog(mode);
        // the changes timed get up to MISSED_MS to show; then the outbox and the feed's queue are given as long to empty
        for (const until = performance.now() + MISSED_MS; mode === 'events' && performance.now() < until && tracker.waiting() > 0;) await sleep(200);
        for (const until = Date.now() + MISSED_MS; Date.now() < until; await sleep(500)) {
          const [pending, , queued, feed] = await backlog(mode);
          if ((pending ?? 0) === 0 && (queued ?? 0) === 0 && (feed ?? 0) === 0) break;
        }
        const drainSeconds = (performance.now() - w.stoppedAt) / 1000;
        const after = await backlog(mode);
        const s1 = await statusOf(server);
        const rate = w.sent / ((w.stoppedAt - w.startedAt) / 1000);
        const r: RunResult = { mode, round, sent: w.sent, rate, writeErrors: w.errors, load, cpu, atStop, after, drainSeconds, db: dbRates, loop };
        if (mode === 'events') {
          const delivered = (s: EventsView) => s.events?.sinks.find((x) => x.name === SINK)?.delivered ?? 0;
          const published = (s: EventsView) => s.events?.availability.published ?? 0;
          r.events = {
            ...tracker.figures(),
            perSecond: inWindow / o.duration,
            received,
            delivered: delivered(s1) - delivered(s0),
            published: published(s1) - published(s0),
            bodyBytes: received === 0 ? 0 : bytes / received,
          };
        }
        const spawnedAt = (mode === 'events' ? on : off).spawnedAt;
        windows[mode] ??= { fromMs: measureFrom - spawnedAt, toMs: stopAt - spawnedAt };
        results.push(r);
        const e = r.events;
        log(
          `round ${round}, ${mode}: ${r.sent} changes (${r.rate.toFixed(0)}/s), API ${load.rps.toFixed(1)} req/s p99 ${load.p99.toFixed(0)} ms errors ${load.errors}` +
            (e === undefined
              ? ''
              : `; ${e.perSecond.toFixed(0)} events/s, p50 ${e.latency.p50.toFixed(0)} p99 ${e.latency.p99.toFixed(0)} max ${e.latency.max.toFixed(0)} ms, ${e.missed} of ${e.timed} missed`) +
            `; CPU ${JSON.stringify(Object.fromEntries(Object.entries(cpu).map(([n, v]) => [n, Number(v.toFixed(2))])))}; backlog at stop ${atStop.join('/')}, after ${after.join('/')}`,
        );
      }
    }
  } finally {
    onEvent = () => {};
    await consumer?.close(true);
    await Promise.all([on?.r.stop(), off?.r.stop()]);
    await deleteQueues(o.amqp, Object.values(queues)).catch((e: unknown) => log(`deleting the queues failed: ${String(e)}`));
    await cleanStore(store, tag, seq0, keys, o.source).then(
      (n) => log(`store: ${n} rows of the bench deleted`),
      (e: unknown) => log(`cleaning the store failed: ${String(e)}`),
    );
    await store.destroy();
  }
  const profile: Partial<Record<Mode, string>> = {};
  for (const mode of ['events', 'none'] as const) {
    const file = join(o.profileDir ?? '', profileName(mode));
    const w = windows[mode];
    if (o.profileDir === undefined || w === undefined || !existsSync(file)) continue;
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    profile[mode] = `${summaryText(summarise(p, w), 15)}\nby the gateway's outermost function on the stack (self time):\n${entriesText(entries(p, w), 20)}`;
  }
  const startup = [on, off].map((g) => g && { seconds: g.r.startSeconds, rssMiB: g.r.startRssMiB });
  return { dataset, db, results, load: [load0, loadavg()[0] ?? 0], profile, startup };
}

/** Deletes what the bench wrote to the store: its feed changes (replayed over a mirror's next load otherwise), its events, the baselines and marks of its SKUs. */
async function cleanStore(store: ReturnType<typeof createKnex>, tag: string, seq0: number | null, keys: readonly Key[], source: string): Promise<number> {
  let n = 0;
  n += await store('feed_changes').where('message_id', 'like', `bench-${tag}-%`).delete();
  n += await store('feed_dead_letters').where('message_id', 'like', `bench-${tag}-%`).delete();
  if (seq0 !== null) {
    const ours = () => store('events').where('seq', '>', seq0).andWhere('type', 'availability.changed').select('seq');
    n += await store('event_deliveries').whereIn('seq', ours()).delete();
    n += await store('events').where('seq', '>', seq0).andWhere('type', 'availability.changed').delete();
  }
  for (let i = 0; i < keys.length; i += 1000) {
    const part = keys.slice(i, i + 1000);
    n += await store('event_triggers')
      .where('source', source)
      .whereIn(
        'code',
        part.map((k) => k.code),
      )
      .delete();
    n += await store('event_baselines')
      .where('scope', 'availability')
      .whereIn(
        'subject',
        part.map((k) => k.sku),
      )
      .delete();
  }
  return n;
}

type Outcome = Awaited<ReturnType<typeof runEvents>>;

function report(x: Outcome, o: EventsOptions, command: string, label: string | undefined): string {
  const d = x.dataset;
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-');
  const b = (k: Backlog) => k.map((v) => v ?? '-').join(' / ');
  const on = x.results.filter((r) => r.mode === 'events');
  const off = x.results.filter((r) => r.mode === 'none');
  const ratios = on.map((r) => r.load.rps / (off.find((f) => f.round === r.round)?.load.rps ?? Number.NaN));
  const total =
    on.reduce((s, r) => s + r.load.requests, 0) /
    Math.max(
      1,
      off.reduce((s, r) => s + r.load.requests, 0),
    );
  const latencyMet = on.length > 0 && on.every((r) => r.events !== undefined && r.events.missed === 0 && r.events.latency.p99 <= 2000);
  const [s1, s2] = x.startup;
  const cpu = (c: CpuShares) => ['gateway', 'mariadb', 'rabbitmq', 'bench', 'other', 'machine'].map((k) => (c[k] ?? 0).toFixed(2)).join(' / ');
  return [
    `## Events out (issue #17), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${label ? ` — ${label}` : ''}`,
    '',
    `- command: \`${command}\``,
    `- data: ${d.skus.toLocaleString('en-US')} canonical SKUs x ${d.locations} locations on MariaDB (${d.reused ? 'reused' : 'generated'} dataset, ${d.generatedAt}); MariaDB data ${x.db.dataMiB} MiB, buffer pool ${x.db.poolMiB} MiB; the store on the same server`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; both gateways, MariaDB, RabbitMQ, the writer, the consumer and autocannon share the cores; other work on the machine not controlled (load average ${x.load.map((v) => v.toFixed(1)).join(' → ')} over the run)`,
    `- two gateways started at once on the same dataset and store, every source mirrored, \`${o.source}\` fed by an amqp feed: \`events\` with ${o.crossings === true ? 'crossings only (`everyChange: false`, the default: these changes cross nothing, so no event is published, but every change is recomputed and its baseline written)' : '`events.availability.everyChange: true` (every change an event per channel: the worst case)'} and one amqp sink${o.sinkBatch !== undefined ? ` (batchSize ${o.sinkBatch})` : ''}${o.recomputeBatch !== undefined ? `, recompute batchSize ${o.recomputeBatch}` : ''}; \`none\` the same without \`events\`. Ready (mirrors loaded) in ${s1?.seconds.toFixed(0) ?? '-'} s, RSS ${s1?.rssMiB.toFixed(0) ?? '-'} MiB, and ${s2?.seconds.toFixed(0) ?? '-'} s, ${s2?.rssMiB.toFixed(0) ?? '-'} MiB`,
    `- each run: ${o.rate} changes/s (\`set\` of on-hand, ${o.batch} per message, SKUs drawn from the whole catalogue, none twice in a run while it allows, at a location where \`${o.source}\` decides the figure, in every published channel: an event per channel per change) for ${o.warmup} s + ${o.duration} s; autocannon ${o.scenario} at ${o.connections} connections over the last ${o.duration} s; the two runs of a round one after the other, the order alternating. Latency: from the change's message handed to RabbitMQ to the arrival, in a consumer bound with \`#\`, of the events of every channel showing its value (changes written in the measured ${o.duration} s; missed: not within ${MISSED_MS / 1000} s); "first": the first channel's; "to recompute": t0 to the event's occurredAt; "to consumer": the rest. Backlog: outbox deliveries pending / marks in event_triggers / marks queued in memory / messages in the feed's queue, when writing stops and after waiting (up to ${MISSED_MS / 1000} s, the seconds in brackets) for them. CPU in cores over the measured part: the measured gateway / mariadbd / RabbitMQ / this process (writer, consumer, autocannon) / other (the idle gateway and everything else) / the whole machine`,
    '',
    '| round | gateway | changes/s | API req/s | API p99 ms | API errors | events/s | timed | missed | p50 ms | p95 ms | p99 ms | max ms | first p99 ms | to recompute p50 / p99 ms | to consumer p50 / p99 ms | backlog at stop | after (s) | CPU cores gw / db / mq / bench / other / all | MariaDB statements / commits / fsyncs per s | event-loop delay p50 / p99 / max ms |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|',
    ...x.results.map((r) => {
      const e = r.events;
      const cells =
        e === undefined
          ? Array.from({ length: 10 }, () => '-')
          : [
              e.perSecond.toFixed(0),
              String(e.timed),
              String(e.missed),
              ms(e.latency.p50),
              ms(e.latency.p95),
              ms(e.latency.p99),
              ms(e.latency.max),
              ms(e.first.p99),
              `${ms(e.toRecompute.p50)} / ${ms(e.toRecompute.p99)}`,
              `${ms(e.toConsumer.p50)} / ${ms(e.toConsumer.p99)}`,
            ];
      return `| ${r.round} | ${r.mode} | ${r.rate.toFixed(0)} | ${r.load.rps.toFixed(1)} | ${r.load.p99.toFixed(0)} | ${r.load.errors} | ${cells.join(' | ')} | ${b(r.atStop)} | ${b(r.after)} (${r.drainSeconds.toFixed(0)}) | ${cpu(r.cpu)} | ${r.db.statements.toFixed(0)} / ${r.db.commits.toFixed(0)} / ${r.db.fsyncs.toFixed(0)} | ${r.loop.map(ms).join(' / ')} |`;
    }),
    '',
    `- API with events / without: ${ratios.map((v) => `${(100 * v).toFixed(0)} %`).join(', ')} by round; ${(100 * total).toFixed(0)} % over all rounds (requests answered): goal ≥ 90 %: ${total >= 0.9 ? 'met' : 'NOT met'}`,
    `- change-to-published p99 ≤ 2 s, none missed: ${o.crossings === true ? 'not measured (no event)' : latencyMet ? 'met' : 'NOT met'}`,
    ...on.map(
      (r) =>
        `- round ${r.round}: ${r.events?.received ?? 0} availability.changed received (${(r.events?.bodyBytes ?? 0).toFixed(0)} bytes each on average; ${r.events?.superseded ?? 0} timed changes superseded by another of their SKU), the publisher delivered ${r.events?.delivered ?? 0}, the recompute wrote ${r.events?.published ?? 0}; writer errors ${r.writeErrors}`,
    ),
    ...Object.entries(x.profile).flatMap(([mode, text]) => [
      '',
      `The \`${mode}\` gateway's CPU over its first measured run (V8 profile):`,
      '',
      '```',
      text,
      '```',
    ]),
    '',
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const names = [...Object.keys(DEFAULTS), ...Object.keys(SERVICES), 'prefix', 'sink-batch', 'recompute-batch', 'profile', 'label'];
  const options: Record<string, { type: 'string' | 'boolean' }> = Object.fromEntries(names.map((k) => [k, { type: 'string' }]));
  options['no-record'] = { type: 'boolean' };
  options.crossings = { type: 'boolean' };
  const v = parseArgs({ options }).values as Record<string, string | undefined>;
  const given = <T extends Record<string, string | number>>(d: T): T =>
    Object.fromEntries(Object.entries(d).map(([k, x]) => [k, v[k] === undefined ? x : typeof x === 'number' ? Number(v[k]) : v[k]])) as T;
  const o: EventsOptions = { ...given(DEFAULTS), ...given(SERVICES), prefix: '' };
  if (!SCENARIOS.includes(o.scenario)) throw new Error(`unknown scenario ${o.scenario}`);
  // a dataset of its own per size: ensureDataset drops and regenerates a prefix holding another size
  o.prefix = v.prefix ?? (o.skus === 1_000_000 ? 'ig_bench' : `ig_bench_${o.skus % 1000 === 0 ? `${o.skus / 1000}k` : o.skus}`);
  if ((v.crossings as unknown) === true) o.crossings = true;
  if (v['sink-batch'] !== undefined) o.sinkBatch = Number(v['sink-batch']);
  if (v['recompute-batch'] !== undefined) o.recomputeBatch = Number(v['recompute-batch']);
  if (v.profile !== undefined) o.profileDir = resolve(v.profile);
  const command = `npx tsx bench/events.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const x = await runEvents(o);
  const markdown = report(x, o, command, v.label);
  process.stdout.write(`${markdown}\n`);
  if ((v['no-record'] as unknown) !== true) {
    appendFileSync(join(HERE, 'RESULTS.md'), `\n${markdown}`);
    appendFileSync(
      join(HERE, 'results.jsonl'),
      `${JSON.stringify({ at: new Date().toISOString(), kind: 'events', command, label: v.label ?? null, options: o, ...x })}\n`,
    );
  }
  if (x.results.some((r) => (r.events?.missed ?? 0) > 0 || r.writeErrors > 0)) process.exitCode = 1;
}
