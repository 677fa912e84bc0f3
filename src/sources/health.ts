/**
 * What this process knows about each source's health, fed by the resilience wrapper
 * (src/sources/resilience.ts) on every read: the breaker's state, the last successful read,
 * the last error in words fit for a client, latency, counts, the `asOf` range the last read
 * returned, and the live pool and queue counters. The `sources` GraphQL query and `/readyz`
 * show it. Per process and in memory only: nothing here is shared between instances.
 */

export type SourceStatus = 'UP' | 'DEGRADED' | 'DOWN';
export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** A connection pool's counters (knex/tarn for SQL sources). */
export interface PoolStats {
  /** Most connections at once. */
  size: number;
  /** Connections lent out to a statement right now. */
  used: number;
  /** Open connections waiting for a statement. */
  free: number;
  /** Statements waiting for a connection. */
  pendingAcquires: number;
  /** Connections being opened. */
  pendingCreates: number;
}

/** Facts that do not change while the process runs. */
export interface SourceDescription {
  name: string;
  kind: string;
  entities: string[];
  maxAgeSeconds: number | null;
  stalePolicy: string;
  timeoutMs: number;
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
}

/** Live counters the registry reads when asked, never caches. */
export interface SourceProbes {
  breaker(): BreakerState;
  /** Reads running against the source, and reads waiting for a slot. */
  load(): { inFlight: number; queued: number };
  pool?(): PoolStats | undefined;
  /** What the source itself says degrades it although it answers (Connector.problem); null: nothing. */
  problem?(): string | null;
  /** While the breaker is open: when it lets the next read through as its trial (src/sources/resilience.ts). */
  trialAt?(): Date | null;
}

export interface SourceHealth extends SourceDescription {
  status: SourceStatus;
  breaker: BreakerState;
  /** When the last read (or start-up check) that succeeded finished. */
  lastSuccessAt: Date | null;
  /** When the last read failed, and why, in words fit for a client ("timed out after 300 ms"). */
  lastErrorAt: Date | null;
  lastError: string | null;
  /**
   * Why the source is degraded although it answers: each failing entity (`cost: table "tabItem
   * Price" does not exist`), then what the source itself says (a file source serving an older
   * snapshot); null: nothing.
   */
  problem: string | null;
  /** The mappings whose reads fail although the source answers (a table or column that does not exist), in the order they failed. */
  failingEntities: EntityFailure[];
  /** How long the last read took, success or failure, in ms. */
  lastLatencyMs: number | null;
  /** Reads that succeeded since start. */
  successCount: number;
  /** Reads that failed since start (timeouts, connection and query errors). */
  errorCount: number;
  /** Reads refused by the open breaker, without touching the source, since start. */
  rejectedCount: number;
  /** Reads load shed since start: too many waiting, or not started in time (src/sources/resilience.ts); not the source's failures. */
  shedCount: number;
  /** Failures in a row since the last success. */
  consecutiveFailures: number;
  /** The newest and oldest `asOf` among the records of the last read that returned dated records. */
  newestAsOf: Date | null;
  oldestAsOf: Date | null;
  /** Since when it has been DOWN without a break (a trial read in between does not end it); null while it is not DOWN. */
  downSince: Date | null;
  /**
   * While DOWN, when it will next be tried: the breaker's trial time while that is ahead, else the
   * next health check; null while it is not DOWN (or when only a request would try it).
   */
  nextRetryAt: Date | null;
  /** When the background health check (src/service/health-checks.ts) last ran; null when it never ran (or checks are off). */
  lastCheckAt: Date | null;
  /** Whether the source answered that check; null before the first one. */
  lastCheckOk: boolean | null;
  inFlight: number;
  queued: number;
  pool: PoolStats | null;
}

/** One entity (mapping) of a source whose reads fail although the source answers. */
export interface EntityFailure {
  entity: string;
  reason: string;
  since: Date;
}

interface Entry {
  description: SourceDescription;
  /** By entity: its mapping does not match the source (MappingError), since when and why. */
  failing: Map<string, EntityFailure>;
  probes: SourceProbes;
  lastSuccessAt: Date | null;
  lastErrorAt: Date | null;
  lastError: string | null;
  lastLatencyMs: number | null;
  lastOutcome: 'success' | 'failure' | null;
  successCount: number;
  errorCount: number;
  rejectedCount: number;
  shedCount: number;
  consecutiveFailures: number;
  newestAsOf: Date | null;
  oldestAsOf: Date | null;
  downSince: Date | null;
  lastCheckAt: Date | null;
  lastCheckOk: boolean | null;
  /** The last health check failed and nothing answered since: the source does not answer the cheapest question. */
  checkFailing: boolean;
  /** When the scheduler runs the next health check; null when checks are off. */
  nextCheckAt: Date | null;
  /** When the last read (not a check) reached the source and settled, answered or failed. */
  lastReadAt: Date | null;
}

