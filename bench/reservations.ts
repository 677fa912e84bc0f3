/**
 * Reservations benchmark (issue #16): reserves per second and their latency at 1 and 50
 * connections on the SQLite and the MariaDB store, what a hot SKU does to them, and availability
 * throughput with 100,000 active holds against none (goal: within 10 %).
 *
 *   npx tsx bench/reservations.ts --rounds 3 --states holds,ended   # everything, about 35 minutes
 *   npx tsx bench/reservations.ts --parts reserve,hot --rounds 3    # reserves only, about 6 minutes
 *   npx tsx bench/reservations.ts --stores sqlite --parts reserve --duration 3 --rounds 1 --no-record   # a quick look
 *
 * Options: --skus N (10000) --locations N (5) --holds N (100000) --stores sqlite,mariadb
 * --sources live,mirrored --parts availability,read,reserve,hot --states holds[,ended]
 * --scenarios availability-1,availability-50 --connections 1,50 --duration S (8) --warmup S (2)
 * --rounds N (2) --seed N (7) --mysql URL (mysql://root@127.0.0.1:3306/test) --database NAME
 * (ig_bench_resv) --label TEXT --no-record; what-ifs and diagnosis: --extra-index COLUMNS (an
 * index the shipped schema does not have, e.g. sku,location,counts_until,quantity),
 * --first-reserve (every reserve the first of its pair), --profile DIR (each gateway's V8 CPU
 * profile; `npx tsx bench/lib/profile.ts DIR/*.cpuprofile` summarises it).
 *
 * The data is the demo's (src/cli/demo-data.ts) at `--skus`, its four source systems as SQLite
 * files in a temporary directory (bench/lib/dataset.ts, as `npm run bench -- --smoke` makes it),
 * with the SKU map in each store: the SQLite store beside them, or a MariaDB database `--database`
 * (created, and dropped at the end). The sources are SQLite in both cases, so the two stores are
 * compared on the same reads. Each gateway is the product as shipped (its CLI, graphql-jit,
 * trusted documents by id on the fast path; bench/lib/servers.ts) in its own process, with the
 * sources either `live` (every `sync` block removed: each request reads them) or `mirrored`
 * (every source `sync: { mode: mirror }` without feeds, loaded at start: a request reads only the
 * store). The load is autocannon from this process (bench/lib/load.ts).
 *
 * - availability: the harness's availability scenarios (bench/lib/scenarios.ts, random SKUs over
 *   the catalogue, by trusted-document id) with no holds, with `--holds` ACTIVE holds written
 *   straight into the store's tables (bench/lib/holds.ts: 1 unit each, spread evenly over every
 *   SKU and sellable location; through the API it would take minutes) and, with `--states
 *   holds,ended`, as many ended ones (what the sweeper leaves: it never deletes a line). For each
 *   cell the states are measured one after the other, in an order that alternates; a cell's
 *   ratio is the median of its rounds' (req/s with / req/s without). The first time a state is
 *   written, the store's holds read alone is timed in this process too (`reservations.held`,
 *   bench/lib/micro.ts), with its query plan.
 * - read: the holds read for 50 SKUs alone with `--holds` active holds, as shipped and as it could
 *   be (a covering index, running totals per pair, a prepared statement returning arrays), side by
 *   side in this process (bench/lib/held-read.ts).
 * - reserve: `reserve` of 1 unit at a given location, on a pair drawn at random from those with
 *   at least 20 units available and a figure fresh for 20 minutes (read through the gateway
 *   first; on MariaDB their lock rows are made first, as in a store that has seen them), each
 *   with a fresh idempotency key, sent as query text (a mutation is not a trusted document).
 * - hot: every connection reserves 1 unit of the same (sku, location) until it runs out and after;
 *   afterwards the units held there are checked against what was available (never more).
 *
 * Server CPU is the gateway's (/proc); for the MariaDB store also mariadbd's CPU, and the server's
 * statement, fsync and row-lock counters (SHOW GLOBAL STATUS: the whole server's, so other work on
 * it would show). Appends to bench/RESULTS.md and, one JSON line, bench/results.jsonl unless
 * --no-record. Timings are never asserted anywhere.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Knex } from 'knex';
import { parseDocument } from 'yaml';
import { readSkuMapCsv } from '../src/cli/sku-import.js';
import { openStore } from '../src/store/index.js';
import { BENCH_API_KEY, ensureDataset, skuName, type Dataset } from './lib/dataset.js';
import {
  clearHolds,
  counterDelta,
  databaseServerPid,
  dropDatabase,
  explainHeld,
  heldAt,
  recreateDatabase,
  seedHolds,
  serverCounters,
  storeKnex,
  tableCounts,
  type ServerCounters,
  type StoreKind,
} from './lib/holds.js';
import { combineRounds, measure, type LoadOptions, type LoadResult } from './lib/load.js';
import { timeHeldRead, timeReadVariants, type HeldCost, type ReadVariant } from './lib/held-read.js';
import { median, spread } from './lib/micro.js';
import { mirroredConfig } from './lib/mirror.js';
import { bodies, rng, type ScenarioName } from './lib/scenarios.js';
import { startTarget, treeCpu, untilBreakersClose, type Running, type Target } from './lib/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));

type SourcesMode = 'live' | 'mirrored';
type Part = 'availability' | 'read' | 'reserve' | 'hot';

export interface ReservationBenchOptions {
  skus?: number;
  locations?: number;
  holds?: number;
  stores?: StoreKind[];
  sources?: SourcesMode[];
  parts?: Part[];
  /** Availability: the table states measured against each other (`none` always). */
  states?: HoldState[];
  scenarios?: ScenarioName[];
  connections?: number[];
  duration?: number;
  warmup?: number;
  rounds?: number;
  seed?: number;
  mysqlUrl?: string;
  database?: string;
  label?: string;
  record?: boolean;
  /**
   * What-if, not the shipped schema: reservation_lines also get an index on these columns, e.g.
   * sku, counts_until, location, quantity (covers the holds read, whose shipped index (sku,
   * location, counts_until) lacks `quantity`, so each line is looked up in the table, and lets
   * `counts_until > now` narrow the range, so lines that stopped counting are not walked).
   */
  extraIndex?: string[];
  /** Reserve: each reserve on a pair never reserved before (MariaDB: its lock row is inserted first, in a commit of its own). */
  firstReserve?: boolean;
  /** Write each gateway's V8 CPU profile here (bench/lib/profile.ts summarises them). */
  profileDir?: string;
  command?: string;
  log?: (m: string) => void;
}

