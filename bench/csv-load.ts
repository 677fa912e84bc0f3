/**
 * A 3PL file source under a large file: generates a CSV of `--rows` rows (about 46 bytes a row,
 * like the 3PL file of 4.6 M rows and 219 MB that took the source out), then, in a child process
 * of its own so that its peak RSS (VmHWM) is the connector's alone:
 *
 * 1. loads it through the real connector (`createCsvConnector`, the first load, waited for);
 * 2. makes a newer file appear (a hard link with a later date in its name: the same bytes, so a
 *    full reload) and reads one SKU every 10 ms through the resilience layer, as the server
 *    does, until the reload is done: how many reads answered, failed or were refused, how long
 *    the slowest one took, and the longest the event loop was blocked meanwhile (what any other
 *    request would have waited on top of its own work).
 *
 * Reports load time, peak RSS and the heap kept after a forced GC, for both steps.
 *
 *   npx tsx bench/csv-load.ts --rows 1000000 [--timeout-ms 2000] [--max-rows N] [--max-file-bytes N]
 *
 * The `--max-*` flags are passed to the source config only when given (they exist since the
 * limits were added).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, linkSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { csvSourceSchema } from '../src/config/schema.js';
import { createLogger } from '../src/logger.js';
import { createCsvConnector } from '../src/sources/csv.js';
import { SourceHealthRegistry } from '../src/sources/health.js';
import { resilienceSettings, withResilience } from '../src/sources/resilience.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'timeout-ms': { type: 'string', default: '2000' },
    'max-rows': { type: 'string' },
    'max-file-bytes': { type: 'string' },
    child: { type: 'string' },
  },
});

const HEADER = 'client_sku,facility,lot,on_hand,allocated,snapshot_at\n';
/** Two rows per SKU, one per facility: every row is a (sku, location) of its own, the snapshot's worst case. */
const row = (i: number) => `SKU-${String(i >> 1).padStart(7, '0')},W0${1 + (i & 1)},L1,${(i * 7) % 500},${i % 5},2026-11-24T21:00:00Z\n`;

interface ChildResult {
  rows: number;
  loadMs: number;
  loadPeakRssMiB: number;
  heapAfterLoadMiB: number;
  reloadMs: number;
  reloadPeakRssMiB: number;
  heapAfterReloadMiB: number;
  reads: { answered: number; failed: number; refused: number; slowestMs: number; reasons: string[] };
  /** The event loop's delay during the reload, in ms. */
  loopDelay: { p99Ms: number; maxMs: number };
}

const mib = (bytes: number) => Math.round(bytes / 1_048_576);
/** Peak resident set size of this process so far, from /proc/self/status (VmHWM, in kB). */
function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m === null ? Number.NaN : Math.round(Number(m[1]) / 1024);
}
/** Heap and typed arrays still held after full collections (typed arrays' memory is freed by a sweep that follows a GC). */
async function heapAfterGcMiB(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = process.memoryUsage();
  return mib(m.heapUsed + m.arrayBuffers);
}

async function writeFile(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write(HEADER);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += row(i);
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = '';
    }
  }
  out.write(chunk);
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

