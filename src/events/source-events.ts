/**
 * source.down | source.up | source.stale: every `events.sourceCheckSeconds`, each source's state
 * as /status shows it is compared with the last one published (a baseline in the store, so a
 * restart does not announce again what was already said), and a change is published with the
 * source's last error or its age. States: `down` (the breaker is open or the last reads failed),
 * `stale` (its newest record, or its mirror's last catch-up, is older than allowed), else `up`
 * (DEGRADED counts as up: it still answers; but a breaker's half-open trial counts as down, so
 * a source that stays down through its trial reads is announced once, not up and down again). A source never seen before is recorded silently
 * when up, announced when down or stale.
 */
import type { NewEvent } from '../domain/events.js';
import { errorFields, type Logger } from '../logger.js';
import type { Baseline, Store } from '../store/index.js';

export type SourceState = 'up' | 'down' | 'stale';

export interface SourceReading {
  source: string;
  state: SourceState;
  /** What /status says about it: the status, last error, age. */
  detail: Record<string, unknown>;
}

export interface SourceEventsOptions {
  store: Store;
  /** Every source's state now. */
  read: () => SourceReading[];
  intervalSeconds: number;
  logger: Logger;
  now?: () => Date;
}

export function createSourceEvents(o: SourceEventsOptions) {
  const now = o.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function check(): Promise<number> {
    const readings = o.read();
    if (readings.length === 0) return 0;
    const baselines = await o.store.events.baselines(
      'source',
      readings.map((r) => r.source),
    );
    const at = now();
    const events: NewEvent[] = [];
    const saved: Baseline[] = [];
    for (const r of readings) {
      const b = baselines.get(`${r.source}\u0000`);
      if (b?.band === r.state) continue;
      saved.push({ scope: 'source', subject: r.source, channel: '', band: r.state, figure: { since: at.toISOString() } });
      if (b === undefined && r.state === 'up') continue;
      events.push({
        type: `source.${r.state}`,
        sku: null,
        channel: null,
        occurredAt: at,
        orderingKey: `source:${r.source}`,
        data: { source: r.source, state: r.state, previous: b?.band ?? null, ...r.detail },
      });
    }
    const stored = await o.store.events.commitRecompute({ events, baselines: saved, done: [] });
    return stored.length;
  }

  return {
    /** Compares now; answers how many events were written. */
    check,
    start(): void {
      timer = setInterval(() => {
        running ??= check()
          .then(() => undefined)
          .catch((e: unknown) => o.logger.warn('could not publish source events', errorFields(e)))
          .finally(() => (running = undefined));
      }, o.intervalSeconds * 1000);
      timer.unref();
    },
    async close(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}

export type SourceEvents = ReturnType<typeof createSourceEvents>;
