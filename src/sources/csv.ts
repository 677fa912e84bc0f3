/**
 * A source that sends files: a 3PL's daily inventory file, as CSV (a header row, then one row
 * per record) or JSON lines (one object per line). The newest file matching `path` is the
 * source's snapshot, held in memory and answered from there:
 *
 * - Newest: by the date in the file name (`inventory-2026-11-25.csv`, `stock_20261125T0600.csv`),
 *   else by modification time; ties go to the later mtime, then the later name.
 * - asOf: the mapped `asOf` column when there is one (newest per (sku, location) when rows are
 *   summed), else the date in the file name (00:00 for a date alone), else the file's mtime. A
 *   value or name without an offset is wall-clock time in the source's `timezone` (UTC by default).
 * - A file that fails to parse (half-written, malformed, a non-numeric quantity, a missing
 *   column, no rows) never replaces the last good snapshot: the error names the file and line,
 *   the previous snapshot keeps serving and its records carry `snapshotFallback` until a newer
 *   good file arrives (or the bad one is rewritten correctly).
 * - The directory is looked at on read, at most every `checkIntervalMs`: a readdir and a stat
 *   per matching file. A file is parsed only when it is new or changed (name, mtime, size).
 * - A directory that disappears, or a pattern that no longer matches any file, is told at once
 *   (`missing`, and `problem()` for the source's health) while the last snapshot keeps serving
 *   as it would, and again when files are back (`found`).
 * - History (`keepMissingDays`): an item (sku, location) missing from the newest file keeps its
 *   row from the newest older file that has it, if that file is at most `keepMissingDays` older,
 *   with that file's asOf and `carriedFrom` naming it, instead of vanishing. When a file loads,
 *   the rows of the snapshot it replaces that it lacks are carried into it (packed after its own
 *   rows: a normal daily file carries a few); at start, and when several files arrived at once,
 *   the files of the window are loaded oldest first, as if each had arrived in turn, so a
 *   restart answers as the process that saw them arrive did. Movements are never carried.
 * - A reload never holds a read up: while a newer file loads, reads are answered from the
 *   current snapshot, and the new one replaces it only once it is complete. Only the very first
 *   load is waited for. A file is parsed as it streams in, each row summed straight into the
 *   snapshot's packed columns (packed-records.ts).
 */
import { parse, type OptionsWithColumns } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CsvSourceConfig } from '../config/index.js';
import { fileFormat } from '../config/schema.js';
import { timestamp, wallClockToUtc } from '../db/values.js';
import { MOVEMENT_KINDS, type Entity, type MovementKind, type MovementRecord, type RecordOf, type StockRecord } from '../domain/records.js';
import type { Connector, EntityProbe, StatementMeter } from './connector.js';
import { compileJsonMapping, jsonRows, type CompiledJsonMapping } from './json-records.js';
import { SourceError } from './resilience.js';
import { MovementRows, StockRows, type Origin, type PackedMovements, type PackedStock } from './packed-records.js';

/** The limits on a file (config keys of a csv source). */
export type FileLimit = 'maxFileBytes' | 'maxRows';

/** A file that was refused, and why: the message names the file and, where it applies, the line. */
export interface RejectedFile {
  source: string;
  file: string;
  /** 1-based line of the problem; null when it is about the whole file. */
  line: number | null;
  /** The limit the file is over, when that is why it was refused; null when it is malformed. */
  limit: FileLimit | null;
  reason: string;
}

export interface FileSourceEvents {
  /** A newer file was refused; the previous snapshot (if any) keeps serving. Called once per file version. */
  rejected?(r: RejectedFile): void;
  /** A file became the snapshot; `carried`: rows (sku × location) it lacks, carried from older files. */
  loaded?(l: { source: string; file: string; rows: number; carried: number; asOf: Date }): void;
  /**
   * No file can be found any more: the directory is gone (or unreadable), or nothing matches
   * `path`. `serving` is the last snapshot's file, which keeps serving (null: none). Called once,
   * until files are found again.
   */
  missing?(m: { source: string; path: string; reason: string; serving: string | null }): void;
  /** Files match `path` again after `missing`. */
  found?(f: { source: string; path: string }): void;
}

