/**
 * One instance against two behind a balancer (issue #20, docs/scaling.md): how availability
 * throughput grows with instances on this machine.
 *
 *   npx tsx bench/instances.ts                      # 20k SKUs x 10 locations, sources on MariaDB, mirrored
 *   npx tsx bench/instances.ts --live               # the same, every read going to the source databases
 *   npx tsx bench/instances.ts --help
 *
 * Options: --skus N (20000) --locations N (10) --duration S (10) --warmup S (2) --rounds N (3)
 * --connections N (32) --scenario availability-1|availability-50|... (availability-50) --live
 * --redis URL (redis://127.0.0.1:6379/0) --mysql URL (mysql://root@127.0.0.1:3306/test)
 * --prefix P (ig_bench_inst) --no-record.
 *
 * Both setups are measured the same way: the gateways (child processes, `inventory-graph start`,
 * the store on MariaDB, `cluster.redis` set, so the rate budget is Redis's) behind a small
 * round-robin TCP balancer on loopback in this process (each new client connection to the next
 * gateway), loaded by autocannon from this process too. Rounds alternate 1 and 2 instances; the
 * ratio is the median of the per-round ratios. Everything shares this machine's cores: the
 * gateways, the balancer, the load generator, MariaDB and Redis: each cell says how many cores
 * went to each (the gateways' CPU time, this process's, the rest of the machine's from
 * /proc/stat), so a ratio can be read against what was left for a second instance. Results are printed and, unless
 * --no-record, appended to bench/RESULTS.md and bench/results.jsonl.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { BENCH_API_KEY, ensureDataset } from './lib/dataset.js';
import { measure, type LoadResult } from './lib/load.js';
import { median } from './lib/micro.js';
import { printUsageAndExit } from './lib/usage.js';
import { mirroredConfig } from './lib/mirror.js';
import { bodies, SCENARIOS, type ScenarioName } from './lib/scenarios.js';
import { startTarget, type Running, type Target } from './lib/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    skus: { type: 'string', default: '20000' },
    locations: { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    scenario: { type: 'string', default: 'availability-50' },
    live: { type: 'boolean', default: false },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379/0' },
    mysql: { type: 'string', default: 'mysql://root@127.0.0.1:3306/test' },
    prefix: { type: 'string', default: 'ig_bench_inst' },
    'no-record': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) printUsageAndExit(import.meta.url);

const scenario = args.scenario as ScenarioName;
if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario: one of ${SCENARIOS.join(', ')}; got "${args.scenario}"`);
const skus = Number(args.skus);
const connections = Number(args.connections);
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const rounds = Math.max(1, Number(args.rounds));
const log = (m: string) => process.stderr.write(`${m}\n`);

/** A round-robin TCP balancer on 127.0.0.1: each accepted connection is piped to the next backend. */
async function startBalancer(backends: readonly string[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const target = new URL(backends[next++ % backends.length] as string);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const dataset = await ensureDataset({
  backend: 'mariadb',
  skus,
  locations: Number(args.locations),
  mysqlUrl: args.mysql,
  prefix: args.prefix,
  dir: join(HERE, 'out', `dataset-${args.prefix}`),
  log,
});
log(`dataset: ${dataset.skus} SKUs x ${dataset.locations} locations (${dataset.reused ? 'reused' : 'generated'})`);

const keyPrefix = `ig-bench-${process.pid}:`;
function target(name: string): Target {
  return {
    name,
    kind: 'gateway',
    mirrored: !args.live,
    startTimeoutMs: 600_000,
    description: `gateway ${name} (${args.live ? 'live' : 'mirrored'} sources, cluster.redis set)`,
    configure: (yaml) => {
      const doc = parseDocument(args.live ? yaml : mirroredConfig(yaml));
      doc.set('cluster', { redis: args.redis, keyPrefix, instanceId: name, leaseSeconds: 15 });
      return doc.toString();
    },
  };
}

log(`starting 2 gateways (${args.live ? 'live' : 'mirrored'})...`);
const gateways: Running[] = [];
for (const name of ['instance-a', 'instance-b']) gateways.push(await startTarget(target(name), dataset.configPath));
const [ga, gb] = gateways as [Running, Running];
log(
  `ready: ${ga.url} (${ga.startSeconds.toFixed(1)} s, ${ga.startRssMiB.toFixed(0)} MiB), ${gb.url} (${gb.startSeconds.toFixed(1)} s, ${gb.startRssMiB.toFixed(0)} MiB)`,
);

const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` };

/** Where the machine's cores went during a cell, in cores (CPU seconds per second). */
interface Cores {
  machine: number;
  gateways: number;
  /** This process: the load generator and the balancer. */
  bench: number;
  /** Everything else: MariaDB, Redis, the system. */
  other: number;
}
type Cell = LoadResult & { cores: Cores };

/** Busy and total jiffies of the whole machine (/proc/stat's first line). */
function machineJiffies(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

async function cell(backends: readonly Running[], seconds: number, seed: number): Promise<Cell> {
  const lb = await startBalancer(backends.map((g) => g.url));
  const gatewaysMs = () => backends.reduce((n, g) => n + g.cpuMs(), 0);
  const m0 = machineJiffies();
  const b0 = process.cpuUsage();
  const g0 = gatewaysMs();
  const t0 = performance.now();
  try {
    const r = await measure({
      url: lb.url,
      headers,
      connections,
      duration: seconds,
      next: bodies(scenario, dataset.skus, dataset.width, seed),
      rssMiB: () => backends.reduce((n, g) => n + g.rssMiB(), 0),
      cpuMs: gatewaysMs,
    });
    const wall = (performance.now() - t0) / 1000;
    const m1 = machineJiffies();
    const b1 = process.cpuUsage(b0);
    const machine = ((m1.busy - m0.busy) / (m1.total - m0.total)) * cpus().length;
    const gateways = (gatewaysMs() - g0) / 1000 / wall;
    const bench = (b1.user + b1.system) / 1e6 / wall;
    return { ...r, cores: { machine, gateways, bench, other: Math.max(0, machine - gateways - bench) } };
  } finally {
    await lb.close();
  }
}

const one: Cell[] = [];
const two: Cell[] = [];
try {
  if (warmup > 0) {
    await cell([ga], warmup, 1);
    await cell([ga, gb], warmup, 2);
  }
  for (let r = 0; r < rounds; r++) {
    // alternating which goes first, so a drift of the machine does not favour one
    const order: Array<1 | 2> = r % 2 === 0 ? [1, 2] : [2, 1];
    for (const n of order) {
      const res = await cell(n === 1 ? [ga] : [ga, gb], duration, 100 + r);
      (n === 1 ? one : two).push(res);
      log(
        `round ${r + 1}: ${n} instance${n === 1 ? '' : 's'}: ${res.rps.toFixed(0)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, errors ${res.errors}${res.firstError ? ` (${res.firstError})` : ''}; cores: gateways ${res.cores.gateways.toFixed(2)}, bench ${res.cores.bench.toFixed(2)}, other ${res.cores.other.toFixed(2)}, machine ${res.cores.machine.toFixed(2)}`,
      );
    }
  }
} finally {
  await Promise.all(gateways.map((g) => g.stop()));
}

const ratios = one.map((o, i) => (two[i]?.rps ?? 0) / o.rps);
/** The median of each share over the rounds. */
function coresOf(cells: readonly Cell[]): Cores {
  const m = (k: keyof Cores) => Number(median(cells.map((c) => c.cores[k])).toFixed(2));
  return { machine: m('machine'), gateways: m('gateways'), bench: m('bench'), other: m('other') };
}
const result = {
  at: new Date().toISOString(),
  bench: 'instances',
  scenario,
  sources: args.live ? 'live' : 'mirrored',
  skus: dataset.skus,
  locations: dataset.locations,
  connections,
  duration,
  rounds,
  oneRps: median(one.map((r) => r.rps)),
  twoRps: median(two.map((r) => r.rps)),
  ratio: median(ratios),
  ratioRange: [Math.min(...ratios), Math.max(...ratios)],
  oneP99: median(one.map((r) => r.p99)),
  twoP99: median(two.map((r) => r.p99)),
  oneCpuMsPerRequest: median(one.map((r) => r.cpuMsPerRequest)),
  twoCpuMsPerRequest: median(two.map((r) => r.cpuMsPerRequest)),
  oneCores: coresOf(one),
  twoCores: coresOf(two),
  errors: [...one, ...two].reduce((n, r) => n + r.errors, 0),
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? '?',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg: loadavg().map((l) => l.toFixed(2)),
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

if (!args['no-record']) {
  mkdirSync(join(HERE, 'out'), { recursive: true });
  appendFileSync(join(HERE, 'results.jsonl'), `${JSON.stringify(result)}\n`);
  const cmd = `npx tsx bench/instances.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  appendFileSync(
    join(HERE, 'RESULTS.md'),
    `
## 1 vs 2 instances behind a balancer, ${result.at.slice(0, 10)} (issue #20)

- command: \`${cmd}\`
- data: ${result.skus} SKUs x ${result.locations} locations, sources on MariaDB (${result.sources}), store on MariaDB, \`cluster.redis\` on local Redis; scenario ${scenario}, ${connections} connections, ${rounds} rounds of ${duration} s
- machine: ${result.machine.cores} cores (${result.machine.cpu}), ${result.machine.memGiB} GiB, Node ${result.machine.node}, load average at the end ${result.machine.loadavg.join(' ')}; the ${result.machine.cores} cores are shared by both gateways, the balancer and autocannon (this process), MariaDB and Redis

| instances | req/s (median) | p99 ms | server CPU ms/request | cores: gateways | load generator + balancer | MariaDB, Redis, system | machine (of ${result.machine.cores}) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 1 | ${result.oneRps.toFixed(0)} | ${result.oneP99.toFixed(0)} | ${result.oneCpuMsPerRequest.toFixed(2)} | ${result.oneCores.gateways} | ${result.oneCores.bench} | ${result.oneCores.other} | ${result.oneCores.machine} |
| 2 | ${result.twoRps.toFixed(0)} | ${result.twoP99.toFixed(0)} | ${result.twoCpuMsPerRequest.toFixed(2)} | ${result.twoCores.gateways} | ${result.twoCores.bench} | ${result.twoCores.other} | ${result.twoCores.machine} |

- ratio 2 : 1 = ${result.ratio.toFixed(2)} (rounds ${result.ratioRange.map((r) => r.toFixed(2)).join('–')}); errors ${result.errors}
`,
  );
}
