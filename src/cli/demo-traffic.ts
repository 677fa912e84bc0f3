/**
 * `inventory-graph demo traffic`: a stream of stock changes into the demo while it serves, so
 * figures move in the explorer.
 *
 * - The WMS (the config's `wms` source, a SQLite file): picks (a bin's on-hand down by one, its
 *   picked-not-invoiced quantity up by one when the config maps one on the same table) and
 *   receipts (on-hand up by one), each in its own short IMMEDIATE transaction that also bumps the
 *   change column (the poll feed's `changedSince`, else the stock mapping's `asOf`), written in
 *   the format the column already holds. The gateway reads the file meanwhile, so it is switched
 *   to WAL (and stays so): readers and the writer never wait for each other. A replaced file (the
 *   demo regenerated) is opened again.
 * - The 3PL (the config's `tpl` file source): picks of codes and locations of its newest file,
 *   spelt as the file spells them, published to RabbitMQ as `delta` changes (src/domain/changes.ts)
 *   on a durable queue, persistent, each confirmed by the broker (ConfirmChannel) before the next.
 *   When the broker cannot be reached, or is lost, that is said once and the WMS alone goes on.
 *
 * Changes come at `--rate` a second on a fixed schedule, for `--duration` seconds of the clock:
 * a quarter 3PL picks while the broker is there, half WMS picks (those quarters too without it),
 * a quarter WMS receipts; `--seed` makes the choices repeat (the message ids are new each run).
 * SIGINT or SIGTERM ends it cleanly: the change under way finishes, the channel, the connection
 * and the database are closed, exit 0.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse';
import { loadConfig, type Config, type CsvSourceConfig } from '../config/index.js';
import { dateInName, globToRegExp } from '../sources/csv.js';
import { UsageError, wholeNumber, type ParsedArgs } from './args.js';
import { DEMO_AMQP_QUEUE, DEMO_AMQP_URL } from './commands.js';

const NAME = 'inventory-graph demo traffic';
/** Up to this rate, one line per change; beyond it, one line a second. */
const LINE_PER_CHANGE_UP_TO = 10;
/** How long a publish may wait for the broker's confirm, and the whole shutdown for the broker, in ms. */
const BROKER_WAIT_MS = 5000;
/** Random rows looked at to find a bin with stock to pick from, before a receipt is written instead. */
const PICK_TRIES = 20;

export interface TrafficOptions {
  configPath: string;
  /** Changes a second. */
  rate: number;
  /** Seconds; undefined: until SIGINT or SIGTERM. */
  durationSeconds?: number;
  seed: number;
  /** Overrides the config's amqp feed URL. */
  amqpUrl?: string;
  /** Overrides the config's amqp feed queue. */
  amqpQueue?: string;
}

/** The command as main.ts runs it: flags read and checked before anything is opened. */
export async function demoTrafficCommand({ values }: ParsedArgs): Promise<number> {
  const rate = wholeNumber(values.rate, '--rate', 1, 1000) ?? 5;
  const durationSeconds = wholeNumber(values.duration, '--duration', 1, 31_536_000);
  let seed = Math.floor(Math.random() * 2 ** 31);
  if (typeof values.seed === 'string') {
    if (!/^-?\d+$/.test(values.seed) || Math.abs(Number(values.seed)) > 2 ** 31) throw new UsageError(`--seed must be a 32-bit integer, got "${values.seed}"`);
    seed = Number(values.seed);
  }
  const amqpUrl = typeof values.amqp === 'string' ? values.amqp : undefined;
  if (amqpUrl !== undefined && !isAmqpUrl(amqpUrl)) throw new UsageError(`--amqp must be an amqp:// or amqps:// URL, got "${amqpUrl}"`);
  const amqpQueue = typeof values['amqp-queue'] === 'string' ? values['amqp-queue'] : undefined;
  if (amqpQueue !== undefined && (amqpQueue === '' || amqpQueue.length > 255 || amqpQueue.startsWith('amq.'))) {
    throw new UsageError(`--amqp-queue must be 1 to 255 characters, not starting with "amq.", got "${amqpQueue}"`);
  }
  const configPath = resolve(typeof values.config === 'string' ? values.config : join('data', 'demo', 'inventory-graph.yaml'));
  if (!existsSync(configPath)) {
    console.error(`${NAME}: no demo at ${configPath}: run \`inventory-graph demo\` (or \`npm start\`) first, or pass --config`);
    return 1;
  }
  return runTraffic({
    configPath,
    rate,
    seed,
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    ...(amqpUrl !== undefined ? { amqpUrl } : {}),
    ...(amqpQueue !== undefined ? { amqpQueue } : {}),
  });
}

function isAmqpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'amqp:' || u.protocol === 'amqps:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Runs the traffic until the duration is over or a signal comes; 0, or 1 when the demo cannot be written. */
export async function runTraffic(o: TrafficOptions): Promise<number> {
  const config = loadConfig(o.configPath);
  const target = wmsTarget(config);
  if (typeof target === 'string') {
    console.error(`${NAME}: ${target}`);
    return 1;
  }
  let wms: Wms;
  try {
    wms = new Wms(target);
  } catch (e) {
    console.error(`${NAME}: cannot open the WMS database ${target.file}: ${(e as Error).message}`);
    return 1;
  }
  const stop = stopOnSignals();
  let broker: Broker | undefined;
  try {
    const tpl = await tplLevels(config);
    const feed = amqpFeed(config);
    const url = o.amqpUrl ?? feed?.url ?? process.env.INVENTORY_GRAPH_DEMO_AMQP_URL ?? DEMO_AMQP_URL;
    const queue = o.amqpQueue ?? feed?.queue ?? DEMO_AMQP_QUEUE;
    const say = (m: string) => console.error(`${NAME}: ${m}`);

    console.log(
      `Demo traffic: ${o.rate} change${o.rate === 1 ? '' : 's'} a second (seed ${o.seed}), ${o.durationSeconds === undefined ? 'until Ctrl-C' : `for ${o.durationSeconds} s`}`,
    );
    console.log(`  WMS  ${target.file}, table ${target.table}: picks and receipts, ${target.changed} bumped`);
    if (typeof tpl === 'string') {
      say(`no 3PL picks: ${tpl}`);
    } else {
      broker = await Broker.open(url, queue, say);
      if (broker !== undefined)
        console.log(`  3PL  picks of the ${tpl.levels.length} codes in stock in ${basename(tpl.file)}, to queue ${queue} at ${withoutPassword(url)}`);
    }

    const rng = mulberry32(o.seed);
    const counts = { wmsPicks: 0, wmsReceipts: 0, tplPicks: 0 };
    const lines = o.rate <= LINE_PER_CHANGE_UP_TO;
    const period = 1000 / o.rate;
    const started = performance.now();
    const end = o.durationSeconds === undefined ? Number.POSITIVE_INFINITY : started + o.durationSeconds * 1000;
    let second = { at: started, wmsPicks: 0, wmsReceipts: 0, tplPicks: 0 };
    for (let k = 0; !stop.requested; k++) {
      const due = started + k * period;
      if (due >= end || performance.now() >= end) break;
      await stop.sleep(due - performance.now());
      if (stop.requested) break;
      wms.reopenIfReplaced(say);
      const roll = rng();
      const useTpl = broker?.usable === true && typeof tpl !== 'string' && roll < 0.25;
      let line: string | undefined;
      if (useTpl) {
        const level = pickLevel(tpl.levels, rng);
        if (level !== undefined && (await broker?.publishPick(level))) {
          level.onHand--;
          counts.tplPicks++;
          second.tplPicks++;
          line = `3pl  pick     ${level.code} at ${level.location}  -1 published`;
        }
      } else {
        const change = wms.change(roll < 0.75 ? 'pick' : 'receipt', rng, say);
        if (change !== undefined) {
          const key = change.kind === 'pick' ? 'wmsPicks' : 'wmsReceipts';
          counts[key]++;
          second[key]++;
          line = `wms  ${change.kind.padEnd(8)} ${change.code} at ${change.location}  ${change.before} -> ${change.after}`;
        }
      }
      if (lines && line !== undefined) console.log(`${clock()}  ${line}`);
      if (!lines && performance.now() - second.at >= 1000) {
        console.log(`${clock()}  ${tally(second)}`);
        second = { at: performance.now(), wmsPicks: 0, wmsReceipts: 0, tplPicks: 0 };
      }
    }
    if (Number.isFinite(end)) await stop.sleep(end - performance.now()); // the last change is due a period before the end
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`Stopped after ${seconds} s: ${counts.wmsPicks + counts.wmsReceipts + counts.tplPicks} changes; ${tally(counts)}`);
    return 0;
  } finally {
    await broker?.close();
    wms.close();
    stop.dispose();
  }
}

