/**
 * The benchmark harness: the gateway against its floor, on our own queries.
 *
 *   npm run bench                        # 1M SKUs x 10 locations on MariaDB: floor and gateway
 *   npm run bench -- --steps             # floor, then the gateway with each optimisation added in turn
 *   npm run bench -- --catalogue-check   # also 1k vs 1M SKUs (same latency?) for the gateway
 *   npm run bench -- --targets floor,limit,gateway,mirrored   # issue #15: the in-memory limit and the mirrored gateway
 *   npm run bench -- --smoke             # 1k SKUs on SQLite, ~1 s per cell: does it all work? (floor, limit, gateway)
 *   npm run bench -- --drop              # drop the reusable MariaDB dataset (ig_bench_*) and exit
 *
 * Environment: BENCH_LOG_LEVEL (the gateway's, default error), BENCH_SERVER_LOG=1 (servers' stderr as it comes).
 * Options: --skus N (1000000) --locations N (10) --duration S (10) --warmup S (2) --rounds N (3)
 * --connections 1,50 --scenarios availability-1,availability-50,availability-500,item,route-10
 * --targets floor,gateway (see TARGETS) --seed N (7) --label TEXT --no-record --fresh
 * --mysql URL (mysql://root@127.0.0.1:3306/test) --prefix P (ig_bench).
 *
 * Each target is a child process (bench/lib/servers.ts) loaded by autocannon from this one
 * (bench/lib/load.ts), with the scenarios sent as trusted documents by id, as clients are asked
 * to call (or as query text, for a target whose `carrier` is `text`: `gateway-text`). Before loading, every target answers the same sample requests and its
 * JSON is compared with the floor's (figures' `asOf` aside: a source without an asOf column is
 * "as of the read"). Every cell is measured `rounds` times, the targets alternating within each
 * round; a cell reports the medians, and its ratio to the floor is the median of the per-round
 * ratios (each against the floor's cell measured next to it; likewise "of limit" when the run has
 * the in-memory `limit`). Each target's start-up (time to ready: for `limit` and `mirrored` the
 * load of every record into memory; RSS then, and its peak) is recorded too. Results are printed, written to bench/out/*.json and appended to
 * bench/RESULTS.md and, one JSON line per run, to bench/results.jsonl (unless --no-record). Timings are never asserted anywhere.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_API_KEY, dropDataset, ensureDataset, warmDataset, type Dataset } from './lib/dataset.js';
import { combineRounds as combine, measure, statementCount, type LoadResult } from './lib/load.js';
import { median } from './lib/micro.js';
import { mirroredConfig } from './lib/mirror.js';
import { bodies, SCENARIOS, skusPerRequest, type ScenarioName } from './lib/scenarios.js';
import { startTarget, untilBreakersClose, type Running, type Target } from './lib/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The servers the harness knows. `gateway` is the product as shipped; the others isolate one step each. */
export const TARGETS: Record<string, Target> = {
  floor: { name: 'floor', kind: 'floor', description: 'node:http + the same statements + JSON.stringify (bench/floor-server.ts)' },
  baseline: {
    name: 'baseline',
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'graphql-js', INVENTORY_GRAPH_CACHE_CONTROL: 'on' },
    description: "Apollo's defaults: graphql-js, per-field cache-control plugin on",
  },
  'no-cache-control': {
    name: 'no-cache-control',
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'graphql-js', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
    description: 'graphql-js, cache-control plugin off',
  },
  jit: {
    name: 'jit',
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off', INVENTORY_GRAPH_FAST_PATH: 'off' },
    description: "graphql-jit executor, cache-control off, every request through Apollo's pipeline (by id, from its persisted-query cache)",
  },
  gateway: {
    name: 'gateway',
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
    description: 'as shipped: graphql-jit executor, cache-control off, trusted documents by id through the fast path (src/server/fast-path.ts)',
  },
  'gateway-text': {
    name: 'gateway-text',
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
    carrier: 'text',
    description: "as shipped, the same operations sent as query text (Apollo's pipeline answers)",
  },
  limit: {
    name: 'limit',
    kind: 'limit',
    startTimeoutMs: 1_800_000,
    description:
      "node:http holding every record in memory (loaded at start), the floor's rules and JSON per request, no I/O per request (bench/limit-server.ts): what a mirrored design can approach",
  },
  mirrored: {
    name: 'mirrored',
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
    configure: (yaml) => mirroredConfig(yaml),
    mirrored: true,
    startTimeoutMs: 1_800_000,
    description: 'as shipped, every source mirrored (`sync: { mode: mirror }`, no feeds): loaded into memory at start, measured once loaded',
  },
};
const STEPS = ['floor', 'baseline', 'no-cache-control', 'jit', 'gateway'];

