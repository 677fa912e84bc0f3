/**
 * Routing benchmark: routes a 10-line and a 50-line order against a freshly generated demo
 * over real HTTP, one request at a time, and records latency (p50, p99, mean) and source
 * statements per request (from the x-source-statements header).
 *
 *   npx tsx bench/routing.ts [--skus 2000] [--requests 300] [--mysql mysql://root@127.0.0.1:3306/test]
 *
 * Appends its results to bench/RESULTS.md with the command, data size and machine.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { generateDemo } from '../src/cli/demo-data.js';
import { prepareDemo } from '../src/cli/start.js';
import { mysqlConnection } from '../src/db/knex.js';
import { createLogger } from '../src/logger.js';
import { createApp } from '../src/server/app.js';

const { values } = parseArgs({
  options: { skus: { type: 'string', default: '2000' }, requests: { type: 'string', default: '300' }, mysql: { type: 'string' } },
});
const skus = Number(values.skus);
const requests = Number(values.requests);
const prefix = `ig_bench_route_${process.pid}`;

const dir = mkdtempSync(join(tmpdir(), 'ig-bench-route-'));
const t0 = performance.now();
await generateDemo({ dir, skus, ...(values.mysql ? { mysqlUrl: values.mysql, databasePrefix: prefix } : {}) });
const { config, keys } = await prepareDemo(dir, { generate: false });
const generation = (performance.now() - t0) / 1000;
const app = await createApp(config, { logger: createLogger('error') });
const url = await app.listen(0, '127.0.0.1');

const QUERY = `query R($order: RouteOrderInput!) { routeOrder(order: $order) {
  complete shipments { location { id } lines { sku quantity } } unfulfilled { sku reason } trace { location { id } reasons } } }`;
const order = (lines: number, i: number) => ({
  lines: Array.from({ length: lines }, (_, k) => ({ sku: `SKU-${String(((i * 7 + k * 13) % skus) + 1).padStart(6, '0')}`, quantity: 1 + (k % 5) })),
  destination: { latitude: 41.88, longitude: -87.63 },
  channel: 'web',
});

async function run(lines: number) {
  const times: number[] = [];
  let statements = 0;
  for (let i = -20; i < requests; i++) {
    const start = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': keys.oms },
      body: JSON.stringify({ query: QUERY, variables: { order: order(lines, i) } }),
    });
    const body = (await res.json()) as { errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    if (i < 0) continue; // warm-up
    times.push(performance.now() - start);
    statements += (res.headers.get('x-source-statements') ?? '').split(', ').reduce((n, p) => n + Number(p.split('=')[1] ?? 0), 0);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
  return { lines, p50: pct(50), p99: pct(99), mean: times.reduce((a, b) => a + b, 0) / times.length, statements: statements / times.length };
}

const results = [await run(10), await run(50)];
const rss = process.memoryUsage().rss / 2 ** 20;
await app.close();
if (values.mysql) {
  const db = knexFactory({ client: 'mysql2', connection: mysqlConnection(values.mysql) });
  for (const s of ['erp', 'wms', 'shop', 'tpl']) await db.raw('drop database if exists ??', [`${prefix}_${s}`]);
  await db.destroy();
}
rmSync(dir, { recursive: true, force: true });

const command = `npx tsx bench/routing.ts ${process.argv.slice(2).join(' ')}`.trim();
const table = [
  `## routeOrder, ${new Date().toISOString().slice(0, 10)}`,
  '',
  `- command: \`${command}\``,
  `- data: demo, ${skus} SKUs x 5 locations, sources on ${values.mysql ? 'MariaDB' : 'SQLite'} (generated in ${generation.toFixed(1)} s)`,
  `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  `- ${requests} sequential requests per size after 20 warm-up; process RSS after the run ${rss.toFixed(0)} MiB`,
  '',
  '| order lines | p50 ms | p99 ms | mean ms | source statements / request |',
  '|---:|---:|---:|---:|---:|',
  ...results.map((r) => `| ${r.lines} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.mean.toFixed(1)} | ${r.statements.toFixed(1)} |`),
  '',
].join('\n');
appendFileSync(join(import.meta.dirname, 'RESULTS.md'), `${table}\n`);
process.stdout.write(`${table}\n`);
