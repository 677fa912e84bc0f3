/**
 * The background health check of each source (`sources.X.healthCheck.intervalSeconds`, default
 * 30, 0: off): every interval, one cheap question to the source (ResilientConnector.healthCheck:
 * SQL `select 1` through its pool, a look at a file source's directory, one HEAD of an API's
 * base URL) under the source's own deadline, its answer on the source's health, so /status, the
 * `sources` query and the source events show a source that came back as UP, and one that went
 * away as DOWN, without waiting for traffic.
 *
 * A source read within the last interval needs no check: its reads tell its health (and a check
 * would take a slot or a connection from them). So a check runs only when the source has been
 * quiet for an interval, which is when it matters: recovery and loss show without traffic. A
 * read the open breaker refuses is not a read of the source, so while the breaker is open the
 * checks go on and are its trials.
 *
 * Per source one chain of timers, never an interval: the next check is planned when the last one
 * has settled, so checks of a source never overlap, and a hung one ends at the source's deadline.
 * While the breaker is open the next check is planned at its trial time if that comes sooner:
 * that check is the breaker's trial (an answer closes it). Timers are unref'd (they never keep
 * the process alive) and `stop` clears them and waits for the checks in flight.
 */
import { errorFields, type Logger } from '../logger.js';
import type { SourceHealthRegistry } from '../sources/health.js';
import type { HealthCheckResult } from '../sources/resilience.js';

/** A source as the checks see it: its wrapped connector's `healthCheck`. */
export interface CheckedSource {
  name: string;
  healthCheck(): Promise<HealthCheckResult>;
  /** Seconds between two checks; 0: never checked. */
  intervalSeconds: number;
}

export interface HealthChecks {
  /** Plans every source's first check one interval from now. */
  start(): void;
  /** Clears the timers and waits for the checks in flight (each bounded by its source's deadline). */
  stop(): Promise<void>;
  /** Checks run since start, per source, by outcome (for tests and the log). */
  counts(): ReadonlyMap<string, { ok: number; failed: number; skipped: number }>;
}

export function createHealthChecks(o: { sources: readonly CheckedSource[]; health: SourceHealthRegistry; logger: Logger; now?: () => number }): HealthChecks {
  const now = o.now ?? Date.now;
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<void>>();
  const counts = new Map<string, { ok: number; failed: number; skipped: number }>();
  let stopped = true;

  function plan(s: CheckedSource, retryAt?: Date): void {
    if (stopped) return;
    const interval = s.intervalSeconds * 1000;
    const delay = retryAt === undefined ? interval : Math.max(0, Math.min(interval, retryAt.getTime() - now()));
    const timer = setTimeout(() => run(s), delay);
    timer.unref();
    timers.set(s.name, timer);
    o.health.checkScheduled(s.name, new Date(now() + delay));
  }

  function run(s: CheckedSource): void {
    timers.delete(s.name);
    // one check per source at a time (a timer never fires while one runs, but be sure)
    if (running.has(s.name) || stopped) return;
    const read = o.health.lastReadAt(s.name);
    const interval = s.intervalSeconds * 1000;
    if (read !== null && now() - read.getTime() < interval) {
      const c = counts.get(s.name) ?? { ok: 0, failed: 0, skipped: 0 };
      c.skipped++;
      counts.set(s.name, c);
      plan(s, new Date(read.getTime() + interval));
      return;
    }
    const p = s
      .healthCheck()
      .then(
        (r) => {
          const c = counts.get(s.name) ?? { ok: 0, failed: 0, skipped: 0 };
          c[r.outcome]++;
          counts.set(s.name, c);
          plan(s, r.retryAt);
        },
        (e: unknown) => {
          // healthCheck records its own failures: this is a fault of ours, logged, and the chain goes on
          o.logger.error('source health check broke', { source: s.name, ...errorFields(e) });
          plan(s);
        },
      )
      .finally(() => running.delete(s.name));
    running.set(s.name, p);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      for (const s of o.sources) if (s.intervalSeconds > 0) plan(s);
    },
    async stop() {
      stopped = true;
      for (const [name, t] of timers) {
        clearTimeout(t);
        o.health.checkScheduled(name, null);
      }
      timers.clear();
      await Promise.all(running.values());
    },
    counts: () => counts,
  };
}
