/**
 * Resilience for any Connector, whatever its kind: a failing source must cost exactly its own
 * figures, for as short a time as possible. `withResilience` wraps a connector so that every
 * read (fetch, listCodes, ping)
 *
 * - has a deadline of `timeoutMs` from the moment it is asked: the caller gets an answer (the
 *   records, or a SourceError "timed out after N ms") by then, whatever the source does. The
 *   connector is told the deadline (`ReadOptions.deadline`, plus an AbortSignal) so it can
 *   cancel its own work at the same moment (the SQL connector has the statement killed);
 * - goes through a circuit breaker (cockatiel's, with a ConsecutiveBreaker): after
 *   `failureThreshold` failures in a row the source is not asked at all for `resetAfterMs`
 *   (reads fail at once with "circuit open"); the next read after that is a single trial
 *   (half-open) that closes the breaker again or re-opens it. While the trial runs, other reads
 *   fail fast instead of piling up behind it;
 * - goes through a bulkhead (cockatiel's): at most `maxConcurrent` reads run against the
 *   source, at most `maxQueue` wait (within their own deadline), and the rest are refused at
 *   once, so one slow source cannot take every connection, socket or request slot of the process;
 * - is load shed rather than failed when our own queues, not the source, made it late: refused
 *   for a full queue, still waiting for a slot (or, in the SQL connector, for a pooled connection)
 *   at its deadline, or not started when its turn came because less of its deadline was left
 *   than the source took for its last answer (it would only have been cut off, and the source's
 *   time with it). Shedding says nothing about the source: the breaker counts only what the
 *   source itself failed (an error, a statement past its deadline, a connection not opened);
 * - is retried once (`retries`) after a lost connection, only if a quarter of the deadline is
 *   left, after a short jittered pause: every Connector operation is an idempotent read.
 *
 * Every outcome feeds the source health registry (src/sources/health.ts).
 *
 * The shedding is ours, around cockatiel's bulkhead, which has no deadlines of its own: we count
 * the reads waiting for a slot (a read leaves that count, and so frees its place under
 * `maxQueue`, at its deadline) and check each one when its turn comes. cockatiel drops a
 * waiting entry only when a slot frees (the entry then starts nothing and passes the slot on),
 * so its own queue is left unbounded and `maxQueue` is ours. It hands a freed slot to the next
 * waiting read a microtask later: a read asked in between takes it first, and the waiting one
 * goes back to the end of the queue.
 *
 * From f5aff78 to the commit that went back to cockatiel, the breaker and the bulkhead were our
 * own; per read they saved no CPU when a slot was free and 0.7–2.9 µs when the read queued,
 * under 5 % of a SQLite point read (bench/resilience-overhead.ts, bench/RESULTS-libraries.md).
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, IsolatedCircuitError, bulkhead as createBulkhead, circuitBreaker, handleWhen } from 'cockatiel';
import type { Entity, RecordOf, StockRecord } from '../domain/records.js';
import { MAX_FUTURE_SKEW_MS, stockProblem } from '../domain/validation.js';
import { errorFields, type Logger } from '../logger.js';
import { LoadShedError, MappingError, startsTooLate, type Connector, type EntityProbe, type ReadOptions, type StatementMeter } from './connector.js';
import type { BreakerState, PoolStats, SourceHealthRegistry } from './health.js';
import { failSpan, startSpan, tracing } from '../tracing.js';

export interface ResilienceSettings {
  /** Deadline of one read, in ms. */
  timeoutMs: number;
  breaker: {
    /** Failures in a row that open the breaker. */
    failureThreshold: number;
    /** How long the breaker stays open before a trial read, in ms. */
    resetAfterMs: number;
  };
  /** Reads running against the source at once. */
  maxConcurrent: number;
  /** Reads waiting for a slot; past that a read is refused at once. */
  maxQueue: number;
  /** Retries of a read whose connection was lost (0 or more), only while a quarter of the deadline is left. */
  retries: number;
}

/**
 * `shed`: refused or given up for our own load (see the module comment), which says nothing about
 * the source. `mapping`: one entity's mapping does not match the source (a MappingError): the
 * source answers, its other entities are read, and the breaker does not count it.
 */
export type SourceErrorKind = 'timeout' | 'circuit-open' | 'shed' | 'failed' | 'mapping';

/**
 * A source read that failed, with a reason fit for a client ("timed out after 300 ms",
 * "circuit open", "connection refused"): never SQL, hosts or paths. The driver's own error is
 * the `cause`, for the server log.
 */
