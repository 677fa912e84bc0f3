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
    });
  }

  /** A read that answered; `asOf` is the range of its dated records, if it had any. */
  success(source: string, latencyMs: number, asOf?: { newest: Date; oldest: Date }): void {
    const e = this.entry(source);
    if (e === undefined) return;
    e.lastSuccessAt = this.now();
    e.lastLatencyMs = Math.round(latencyMs);
    e.lastOutcome = 'success';
    e.successCount++;
    e.consecutiveFailures = 0;
    if (asOf !== undefined) {
      e.newestAsOf = asOf.newest;
      e.oldestAsOf = asOf.oldest;
    }
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
  }

  /** A read that reached for the source and failed. */
  failure(source: string, latencyMs: number, reason: string): void {
    const e = this.entry(source);
    if (e === undefined) return;
    e.lastErrorAt = this.now();
    e.lastError = reason;
    e.lastLatencyMs = Math.round(latencyMs);
    e.lastOutcome = 'failure';
    e.errorCount++;
    e.consecutiveFailures++;
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
    return true;
  }

  /** A read of one entity succeeded: it no longer fails. True when it was failing. */
  entityOk(source: string, entity: string): boolean {
    return this.entry(source)?.failing.delete(entity) ?? false;
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

  private view(e: Entry): SourceHealth {
    const breaker = e.probes.breaker();
    const { inFlight, queued } = e.probes.load();
    const failingEntities = [...e.failing.values()];
    const problems = [...failingEntities.map((f) => `${f.entity}: ${f.reason}`), e.probes.problem?.() ?? null].filter((p) => p !== null);
    const problem = problems.length === 0 ? null : problems.join('; ');
    return {
      ...e.description,
      status: status(e, breaker, problem),
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
      inFlight,
      queued,
      pool: e.probes.pool?.() ?? null,
    };
  }
}

/**
 * DOWN: the breaker is open, or the source never answered and its last read failed, or every
 * entity it maps fails (its mappings do not match it).
 * DEGRADED: a trial read is running (half-open), the last read failed (fewer failures in a row
 * than open the breaker), an entity fails (its mapping does not match the source: the others are
 * answered), the source reports a problem though it answers (a file source serving an older
 * snapshot), or the last read was slow (over 80% of its deadline).
 * UP: otherwise.
 */
function status(e: Entry, breaker: BreakerState, problem: string | null): SourceStatus {
  if (breaker === 'OPEN') return 'DOWN';
  if (e.lastOutcome === 'failure' && e.lastSuccessAt === null) return 'DOWN';
  const mapped = e.description.entities;
  if (mapped.length > 0 && mapped.every((x) => e.failing.has(x))) return 'DOWN';
  if (breaker === 'HALF_OPEN' || e.lastOutcome === 'failure' || problem !== null) return 'DEGRADED';
  if (e.lastLatencyMs !== null && e.lastLatencyMs > e.description.timeoutMs * SLOW_SHARE) return 'DEGRADED';
  return 'UP';
}