export interface BenchOptions {
  smoke?: boolean;
  skus?: number;
  locations?: number;
  duration?: number;
  warmup?: number;
  /** Times each cell is measured (targets alternating within a round); medians are reported. */
  rounds?: number;
  connections?: number[];
  scenarios?: ScenarioName[];
  targets?: string[];
  seed?: number;
  label?: string;
  record?: boolean;
  fresh?: boolean;
  catalogueCheck?: boolean;
  mysqlUrl?: string;
  prefix?: string;
  /** The command line, for the record. */
  command?: string;
  log?: (msg: string) => void;
}

export interface Cell extends LoadResult {
  target: string;
  scenario: ScenarioName;
  connections: number;
  /** req/s over the floor's for the same cell: the median of the rounds' ratios. */
  ratio: number | null;
  /** Each round's req/s, and each round's ratio to the floor's round. */
  roundsRps: number[];
  roundsRatio: number[];
  /** The same against the in-memory `limit`, when the run has it. */
  ratioLimit?: number | null;
  roundsRatioLimit?: number[];
}

/** A target's start-up: seconds to ready, RSS then and at its peak on the way (MiB). */
export interface Startup {
  seconds: number;
  rssMiB: number;
  peakRssMiB: number;
  /** A mirrored gateway's mirrors as /status.json showed them when ready (null: it showed none). */
  mirrors?: string | null;
  /** Why it did not start (it was left out of the run). */
  failure?: string;
}

export interface BenchReport {
  dataset: Dataset;
  cells: Cell[];
  /** Per target: sample answers that differ from the floor's, of those compared. */
  /**
   * Per target: sample answers whose JSON (status, data without asOf, errors) differs from the
   * floor's, of those compared; and answers whose source statements differ (from the floor's
   * count, or from none for a target serving from memory), with the first one's header.
   */
  sameAsFloor: Record<string, { compared: number; differ: number; example?: string; statementsDiffer?: number; statementsExample?: string }>;
  startup: Record<string, Startup>;
  catalogue?: { skus: number; target: string; scenario: ScenarioName; p50: number; p99: number; rps: number; cpuMsPerRequest: number }[];
  markdown: string;
}

/** One recorded run as one line of bench/results.jsonl: the raw figures behind its RESULTS.md section. */
export interface RecordedRun {
  at: string;
  command: string;
  label: string | null;
  smoke: boolean;
  dataset: Dataset;
  cells: Cell[];
  sameAsFloor: BenchReport['sameAsFloor'];
  startup: Record<string, Startup>;
  catalogue: NonNullable<BenchReport['catalogue']> | null;
}

