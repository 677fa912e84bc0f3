/**
 * The limit (issue #15): what a server holding every record in memory could do, the bound a
 * mirrored gateway can approach. At start it reads the whole SKU map from the store and every
 * record the bench's answers can use (stock of the quantity sources, names, costs) from the
 * sources, through the same connectors and mappings as the floor (bench/floor-server.ts), and
 * keeps them in memory; then it answers the same request bodies with the same domain rules and
 * the same JSON (bench/lib/answers.ts, shared with the floor) without any I/O: no store lookup,
 * no source statement (`x-source-statements: none`), no anomaly write (those it notices are
 * dropped). Nothing is precomputed per SKU beyond the records themselves: availability, flags
 * (STALE is judged against the clock of each request) and JSON are made per request, as the
 * floor makes them.
 *
 * Memory: a Map from canonical SKU to its number, then per (source, entity) the records packed
 * in typed arrays, chained per SKU in the order the source answered (`Packed` below); a record
 * object exists only while a request uses it. A record that does not fit the packing (marked
 * invalid by its connector, from a file's older snapshot, a quantity beyond 32 bits) is kept
 * whole beside it. For 1,000,000 SKUs x 10 locations that is about 16 M stock records.
 *
 *   node --import tsx bench/limit-server.ts --config FILE [--port N] [--host H]
 *
 * Logs its loading on stderr (`limit: ...`), ending with the load time and RSS, then prints
 * `listening <url>` on stdout and answers; stops on SIGTERM. The harness (bench/run.ts, target
 * `limit`) measures the time to that point and the RSS then.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../src/config/index.js';
import type { CostRecord, Entity, ItemRecord, RecordOf, StockRecord } from '../src/domain/records.js';
import type { Connector } from '../src/sources/connector.js';
import { createConnector } from '../src/sources/registry.js';
import { openStore, type CanonicalSku } from '../src/store/index.js';
import { createAnswers, serveAnswers, type Reads } from './lib/answers.js';

/** Rows per page of the packed columns: pages are added, never copied, as a source's records stream in. */
const PAGE_BITS = 20;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;

/** Growable columns of one kind of number, in fixed pages. */
class Column<T extends Int32Array | Float64Array | Uint16Array> {
  private readonly pages: T[] = [];
  constructor(private readonly make: (n: number) => T) {}
  set(row: number, v: number): void {
    const p = row >>> PAGE_BITS;
    while (this.pages.length <= p) this.pages.push(this.make(PAGE));
    (this.pages[p] as T)[row & MASK] = v;
  }
  get(row: number): number {
    return (this.pages[row >>> PAGE_BITS] as T)[row & MASK] as number;
  }
}

/** Strings interned to small numbers (location codes, currencies). */
class Labels {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  of(s: string): number {
    let k = this.index.get(s);
    if (k === undefined) {
      k = this.list.length;
      if (k > 0xffff) throw new Error('more than 65,536 distinct labels');
      this.index.set(s, k);
      this.list.push(s);
    }
    return k;
  }
}

/** One (source, entity)'s records, chained per canonical SKU number. */
abstract class Packed<R extends { code: string }> {
  /** Per SKU: its first row, or -1; its last row (for appending in order). */
  protected readonly first: Int32Array;
  protected readonly last: Int32Array;
  protected readonly next = new Column((n) => new Int32Array(n));
  protected readonly code = new Column((n) => new Uint16Array(n));
  protected readonly codes = new Labels();
  /** Per SKU with several codes in the source: the code of each row (else the SKU's one code). */
  private readonly rowCodes = new Map<number, string>();
  rows = 0;

  constructor(skus: number) {
    this.first = new Int32Array(skus).fill(-1);
    this.last = new Int32Array(skus).fill(-1);
  }

  add(sku: number, r: R, oneCode: boolean): void {
    const row = this.rows++;
    this.next.set(row, -1);
    if (!oneCode) this.rowCodes.set(row, r.code);
    const prev = this.last[sku] as number;
    if (prev === -1) this.first[sku] = row;
    else this.next.set(prev, row);
    this.last[sku] = row;
    this.pack(row, r);
  }

  /** The records of SKU number `sku`, whose one code in this source is `code` (or the row's own). */
  records(sku: number, code: string): R[] {
    const out: R[] = [];
    for (let row = this.first[sku] as number; row !== -1; row = this.next.get(row)) out.push(this.unpack(row, this.rowCodes.get(row) ?? code));
    return out;
  }

  protected abstract pack(row: number, r: R): void;
  protected abstract unpack(row: number, code: string): R;
}

