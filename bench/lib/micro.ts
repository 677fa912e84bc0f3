/**
 * In-process microbenchmarks for the library-versus-hand-written comparisons
 * (bench/resilience-overhead.ts, bench/loader-overhead.ts): several contenders measured in
 * one process, reported as the median of several rounds with the lowest and highest round
 * beside it. The machine is shared and its load changes by the second, so
 *
 * - within a round the contenders take turns in ten slices (the order rotating), so each one's
 *   round spans the same stretch of time, and two contenders are best compared by their
 *   round-by-round differences (`differences`): a difference whose rounds do not all agree in
 *   sign is noise;
 * - time is this process's CPU time (user + system, all its threads, so GC included), not wall
 *   time, which also counts what the scheduler gave to other processes (wall time is reported
 *   too);
 * - heap: after a full GC, the bytes the heap grew by over `heapOps` operations, per operation,
 *   sampled after the round's timings (a full GC slows the next thousands of operations): what
 *   one operation allocates and has not released yet; a sample during which a GC ran is taken
 *   again, up to 5 times, then reported as NaN.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cpus, totalmem } from 'node:os';

// gc() without a command-line flag: the benchmark runs as plain `npx tsx bench/....ts`
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** GCs that ran since start, not counting the ones gc() forced. */
let gcRuns = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const flags = (e as PerformanceEntry & { detail?: { flags?: number } }).detail?.flags ?? 0;
    if ((flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) gcRuns++;
  }
}).observe({ entryTypes: ['gc'] });

/** A contender: runs `n` operations (awaiting them as the scenario says). */
export interface Contender {
  name: string;
  run(n: number): Promise<void>;
}

export interface Options {
  rounds: number;
  /** Operations per timed round. */
  ops: number;
  /** Operations per heap sample (small enough that no GC runs in between). */
  heapOps: number;
  /** Operations before the first round, per contender. */
  warmupOps: number;
}

export interface Figures {
  name: string;
  /** CPU µs per operation, one per round. */
  us: number[];
  /** Wall-clock µs per operation, one per round. */
  wall: number[];
  /** Bytes of heap per operation, one per round. */
  bytes: number[];
}

/** Slices per round, taken in turn by the contenders. */
const SLICES = 10;

const tick = () => new Promise<void>((r) => setImmediate(r));

async function heapSample(c: Contender, ops: number): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    gc();
    gc();
    await tick();
    const seen = gcRuns;
    const before = process.memoryUsage().heapUsed;
    await c.run(ops);
    const after = process.memoryUsage().heapUsed;
    // GC entries arrive a task later
    await tick();
    await tick();
    if (gcRuns === seen) return (after - before) / ops;
  }
  return Number.NaN;
}

export async function measure(contenders: readonly Contender[], o: Options): Promise<Figures[]> {
  for (const c of contenders) await c.run(o.warmupOps);
  const out = contenders.map((c): Figures => ({ name: c.name, us: [], wall: [], bytes: [] }));
  const order = (turn: number) => contenders.map((_, k) => (k + turn) % contenders.length);
  const slice = Math.ceil(o.ops / SLICES);
  for (let round = 0; round < o.rounds; round++) {
    const cpu = contenders.map(() => 0);
    const wall = contenders.map(() => 0);
    // the machine's load changes by the second: contenders take turns in slices of the round,
    // so each one's round spans the same stretch of time
    for (let s = 0; s < SLICES; s++) {
      for (const i of order(round + s)) {
        await tick();
        const c0 = process.cpuUsage();
        const t = performance.now();
        await (contenders[i] as Contender).run(slice);
        wall[i] = (wall[i] as number) + (performance.now() - t) * 1000;
        const used = process.cpuUsage(c0);
        cpu[i] = (cpu[i] as number) + used.user + used.system;
      }
    }
    out.forEach((f, i) => {
      f.us.push((cpu[i] as number) / (slice * SLICES));
      f.wall.push((wall[i] as number) / (slice * SLICES));
    });
    // after the round's timings: a full GC before a timed run slows it for thousands of operations
    for (const i of order(round)) (out[i] as Figures).bytes.push(await heapSample(contenders[i] as Contender, o.heapOps));
    // and a round's worth of untimed work to settle again
    for (const c of contenders) await c.run(slice);
  }
  return out;
}

/** The rounds' differences `b − a`, round by round (they ran side by side). */
export function differences(a: Figures, b: Figures): number[] {
  return a.us.map((x, i) => (b.us[i] as number) - x);
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** `median (lowest–highest)` with the given decimals. */
export function spread(xs: readonly number[], digits: number): string {
  const s = xs.filter((x) => !Number.isNaN(x));
  if (s.length === 0) return 'n/a';
  return `${median(s).toFixed(digits)} (${Math.min(...s).toFixed(digits)}–${Math.max(...s).toFixed(digits)})`;
}

/** Whether `a` and `b` differ beyond noise: their rounds' ranges do not overlap. */
export function apart(a: readonly number[], b: readonly number[]): boolean {
  return Math.max(...a) < Math.min(...b) || Math.max(...b) < Math.min(...a);
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}
