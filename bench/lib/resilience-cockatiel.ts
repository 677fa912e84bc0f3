/**
 * The cockatiel composition the resilience layer used before its own breaker and bulkhead
 * (src/sources/resilience.ts as of f5aff78^, "Resilience: our own breaker and bulkhead instead
 * of cockatiel's policies"): cockatiel 3's circuitBreaker with a ConsecutiveBreaker, around our
 * deadline, around cockatiel's bulkhead. Kept only as bench/resilience-overhead.ts's contender;
 * copied as it was, except that it imports what has not changed from src/ and a refusal by the
 * bulkhead is now of kind 'shed' (it was 'overloaded'). It has none of the later load-shedding
 * bookkeeping (pace, `queued()`), which if anything flatters it.
 */
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  TaskCancelledError,
  bulkhead as createBulkhead,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import type { Entity, RecordOf } from '../../src/domain/records.js';
import { errorFields } from '../../src/logger.js';
import type { Connector, ReadOptions, StatementMeter } from '../../src/sources/connector.js';
import type { BreakerState, PoolStats } from '../../src/sources/health.js';
import { describeSourceFailure, isConnectionLost, SourceError, type ResilienceDeps, type ResilienceSettings, type ResilientConnector } from '../../src/sources/resilience.js';

/**
 * One read's bounds as a connector sees them (ReadOptions): the deadline, and an AbortSignal
 * aborted at the deadline, made only if something asks for it (an AbortController costs
 * microseconds, and most reads never need one).
 */
class ReadBounds implements ReadOptions {
  private controller: AbortController | undefined;
  private why: unknown;
  private done = false;

  constructor(readonly deadline: number) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.done;
  }

  get reason(): unknown {
    return this.why;
  }

  abort(reason: unknown): void {
    this.done = true;
    this.why = reason;
    this.controller?.abort(reason);
  }
}

