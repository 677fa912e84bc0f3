/**
 * What the broker feed tests share: a recording `ChangeSink` a test can hold (receive waits until
 * released), make fail, or slow down; a context for a feed; and a polling `eventually`.
 */
import type { MirrorControl } from '../../src/feeds/mirror.js';
import { randomBytes } from 'node:crypto';
import { createLogger, type Logger } from '../../src/logger.js';
import type { ChangeSink, Delivery, FeedContext, Outcome } from '../../src/feeds/types.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` passes, or fails with its last error after `ms` (generous: a loaded 2-core machine). */
export async function eventually<T>(check: () => T | Promise<T>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await sleep(50);
    }
  }
}

export const suffix = () => `${process.pid}_${randomBytes(4).toString('hex')}`;

export interface Call {
  feed: string;
  deliveries: readonly Delivery[];
  /** How the call ended: still pending, resolved, or rejected (by `failing` or `rejectNext`). */
  state: 'pending' | 'resolved' | 'rejected';
}

/** A sink that records every call; `receive` resolves 'applied' for each delivery unless told otherwise. */
export class RecordingSink implements ChangeSink {
  readonly calls: Call[] = [];
  /** Reject every call while set. */
  failing = false;
  /** Each call waits this long before settling. */
  slowMs = 0;
  private rejectCount = 0;
  private holds: (() => void)[] = [];
  private holdNext = 0;

  /** Rejects the next `n` calls. */
  rejectNext(n: number): void {
    this.rejectCount = n;
  }

  /** The next `n` calls wait until `release` (they settle then, as they would have). */
  hold(n = 1): void {
    this.holdNext = n;
  }

  release(): void {
    const h = this.holds;
    this.holds = [];
    for (const r of h) r();
  }

  async receive(feed: string, deliveries: readonly Delivery[]): Promise<Outcome[]> {
    const call: Call = { feed, deliveries: [...deliveries], state: 'pending' };
    this.calls.push(call);
    if (this.holdNext > 0) {
      this.holdNext--;
      await new Promise<void>((r) => this.holds.push(r));
    }
    if (this.slowMs > 0) await sleep(this.slowMs);
    if (this.failing || this.rejectCount > 0) {
      if (this.rejectCount > 0) this.rejectCount--;
      call.state = 'rejected';
      throw new Error('store unavailable (test)');
    }
    call.state = 'resolved';
    return deliveries.map(() => 'applied');
  }

  /** The bodies handed over, in order, every time (redeliveries repeat). */
  bodies(): string[] {
    return this.calls.flatMap((c) => c.deliveries.map((d) => d.body));
  }

  /** The bodies of calls that resolved (applied). */
  applied(): string[] {
    return this.calls.filter((c) => c.state === 'resolved').flatMap((c) => c.deliveries.map((d) => d.body));
  }

  pending(): Call[] {
    return this.calls.filter((c) => c.state === 'pending');
  }
}

/** A logger that keeps its lines (and writes nothing). */
export function recordingLogger(): { logger: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger('debug', (line) => {
    const v = JSON.parse(line) as { level: string; msg: string };
    lines.push({ level: v.level, msg: v.msg });
  });
  return { logger, lines };
}

export function feedContext(sink: ChangeSink, logger: Logger, source = 'tpl'): FeedContext {
  // broker feeds hand everything to their sink and never touch the mirror (only poll feeds do)
  return { source, sink, logger, mirror: { source } as unknown as MirrorControl };
}

/** Every item of `want` is in `got` (at least once). */
export function missing(got: readonly string[], want: readonly string[]): string[] {
  const have = new Set(got);
  return want.filter((w) => !have.has(w));
}
