/**
 * Leases: the jobs only one instance of a fleet may run at a time (the events publisher, the sweep,
 * the SKU matcher) each take a named lease in the store (src/store/lease-store.ts). Every instance
 * tries every `leaseSeconds / 3`: the holder renews, the others take it once it expired, so a
 * crashed holder's job is taken over within `leaseSeconds` (and a closed one's at once: `stop`
 * releases). A holder that could not renew in time (store unreachable, lease stolen) stops at the
 * next step of its job: `held()` is false from the moment its lease may have expired.
 */
import { errorFields, type Logger } from '../logger.js';
import type { LeaseRow, LeaseStore } from '../store/lease-store.js';

/** One named lease, as the job it guards sees it. */
export interface Lease {
  readonly name: string;
  /** Whether this instance holds the lease now (checked before each step of the job). */
  held(): boolean;
}

export interface LeasesOptions {
  store: LeaseStore;
  instanceId: string;
  leaseMs: number;
  logger: Logger;
  now?: () => number;
}

export interface LeaseView {
  name: string;
  /** The instance holding it, or null when nobody does (expired, released). */
  holder: string | null;
  /** Whether it is this instance. */
  mine: boolean;
}

export function createLeases(o: LeasesOptions) {
  const now = o.now ?? Date.now;
  const leases = new Map<string, { until: number; lease: Lease }>();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopped = false;

  async function tryOne(name: string): Promise<void> {
    const l = leases.get(name);
    if (l === undefined) return;
    const t = now();
    const had = t < l.until;
    try {
      const got = await o.store.acquire(name, o.instanceId, o.leaseMs, t);
      // held until the expiry written, as measured before the statement (never later than the store's)
      l.until = got && !stopped ? t + o.leaseMs : 0;
    } catch (e) {
      // kept until it expires: renewed at the next try if the store is back
      o.logger.warn('lease: could not reach the store', { lease: name, ...errorFields(e) });
    }
    const has = now() < l.until;
    if (has && !had) o.logger.info('lease taken: this instance runs the job', { lease: name, instanceId: o.instanceId });
    if (!has && had) o.logger.warn('lease lost: another instance runs the job', { lease: name, instanceId: o.instanceId });
  }

  function tick(): Promise<void> {
    ticking ??= Promise.all([...leases.keys()].map(tryOne))
      .then(() => undefined)
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  }

  return {
    /** The lease `name` (the same object for the same name). */
    lease(name: string): Lease {
      const existing = leases.get(name);
      if (existing !== undefined) return existing.lease;
      const entry = { until: 0, lease: { name, held: () => !stopped && now() < entry.until } };
      leases.set(name, entry);
      return entry.lease;
    },
    /** Tries every lease now, then every `leaseMs / 3`; resolves after the first try. */
    async start(): Promise<void> {
      if (timer !== undefined || stopped) return;
      timer = setInterval(() => void tick(), Math.max(100, Math.floor(o.leaseMs / 3)));
      timer.unref();
      await tick();
    },
    /** Stops renewing and releases what this instance holds: another instance takes over at its next try. */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await ticking;
      await Promise.all(
        [...leases.entries()].map(async ([name, l]) => {
          if (l.until === 0) return;
          l.until = 0;
          await o.store.release(name, o.instanceId).catch((e: unknown) => o.logger.warn('lease: could not release', { lease: name, ...errorFields(e) }));
        }),
      );
    },
    /** Every lease this instance asks for, and its holder as the store says now. */
    async view(): Promise<LeaseView[]> {
      const rows = new Map<string, LeaseRow>((await o.store.list()).map((r) => [r.name, r]));
      const t = now();
      return [...leases.keys()].map((name) => {
        const r = rows.get(name);
        const holder = r !== undefined && r.expiresAt > t && r.holder !== '' ? r.holder : null;
        return { name, holder, mine: holder === o.instanceId };
      });
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;