class StockRows extends Packed<StockRecord> {
  private readonly location = new Column((n) => new Uint16Array(n));
  private readonly onHand = new Column((n) => new Int32Array(n));
  private readonly committed = new Column((n) => new Int32Array(n));
  private readonly asOf = new Column((n) => new Float64Array(n));
  private readonly locations = new Labels();
  /** Records kept whole: invalid, a snapshot fallback, or a quantity beyond 32 bits. */
  private readonly whole = new Map<number, StockRecord>();

  protected pack(row: number, r: StockRecord): void {
    const int32 = (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31;
    if (r.invalid !== undefined || r.snapshotFallback === true || !int32(r.onHand) || !int32(r.committed)) {
      this.whole.set(row, r);
      return;
    }
    this.location.set(row, this.locations.of(r.location));
    this.onHand.set(row, r.onHand);
    this.committed.set(row, r.committed);
    this.asOf.set(row, r.asOf.getTime());
  }

  protected unpack(row: number, code: string): StockRecord {
    return (
      this.whole.get(row) ?? {
        code,
        location: this.locations.list[this.location.get(row)] as string,
        onHand: this.onHand.get(row),
        committed: this.committed.get(row),
        asOf: new Date(this.asOf.get(row)),
      }
    );
  }
}

class CostRows extends Packed<CostRecord> {
  private readonly amount: string[] = [];
  private readonly currency = new Column((n) => new Uint16Array(n));
  private readonly currencies = new Labels();
  private readonly invalid = new Map<number, string>();

  protected pack(row: number, r: CostRecord): void {
    this.amount[row] = r.amount;
    this.currency.set(row, this.currencies.of(r.currency));
    if (r.invalid !== undefined) this.invalid.set(row, r.invalid);
  }

