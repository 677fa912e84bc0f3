/**
 * A source that sends files: a 3PL's daily inventory file, as CSV (a header row, then one row
 * per record) or JSON lines (one object per line). The newest file matching `path` is the
 * source's snapshot, held in memory and answered from there:
 *
 * - Newest: by the date in the file name (`inventory-2026-11-25.csv`, `stock_20261125T0600.csv`),
 *   else by modification time; ties go to the later mtime, then the later name.
 * - asOf: the mapped `asOf` column when there is one (newest per (sku, location) when rows are
 *   summed), else the date in the file name (00:00 UTC for a date alone), else the file's mtime.
 * - A file that fails to parse (half-written, malformed, a non-numeric quantity, a missing
 *   column, no rows) never replaces the last good snapshot: the error names the file and line,
 *   the previous snapshot keeps serving and its records carry `snapshotFallback` until a newer
 *   good file arrives (or the bad one is rewritten correctly).
 * - The directory is looked at on read, at most every `checkIntervalMs`: a readdir and a stat
 *   per matching file. A file is parsed only when it is new or changed (name, mtime, size).
 * - A reload that takes longer than `timeoutMs` does not hold requests up when a snapshot is
 *   already there: they are answered from it while the reload finishes.
 */
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CsvSourceConfig } from '../config/index.js';
import { timestamp } from '../db/values.js';
import { MOVEMENT_KINDS, type Entity, type MovementKind, type MovementRecord, type RecordOf, type StockRecord } from '../domain/records.js';
import type { Connector, StatementMeter } from './connector.js';
import { PackedMovements, PackedStock } from './packed-records.js';

/** A file that was refused, and why: the message names the file and, where it applies, the line. */
export interface RejectedFile {
  source: string;
  file: string;
  /** 1-based line of the problem; null when it is about the whole file. */
  line: number | null;
  reason: string;
}

export interface FileSourceEvents {
  /** A newer file was refused; the previous snapshot (if any) keeps serving. Called once per file version. */
  rejected?(r: RejectedFile): void;
  /** A file became the snapshot. */
  loaded?(l: { source: string; file: string; rows: number; asOf: Date }): void;
}

/** What the connector serves right now, for operators and tests. */
export interface SnapshotState {
  file: string | null;
  rows: number;
  /** A newer file than the one served was refused. */
  fallback: boolean;
  rejected: RejectedFile[];
}

interface Candidate {
  file: string;
  name: string;
  mtimeMs: number;
  size: number;
  /** Date in the name, else mtime: what "newest" means. */
  key: number;
  nameDate: Date | null;
}

interface Snapshot {
  id: string;
  candidate: Candidate;
  stock: PackedStock;
  movements: PackedMovements;
  rows: number;
}