/** What a cell measured, with the database server's share when the store is MariaDB. */
interface Measured extends LoadResult {
  /** mariadbd CPU ms per answered request (MariaDB store only). */
  dbCpuMsPerRequest?: number;
  /** SHOW GLOBAL STATUS deltas per answered request (MariaDB store only). */
  perRequest?: Partial<Record<keyof ServerCounters, number>>;
  threadsConnected?: number;
}

interface ReserveCell extends Measured {
  store: StoreKind;
  sources: SourcesMode;
  connections: number;
  held: number;
  shortfalls: number;
  codes: Record<string, number>;
  rounds: number[];
}

/** The reservation tables during an availability cell: empty, `--holds` active holds, or as many ended ones (the sweeper's leftovers). */
type HoldState = 'none' | 'holds' | 'ended';

interface AvailabilityCell {
  store: StoreKind;
  sources: SourcesMode;
  scenario: ScenarioName;
  connections: number;
  /** The state compared with `none`. */
  state: Exclude<HoldState, 'none'>;
  none: Measured;
  holds: Measured;
  /** Per round: req/s with holds over req/s without. */
  roundsRatio: number[];
  ratio: number;
  /** Median over rounds of (gateway CPU ms/req without / with): the throughput ratio a CPU-bound gateway would show. */
  cpuRatio: number;
}

interface HotCell extends Measured {
  store: StoreKind;
  connections: number;
  sku: string;
  location: string;
  availableBefore: number;
  heldUnits: number;
  heldReservations: number;
  held: number;
  shortfalls: number;
  codes: Record<string, number>;
}

const RESERVE = `mutation BenchReserve($i: ReserveInput!) { reserve(input: $i) { reservation { id } shortfalls { code } replayed } }`;
const AVAILABILITY = `query BenchHeld($s: [ID!]!) { availability(skus: $s) { sku available reserved byLocation { location { id } available reserved counted flags provenance { source asOf } } } }`;

interface AvailabilityAnswer {
  sku: string;
  available: number;
  reserved: number;
  byLocation: Array<{
    location: { id: string };
    available: number;
    reserved: number;
    counted: boolean;
    flags: string[];
    provenance: { source: string; asOf: string | null };
  }>;
}

