/**
 * A file source's snapshot packed into columns, filled row by row while the file streams in.
 * A 3PL file of 330,000 rows held as record objects is over a million heap objects (a record,
 * its Date, its location string, an array per SKU): about 100 MiB that every major garbage
 * collection has to walk while requests wait, and a 4.6 M-row file took 3.9 GB to load that
 * way. Packed, it is one typed array per figure, one string per SKU code and one per distinct
 * location, and a record object exists only while a request uses it.
 *
 * Loading: `StockRows` / `MovementRows` take each row of the file as it is parsed and sum it
 * into the row of its (code, location[, kind]) in growable typed arrays. The rows of a code are
 * a chain in the order they first appeared in the file, so finding a row walks that code's few
 * locations, and a fetch answers exactly what record objects summed in a map would have.
 * `pack()` trims the arrays to size and sorts the codes (for paging) a slice at a time, so
 * that reads go on while a large snapshot is finished.
 *
 * Carrying forward (a file source's `keepMissingDays`): once a file's rows are in, `carry()`
 * appends the rows of the previous snapshot that the file lacks, each with the older file it
 * comes from. They come after the file's own rows, so only they have an origin: a daily file
 * where nearly every row is present costs a few carried rows, never a second snapshot.
 */
import type { MovementKind, MovementRecord, StockRecord } from '../domain/records.js';

/** The packed rows; row `r` of code `c` is found from `first[index.get(c)]` along `next`. */
interface Columns {
  /** Every code with rows, sorted. */
  codes: string[];
  /** Position of each code in `first`. */
  index: CodeIndex;
  /** Per code: its first row. */
  first: Int32Array;
  /** Per row: the next row of the same code; -1 after its last. */
  next: Int32Array;
  /** Index into the labels (location, or location + kind for movements). */
  label: Uint32Array;
  a: Float64Array;
  b: Float64Array;
  asOf: Float64Array;
}

/** An older file that carried rows come from: its name, and the date that ranks it (the date in its name, else its mtime), in ms. */
export interface Origin {
  file: string;
  key: number;
}

const FIRST_CAPACITY = 1024;
/** The shortest a row of a 3PL file plausibly is, in bytes: a file's size over it is room for every row it can have. */
const SHORTEST_ROW_BYTES = 24;
/** Codes sorted, or merged, between two turns of the event loop. */
const SORT_SLICE = 65_536;
/** Codes carried (a few lookups per row each) between two turns of the event loop. */
const CARRY_SLICE = 8_192;

function resized<T extends Uint32Array | Int32Array | Float64Array>(array: T, length: number): T {
  const other = new (array.constructor as new (n: number) => T)(length);
  other.set(array.subarray(0, length));
  return other;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const SHARDS = 64;

/**
 * Code to position, in SHARDS maps chosen by a hash of the code: a Map grows by rehashing all
 * its entries at once, which at 2 M codes held the event loop for 365 ms; a shard holds a 64th.
 */
class CodeIndex {
  private readonly shards = Array.from({ length: SHARDS }, () => new Map<string, number>());

  get(code: string): number | undefined {
    return this.shard(code).get(code);
  }

  set(code: string, position: number): void {
    this.shard(code).set(code, position);
  }

  /** FNV-1a over the code's UTF-16 units. */
  private shard(code: string): Map<string, number> {
    let h = 0x811c9dc5;
    for (let i = 0; i < code.length; i++) h = Math.imul(h ^ code.charCodeAt(i), 0x01000193);
    return this.shards[(h ^ (h >>> 16)) & (SHARDS - 1)] as Map<string, number>;
  }
}

/** Merges two sorted runs, yielding to the event loop every SORT_SLICE codes. */
async function merge(x: readonly string[], y: readonly string[]): Promise<string[]> {
  if (x.length === 0 || (y.length > 0 && (x.at(-1) as string) <= (y[0] as string))) return [...x, ...y];
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    out.push((x[i] as string) <= (y[j] as string) ? (x[i++] as string) : (y[j++] as string));
    if (out.length % SORT_SLICE === 0) await nextTurn();
  }
  while (i < x.length) out.push(x[i++] as string);
  while (j < y.length) out.push(y[j++] as string);
  return out;
}

/**
 * `codes` sorted as `Array.prototype.sort` sorts strings, a slice at a time: 2.5 M codes in
 * random order take seconds to sort, which in one go would hold up every request meanwhile.
 */
async function sortInSlices(codes: readonly string[]): Promise<string[]> {
  let runs: string[][] = [];
  for (let i = 0; i < codes.length; i += SORT_SLICE) {
    runs.push(codes.slice(i, i + SORT_SLICE).sort());
    await nextTurn();
  }
  while (runs.length > 1) {
    const merged: string[][] = [];
    for (let i = 0; i < runs.length; i += 2)
      merged.push(i + 1 < runs.length ? await merge(runs[i] as string[], runs[i + 1] as string[]) : (runs[i] as string[]));
    runs = merged;
  }
  return runs[0] ?? [];
}

