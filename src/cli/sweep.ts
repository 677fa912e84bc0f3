/**
 * `inventory-graph sweep`: one sweep now (src/service/sweep.ts), as the server runs it every
 * `sweep.intervalSeconds`: every negative on-hand, orphan code and stale source over the whole
 * catalogue is recorded as an anomaly, and the open ones whose condition cleared are resolved by
 * `sweep`. Prints a line for the run and one per kind. Exit codes: 0 completed; 1 partial (some
 * source failed: its anomalies were left open); 2 a usage or config error; 3 the run failed
 * (the store).
 */
import { configFile, loadConfig } from '../config/index.js';
import { SWEPT_KINDS } from '../domain/anomalies.js';
import type { SweepRun } from '../domain/sweep.js';
import { createLogger } from '../logger.js';
import { createRuntime } from '../service/runtime.js';
import type { ParsedArgs } from './args.js';

export async function sweepCommand({ values }: ParsedArgs): Promise<number> {
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  const logger = createLogger(config.log.level ?? 'warn');
  // bare connectors, as the reconcile job reads them: a whole-catalogue run is not a request with a deadline
  let runtime;
  try {
    runtime = await createRuntime(config, { logger, health: false });
  } catch (e) {
    process.stderr.write(`inventory-graph sweep: failed: the store could not be opened: ${(e as Error).message}\n`);
    return 3;
  }
  try {
    const r = await runtime.sweep.run();
    process.stdout.write(describeSweep(r));
    if (r.status === 'FAILED') process.stderr.write(`inventory-graph sweep: failed: ${r.error ?? 'unknown error'}\n`);
    return r.status === 'COMPLETED' ? 0 : r.status === 'PARTIAL' ? 1 : 3;
  } finally {
    await runtime.close({ flushMs: 5_000 });
  }
}

/** The run on one line, one line per kind found and resolved, then each source that failed. */
export function describeSweep(r: SweepRun): string {
  const head = `Sweep of ${r.startedAt.toISOString()} ${r.status}: ${r.skus} SKUs, ${r.codes} codes listed, ${r.statements} source statements; ${r.found} found, ${r.resolved} resolved\n`;
  const kinds = SWEPT_KINDS.map((k) => `  ${k}: ${r.byKind[k].found} found, ${r.byKind[k].resolved} resolved\n`).join('');
  const failures = r.failures.map((f) => `  failed: ${f.source}: ${f.error} (its anomalies were left open)\n`).join('');
  return head + kinds + failures;
}