export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`));
  const smoke = o.smoke === true;
  const skus = o.skus ?? (smoke ? 1000 : 1_000_000);
  const locations = o.locations ?? 10;
  const duration = o.duration ?? (smoke ? 1 : 10);
  const warmup = o.warmup ?? (smoke ? 0.3 : 2);
  const rounds = Math.max(1, o.rounds ?? (smoke ? 1 : 3));
  const settle = smoke ? 20 : 200;
  const connections = o.connections ?? (smoke ? [1, 8] : [1, 50]);
  const scenarios = o.scenarios ?? [...SCENARIOS];
  const targets = (o.targets ?? (smoke ? ['floor', 'limit', 'gateway'] : ['floor', 'gateway'])).map((t) => {
    const target = TARGETS[t];
    if (target === undefined) throw new Error(`unknown target ${t} (known: ${Object.keys(TARGETS).join(', ')})`);
    return target;
  });
  const seed = o.seed ?? 7;
  const mysqlUrl = o.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test';
  const prefix = o.prefix ?? 'ig_bench';

  const tmp = smoke ? mkdtempSync(join(tmpdir(), 'ig-bench-smoke-')) : undefined;
  try {
    const dataset = await ensureDataset(
      smoke
        ? { backend: 'sqlite', skus, locations, dir: tmp as string, log }
        : { backend: 'mariadb', skus, locations, mysqlUrl, prefix, dir: join(HERE, 'out', `dataset-${prefix}`), fresh: o.fresh, log },
    );
    const load0 = loadavg()[0] ?? 0;
    const db = dataset.backend === 'mariadb' ? await warmDataset(mysqlUrl, dataset.databases, log) : undefined;
    const headers = { authorization: `Bearer ${BENCH_API_KEY}` };
    const cells: Cell[] = [];
    const samples = new Map<string, Map<string, string>>();

    // every target runs side by side (an idle one costs nothing) and the cells alternate between
    // them, so drift in the machine's other load hits them alike rather than one target's whole run
    const servers = new Map<string, Running>();
    const startup: Record<string, Startup> = {};
    /** The targets that started. */
    const measured: Target[] = [];
    try {
      for (const target of targets) {
        log(`starting ${target.name}: ${target.description}`);
        let server: Running;
        try {
          server = await startTarget(target, dataset.configPath);
        } catch (e) {
          // a target other than the floor that does not start (a mirror not loaded in time) is left out, said in the results
          if (target.name === 'floor') throw e;
          const failure = (e as Error).message.split('\n')[0] ?? String(e);
          startup[target.name] = { seconds: Number.NaN, rssMiB: Number.NaN, peakRssMiB: Number.NaN, failure };
          log(`${target.name} left out: ${failure}`);
          continue;
        }
        servers.set(target.name, server);
        startup[target.name] = {
          seconds: server.startSeconds,
          rssMiB: server.startRssMiB,
          peakRssMiB: server.startPeakRssMiB,
          ...(server.mirrors !== undefined ? { mirrors: server.mirrors === null ? null : server.mirrors.map((m) => m.detail).join(', ') } : {}),
        };
        log(
          `${target.name} ready in ${server.startSeconds.toFixed(1)} s, RSS ${server.startRssMiB.toFixed(0)} MiB (peak ${server.startPeakRssMiB.toFixed(0)} MiB)`,
        );
      }
      measured.push(...targets.filter((t) => servers.has(t.name)));
      for (const [name, answers] of await sampleAnswers(servers, measured, headers, scenarios, dataset, seed)) samples.set(name, answers);
      const raw = new Map<string, LoadResult[]>();
      for (let round = 0; round < rounds; round++) {
        for (const scenario of scenarios) {
          for (const c of connections) {
            for (const target of measured) {
              const server = servers.get(target.name) as Running;
              if (warmup > 0) {
                await measure({
                  url: server.url,
                  headers,
                  connections: c,
                  duration: warmup,
                  next: bodies(scenario, dataset.skus, dataset.width, seed + 1000 + c + round, target.carrier),
                  rssMiB: () => 0,
                });
                await drain(server, headers, dataset, settle);
              }
              const r = await measure({
                url: server.url,
                headers,
                connections: c,
                duration,
                next: bodies(scenario, dataset.skus, dataset.width, seed + c + 100 * round, target.carrier),
                rssMiB: server.rssMiB,
                cpuMs: server.cpuMs,
              });
              // autocannon stops sending, the server still finishes what it was sent: let it, before the next cell
              await drain(server, headers, dataset, settle);
              const key = `${target.name}|${scenario}|${c}`;
              raw.set(key, [...(raw.get(key) ?? []), r]);
              log(
                `${rounds > 1 ? `round ${round + 1}/${rounds} ` : ''}${target.name.padEnd(16)} ${scenario.padEnd(17)} c=${String(c).padEnd(3)} ${r.rps.toFixed(1).padStart(8)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  errors ${r.errors}  statements ${r.statements.toFixed(1)}  cpu ${r.cpuMsPerRequest.toFixed(2)} ms/req  rss ${r.rssMaxMiB.toFixed(0)} MiB${r.firstError ? `\n    first error: ${r.firstError.slice(0, 300)}` : ''}`,
              );
            }
          }
        }
      }
      for (const scenario of scenarios) {
        for (const c of connections) {
          for (const target of measured) {
            const runs = raw.get(`${target.name}|${scenario}|${c}`) ?? [];
            const ratios = (base: string) => {
              const baseRuns = raw.get(`${base}|${scenario}|${c}`);
              return baseRuns === undefined ? [] : runs.map((r, k) => r.rps / (baseRuns[k]?.rps ?? Number.NaN)).filter((x) => Number.isFinite(x));
            };
            const roundsRatio = ratios('floor');
            const roundsRatioLimit = ratios('limit');
            cells.push({
              ...combine(runs),
              target: target.name,
              scenario,
              connections: c,
              ratio: roundsRatio.length === 0 ? null : median(roundsRatio),
              roundsRps: runs.map((r) => r.rps),
              roundsRatio,
              ...(servers.has('limit') ? { ratioLimit: roundsRatioLimit.length === 0 ? null : median(roundsRatioLimit), roundsRatioLimit } : {}),
            });
          }
        }
      }
    } catch (e) {
      for (const [name, server] of servers) log(`${name} stderr (last lines):\n${server.stderr().slice(-3000)}`);
      throw e;
    } finally {
      await Promise.all([...servers.values()].map((x) => x.stop()));
    }

    const sameAsFloor = compareToFloor(samples, new Set(targets.filter((t) => t.kind === 'limit' || t.mirrored === true).map((t) => t.name)));

    let catalogue: BenchReport['catalogue'];
    if (o.catalogueCheck === true && !smoke)
      catalogue = await catalogueCheck({ big: dataset, mysqlUrl, locations, duration, warmup, rounds, seed, headers, log });

    const markdown = report({
      load: [load0, loadavg()[0] ?? 0],
      db,
      dataset,
      cells,
      sameAsFloor,
      startup,
      catalogue,
      targets,
      duration,
      warmup,
      rounds,
      seed,
      label: o.label,
      command: o.command,
      smoke,
    });
    if (o.record !== false) {
      appendFileSync(join(HERE, 'RESULTS.md'), `${markdown}\n`);
      mkdirSync(join(HERE, 'out'), { recursive: true });
      writeFileSync(
        join(HERE, 'out', `run-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
        JSON.stringify({ dataset, cells, sameAsFloor, startup, catalogue }, null, 2),
      );
      const line: RecordedRun = {
        at: new Date().toISOString(),
        command: o.command ?? 'npm run bench',
        label: o.label ?? null,
        smoke,
        dataset,
        cells,
        sameAsFloor,
        startup,
        catalogue: catalogue ?? null,
      };
      appendFileSync(join(HERE, 'results.jsonl'), `${JSON.stringify(line)}\n`);
    }
    return { dataset, cells, sameAsFloor, startup, catalogue, markdown };
  } finally {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Waits until the server has worked off what earlier cells sent (a cheap request, answered)
 * and, for the gateway, until /readyz shows every source's circuit breaker closed again, so a
 * cell that overloaded a source does not count its shed reads against the next one.
 */
async function drain(server: Running, headers: Record<string, string>, d: Dataset, settleMs: number): Promise<void> {
  const body = JSON.stringify(bodies('availability-1', d.skus, d.width, 1)());
  for (let k = 0; k < 2; k++)
    await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }).then((r) => r.text());
  await untilBreakersClose(server);
  await new Promise((r) => setTimeout(r, settleMs));
}

