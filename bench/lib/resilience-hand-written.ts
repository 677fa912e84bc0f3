/**
 * The hand-written circuit breaker and bulkhead the resilience layer had from f5aff78 ("Resilience:
 * our own breaker and bulkhead instead of cockatiel's policies") to the commit that went back to
 * cockatiel's: src/sources/resilience.ts as of 8f499f5, load shedding included, kept only as
 * bench/resilience-overhead.ts's contender against the cockatiel-based layer in src/. Copied as
 * it was, except that it imports what both share from src/.
 */
import type { Entity, RecordOf } from '../../src/domain/records.js';
import { errorFields } from '../../src/logger.js';
import { LoadShedError, type Connector, type ReadOptions, type StatementMeter } from '../../src/sources/connector.js';
import type { BreakerState, PoolStats } from '../../src/sources/health.js';
import {
  describeSourceFailure,
  isConnectionLost,
  SourceError,
  type ResilienceDeps,
  type ResilienceSettings,
  type ResilientConnector,
} from '../../src/sources/resilience.js';

/**
 * One read's bounds as a connector sees them (ReadOptions): the deadline, and an AbortSignal
 * aborted at the deadline, made only if something asks for it (an AbortController costs
 * microseconds, and most reads never need one).
 */
class ReadBounds implements ReadOptions {
  private controller: AbortController | undefined;
  private why: unknown;
  private done = false;
  /** Called once at the deadline (a queued read leaves its queue). */
  onAbort: (() => void) | undefined;
  /** Our own queues (the bulkhead's, a connector's pool) the read waits in right now. */
  private waits = 0;

  constructor(readonly deadline: number) {}

  /** The read waits in one of our own queues until the returned function is called (once or more). */
  queued(): () => void {
    this.waits++;
    let over = false;
    return () => {
      if (over) return;
      over = true;
      this.waits--;
    };
  }

  /** Waiting in one of our own queues: at its deadline such a read is load shed, not timed out. */
  get waiting(): boolean {
    return this.waits > 0;
  }

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
    this.onAbort?.();
  }
}

/**
 * The circuit breaker. CLOSED: reads go, failures in a row are counted, a success resets the
 * count; at `failureThreshold` it opens. OPEN: reads are refused until `resetAfterMs` has
 * passed; the next read is the trial (HALF_OPEN) and the others are refused while it runs. The
 * trial's success closes it, its failure re-opens it, and a trial that never reached the source
 * (refused by the bulkhead) closes it: it says nothing about the source.
 */
class Breaker {
  state: BreakerState = 'CLOSED';
  /** The error of the failure that last counted. */
  lastError: unknown;
  private failures = 0;
  private openedAt = 0;

  constructor(
    private readonly s: ResilienceSettings['breaker'],
    private readonly changed: (state: BreakerState) => void,
  ) {}

  /** Lets a read go, telling whether it is the trial; throws when the breaker refuses it. */
  admit(source: string): boolean {
    if (this.state === 'CLOSED') return false;
    if (this.state === 'HALF_OPEN') throw new SourceError(source, 'circuit-open', 'circuit open (a trial read is in progress)');
    if (Date.now() - this.openedAt < this.s.resetAfterMs) throw new SourceError(source, 'circuit-open', 'circuit open after repeated failures');
    this.set('HALF_OPEN');
    return true;
  }

  /** A read answered; only the trial's answer closes the breaker (a read let through before it opened does not). */
  success(trial: boolean): void {
    this.failures = 0;
    if (trial && this.state === 'HALF_OPEN') this.set('CLOSED');
  }

  failure(trial: boolean, e: unknown): void {
    this.lastError = e;
    if ((++this.failures >= this.s.failureThreshold || trial) && this.state !== 'OPEN') {
      this.openedAt = Date.now();
      this.set('OPEN');
    }
  }

  /** A read that never reached the source: counts for nothing, but ends a trial. */
  neutral(trial: boolean): void {
    if (trial && this.state === 'HALF_OPEN') this.set('CLOSED');
  }

  private set(state: BreakerState): void {
    this.state = state;
    this.changed(state);
  }
}

/** What a read shed for waiting in our own queues says (the bulkhead's, or the SQL connector's pool). */
const TOO_BUSY = 'load shed: too busy to start it in time';

/**
 * At most `capacity` reads run at once, at most `queueCapacity` wait (in order, each until its
 * deadline); the rest are refused. When a slot frees, the first queued read with at least the
 * source's pace (how long its last answer took) left of its deadline starts; the ones before it
 * are shed, since they would only be cut off at their deadline.
 */
class Bulkhead {
  active = 0;
  readonly queue: (() => boolean)[] = [];
  /** How long the last read answered within its deadline took from its start, in ms. */
  private pace = 0;