const clock = () => new Date().toISOString().slice(11, 23);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const tally = (c: { wmsPicks: number; wmsReceipts: number; tplPicks: number }) =>
  `wms ${plural(c.wmsPicks, 'pick')}, ${plural(c.wmsReceipts, 'receipt')}; 3pl ${plural(c.tplPicks, 'pick')} published`;

/** A URL fit to print: the password, if any, replaced by `***`. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.toString().replace(/\/$/, '');
}

/** mulberry32: the same choices for the same seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** SIGINT and SIGTERM ask the loop to stop (again and again: npm forwards a terminal's Ctrl-C a second time); `sleep` wakes at once then. */
function stopOnSignals() {
  let requested = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    requested = true;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get requested() {
      return requested;
    },
    sleep(ms: number): Promise<void> {
      if (requested || ms <= 0) return Promise.resolve();
      return new Promise((done) => {
        const timer = setTimeout(() => ((wake = undefined), done()), ms);
        wake = () => (clearTimeout(timer), (wake = undefined), done());
      });
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The WMS

/** Where and how the WMS is written, from the config's `wms` source. */
interface WmsTarget {
  file: string;
  table: string;
  sku: string;
  location: string;
  onHand: string;
  /** The change column. */
  changed: string;
  /** The picked-not-invoiced quantity on the same table, when the config maps one. */
  picked?: string;
}

function wmsTarget(config: Config): WmsTarget | string {
  const s = config.sources.wms;
  if (s === undefined || s.kind !== 'sql' || s.client !== 'better-sqlite3') {
    return 'the config has no `wms` source on a SQLite file (demo traffic writes the SQLite demo, not one in MariaDB)';
  }
  const stock = s.stock;
  if (stock?.table === undefined || stock.columns === undefined) return '`sources.wms.stock` maps no table to write to';
  const poll = s.sync.feeds.find((f) => f.kind === 'poll');
  const changed = poll?.changedSince ?? stock.columns.asOf;
  if (changed === undefined) return '`sources.wms` has no change column to bump (a poll feed, or `stock.columns.asOf`)';
  const picked = s.movements?.find((m) => m.kind === 'pickedNotInvoiced' && m.table === stock.table)?.columns?.quantity;
  return {
    file: s.connection,
    table: stock.table,
    sku: stock.columns.sku,
    location: stock.columns.location,
    onHand: stock.columns.onHand,
    changed,
    ...(picked !== undefined ? { picked } : {}),
  };
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

interface WmsChange {
  kind: 'pick' | 'receipt';
  code: string;
  location: string;
  /** The location's total on hand in the WMS (its bins summed) before and after. */
  before: number;
  after: number;
}

interface BinRow {
  code: string;
  location: string;
  onHand: number;
}

/** The WMS database, open for writing; opened again when the file is replaced. */
class Wms {
  private db!: Database.Database;
  private ino = 0;
  private maxRow = 0;
  private stamp: (now: number) => string | number = isoSeconds;
  private checkedAt = 0;
  private statements!: {
    maxRow: Database.Statement<[], { m: number | null }>;
    row: Database.Statement<[number], BinRow>;
    pick: Database.Statement<[string | number, number]>;
    receive: Database.Statement<[string | number, number]>;
    total: Database.Statement<[string, string], { total: number | null }>;
  };
  /** Why the last change could not be written, said once until a change succeeds. */
  private failing: string | undefined;

  constructor(private readonly t: WmsTarget) {
    this.open();
  }

  private open(): void {
    const t = this.t;
    const db = new Database(t.file, { fileMustExist: true });
    try {
      // WAL: the gateway's reads never wait for a change, nor a change for them (a rollback journal
      // locks readers out of the file for every commit, and starves them at a few dozen commits a
      // second); it stays so, as the gateway expects of a source its system writes. NORMAL: a
      // commit is not synced (a crash may lose the last changes, never corrupt the file).
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const table = ident(t.table);
      const maxRow = db.prepare<[], { m: number | null }>(`select max(rowid) as m from ${table}`);
      this.maxRow = maxRow.get()?.m ?? 0;
      const sample = db.prepare(`select ${ident(t.changed)} as v from ${table} where ${ident(t.changed)} is not null limit 1`).get() as
        { v: unknown } | undefined;
      this.stamp = stampLike(sample?.v);
      const set = (sign: '+' | '-') =>
        `${ident(t.onHand)} = ${ident(t.onHand)} ${sign} 1${sign === '-' && t.picked !== undefined ? `, ${ident(t.picked)} = coalesce(${ident(t.picked)}, 0) + 1` : ''}, ${ident(t.changed)} = ?`;
      this.statements = {
        maxRow,
        row: db.prepare<[number], BinRow>(
          `select ${ident(t.sku)} as code, ${ident(t.location)} as location, ${ident(t.onHand)} as onHand from ${table} where rowid = ?`,
        ),
        pick: db.prepare<[string | number, number]>(`update ${table} set ${set('-')} where rowid = ? and ${ident(t.onHand)} > 0`),
        receive: db.prepare<[string | number, number]>(`update ${table} set ${set('+')} where rowid = ?`),
        total: db.prepare<[string, string], { total: number | null }>(
          `select sum(${ident(t.onHand)}) as total from ${table} where ${ident(t.sku)} = ? and ${ident(t.location)} = ?`,
        ),
      };
      this.ino = statSync(t.file).ino;
      this.db = db;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** At most once a second: when the file at the path is another (the demo regenerated), that one is opened; else its rows are counted again. */
  reopenIfReplaced(say: (m: string) => void): void {
    if (Date.now() - this.checkedAt < 1000) return;
    this.checkedAt = Date.now();
    let ino: number;
    try {
      ino = statSync(this.t.file).ino;
    } catch {
      return; // being regenerated: the old file is written meanwhile, the next look finds the new one
    }
    if (ino === this.ino) {
      // rows may have come since (a file opened while the demo was being written)
      this.maxRow = this.statements.maxRow.get()?.m ?? 0;
      return;
    }
    const old = this.db;
    try {
      this.open();
      old.close();
      say(`${this.t.file} was replaced (the demo regenerated): writing the new one`);
    } catch {
      // not ready yet: the next look tries again
    }
  }

  /** One pick or receipt on a random row, in its own transaction; a pick finds no stock after a few tries: a receipt. */
  change(kind: 'pick' | 'receipt', rng: () => number, say: (m: string) => void): WmsChange | undefined {
    if (this.maxRow === 0) return undefined;
    const s = this.statements;
    try {
      const result = this.db
        .transaction((): WmsChange | undefined => {
          let row: (BinRow & { id: number }) | undefined;
          let made = kind;
          for (let k = 0; k < PICK_TRIES && row === undefined; k++) {
            const id = 1 + Math.floor(rng() * this.maxRow);
            const r = s.row.get(id);
            if (r !== undefined && (kind === 'receipt' || Number(r.onHand) > 0)) row = { ...r, id };
          }
          if (row === undefined) {
            if (kind === 'receipt') return undefined;
            made = 'receipt';
            const id = 1 + Math.floor(rng() * this.maxRow);
            const r = s.row.get(id);
            if (r === undefined) return undefined;
            row = { ...r, id };
          }
          const before = Number(s.total.get(row.code, row.location)?.total ?? 0);
          const stamp = this.stamp(Date.now());
          const changes = made === 'pick' ? s.pick.run(stamp, row.id).changes : s.receive.run(stamp, row.id).changes;
          if (changes !== 1) return undefined;
          return { kind: made, code: String(row.code), location: String(row.location), before, after: before + (made === 'pick' ? -1 : 1) };
        })
        .immediate();
      this.failing = undefined;
      return result;
    } catch (e) {
      const why = (e as Error).message;
      if (this.failing !== why) say(`a WMS change could not be written (${why}); trying on`);
      this.failing = why;
      return undefined;
    }
  }

  close(): void {
    this.db.close();
  }
}

const isoSeconds = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/**
 * Writes a change time the way the column holds them already, so that comparing values (the
 * poll feed's `where updated_at > ?`) keeps working: epoch seconds or milliseconds, numbers or
 * digits; `YYYY-MM-DD HH:MM:SS`; else ISO 8601 to the second with Z, as the demo writes.
 */
function stampLike(sample: unknown): (ms: number) => string | number {
  const epoch =
    typeof sample === 'number' || typeof sample === 'bigint' ? Number(sample) : typeof sample === 'string' && /^\d+$/.test(sample) ? Number(sample) : undefined;
  if (epoch !== undefined) {
    const toValue = epoch < 1e11 ? (ms: number) => Math.floor(ms / 1000) : (ms: number) => ms;
    return typeof sample === 'string' ? (ms) => String(toValue(ms)) : toValue;
  }
  if (typeof sample === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(sample)) return (ms) => isoSeconds(ms).slice(0, 19).replace('T', ' ');
  return isoSeconds;
}

// ---------------------------------------------------------------------------------------------
// The 3PL

interface TplLevel {
  code: string;
  location: string;
  /** In its file, less the picks published by this run. */
  onHand: number;
}

/** The codes of the 3PL's newest file with stock on hand, or why there are none to pick. */
async function tplLevels(config: Config): Promise<{ file: string; levels: TplLevel[] } | string> {
  const s = config.sources.tpl;
  if (s === undefined || s.kind !== 'csv') return 'the config has no `tpl` file source';
  const file = await newestFile(s.path);
  if (file === undefined) return `no file matches ${s.path}`;
  const c = s.stock.columns;
  if (c === undefined) return 'the `tpl` source is a `json` file (mapped by fields, not columns)';
  const sums = new Map<string, TplLevel>();
  const add = (row: Readonly<Record<string, unknown>>) => {
    const code = row[c.sku];
    const location = row[c.location];
    const onHand = Number(row[c.onHand]);
    if (typeof code !== 'string' || code === '' || typeof location !== 'string' || location === '' || !Number.isFinite(onHand)) return;
    const key = `${code}\u0000${location}`;
    const level = sums.get(key) ?? { code, location, onHand: 0 };
    level.onHand += onHand;
    sums.set(key, level);
  };
  try {
    const jsonl = s.format === 'jsonl' || (s.format === undefined && ['.jsonl', '.ndjson'].includes(extname(file).toLowerCase()));
    if (jsonl) {
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
        if (line.trim() !== '') add(JSON.parse(line) as Record<string, unknown>);
      }
    } else {
      const parser = createReadStream(file).pipe(
        parse({ bom: true, delimiter: s.delimiter, skip_empty_lines: true, columns: (h: string[]) => h.map((x) => x.trim()) }),
      );
      for await (const row of parser) add(row as Record<string, unknown>);
    }
  } catch (e) {
    return `${basename(file)} cannot be read: ${(e as Error).message}`;
  }
  const levels = [...sums.values()].filter((l) => l.onHand > 0);
  return levels.length === 0 ? `${basename(file)} has no stock on hand` : { file, levels };
}

/** The newest file matching a `path` pattern, as the file source judges it: the date in the name, else the mtime. */
async function newestFile(path: string): Promise<string | undefined> {
  const dir = dirname(path);
  const pattern = globToRegExp(basename(path));
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => pattern.test(n));
  } catch {
    return undefined;
  }
  const files = await Promise.all(
    names.map(async (name) => {
      const st = await stat(join(dir, name));
      return { name, mtimeMs: st.mtimeMs, key: dateInName(name)?.getTime() ?? st.mtimeMs, isFile: st.isFile() };
    }),
  );
  const newest = files.filter((f) => f.isFile).sort((a, b) => b.key - a.key || b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : -1))[0];
  return newest === undefined ? undefined : join(dir, newest.name);
}

/** A random level with stock left, if a few tries find one. */
function pickLevel(levels: TplLevel[], rng: () => number): TplLevel | undefined {
  for (let k = 0; k < PICK_TRIES; k++) {
    const level = levels[Math.floor(rng() * levels.length)];
    if (level !== undefined && level.onHand > 0) return level;
  }
  return undefined;
}

/** The `tpl` source's amqp feed, when the config has one. */
function amqpFeed(config: Config): { url: string; queue: string } | undefined {
  const s: CsvSourceConfig | undefined = config.sources.tpl?.kind === 'csv' ? config.sources.tpl : undefined;
  const feed = s?.sync.feeds.find((f) => f.kind === 'amqp');
  return feed?.kind === 'amqp' ? { url: feed.url, queue: feed.queue } : undefined;
}

/** The RabbitMQ side: one connection, one confirm channel, the queue declared durable if missing. */
class Broker {
  private closing = false;
  private lost: string | undefined;
  private readonly run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  private seq = 0;

  private constructor(
    private readonly conn: ChannelModel,
    private readonly channel: ConfirmChannel,
    private readonly queue: string,
    private readonly url: string,
    private readonly say: (m: string) => void,
  ) {
    const gone = (why: string) => {
      if (this.closing || this.lost !== undefined) return;
      this.lost = why;
      say(`RabbitMQ at ${withoutPassword(url)} was lost (${why}): the WMS alone gets changes from now on`);
    };
    conn.on('error', (e: Error) => gone(e.message));
    conn.on('close', (e?: Error) => gone(e?.message ?? 'connection closed'));
    channel.on('error', (e: Error) => gone(e.message));
    channel.on('close', () => gone('channel closed'));
  }

  /** Connected, with the queue there; undefined (said once) when the broker cannot be reached. */
  static async open(url: string, queue: string, say: (m: string) => void): Promise<Broker | undefined> {
    let conn: ChannelModel | undefined;
    try {
      conn = await connect(url, { timeout: BROKER_WAIT_MS });
      conn.on('error', () => {}); // until the Broker listens: 'close' follows, and says it
      // declared only when missing: a queue the gateway's feed declared (with its own arguments) is used as it is
      const probe = await conn.createChannel();
      probe.on('error', () => {});
      const exists = await probe.checkQueue(queue).then(
        () => true,
        () => false, // 404: the broker closes the probe channel
      );
      if (exists) await probe.close();
      const channel = await conn.createConfirmChannel();
      if (!exists) await channel.assertQueue(queue, { durable: true });
      return new Broker(conn, channel, queue, url, say);
    } catch (e) {
      say(`RabbitMQ is unreachable at ${withoutPassword(url)} (${describe(e)}): the WMS alone gets changes`);
      await conn?.close().catch(() => {});
      return undefined;
    }
  }

  get usable(): boolean {
    return this.lost === undefined && !this.closing;
  }

  /** Publishes one pick and waits for the broker's confirm; false (and the broker dropped, said once) when it does not come. */
  async publishPick(level: TplLevel): Promise<boolean> {
    const id = `demo-3pl-${this.run}-${++this.seq}`;
    const body = { id, op: 'delta', code: level.code, location: level.location, onHandDelta: -1, eventTime: new Date().toISOString() };
    try {
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no confirm within ${BROKER_WAIT_MS} ms`)), BROKER_WAIT_MS);
        this.channel.sendToQueue(
          this.queue,
          Buffer.from(JSON.stringify(body)),
          { persistent: true, contentType: 'application/json', messageId: id, timestamp: Math.floor(Date.now() / 1000) },
          (err: unknown) => (
            clearTimeout(timer),
            err === null || err === undefined ? done() : fail(err instanceof Error ? err : new Error('nacked by the broker'))
          ),
        );
      });
      return true;
    } catch (e) {
      if (this.lost === undefined) {
        this.lost = describe(e);
        this.say(`RabbitMQ at ${withoutPassword(this.url)} did not take a pick (${this.lost}): the WMS alone gets changes from now on`);
      }
      return false;
    }
  }

  /** Closes the channel and the connection, waiting at most BROKER_WAIT_MS for the broker. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = (async () => {
      await this.channel.close().catch(() => {});
      await this.conn.close().catch(() => {});
    })();
    await Promise.race([closed, new Promise((done) => setTimeout(done, BROKER_WAIT_MS).unref())]);
  }
}

function describe(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return describe(e.errors[0]);
  const err = e as { code?: unknown; message?: unknown };
  const message = typeof err?.message === 'string' && err.message !== '' ? err.message : String(e);
  return typeof err?.code === 'string' && !message.includes(err.code) ? `${err.code}: ${message}` : message;
}