/** What the connector serves right now, for operators and tests. */
export interface SnapshotState {
  file: string | null;
  rows: number;
  /** Rows (sku × location) the file served lacks, carried from older files (`keepMissingDays`). */
  carried: number;
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
  /** Stock rows carried from older files. */
  carried: number;
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

/** A file over one of the source's limits: refused as soon as that is known, the rest left unread. */
class FileLimitError extends FileParseError {
  constructor(
    file: string,
    readonly limit: FileLimit,
    reason: string,
  ) {
    super(file, null, reason);
    this.name = 'FileLimitError';
  }
}

const DAY_MS = 86_400_000;
const originOf = (c: Candidate): Origin => ({ file: c.name, key: c.key });
const idOf = (c: Candidate) => `${c.name}\u0000${c.mtimeMs}\u0000${c.size}`;
/** Newest first: the date in the name (else mtime), then mtime, then name. */
const newer = (a: Candidate, b: Candidate) => b.key - a.key || b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);

/** `movementKinds`: the kinds a `kind` column may hold (the built-in ones and the config's `movementKinds`); the built-in ones when unset. */
export function createCsvConnector(name: string, config: CsvSourceConfig, o: { events?: FileSourceEvents; movementKinds?: readonly string[] } = {}) {
  const kinds = o.movementKinds ?? MOVEMENT_KINDS;
  const dir = dirname(config.path);
  const glob = basename(config.path);
  const pattern = globToRegExp(glob);
  const format = fileFormat(config.path, config.format);
  // a `json` file's rows come keyed by canonical name (json-records.ts), so its columns are those names
  const json =
    format === 'json' ? compileJsonMapping({ records: config.stock.records ?? '$', each: config.stock.each, fields: config.stock.fields ?? {} }) : null;
  const entities = new Set<Entity>(config.movements === undefined ? ['stock'] : ['stock', 'movements']);

  let snapshot: Snapshot | undefined;
  /** The newest refused file that is newer than the one served: the snapshot is a fallback while there is one. */
  let refusedNewer: RejectedFile | undefined;
  /** Why no file can be found now: with paths for the log and the anomaly, without for health; null while files are there. */
  let missing: { reason: string; brief: string } | null = null;
  const rejected = new Map<string, RejectedFile>();
  let checkedAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | undefined;

  /** The files matching `path`, newest first; none when the directory cannot be read. */
  async function candidates(): Promise<Candidate[]> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => pattern.test(n));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      const what = code === 'ENOENT' ? 'is missing' : `cannot be read (${code})`;
      noteMissing({ reason: `directory ${dir} ${what}`, brief: `the directory of ${glob} ${what}` });
      return [];
    }
    const out: Candidate[] = [];
    for (const n of names) {
      const file = join(dir, n);
      const st = await stat(file).catch(() => undefined);
      if (st === undefined || !st.isFile()) continue;
      const nameDate = dateInName(n, config.timezone);
      out.push({ file, name: n, mtimeMs: st.mtimeMs, size: st.size, key: nameDate?.getTime() ?? st.mtimeMs, nameDate });
    }
    noteMissing(out.length === 0 ? { reason: `no file matches ${config.path}`, brief: `no file matches ${glob}` } : null);
    return out.sort(newer);
  }

  /** Tells when files go missing and when they are back, once each way. */
  function noteMissing(now: typeof missing): void {
    const was = missing;
    missing = now;
    if (was === null && now !== null) o.events?.missing?.({ source: name, path: config.path, reason: now.reason, serving: snapshot?.candidate.file ?? null });
    else if (was !== null && now === null) o.events?.found?.({ source: name, path: config.path });
  }

  /** Remembers a refused file, so it is not parsed again unchanged, and tells of it. */
  function refuse(c: Candidate, e: unknown): void {
    const r: RejectedFile =
      e instanceof FileParseError
        ? { source: name, file: e.file, line: e.line, limit: e instanceof FileLimitError ? e.limit : null, reason: e.reason }
        : { source: name, file: c.file, line: null, limit: null, reason: (e as Error).message };
    rejected.set(idOf(c), r);
    o.events?.rejected?.(r);
  }

  /**
   * Looks for a newer file and loads it. With history, the files between the one served (at
   * start: the oldest of the window) and the newest are loaded first, oldest first, each
   * carrying into the next; a refused one is passed over, as it would have been on arrival.
   */
  async function check(): Promise<void> {
    const list = await candidates();
    const windowMs = config.keepMissingDays * DAY_MS;
    for (;;) {
      const served = snapshot;
      const fresh = list.filter((c) => !rejected.has(idOf(c)) && (served === undefined || newer(c, served.candidate) < 0));
      const target = fresh[0];
      if (target === undefined) break;
      const between =
        windowMs === 0 ? [] : fresh.filter((c) => c !== target && newer(c, target) > 0 && c.key >= target.key - windowMs && c.name !== target.name).reverse();
      let base = served;
      for (const c of between) {
        try {
          base = await load(c, base);
        } catch (e) {
          refuse(c, e);
        }
      }
      try {
        snapshot = await load(target, base);
      } catch (e) {
        refuse(target, e);
        // the files between were loaded over the one served, as they would have been on arrival;
        // at start (nothing served) the next newest's window is read from its own beginning
        if (served === undefined || base === served) continue;
        snapshot = base;
      }
      const s = snapshot as Snapshot;
      o.events?.loaded?.({
        source: name,
        file: s.candidate.file,
        rows: s.rows,
        carried: s.carried,
        asOf: s.candidate.nameDate ?? new Date(s.candidate.mtimeMs),
      });
      break;
    }
    if (snapshot === undefined) {
      const last = [...rejected.values()].at(-1);
      throw new Error(
        list.length === 0
          ? `source "${name}": ${missing?.reason ?? `no file matches ${config.path}`}`
          : `source "${name}": no usable file matches ${config.path}${last ? ` (last refused: ${last.file}${last.line === null ? '' : `:${last.line}`}: ${last.reason})` : ''}`,
      );
    }
    const served = snapshot.candidate;
    const refused = list.find((c) => newer(c, served) < 0 && rejected.has(idOf(c)));
    refusedNewer = refused === undefined ? undefined : rejected.get(idOf(refused));
  }

  /**
   * The snapshot to answer from. A due check starts, but with a snapshot in hand nobody waits
   * for it: the snapshot is swapped when a newer file is completely loaded. Only the very first
   * load is waited for.
   */
  async function current(): Promise<Snapshot> {
    const now = Date.now();
    if (refreshing === undefined && now - checkedAt >= config.checkIntervalMs) {
      checkedAt = now;
      refreshing = check().finally(() => {
        refreshing = undefined;
      });
      // with a snapshot in hand nobody awaits it; without one, the caller below does
      refreshing.catch(() => {});
    }
    if (snapshot === undefined) await refreshing;
    if (snapshot === undefined) throw new Error(`source "${name}": no snapshot loaded`);
    return snapshot;
  }

  /**
   * Parses one file straight into packed rows: no record object outlives the chunk it was read
   * from. With `before` (the snapshot it follows) and history, the stock rows of `before` that
   * the file lacks are carried in, those from files still within `keepMissingDays` of this one
   * (a file of the same name is a rewrite of it: none of its rows are carried).
   */
  async function load(c: Candidate, before?: Snapshot): Promise<Snapshot> {
    if (c.size > config.maxFileBytes) throw new FileLimitError(c.file, 'maxFileBytes', `${c.size} bytes, over maxFileBytes (${config.maxFileBytes})`);
    const fileAsOf = (c.nameDate ?? new Date(c.mtimeMs)).getTime();
    const stock = new StockRows(c.size, config.maxRows);
    const movements = new MovementRows(config.movements === undefined ? 0 : c.size, config.maxRows);
    const cols = config.stock.columns ?? canonicalColumns(config.stock.fields);
    let rows = 0;
    // made once per file, not per row: a row is only read through these
    const text = (row: Row, col: string) => {
      const v = row[col];
      const s = v === undefined || v === null ? '' : String(v).trim();
      if (s === '') throw new RowError(`empty ${col}`);
      return s;
    };
    const whole = (row: Row, col: string, optional: boolean) => {
      const v = row[col];
      if (optional && (v === undefined || v === null || String(v).trim() === '')) return 0;
      const n = typeof v === 'number' ? v : String(v ?? '').trim() === '' ? Number.NaN : Number(String(v).trim());
      if (!Number.isSafeInteger(n)) throw new RowError(`${col}: not a whole quantity: ${JSON.stringify(v ?? null)}`);
      return n;
    };
    const when = (row: Row, col: string | undefined) => {
      if (col === undefined) return fileAsOf;
      const v = row[col];
      if (v === undefined || v === null || String(v).trim() === '') return fileAsOf;
      try {
        return timestamp(v, config.timezone).getTime();
      } catch {
        throw new RowError(`${col}: not a timestamp: ${JSON.stringify(v)}`);
      }
    };
    const onRow = (row: Row) => {
      if (++rows > config.maxRows) throw new FileLimitError(c.file, 'maxRows', `more than ${config.maxRows} rows (maxRows)`);
      const code = text(row, cols.sku);
      const location = text(row, cols.location);
      const onHand = whole(row, cols.onHand, false);
      const committed = cols.committed === undefined ? 0 : whole(row, cols.committed, true);
      stock.add(code, location, onHand, committed, when(row, cols.asOf));

      for (const m of config.movements ?? []) {
        const quantity = whole(row, m.columns.quantity, true);
        if (quantity === 0) continue;
        const kind = m.kind ?? text(row, m.columns.kind as string);
        if (!kinds.includes(kind)) throw new RowError(`unknown movement kind ${JSON.stringify(kind)} (known: ${kinds.join(', ')})`);
        const ref = m.columns.reference === undefined ? undefined : row[m.columns.reference];
        const reference = ref === undefined || ref === null ? '' : String(ref).trim();
        movements.add(text(row, m.columns.sku), text(row, m.columns.location), kind as MovementKind, quantity, when(row, m.columns.asOf), reference);
      }
    };

    const required = [
      cols.sku,
      cols.location,
      cols.onHand,
      ...(config.movements ?? []).flatMap((m) => [
        m.columns.sku,
        m.columns.location,
        m.columns.quantity,
        ...(m.columns.kind ? [m.columns.kind] : []),
        ...(m.columns.reference ? [m.columns.reference] : []),
      ]),
    ];
    const input = createReadStream(c.file);
    try {
      if (format === 'csv') await readCsv(input, c.file, config.delimiter, required, onRow);
      else if (json !== null) await readJsonPages(input, c.file, json, onRow);
      else await readJsonLines(input, c.file, onRow);
    } finally {
      input.destroy();
    }
    if (rows === 0) throw new FileParseError(c.file, null, 'no rows (an empty or half-written file?)');

    const oldest = c.key - config.keepMissingDays * DAY_MS;
    const carried =
      before === undefined || config.keepMissingDays === 0
        ? 0
        : await stock.carry(before.stock, originOf(before.candidate), (from) => from.key >= oldest && from.file !== c.name);
    return { id: idOf(c), candidate: c, stock: await stock.pack(), movements: await movements.pack(), rows, carried };
  }

  /**
   * Looks for a newer file now and, unlike a read, waits for that look and any load it starts;
   * fails when no matching file can be used.
   */
  async function ping(): Promise<void> {
    // a look already under way may have listed the directory before the caller's change
    await refreshing?.catch(() => {});
    checkedAt = Number.NEGATIVE_INFINITY;
    await current();
    await refreshing?.catch(() => {});
  }

  async function fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter): Promise<RecordOf[E][]> {
    if (!entities.has(entity)) throw new Error(`source "${name}" maps no ${entity}`);
    if (codes.length === 0) return [];
    meter?.statement(name, entity);
    const s = await current();
    const fallback = refusedNewer !== undefined;
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
    ping,
    /**
     * The health check: a look at the directory now (a newer file is loaded, as a read would load
     * it; files gone missing are reported and shown on the source's health); fails only when no
     * snapshot can be served at all.
     */
    async check() {
      await ping().catch(() => {});
      if (snapshot === undefined) throw new SourceError(name, 'failed', missing?.brief ?? 'no file could be loaded');
    },
    /**
     * The newest file (its header must have the mapped columns, its rows must read) and what the
     * snapshot holds: every entity fails when the newest file was refused (the older snapshot
     * still serves); rejects when no file can be used at all.
     */
    async probe(): Promise<EntityProbe[]> {
      await ping();
      const s = snapshot as Snapshot;
      if (refusedNewer !== undefined) {
        const { file, line, reason } = refusedNewer;
        const why = `the newest file ${basename(file)}${line === null ? '' : `:${line}`} was refused: ${reason} (${s.candidate.name} keeps serving)`;
        return [...entities].map((entity) => ({ entity, ok: false, reason: why }));
      }
      const codes = s.stock.codes.length;
      return [...entities].map((entity) => ({
        entity,
        ok: true,
        detail:
          entity === 'stock'
            ? `${codes} code${codes === 1 ? '' : 's'}, ${s.rows} row${s.rows === 1 ? '' : 's'} in ${s.candidate.name}`
            : `read from ${s.candidate.name}`,
      }));
    },
    /** Why the snapshot served may not be the newest file, for the source's health (no paths); null when it is. */
    problem(): string | null {
      if (snapshot === undefined) return null;
      if (missing !== null) return `${missing.brief}; the last snapshot (${snapshot.candidate.name}) keeps serving`;
      if (refusedNewer === undefined) return null;
      const { file, line, reason } = refusedNewer;
      return `the newer ${basename(file)}${line === null ? '' : `:${line}`} was refused (${reason}); ${snapshot.candidate.name} keeps serving`;
    },
    /** What is served now: the file, whether a newer one was refused, and every refusal. */
    state(): SnapshotState {
      return {
        file: snapshot?.candidate.file ?? null,
        rows: snapshot?.rows ?? 0,
        carried: snapshot?.carried ?? 0,
        fallback: refusedNewer !== undefined,
        rejected: [...rejected.values()],
      };
    },
    /** Lets a look (and any load) under way finish, so nothing is told after the source is closed. */
    async close() {
      await refreshing?.catch(() => {});
    },
  } satisfies Connector & { state(): SnapshotState };
}

