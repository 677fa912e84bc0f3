/**
 * What tracing costs (telemetry.tracing, docs/observability.md): the same availability load on
 * the gateway as shipped with tracing off (the default), on (every trace sampled, exported over
 * OTLP/HTTP to a sink in this process that answers 200 and drops the body), and on with
 * `sampleRatio: 0` (spans made but not recorded nor exported). Ratios to `off`, never asserted.
 *
 *   npx tsx bench/tracing-overhead.ts                       # 10k SKUs on SQLite, availability-50, 8 connections
 *   npx tsx bench/tracing-overhead.ts --skus 1000 --duration 2 --rounds 1 --no-record   # a quick look
 *
 * Options: --skus N (10000) --duration S (5) --warmup S (1) --rounds N (3) --connections N (8)
 * --scenario availability-1|availability-50|availability-500 (availability-50) --no-record.
 * Each round runs the three targets one after the other (alternating, so a busy neighbour costs
 * each alike); a cell is the median of the rounds. Results are printed and appended to bench/RESULTS.md.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { BENCH_API_KEY, ensureDataset } from './lib/dataset.js';
import { measure, type LoadResult } from './lib/load.js';
import { median } from './lib/micro.js';
import { printUsageAndExit } from './lib/usage.js';
import { bodies, type ScenarioName } from './lib/scenarios.js';
import { startTarget, type Target } from './lib/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    skus: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '8' },
    scenario: { type: 'string', default: 'availability-50' },
    'no-record': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) printUsageAndExit(import.meta.url);

const skus = Number(args.skus);
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const rounds = Math.max(1, Number(args.rounds));
const connections = Number(args.connections);
const scenario = args.scenario as ScenarioName;

// the collector: counts what arrives, answers 200 at once
let exports = 0;
let exportedBytes = 0;
const sink = createServer((req, res) => {
  req.on('data', (c: Buffer) => (exportedBytes += c.length));
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;

const telemetry =
  (tracing: Record<string, unknown>) =>
  (yaml: string): string => {
    const doc = parseDocument(yaml);
    doc.set('telemetry', doc.createNode({ tracing }));
    return doc.toString();
  };
const shipped = { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' };
const targets: Target[] = [
  { name: 'tracing-off', kind: 'gateway', env: shipped, description: 'as shipped, telemetry.tracing off (the default)' },
  {
    name: 'tracing-on',
    kind: 'gateway',
    env: shipped,
    configure: telemetry({ enabled: true, endpoint }),
    description: 'telemetry.tracing on, every trace sampled and exported over OTLP/HTTP to a local sink',
  },
  {
    name: 'tracing-unsampled',
    kind: 'gateway',
    env: shipped,
    configure: telemetry({ enabled: true, endpoint, sampleRatio: 0 }),
    description: 'telemetry.tracing on with sampleRatio 0: spans made, none recorded or exported',
  },
];

const dir = mkdtempSync(join(tmpdir(), 'ig-bench-tracing-'));
const results = new Map<string, LoadResult[]>();
try {
  const dataset = await ensureDataset({ backend: 'sqlite', skus, locations: 10, dir, log: (m) => process.stderr.write(`${m}\n`) });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` };
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const running = await startTarget(t, dataset.configPath);
      try {
        const next = bodies(scenario, dataset.skus, dataset.width, 7 + round);
        // first answers one at a time (compiles, caches, pools), then the warm-up load, its errors ignored
        for (let i = 0; i < 20; i++) await (await fetch(running.url, { method: 'POST', headers, body: JSON.stringify(next()) })).text();
        if (warmup > 0) await measure({ url: running.url, headers, connections, duration: warmup, next, rssMiB: running.rssMiB });
        const r = await measure({ url: running.url, headers, connections, duration, next, rssMiB: running.rssMiB, cpuMs: running.cpuMs });
        // a busy machine may time out a request now and then: counted in the table, fatal only when many fail
        if (r.errors > r.requests / 100) throw new Error(`${t.name}: ${r.errors} errors of ${r.requests} (${r.firstError ?? '?'})`);
        results.set(t.name, [...(results.get(t.name) ?? []), r]);
        process.stderr.write(
          `round ${round + 1} ${t.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, ${r.cpuMsPerRequest.toFixed(3)} CPU ms/req\n`,
        );
      } finally {
        await running.stop();
      }
    }
  }
} finally {
  sink.close();
  rmSync(dir, { recursive: true, force: true });
}

const cell = (name: string) => {
  const rs = results.get(name) ?? [];
  return {
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    cpu: median(rs.map((r) => r.cpuMsPerRequest)),
    rss: median(rs.map((r) => r.rssMaxMiB)),
    errors: rs.reduce((n, r) => n + r.errors, 0),
  };
};
const off = cell('tracing-off');
const rows = targets.map((t) => {
  const c = cell(t.name);
  return `| ${t.name} | ${c.rps.toFixed(0)} | ${(c.rps / off.rps).toFixed(3)} | ${c.p50.toFixed(2)} | ${c.p99.toFixed(2)} | ${c.cpu.toFixed(3)} | ${(c.cpu / off.cpu).toFixed(3)} | ${c.rss.toFixed(0)} | ${c.errors} |`;
});
const command = `npx tsx bench/tracing-overhead.ts ${process.argv.slice(2).join(' ')}`.trim();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load average ${loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')} at the end`;
const text = [
  '',
  `## Tracing overhead (${new Date().toISOString().slice(0, 10)})`,
  '',
  `\`${command}\`: ${skus.toLocaleString('en')} SKUs × 10 locations on SQLite, ${scenario} by trusted-document id (the fast path), ${connections} connections, ${duration} s per cell after ${warmup} s of warm-up, median of ${rounds} round(s), the targets alternating. Machine: ${machine}. Exported: ${exports} OTLP requests, ${(exportedBytes / 2 ** 20).toFixed(1)} MiB.`,
  '',
  '| target | req/s | of off | p50 ms | p99 ms | server CPU ms/req | of off | RSS MiB | errors |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  ...targets.map((t) => `- ${t.name}: ${t.description}`),
  '',
].join('\n');
process.stdout.write(text);
if (!args['no-record']) appendFileSync(join(HERE, 'RESULTS.md'), text);