export class SourceError extends Error {
  /** The entity whose mapping failed (kind `mapping`); undefined when the source as a whole failed. */
  readonly entity: string | undefined;

  constructor(
    readonly source: string,
    readonly kind: SourceErrorKind,
    readonly reason: string,
    options?: { cause?: unknown; entity?: string },
  ) {
    super(`source "${source}"${options?.entity === undefined ? ':' : ` ${options.entity}:`} ${reason}`, options);
    this.name = 'SourceError';
    this.entity = options?.entity;
  }
}

/** What one background health check did: asked and answered, asked and failed, or did not ask (see `healthCheck`); `retryAt`: when asking makes sense again. */
export interface HealthCheckResult {
  outcome: 'ok' | 'failed' | 'skipped';
  retryAt?: Date;
}

/** A connector wrapped by `withResilience`; `inner` is the connector it guards. */
export interface ResilientConnector extends Connector {
  readonly inner: Connector;
  breakerState(): BreakerState;
  /**
   * The background health check (src/service/health-checks.ts): one cheap question to the source
   * (`Connector.check`, else `ping`) under its deadline, through the breaker, its outcome on the
   * source's health. `skipped` when asking now would say nothing or cost a read its slot: the
   * breaker is open and its trial time is ahead (the check then comes back at `retryAt`), a trial
   * read is already on its way, every slot of the bulkhead is taken (those reads tell), or the
   * last check's own call to the connector has not settled (a hung source is not asked twice).
   * While the breaker is open, the first check from its trial time is that trial: an answer closes
   * the breaker (reads flow again without waiting for a request to try), a failure keeps it open
   * another `resetAfterMs`.
   */
  healthCheck(): Promise<HealthCheckResult>;
}

export interface ResilienceDeps {
  health: SourceHealthRegistry;
  logger: Logger;
  /** The source's freshness policy, shown beside its health. */
  policy?: { maxAgeSeconds: number | null; stalePolicy: string };
  /** The clock a record's `asOf` is judged by (a future-dated record is refused, so it never sets freshness). Defaults to the real time. */
  now?: () => number;
  /** For tests: the jitter of retry pauses. */
  random?: () => number;
  /**
   * Breaker trips shared across instances (`cluster.redis`, src/service/cluster.ts): a trip here is
   * published, and a trip another instance published holds this breaker open for its `resetAfterMs`.
   */
  trips?: SharedTrips;
}

/** Where breaker trips are told to, and heard from, the other instances. */
export interface SharedTrips {
  /** This instance's breaker of `source` opened: the others hold theirs open for `forMs`. */
  publish(source: string, forMs: number): void;
  /** Calls `open(forMs)` when another instance's breaker of `source` opened. */
  subscribe(source: string, open: (forMs: number) => void): void;
}

/** A source's config as far as resilience goes (the keys in src/config/schema.ts `sourceResilience`). */
export interface ResilienceConfig {
  kind: string;
  timeoutMs: number;
  breaker: { failureThreshold: number; resetAfterMs: number };
  maxConcurrent?: number;
  maxQueue: number;
  retries: number;
  client?: string;
  pool?: number;
}

/** The settings for one configured source: `maxConcurrent` defaults to its pool size (better-sqlite3: 1; files: 4). */
export function resilienceSettings(c: ResilienceConfig): ResilienceSettings {
  const poolSize = c.kind === 'sql' ? (c.client === 'better-sqlite3' ? 1 : (c.pool ?? 4)) : 4;
  return { timeoutMs: c.timeoutMs, breaker: { ...c.breaker }, maxConcurrent: c.maxConcurrent ?? poolSize, maxQueue: c.maxQueue, retries: c.retries };
}

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

/** What a read shed for waiting in our own queues says (the bulkhead's, or the SQL connector's pool). */
const TOO_BUSY = 'load shed: too busy to start it in time';

/** A read our own load refused or gave up, or the open breaker refused: neither says anything about the source. */
const refused = (e: unknown) => e instanceof LoadShedError || (e instanceof SourceError && (e.kind === 'shed' || e.kind === 'circuit-open'));

