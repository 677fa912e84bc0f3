/**
 * The sweep (`sweep:` in the config, docs/anomalies.md): one run walks the whole catalogue in SKU
 * order, a batch of `server.maxSkusPerQuery` SKUs at a time, through the availability read that
 * requests use (src/service/inventory-service.ts: the same precedence, rules and NEGATIVE_ON_HAND
 * anomalies), lists every stock source's codes to the end for orphans (`orphanPage`, as
 * `orphanCodes` and the reconcile job do), and judges each source's freshness by the newest usable
 * figure it gave. Everything found is recorded at once (`record`, awaited: not the request queue);
 * then, per swept kind, the open anomalies it no longer found are resolved by `sweep`
 * (`resolveCleared`, through the workflow, so each sends its anomaly.resolved event), only for
 * the sources it read in full: a source that failed keeps its anomalies open.
 *
 * A failed store, or a server that is stopping, ends the run as FAILED and resolves nothing. One
 * run at a time per process: a run asked while one is under way joins it. The server runs it
 * every `sweep.intervalSeconds` (first after `startAfterSeconds`); `inventory-graph sweep` once.
 *
 * Cost of one run on a live source: one statement per batch of SKUs per source availability
 * reads (precedence.quantity), plus one per page of 1,000 codes per stock source listed; a
 * mirrored source answers the batches from memory and costs its code pages only.
 */
import { SWEEP_ACTOR, SWEPT_KINDS, type NewAnomaly } from '../domain/anomalies.js';
import type { StockRecord } from '../domain/records.js';
import { orphanAnomaly } from '../domain/reconciliation.js';
import { clearedNote, finishedStatus, staleSource, startedRun, type SweepRun, type SweepStatus, type SweptKind } from '../domain/sweep.js';
import { stockProblem } from '../domain/validation.js';
import { errorFields, type Logger } from '../logger.js';
import { countingMeter, type Connector } from '../sources/connector.js';
import type { Store } from '../store/index.js';
import { createInventoryService, describeFailure, type InventoryDeps } from './inventory-service.js';
import { orphanPage, type KnownCodes } from './reconciler.js';

export interface SweepSettings {
  /** 0: only when asked (`inventory-graph sweep`). */
  intervalSeconds: number;
  startAfterSeconds: number;
  /** A pause between two batches of SKUs, in ms. */
  pauseMs: number;
}

export interface SweepDeps {
  settings: SweepSettings;
  /** What requests read availability with: the sweep reads through the same service (batch: its `maxSkusPerQuery`). */
  inventory: InventoryDeps;
  /** The stock sources whose codes are listed for orphans, in order (the reconciler's `stockSources`). */
  stockSources: () => string[];
  /** Which of a page of a source's codes the SKU map knows (the reconciliation store's `knownCodes`). */
  knownCodes: KnownCodes;
  logger: Logger;
  now?: () => Date;
  /** The fleet's one sweep (src/service/leases.ts): scheduled runs only on its holder, which stops at its next batch once it lost it. */
  lease?: { held(): boolean };
}

/** Codes asked of a source per statement when listing them for orphans (as `orphanCodes` pages them). */
export const CODE_PAGE = 1000;

/** Thrown between batches when the sweep is stopped. */
class Stopped extends Error {
  constructor(message = 'stopped: the server is stopping') {
    super(message);
  }
}

/** The store failed: the run cannot go on (nothing it found could be kept, nothing resolved). */
class StoreFailed extends Error {}

const isSwept = (kind: string): kind is SweptKind => (SWEPT_KINDS as readonly string[]).includes(kind);