export class FileParseError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${reason}`);
    this.name = 'FileParseError';
  }
}

const idOf = (c: Candidate) => `${c.name}\u0000${c.mtimeMs}\u0000${c.size}`;
/** Newest first: the date in the name (else mtime), then mtime, then name. */
const newer = (a: Candidate, b: Candidate) => b.key - a.key || b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);

export function createCsvConnector(name: string, config: CsvSourceConfig, o: { events?: FileSourceEvents } = {}) {
  const dir = dirname(config.path);
  const pattern = globToRegExp(basename(config.path));
  const format = config.format ?? (/^\.(jsonl|ndjson)$/i.test(extname(config.path)) ? 'jsonl' : 'csv');
  const entities = new Set<Entity>(config.movements === undefined ? ['stock'] : ['stock', 'movements']);

  let snapshot: Snapshot | undefined;
  let fallback = false;
  const rejected = new Map<string, RejectedFile>();
  let checkedAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;

  async function candidates(): Promise<Candidate[]> {
    const names = (await readdir(dir)).filter((n) => pattern.test(n));
    const out: Candidate[] = [];
    for (const n of names) {
      const file = join(dir, n);
      const st = await stat(file).catch(() => undefined);
      if (st === undefined || !st.isFile()) continue;
      const nameDate = dateInName(n);
      out.push({ file, name: n, mtimeMs: st.mtimeMs, size: st.size, key: nameDate?.getTime() ?? st.mtimeMs, nameDate });
    }
    return out.sort(newer);
  }

  /** Looks for a newer file and loads it; a refused file is remembered so it is not parsed again unchanged. */
  async function check(): Promise<void> {
    const list = await candidates();
    let sawRejected = false;
    for (const c of list) {
      if (snapshot !== undefined && newer(c, snapshot.candidate) >= 0) break; // not newer than what is served
      const id = idOf(c);
      if (snapshot?.id === id) break;
      if (rejected.has(id)) {
        sawRejected = true;
        continue;
      }
      try {
        snapshot = await load(c);
        o.events?.loaded?.({ source: name, file: c.file, rows: snapshot.rows, asOf: c.nameDate ?? new Date(c.mtimeMs) });
        break;
      } catch (e) {
        const r: RejectedFile =
          e instanceof FileParseError
            ? { source: name, file: e.file, line: e.line, reason: e.reason }
            : { source: name, file: c.file, line: null, reason: (e as Error).message };
        rejected.set(id, r);
        sawRejected = true;
        o.events?.rejected?.(r);
      }
    }
    if (snapshot === undefined) {
      const last = [...rejected.values()].at(-1);
      throw new Error(
        list.length === 0
          ? `source "${name}": no file matches ${config.path}`
          : `source "${name}": no usable file matches ${config.path}${last ? ` (last refused: ${last.file}${last.line === null ? '' : `:${last.line}`}: ${last.reason})` : ''}`,
      );
    }
    // fallback while any file newer than the served one is a refused one
    fallback = sawRejected && list.some((c) => rejected.has(idOf(c)) && newer(c, (snapshot as Snapshot).candidate) < 0);
  }

  /** Waits for a due check; with a snapshot in hand, never longer than `timeoutMs`. */
  async function current(): Promise<Snapshot> {
    const now = Date.now();
    if (refreshing === undefined && now - checkedAt >= config.checkIntervalMs) {
      checkedAt = now;
      refreshing = check().finally(() => {
        refreshing = undefined;
      });
    }
    if (refreshing !== undefined) {
      const pending = refreshing;
      if (snapshot === undefined) await pending;
      else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pending.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, config.timeoutMs)))]);
        clearTimeout(timer);
      }
    }
    if (snapshot === undefined) throw new Error(`source "${name}": no snapshot loaded`);
    return snapshot;
  }

  async function load(c: Candidate): Promise<Snapshot> {
    const fileAsOf = c.nameDate ?? new Date(c.mtimeMs);
    const stock = new Map<string, Map<string, StockRecord>>();
    const movements = new Map<string, Map<string, MovementRecord>>();
    const cols = config.stock.columns;
    let rows = 0;
    const onRow = (get: (column: string) => unknown, line: number) => {
      rows++;
      const fail = (reason: string): never => {
        throw new FileParseError(c.file, line, reason);
      };
      const text = (col: string) => {
        const v = get(col);
        const s = v === undefined || v === null ? '' : String(v).trim();
        if (s === '') fail(`empty ${col}`);
        return s;
      };
      const whole = (col: string, optional: boolean) => {
        const v = get(col);
        if (optional && (v === undefined || v === null || String(v).trim() === '')) return 0;
        const n = typeof v === 'number' ? v : String(v ?? '').trim() === '' ? Number.NaN : Number(String(v).trim());
        if (!Number.isSafeInteger(n)) fail(`${col}: not a whole quantity: ${JSON.stringify(v ?? null)}`);
        return n;
      };
      const when = (col: string | undefined) => {
        if (col === undefined) return fileAsOf;
        const v = get(col);
        if (v === undefined || v === null || String(v).trim() === '') return fileAsOf;
        try {
          return timestamp(v);
        } catch {
          return fail(`${col}: not a timestamp: ${JSON.stringify(v)}`);
        }
      };
      const code = text(cols.sku);
      const location = text(cols.location);
      const onHand = whole(cols.onHand, false);
      const committed = cols.committed === undefined ? 0 : whole(cols.committed, true);
      const asOf = when(cols.asOf);
      let perLocation = stock.get(code);
      if (perLocation === undefined) stock.set(code, (perLocation = new Map()));
      const prev = perLocation.get(location);
      if (prev === undefined) perLocation.set(location, { code, location, onHand, committed, asOf });
      else perLocation.set(location, { code, location, onHand: prev.onHand + onHand, committed: prev.committed + committed, asOf: asOf > prev.asOf ? asOf : prev.asOf });

      for (const m of config.movements ?? []) {
        const quantity = whole(m.columns.quantity, true);
        if (quantity === 0) continue;
        const kind = m.kind ?? text(m.columns.kind as string);
        if (!(MOVEMENT_KINDS as readonly string[]).includes(kind)) fail(`unknown movement kind ${JSON.stringify(kind)} (known: ${MOVEMENT_KINDS.join(', ')})`);
        const mCode = text(m.columns.sku);
        const mLocation = text(m.columns.location);
        const mAsOf = when(m.columns.asOf);
        let byKey = movements.get(mCode);
        if (byKey === undefined) movements.set(mCode, (byKey = new Map()));
        const key = `${mLocation}\u0000${kind}`;
        const p = byKey.get(key);
        byKey.set(key, p === undefined ? { code: mCode, location: mLocation, kind: kind as MovementKind, quantity, asOf: mAsOf } : { ...p, quantity: p.quantity + quantity, asOf: mAsOf > p.asOf ? mAsOf : p.asOf });
      }
    };

    const required = [cols.sku, cols.location, cols.onHand, ...(config.movements ?? []).flatMap((m) => [m.columns.sku, m.columns.location, m.columns.quantity, ...(m.columns.kind ? [m.columns.kind] : [])])];
    if (format === 'csv') await readCsv(c.file, config.delimiter, required, onRow);
    else await readJsonLines(c.file, onRow);
    if (rows === 0) throw new FileParseError(c.file, null, 'no rows (an empty or half-written file?)');

    return { id: idOf(c), candidate: c, stock: new PackedStock(stock), movements: new PackedMovements(movements), rows };
  }

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter): Promise<RecordOf[E][]> {
    if (!entities.has(entity)) throw new Error(`source "${name}" maps no ${entity}`);
    if (codes.length === 0) return [];
    meter?.statement(name, entity);
    const s = await current();
    const out: RecordOf[E][] = [];
    const seen = new Set<string>();
    for (const code of codes) {
      if (seen.has(code)) continue;
      seen.add(code);
      if (entity === 'stock') s.stock.get(code, out as StockRecord[], fallback);
      else s.movements.get(code, out as MovementRecord[]);
    }
    return out;
  }

  return {
    name,
    kind: 'csv',
    entities,
    fetch,
    async listCodes(after: string | null, limit: number, meter?: StatementMeter): Promise<string[]> {
      meter?.statement(name, 'stock');
      const { codes } = (await current()).stock;
      let lo = 0;
      if (after !== null) {
        let hi = codes.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((codes[mid] as string) <= after) lo = mid + 1;
          else hi = mid;
        }
      }
      return codes.slice(lo, lo + limit);
    },
    /** Loads (or re-checks) the snapshot: fails when no matching file can be used. */
    async ping() {
      checkedAt = Number.NEGATIVE_INFINITY;
      await current();
    },
    /** What is served now: the file, whether a newer one was refused, and every refusal. */
    state(): SnapshotState {
      return { file: snapshot?.candidate.file ?? null, rows: snapshot?.rows ?? 0, fallback, rejected: [...rejected.values()] };
    },
    async close() {},
  } satisfies Connector & { state(): SnapshotState };
}

export type CsvConnector = ReturnType<typeof createCsvConnector>;

/** `inventory-*.csv` as an anchored RegExp: `*` any run of characters, `?` one; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

/**
 * The date (and time, if any) a file name carries, read as UTC: `2026-11-25`, `20261125`, with
 * an optional `T0600`, `T06:00`, `T060000`. Null when the name has no valid date.
 */
export function dateInName(fileName: string): Date | null {
  const re = /(?<![0-9])(\d{4})-?(\d{2})-?(\d{2})(?:[T_](\d{2})[:-]?(\d{2})(?:[:-]?(\d{2}))?)?(?![0-9])/g;
  for (const m of fileName.matchAll(re)) {
    const [y, mo, d, h = '00', mi = '00', s = '00'] = m.slice(1).map((v) => v ?? undefined) as string[];
    const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const back = new Date(t);
    if (back.getUTCFullYear() === Number(y) && back.getUTCMonth() === Number(mo) - 1 && back.getUTCDate() === Number(d) && Number(h) < 24 && Number(mi) < 60 && Number(s) < 60) {
      return back;
    }
  }
  return null;
}

/** Streams a CSV with a header row; `onRow` gets each record with its 1-based line number. */
async function readCsv(file: string, delimiter: string, required: readonly string[], onRow: (get: (c: string) => unknown, line: number) => void): Promise<void> {
  const parser = createReadStream(file).pipe(
    parse({
      bom: true,
      delimiter,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        const missing = [...new Set(required)].filter((c) => !names.includes(c));
        if (missing.length > 0) throw new FileParseError(file, 1, `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => JSON.stringify(m)).join(', ')} (header: ${names.join(delimiter)})`);
        return names;
      },
      skip_empty_lines: true,
      info: true,
    }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      onRow((c) => record[c], info.lines);
    }
  } catch (e) {
    if (e instanceof FileParseError) throw e;
    const err = e as Error & { code?: string; lines?: number };
    // csv-parse names the line of a torn row (too few fields, an unclosed quote)
    throw new FileParseError(file, err.lines ?? null, (err.message ?? String(e)).replace(/^Invalid (Record Length|Closing Quote|Opening Quote): /, '').split('\n')[0] ?? 'malformed CSV');
  }
}

/** Streams JSON lines: one object per non-empty line. */
async function readJsonLines(file: string, onRow: (get: (c: string) => unknown, line: number) => void): Promise<void> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new FileParseError(file, n, 'not a JSON object (a torn line?)');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FileParseError(file, n, 'not a JSON object');
    const o = value as Record<string, unknown>;
    onRow((c) => o[c], n);
  }
}