/** The gateway as shipped, on one store with its sources live or mirrored. */
function gatewayTarget(store: StoreKind, sources: SourcesMode, storeUrl: string | null, profileDir?: string): Target {
  return {
    name: `${store}-${sources}`,
    kind: 'gateway',
    env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off' },
    // --profile: V8's CPU profile of the whole gateway process, written when it stops
    ...(profileDir !== undefined ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${store}-${sources}.cpuprofile`] } : {}),
    mirrored: sources === 'mirrored',
    startTimeoutMs: 300_000,
    description: `${store} store, sources ${sources}`,
    configure: (yaml) => {
      const doc = parseDocument(sources === 'mirrored' ? mirroredConfig(yaml) : yaml);
      if (sources === 'live') {
        const list = doc.get('sources') as { items?: { key: unknown }[] } | undefined;
        for (const item of list?.items ?? []) doc.deleteIn(['sources', String((item.key as { value?: unknown }).value ?? item.key), 'sync']);
      }
      if (storeUrl !== null) doc.set('store', { client: 'mysql2', connection: storeUrl });
      return doc.toString();
    },
  };
}

function combine<T extends Measured>(runs: readonly T[]): Measured {
  const keys = new Set(runs.flatMap((r) => Object.keys(r.perRequest ?? {}))) as Set<keyof ServerCounters>;
  return {
    ...combineRounds(runs),
    ...(runs.some((r) => r.dbCpuMsPerRequest !== undefined) ? { dbCpuMsPerRequest: median(runs.map((r) => r.dbCpuMsPerRequest ?? Number.NaN)) } : {}),
    ...(keys.size > 0 ? { perRequest: Object.fromEntries([...keys].map((k) => [k, median(runs.map((r) => r.perRequest?.[k] ?? Number.NaN))])) } : {}),
    ...(runs.some((r) => r.threadsConnected !== undefined) ? { threadsConnected: Math.max(...runs.map((r) => r.threadsConnected ?? 0)) } : {}),
  };
}

/** Outcomes of reserve answers: held, short, and errors by `extensions.code`. */
function reserveTally() {
  const t = { held: 0, shortfalls: 0, codes: {} as Record<string, number> };
  return {
    t,
    inspect: (status: number, body: string) => {
      if (body.includes('"reservation":{"id"')) t.held++;
      else if (body.includes('"reservation":null')) t.shortfalls++;
      const codes = [...body.matchAll(/"code":"([A-Z_]+)"/g)].map((m) => m[1] as string).filter((c) => c !== 'INSUFFICIENT_STOCK');
      if (status !== 200 && codes.length === 0) codes.push(`HTTP_${status}`);
      for (const c of codes) t.codes[c] = (t.codes[c] ?? 0) + 1;
    },
  };
}

export async function runReservationBench(o: ReservationBenchOptions = {}) {
  const log = o.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`));
  const skus = o.skus ?? 10_000;
  const locations = o.locations ?? 5;
  const holds = o.holds ?? 100_000;
  const stores = o.stores ?? ['sqlite', 'mariadb'];
  const sourcesModes = o.sources ?? ['live', 'mirrored'];
  const parts = o.parts ?? ['availability', 'read', 'reserve', 'hot'];
  const scenarios = o.scenarios ?? ['availability-1', 'availability-50'];
  const states: HoldState[] = ['none', ...(o.states ?? ['holds']).filter((x) => x !== 'none')];
  const connections = o.connections ?? [1, 50];
  const duration = o.duration ?? 8;
  const warmup = o.warmup ?? 2;
  const rounds = Math.max(1, o.rounds ?? 2);
  const seed = o.seed ?? 7;
  const mysqlUrl = o.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test';
  const database = o.database ?? 'ig_bench_resv';
  const headers = { authorization: `Bearer ${BENCH_API_KEY}` };
  const dbPid = databaseServerPid();
  const load0 = loadavg()[0] ?? 0;

  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-resv-'));
  const reserveCells: ReserveCell[] = [];
  const availabilityCells: AvailabilityCell[] = [];
  const hotCells: HotCell[] = [];
  const heldCost: HeldCost[] = [];
  const readVariants: ReadVariant[] = [];
  const notes: string[] = [];
  let keyNo = 0;
  let server: { mariadb: string | null; poolMiB: number | null; flushAtCommit: string | null } = { mariadb: null, poolMiB: null, flushAtCommit: null };
  const keyBase = `b${Date.now().toString(36)}`;
  try {
    const dataset = await ensureDataset({ backend: 'sqlite', skus, locations, dir, log });
    log(`demo: ${skus} SKUs x ${locations} locations in ${dir} (${dataset.generateSeconds.toFixed(1)} s)`);
    const configYaml = parseDocument(readFileSync(dataset.configPath, 'utf8')).toJS() as {
      locations: Array<{ id: string; sellable?: boolean }>;
      sources: Record<string, unknown>;
    };
    const sellable = configYaml.locations.filter((l) => l.sellable !== false).map((l) => l.id);
    const allSkus = Array.from({ length: skus }, (_, i) => skuName(i + 1, dataset.width));

    for (const store of stores) {
      let storeUrl: string | null = null;
      if (store === 'mariadb') {
        storeUrl = await recreateDatabase(mysqlUrl, database);
        const s = await openStore({ client: 'mysql2', connection: storeUrl });
        try {
          await s.skus.import(readSkuMapCsv(join(dir, 'sku-map.csv'), Object.keys(configYaml.sources)));
        } finally {
          await s.close();
        }
        log(`MariaDB store ${database}: migrated, SKU map imported`);
        server = await describeServer(storeUrl);
      }
      const db: Knex = storeKnex(store, storeUrl ?? join(dir, 'gateway.sqlite'));
      const counters = store === 'mariadb' ? db : null;
      const servers = new Map<SourcesMode, Running>();
      try {
        await clearHolds(db, store);
        if (o.extraIndex !== undefined && o.extraIndex.length > 0) {
          const columns = o.extraIndex;
          await db.schema.alterTable('reservation_lines', (t) => t.index(columns, 'bench_extra'));
          notes.push(`${store}: what-if, not the shipped schema: reservation_lines also indexed on (${columns.join(', ')}) (\`--extra-index\`)`);
        }
        for (const mode of sourcesModes) {
          const t = gatewayTarget(store, mode, storeUrl, o.profileDir);
          const r = await startTarget(t, dataset.configPath);
          servers.set(mode, r);
          log(`${t.name} ready in ${r.startSeconds.toFixed(1)} s, RSS ${r.startRssMiB.toFixed(0)} MiB`);
        }
        const any = servers.get('live') ?? ([...servers.values()][0] as Running);

        /** One load cell with the database server's share read around it. */
        const cell = async (server: Running, c: number, next: LoadOptions['next'], inspect?: (s: number, b: string) => void): Promise<Measured> => {
          if (warmup > 0) await measure({ url: server.url, headers, connections: c, duration: warmup, next, rssMiB: () => 0, inspect });
          await settle(server);
          const before = counters === null ? null : await serverCounters(counters);
          const db0 = dbPid === null ? 0 : treeCpu(dbPid);
          const r: Measured = await measure({ url: server.url, headers, connections: c, duration, next, rssMiB: server.rssMiB, cpuMs: server.cpuMs, inspect });
          if (counters !== null && before !== null) {
            const d = counterDelta(before, await serverCounters(counters));
            const n = Math.max(1, r.requests);
            r.perRequest = Object.fromEntries(
              Object.entries(d)
                .filter(([k]) => k !== 'Threads_connected')
                .map(([k, v]) => [k, v / n]),
            );
            r.threadsConnected = d.Threads_connected;
            if (dbPid !== null) r.dbCpuMsPerRequest = (treeCpu(dbPid) - db0) / n;
          }
          await settle(server);
          return r;
        };

        /**
         * Pairs with room to hold: at least 20 units available before holds, counted, and a figure
         * that stays fresh for the next 20 minutes (a reserve does not take stale stock: the
         * demo's WMS bins are 1 to 50 minutes old when generated, and its maxAgeSeconds is 3600).
         */
        const maxAge = new Map(Object.entries(configYaml.sources).map(([k, v]) => [k, (v as { maxAgeSeconds?: number }).maxAgeSeconds]));
        const choosePairs = async () => {
          const out: Array<{ sku: string; location: string; available: number }> = [];
          const fresh = Date.now() + 20 * 60_000;
          for (let i = 0; i < allSkus.length; i += 400) {
            const body = await post(any.url, headers, AVAILABILITY, { s: allSkus.slice(i, i + 400) });
            for (const a of (body.data as { availability: AvailabilityAnswer[] }).availability)
              for (const l of a.byLocation) {
                const age = maxAge.get(l.provenance.source);
                const stays = age === undefined || l.provenance.asOf === null || Date.parse(l.provenance.asOf) + age * 1000 > fresh;
                if (l.counted && l.available >= 20 && !l.flags.includes('STALE') && stays)
                  out.push({ sku: a.sku, location: l.location.id, available: l.available });
              }
          }
          log(`${out.length} (sku, location) pairs with at least 20 units available, fresh for 20 minutes`);
          if (store === 'mariadb' && o.firstReserve !== true) {
            // a store that has seen each pair before (its lock row exists): the first reserve of a pair also inserts that row, in a commit of its own
            for (let i = 0; i < out.length; i += 500)
              await db('reservation_locks')
                .insert(out.slice(i, i + 500).map((p) => ({ sku: p.sku, location: p.location })))
                .onConflict()
                .ignore();
          }
          return out;
        };
        let pairs: Array<{ sku: string; location: string; available: number }> = [];

        if (parts.includes('availability')) {
          // each gateway warmed first (graphql-jit compiles, caches fill), so the first cell is not also the warm-up
          for (const mode of sourcesModes)
            for (const scenario of scenarios)
              await measure({
                url: (servers.get(mode) as Running).url,
                headers,
                connections: Math.max(...connections),
                duration: Math.max(3, 2 * warmup),
                next: bodies(scenario, skus, dataset.width, seed + 999),
                rssMiB: () => 0,
              });
          let current: HoldState | null = null;
          const setState = async (state: HoldState) => {
            if (state === current) return;
            await clearHolds(db, store);
            current = state;
            if (state === 'none') return;
            const s = await seedHolds(db, {
              count: holds,
              skus: allSkus,
              locations: sellable,
              now: Date.now(),
              ttlMs: 7 * 86_400_000,
              ended: state === 'ended',
            });
            log(`${store}: ${holds} ${state === 'ended' ? 'ended' : 'active'} holds written in ${s.toFixed(1)} s`);
            if (!seeded.has(state)) {
              seeded.add(state);
              notes.push(
                `${store}, ${state === 'holds' ? 'active' : 'ended'} holds: the holds read's plan: ${await explainHeld(db, store, allSkus.slice(0, 50))}`,
              );
              heldCost.push(...(await timeHeldRead(store, state, storeUrl ?? join(dir, 'gateway.sqlite'), allSkus, dataset.width, seed, log)));
              const check = await post(any.url, headers, AVAILABILITY, { s: [allSkus[0]] });
              const a = (
                check.data as { availability: Array<{ sku: string; reserved: number; byLocation: Array<{ location: { id: string }; reserved: number }> }> }
              ).availability[0];
              notes.push(
                `${store}: with ${holds.toLocaleString('en-US')} ${state === 'ended' ? 'ended' : 'active'} holds written (in ${s.toFixed(1)} s), ${a?.sku} shows reserved ${a?.reserved} (${a?.byLocation.map((l) => `${l.location.id} ${l.reserved}`).join(', ')})`,
              );
            }
          };
          const seeded = new Set<HoldState>();
          const raw = new Map<string, Measured[]>();
          let group = 0;
          for (let round = 0; round < rounds; round++) {
            for (const scenario of scenarios) {
              for (const c of connections) {
                // the states one after the other for each cell, in an order that alternates, so drift in the machine's load hits them alike
                const order = (round + group++) % 2 === 0 ? [...states] : [...states].reverse();
                for (const state of order) {
                  await setState(state);
                  for (const mode of sourcesModes) {
                    const server = servers.get(mode) as Running;
                    const r = await cell(server, c, bodies(scenario, skus, dataset.width, seed + c + 100 * round));
                    const k = `${mode}|${scenario}|${c}|${state}`;
                    raw.set(k, [...(raw.get(k) ?? []), r]);
                    log(
                      `round ${round + 1}/${rounds} ${store}-${mode} ${scenario} c=${c} ${state === 'none' ? 'no holds' : `${holds} ${state === 'holds' ? 'active' : 'ended'} holds`}: ${r.rps.toFixed(1)} req/s p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ms, cpu ${r.cpuMsPerRequest.toFixed(2)} ms/req${r.dbCpuMsPerRequest !== undefined ? `, mariadbd ${r.dbCpuMsPerRequest.toFixed(2)} ms/req, ${(r.perRequest?.Handler_read_next ?? 0).toFixed(0)} index rows/req` : ''}, errors ${r.errors}${r.firstError ? ` (${r.firstError.slice(0, 200)})` : ''}`,
                    );
                  }
                }
              }
            }
          }
          await clearHolds(db, store);
          for (const scenario of scenarios)
            for (const c of connections)
              for (const mode of sourcesModes) {
                const none = raw.get(`${mode}|${scenario}|${c}|none`) ?? [];
                for (const state of states) {
                  if (state === 'none') continue;
                  const runs = raw.get(`${mode}|${scenario}|${c}|${state}`) ?? [];
                  const roundsRatio = runs.map((h, k) => h.rps / (none[k]?.rps ?? Number.NaN));
                  const cpuRatio = runs.map((h, k) => (none[k]?.cpuMsPerRequest ?? Number.NaN) / h.cpuMsPerRequest);
                  availabilityCells.push({
                    store,
                    sources: mode,
                    scenario,
                    connections: c,
                    state,
                    none: combine(none),
                    holds: combine(runs),
                    roundsRatio,
                    ratio: median(roundsRatio),
                    cpuRatio: median(cpuRatio),
                  });
                }
              }
        }

        if (parts.includes('read')) {
          await clearHolds(db, store);
          await seedHolds(db, { count: holds, skus: allSkus, locations: sellable, now: Date.now(), ttlMs: 7 * 86_400_000 });
          readVariants.push(...(await timeReadVariants(store, storeUrl ?? join(dir, 'gateway.sqlite'), allSkus, dataset.width, seed, log)));
          await clearHolds(db, store);
        }

        if (parts.includes('reserve')) {
          await clearHolds(db, store);
          pairs = await choosePairs();
          let unused = 0;
          if (o.firstReserve === true) {
            const shuffle = rng(seed);
            for (let i = pairs.length - 1; i > 0; i--) {
              const j = Math.floor(shuffle() * (i + 1));
              [pairs[i], pairs[j]] = [pairs[j] as (typeof pairs)[number], pairs[i] as (typeof pairs)[number]];
            }
          }
          for (const mode of sourcesModes) {
            const server = servers.get(mode) as Running;
            for (const c of connections) {
              const runs: Array<Measured & { held: number; shortfalls: number; codes: Record<string, number> }> = [];
              for (let round = 0; round < rounds; round++) {
                const next = rng(seed + 31 * c + round);
                const tally = reserveTally();
                const r = await cell(
                  server,
                  c,
                  () => {
                    // --first-reserve: each pair once, in a shuffled order (its first reserve), until they run out
                    const p = (o.firstReserve === true ? pairs[unused++ % pairs.length] : pairs[Math.floor(next() * pairs.length)]) as (typeof pairs)[number];
                    return {
                      operationName: 'BenchReserve',
                      query: RESERVE,
                      variables: {
                        i: { idempotencyKey: `${keyBase}-${++keyNo}`, lines: [{ sku: p.sku, quantity: 1, locationId: p.location }], ttlSeconds: 900 },
                      },
                    };
                  },
                  tally.inspect,
                );
                runs.push({ ...r, ...tally.t });
                log(
                  `round ${round + 1}/${rounds} reserve ${store}-${mode} c=${c}: ${r.rps.toFixed(1)} reserves/s p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ms, cpu ${r.cpuMsPerRequest.toFixed(2)} ms/req${r.dbCpuMsPerRequest !== undefined ? `, mariadbd ${r.dbCpuMsPerRequest.toFixed(2)} ms/req, ${(r.perRequest?.Questions ?? 0).toFixed(1)} statements/req` : ''}, held ${tally.t.held}, short ${tally.t.shortfalls}, codes ${JSON.stringify(tally.t.codes)}${r.firstError ? ` (${r.firstError.slice(0, 300)})` : ''}`,
                );
              }
              const codes: Record<string, number> = {};
              for (const r of runs) for (const [k, v] of Object.entries(r.codes)) codes[k] = (codes[k] ?? 0) + v;
              reserveCells.push({
                ...combine(runs),
                store,
                sources: mode,
                connections: c,
                held: runs.reduce((n, r) => n + r.held, 0),
                shortfalls: runs.reduce((n, r) => n + r.shortfalls, 0),
                codes,
                rounds: runs.map((r) => r.rps),
              });
            }
          }
          if (o.firstReserve === true)
            notes.push(
              `${store}: --first-reserve: ${unused.toLocaleString('en-US')} reserves (warm-ups included) over ${pairs.length.toLocaleString('en-US')} pairs, each pair's first${unused > pairs.length ? ' (then again: more reserves than pairs)' : ''}; no lock row made beforehand`,
            );
          notes.push(`${store}: after the reserve cells the store held ${JSON.stringify(await tableCounts(db))} (warm-ups included)`);
        }

        if (parts.includes('hot')) {
          await clearHolds(db, store);
          if (pairs.length === 0) pairs = await choosePairs();
          const server = any;
          // the pair with the most units: the hot SKU runs out within the cell, so it measures both the race and "sold out"
          const hot = [...pairs].sort((a, b) => b.available - a.available)[0] as (typeof pairs)[number];
          const tally = reserveTally();
          const c = Math.max(...connections);
          const r = await cell(
            server,
            c,
            () => ({
              operationName: 'BenchReserve',
              query: RESERVE,
              variables: { i: { idempotencyKey: `${keyBase}-${++keyNo}`, lines: [{ sku: hot.sku, quantity: 1, locationId: hot.location }], ttlSeconds: 900 } },
            }),
            tally.inspect,
          );
          const h = await heldAt(db, hot.sku, hot.location, Date.now());
          hotCells.push({
            ...r,
            store,
            connections: c,
            sku: hot.sku,
            location: hot.location,
            availableBefore: hot.available,
            heldUnits: h.units,
            heldReservations: h.reservations,
            ...tally.t,
          });
          log(
            `hot ${store}: ${hot.sku} at ${hot.location} (${hot.available} available): ${r.rps.toFixed(1)} reserves/s p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ms, held ${tally.t.held} answers / ${h.units} units in the store, short ${tally.t.shortfalls}, codes ${JSON.stringify(tally.t.codes)}${r.firstError ? ` (${r.firstError.slice(0, 300)})` : ''}`,
          );
          await clearHolds(db, store);
        }
      } catch (e) {
        for (const [mode, s] of servers) log(`${store}-${mode} stderr (last lines):\n${s.stderr().slice(-3000)}`);
        throw e;
      } finally {
        for (const [mode, s] of servers) {
          const tail = s.stderr().trim();
          if (tail !== '') notes.push(`${store}-${mode} gateway stderr (last 600 characters): ${tail.slice(-600).replace(/\s+/g, ' ')}`);
        }
        await Promise.all([...servers.values()].map((s) => s.stop()));
        await db.destroy();
        if (store === 'mariadb') await dropDatabase(mysqlUrl, database);
      }
    }

    const markdown = report({
      dataset,
      holds,
      sellable,
      reserveCells,
      availabilityCells,
      hotCells,
      heldCost,
      readVariants,
      notes,
      ...server,
      duration,
      warmup,
      rounds,
      load: [load0, loadavg()[0] ?? 0],
      command: o.command,
      label: o.label,
    });
    if (o.record !== false) {
      appendFileSync(join(HERE, 'RESULTS.md'), `${markdown}\n`);
      appendFileSync(
        join(HERE, 'results.jsonl'),
        `${JSON.stringify({ at: new Date().toISOString(), kind: 'reservations', command: o.command ?? 'npx tsx bench/reservations.ts', label: o.label ?? null, skus, locations, holds, reserveCells, availabilityCells, hotCells, heldCost, readVariants, notes })}\n`,
      );
    }
    return { reserveCells, availabilityCells, hotCells, notes, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function describeServer(url: string): Promise<{ mariadb: string; poolMiB: number; flushAtCommit: string }> {
  const k = storeKnex('mariadb', url);
  try {
    const [rows] = (await k.raw('select version() as v, @@innodb_buffer_pool_size / 1048576 as pool, @@innodb_flush_log_at_trx_commit as flush')) as [
      Array<{ v: string; pool: number | string; flush: number | string }>,
    ];
    const row = rows[0];
    return { mariadb: String(row?.v ?? '?'), poolMiB: Number(row?.pool ?? 0), flushAtCommit: String(row?.flush ?? '?') };
  } finally {
    await k.destroy();
  }
}

async function post(url: string, headers: Record<string, string>, query: string, variables: unknown): Promise<{ data?: unknown; errors?: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: unknown; errors?: unknown };
  if (body.errors !== undefined) throw new Error(`${query.slice(0, 40)}: ${JSON.stringify(body.errors).slice(0, 500)}`);
  return body;
}

/** Lets the server finish what the load sent (autocannon stops sending, the server still answers), and its breakers close. */
async function settle(server: Running): Promise<void> {
  await untilBreakersClose(server);
  await new Promise((r) => setTimeout(r, 200));
}

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2));
const codesText = (c: Record<string, number>) =>
  Object.keys(c).length === 0
    ? '-'
    : Object.entries(c)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');

