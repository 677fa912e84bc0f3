/**
 * Soak under a flapping source: the gateway (its own process, `inventory-graph start`) serves a
 * MariaDB demo whose WMS is reached through a TCP proxy that goes down for 20 s every minute
 * (alternately refusing connections and black-holing them), while this script sends a bounded
 * rate of mixed queries from loopback: availability of 50 SKUs, and catalogue pages with names,
 * costs and availability. Records the error rate, latency p50/p99 and the server's RSS over
 * time in bench/RESULTS-soak.md. Stops by itself, loopback only.
 *
 *   npx tsx bench/soak.ts --minutes 10 [--rate 20] [--skus 2000] [--up 40] [--down 20] [--timeout-ms 500]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { parseDocument } from 'yaml';
import { generateDemo } from '../src/cli/demo-data.js';
import { prepareDemo } from '../src/cli/start.js';
import { mysqlConnection } from '../src/db/knex.js';
import { startTcpProxy } from '../test/helpers/tcp-proxy.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    skus: { type: 'string', default: '2000' },
    up: { type: 'string', default: '40' },
    down: { type: 'string', default: '20' },
    'timeout-ms': { type: 'string', default: '500' },
    out: { type: 'string', default: join(import.meta.dirname, 'RESULTS-soak.md') },
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const SKU_COUNT = Number(args.skus);
const UP_S = Number(args.up);
const DOWN_S = Number(args.down);
const TIMEOUT_MS = Number(args['timeout-ms']);
const MAX_IN_FLIGHT = 64;
const WINDOW_MS = 10_000;
const MYSQL = process.env.SOAK_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
if (!/^mysql:\/\/[^@]*@(127\.0\.0\.1|localhost)(:\d+)?\//.test(MYSQL)) throw new Error('the soak runs against a loopback MariaDB only');
for (const [k, v] of Object.entries({ MINUTES, RATE, SKU_COUNT, UP_S, DOWN_S, TIMEOUT_MS })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k.toLowerCase()} must be a positive number`);
}
if (MINUTES > 120 || RATE > 500) throw new Error('bounded: at most 120 minutes and 500 requests/s');

const prefix = `ig_soak_${process.pid}`;
const sku = (i: number) => `SKU-${String(i).padStart(Math.max(6, String(SKU_COUNT).length), '0')}`;
const rand = (n: number) => Math.floor(Math.random() * n);

const AVAILABILITY = `query A($skus: [ID!]!) { availability(skus: $skus) { sku available flags byLocation { location { id } available provenance { source } } } }`;
const PAGE = `query P($after: String) { inventoryItems(first: 50, after: $after) { nodes { sku name unitCost { amount currency } availability { available flags } } } }`;

type Phase = 'up' | 'refused' | 'blackhole';
interface Sample {
  at: number;
  ms: number;
  kind: 'availability' | 'page';
  phase: Phase;
  /** Not a 200 with data: a real error. */
  hard: boolean;
  /** 200 with data and a SOURCE_UNAVAILABLE error. */
  partial: boolean;
  reason?: string;
}
interface Window {
  t: number;
  phase: Phase;
  rssMb: number;
  /** The machine's 1-minute load average at the end of the window (2 cores: above 2 means queueing for CPU). */
  load: number;
  breaker: string;
  wmsStatus: string;
  samples: Sample[];
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const fmt = (n: number) => (Number.isNaN(n) ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1));

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const started = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'ig-soak-'));
  const say = (m: string) => process.stdout.write(`[soak ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${m}\n`);
  say(`generating a ${SKU_COUNT}-SKU MariaDB demo (${prefix}_*)`);
  await generateDemo({ dir, skus: SKU_COUNT, mysqlUrl: MYSQL, databasePrefix: prefix });
  const proxy = await startTcpProxy();
  const file = join(dir, 'inventory-graph.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['sources', 'wms', 'connection'], proxy.url(`${prefix}_wms`));
  doc.setIn(['sources', 'wms', 'timeoutMs'], TIMEOUT_MS);
  writeFileSync(file, doc.toString());
  const { keys } = await prepareDemo(dir, { generate: false });

  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, '..', 'bin', 'inventory-graph.mjs'), 'start', '--config', file, '--port', '0', '--host', '127.0.0.1'],
    {
      env: { ...process.env, LOG_LEVEL: 'error', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderrLines = 0;
  child.stderr.on('data', (d: Buffer) => (stderrLines += d.toString().split('\n').length - 1));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving (http:\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`the server exited with ${code}: ${out}`)));
  });
  const base = url.replace(/\/graphql$/, '');
  say(`server pid ${child.pid} at ${url}; ${MINUTES} min at ${RATE} req/s, WMS up ${UP_S} s / down ${DOWN_S} s`);

  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  const cycle = (UP_S + DOWN_S) * 1000;
  let phase: Phase = 'up';
  let downCount = 0;
  const windows: Window[] = [];
  let current: Window = { t: 0, phase, rssMb: rssMb(child.pid!), load: loadavg()[0]!, breaker: 'CLOSED', wmsStatus: 'UP', samples: [] };
  let inFlight = 0;
  let skipped = 0;
  let sent = 0;

  /** The proxy's state for this moment of the cycle: up first, then down (refused and black hole in turn). */
  async function flap(now: number): Promise<void> {
    const inCycle = (now - t0) % cycle;
    const want: Phase = inCycle < UP_S * 1000 ? 'up' : downCount % 2 === 0 ? 'refused' : 'blackhole';
    if (want === phase) return;
    if (want === 'up') {
      if (phase === 'refused') await proxy.start();
      else proxy.pass();
      downCount++;
    } else if (want === 'refused') {
      await proxy.stop();
    } else {
      proxy.blackHole();
    }
    phase = want;
    say(`WMS ${want}`);
  }

  async function one(): Promise<void> {
    const kind = Math.random() < 0.7 ? 'availability' : 'page';
    const body =
      kind === 'availability'
        ? { query: AVAILABILITY, variables: { skus: Array.from({ length: 50 }, () => sku(1 + rand(SKU_COUNT))) } }
        : { query: PAGE, variables: { after: rand(10) === 0 ? null : sku(1 + rand(SKU_COUNT - 50)) } };
    const at = Date.now();
    const p = phase;
    const t = performance.now();
    let hard = true;
    let partial = false;
    let reason: string | undefined;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': keys.admin },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const json = (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> };
      hard = res.status !== 200 || json.data === null || json.data === undefined;
      const errors = json.errors ?? [];
      partial = !hard && errors.some((e) => e.extensions?.code === 'SOURCE_UNAVAILABLE');
      const other = errors.find((e) => e.extensions?.code !== 'SOURCE_UNAVAILABLE');
      if (other !== undefined) hard = true;
      reason = (other ?? errors[0])?.message.replace(/^Source "wms" is unavailable \((.*)\); its figures.*$/, '$1');
    } catch (e) {
      reason = (e as Error).name;
    }
    current.samples.push({ at, ms: performance.now() - t, kind, phase: p, hard, partial, reason });
  }

  // the load: a fixed schedule, at most MAX_IN_FLIGHT at once (beyond that a tick is skipped and counted)
  const interval = 1000 / RATE;
  let next = Date.now();
  const pending = new Set<Promise<void>>();
  while (Date.now() < end) {
    const now = Date.now();
    await flap(now);
    if (now - t0 >= (windows.length + 1) * WINDOW_MS) {
      const ready = (await fetch(`${base}/readyz`)
        .then((r) => r.json())
        .catch(() => ({}))) as { sources?: Record<string, { status: string; breaker: string }> };
      current.rssMb = rssMb(child.pid!);
      current.load = loadavg()[0]!;
      current.breaker = ready.sources?.wms?.breaker ?? '?';
      current.wmsStatus = ready.sources?.wms?.status ?? '?';
      windows.push(current);
      current = { t: now - t0, phase, rssMb: current.rssMb, load: current.load, breaker: current.breaker, wmsStatus: current.wmsStatus, samples: [] };
      const w = windows.at(-1)!;
      const lat = w.samples.map((s) => s.ms);
      say(
        `${w.samples.length} req, p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms, hard errors ${w.samples.filter((s) => s.hard).length}, partial ${w.samples.filter((s) => s.partial).length}, RSS ${w.rssMb.toFixed(0)} MB, wms ${w.wmsStatus}/${w.breaker}`,
      );
    }
    if (now >= next) {
      next += interval;
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else {
        inFlight++;
        sent++;
        const p = one().finally(() => {
          inFlight--;
          pending.delete(p);
        });
        pending.add(p);
      }
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next - Date.now(), 50))));
  }
  await Promise.all(pending);
  if ((phase as Phase) === 'refused') await proxy.start();
  else proxy.pass();
  windows.push(current);
  current.rssMb = rssMb(child.pid!);
  current.load = loadavg()[0]!;

  // a graceful stop at the end: SIGTERM, in-flight done, exit code
  const stopAt = performance.now();
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))]);
  const stopMs = performance.now() - stopAt;
  if (code === 'timeout') child.kill('SIGKILL');
  await proxy.close();
  const admin = knexFactory({ client: 'mysql2', connection: mysqlConnection(MYSQL), pool: { min: 0, max: 1 } });
  for (const s of ['erp', 'wms', 'shop', 'tpl']) await admin.raw('drop database if exists ??', [`${prefix}_${s}`]);
  await admin.destroy();

  writeFileSync(args.out as string, report({ started, windows, sent, skipped, exitCode: code, stopMs, stderrLines }));
  say(`wrote ${args.out}`);
}

