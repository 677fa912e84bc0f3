/**
 * What the broker feeds (src/feeds/amqp.ts, src/feeds/nats.ts) share: a `Batcher` that gathers
 * the messages a consumer pushes into batches for the sink (what arrives within a few ms, up to
 * a maximum, one batch in flight at a time so acknowledgements stay in delivery order), the
 * reconnect backoff (exponential, capped, with jitter), and a pause that a close cuts short.
 */

/** Gathers items into batches; `handle` takes one batch at a time, in arrival order. */
export class Batcher<T> {
  private buffer: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];

  /**
   * `handle` must not reject (a feed settles its own failures); `max` bounds a batch, and a
   * batch is handed on `windowMs` after its first item unless it fills first.
   */
  constructor(
    private readonly handle: (batch: T[]) => Promise<void>,
    private readonly max: number,
    private readonly windowMs = 5,
  ) {}

  push(item: T): void {
    this.buffer.push(item);
    this.schedule();
  }

  /** Items waiting (not yet handed on). */
  get waiting(): number {
    return this.buffer.length;
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Takes out the waiting items that `pred` picks (a dead connection's: they cannot be acknowledged any more). */
  discard(pred: (item: T) => boolean = () => true): T[] {
    const out = this.buffer.filter(pred);
    this.buffer = this.buffer.filter((i) => !pred(i));
    if (this.buffer.length === 0) this.clearTimer();
    this.notifyIdle();
    return out;
  }

  /** Resolves once nothing is waiting and no batch is in flight. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once the batch in flight (if any) has been handled; what waits stays waiting. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && this.inFlight === undefined;
  }

  private schedule(): void {
    if (this.inFlight !== undefined || this.buffer.length === 0) return;
    if (this.buffer.length >= this.max) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.clearTimer();
    if (this.inFlight !== undefined || this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, this.max);
    this.inFlight = this.handle(batch)
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
        this.notifyIdle();
      });
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

export interface BackoffOptions {
  /** The first retry's delay, in ms (before jitter). */
  initialMs: number;
  /** The cap, in ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000 };

/**
 * The delay before retry number `attempt` (0 for the first): doubles from `initialMs` up to
 * `maxMs`, then a random half of it is taken off ("equal jitter"), so instances that lost the
 * same broker do not all come back at the same instant.
 */
export function backoffMs(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves with `p`'s settling, or after `ms` whichever is first; never rejects. True when `p` settled in time. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (t = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(t);
  }
}

/** An error in words for an operator (`lastError`). */
/** `url` with a heartbeat of 10 s unless it sets one: a silent network is noticed (RabbitMQ feeds and sinks). */
export function withHeartbeat(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', '10');
  return u.toString();
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message !== '' ? e.message : e.name;
  return String(e);
}
