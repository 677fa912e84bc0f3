/**
 * A file source's snapshot packed into columns, filled row by row while the file streams in.
 * A 3PL file of 330,000 rows held as record objects is over a million heap objects (a record,
 * its Date, its location string, an array per SKU): about 100 MiB that every major garbage
 * collection has to walk while requests wait, and a 4.6 M-row file took 3.9 GB to load that
 * way. Packed, it is one typed array per figure, one string per SKU code and one per distinct
 * location, and a record object exists only while a request uses it.
 *
 * Loading: `StockRows` / `MovementRows` take each row of the file as it is parsed and sum it
 * into the row of its (code, location[, kind]) in growable typed arrays (the rows of a code
 * are chained, so finding its row walks that code's few locations); `pack()` then lays the rows
 * out by sorted code once. Within a code rows keep the order of first appearance in the file,
 * so a fetch answers exactly what record objects summed in a map would have.
 */
import type { MovementKind, MovementRecord, StockRecord } from '../domain/records.js';

/** The packed rows: grouped by code, codes sorted. */
interface Columns {
  codes: string[];
  /** Position of each code in `codes`. */
  index: Map<string, number>;
  /** Row range of codes[i]: rows start[i] .. start[i + 1] - 1. */
  start: Uint32Array;
  /** Index into the labels (location, or location + kind for movements). */
  label: Uint32Array;
  a: Float64Array;
  b: Float64Array;
  asOf: Float64Array;
}

const FIRST_CAPACITY = 1024;

function grown<T extends Uint32Array | Int32Array | Float64Array>(array: T, capacity: number): T {
  const bigger = new (array.constructor as new (n: number) => T)(capacity);
  bigger.set(array);
  return bigger;
}

/**
 * Rows summed per (code, label) as they arrive: a and b added, asOf the newest. Each code's rows
 * are a chain (`first`, `next`, `last`) in the order they first appeared.
 */
class SummedRows {
  private readonly codes: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly labels: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  private first = new Int32Array(FIRST_CAPACITY);
  private last = new Int32Array(FIRST_CAPACITY);
  private next = new Int32Array(FIRST_CAPACITY);
  private label = new Uint32Array(FIRST_CAPACITY);
  private a = new Float64Array(FIRST_CAPACITY);
  private b = new Float64Array(FIRST_CAPACITY);
  private asOf = new Float64Array(FIRST_CAPACITY);
  private rows = 0;

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
        this.first = grown(this.first, nc * 2);
        this.last = grown(this.last, nc * 2);
      }
      this.first[nc] = row;
      this.last[nc] = row;
    } else {
      this.next[this.last[ci] as number] = row;
      this.last[ci] = row;
    }
  }

  /** The rows laid out by sorted code, in arrays of their exact size; the labels by index. Once, when every row is in. */
  pack(): { columns: Columns; labels: string[] } {
    const rows = this.rows;
    const codes = [...this.codes].sort();
    const { index } = this;
    const start = new Uint32Array(codes.length + 1);
    const label = new Uint32Array(rows);
    const a = new Float64Array(rows);
    const b = new Float64Array(rows);
    const asOf = new Float64Array(rows);
    let out = 0;
    codes.forEach((code, i) => {
      const was = index.get(code) as number;
      index.set(code, i);
      start[i] = out;
      for (let r = this.first[was] as number; r !== -1; r = this.next[r] as number) {
        label[out] = this.label[r] as number;
        a[out] = this.a[r] as number;
        b[out] = this.b[r] as number;
        asOf[out] = this.asOf[r] as number;
        out++;
      }
    });
    start[codes.length] = out;
    return { columns: { codes, index, start, label, a, b, asOf }, labels: this.labels };
  }

  private newRow(li: number, a: number, b: number, asOf: number): number {
    const row = this.rows++;
    if (row === this.label.length) {
      const capacity = row * 2;
      this.next = grown(this.next, capacity);
      this.label = grown(this.label, capacity);
      this.a = grown(this.a, capacity);
      this.b = grown(this.b, capacity);
      this.asOf = grown(this.asOf, capacity);
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
  private readonly rows = new SummedRows();

  add(code: string, location: string, onHand: number, committed: number, asOf: number): void {
    this.rows.add(code, location, onHand, committed, asOf);
  }

  pack(): PackedStock {
    const { columns, labels } = this.rows.pack();
    return new PackedStock(columns, labels);
  }
}

/** Movement rows of a file as it is read: per (code, location, kind) the quantity summed, the newest asOf. */
export class MovementRows {
  private readonly rows = new SummedRows();

  add(code: string, location: string, kind: MovementKind, quantity: number, asOf: number): void {
    this.rows.add(code, `${location}\u0000${kind}`, quantity, 0, asOf);
  }

  pack(): PackedMovements {
    const { columns, labels } = this.rows.pack();
    return new PackedMovements(
      columns,
      labels.map((l) => {
        const [location, kind] = l.split('\u0000') as [string, MovementKind];
        return { location, kind };
      }),
    );
  }
}

/** Stock rows packed by code: `get` makes the records of one code. */
export class PackedStock {
  constructor(
    private readonly c: Columns,
    private readonly locations: readonly string[],
  ) {}

  /** Every code with rows, sorted (for paging through the snapshot). */
  get codes(): readonly string[] {
    return this.c.codes;
  }

  /** Appends the records of `code` (none when the snapshot has no row for it) to `out`; `fallback` marks them `snapshotFallback`. */
  get(code: string, out: StockRecord[], fallback: boolean): void {
    const i = this.c.index.get(code);
    if (i === undefined) return;
    const { start, label, a, b, asOf } = this.c;
    for (let r = start[i] as number; r < (start[i + 1] as number); r++) {
      const location = this.locations[label[r] as number] as string;
      const rec: StockRecord = { code, location, onHand: a[r] as number, committed: b[r] as number, asOf: new Date(asOf[r] as number) };
      if (fallback) rec.snapshotFallback = true;
      out.push(rec);
    }
  }
}

/** Movement rows packed by code; the label is location and kind. */
export class PackedMovements {
  constructor(
    private readonly c: Columns,
    private readonly kinds: readonly { location: string; kind: MovementKind }[],
  ) {}

  get(code: string, out: MovementRecord[]): void {
    const i = this.c.index.get(code);
    if (i === undefined) return;
    const { start, label, a, asOf } = this.c;
    for (let r = start[i] as number; r < (start[i + 1] as number); r++) {
      const { location, kind } = this.kinds[label[r] as number] as { location: string; kind: MovementKind };
      out.push({ code, location, kind, quantity: a[r] as number, asOf: new Date(asOf[r] as number) });
    }
  }
}