export type CsvConnector = ReturnType<typeof createCsvConnector>;

/** `inventory-*.csv` as an anchored RegExp: `*` any run of characters, `?` one; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

/**
 * The date (and time, if any) a file name carries, read as wall-clock time in `zone` (the
 * source's `timezone`, UTC by default): `2026-11-25`, `20261125`, with an optional `T0600`,
 * `T06:00`, `T060000`. Null when the name has no valid date.
 */
export function dateInName(fileName: string, zone = 'UTC'): Date | null {
  const re = /(?<![0-9])(\d{4})-?(\d{2})-?(\d{2})(?:[T_](\d{2})[:-]?(\d{2})(?:[:-]?(\d{2}))?)?(?![0-9])/g;
  for (const m of fileName.matchAll(re)) {
    const [y, mo, d, h = '00', mi = '00', s = '00'] = m.slice(1).map((v) => v ?? undefined) as string[];
    const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const back = new Date(t);
    if (
      back.getUTCFullYear() === Number(y) &&
      back.getUTCMonth() === Number(mo) - 1 &&
      back.getUTCDate() === Number(d) &&
      Number(h) < 24 &&
      Number(mi) < 60 &&
      Number(s) < 60
    ) {
      return zone === 'UTC' ? back : new Date(wallClockToUtc(t, zone));
    }
  }
  return null;
}