/**
 * Three fixed requests per scenario, each sent to every target back to back (figures age: a
 * record can turn STALE between two reads seconds apart), by id or as text as the target is
 * loaded, the answers with `asOf` removed.
 */
async function sampleAnswers(
  servers: Map<string, Running>,
  targets: Target[],
  headers: Record<string, string>,
  scenarios: ScenarioName[],
  d: Dataset,
  seed: number,
): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>([...servers.keys()].map((name) => [name, new Map<string, string>()]));
  for (const s of scenarios) {
    const byId = bodies(s, d.skus, d.width, seed + 424242, 'id');
    const byText = bodies(s, d.skus, d.width, seed + 424242, 'text');
    for (let k = 0; k < 3; k++) {
      const requests = { id: JSON.stringify(byId()), text: JSON.stringify(byText()) };
      for (const [name, server] of servers) {
        const request = requests[targets.find((t) => t.name === name)?.carrier ?? 'id'];
        const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: request });
        const body = JSON.parse(await res.text()) as { data?: unknown; errors?: unknown };
        out.get(name)?.set(
          `${s}#${k}`,
          JSON.stringify({
            status: res.status,
            data: withoutAsOf(body.data),
            errors: body.errors,
            statements: statementCount(res.headers.get('x-source-statements') ?? undefined),
            header: res.headers.get('x-source-statements') ?? 'none',
          }),
        );
      }
    }
  }
  return out;
}