/**
 * Rows summed per (code, label) as they arrive: a and b added, asOf the newest. The arrays are
 * made once with room for every row the file can have (its size over SHORTEST_ROW_BYTES, at most
 * `maxRows`): memory the system hands out zeroed and untouched, so only rows written become
 * resident, and a large file never makes them copy themselves (hundreds of ms at millions of
 * rows, every request waiting). A file with shorter rows still grows them, doubling.
 */
class SummedRows {
  private readonly codes: string[] = [];
  private readonly index = new CodeIndex();
  private readonly labels: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  private first: Int32Array;
  private last: Int32Array;
  private next: Int32Array;
  private label: Uint32Array;
  private a: Float64Array;
  private b: Float64Array;
  private asOf: Float64Array;
  private rows = 0;

  constructor(fileBytes: number, maxRows: number) {
    const capacity = Math.max(FIRST_CAPACITY, Math.min(maxRows, Math.ceil(fileBytes / SHORTEST_ROW_BYTES)));
    this.first = new Int32Array(capacity);
    this.last = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.label = new Uint32Array(capacity);
    this.a = new Float64Array(capacity);
    this.b = new Float64Array(capacity);
    this.asOf = new Float64Array(capacity);
  }

  add(code: string, labelText: string, a: number, b: number, asOf: number): void {
    let li = this.labelIndex.get(labelText);
    if (li === undefined) this.labelIndex.set(labelText, (li = this.labels.push(labelText) - 1));
    const ci = this.index.get(code);
    if (ci !== undefined) {
      for (let r = this.first[ci] as number; r !== -1; r = this.next[r] as number) {
        if (this.label[r] !== li) continue;
        this.a[r] = (this.a[r] as number) + a;
        this.b[r] = (this.b[r] as number) + b;
        if (asOf > (this.asOf[r] as number)) this.asOf[r] = asOf;
        return;
      }
    }
    const row = this.newRow(li, a, b, asOf);
    if (ci === undefined) {
      const nc = this.codes.push(code) - 1;
      this.index.set(code, nc);
      if (nc === this.first.length) {
        this.first = resized(this.first, nc * 2);
        this.last = resized(this.last, nc * 2);
      }
      this.first[nc] = row;
      this.last[nc] = row;
    } else {
      this.next[this.last[ci] as number] = row;
      this.last[ci] = row;
    }
  }

  /** Whether (code, label) has a row; false for a label never seen. */
  has(code: string, labelText: string): boolean {
    const li = this.labelIndex.get(labelText);
    const ci = this.index.get(code);
    if (li === undefined || ci === undefined) return false;
    for (let r = this.first[ci] as number; r !== -1; r = this.next[r] as number) if (this.label[r] === li) return true;
    return false;
  }

  /** Rows so far. */
  get count(): number {
    return this.rows;
  }

  /** The rows in arrays of their exact size, the codes sorted, and the labels by index. Once, when every row is in. */
  async pack(): Promise<{ columns: Columns; labels: string[] }> {
    const rows = this.rows;
    const columns: Columns = {
      codes: await sortInSlices(this.codes),
      index: this.index,
      first: resized(this.first, this.codes.length),
      next: resized(this.next, rows),
      label: resized(this.label, rows),
      a: resized(this.a, rows),
      b: resized(this.b, rows),
      asOf: resized(this.asOf, rows),
    };
    return { columns, labels: this.labels };
  }

  private newRow(li: number, a: number, b: number, asOf: number): number {
    const row = this.rows++;
    if (row === this.label.length) {
      const capacity = row * 2;
      this.next = resized(this.next, capacity);
      this.label = resized(this.label, capacity);
      this.a = resized(this.a, capacity);
      this.b = resized(this.b, capacity);
      this.asOf = resized(this.asOf, capacity);
    }
    this.next[row] = -1;
    this.label[row] = li;
    this.a[row] = a;
    this.b[row] = b;
    this.asOf[row] = asOf;
    return row;
  }
}

/** Stock rows of a file as it is read: per (code, location) onHand and committed summed, the newest asOf. */
export class StockRows {
  private readonly rows: SummedRows;
  private carried: Carried | null = null;

  /** For a file of `fileBytes` bytes and at most `maxRows` rows. */
  constructor(fileBytes: number, maxRows: number) {
    this.rows = new SummedRows(fileBytes, maxRows);
  }

  add(code: string, location: string, onHand: number, committed: number, asOf: number): void {
    if (this.carried !== null) throw new Error('a row added after rows were carried');
    this.rows.add(code, location, onHand, committed, asOf);
  }