/** One record of a file: its fields by column name (CSV header, or JSON key). */
type Row = Readonly<Record<string, unknown>>;
type CsvOptions = OptionsWithColumns<string[], Row>;

/** A record that cannot be used; the reader that found it names its file and line. */
class RowError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RowError';
  }
}

/**
 * Streams a CSV with a header row into `onRow`, record by record as the parser makes them, so
 * none is queued behind another. Line numbers cost csv-parse two object copies per record, so
 * they are not asked for while reading: a refused record is known by its position, and its line
 * is counted again (`lineOfRecord`) only then.
 */
async function readCsv(input: Readable, file: string, delimiter: string, required: readonly string[], onRow: (row: Row) => void): Promise<void> {
  const options: CsvOptions = {
    bom: true,
    delimiter,
    columns: (header: string[]) => {
      const names = header.map((h) => h.trim());
      const missing = [...new Set(required)].filter((c) => !names.includes(c));
      if (missing.length > 0)
        throw new FileParseError(
          file,
          1,
          `missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => JSON.stringify(m)).join(', ')} (header: ${names.join(delimiter)})`,
        );
      return names;
    },
    skip_empty_lines: true,
  };
  const parser = parse(options);
  let records = 0;
  let refused: { record: number; reason: string } | undefined;
  parser.on('data', (row: Row) => {
    if (refused !== undefined) return;
    records++;
    try {
      onRow(row);
    } catch (e) {
      if (e instanceof RowError) refused = { record: records, reason: e.reason };
      parser.destroy(e as Error);
    }
  });
  try {
    await pipeline(input, parser);
  } catch (e) {
    if (refused !== undefined) throw new FileParseError(file, await lineOfRecord(file, options, refused.record), refused.reason);
    if (e instanceof FileParseError) throw e;
    const err = e as Error & { code?: string; lines?: number };
    // csv-parse names the line of a torn row (too few fields, an unclosed quote)
    throw new FileParseError(
      file,
      err.lines ?? null,
      (err.message ?? String(e)).replace(/^Invalid (Record Length|Closing Quote|Opening Quote): /, '').split('\n')[0] ?? 'malformed CSV',
    );
  }
}