  protected unpack(row: number, code: string): CostRecord {
    const invalid = this.invalid.get(row);
    return {
      code,
      amount: this.amount[row] as string,
      currency: this.currencies.list[this.currency.get(row)] as string,
      ...(invalid !== undefined ? { invalid } : {}),
    };
  }
}

class ItemRows extends Packed<ItemRecord> {
  private readonly name: string[] = [];
  protected pack(row: number, r: ItemRecord): void {
    this.name[row] = r.name;
  }
  protected unpack(row: number, code: string): ItemRecord {
    return { code, name: this.name[row] as string };
  }
}

type Memorised = Exclude<Entity, 'movements'>;
const PACKED: { [E in Memorised]: new (skus: number) => Packed<RecordOf[E]> } = { stock: StockRows, cost: CostRows, items: ItemRows };

/** SKU numbers asked of a source per `fetch` while loading (its connector splits them into statements of about 1,000). */
const LOAD_BATCH = 4000;

async function load(c: Config) {
  // the SKU map, page by page in the store's own order (aliases as findMany orders them)
  const store = await openStore(c.store);
  const skuIndex = new Map<string, number>();
  const sku: string[] = [];
  const name: (string | null)[] = [];
  const systems = new Labels();
  const aliasStart: number[] = [0];
  const aliasSystem: number[] = [];
  const aliasCode: string[] = [];
  try {
    let after: string | null = null;
    for (;;) {
      const page = await store.skus.page(5000, after);
      for (const s of page.skus) {
        skuIndex.set(s.sku, sku.length);
        sku.push(s.sku);
        name.push(s.name);
        for (const a of s.aliases) {
          aliasSystem.push(systems.of(a.system));
          aliasCode.push(a.code);
        }
        aliasStart.push(aliasCode.length);
      }
      after = page.skus.at(-1)?.sku ?? after;
      if (sku.length % 200_000 < 5000) log(`SKU map: ${sku.length.toLocaleString('en-US')} SKUs`);
      if (!page.hasNextPage) break;
    }
  } finally {
    await store.close();
  }
  const n = sku.length;
  const starts = Int32Array.from(aliasStart);
  const systemOf = Uint16Array.from(aliasSystem);
  log(`SKU map: ${n.toLocaleString('en-US')} SKUs, ${aliasCode.length.toLocaleString('en-US')} codes`);

  const canonical = new Set(
    Object.entries(c.sources)
      .filter(([, s]) => s.skuCodes === 'canonical')
      .map(([k]) => k),
  );
  /** The codes of SKU number `i` in `source`, in alias order (the floor's `codesFor`). */
  const codesOf = (source: string, i: number): string[] => {
    if (canonical.has(source)) return [sku[i] as string];
    const out: string[] = [];
    for (let k = starts[i] as number; k < (starts[i + 1] as number); k++) if (systems.list[systemOf[k] as number] === source) out.push(aliasCode[k] as string);
    return out;
  };

  // what the answers read: stock from the quantity sources, names and costs from theirs
  const wanted: [string, Memorised][] = [
    ...c.precedence.quantity.map((s): [string, Memorised] => [s, 'stock']),
    ...c.precedence.name.map((s): [string, Memorised] => [s, 'items']),
    ...c.precedence.cost.map((s): [string, Memorised] => [s, 'cost']),
  ];
  const packed = new Map<string, Packed<RecordOf[Memorised]>>();
  const bySource = new Map<string, Memorised[]>();
  for (const [source, entity] of wanted) {
    if (c.sources[source] === undefined) continue;
    bySource.set(source, [...(bySource.get(source) ?? []), entity]);
  }
  await Promise.all(
    [...bySource].map(async ([source, entities]) => {
      const connector: Connector = createConnector(source, c.sources[source] as Config['sources'][string]);
      try {
        await connector.ping();
        await Promise.all(
          entities
            .filter((entity) => connector.entities.has(entity))
            .map(async (entity) => {
              const t0 = performance.now();
              const rows: Packed<RecordOf[Memorised]> = new PACKED[entity](n);
              for (let from = 0; from < n; from += LOAD_BATCH) {
                // each code's SKU number, and its rank in (SKU, code) order: a SKU's records in the order of its codes, as the floor lists them
                const owner = new Map<string, number>();
                const rank = new Map<string, number>();
                const several = new Set<number>();
                for (let i = from; i < Math.min(n, from + LOAD_BATCH); i++) {
                  const codes = codesOf(source, i);
                  if (codes.length > 1) several.add(i);
                  for (const code of codes) {
                    owner.set(code, i);
                    rank.set(code, rank.size);
                  }
                }
                if (owner.size === 0) continue;
                const records = await connector.fetch(entity, [...owner.keys()], undefined, { deadline: Date.now() + 600_000 });
                if (several.size > 0) records.sort((a, b) => (rank.get(a.code) as number) - (rank.get(b.code) as number));
                for (const r of records) {
                  const i = owner.get(r.code);
                  if (i !== undefined) rows.add(i, r, !several.has(i));
                }
              }
              packed.set(`${source}/${entity}`, rows);
              log(`${source}/${entity}: ${rows.rows.toLocaleString('en-US')} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
            }),
        );
      } finally {
        await connector.close();
      }
    }),
  );

  return {
    skuCount: n,
    recordCount: () => [...packed.values()].reduce((k, p) => k + p.rows, 0),
    skus(asked: readonly string[]): Map<string, CanonicalSku> {
      const out = new Map<string, CanonicalSku>();
      for (const s of asked) {
        const i = skuIndex.get(s);
        if (i === undefined || out.has(s)) continue;
        const aliases: CanonicalSku['aliases'] = [];
        for (let k = starts[i] as number; k < (starts[i + 1] as number); k++)
          aliases.push({ system: systems.list[systemOf[k] as number] as string, code: aliasCode[k] as string });
        out.set(s, { sku: s, name: name[i] ?? null, aliases });
      }
      return out;
    },
    read<E extends Entity>(entity: E, sources: readonly string[], skus: readonly CanonicalSku[]): Map<string, Map<string, RecordOf[E][]>> {
      const out = new Map<string, Map<string, RecordOf[E][]>>();
      for (const source of sources) {
        const rows = packed.get(`${source}/${entity}`) as Packed<RecordOf[E]> | undefined;
        const bySku = new Map<string, RecordOf[E][]>();
        for (const s of skus) {
          const i = skuIndex.get(s.sku);
          if (rows === undefined || i === undefined) {
            bySku.set(s.sku, []);
            continue;
          }
          const codes = codesOf(source, i);
          bySku.set(s.sku, codes.length === 0 ? [] : rows.records(i, codes[0] as string));
        }
        out.set(source, bySku);
      }
      return out;
    },
  };
}

// last: the classes above are initialised before the top-level await runs
const { values } = parseArgs({
  options: { config: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
if (values.config === undefined) throw new Error('--config FILE is required');

const log = (m: string) => process.stderr.write(`limit: ${m}\n`);
const started = performance.now();
const config = loadConfig(values.config);
const memory = await load(config);
log(
  `loaded ${memory.skuCount.toLocaleString('en-US')} SKUs and ${memory.recordCount().toLocaleString('en-US')} records in ${((performance.now() - started) / 1000).toFixed(1)} s; RSS ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MiB`,
);
const answers = createAnswers(config);
const reads: Reads = {
  skus: (skus) => Promise.resolve(memory.skus(skus)),
  read: (entity, sources, skus) => Promise.resolve(memory.read(entity, sources, skus)),
  anomalies: () => Promise.resolve(),
};
const none = new Map<string, number>();
serveAnswers(async (body) => ({ data: await answers.answer(body, reads), statements: none }), {
  host: values.host,
  port: Number(values.port),
  onStop: () => Promise.resolve(),
});