async function child(dir: string): Promise<ChildResult> {
  const limits = {
    ...(args['max-rows'] === undefined ? {} : { maxRows: Number(args['max-rows']) }),
    ...(args['max-file-bytes'] === undefined ? {} : { maxFileBytes: Number(args['max-file-bytes']) }),
  };
  const config = csvSourceSchema.parse({
    kind: 'csv',
    path: join(dir, 'inventory-*.csv'),
    checkIntervalMs: 0,
    timeoutMs: Number(args['timeout-ms']),
    stock: { columns: { sku: 'client_sku', location: 'facility', onHand: 'on_hand', committed: 'allocated', asOf: 'snapshot_at' } },
    ...limits,
  });
  const loaded: string[] = [];
  const rejected: string[] = [];
  const inner = createCsvConnector('tpl', config, { events: { loaded: (l) => loaded.push(l.file), rejected: (r) => rejected.push(r.reason) } });
  const source = withResilience(inner, resilienceSettings(config), { health: new SourceHealthRegistry(), logger: createLogger('silent') });

  let t = performance.now();
  await inner.ping();
  const loadMs = performance.now() - t;
  const loadPeakRssMiB = peakRssMiB();
  const heapAfterLoadMiB = await heapAfterGcMiB();
  const rows = inner.state().rows;

  // a newer file with the same bytes: the connector reloads it whole
  linkSync(join(dir, 'inventory-2026-11-24.csv'), join(dir, 'inventory-2026-11-25.csv'));
  const reads = { answered: 0, failed: 0, refused: 0, slowestMs: 0, reasons: [] as string[] };
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  t = performance.now();
  while (loaded.length < 2 && rejected.length === 0) {
    const started = performance.now();
    try {
      await source.fetch('stock', ['SKU-0000001']);
      reads.answered++;
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      if (kind === 'circuit-open' || kind === 'overloaded') reads.refused++;
      else reads.failed++;
      const reason = (e as Error).message;
      if (!reads.reasons.includes(reason)) reads.reasons.push(reason);
    }
    reads.slowestMs = Math.max(reads.slowestMs, Math.round(performance.now() - started));
    await new Promise((r) => setTimeout(r, 10));
  }
  const reloadMs = performance.now() - t;
  delay.disable();
  const loopDelay = { p99Ms: Math.round(delay.percentile(99) / 1e6), maxMs: Math.round(delay.max / 1e6) };
  if (rejected.length > 0) reads.reasons.push(`reload refused: ${rejected.join('; ')}`);
  const reloadPeakRssMiB = peakRssMiB();
  const heapAfterReloadMiB = await heapAfterGcMiB();
  // the connector stays reachable until here, or the collection above would take its snapshot too
  if (inner.state().rows !== rows) throw new Error(`reloaded ${inner.state().rows} rows, not ${rows}`);
  return { rows, loadMs, loadPeakRssMiB, heapAfterLoadMiB, reloadMs, reloadPeakRssMiB, heapAfterReloadMiB, reads, loopDelay };
}

async function main(): Promise<void> {
  const rows = Number(args.rows);
  const dir = mkdtempSync(join(tmpdir(), 'ig-bench-csv-'));
  try {
    const file = join(dir, 'inventory-2026-11-24.csv');
    let t = performance.now();
    await writeFile(file, rows);
    const bytes = statSync(file).size;
    console.log(`generated ${rows.toLocaleString('en')} rows, ${mib(bytes)} MiB (${bytes} bytes) in ${Math.round(performance.now() - t)} ms`);

    t = performance.now();
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, ...process.argv.slice(2), '--child', dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited with ${code}`))));
    });
    const r = JSON.parse(out) as ChildResult;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`machine: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Linux ${release()}`);
    console.log(`first load: ${r.rows.toLocaleString('en')} rows in ${s(r.loadMs)}, peak RSS ${r.loadPeakRssMiB} MiB, heap kept ${r.heapAfterLoadMiB} MiB`);
    console.log(`reload:     ${s(r.reloadMs)}, peak RSS ${r.reloadPeakRssMiB} MiB, heap kept ${r.heapAfterReloadMiB} MiB`);
    console.log(
      `reads during the reload (one every 10 ms, deadline ${args['timeout-ms']} ms): ${r.reads.answered} answered, ${r.reads.failed} failed, ${r.reads.refused} refused; slowest ${r.reads.slowestMs} ms`,
    );
    if (r.reads.reasons.length > 0) console.log(`  reasons: ${r.reads.reasons.join(' | ')}`);
    console.log(`event loop delay during the reload: p99 ${r.loopDelay.p99Ms} ms, max ${r.loopDelay.maxMs} ms`);
    console.log(`child total ${s(performance.now() - t)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.child !== undefined) {
  child(args.child).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  await main();
}