function report(r: {
  dataset: Dataset;
  holds: number;
  sellable: string[];
  reserveCells: ReserveCell[];
  availabilityCells: AvailabilityCell[];
  hotCells: HotCell[];
  heldCost: HeldCost[];
  readVariants: ReadVariant[];
  notes: string[];
  mariadb: string | null;
  poolMiB: number | null;
  flushAtCommit: string | null;
  duration: number;
  warmup: number;
  rounds: number;
  load: [number, number];
  command?: string;
  label?: string;
}): string {
  const now = new Date();
  const lines = [
    `## Reservations (issue #16), ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC${r.label ? ` — ${r.label}` : ''}`,
    '',
    `- command: \`${r.command ?? 'npx tsx bench/reservations.ts'}\``,
    `- data: demo, ${r.dataset.skus.toLocaleString('en-US')} SKUs x ${r.dataset.locations} locations (${r.sellable.length} sellable: ${r.sellable.join(', ')}), sources as SQLite files (${Object.entries(
      r.dataset.sizes,
    )
      .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
      .join(
        ', ',
      )}); store SQLite (a file beside them) or MariaDB${r.mariadb === null ? '' : ` ${r.mariadb}`} (a database of its own, 127.0.0.1:3306, buffer pool ${r.poolMiB ?? '?'} MiB, innodb_flush_log_at_trx_commit ${r.flushAtCommit ?? '?'}); the SKU map imported into each`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; gateway, MariaDB and autocannon share the cores; load average ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} over the run`,
    ...(r.reserveCells.length + r.availabilityCells.length + r.hotCells.length === 0
      ? []
      : [
          `- each cell: autocannon ${r.duration} s after a ${r.warmup} s warm-up, ${r.rounds} round${r.rounds > 1 ? 's' : ''}, medians shown; gateway as shipped (CLI, graphql-jit, fast path for trusted documents), one process per (store, sources); sources \`live\`: every \`sync\` block removed, each request reads them; \`mirrored\`: every source mirrored in memory without feeds (loaded at start), a request reads only the store; server CPU = the gateway's user + system ms per answered request; mariadbd CPU and statements/req from /proc and SHOW GLOBAL STATUS around the cell (the whole server's)`,
        ]),
    ...(r.availabilityCells.length === 0
      ? []
      : [
          `- holds for availability: ${r.holds.toLocaleString('en-US')} ACTIVE reservations of 1 unit (one line each) inserted straight into \`reservations\` and \`reservation_lines\` (bench/lib/holds.ts), spread evenly over every SKU and sellable location (${(r.holds / (r.dataset.skus * r.sellable.length)).toFixed(1)} per pair), counting for 7 days; "ended" (with \`--states holds,ended\`): as many EXPIRED ones with \`counts_until\` 0, as the sweeper leaves them (it never deletes a line); "none": the tables emptied. For each cell the states one after the other, in an order that alternates from cell to cell; ratio = median over rounds of (req/s with holds / req/s without); "by CPU" = the same for gateway CPU ms/req (none / holds), the ratio a CPU-bound gateway would show`,
        ]),
    ...r.notes.map((n) => `- ${n}`),
    '',
  ];
  if (r.reserveCells.length > 0) {
    lines.push(
      'Reserve: 1 line of 1 unit at a given location, a random (sku, location) with ≥ 20 units available and a figure fresh for 20 minutes, a fresh idempotency key each, as query text; on MariaDB every such pair has its lock row already (a store that has seen the pair before); short = answered INSUFFICIENT_STOCK:',
      '',
      '| store | sources | conns | reserves/s | p50 ms | p99 ms | held | short | errors | gateway CPU ms/req | mariadbd CPU ms/req | DB statements/req | fsyncs/req |',
      '|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|',
      ...r.reserveCells.map(
        (c) =>
          `| ${c.store} | ${c.sources} | ${c.connections} | ${f1(c.rps)} | ${f1(c.p50)} | ${f1(c.p99)} | ${c.held} | ${c.shortfalls} | ${c.errors === 0 ? '0' : `${c.errors} (${codesText(c.codes)})`} | ${f2(c.cpuMsPerRequest)} | ${f2(c.dbCpuMsPerRequest)} | ${f1(c.perRequest?.Questions)} | ${f2(c.perRequest?.Innodb_data_fsyncs)} |`,
      ),
      '',
    );
  }
  if (r.hotCells.length > 0) {
    lines.push(
      'Hot SKU: every connection reserves 1 unit of the same (sku, location), through and past its last unit (answers include the warm-up; requests in flight when autocannon stops are not answered but may hold: the store has the full count):',
      '',
      '| store | conns | pair | available before | reserves/s | p50 ms | p99 ms | answers: held / short | held in the store: reservations, units | oversold | errors | row-lock waits/req | gateway CPU ms/req | mariadbd CPU ms/req |',
      '|---|---:|---|---:|---:|---:|---:|---|---|---|---|---:|---:|---:|',
      ...r.hotCells.map(
        (c) =>
          `| ${c.store} | ${c.connections} | ${c.sku} @ ${c.location} | ${c.availableBefore} | ${f1(c.rps)} | ${f1(c.p50)} | ${f1(c.p99)} | ${c.held} / ${c.shortfalls} | ${c.heldReservations}, ${c.heldUnits} | ${c.heldUnits > c.availableBefore ? `**yes, ${c.heldUnits - c.availableBefore} units**` : 'no'} | ${c.errors === 0 ? '0' : `${c.errors} (${codesText(c.codes)})`} | ${f2(c.perRequest?.Innodb_row_lock_waits)} | ${f2(c.cpuMsPerRequest)} | ${f2(c.dbCpuMsPerRequest)} |`,
      ),
      '',
    );
  }
  if (r.heldCost.length > 0) {
    lines.push(
      "The store's read of holds alone (`reservations.held`, as an availability request calls it once per batch), in this process with the gateways idle: random SKUs with their share of the holds, against as many codes with none (bench/lib/micro.ts: 5 rounds, contenders in turns; median (lowest–highest) µs per call):",
      '',
      '| store | holds | SKUs per call | lines under them per call | wall µs, none | wall µs, holds | CPU µs (client), none | CPU µs (client), holds |',
      '|---|---|---:|---:|---|---|---|---|',
      ...r.heldCost.map(
        (h) =>
          `| ${h.store} | ${h.state === 'holds' ? 'active' : 'ended'} | ${h.skus} | ${h.lines.toFixed(1)} | ${spread(h.noneWall, 0)} | ${spread(h.holdsWall, 0)} | ${spread(h.noneUs, 0)} | ${spread(h.holdsUs, 0)} |`,
      ),
      '',
    );
  }
  if (r.readVariants.length > 0) {
    lines.push(
      `The holds read for 50 random SKUs with ${r.holds.toLocaleString('en-US')} active holds in the store, as shipped and as it could be (what-ifs on copies of the lines, in the bench process; bench/lib/held-read.ts, 5 rounds side by side, median (lowest–highest) µs per call):`,
      '',
      '| store | read | rows returned | wall µs | CPU µs (client) |',
      '|---|---|---:|---|---|',
      ...r.readVariants.map((v) => `| ${v.store} | ${v.variant} | ${v.rows.toFixed(0)} | ${spread(v.wall, 0)} | ${spread(v.us, 0)} |`),
      '',
    );
  }
  if (r.availabilityCells.length > 0) {
    lines.push(
      `Availability (the harness's scenarios by trusted-document id, random SKUs) with no holds and with ${r.holds.toLocaleString('en-US')} active holds (goal: within 10 %):`,
      '',
      '| store | sources | scenario | conns | holds | req/s none | req/s holds | holds / none (rounds) | by CPU | p50 ms none → holds | p99 ms none → holds | gateway CPU ms/req none → holds | mariadbd CPU ms/req none → holds | index rows read/req none → holds | errors | goal (req/s) |',
      '|---|---|---|---:|---|---:|---:|---:|---:|---|---|---|---|---|---:|---|',
      ...r.availabilityCells.map(
        (c) =>
          `| ${c.store} | ${c.sources} | ${c.scenario} | ${c.connections} | ${c.state === 'holds' ? 'active' : 'ended'} | ${f1(c.none.rps)} | ${f1(c.holds.rps)} | ${(c.ratio * 100).toFixed(0)} % (${c.roundsRatio.map((x) => `${(x * 100).toFixed(0)}`).join(', ')}) | ${(c.cpuRatio * 100).toFixed(0)} % | ${f1(c.none.p50)} → ${f1(c.holds.p50)} | ${f1(c.none.p99)} → ${f1(c.holds.p99)} | ${f2(c.none.cpuMsPerRequest)} → ${f2(c.holds.cpuMsPerRequest)} | ${f2(c.none.dbCpuMsPerRequest)} → ${f2(c.holds.dbCpuMsPerRequest)} | ${f1(c.none.perRequest?.Handler_read_next)} → ${f1(c.holds.perRequest?.Handler_read_next)} | ${c.none.errors + c.holds.errors} | ${c.ratio >= 0.9 ? 'met' : 'NOT met'} |`,
      ),
      '',
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      skus: { type: 'string' },
      locations: { type: 'string' },
      holds: { type: 'string' },
      stores: { type: 'string' },
      sources: { type: 'string' },
      parts: { type: 'string' },
      states: { type: 'string' },
      scenarios: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      seed: { type: 'string' },
      mysql: { type: 'string' },
      database: { type: 'string' },
      label: { type: 'string' },
      'extra-index': { type: 'string' },
      'first-reserve': { type: 'boolean' },
      profile: { type: 'string' },
      'no-record': { type: 'boolean' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').filter((x) => x !== ''));
  const r = await runReservationBench({
    skus: num(values.skus),
    locations: num(values.locations),
    holds: num(values.holds),
    stores: list(values.stores) as StoreKind[] | undefined,
    sources: list(values.sources) as SourcesMode[] | undefined,
    parts: list(values.parts) as Part[] | undefined,
    states: list(values.states) as HoldState[] | undefined,
    scenarios: list(values.scenarios) as ScenarioName[] | undefined,
    connections: list(values.connections)?.map(Number),
    duration: num(values.duration),
    warmup: num(values.warmup),
    rounds: num(values.rounds),
    seed: num(values.seed),
    mysqlUrl: values.mysql,
    database: values.database,
    label: values.label,
    extraIndex: list(values['extra-index']),
    firstReserve: values['first-reserve'],
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    record: values['no-record'] !== true,
    command: `npx tsx bench/reservations.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
  });
  process.stdout.write(`${r.markdown}\n`);
  const errors =
    [...r.reserveCells, ...r.hotCells].reduce((n, c) => n + c.errors, 0) + r.availabilityCells.reduce((n, c) => n + c.none.errors + c.holds.errors, 0);
  if (errors > 0) process.exitCode = 1;
}