export function withCockatielResilience(inner: Connector, s: ResilienceSettings, deps: ResilienceDeps): ResilientConnector {
  const { health, logger } = deps;
  const random = deps.random ?? Math.random;
  const source = inner.name;
  const breaker = circuitBreaker(
    // a read refused by the bulkhead never reached the source: it says nothing about its health
    handleWhen((e) => !(e instanceof BulkheadRejectedError) && !(e instanceof TaskCancelledError)),
    { halfOpenAfter: s.breaker.resetAfterMs, breaker: new ConsecutiveBreaker(s.breaker.failureThreshold) },
  );
  const slots = createBulkhead(s.maxConcurrent, s.maxQueue);

  breaker.onStateChange((state) => {
    if (state === CircuitState.Open) {
      const last = breaker.lastFailure;
      const lastError = last !== undefined && 'error' in last ? toSourceError(source, last.error, s.timeoutMs).reason : undefined;
      logger.warn('circuit opened: reads fail fast until a trial read succeeds', { source, after: s.breaker.failureThreshold, lastError, trialInMs: s.breaker.resetAfterMs });
    } else if (state === CircuitState.HalfOpen) {
      logger.info('circuit half-open: trial read', { source });
    } else if (state === CircuitState.Closed) {
      logger.info('circuit closed: source answers again', { source });
    }
  });

  const breakerState = (): BreakerState => {
    const st = breaker.state;
    return st === CircuitState.Closed ? 'CLOSED' : st === CircuitState.HalfOpen ? 'HALF_OPEN' : 'OPEN';
  };

  health.register(
    {
      name: source,
      kind: inner.kind,
      entities: [...inner.entities],
      maxAgeSeconds: deps.policy?.maxAgeSeconds ?? null,
      stalePolicy: deps.policy?.stalePolicy ?? 'count',
      timeoutMs: s.timeoutMs,
      failureThreshold: s.breaker.failureThreshold,
    },
    {
      breaker: breakerState,
      load: () => ({ inFlight: s.maxConcurrent - slots.executionSlots, queued: s.maxQueue - slots.queueSlots }),
      pool: inner.poolStats === undefined ? undefined : () => inner.poolStats?.(),
    },
  );

  /**
   * One guarded read: fail fast while the breaker is open, else run `op` in the bulkhead under
   * the deadline, retrying a lost connection once; record the outcome.
   */
  async function guarded<T>(what: string, op: (o: ReadOptions) => Promise<T>, asOfOf?: (r: T) => { newest: Date; oldest: Date } | undefined): Promise<T> {
    const started = performance.now();
    const deadline = Date.now() + s.timeoutMs;
    // half-open: one trial read is already on its way; the others do not queue behind it
    if (breaker.state === CircuitState.HalfOpen) {
      health.rejected(source);
      throw new SourceError(source, 'circuit-open', 'circuit open (a trial read is in progress)');
    }
    try {
      const result = await breaker.execute(() =>
        withinDeadline(what, deadline, (bounds) =>
          // a read that must wait for a slot is dropped from the queue at its deadline (which needs
          // the signal); one that starts at once is bounded by the deadline it carries
          slots.execute(() => withRetry(what, op, bounds), slots.executionSlots > 0 ? undefined : bounds.signal),
        ),
      );
      health.success(source, performance.now() - started, asOfOf?.(result));
      return result;
    } catch (e) {
      const err = toSourceError(source, e, s.timeoutMs);
      if (err.kind === 'circuit-open' || err.kind === 'shed') {
        health.rejected(source);
        logger.debug('read refused', { source, what, reason: err.reason });
      } else {
        health.failure(source, performance.now() - started, err.reason);
        // the client sees the reason; the operator also gets the driver's own error
        logger.warn('source read failed', { source, what, reason: err.reason, ...errorFields(err.cause ?? err) });
      }
      throw err;
    }
  }

  /** Settles by `deadline`: the work is told (its ReadBounds) and, if still running then, left to finish its own cancellation. */
  function withinDeadline<T>(what: string, deadline: number, work: (bounds: ReadBounds) => Promise<T>): Promise<T> {
    const bounds = new ReadBounds(deadline);
    return new Promise<T>((resolve, reject) => {
      let running: Promise<T> | undefined;
      const timer = setTimeout(
        () => {
          const e = new SourceError(source, 'timeout', `timed out after ${s.timeoutMs} ms`);
          bounds.abort(e);
          reject(e);
          // the caller has its answer; the abandoned read still settles (its statement killed, its
          // connection returned or evicted) and must never become an unhandled rejection
          running?.then(
            () => logger.debug('read settled after its deadline', { source, what }),
            (err: unknown) => logger.debug('read failed after its deadline', { source, what, ...errorFields(err) }),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      const settle = (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      };
      try {
        running = work(bounds);
      } catch (e) {
        settle(e);
        return;
      }
      running.then((v) => {
        clearTimeout(timer);
        resolve(v);
      }, settle);
    });
  }

  async function withRetry<T>(what: string, op: (o: ReadOptions) => Promise<T>, bounds: ReadBounds): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // the caller stopped waiting (while this read queued, or paused before a retry)
      if (bounds.expired) throw bounds.reason;
      try {
        return await op(bounds);
      } catch (e) {
        const left = bounds.deadline - Date.now();
        if (attempt >= s.retries || bounds.expired || !isConnectionLost(e) || left < s.timeoutMs / 4) throw e;
        const pause = Math.min(left / 8, 10 + random() * 40);
        logger.info('retrying a read after a lost connection', { source, what, attempt: attempt + 1, pauseMs: Math.round(pause), ...errorFields(e) });
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  const wrapped: ResilientConnector = {
    inner,
    name: inner.name,
    kind: inner.kind,
    entities: inner.entities,
    breakerState,
    fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter): Promise<RecordOf[E][]> {
      return guarded(`fetch ${entity}`, (o) => inner.fetch(entity, codes, meter, o), asOfRange);
    },
    ping: () => guarded('ping', (o) => inner.ping(o)),
    poolStats: inner.poolStats === undefined ? undefined : () => inner.poolStats?.() as PoolStats,
    close: () => inner.close(),
  };
  if (inner.listCodes !== undefined) {
    const list = inner.listCodes.bind(inner);
    wrapped.listCodes = (after, limit, meter) => guarded('listCodes', () => list(after, limit, meter));
  }
  return wrapped;
}

/** The newest and oldest `asOf` of valid dated records (compared as numbers: comparing Dates converts each one). */
function asOfRange(records: readonly unknown[]): { newest: Date; oldest: Date } | undefined {
  let newest = -Infinity;
  let oldest = Infinity;
  for (const r of records as readonly { asOf?: unknown; invalid?: unknown }[]) {
    if (r.invalid !== undefined || !(r.asOf instanceof Date)) continue;
    const t = r.asOf.getTime();
    // an invalid date is NaN, which neither comparison takes
    if (t > newest) newest = t;
    if (t < oldest) oldest = t;
  }
  return newest === -Infinity ? undefined : { newest: new Date(newest), oldest: new Date(oldest) };
}

/** Any error from a guarded read, as a SourceError with a client-safe reason. */
function toSourceError(source: string, e: unknown, timeoutMs: number): SourceError {
  if (e instanceof SourceError) return e;
  if (e instanceof BrokenCircuitError || e instanceof IsolatedCircuitError) {
    return new SourceError(source, 'circuit-open', 'circuit open after repeated failures', { cause: e });
  }
  if (e instanceof BulkheadRejectedError) return new SourceError(source, 'shed', 'too many reads waiting for it', { cause: e });
  if (e instanceof TaskCancelledError) return new SourceError(source, 'timeout', `timed out after ${timeoutMs} ms`, { cause: e });
  const reason = describeSourceFailure(e, timeoutMs);
  return new SourceError(source, /^timed out/.test(reason) ? 'timeout' : 'failed', reason, { cause: e });
}