/** A read that took longer than this share of the source's deadline makes it DEGRADED. */
export const SLOW_SHARE = 0.8;

export class SourceHealthRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  register(description: SourceDescription, probes: SourceProbes): void {
    this.entries.set(description.name, {
      description,
      failing: new Map(),
      probes,
      lastSuccessAt: null,
      lastErrorAt: null,
      lastError: null,
      lastLatencyMs: null,
      lastOutcome: null,
      successCount: 0,
      errorCount: 0,
      rejectedCount: 0,
      shedCount: 0,
      consecutiveFailures: 0,
      newestAsOf: null,
      oldestAsOf: null,
      downSince: null,
      lastCheckAt: null,
      lastCheckOk: null,
      checkFailing: false,
      nextCheckAt: null,
      lastReadAt: null,
    });
  }

  /** A read that answered; `asOf` is the range of its dated records, if it had any. */
  success(source: string, latencyMs: number, asOf?: { newest: Date; oldest: Date }): void {
    const e = this.entry(source);
    if (e === undefined) return;
    e.lastSuccessAt = this.now();
    e.lastReadAt = e.lastSuccessAt;
    e.lastLatencyMs = Math.round(latencyMs);
    e.lastOutcome = 'success';
    e.successCount++;
    e.consecutiveFailures = 0;
    e.checkFailing = false;
    if (asOf !== undefined) {
      e.newestAsOf = asOf.newest;
      e.oldestAsOf = asOf.oldest;
    }
    this.track(e);
  }

  /**
   * A check that is not a read (the start-up probe, src/sources/probe.ts) found the source
   * answering: it counts as its last success, without a latency or a read.
   */
  reachable(source: string): void {
    const e = this.entry(source);
    if (e === undefined) return;
    e.lastSuccessAt = this.now();
    e.lastOutcome = 'success';
    e.consecutiveFailures = 0;
    e.checkFailing = false;
    this.track(e);
  }

  /**
   * The background health check's outcome (src/service/health-checks.ts): not a read, so it is
   * not counted among reads nor timed as one. Answered: as `reachable`. Not answered: the last
   * error, and the source is DOWN until something answers again (a check, a read).
   */
  checked(source: string, outcome: { ok: true } | { ok: false; reason: string }): void {
    const e = this.entry(source);
    if (e === undefined) return;
    const at = this.now();
    e.lastCheckAt = at;
    e.lastCheckOk = outcome.ok;
    if (outcome.ok) {
      this.reachable(source);
      return;
    }
    e.lastErrorAt = at;
    e.lastError = outcome.reason;
    e.lastOutcome = 'failure';
    e.consecutiveFailures++;
    e.checkFailing = true;
    this.track(e);
  }

  /**
   * When the last read reached the source and settled, answered or failed (a check, a read the
   * open breaker refused or a shed read are not reads of the source); null: none since start.
   */
  lastReadAt(source: string): Date | null {
    return this.entry(source)?.lastReadAt ?? null;
  }

  /** When the next health check of the source is planned; null when checks are off or stopped. */
  nextCheckAt(source: string): Date | null {
    return this.entry(source)?.nextCheckAt ?? null;
  }

  /** When the health check scheduler will next check the source (null: checks are off or stopped). */
  checkScheduled(source: string, at: Date | null): void {
    const e = this.entry(source);
    if (e !== undefined) e.nextCheckAt = at;
  }

  /** A read that reached for the source and failed. */
  failure(source: string, latencyMs: number, reason: string): void {
    const e = this.entry(source);
    if (e === undefined) return;
    e.lastErrorAt = this.now();
    e.lastReadAt = e.lastErrorAt;
    e.lastError = reason;
    e.lastLatencyMs = Math.round(latencyMs);
    e.lastOutcome = 'failure';
    e.errorCount++;
    e.consecutiveFailures++;
    this.track(e);
  }

  /**
   * A read of one entity failed because its mapping does not match the source (the source
   * answered): that entity is shown failing until a read of it succeeds. True when this is news
   * (the entity was not failing, or failed for another reason).
   */
  entityFailure(source: string, entity: string, reason: string): boolean {
    const e = this.entry(source);
    if (e === undefined) return false;
    const was = e.failing.get(entity);
    if (was?.reason === reason) return false;
    e.failing.set(entity, { entity, reason, since: this.now() });
    this.track(e);
    return true;
  }

  /** A read of one entity succeeded: it no longer fails. True when it was failing. */
  entityOk(source: string, entity: string): boolean {
    const e = this.entry(source);
    if (e === undefined) return false;
    const was = e.failing.delete(entity);
    this.track(e);
    return was;
  }

  /** A read the open breaker refused before it reached the source: it says nothing new about the source. */
  rejected(source: string): void {
    const e = this.entry(source);
    if (e !== undefined) e.rejectedCount++;
  }

  /** A read load shed (too many waiting, or not started in time): it says nothing about the source. */
  shed(source: string): void {
    const e = this.entry(source);
    if (e !== undefined) e.shedCount++;
  }

  get(source: string): SourceHealth | undefined {
    const e = this.entry(source);
    return e === undefined ? undefined : this.view(e);
  }

  /** Every registered source, in registration (config) order. */
  list(): SourceHealth[] {
    return [...this.entries.values()].map((e) => this.view(e));
  }

  /** A compact per-source summary for `/readyz`. */
  summary(): Record<string, { status: SourceStatus; breaker: BreakerState; lastSuccessAt: string | null; lastError: string | null; problem: string | null }> {
    return Object.fromEntries(
      this.list().map((h) => [
        h.name,
        { status: h.status, breaker: h.breaker, lastSuccessAt: h.lastSuccessAt?.toISOString() ?? null, lastError: h.lastError, problem: h.problem },
      ]),
    );
  }

  private entry(source: string): Entry | undefined {
    return this.entries.get(source);
  }

  /**
   * Keeps `downSince` after a change (and on every look, as the breaker moves by itself): set when
   * the source turns DOWN, cleared when it is no longer DOWN, except during a trial read
   * (half-open), which does not end an outage until it succeeds.
   */
  private track(e: Entry): SourceStatus {
    const breaker = e.probes.breaker();
    const st = status(e, breaker, this.problemOf(e));
    if (st === 'DOWN') e.downSince ??= this.now();
    else if (breaker !== 'HALF_OPEN') e.downSince = null;
    return st;
  }

  private problemOf(e: Entry): string | null {
    const problems = [...[...e.failing.values()].map((f) => `${f.entity}: ${f.reason}`), e.probes.problem?.() ?? null].filter((p) => p !== null);
    return problems.length === 0 ? null : problems.join('; ');
  }

  /** While DOWN: the breaker's trial time while it is ahead, else the next health check (see SourceHealth.nextRetryAt). */
  private nextRetry(e: Entry, breaker: BreakerState): Date | null {
    const now = this.now().getTime();
    const trial = breaker === 'OPEN' ? (e.probes.trialAt?.() ?? null) : null;
    if (trial !== null && trial.getTime() > now) return trial;
    return e.nextCheckAt ?? trial;
  }

  private view(e: Entry): SourceHealth {
    const breaker = e.probes.breaker();
    const { inFlight, queued } = e.probes.load();
    const failingEntities = [...e.failing.values()];
    const problem = this.problemOf(e);
    const st = this.track(e);
    return {
      ...e.description,
      status: st,
      failingEntities,
      breaker,
      lastSuccessAt: e.lastSuccessAt,
      lastErrorAt: e.lastErrorAt,
      lastError: e.lastError,
      problem,
      lastLatencyMs: e.lastLatencyMs,
      successCount: e.successCount,
      errorCount: e.errorCount,
      rejectedCount: e.rejectedCount,
      shedCount: e.shedCount,
      consecutiveFailures: e.consecutiveFailures,
      newestAsOf: e.newestAsOf,
      oldestAsOf: e.oldestAsOf,
      downSince: st === 'DOWN' ? e.downSince : null,
      nextRetryAt: st === 'DOWN' ? this.nextRetry(e, breaker) : null,
      lastCheckAt: e.lastCheckAt,
      lastCheckOk: e.lastCheckOk,
      inFlight,
      queued,
      pool: e.probes.pool?.() ?? null,
    };
  }
}

/**
 * DOWN: the breaker is open, or the source never answered and its last read failed, or its last
 * health check failed and nothing answered since (it does not answer the cheapest question), or
 * every entity it maps fails (its mappings do not match it).
 * DEGRADED: a trial read is running (half-open), the last read failed (fewer failures in a row
 * than open the breaker), an entity fails (its mapping does not match the source: the others are
 * answered), the source reports a problem though it answers (a file source serving an older
 * snapshot), or the last read was slow (over 80% of its deadline).
 * UP: otherwise.
 */
function status(e: Entry, breaker: BreakerState, problem: string | null): SourceStatus {
  if (breaker === 'OPEN') return 'DOWN';
  if (e.lastOutcome === 'failure' && e.lastSuccessAt === null) return 'DOWN';
  if (e.checkFailing) return 'DOWN';
  const mapped = e.description.entities;
  if (mapped.length > 0 && mapped.every((x) => e.failing.has(x))) return 'DOWN';
  if (breaker === 'HALF_OPEN' || e.lastOutcome === 'failure' || problem !== null) return 'DEGRADED';
  if (e.lastLatencyMs !== null && e.lastLatencyMs > e.description.timeoutMs * SLOW_SHARE) return 'DEGRADED';
  return 'UP';
}
