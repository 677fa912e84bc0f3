/**
 * What the resilience layer costs per read, without I/O: the same in-memory connector (its
 * fetch answers one stock record at once) read
 *
 * - `bare`: directly;
 * - `cockatiel`: through `withResilience` (src/sources/resilience.ts): cockatiel 3's
 *   circuitBreaker + ConsecutiveBreaker and bulkhead, our load shedding around the bulkhead,
 *   the deadline timer, the retry loop, the health registry;
 * - `hand-written`: through the own breaker and bulkhead the layer had from f5aff78 until it
 *   went back to cockatiel (bench/lib/resilience-hand-written.ts), with the same deadline,
 *   shedding, retry and health registry;
 *
 * in two scenarios: `alone` (one read at a time: no contention, every read gets a slot at once)
 * and `contended` (waves of 32 reads at once against 4 slots: 28 queue in the bulkhead and
 * start as slots free). Settings: deadline 10 s (never reached), breaker 5 failures / 10 s,
 * queue 64, 1 retry. Every read must succeed (checked). Rounds interleave the contenders
 * (bench/lib/micro.ts); the table shows the median of the rounds and their range.
 *
 *   npx tsx bench/resilience-overhead.ts [--rounds 7] [--ops 20000] [--no-record]
 *
 * Appends its section to bench/RESULTS-libraries.md unless --no-record.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Entity, RecordOf, StockRecord } from '../src/domain/records.js';
import { silentLogger } from '../src/logger.js';
import type { Connector } from '../src/sources/connector.js';
import { SourceHealthRegistry } from '../src/sources/health.js';
import { withResilience, type ResilienceSettings } from '../src/sources/resilience.js';
import { apart, differences, machine, measure, median, spread, type Contender } from './lib/micro.js';
import { withHandWrittenResilience } from './lib/resilience-hand-written.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, ops: { type: 'string', default: '20000' }, 'no-record': { type: 'boolean' } },
});
const rounds = Number(values.rounds);
const ops = Number(values.ops);
const WAVE = 32;
const SLOTS = 4;

const RECORDS: StockRecord[] = [{ code: 'A1', location: 'EAST', onHand: 5, committed: 1, asOf: new Date('2026-11-30T00:00:00Z') }];
const CODES = ['A1'];
const connector: Connector = {
  name: 'wms',
  kind: 'memory',
  entities: new Set<Entity>(['stock']),
  async fetch<E extends Entity>(): Promise<RecordOf[E][]> {
    return RECORDS as RecordOf[E][];
  },
  async ping() {},
  async close() {},
};
const settings: ResilienceSettings = {
  timeoutMs: 10_000,
  breaker: { failureThreshold: 5, resetAfterMs: 10_000 },
  maxConcurrent: SLOTS,
  maxQueue: 64,
  retries: 1,
};
const deps = () => ({ health: new SourceHealthRegistry(), logger: silentLogger });

const readers: Record<string, Pick<Connector, 'fetch'>> = {
  bare: connector,
  'hand-written': withHandWrittenResilience(connector, settings, deps()),
  cockatiel: withResilience(connector, settings, deps()),
};

let answered = 0;
const check = (r: readonly unknown[]) => {
  if (r.length !== 1) throw new Error('a read lost its record');
  answered++;
};

function alone(name: string): Contender {
  const r = readers[name] as Pick<Connector, 'fetch'>;
  return {
    name,
    async run(n) {
      for (let i = 0; i < n; i++) check(await r.fetch('stock', CODES));
    },
  };
}

function contended(name: string): Contender {
  const r = readers[name] as Pick<Connector, 'fetch'>;
  const wave = Array.from({ length: WAVE });
  return {
    name,
    async run(n) {
      for (let i = 0; i < n; i += WAVE) for (const recs of await Promise.all(wave.map(() => r.fetch('stock', CODES)))) check(recs);
    },
  };
}

const names = Object.keys(readers);
const options = { rounds, ops, heapOps: 256, warmupOps: 20_000 };
const rows: string[] = [];
const verdicts: string[] = [];
for (const [scenario, make] of [
  ['alone', alone],
  ['contended', contended],
] as const) {
  const figures = await measure(names.map(make), options);
  const bare = median(figures.find((f) => f.name === 'bare')!.us);
  for (const f of figures) {
    const over = median(f.us) - bare;
    rows.push(`| ${scenario} | ${f.name} | ${spread(f.us, 2)} | ${f.name === 'bare' ? '' : over.toFixed(2)} | ${spread(f.wall, 2)} | ${spread(f.bytes, 0)} |`);
  }
  const ours = figures.find((f) => f.name === 'hand-written')!;
  const cock = figures.find((f) => f.name === 'cockatiel')!;
  const d = differences(ours, cock);
  const db = median(cock.bytes) - median(ours.bytes);
  const agree = d.every((x) => x > 0) || d.every((x) => x < 0);
  verdicts.push(
    `- ${scenario}: cockatiel − hand-written, round by round: ${spread(d, 2)} CPU µs/read (${agree ? 'every round the same sign' : 'rounds disagree: noise'}), ` +
      `median ${((median(d) / 60) * 100).toFixed(1)} % of a SQLite point read (~60 µs), ${((median(d) / 300) * 100).toFixed(1)} % of a MariaDB read (~300 µs); ` +
      `heap ${db.toFixed(0)} B/read (${apart(ours.bytes, cock.bytes) ? 'outside' : 'inside'} the ranges)`,
  );
}
if (answered === 0) throw new Error('nothing was read');

const command = `npx tsx bench/resilience-overhead.ts ${process.argv.slice(2).join(' ')}`.trim();
const section = [
  `## Resilience overhead per read, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  '',
  `- command: \`${command}\``,
  `- machine: ${machine()}; load average ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
  '- contenders: `bare`; `cockatiel`, src/sources/resilience.ts (cockatiel 3.2.1 + our shedding); `hand-written`, bench/lib/resilience-hand-written.ts',
  `- ${rounds} rounds of ${ops} reads per contender and scenario, taken in turns (bench/lib/micro.ts); heap: bytes per read over 256 reads after a full GC`,
  '',
  '| scenario | contender | CPU µs / read, median (range) | over bare, CPU µs | wall µs / read, median (range) | heap B / read, median (range) |',
  '|---|---|---:|---:|---:|---:|',
  ...rows,
  '',
  ...verdicts,
  '',
].join('\n');
process.stdout.write(`${section}\n`);
if (values['no-record'] !== true) appendFileSync(join(import.meta.dirname, 'RESULTS-libraries.md'), `\n${section}`);
