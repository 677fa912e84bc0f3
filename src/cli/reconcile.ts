/**
 * `inventory-graph reconcile`: reconciles the whole catalogue, a page of the SKU map at a time
 * (memory stays bounded whatever the catalogue's size), and writes to --out:
 *
 *   lines.csv      one row per (sku, location): status, authoritative source and quantity, the
 *                  worst comparison's variance / explained / unexplained, and every system's on-hand
 *   gaps.csv       SKUs a source should hold and does not (or that no stock source has a code for)
 *   orphans.csv    codes a source holds that no canonical SKU maps
 *   summary.json   counts by status, variance totals, the largest discrepancies, statements sent
 *
 * The files are written under temporary names (`lines.csv.<run>.partial`, ...) and renamed only
 * when the run completes, summary.json last. A run that fails removes its partial files and
 * writes failed.json instead (status `failed`, the error naming the source, the failed sources):
 * it never creates or replaces lines.csv, gaps.csv, orphans.csv or summary.json, so a previous
 * good run's files in the same directory stay as they were. A run that completes removes a
 * failed.json left in the directory by an earlier failed run.
 *
 * The CSV files are written by csv-out.ts: text cells guarded against spreadsheet formula
 * injection (a leading `'` before `=`, `+`, `-`, `@`, a tab or a carriage return), figures as
 * plain numbers (a negative variance stays `-5`).
 *
 * The run's findings (its lines that were not MATCH) are written to the store batch by batch, as
 * lines.csv is, and queryable as `ReconciliationRun.findings`; those of the last
 * `reconcile.keepRuns` completed runs are kept, a failed run's are removed.
 *
 * The run is recorded in the store (`reconciliationRuns`), discrepancies past tolerance, orphans
 * and stale sources are recorded as anomalies (and sent to the webhook, if configured). Progress
 * is shown only when stdout is a terminal. Exit codes: 0 done; 1 with --fail-on-discrepancy when
 * some unexplained variance exceeds the tolerance; 2 bad flags or config; 3 a source failed (the
 * run is recorded as failed: a reconciliation without one of the systems would mislead).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { configFile, loadConfig, type Config } from '../config/index.js';
import { describeFailure } from '../service/inventory-service.js';
import { addToSummary, emptySummary, orphanAnomaly, type Gap, type ReconciliationLine, type ReconciliationSummary } from '../domain/reconciliation.js';
import { orphanPage } from '../service/reconciler.js';
import { createRuntime } from '../service/runtime.js';
import { createLogger, errorFields, type LogLevel } from '../logger.js';
import { countingMeter, type Connector } from '../sources/connector.js';
import type { NewAnomaly } from '../store/index.js';
import { wholeNumber, type ParsedArgs } from './args.js';
import { csvRows, type CsvCell } from './csv-out.js';

export interface ReconcileOptions {
  config: Config;
  outDir: string;
  tolerance: number;
  /** SKUs per page of the SKU map. Defaults to 1000. */
  batch?: number;
  /** Codes per page when looking for orphans. Defaults to 5000. */
  codePage?: number;
  /** Progress lines (with `\r`), or nothing. */
  progress?: (line: string, done: boolean) => void;
  logLevel?: LogLevel;
  now?: () => Date;
}

export interface ReconcileResult {
  runId: string;
  status: 'completed' | 'failed';
  /** Why the run failed (naming the source), or null. */
  error: string | null;
  summary: ReconciliationSummary & { skus: number; orphans: number };
  failedSources: { source: string; reason: string }[];
  /** Where the files are: for a failed run only `failed` exists (the others were not written). */
  files: { lines: string; gaps: string; orphans: string; summary: string; failed: string };
}

const TOP = 20;

/** Writes text to a file, waiting when the stream's buffer is full (bounded memory on big runs). */
function writer(path: string) {
  const out: WriteStream = createWriteStream(path);
  let failed: Error | undefined;
  out.on('error', (e) => (failed = e));
  return {
    async write(text: string) {
      if (failed) throw failed;
      if (!out.write(text)) await new Promise<void>((r) => out.once('drain', r));
    },
    close: () =>
      new Promise<void>((res, rej) => {
        out.end((e?: Error | null) => (e || failed ? rej(e ?? failed) : res()));
      }),
  };
}

