/**
 * The events outbox's store calls alone (src/store/event-store.ts), timed in this process on a
 * scratch MariaDB database, at the sizes one recompute batch gives: what the recompute's store
 * work and the publisher's cost per change, apart from the availability reads and the API.
 *
 *   npx tsx bench/lib/outbox-micro.ts [--batch 500] [--channels 2] [--per-message 10] [--rounds 5]
 *
 * Per round: the feed's marks (`trigger`, one transaction per message of `--per-message` codes,
 * as the amqp feed's sink writes them with the change), the recompute's baselines read for
 * `--batch` SKUs, its commit (`commitRecompute`: batch x channels events with bodies like the
 * gateway's, as many baselines, the batch's marks deleted), and the publisher's rounds over those
 * events (`pending` 200, `delivered` 200), each once with marks of one token per message (as a
 * feed leaves them) and once with every mark under one token (what-if). Wall and this process's
 * CPU (knex, mysql2, JSON) per call, median of the rounds.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { NewEvent } from '../../src/domain/events.js';
import { openStore, type Baseline, type Trigger } from '../../src/store/index.js';
import { dropDatabase, recreateDatabase } from './holds.js';
import { median } from './micro.js';

const LOCATIONS = ['DC-EAST', 'DC-CENTRAL', '3PL-WEST', 'DC-R01', 'DC-R02', 'DC-R03', 'DC-R04', 'DC-R05'];

/** An availability.changed as the recompute writes it for a SKU with 8 counted locations (about 1.8 KB of JSON). */
function eventOf(sku: string, channel: string, n: number): NewEvent {
  const locs = Object.fromEntries(LOCATIONS.map((l, k) => [l, 100 + ((n + k) % 50)]));
  const figure = { available: 1200 + n, onHand: 1300 + n, committed: 100, reserved: 0, locations: locs };
  return {
    type: 'availability.changed',
    sku,
    channel,
    occurredAt: new Date(),
    data: {
      crossing: null,
      lowStockThreshold: 5,
      band: 'IN',
      previous: { ...figure, band: 'IN' },
      current: { ...figure, available: 1201 + n, band: 'IN', flags: [] },
      locations: LOCATIONS.map((id, k) => ({
        id,
        available: 100 + k,
        previousAvailable: 99 + k,
        onHand: 100 + k,
        committed: 0,
        reserved: 0,
        source: 'wms',
        asOf: '2026-12-01T12:00:00.000Z',
        flags: [],
      })),
      sources: ['wms', 'tpl', 'erp'],
      cause: ['wms'],
    },
  };
}

export interface OutboxFigures {
  step: string;
  /** Calls per round, and the median over rounds of wall and client CPU ms per call, and of statements per call (knex's `query` events, BEGIN and COMMIT included). */
  calls: number;
  statements: number;
  wallMs: number;
  cpuMs: number;
}

export async function timeOutbox(o: {
  mysqlUrl: string;
  batch: number;
  channels: number;
  perMessage: number;
  rounds: number;
  log?: (m: string) => void;
}): Promise<OutboxFigures[]> {
  const url = await recreateDatabase(o.mysqlUrl, 'ig_bench_outbox');
  const store = await openStore({ client: 'mysql2', connection: url });
  store.events.configure([{ sink: 'bus', filter: {} }]);
  const samples = new Map<string, { calls: number; wall: number[]; cpu: number[]; statements: number[] }>();
  let statements = 0;
  store.db.on('query', () => statements++);
  const timed = async <T>(step: string, calls: number, fn: () => Promise<T>): Promise<T> => {
    const c0 = process.cpuUsage();
    const n0 = statements;
    const t0 = performance.now();
    const r = await fn();
    const cpu = process.cpuUsage(c0);
    const s = samples.get(step) ?? { calls, wall: [], cpu: [], statements: [] };
    s.statements.push((statements - n0) / calls);
    s.wall.push((performance.now() - t0) / calls);
    s.cpu.push((cpu.user + cpu.system) / 1000 / calls);
    samples.set(step, s);
    return r;
  };
  const channels = ['web', 'retail', 'b2b', 'marketplace'].slice(0, o.channels);
  try {
    for (let round = 0; round < o.rounds + 1; round++) {
      for (const oneToken of [false, true]) {
        const tag = `${round}-${oneToken ? 1 : 0}`;
        const skus = Array.from({ length: o.batch }, (_, i) => `SKU-${tag}-${i}`);
        const messages = Math.ceil(o.batch / o.perMessage);
        const marks: Trigger[] = [];
        await timed(`feed: marks of one message (${o.perMessage} codes, own transaction)`, messages, async () => {
          for (let m = 0; m < messages; m++) {
            const codes = skus.slice(m * o.perMessage, (m + 1) * o.perMessage);
            marks.push(...(await store.db.transaction((trx) => store.events.trigger(trx, 'wms', codes))));
          }
        });
        const done = oneToken ? marks.map((m) => ({ ...m, token: (marks[0] as Trigger).token })) : marks;
        if (oneToken)
          await store
            .db('event_triggers')
            .where({ source: 'wms' })
            .update({ token: (marks[0] as Trigger).token });
        await timed(`recompute: baselines of ${o.batch} SKUs`, 1, () => store.events.baselines('availability', skus));
        const events = skus.flatMap((s, i) => channels.map((c) => eventOf(s, c, i)));
        const baselines: Baseline[] = events.map((e) => ({
          scope: 'availability',
          subject: e.sku as string,
          channel: e.channel as string,
          band: 'IN',
          figure: (e.data as { current: unknown }).current,
        }));
        const which = oneToken ? 'marks under one token (what-if)' : `marks under ${messages} tokens (as fed)`;
        await timed(`recompute: commit of ${events.length} events + baselines, ${which}`, 1, () => store.events.commitRecompute({ events, baselines, done }));
        for (let left = events.length; left > 0; left -= 200) {
          const batch = await timed('publisher: pending(200)', 1, () => store.events.pending('bus', 200));
          await timed('publisher: delivered(200)', 1, () =>
            store.events.delivered(
              'bus',
              batch.map((d) => d.event.seq),
            ),
          );
        }
      }
      // the first round warms up (connections, statement paths, the buffer pool's pages)
      if (round === 0) samples.clear();
      o.log?.(`outbox micro: round ${round} done`);
    }
  } finally {
    await store.close();
    await dropDatabase(o.mysqlUrl, 'ig_bench_outbox');
  }
  return [...samples].map(([step, s]) => ({ step, calls: s.calls, wallMs: median(s.wall), cpuMs: median(s.cpu), statements: median(s.statements) }));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values: v } = parseArgs({
    options: {
      batch: { type: 'string' },
      channels: { type: 'string' },
      'per-message': { type: 'string' },
      rounds: { type: 'string' },
      mysql: { type: 'string' },
    },
  });
  const figures = await timeOutbox({
    mysqlUrl: v.mysql ?? 'mysql://root@127.0.0.1:3306/test',
    batch: Number(v.batch ?? 500),
    channels: Number(v.channels ?? 2),
    perMessage: Number(v['per-message'] ?? 10),
    rounds: Number(v.rounds ?? 5),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(
    [
      '| step | calls per batch | statements per call | wall ms per call | client CPU ms per call |',
      '|---|---:|---:|---:|---:|',
      ...figures.map((f) => `| ${f.step} | ${f.calls} | ${f.statements.toFixed(0)} | ${f.wallMs.toFixed(2)} | ${f.cpuMs.toFixed(2)} |`),
    ].join('\n') + '\n',
  );
}