/** Where two answers part: the expected and the actual text around the first character that differs. */
function firstDifference(want: string, got: string): string {
  let i = 0;
  while (i < want.length && want[i] === got[i]) i++;
  const from = Math.max(0, i - 200);
  return `at character ${i}: expected …${want.slice(from, i + 100)}… got …${got.slice(from, i + 100)}…`;
}

function withoutAsOf(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutAsOf);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== 'asOf')
        .map(([k, x]) => [k, withoutAsOf(x)]),
    );
  return v;
}

/**
 * Each target's sample answers against the floor's: the same status, data (asOf aside) and
 * errors; and, counted apart, the same number of source statements, except for a target that
 * serves from memory (the limit, a mirrored gateway), whose answers should need none.
 */
function compareToFloor(samples: Map<string, Map<string, string>>, fromMemory: ReadonlySet<string>): BenchReport['sameAsFloor'] {
  const floor = samples.get('floor');
  const out: BenchReport['sameAsFloor'] = {};
  if (floor === undefined) return out;
  type Sample = { status: number; data: unknown; errors: unknown; statements: number; header: string };
  const answer = (x: Sample) => JSON.stringify({ status: x.status, data: x.data, errors: x.errors });
  for (const [target, answers] of samples) {
    if (target.startsWith('floor')) continue;
    let differ = 0;
    let statementsDiffer = 0;
    let example: string | undefined;
    let statementsExample: string | undefined;
    for (const [k, v] of answers) {
      const f = floor.get(k);
      const want = f === undefined ? undefined : (JSON.parse(f) as Sample);
      const got = JSON.parse(v) as Sample;
      if (want === undefined || answer(want) !== answer(got)) {
        differ++;
        example ??= `${k}: ${firstDifference(want === undefined ? '' : answer(want), answer(got))}`;
      }
      const statements = fromMemory.has(target) ? 0 : (want?.statements ?? 0);
      if (got.statements !== statements) {
        statementsDiffer++;
        statementsExample ??= `${k}: ${got.header} (expected ${statements === 0 ? 'none' : (want?.header ?? '?')})`;
      }
    }
    out[target] = {
      compared: answers.size,
      differ,
      ...(example !== undefined ? { example } : {}),
      ...(statementsDiffer > 0 ? { statementsDiffer, statementsExample } : {}),
    };
  }
  return out;
}