/** Outages seen (phase changes from up to down). */
function downCycles(windows: Window[]): number {
  const phases = windows.flatMap((w) => w.samples.map((s) => s.phase));
  let n = 0;
  for (let i = 1; i < phases.length; i++) if (phases[i - 1] === 'up' && phases[i] !== 'up') n++;
  return n;
}

/** Reads per outage that reached the WMS (timed out or refused) before the breaker opened, on average. */
function opened(all: Sample[]): number {
  const reached = all.filter((s) => s.phase !== 'up' && s.reason !== undefined && !/circuit open/.test(s.reason)).length;
  let outages = 0;
  for (let i = 1; i < all.length; i++) if (all[i - 1]!.phase === 'up' && all[i]!.phase !== 'up') outages++;
  return outages === 0 ? Number.NaN : reached / outages;
}

function report(r: {
  started: Date;
  windows: Window[];
  sent: number;
  skipped: number;
  exitCode: number | null | 'timeout';
  stopMs: number;
  stderrLines: number;
}): string {
  const all = r.windows.flatMap((w) => w.samples);
  const row = (label: string, xs: Sample[]) => {
    const lat = xs.map((s) => s.ms);
    const hard = xs.filter((s) => s.hard).length;
    const partial = xs.filter((s) => s.partial).length;
    return `| ${label} | ${xs.length} | ${hard} (${xs.length ? ((100 * hard) / xs.length).toFixed(2) : '0'}%) | ${partial} (${xs.length ? ((100 * partial) / xs.length).toFixed(1) : '0'}%) | ${fmt(pct(lat, 50))} | ${fmt(pct(lat, 99))} | ${fmt(Math.max(0, ...lat))} |`;
  };
  const reasons = new Map<string, number>();
  for (const s of all) if (s.reason !== undefined) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  const rss = r.windows.map((w) => w.rssMb);
  const minutes: string[] = [];
  for (let m = 0; m * 60_000 < (r.windows.at(-1)?.t ?? 0) + WINDOW_MS; m++) {
    const ws = r.windows.filter((w) => Math.floor(w.t / 60_000) === m);
    if (ws.length === 0) continue;
    const xs = ws.flatMap((w) => w.samples);
    const lat = xs.map((s) => s.ms);
    minutes.push(
      `| ${m + 1} | ${xs.length} | ${xs.filter((s) => s.hard).length} | ${xs.filter((s) => s.partial).length} | ${fmt(pct(lat, 50))} | ${fmt(pct(lat, 99))} | ${Math.max(...ws.map((w) => w.rssMb)).toFixed(0)} | ${Math.max(...ws.map((w) => w.load)).toFixed(1)} | ${[...new Set(ws.map((w) => w.breaker))].join(' → ')} |`,
    );
  }
  const cpu = cpus();
  return `# Soak: a flapping WMS under steady load

Command: \`npx tsx bench/soak.ts --minutes ${MINUTES} --rate ${RATE} --skus ${SKU_COUNT} --up ${UP_S} --down ${DOWN_S} --timeout-ms ${TIMEOUT_MS}\`
(run ${r.started.toISOString()}). The gateway runs as its own process (\`inventory-graph start\`,
NODE_ENV=production) on a ${SKU_COUNT}-SKU MariaDB demo; the WMS is reached through the TCP proxy
of test/helpers/tcp-proxy.ts, which is up ${UP_S} s then down ${DOWN_S} s, every minute, the down
phases alternately **refusing** connections (listener closed, open connections reset) and
**black-holing** them (accepted, never answered). WMS \`timeoutMs: ${TIMEOUT_MS}\`, breaker defaults
(5 failures in a row open it for 10 s), bulkhead defaults (4 running, 64 waiting). Load from
loopback at a fixed ${RATE} requests/s (at most ${MAX_IN_FLIGHT} in flight): 70% \`availability\` of
50 random SKUs, 30% \`inventoryItems(first: 50)\` pages with name, cost and availability.

Machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}.

- **hard error**: not HTTP 200 with data, or an error other than SOURCE_UNAVAILABLE (must be 0).
- **partial**: HTTP 200 with data plus SOURCE_UNAVAILABLE for the WMS (expected while it is down).

## Summary

| phase | requests | hard errors | partial | p50 ms | p99 ms | max ms |
|---|---|---|---|---|---|---|
${row('all', all)}
${row(
  'WMS up',
  all.filter((s) => s.phase === 'up'),
)}
${row(
  'WMS refusing',
  all.filter((s) => s.phase === 'refused'),
)}
${row(
  'WMS black hole',
  all.filter((s) => s.phase === 'blackhole'),
)}

Requests sent ${r.sent}, ticks skipped at the in-flight cap ${r.skipped}. Server RSS: first
${fmt(rss[0] ?? Number.NaN)} MB, max ${fmt(Math.max(...rss))} MB, last ${fmt(rss.at(-1) ?? Number.NaN)} MB.
SIGTERM at the end: exit code ${r.exitCode}, stopped in ${r.stopMs.toFixed(0)} ms. Server log lines at level error: ${r.stderrLines}.

Partial answers while the WMS was up (the breaker still open after the source came back, or a
timed-out read under load): ${all.filter((s) => s.phase === 'up' && s.partial).length}, about
${(all.filter((s) => s.phase === 'up' && s.partial).length / RATE / Math.max(1, downCycles(r.windows))).toFixed(1)} s per outage at ${RATE} requests/s
(the breaker's \`resetAfterMs\` is 10 s; it opens ${fmt(opened(all))} reads into an outage on average).
The load average column shows how busy the 2 cores were (other work on the machine included).

What the clients were told (error messages, by count): ${
    [...reasons]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${v} × "${k}"`)
      .join('; ') || 'none'
  }.

## Per minute

| minute | requests | hard errors | partial | p50 ms | p99 ms | RSS MB (max) | load avg (max) | WMS breaker |
|---|---|---|---|---|---|---|---|---|
${minutes.join('\n')}
`;
}

await main();
