/**
 * What batching a request's source reads costs, per batch of 1, 50 and 500 codes: one request's
 * read of one (source, entity), from the codes to the records per code the service looks up,
 *
 * - `bare`: the connector's fetch and grouping its records by code, which any batching does
 *   (the floor);
 * - `dataloader`: a fresh `createSourceReader` (src/sources/loaders.ts): a DataLoader per
 *   (source, entity), `loadMany`, a promise per code, and the map of records by code;
 * - `reader`: a fresh reader of our own (bench/lib/loaders-reader.ts, what the service used
 *   from a5d5e14 until it went back to DataLoader): one promise per batch;
 *
 * each over an in-memory connector that answers one stock record per code at once (so what is
 * measured is the batching, not I/O), and beside them the read itself as the yardstick:
 *
 * - `sqlite`: the same codes through the SQL connector (src/sources/sql.ts) on a SQLite file of
 *   10,000 codes, one statement, what a read of a local source costs at least;
 * - `mariadb` (with --mysql URL): the same through mysql2 on a database of that server made for
 *   the run and dropped after it; its wall time is the read as a request waits for it.
 *
 * Every contender must answer every code (checked). Rounds interleave the contenders
 * (bench/lib/micro.ts); the table shows the median of the rounds and their range.
 *
 *   npx tsx bench/loader-overhead.ts [--rounds 7] [--mysql mysql://root@127.0.0.1:3306/test] [--no-record]
 *
 * Appends its section to bench/RESULTS-libraries.md unless --no-record.
 */
import knexFactory, { type Knex } from 'knex';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sqlSourceSchema } from '../src/config/schema.js';
import { createKnex, mysqlConnection } from '../src/db/knex.js';
import type { Entity, RecordOf, StockRecord } from '../src/domain/records.js';
import type { Connector, StatementMeter } from '../src/sources/connector.js';
import { createSourceReader } from '../src/sources/loaders.js';
import { createSqlConnector } from '../src/sources/sql.js';
import { createHandWrittenReader } from './lib/loaders-reader.js';
import { differences, machine, measure, median, spread, type Contender } from './lib/micro.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, mysql: { type: 'string' }, 'no-record': { type: 'boolean' } } });
const rounds = Number(values.rounds);
const CATALOGUE = 10_000;
const code = (i: number) => `W-${String(i).padStart(6, '0')}`;
const asOf = new Date('2026-11-30T00:00:00Z');

const memory: Connector = {
  name: 'wms',
  kind: 'memory',
  entities: new Set<Entity>(['stock']),
  async fetch<E extends Entity>(_e: E, codes: readonly string[]): Promise<RecordOf[E][]> {
    return codes.map((c): StockRecord => ({ code: c, location: 'EAST', onHand: 5, committed: 1, asOf })) as RecordOf[E][];
  },
  async ping() {},
  async close() {},
};
const connectors = new Map([['wms', memory]]);
const meter: StatementMeter = { statement() {} };

const STOCK = { table: 'bin_stock', columns: { sku: 'item_code', location: 'wh', onHand: 'qty', committed: 'picked_qty', asOf: 'updated_at' } };