/**
 * 1k SKUs vs the big catalogue, availability at 1 connection, for the floor and the gateway:
 * four servers at once (each target on each catalogue), cells alternating, `rounds` times. With
 * the floor beside it, a difference the floor shows too is the database's, not the gateway's.
 */
async function catalogueCheck(o: {
  big: Dataset;
  mysqlUrl: string;
  locations: number;
  duration: number;
  warmup: number;
  rounds: number;
  seed: number;
  headers: Record<string, string>;
  log: (m: string) => void;
}): Promise<NonNullable<BenchReport['catalogue']>> {
  const prefix = `ig_bench_1k_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-1k-'));
  const out: NonNullable<BenchReport['catalogue']> = [];
  try {
    const small = await ensureDataset({ backend: 'mariadb', skus: 1000, locations: o.locations, mysqlUrl: o.mysqlUrl, prefix, dir, fresh: true, log: o.log });
    await warmDataset(o.mysqlUrl, small.databases, o.log);
    const servers: { d: Dataset; target: Target; server: Running }[] = [];
    const raw = new Map<string, LoadResult[]>();
    try {
      for (const target of [TARGETS.floor, TARGETS.gateway] as Target[]) {
        for (const d of [small, o.big]) servers.push({ d, target, server: await startTarget(target, d.configPath) });
      }
      for (let round = 0; round < o.rounds; round++) {
        for (const scenario of ['availability-1', 'availability-50', 'availability-500'] as const) {
          for (const { d, target, server } of servers) {
            await measure({
              url: server.url,
              headers: o.headers,
              connections: 1,
              duration: o.warmup,
              next: bodies(scenario, d.skus, d.width, o.seed + 99 + round),
              rssMiB: () => 0,
            });
            const r = await measure({
              url: server.url,
              headers: o.headers,
              connections: 1,
              duration: o.duration,
              next: bodies(scenario, d.skus, d.width, o.seed + 100 * round),
              rssMiB: server.rssMiB,
              cpuMs: server.cpuMs,
            });
            const key = `${d.skus}|${target.name}|${scenario}`;
            raw.set(key, [...(raw.get(key) ?? []), r]);
            o.log(
              `catalogue round ${round + 1}/${o.rounds} ${d.skus} ${target.name} ${scenario}: p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms ${r.rps.toFixed(1)} req/s cpu ${r.cpuMsPerRequest.toFixed(2)} ms/req errors ${r.errors}`,
            );
          }
        }
      }
    } finally {
      await Promise.all(servers.map((x) => x.server.stop()));
    }
    for (const scenario of ['availability-1', 'availability-50', 'availability-500'] as const) {
      for (const { d, target } of servers) {
        const c = combine(raw.get(`${d.skus}|${target.name}|${scenario}`) ?? []);
        out.push({ skus: d.skus, target: target.name, scenario, p50: c.p50, p99: c.p99, rps: c.rps, cpuMsPerRequest: c.cpuMsPerRequest });
      }
    }
  } finally {
    await dropDataset(o.mysqlUrl, prefix);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

function report(r: {
  load: number[];
  db: { poolMiB: number; dataMiB: number } | undefined;
  dataset: Dataset;
  cells: Cell[];
  sameAsFloor: BenchReport['sameAsFloor'];
  startup: Record<string, Startup>;
  catalogue: BenchReport['catalogue'];
  targets: Target[];
  duration: number;
  warmup: number;
  rounds: number;
  seed: number;
  label?: string;
  command?: string;
  smoke: boolean;
}): string {
  const d = r.dataset;
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const withLimit = r.cells.some((c) => c.ratioLimit !== undefined);
  const ratioText = (x: number | null | undefined, rounds: readonly number[] | undefined) =>
    x === null || x === undefined
      ? '-'
      : `${pct(x)}${rounds !== undefined && rounds.length > 1 ? ` (${pct(Math.min(...rounds))}–${pct(Math.max(...rounds))})` : ''}`;
  const rows = r.cells.map(
    (c) =>
      `| ${c.scenario} | ${c.connections} | ${c.target} | ${f1(c.rps)} | ${ratioText(c.ratio, c.roundsRatio)} |${withLimit ? ` ${ratioText(c.ratioLimit, c.roundsRatioLimit)} |` : ''} ${c.p50.toFixed(2)} | ${c.p99.toFixed(2)} | ${c.errors} | ${f1(c.statements)} | ${c.cpuMsPerRequest.toFixed(2)} | ${c.rssMaxMiB.toFixed(0)} | ${(c.bytesPerResponse / 1024).toFixed(1)} |`,
  );
  const rowsPerSku = r.cells
    .filter((c) => c.scenario.startsWith('availability') && c.connections === 1)
    .map((c) => `${c.target} ${c.scenario}: ${((c.p50 * 1000) / skusPerRequest(c.scenario)).toFixed(0)} µs/SKU at p50`);
  const same = Object.entries(r.sameAsFloor).map(([t, s]) => {
    const memory = r.targets.some((x) => x.name === t && (x.kind === 'limit' || x.mirrored === true));
    const json =
      s.differ === 0
        ? `same JSON as the floor (${s.compared} sample answers)`
        : `${s.differ} of ${s.compared} sample answers DIFFER from the floor's (${s.example ?? ''})`;
    const statements =
      s.statementsDiffer === undefined
        ? memory
          ? ', none with a source statement'
          : ''
        : `; ${s.statementsDiffer} of ${s.compared} with ${memory ? 'source statements where none were expected' : "other source statements than the floor's"} (${s.statementsExample ?? ''})`;
    return `${t}: ${json}${statements}`;
  });
  const sizes = Object.entries(d.sizes)
    .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
    .join(', ');
  const lines = [
    `## Harness${r.smoke ? ' (smoke)' : ''}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${r.label ? ` — ${r.label}` : ''}`,
    '',
    `- command: \`${r.command ?? 'npm run bench'}\``,
    `- data: ${d.skus.toLocaleString('en-US')} canonical SKUs x ${d.locations} locations, sources on ${d.backend === 'mariadb' ? 'MariaDB (ERP, WMS, shop) + 3PL CSV files' : 'SQLite (+ 3PL CSV files)'}; ${d.reused ? 'reused' : 'generated'} dataset (${d.backend === 'mariadb' ? `databases ${d.databases.join(', ')}; ` : ''}sources written in ${d.generateSeconds.toFixed(1)} s, SKU map loaded in ${d.importSeconds.toFixed(1)} s${d.reused ? `, at ${d.generatedAt}` : ''})`,
    `- rows: ${sizes}${r.db === undefined ? '' : `; MariaDB data ${r.db.dataMiB} MiB, InnoDB buffer pool ${r.db.poolMiB} MiB (warmed before the run)`}`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; server, MariaDB and autocannon share the cores (no pinning), other work on the machine not controlled (load average ${r.load.map((x) => x.toFixed(1)).join(' → ')} over the run)`,
    `- each cell: autocannon ${r.duration} s after a ${r.warmup} s warm-up, ${r.rounds > 1 ? `measured ${r.rounds} times (rounds), medians shown; "of floor" is the median of the rounds' ratios to the floor cell measured next to it, (lowest–highest) round; ` : ''}targets alternating cell by cell, random SKUs over the whole catalogue (seed ${r.seed}); latency from each response; statements = source statements per request (x-source-statements; the store's SKU-map lookup adds 1); server CPU = user + system time of the server's processes per answered request (/proc), steadier than req/s on a shared machine; RSS = max over the cell, of the server process`,
    `- targets: ${r.targets.map((t) => `\`${t.name}\` ${t.description}`).join('; ')}`,
    `- answers: ${same.length === 0 ? 'no floor to compare with' : same.join('; ')}`,
    `- start-up (spawn to ready${r.targets.some((t) => t.mirrored === true) ? '; a mirrored gateway: to its mirrors loaded' : ''}): ${Object.entries(r.startup)
      .map(([t, x]) =>
        x.failure !== undefined
          ? `${t} did not start, left out: ${x.failure}`
          : `${t} ${x.seconds.toFixed(1)} s, RSS ${x.rssMiB.toFixed(0)} MiB (peak ${x.peakRssMiB.toFixed(0)} MiB)${x.mirrors === undefined ? '' : x.mirrors === null ? ' (/status.json showed no mirror state: ready is /readyz)' : ` (${x.mirrors})`}`,
      )
      .join('; ')}`,
    '',
    ...(rows.length === 0
      ? []
      : [
          `| scenario | conns | target | req/s | of floor |${withLimit ? ' of limit |' : ''} p50 ms | p99 ms | errors | statements/req | server CPU ms/req | RSS MiB | KiB/resp |`,
          `|---|---:|---|---:|---:|${withLimit ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|`,
          ...rows,
          '',
          `Per SKU (1 connection): ${rowsPerSku.join('; ')}.`,
        ]),
  ];
  if (r.catalogue !== undefined && r.catalogue.length > 0) {
    lines.push(
      '',
      `Catalogue size at 1 connection: the floor and the gateway, each on 1k SKUs and on the full catalogue, four servers side by side (cells alternating${r.rounds > 1 ? `, medians of ${r.rounds} rounds` : ''}); "vs 1k" is p50 over the same target's p50 on 1k SKUs:`,
      '',
      '| scenario | target | SKUs in catalogue | p50 ms | vs 1k | p99 ms | req/s | server CPU ms/req |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of r.catalogue) {
      const small = r.catalogue.find((x) => x.scenario === c.scenario && x.target === c.target && x.skus === 1000);
      const vs = small === undefined || c.skus === 1000 ? '' : `${c.p50 >= small.p50 ? '+' : ''}${(((c.p50 - small.p50) / small.p50) * 100).toFixed(0)} %`;
      lines.push(
        `| ${c.scenario} | ${c.target} | ${c.skus.toLocaleString('en-US')} | ${c.p50.toFixed(2)} | ${vs} | ${c.p99.toFixed(2)} | ${c.rps.toFixed(1)} | ${c.cpuMsPerRequest.toFixed(2)} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean' },
      steps: { type: 'boolean' },
      'catalogue-check': { type: 'boolean' },
      drop: { type: 'boolean' },
      fresh: { type: 'boolean' },
      'no-record': { type: 'boolean' },
      skus: { type: 'string' },
      locations: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      seed: { type: 'string' },
      label: { type: 'string' },
      mysql: { type: 'string' },
      prefix: { type: 'string' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  if (values.drop === true) {
    const dropped = await dropDataset(values.mysql ?? 'mysql://root@127.0.0.1:3306/test', values.prefix ?? 'ig_bench');
    rmSync(join(HERE, 'out', `dataset-${values.prefix ?? 'ig_bench'}`), { recursive: true, force: true });
    process.stdout.write(`dropped ${dropped.join(', ') || 'nothing'}\n`);
  } else {
    const r = await runBench({
      smoke: values.smoke,
      skus: num(values.skus),
      locations: num(values.locations),
      duration: num(values.duration),
      warmup: num(values.warmup),
      rounds: num(values.rounds),
      connections: list(values.connections)?.map(Number),
      scenarios: list(values.scenarios) as ScenarioName[] | undefined,
      targets: values.steps === true ? STEPS : list(values.targets), // --targets '' with --catalogue-check: only that
      seed: num(values.seed),
      label: values.label,
      record: values['no-record'] !== true,
      fresh: values.fresh,
      catalogueCheck: values['catalogue-check'],
      mysqlUrl: values.mysql,
      prefix: values.prefix,
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    });
    process.stdout.write(`${r.markdown}\n`);
    const errors = r.cells.reduce((n, c) => n + c.errors, 0);
    if (errors > 0) process.exitCode = 1;
  }
}