export function withResilience(inner: Connector, s: ResilienceSettings, deps: ResilienceDeps): ResilientConnector {
  const { health, logger } = deps;
  const random = deps.random ?? Math.random;
  const source = inner.name;
  const breaker = circuitBreaker(
    // a read our own load shed, or the breaker refused, never reached the source: it says nothing about its health
    // neither does a mapping that does not match it (the source answered): that entity alone fails
    handleWhen((e) => !refused(e) && !(e instanceof MappingError)),
    { halfOpenAfter: s.breaker.resetAfterMs, breaker: new ConsecutiveBreaker(s.breaker.failureThreshold) },
  );
  // cockatiel's queue is unbounded: `maxQueue` is ours, over the reads still waiting (see the module comment)
  const slots = createBulkhead(s.maxConcurrent, Number.POSITIVE_INFINITY);
  /** Reads waiting for a slot, their deadline not yet passed. */
  let waiting = 0;
  /** How long the last read answered within its deadline took from its start, in ms. */
  let pace = 0;
  /** A health check's call to the connector has not settled (see `healthCheck`). */
  let checking = false;
  /** When the breaker last opened (epoch ms): its trial read is due `resetAfterMs` later. */
  let openedAt: number | null = null;
  const clock = deps.now ?? Date.now;

  // another instance's trip: isolated (fails fast, as open) until its reset time, then closed
  // again here, where the next read is the trial; not published again (no echo)
  let heldOpen: { dispose(): void } | undefined;
  let heldTimer: NodeJS.Timeout | undefined;
  deps.trips?.subscribe(source, (forMs) => {
    if (breaker.state !== CircuitState.Closed) return;
    heldOpen = breaker.isolate();
    logger.warn('circuit opened by another instance: reads fail fast', { source, forMs });
    heldTimer = setTimeout(() => {
      heldOpen?.dispose();
      heldOpen = undefined;
    }, forMs);
    heldTimer.unref();
  });

  breaker.onStateChange((state) => {
    openedAt = state === CircuitState.Open ? Date.now() : null;
    if (state === CircuitState.Open) deps.trips?.publish(source, s.breaker.resetAfterMs);
    if (state === CircuitState.Open) {
      const last = breaker.lastFailure;
      const lastError = last !== undefined && 'error' in last ? toSourceError(source, last.error, s.timeoutMs).reason : undefined;
      logger.warn('circuit opened: reads fail fast until a trial read succeeds', {
        source,
        after: s.breaker.failureThreshold,
        lastError,
        trialInMs: s.breaker.resetAfterMs,
      });
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
      load: () => ({ inFlight: s.maxConcurrent - slots.executionSlots, queued: waiting }),
      pool: inner.poolStats === undefined ? undefined : () => inner.poolStats?.(),
      problem: inner.problem === undefined ? undefined : () => inner.problem?.() ?? null,
      trialAt: () => (breaker.state === CircuitState.Open && openedAt !== null ? new Date(openedAt + s.breaker.resetAfterMs) : null),
    },
  );

  /**
   * One guarded read: fail fast while the breaker is open, else run `op` in the bulkhead under
   * the deadline, retrying a lost connection once; record the outcome.
   */
  async function guarded<T>(
    what: string,
    op: (o: ReadOptions) => Promise<T>,
    asOfOf?: (r: T) => { newest: Date; oldest: Date } | undefined,
    entity?: string,
  ): Promise<T> {
    const started = performance.now();
    try {
      // half-open: one trial read is already on its way; the others do not queue behind it (cockatiel's would wait for it)
      if (breaker.state === CircuitState.HalfOpen) throw new SourceError(source, 'circuit-open', 'circuit open (a trial read is in progress)');
      const deadline = Date.now() + s.timeoutMs;
      const result = await breaker.execute(() => withinDeadline(what, deadline, (bounds) => inBulkhead(what, op, bounds)));
      health.success(source, performance.now() - started, asOfOf?.(result));
      if (entity !== undefined) entityAnswers(entity);
      else if (what === 'ping') for (const x of inner.entities) entityAnswers(x);
      return result;
    } catch (e) {
      const err = toSourceError(source, e, s.timeoutMs);
      if (err.kind === 'circuit-open' || err.kind === 'shed') {
        if (err.kind === 'shed') health.shed(source);
        else health.rejected(source);
        logger.debug('read refused', { source, what, reason: err.reason });
      } else if (err.kind === 'mapping') {
        const wrong = err.cause instanceof MappingError ? err.cause.all() : [];
        for (const m of wrong) entityFails(m.entity, m.reason, m.cause);
        // ping tried every mapping: the ones not named answered
        if (what === 'ping') for (const x of inner.entities) if (!wrong.some((m) => m.entity === x)) entityAnswers(x);
      } else {
        health.failure(source, performance.now() - started, err.reason);
        // the client sees the reason; the operator also gets the driver's own error
        logger.warn('source read failed', { source, what, reason: err.reason, ...errorFields(err.cause ?? err) });
      }
      throw err;
    }
  }

  /** An entity's mapping does not match the source: shown on its health, logged when that is news. */
  function entityFails(entity: string, reason: string, cause: unknown): void {
    if (health.entityFailure(source, entity, reason))
      logger.warn('mapping does not match the source: reads of this entity fail, the others are answered', {
        source,
        entity,
        reason,
        ...errorFields(cause ?? reason),
      });
    else logger.debug('read of a failing mapping', { source, entity, reason });
  }

  function entityAnswers(entity: string): void {
    if (health.entityOk(source, entity)) logger.info('mapping answers again', { source, entity });
  }

  /**
   * The per-mapping probe (src/sources/probe.ts), outside the breaker and the bulkhead (a check,
   * not a read): each mapping's result goes to the source's health; a source that cannot be
   * reached is a failure of the source.
   */
  async function probe(run: () => Promise<EntityProbe[]>): Promise<EntityProbe[]> {
    const started = performance.now();
    let found: EntityProbe[];
    try {
      found = await run();
    } catch (e) {
      const err = toSourceError(source, e, s.timeoutMs);
      health.failure(source, performance.now() - started, err.reason);
      logger.warn('source check failed', { source, reason: err.reason, ...errorFields(err.cause ?? err) });
      throw err;
    }
    health.reachable(source);
    for (const p of found) {
      if (p.ok) entityAnswers(p.entity);
      else entityFails(p.entity, p.reason, undefined);
    }
    return found;
  }

  /**
   * Runs the read in a slot of the bulkhead: at once if one is free; else, if fewer than
   * `maxQueue` reads wait, when its turn comes, if its deadline has not passed and at least the
   * source's pace is left of it (otherwise it is shed without starting); else it is refused.
   */
  function inBulkhead<T>(what: string, op: (o: ReadOptions) => Promise<T>, bounds: ReadBounds): Promise<T> {
    if (slots.executionSlots > 0) return slots.execute(() => timed(what, op, bounds));
    if (waiting >= s.maxQueue) return Promise.reject(new SourceError(source, 'shed', 'load shed: too many reads waiting for it'));
    waiting++;
    const waited = bounds.queued();
    let left = false;
    /** Leaves the wait: at its turn, or at its deadline (the entry stays in cockatiel's queue until then, to start nothing). */
    const leave = () => {
      if (left) return;
      left = true;
      waiting--;
      waited();
    };
    bounds.onAbort = leave;
    return slots.execute(() => {
      leave();
      bounds.onAbort = undefined;
      // the caller already has its answer (load shed at its deadline)
      if (bounds.expired) return Promise.reject(bounds.reason);
      if (startsTooLate(bounds.deadline - Date.now(), pace)) return Promise.reject(new SourceError(source, 'shed', TOO_BUSY));
      return timed(what, op, bounds);
    });
  }

  /** The read itself; an answer within the deadline sets the pace, before the slot passes on. */
  async function timed<T>(what: string, op: (o: ReadOptions) => Promise<T>, bounds: ReadBounds): Promise<T> {
    const startedAt = Date.now();
    const v = await withRetry(what, op, bounds);
    if (!bounds.expired) pace = Date.now() - startedAt;
    return v;
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

  /** The health check (ResilientConnector.healthCheck): through the breaker, in a free slot, under the deadline; not counted as a read. */
  async function healthCheck(): Promise<HealthCheckResult> {
    if (breaker.state === CircuitState.HalfOpen) return { outcome: 'skipped' };
    if (breaker.state === CircuitState.Open && openedAt !== null && Date.now() < openedAt + s.breaker.resetAfterMs) {
      return { outcome: 'skipped', retryAt: new Date(openedAt + s.breaker.resetAfterMs) };
    }
    // every slot taken (those reads tell), or the last check's own work has not settled yet (its
    // caller was answered at the deadline): asking again would pile checks up on a hung source
    if (slots.executionSlots === 0 || checking) return { outcome: 'skipped' };
    const call =
      inner.check === undefined ? (o: ReadOptions) => inner.ping(o) : (o: ReadOptions) => (inner.check as NonNullable<Connector['check']>).call(inner, o);
    const ask = (o: ReadOptions) => {
      checking = true;
      const p = call(o);
      void p.then(
        () => (checking = false),
        () => (checking = false),
      );
      return p;
    };
    const started = performance.now();
    try {
      const deadline = Date.now() + s.timeoutMs;
      await breaker.execute(() => withinDeadline('check', deadline, (bounds) => slots.execute(() => ask(bounds))));
      health.checked(source, { ok: true });
      return { outcome: 'ok' };
    } catch (e) {
      const err = toSourceError(source, e, s.timeoutMs);
      // the source answered and a mapping is wrong (a ping without a cheaper check): it answers
      if (err.kind === 'mapping') {
        health.checked(source, { ok: true });
        return { outcome: 'ok' };
      }
      // refused by our own breaker or bulkhead in between: nothing learnt
      if (err.kind === 'circuit-open' || err.kind === 'shed') return { outcome: 'skipped' };
      health.checked(source, { ok: false, reason: err.reason });
      logger.warn('source health check failed', { source, reason: err.reason, ms: Math.round(performance.now() - started), ...errorFields(err.cause ?? err) });
      return { outcome: 'failed' };
    }
  }

  /**
   * A read in its span (telemetry.tracing on only): source, entity, codes asked, then the outcome
   * (ok, error, shed: our own load refused it, rejected: the breaker did), the breaker's state
   * after it and the statements it sent (counted on the way to the caller's meter, so they add up
   * to `x-source-statements`). A read that did not answer has error status.
   */
  async function traced<T>(entity: string, codes: number, meter: StatementMeter | undefined, read: (meter: StatementMeter) => Promise<T>): Promise<T> {
    let statements = 0;
    const counted: StatementMeter = {
      statement(s, e) {
        statements++;
        meter?.statement(s, e);
      },
    };
    const span = startSpan(`read ${source}/${entity}`, {
      'inventory.source': source,
      'inventory.source.kind': inner.kind,
      'inventory.entity': entity,
      'inventory.codes': codes,
    });
    let outcome = 'ok';
    try {
      return await read(counted);
    } catch (e) {
      const err = toSourceError(source, e, s.timeoutMs);
      outcome = err.kind === 'shed' ? 'shed' : err.kind === 'circuit-open' ? 'rejected' : 'error';
      failSpan(span, undefined, describeSourceFailure(err));
      span.setAttribute('inventory.source.error_kind', err.kind);
      throw e;
    } finally {
      span.setAttributes({ 'inventory.outcome': outcome, 'inventory.breaker': breakerState(), 'inventory.statements': statements });
      span.end();
    }
  }

  const fetch = <E extends Entity>(entity: E, codes: readonly string[], meter: StatementMeter | undefined): Promise<RecordOf[E][]> =>
    guarded(
      `fetch ${entity}`,
      (o) => inner.fetch(entity, codes, meter, o),
      (r) => asOfRange(entity, r, clock()),
      entity,
    );

  const wrapped: ResilientConnector = {
    inner,
    name: inner.name,
    kind: inner.kind,
    entities: inner.entities,
    breakerState,
    fetch<E extends Entity>(entity: E, codes: readonly string[], meter?: StatementMeter): Promise<RecordOf[E][]> {
      if (tracing.enabled) return traced(entity, codes.length, meter, (m) => fetch(entity, codes, m));
      return fetch(entity, codes, meter);
    },
    ping: () => guarded('ping', (o) => inner.ping(o)),
    ...(inner.probe !== undefined ? { probe: () => probe(() => (inner.probe as () => Promise<EntityProbe[]>).call(inner)) } : {}),
    poolStats: inner.poolStats === undefined ? undefined : () => inner.poolStats?.() as PoolStats,
    healthCheck,
    close: () => {
      clearTimeout(heldTimer);
      return inner.close();
    },
  };
  if (inner.orderReferences !== undefined) {
    const refs = inner.orderReferences.bind(inner);
    const read = (references: readonly string[]) => guarded('orderReferences', (o) => refs(references, o), undefined, 'orders');
    wrapped.orderReferences = (references) => (tracing.enabled ? traced('orders', references.length, undefined, () => read(references)) : read(references));
  }
  if (inner.listCodes !== undefined) {
    const list = inner.listCodes.bind(inner);
    wrapped.listCodes = (after, limit, meter, entity) => guarded('listCodes', () => list(after, limit, meter, entity));
  }
  if (inner.identifiers !== undefined) {
    const ids = inner.identifiers.bind(inner);
    wrapped.identifiers = (id, after, limit, meter) => guarded('identifiers', () => ids(id, after, limit, meter));
  }
  return wrapped;
}

/**
 * The newest and oldest `asOf` of the usable dated records (compared as numbers: comparing Dates
 * converts each one): a record refused as INVALID_SOURCE_DATA (src/domain/validation.ts: one the
 * connector could not read, an absurd stock figure, an `asOf` in the future) never counts, so one
 * future-dated row cannot make a source look fresh on /status and in the lag metric.
 */
export function asOfRange(entity: Entity, records: readonly unknown[], now: number): { newest: Date; oldest: Date } | undefined {
  let newest = -Infinity;
  let oldest = Infinity;
  const at = new Date(now);
  for (const r of records as readonly { asOf?: unknown; invalid?: unknown }[]) {
    if (r.invalid !== undefined || !(r.asOf instanceof Date)) continue;
    if (entity === 'stock' && stockProblem(r as StockRecord, at) !== undefined) continue;
    const t = r.asOf.getTime();
    if (t > now + MAX_FUTURE_SKEW_MS) continue;
    // an invalid date is NaN, which neither comparison takes
    if (t > newest) newest = t;
    if (t < oldest) oldest = t;
  }
  return newest === -Infinity ? undefined : { newest: new Date(newest), oldest: new Date(oldest) };
}

interface DriverError {
  name?: string;
  code?: string;
  errno?: number;
  message?: string;
}

/** The connection under a read broke (reset, closed, killed): a new connection may well succeed. */
export function isConnectionLost(e: unknown): boolean {
  const err = (e ?? {}) as DriverError;
  return (
    err.code === 'ECONNRESET' ||
    err.code === 'EPIPE' ||
    err.code === 'PROTOCOL_CONNECTION_LOST' ||
    err.code === 'ER_CONNECTION_KILLED' ||
    err.code === 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR' ||
    /can't add new command when connection is in closed state|connection lost|connection was killed/i.test(err.message ?? '')
  );
}

/** Any error from a guarded read, as a SourceError with a client-safe reason. */
function toSourceError(source: string, e: unknown, timeoutMs: number): SourceError {
  if (e instanceof SourceError) return e;
  if (e instanceof MappingError) return new SourceError(source, 'mapping', e.reason, { cause: e, entity: e.entity });
  if (e instanceof BrokenCircuitError || e instanceof IsolatedCircuitError) {
    return new SourceError(source, 'circuit-open', 'circuit open after repeated failures', { cause: e });
  }
  const reason = describeSourceFailure(e, timeoutMs);
  const kind = e instanceof LoadShedError ? 'shed' : /^timed out/.test(reason) ? 'timeout' : 'failed';
  return new SourceError(source, kind, reason, { cause: e });
}

/** A failure in words a client may see: what happened, never SQL, hosts or paths. */
export function describeSourceFailure(e: unknown, timeoutMs?: number): string {
  // a mapping that does not match names its entity: `cost: table "tabItem Price" does not exist`
  if (e instanceof SourceError) return e.entity === undefined ? e.reason : `${e.entity}: ${e.reason}`;
  if (e instanceof MappingError) return `${e.entity}: ${e.reason}`;
  if (e instanceof LoadShedError) return TOO_BUSY;
  const err = (e ?? {}) as DriverError;
  const after = timeoutMs === undefined ? '' : ` after ${timeoutMs} ms`;
  if (err.name === 'KnexTimeoutError' || err.name === 'TimeoutError' || err.code === 'ETIMEDOUT' || err.code === 'PROTOCOL_SEQUENCE_TIMEOUT')
    return `timed out${after}`;
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ER_CONNECTION_KILLED' || /connection was killed/i.test(err.message ?? '')) return 'connection killed by the database';
  if (err.code === 'ER_QUERY_INTERRUPTED') return 'query interrupted by the database';
  if (isConnectionLost(e)) return 'connection lost';
  if (err.code === 'ER_ACCESS_DENIED_ERROR') return 'access denied';
  if (err.code === 'SQLITE_CANTOPEN' || /(unable to|cannot) open database/i.test(err.message ?? '')) return 'cannot open its database';
  if (err.code === 'ER_NO_SUCH_TABLE' || err.code === 'ER_BAD_FIELD_ERROR' || /no such (table|column)/i.test(err.message ?? '')) {
    return 'its mapping does not match the database (see the server log)';
  }
  return 'read failed (see the server log)';
}