/** Fills `bin_stock` with the catalogue: one row per code. */
async function seed(db: Knex): Promise<void> {
  await db.schema.createTable('bin_stock', (t) => {
    t.string('item_code', 64).primary();
    t.string('wh', 32);
    t.integer('qty');
    t.integer('picked_qty');
    t.string('updated_at', 32);
  });
  for (let from = 0; from < CATALOGUE; from += 500) {
    await db('bin_stock').insert(
      Array.from({ length: 500 }, (_, k) => ({ item_code: code(from + k), wh: 'EAST', qty: 5, picked_qty: 1, updated_at: asOf.toISOString() })),
    );
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ig-bench-loader-'));
const file = join(dir, 'wms.sqlite');
const local = createKnex({ client: 'better-sqlite3', connection: file });
await seed(local);
await local.destroy();
const yardsticks = new Map<string, Connector>([
  ['sqlite', createSqlConnector('wms', sqlSourceSchema.parse({ kind: 'sql', client: 'better-sqlite3', connection: file, stock: STOCK }))],
]);
const database = `ig_bench_loader_${process.pid}`;
const server = values.mysql === undefined ? undefined : knexFactory({ client: 'mysql2', connection: mysqlConnection(values.mysql), pool: { min: 0, max: 1 } });
if (server !== undefined && values.mysql !== undefined) {
  await server.raw('drop database if exists ??', [database]);
  await server.raw('create database ?? character set utf8mb4', [database]);
  const url = new URL(values.mysql);
  url.pathname = `/${database}`;
  const db = knexFactory({ client: 'mysql2', connection: mysqlConnection(url.toString()) });
  await seed(db);
  await db.destroy();
  yardsticks.set('mariadb', createSqlConnector('wms', sqlSourceSchema.parse({ kind: 'sql', client: 'mysql2', connection: url.toString(), stock: STOCK })));
}

let answered = 0;
/** Every code of the batch has its one record. */
function check(codes: readonly string[], get: (c: string) => unknown): void {
  for (const c of codes) {
    const r = get(c);
    if (!Array.isArray(r) || r.length !== 1) throw new Error(`code ${c} lost its record`);
  }
  answered++;
}

function groupByCode(records: readonly { code: string }[]): Map<string, unknown[]> {
  const byCode = new Map<string, unknown[]>();
  for (const r of records) {
    const list = byCode.get(r.code);
    if (list === undefined) byCode.set(r.code, [r]);
    else list.push(r);
  }
  return byCode;
}

function contenders(size: number): Contender[] {
  // a different slice of the catalogue per operation, as requests ask for different SKUs
  let next = 0;
  const batch = (): string[] => {
    const start = next;
    next = (next + size) % (CATALOGUE - size);
    return Array.from({ length: size }, (_, k) => code(start + k));
  };
  const batches = Array.from({ length: 64 }, batch);
  let turn = 0;
  const codes = () => batches[turn++ % batches.length] as string[];
  const each = (name: string, op: (codes: string[]) => Promise<void>): Contender => ({
    name,
    async run(n) {
      for (let i = 0; i < n; i++) await op(codes());
    },
  });
  return [
    each('bare', async (c) => {
      const m = groupByCode(await memory.fetch('stock', c, meter));
      check(c, (k) => m.get(k));
    }),
    each('reader', async (c) => {
      const found = await createHandWrittenReader(connectors, meter).read('wms', 'stock', c);
      check(c, (k) => found.get(k));
    }),
    each('dataloader', async (c) => {
      const found = await createSourceReader(connectors, meter).read('wms', 'stock', c);
      check(c, (k) => found.get(k));
    }),
    ...[...yardsticks].map(([name, connector]) =>
      each(name, async (c) => {
        const m = groupByCode(await connector.fetch('stock', c, meter));
        check(c, (k) => m.get(k));
      }),
    ),
  ];
}

/** Operations per round and per heap sample, by batch size: rounds of roughly the same length. */
const PLAN = [
  { size: 1, ops: 5_000, heapOps: 64 },
  { size: 50, ops: 1_000, heapOps: 16 },
  { size: 500, ops: 100, heapOps: 4 },
];

const rows: string[] = [];
const verdicts: string[] = [];
for (const p of PLAN) {
  const figures = await measure(contenders(p.size), { rounds, ops: p.ops, heapOps: p.heapOps, warmupOps: p.ops });
  const by = (name: string) => figures.find((f) => f.name === name)!;
  const bare = median(by('bare').us);
  for (const f of figures) {
    const over = f.name === 'bare' || yardsticks.has(f.name) ? '' : (median(f.us) - bare).toFixed(2);
    rows.push(`| ${p.size} | ${f.name} | ${spread(f.us, 2)} | ${over} | ${spread(f.wall, 2)} | ${spread(f.bytes, 0)} |`);
  }
  const d = differences(by('reader'), by('dataloader'));
  const agree = d.every((x) => x > 0) || d.every((x) => x < 0);
  const read = median(by('sqlite').us);
  const remote = yardsticks.has('mariadb')
    ? `, ${((median(d) / median(by('mariadb').wall)) * 100).toFixed(1)} % of the MariaDB read's wall time (${median(by('mariadb').wall).toFixed(1)} µs)`
    : '';
  verdicts.push(
    `- ${p.size} code${p.size === 1 ? '' : 's'}: dataloader − reader, round by round: ${spread(d, 2)} CPU µs per batch ` +
      `(${agree ? 'every round the same sign' : 'rounds disagree: noise'}), ${((median(d) * 1000) / p.size).toFixed(0)} ns per code, ` +
      `${((median(d) / read) * 100).toFixed(1)} % of the SQLite read of the same codes (${read.toFixed(1)} CPU µs)${remote}; ` +
      `heap ${(median(by('dataloader').bytes) - median(by('reader').bytes)).toFixed(0)} B per batch`,
  );
}
for (const c of yardsticks.values()) await c.close();
rmSync(dir, { recursive: true, force: true });
if (server !== undefined) {
  await server.raw('drop database if exists ??', [database]);
  await server.destroy();
}
if (answered === 0) throw new Error('nothing was read');

const command = `npx tsx bench/loader-overhead.ts ${process.argv.slice(2).join(' ')}`.trim();
const section = [
  `## Source read batching per request, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  '',
  `- command: \`${command}\``,
  `- machine: ${machine()}; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
  '- contenders: `bare` (fetch + group by code), `dataloader` (src/sources/loaders.ts, DataLoader 2.2.3), `reader` (bench/lib/loaders-reader.ts), over an in-memory connector; the same codes read through the SQL connector as yardsticks: ' +
    [...yardsticks.keys()].map((k) => `\`${k}\``).join(', '),
  `- ${rounds} rounds per batch size, contenders taking turns (bench/lib/micro.ts); operations per round: ${PLAN.map((p) => `${p.ops} of ${p.size}`).join(', ')}`,
  '',
  '| codes per batch | contender | CPU µs / batch, median (range) | over bare, CPU µs | wall µs / batch, median (range) | heap B / batch, median (range) |',
  '|---:|---|---:|---:|---:|---:|',
  ...rows,
  '',
  ...verdicts,
  '',
].join('\n');
process.stdout.write(`${section}\n`);
if (values['no-record'] !== true) appendFileSync(join(import.meta.dirname, 'RESULTS-libraries.md'), `\n${section}`);