export function createSweep(deps: SweepDeps) {
  const now = deps.now ?? (() => new Date());
  const { settings, logger } = deps;
  const { store, connectors } = deps.inventory;
  const batch = deps.inventory.maxSkusPerQuery;

  let running: Promise<SweepRun> | undefined;
  let last: SweepRun | null = null;
  /** Orphans per source, from the newest run that listed it to its end. */
  const orphans = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let nextAt: Date | null = null;
  let stopping = false;
  /** The run under way is the schedule's (held to the lease), not one asked for (`inventory-graph sweep`, a test). */
  let scheduled = false;
  /** Ends the pause between batches early when stopping. */
  let wake: (() => void) | undefined;

  /** The sources availability reads stock from (precedence.quantity, where a location has a code for them). */
  function quantitySources(): string[] {
    const { precedence, locations } = deps.inventory;
    return precedence.order('quantity').filter((s) => connectors.get(s)?.entities.has('stock') === true && locations.all.some((l) => l.codes[s] !== undefined));
  }

  /** A connector that tells `seen` each stock record it returns (for the source's newest figure), and reads as `c` does. */
  function observed(c: Connector, seen: (source: string, records: readonly StockRecord[]) => void): Connector {
    const fetch: Connector['fetch'] = async (entity, codes, meter, options) => {
      const records = await c.fetch(entity, codes, meter, options);
      if (entity === 'stock') seen(c.name, records as StockRecord[]);
      return records;
    };
    return { name: c.name, kind: c.kind, entities: c.entities, fetch, ping: (o) => c.ping(o), close: async () => undefined };
  }

  function pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async function runOnce(): Promise<SweepRun> {
    const at = now();
    const run = startedRun(at);
    const statements = new Map<string, number>();
    const meter = countingMeter(statements);
    /** The first failure of each source during the run. */
    const failed = new Map<string, string>();
    const seen = new Map<SweptKind, Set<string>>(SWEPT_KINDS.map((k) => [k, new Set<string>()]));
    /** Each source's newest usable stock figure. */
    const newest = new Map<string, Date>();
    const fail = (source: string, error: string) => {
      if (failed.has(source)) return;
      failed.set(source, error);
      run.failures.push({ source, error });
      logger.warn('source failed during the sweep; its anomalies stay open', { source, error });
    };
    async function record(found: readonly NewAnomaly[]): Promise<void> {
      for (const a of found) if (isSwept(a.kind)) seen.get(a.kind)?.add(store.anomalies.keyOf(a));
      try {
        await store.anomalies.record(found);
      } catch (e) {
        throw new StoreFailed(`the store failed: ${(e as Error).message}`, { cause: e });
      }
    }
    const check = () => {
      if (stopping) throw new Stopped();
      if (scheduled && deps.lease !== undefined && !deps.lease.held()) throw new Stopped('stopped: another instance holds the sweep lease');
    };

    try {
      // 1. the catalogue, as availability reads it
      const views = new Map<string, Connector>();
      for (const [name, c] of connectors)
        views.set(
          name,
          observed(c, (source, records) => {
            const at_ = now();
            for (const r of records) {
              if (stockProblem(r, at_) !== undefined) continue;
              const n = newest.get(source);
              if (n === undefined || r.asOf > n) newest.set(source, r.asOf);
            }
          }),
        );
      let after: string | null = null;
      for (;;) {
        check();
        const found: NewAnomaly[] = [];
        const collecting: Store = { ...store, anomalies: { ...store.anomalies, enqueue: (a: readonly NewAnomaly[]) => void found.push(...a) } };
        const diagnostics = { failures: new Map(), invalidData: new Map(), statements };
        const inventory = createInventoryService({ ...deps.inventory, connectors: views, store: collecting })(diagnostics);
        let page: Awaited<ReturnType<typeof inventory.items>>;
        try {
          page = await inventory.items({ first: batch, after });
          if (page.skus.length > 0) await inventory.availability(page.skus.map((s) => s.sku));
        } catch (e) {
          // a source's failure is noted in the diagnostics, never thrown: this is the store's
          throw new StoreFailed(`the store failed: ${(e as Error).message}`, { cause: e });
        }
        for (const f of diagnostics.failures.values()) fail(f.source, f.entity === undefined ? f.reason : `${f.entity}: ${f.reason}`);
        await record(found);
        run.skus += page.skus.length;
        if (!page.hasNextPage || page.skus.length === 0) break;
        after = (page.skus.at(-1) as { sku: string }).sku;
        await pause(settings.pauseMs);
      }

      // 2. every stock source's codes, to the end, for orphans
      const listed: string[] = [];
      const known: KnownCodes = (source, codes, canonical) =>
        deps.knownCodes(source, codes, canonical).catch((e: unknown) => {
          throw new StoreFailed(`the store failed: ${(e as Error).message}`, { cause: e });
        });
      for (const source of deps.stockSources()) {
        const c = connectors.get(source);
        if (c?.listCodes === undefined) continue;
        const canonical = deps.inventory.settings.get(source)?.skuCodes === 'canonical';
        let cursor: string | null = null;
        let count = 0;
        try {
          do {
            check();
            const p = await orphanPage(c, canonical, known, cursor, CODE_PAGE, meter);
            run.codes += p.scanned;
            count += p.orphans.length;
            await record(p.orphans.map((code) => orphanAnomaly(source, code)));
            cursor = p.next;
          } while (cursor !== null);
        } catch (e) {
          if (e instanceof StoreFailed || e instanceof Stopped) throw e;
          fail(source, describeFailure(e));
          continue;
        }
        listed.push(source);
        orphans.set(source, count);
        run.orphansBySource[source] = count;
      }

      // 3. freshness of every source read in full
      const read = quantitySources().filter((s) => !failed.has(s));
      const stale: NewAnomaly[] = [];
      for (const source of read) {
        const a = staleSource(source, newest.get(source), deps.inventory.settings.get(source)?.maxAgeSeconds, now());
        if (a !== null) stale.push(a);
      }
      await record(stale);

      // 4. what it no longer found has cleared, where it read everything
      check();
      const scopes: Record<SweptKind, string[]> = { NEGATIVE_ON_HAND: read, ORPHAN_CODE: listed, STALE_SOURCE: read };
      for (const kind of SWEPT_KINDS) {
        const k = run.byKind[kind];
        k.found = seen.get(kind)?.size ?? 0;
        run.found += k.found;
        if (scopes[kind].length === 0) continue;
        try {
          const done = await store.anomalies.resolveCleared(kind, { sources: scopes[kind] }, seen.get(kind) ?? new Set(), at, SWEEP_ACTOR, (a) =>
            clearedNote(a, at),
          );
          k.resolved = done.length;
          run.resolved += done.length;
        } catch (e) {
          throw new StoreFailed(`the store failed: ${(e as Error).message}`, { cause: e });
        }
      }
      run.status = finishedStatus(run.failures);
    } catch (e) {
      if (!(e instanceof Stopped) && !(e instanceof StoreFailed)) throw e;
      run.status = 'FAILED';
      run.error = e.message;
      if (e instanceof StoreFailed) logger.error('the sweep failed', errorFields(e.cause ?? e));
    } finally {
      run.finishedAt = now();
      run.statements = [...statements.values()].reduce((a, b) => a + b, 0);
    }
    return run;
  }

  /** One run now; a run asked while one is under way gets that one (never two at once in this process). */
  function run(): Promise<SweepRun> {
    running ??= runOnce()
      .then(
        (r) => {
          last = r;
          return r;
        },
        (e: unknown) => {
          // a fault of the sweep itself (not a source, not the store): kept as a failed run
          const r: SweepRun = { ...startedRun(now()), status: 'FAILED', finishedAt: now(), error: (e as Error).message };
          last = r;
          logger.error('the sweep failed', errorFields(e));
          return r;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopping) return;
    nextAt = new Date(now().getTime() + delayMs);
    timer = setTimeout(() => {
      nextAt = null;
      // another instance sweeps: nothing here until the next interval (this one may hold the lease then)
      if (deps.lease !== undefined && !deps.lease.held()) {
        if (settings.intervalSeconds > 0) schedule(settings.intervalSeconds * 1000);
        return;
      }
      scheduled = true;
      void run()
        .then((r) => {
          const fields = {
            status: r.status,
            skus: r.skus,
            codes: r.codes,
            found: r.found,
            resolved: r.resolved,
            statements: r.statements,
            failures: r.failures,
          };
          if (r.status === 'COMPLETED') logger.info('sweep done', fields);
          else logger.warn(`sweep ${r.status.toLowerCase()}`, { ...fields, error: r.error });
        })
        .finally(() => {
          scheduled = false;
          if (settings.intervalSeconds > 0) schedule(settings.intervalSeconds * 1000);
        });
    }, delayMs);
    timer.unref();
  }

  return {
    run,
    /** The first run after `startAfterSeconds`, then every `intervalSeconds` after each one ends; nothing while `intervalSeconds` is 0. */
    start(): void {
      if (settings.intervalSeconds === 0 || timer !== undefined || stopping) return;
      schedule(settings.startAfterSeconds * 1000);
    },
    /** Stops the schedule; a run under way stops at its next batch or page (FAILED, nothing resolved) and is awaited. */
    async stop(): Promise<void> {
      stopping = true;
      nextAt = null;
      if (timer !== undefined) clearTimeout(timer);
      wake?.();
      await running;
    },
    /** `Query.sweep`: null while `intervalSeconds` is 0 and no sweep ran in this process. */
    status(): SweepStatus | null {
      if (settings.intervalSeconds === 0 && last === null && running === undefined) return null;
      return { intervalSeconds: settings.intervalSeconds, running: running !== undefined, last, nextAt };
    },
    /**
     * Orphans of `source` counted by the newest sweep of this process that listed its codes to the
     * end, or null (`OrphanCodeConnection.totalCount` when a call could not count them itself).
     */
    orphanCount(source: string): number | null {
      return orphans.get(source) ?? null;
    },
  };
}

export type Sweep = ReturnType<typeof createSweep>;