/**
 * The columns of lines.csv, with one on-hand and one in-flight column per stock source, and last
 * the line's explanation with its documents ("explained by pickedNotInvoiced of SAL-ORD-42");
 * figures are numbers (csv-out.ts).
 */
export function lineHeader(sources: readonly string[]): string[] {
  return [
    'sku',
    'location',
    'status',
    'authoritative',
    'quantity',
    'variance',
    'explained',
    'unexplained',
    'worst_source',
    'systems',
    ...sources.flatMap((s) => [`${s}_on_hand`, `${s}_in_flight`]),
    'explanation',
  ];
}

export function lineRow(l: ReconciliationLine, sources: readonly string[]): CsvCell[] {
  const by = new Map(l.systems.map((f) => [f.source, f]));
  return [
    l.sku,
    l.location.id,
    l.status,
    l.authoritative,
    l.quantity,
    l.variance,
    l.explained,
    l.unexplained,
    l.worstSource,
    l.systems.map((f) => f.source).join('|'),
    ...sources.flatMap((s) => {
      const f = by.get(s);
      return f === undefined ? [null, null] : [f.onHand, f.movements.reduce((n, m) => n + m.quantity, 0)];
    }),
    l.explanation,
  ];
}

export async function runReconcile(o: ReconcileOptions): Promise<ReconcileResult> {
  const { config } = o;
  const now = o.now ?? (() => new Date());
  const logger = createLogger(o.logLevel ?? 'warn');
  const batchSize = o.batch ?? 1000;
  const codePage = o.codePage ?? 5000;
  const runtime = await createRuntime(config, { logger, health: false, now });
  const { store, runs, connectors, settings, locations } = runtime;
  const reconciler = runtime.reconciler();
  const sources = reconciler.stockSources();
  const statements = new Map<string, number>();
  const meter = countingMeter(statements);

  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const paths = {
    lines: join(outDir, 'lines.csv'),
    gaps: join(outDir, 'gaps.csv'),
    orphans: join(outDir, 'orphans.csv'),
    summary: join(outDir, 'summary.json'),
    failed: join(outDir, 'failed.json'),
  };
  const startedAt = now();
  const runId = await runs.start({ startedAt, tolerance: o.tolerance, outDir });
  // written under these names, renamed to `paths` when the run completes (removed when it fails)
  const partial = (p: string) => `${p}.${runId}.partial`;
  const written = ['lines', 'gaps', 'orphans', 'summary'] as const;
  const summary = emptySummary();
  let skus = 0;
  let orphans = 0;
  let findings = 0;
  const failedSources: { source: string; reason: string }[] = [];
  const top: ReconciliationLine[] = [];
  const orphanSample: { source: string; code: string }[] = [];
  const gapSample: Gap[] = [];
  const lines = writer(partial(paths.lines));
  const gaps = writer(partial(paths.gaps));
  const orphanOut = writer(partial(paths.orphans));
  const total = await store.skus.count();
  const t0 = performance.now();
  const say = (done: boolean) => {
    const pct = total === 0 ? 100 : Math.floor((skus / total) * 100);
    o.progress?.(
      `reconcile: ${skus.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} SKUs (${pct}%), ${summary.discrepancies.toLocaleString('en-US')} discrepancies, ${((performance.now() - t0) / 1000).toFixed(1)}s`,
      done,
    );
  };
  const record = async (list: NewAnomaly[]) => {
    if (list.length === 0) return;
    try {
      await store.anomalies.record(list);
    } catch (e) {
      logger.error('could not record anomalies', errorFields(e));
    }
  };

  let status: 'completed' | 'failed' = 'completed';
  let error: string | null = null;
  try {
    await lines.write(csvRows([lineHeader(sources)]));
    await gaps.write(csvRows([['sku', 'source', 'reason', 'detail']]));
    await orphanOut.write(csvRows([['source', 'code']]));
    let after: string | null = null;
    for (;;) {
      const page = await store.skus.page(batchSize, after);
      if (page.skus.length === 0) break;
      const r = await reconciler.batch(page.skus, { locations: locations.all, tolerance: o.tolerance, meter });
      if (r.failures.length > 0) {
        for (const f of r.failures) failedSources.push({ source: f.source, reason: describeFailure(f.error) });
        throw new Error(
          `source${r.failures.length > 1 ? 's' : ''} ${r.failures.map((f) => `"${f.source}"`).join(', ')} failed: ${failedSources.map((f) => f.reason).join('; ')}`,
        );
      }
      const rows: CsvCell[][] = [];
      for (const l of r.lines) {
        rows.push(lineRow(l, sources));
        if (l.status === 'DISCREPANCY') keepTop(top, l);
      }
      await lines.write(csvRows(rows));
      // the run's findings (lines not MATCH), queryable as ReconciliationRun.findings, written as lines.csv is
      const found = r.lines.filter((l) => l.status !== 'MATCH');
      if (found.length > 0) {
        await runs.addFindings(runId, findings + 1, found);
        findings += found.length;
      }
      for (const gap of r.gaps) if (gapSample.length < 100) gapSample.push(gap);
      if (r.gaps.length > 0) await gaps.write(csvRows(r.gaps.map((gap) => [gap.sku, gap.source, gap.reason, gap.detail])));
      addToSummary(summary, r.lines, r.gaps.length);
      await record(r.anomalies);
      skus += page.skus.length;
      say(false);
      if (!page.hasNextPage) break;
      after = page.skus.at(-1)?.sku ?? null;
    }
    for (const source of sources) {
      const c = connectors.get(source) as Connector;
      if (c.listCodes === undefined) continue;
      const canonical = settings.get(source)?.skuCodes === 'canonical';
      let cursor: string | null = null;
      do {
        let p: Awaited<ReturnType<typeof orphanPage>>;
        try {
          p = await orphanPage(c, canonical, (s, codes, canon) => runs.knownCodes(s, codes, canon), cursor, codePage, meter);
        } catch (e) {
          failedSources.push({ source, reason: describeFailure(e) });
          throw new Error(`source "${source}" failed while listing its codes: ${describeFailure(e)}`, { cause: e });
        }
        if (p.orphans.length > 0) {
          await orphanOut.write(csvRows(p.orphans.map((code) => [source, code])));
          for (const code of p.orphans) if (orphanSample.length < 100) orphanSample.push({ source, code });
          orphans += p.orphans.length;
          await record(p.orphans.map((code) => orphanAnomaly(source, code)));
        }
        cursor = p.next;
      } while (cursor !== null);
    }
  } catch (e) {
    status = 'failed';
    error = (e as Error).message;
    logger.error('reconciliation failed', errorFields(e));
  } finally {
    say(true);
    const closed = await Promise.allSettled([lines.close(), gaps.close(), orphanOut.close()]);
    const bad = closed.find((c) => c.status === 'rejected');
    if (bad !== undefined && status === 'completed') {
      status = 'failed';
      error = `could not write the files in ${outDir}: ${(bad.reason as Error).message}`;
    }
  }

  const finishedAt = now();
  const result: ReconcileResult = {
    runId,
    status,
    error,
    summary: { ...summary, skus, orphans },
    failedSources,
    files: paths,
  };
  const failedJson = {
    runId,
    status,
    error,
    failedSources,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    tolerance: o.tolerance,
    skusBeforeFailure: skus,
    note: 'this run failed: it wrote no lines.csv, gaps.csv, orphans.csv or summary.json (any in this directory are from an earlier run)',
    statements: Object.fromEntries([...statements].sort()),
  };
  const json = {
    runId,
    status,
    ...(error !== null ? { error } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    tolerance: o.tolerance,
    skus,
    lines: summary.lines,
    byStatus: { MATCH: summary.matched, EXPLAINED: summary.explained, WITHIN_TOLERANCE: summary.withinTolerance, DISCREPANCY: summary.discrepancies },
    variance: { absolute: summary.absVariance, explained: summary.absExplained, unexplained: summary.absUnexplained },
    gaps: { count: summary.gaps, sample: gapSample },
    orphans: { count: orphans, sample: orphanSample },
    largestDiscrepancies: top.map((l) => ({
      sku: l.sku,
      location: l.location.id,
      authoritative: l.authoritative,
      quantity: l.quantity,
      source: l.worstSource,
      variance: l.variance,
      explained: l.explained,
      unexplained: l.unexplained,
    })),
    failedSources,
    statements: Object.fromEntries([...statements].sort()),
    files: paths,
  };
  try {
    if (status === 'completed') {
      try {
        const s = writer(partial(paths.summary));
        await s.write(`${JSON.stringify(json, null, 2)}\n`);
        await s.close();
        // summary.json last: once it is there, the three CSV files beside it are this run's
        for (const k of written) await rename(partial(paths[k]), paths[k]);
        await rm(paths.failed, { force: true });
      } catch (e) {
        status = 'failed';
        error = `could not write the files in ${outDir}: ${(e as Error).message}`;
        result.status = status;
        result.error = error;
        failedJson.status = status;
        failedJson.error = error;
      }
    }
    if (status === 'failed') {
      await Promise.allSettled(written.map((k) => rm(partial(paths[k]), { force: true })));
      const f = writer(partial(paths.failed));
      await f.write(`${JSON.stringify(failedJson, null, 2)}\n`);
      await f.close();
      await rename(partial(paths.failed), paths.failed);
    }
    // a failed run keeps no findings: what it wrote would look like a whole run's (the API answers a FAILED run's findings empty in any case)
    if (status === 'failed') await runs.deleteFindings(runId).catch((e: unknown) => logger.error('could not remove the failed run’s findings', errorFields(e)));
    await runs.finish(runId, {
      finishedAt,
      status,
      error,
      counts: {
        skus,
        lines: summary.lines,
        matched: summary.matched,
        explained: summary.explained,
        withinTolerance: summary.withinTolerance,
        discrepancies: summary.discrepancies,
        orphans,
        gaps: summary.gaps,
        absVariance: summary.absVariance,
        absExplained: summary.absExplained,
        absUnexplained: summary.absUnexplained,
      },
    });
    if (status === 'completed') {
      await runs.pruneFindings(config.reconcile.keepRuns).catch((e: unknown) => logger.error('could not remove older runs’ findings', errorFields(e)));
    }
  } finally {
    // refused files were queued as anomalies (fileEventsFor, src/service/runtime.ts): written before the webhook drains
    await runtime.close({ flushMs: 10_000 });
  }
  return result;
}

/** Keeps the TOP lines with the largest |unexplained|. */
function keepTop(top: ReconciliationLine[], l: ReconciliationLine): void {
  if (top.length === TOP && Math.abs(l.unexplained) <= Math.abs((top.at(-1) as ReconciliationLine).unexplained)) return;
  top.push(l);
  top.sort((a, b) => Math.abs(b.unexplained) - Math.abs(a.unexplained));
  if (top.length > TOP) top.pop();
}

/** The command, for flags already read (src/cli/commands.ts): the run; returns the exit code. */
export async function reconcileCommand({ values }: ParsedArgs): Promise<number> {
  const tolerance = wholeNumber(values.tolerance, '--tolerance', 0, 1_000_000_000) ?? 0;
  const batch = wholeNumber(values.batch, '--batch', 1, 1000);
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = typeof values.out === 'string' ? values.out : join('reconciliation', stamp);
  const tty = process.stdout.isTTY === true;
  const result = await runReconcile({
    config,
    outDir,
    tolerance,
    ...(batch !== undefined ? { batch } : {}),
    logLevel: config.log.level ?? 'warn',
    progress: tty ? (line, done) => process.stdout.write(`\r${line}\u001b[K${done ? '\n' : ''}`) : undefined,
  });
  const s = result.summary;
  if (result.status === 'failed') {
    const why = result.failedSources.map((f) => `${f.source} (${f.reason})`).join(', ') || result.error || 'see the log';
    process.stdout.write(
      `Reconciliation run ${result.runId} failed: ${result.error ?? why}\n` +
        `No lines.csv, gaps.csv, orphans.csv or summary.json written; the failure is in ${result.files.failed}.\n`,
    );
    process.stderr.write(`inventory-graph reconcile: failed: ${why}\n`);
    return 3;
  }
  process.stdout.write(
    `Reconciliation run ${result.runId} ${result.status}: ${s.skus} SKUs, ${s.lines} lines: ${s.matched} match, ${s.explained} explained, ` +
      `${s.withinTolerance} within tolerance (${tolerance}), ${s.discrepancies} discrepancies; ${s.gaps} gaps, ${s.orphans} orphan codes.\n` +
      `Unexplained variance: ${s.absUnexplained} units of ${s.absVariance}. Written to ${resolve(outDir)} (lines.csv, gaps.csv, orphans.csv, summary.json).\n`,
  );
  return values['fail-on-discrepancy'] === true && s.discrepancies > 0 ? 1 : 0;
}