  constructor(
    readonly capacity: number,
    readonly queueCapacity: number,
  ) {}

  run<T>(source: string, work: () => Promise<T>, bounds: ReadBounds): Promise<T> {
    if (this.active < this.capacity) return this.start(work, bounds);
    if (this.queue.length >= this.queueCapacity) return Promise.reject(new SourceError(source, 'shed', 'load shed: too many reads waiting for it'));
    const waited = bounds.queued();
    return new Promise<T>((resolve, reject) => {
      /** Its turn: starts it and says true, or sheds it and says false. */
      const go = (): boolean => {
        waited();
        bounds.onAbort = undefined;
        if (bounds.deadline - Date.now() < this.pace) {
          reject(new SourceError(source, 'shed', TOO_BUSY));
          return false;
        }
        this.start(work, bounds).then(resolve, reject);
        return true;
      };
      this.queue.push(go);
      bounds.onAbort = () => {
        waited();
        const i = this.queue.indexOf(go);
        if (i >= 0) this.queue.splice(i, 1);
        reject(bounds.reason);
      };
    });
  }

  private start<T>(work: () => Promise<T>, bounds: ReadBounds): Promise<T> {
    this.active++;
    const started = Date.now();
    let running: Promise<T>;
    try {
      running = work();
    } catch (e) {
      running = Promise.reject(e);
    }
    return running.then(
      (v) => {
        // before the slot passes on, so the next read is judged by this answer
        if (!bounds.expired) this.pace = Date.now() - started;
        this.release();
        return v;
      },
      (e: unknown) => {
        this.release();
        throw e;
      },
    );
  }

  /** Frees a slot and hands it to the first queued read worth starting. */
  private release(): void {
    this.active--;
    for (;;) {
      const next = this.queue.shift();
      if (next === undefined || next()) return;
    }
  }
}

export function withHandWrittenResilience(inner: Connector, s: ResilienceSettings, deps: ResilienceDeps): ResilientConnector {
  const { health, logger } = deps;
  const random = deps.random ?? Math.random;
  const source = inner.name;
  const breaker = new Breaker(s.breaker, (state) => {
    if (state === 'OPEN') {
      const lastError = breaker.lastError === undefined ? undefined : toSourceError(source, breaker.lastError, s.timeoutMs).reason;
      logger.warn('circuit opened: reads fail fast until a trial read succeeds', {
        source,
        after: s.breaker.failureThreshold,
        lastError,
        trialInMs: s.breaker.resetAfterMs,
      });
    } else if (state === 'HALF_OPEN') {
      logger.info('circuit half-open: trial read', { source });
    } else {
      logger.info('circuit closed: source answers again', { source });
    }
  });
  const slots = new Bulkhead(s.maxConcurrent, s.maxQueue);

  const breakerState = (): BreakerState => breaker.state;

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
      load: () => ({ inFlight: slots.active, queued: slots.queue.length }),
      pool: inner.poolStats === undefined ? undefined : () => inner.poolStats?.(),
    },
  );

  /**
   * One guarded read: fail fast while the breaker is open, else run `op` in the bulkhead under
   * the deadline, retrying a lost connection once; record the outcome.
   */
  async function guarded<T>(what: string, op: (o: ReadOptions) => Promise<T>, asOfOf?: (r: T) => { newest: Date; oldest: Date } | undefined): Promise<T> {
    const started = performance.now();
    let trial = false;
    try {
      trial = breaker.admit(source);
      const result = await withinDeadline(what, Date.now() + s.timeoutMs, (bounds) => slots.run(source, () => withRetry(what, op, bounds), bounds));
      breaker.success(trial);
      health.success(source, performance.now() - started, asOfOf?.(result));
      return result;
    } catch (e) {
      const err = toSourceError(source, e, s.timeoutMs);
      if (err.kind === 'circuit-open' || err.kind === 'shed') {
        breaker.neutral(trial);
        if (err.kind === 'shed') health.shed(source);
        else health.rejected(source);
        logger.debug('read refused', { source, what, reason: err.reason });
      } else {
        breaker.failure(trial, err);
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
          // still in one of our own queues: our load made it late, not the source
          const e = bounds.waiting ? new SourceError(source, 'shed', TOO_BUSY) : new SourceError(source, 'timeout', `timed out after ${s.timeoutMs} ms`);
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
    // the background health check is not part of what this bench compares
    healthCheck: () => Promise.resolve({ outcome: 'skipped' as const }),
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
  const reason = describeSourceFailure(e, timeoutMs);
  const kind = e instanceof LoadShedError ? 'shed' : /^timed out/.test(reason) ? 'timeout' : 'failed';
  return new SourceError(source, kind, reason, { cause: e });
}