/** The line csv-parse names for the `n`th record of `file` (1-based), reading it again up to there. */
async function lineOfRecord(file: string, options: CsvOptions, n: number): Promise<number | null> {
  let line: number | null = null;
  let seen = 0;
  const found = new Error('found');
  const parser = parse({
    ...options,
    on_record: (_record, info) => {
      if (++seen < n) return null;
      line = info.lines;
      throw found;
    },
  });
  parser.resume();
  await pipeline(createReadStream(file), parser).catch((e: unknown) => {
    if (e !== found) line = null;
  });
  return line;
}

/** Streams JSON lines: one object per non-empty line. */
async function readJsonLines(input: Readable, file: string, onRow: (row: Row) => void): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
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
    try {
      onRow(value as Row);
    } catch (e) {
      throw e instanceof RowError ? new FileParseError(file, n, e.reason) : e;
    }
  }
}

/** A `json` file's columns: its rows (jsonRows) are keyed by the canonical names its `fields` map. */
function canonicalColumns(fields: Readonly<Record<string, string | undefined>> | undefined) {
  const has = (k: string) => (fields?.[k] === undefined ? undefined : k);
  return { sku: 'sku', location: 'location', onHand: 'onHand', committed: has('committed'), asOf: has('asOf') };
}

/**
 * Reads a `json` file (one API answer, or a JSON array of them) whole, already bounded by
 * `maxFileBytes`, and hands each record its mapping reaches to `onRow`. A top-level array is a
 * list of pages unless the mapping's `records` itself starts at a list (`[*]...`).
 */
async function readJsonPages(input: Readable, file: string, mapping: CompiledJsonMapping, onRow: (row: Row) => void): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(chunk as Buffer);
  let doc: unknown;
  try {
    doc = JSON.parse(
      Buffer.concat(chunks)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
    );
  } catch (e) {
    throw new FileParseError(file, null, `not JSON (a half-written file?): ${(e as Error).message}`);
  }
  const step = mapping.records.steps[0]?.kind;
  const pages = Array.isArray(doc) && step !== 'all' && step !== 'index' && step !== 'filter' ? (doc as unknown[]) : [doc];
  let n = 0;
  for (const page of pages) {
    for (const row of jsonRows(page, mapping)) {
      n++;
      try {
        onRow(row);
      } catch (e) {
        throw e instanceof RowError ? new FileParseError(file, null, `record ${n}: ${e.reason}`) : e;
      }
    }
  }
}