  /**
   * Appends the rows of `before` that these rows lack (by code and location), each with the file
   * it comes from, when `keep` accepts that file: `before`'s own rows come from `beforeFile`, its
   * carried ones from where they came. Once, after the last `add`, before `pack`; `before` is
   * walked a slice of codes at a time, so reads go on meanwhile. Returns how many rows it carried.
   */
  async carry(before: PackedStock, beforeFile: Origin, keep: (o: Origin) => boolean): Promise<number> {
    if (this.carried !== null) throw new Error('rows carried twice');
    const from = this.rows.count;
    const origins: Origin[] = [];
    const known = new Map<Origin, number>();
    let origin = new Uint32Array(FIRST_CAPACITY);
    let n = 0;
    let seen = 0;
    for (const code of before.codes) {
      before.each(code, beforeFile, (location, onHand, committed, asOf, o) => {
        if (!keep(o) || this.rows.has(code, location)) return;
        let oi = known.get(o);
        if (oi === undefined) known.set(o, (oi = origins.push(o) - 1));
        this.rows.add(code, location, onHand, committed, asOf);
        if (n === origin.length) origin = resized(origin, n * 2);
        origin[n++] = oi;
      });
      if (++seen % CARRY_SLICE === 0) await nextTurn();
    }
    this.carried = { from, origin: resized(origin, n), origins };
    return n;
  }

  async pack(): Promise<PackedStock> {
    const { columns, labels } = await this.rows.pack();
    return new PackedStock(columns, labels, this.carried);
  }
}

/** The rows carried from older files: rows `from` on, the origin of row `from + i` being `origins[origin[i]]`. */
interface Carried {
  from: number;
  origin: Uint32Array;
  origins: readonly Origin[];
}

/** Movement rows of a file as it is read: per (code, location, kind, reference) the quantity summed, the newest asOf. */
export class MovementRows {
  private readonly rows: SummedRows;

  /** For a file of `fileBytes` bytes and at most `maxRows` rows. */
  constructor(fileBytes: number, maxRows: number) {
    this.rows = new SummedRows(fileBytes, maxRows);
  }

  /** `reference`: the row's document ('' or unset: none). */
  add(code: string, location: string, kind: MovementKind, quantity: number, asOf: number, reference = ''): void {
    this.rows.add(code, `${location}\u0000${kind}\u0000${reference}`, quantity, 0, asOf);
  }

  async pack(): Promise<PackedMovements> {
    const { columns, labels } = await this.rows.pack();
    return new PackedMovements(
      columns,
      labels.map((l) => {
        const [location, kind, reference] = l.split('\u0000') as [string, MovementKind, string];
        return { location, kind, reference };
      }),
    );
  }
}

/** Stock rows packed by code: `get` makes the records of one code. */
export class PackedStock {
  constructor(
    private readonly c: Columns,
    private readonly locations: readonly string[],
    private readonly carried: Carried | null = null,
  ) {}

  /** Every code with rows, sorted (for paging through the snapshot). */
  get codes(): readonly string[] {
    return this.c.codes;
  }

  /** Rows (code × location) held, carried ones included. */
  get rows(): number {
    return this.c.next.length;
  }

  /** Rows carried from older files. */
  get carriedRows(): number {
    return this.carried?.origin.length ?? 0;
  }

  /**
   * Appends the records of `code` (none when the snapshot has no row for it) to `out`;
   * `fallback` marks them `snapshotFallback`, a carried row has `carriedFrom`.
   */
  get(code: string, out: StockRecord[], fallback: boolean): void {
    const i = this.c.index.get(code);
    if (i === undefined) return;
    const { first, next, label, a, b, asOf } = this.c;
    const carried = this.carried;
    for (let r = first[i] as number; r !== -1; r = next[r] as number) {
      const location = this.locations[label[r] as number] as string;
      const rec: StockRecord = { code, location, onHand: a[r] as number, committed: b[r] as number, asOf: new Date(asOf[r] as number) };
      if (fallback) rec.snapshotFallback = true;
      if (carried !== null && r >= carried.from) rec.carriedFrom = (carried.origins[carried.origin[r - carried.from] as number] as Origin).file;
      out.push(rec);
    }
  }

  /** Visits the rows of `code` with the file each comes from: `own` for the file's own rows, else the older file it was carried from. */
  each(code: string, own: Origin, visit: (location: string, onHand: number, committed: number, asOf: number, origin: Origin) => void): void {
    const i = this.c.index.get(code);
    if (i === undefined) return;
    const { first, next, label, a, b, asOf } = this.c;
    const carried = this.carried;
    for (let r = first[i] as number; r !== -1; r = next[r] as number) {
      const origin = carried !== null && r >= carried.from ? (carried.origins[carried.origin[r - carried.from] as number] as Origin) : own;
      visit(this.locations[label[r] as number] as string, a[r] as number, b[r] as number, asOf[r] as number, origin);
    }
  }
}

/** Movement rows packed by code; the label is location, kind and reference. */
export class PackedMovements {
  constructor(
    private readonly c: Columns,
    private readonly kinds: readonly { location: string; kind: MovementKind; reference: string }[],
  ) {}

  get(code: string, out: MovementRecord[]): void {
    const i = this.c.index.get(code);
    if (i === undefined) return;
    const { first, next, label, a, asOf } = this.c;
    for (let r = first[i] as number; r !== -1; r = next[r] as number) {
      const { location, kind, reference } = this.kinds[label[r] as number] as { location: string; kind: MovementKind; reference: string };
      const m: MovementRecord = { code, location, kind, quantity: a[r] as number, asOf: new Date(asOf[r] as number) };
      if (reference !== '') m.reference = reference;
      out.push(m);
    }
  }
}
