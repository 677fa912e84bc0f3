/**
 * Several instances as one (`cluster`, docs/scaling.md). What gateways behind one balancer share:
 *
 * - the rate budget per key (`limits.*.pointsPerMinute`): in Redis (rate-limiter-flexible's
 *   RateLimiterRedis, a fixed minute window per key) when `cluster.redis` is set, with an
 *   in-memory insurance limiter per instance: Redis down never fails a request, each instance
 *   then limits by itself and /status says since when;
 * - circuit-breaker trips: a breaker that opens publishes the trip on a Redis channel; every other
 *   instance holds its breaker of that source open for the same `resetAfterMs` (every source: a
 *   source down for one instance is down for all of them, they read the same database). Redis
 *   down: local breakers only;
 * - the one-at-a-time jobs (events publisher, sweep, SKU matcher): leases in the store
 *   (src/service/leases.ts), Redis or not: they guard work on the store, so they are exactly as
 *   available as that work (Redis down never stops the events).
 *
 * Anomalies (`open_key` unique) and reservations (store transactions) are shared through the store.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { errorFields, type Logger } from '../logger.js';
import type { SharedTrips } from '../sources/resilience.js';

export interface ClusterSettings {
  redis?: string | undefined;
  keyPrefix: string;
  instanceId?: string | undefined;
  leaseSeconds: number;
}

/** /status's view of the cluster. */
export interface ClusterView {
  instanceId: string;
  /** `single`: no `cluster.redis`; `connected`; `unreachable` (limits per instance, breakers local). */
  redis: 'single' | 'connected' | 'unreachable';
  /** Since when Redis has not answered (ISO), when `unreachable`. */
  unreachableSince: string | null;
  /** The budget in force: shared by every instance, or each instance's own. */
  limits: 'shared' | 'per instance';
}

/** What a shared budget answers (src/server/limits.ts `SharedBudget`). */
export interface BudgetAnswer {
  ok: boolean;
  left: number;
  resetInMs: number;
}

/** Host name and process id, and a few random characters: two gateways in one process (a test) are two instances. */
export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

export function createCluster(settings: ClusterSettings, logger: Logger) {
  const instanceId = settings.instanceId ?? defaultInstanceId();
  const prefix = settings.keyPrefix;
  const url = settings.redis;
  let downSince: Date | null = null;
  let closing = false;

  const options = {
    // a command while disconnected fails at once (the insurance limiter answers), never queues
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    // a Redis that holds a command (a stalled network) costs a request at most this, then the insurance answers
    commandTimeout: 500,
    // reconnect for good, at most every 2 s
    retryStrategy: (n: number) => Math.min(100 * n, 2000),
    lazyConnect: false,
  };
  const redis = url === undefined ? undefined : new Redis(url, { ...options, connectionName: `${prefix}${instanceId}` });
  // pub/sub needs its own connection
  const subscriber = url === undefined ? undefined : new Redis(url, { ...options, connectionName: `${prefix}${instanceId}:sub` });

  if (redis !== undefined) {
    // down from the start until the first ready: a request before then is limited per instance
    downSince = new Date();
    redis.on('ready', () => {
      if (downSince !== null && !closing) logger.info('cluster: redis reachable: rate budgets shared again', { instanceId });
      downSince = null;
    });
    const down = (e?: unknown) => {
      if (closing) return;
      if (downSince === null) {
        downSince = new Date();
        logger.warn('cluster: redis unreachable: each instance limits by itself, breakers are local', {
          instanceId,
          ...(e !== undefined ? errorFields(e) : {}),
        });
      }
    };
    redis.on('error', down);
    redis.on('close', () => down());
    // errors are reported through `redis`; the subscriber only reconnects and resubscribes
    subscriber?.on('error', () => undefined);
  }

  /** One limiter per budget size (roles differ); each with its insurance, this instance's own. */
  const limiters = new Map<number, RateLimiterRedis>();
  function limiter(perMinute: number): RateLimiterRedis {
    let l = limiters.get(perMinute);
    if (l === undefined) {
      l = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${prefix}rate:${perMinute}`,
        points: perMinute,
        duration: 60,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `rate:${perMinute}`, points: perMinute, duration: 60 }),
      });
      limiters.set(perMinute, l);
    }
    return l;
  }

  async function consume(key: string, cost: number, perMinute: number): Promise<BudgetAnswer> {
    const l = limiter(perMinute);
    try {
      const r = await l.consume(key, cost);
      return { ok: true, left: r.remainingPoints, resetInMs: r.msBeforeNext };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      // refused: what the refused operation added is given back (a refusal spends nothing)
      await l.reward(key, cost).catch(() => undefined);
      return { ok: false, left: Math.max(0, perMinute - (e.consumedPoints - cost)), resetInMs: e.msBeforeNext };
    }
  }

  const channel = `${prefix}breaker`;
  const tripListeners = new Map<string, (forMs: number) => void>();
  if (subscriber !== undefined) {
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        const m = JSON.parse(message) as { source: string; forMs: number; from: string };
        if (m.from === instanceId) return;
        tripListeners.get(m.source)?.(m.forMs);
      } catch {
        // not ours
      }
    });
    // on every (re)connection: with no offline queue a subscribe before it would fail
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).catch((e: unknown) => logger.warn('cluster: could not subscribe to breaker trips', errorFields(e)));
    });
  }
  /** Trips while Redis was not ready (a source down at start-up): published once it is, for what is left of them. */
  const unsent = new Map<string, number>();
  const send = (source: string, forMs: number) => {
    redis?.publish(channel, JSON.stringify({ source, forMs, from: instanceId })).catch(() => undefined);
  };
  redis?.on('ready', () => {
    const t = Date.now();
    for (const [source, until] of unsent) if (until > t) send(source, until - t);
    unsent.clear();
  });
  const trips: SharedTrips | undefined =
    redis === undefined
      ? undefined
      : {
          publish(source, forMs) {
            if (redis.status === 'ready') send(source, forMs);
            else unsent.set(source, Date.now() + forMs);
          },
          subscribe(source, open) {
            tripListeners.set(source, open);
          },
        };

  return {
    instanceId,
    leaseMs: settings.leaseSeconds * 1000,
    /** The shared rate budget; undefined without `cluster.redis` (each process keeps its own buckets). */
    budget: redis === undefined ? undefined : { consume },
    /** Shared breaker trips; undefined without `cluster.redis`. */
    trips,
    view(): ClusterView {
      return {
        instanceId,
        redis: redis === undefined ? 'single' : downSince === null ? 'connected' : 'unreachable',
        unreachableSince: downSince?.toISOString() ?? null,
        limits: redis !== undefined && downSince === null ? 'shared' : 'per instance',
      };
    },
    /** Closes both Redis connections (no socket left behind). */
    async close(): Promise<void> {
      closing = true;
      await Promise.all(
        [redis, subscriber].map(async (c) => {
          if (c === undefined) return;
          if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
          else c.disconnect();
        }),
      );
    },
  };
}

export type Cluster = ReturnType<typeof createCluster>;
