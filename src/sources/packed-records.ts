/**
 * A file source's snapshot packed into columns. A 3PL file of 330,000 rows held as record
 * objects is over a million heap objects (a record, its Date, its location string, an array
 * per SKU): about 100 MiB that every major garbage collection has to walk while requests wait.
 * Packed, it is one typed array per figure, one string per SKU code and one per distinct
 * location, and a record object exists only while a request uses it.
 *
 * Rows are grouped by SKU code; within a code they keep the order in which they were added
 * (the order of first appearance in the file), so a fetch answers exactly what the record
 * objects would have.
 */
import type { MovementKind, MovementRecord, StockRecord } from '../domain/records.js';

/** Rows added per code (each row already summed per (code, location[, kind])), then packed once. */
interface Columns {
  codes: string[];
  /** Position of each code in `codes`. */
  index: Map<string, number>;
  /** Row range of codes[i]: rows start[i] .. start[i + 1] - 1. */
  start: Uint32Array;
  /** Index into `labels` (location, or location + kind for movements). */
  label: Uint32Array;
  a: Float64Array;
  b: Float64Array;
  asOf: Float64Array;
}

/** Per code, its rows by key (location, or location and kind), in the order they should be answered: what the file loader builds. */
export type RowsByCode<R> = ReadonlyMap<string, ReadonlyMap<string, R>>;

function pack<R>(groups: RowsByCode<R>, fields: (r: R) => [label: string, a: number, b: number, asOf: number]): { columns: Columns; labels: string[] } {
  let rows = 0;
  for (const g of groups.values()) rows += g.size;
  const codes = [...groups.keys()].sort();
  const index = new Map<string, number>();
  const start = new Uint32Array(codes.length + 1);
  const label = new Uint32Array(rows);
  const a = new Float64Array(rows);
  const b = new Float64Array(rows);
  const asOf = new Float64Array(rows);
  const labels: string[] = [];
  const labelIndex = new Map<string, number>();
  let row = 0;
  codes.forEach((code, i) => {
    index.set(code, i);
    start[i] = row;
    for (const r of (groups.get(code) as ReadonlyMap<string, R>).values()) {
      const [l, x, y, t] = fields(r);
      let li = labelIndex.get(l);
      if (li === undefined) labelIndex.set(l, (li = labels.push(l) - 1));
      label[row] = li;
      a[row] = x;
      b[row] = y;
      asOf[row] = t;
      row++;
    }
  });
  start[codes.length] = row;
  return { columns: { codes, index, start, label, a, b, asOf }, labels };
}

/** Stock rows packed by code: `get` makes the records of one code. */
export class PackedStock {
  private readonly c: Columns;
  private readonly locations: string[];

  /** `groups`: per code, its records by location. */
  constructor(groups: RowsByCode<StockRecord>) {
    const { columns, labels } = pack(groups, (r) => [r.location, r.onHand, r.committed, r.asOf.getTime()]);
    this.c = columns;
    this.locations = labels;
  }

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
  private readonly c: Columns;
  private readonly kinds: { location: string; kind: MovementKind }[];

  /** `groups`: per code, its records by location and kind. */
  constructor(groups: RowsByCode<MovementRecord>) {
    const { columns, labels } = pack(groups, (r) => [`${r.location}\u0000${r.kind}`, r.quantity, 0, r.asOf.getTime()]);
    this.c = columns;
    this.kinds = labels.map((l) => {
      const [location, kind] = l.split('\u0000') as [string, MovementKind];
      return { location, kind };
    });
  }

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
