/**
 * The seam between a feed (what carries changes: a broker queue, a stream, a webhook call, a
 * poll of the source) and the mirror it keeps current (src/feeds/mirror.ts). A message feed
 * decodes its transport into `Delivery` values and hands them to its `ChangeSink`; the sink
 * parses, drops duplicates by id, writes the changes to the store and applies them, and only
 * when `receive` resolves may the feed acknowledge (the change is durable and applied). When
 * `receive` rejects (the store cannot be written), nothing was acknowledged and nothing is lost:
 * the feed lets the transport deliver again (amqp nack with requeue, nats nak, webhook 503).
 *
 * Feed kinds are the config's `sync.feeds[].kind` (src/config/schema.ts), each built by its
 * factory in src/feeds/registry.ts.
 */
import type { Logger } from '../logger.js';
import type { MirrorControl } from './mirror.js';

/** One message as a transport delivered it, before parsing. */
export interface Delivery {
  /** The body: UTF-8 JSON of one change (docs/feeds.md), or an array of changes. */
  body: string;
  /** The transport's own id for the delivery (amqp messageId, nats Nats-Msg-Id, webhook-id), kept with a dead letter. */
  transportId?: string;
}

/** What became of one delivery (an array body: of its changes, the worst counted). */
export type Outcome = 'applied' | 'duplicate' | 'ignored' | 'dead';

export interface ChangeSink {
  /**
   * Parses, dedupes, makes durable and applies `deliveries`, in order; resolves with each
   * one's outcome once all are durable. A delivery that cannot be applied (malformed, unknown
   * location) is a dead letter with its reason: durable too, so it is acknowledged like the rest.
   */
  receive(feed: string, deliveries: readonly Delivery[]): Promise<Outcome[]>;
}

/** A feed's counters, for /status, /metrics and the `sources` query. */
export interface FeedStats {
  /** `<source>/<kind>`, e.g. `wms/poll`. */
  name: string;
  kind: string;
  /** Connected to its broker (always true for poll and webhook once started). */
  connected: boolean;
  /** When the feed was last known to be caught up with its source (null: never yet). */
  heardAt: Date | null;
  /** Changes applied, duplicates dropped, dead letters, since start. */
  applied: number;
  duplicates: number;
  deadLetters: number;
  /** The last error, in words for an operator; null when the feed is healthy. */
  lastError: string | null;
  /** Poll feeds: when the last full read ended and how long it took, in ms. */
  lastFullResync?: { at: Date; durationMs: number; records: number } | null;
}

export interface Feed {
  /** `<source>/<kind>`. */
  readonly name: string;
  readonly kind: string;
  /** Starts consuming; never rejects because the broker is down (the feed retries and says so in `stats`). */
  start(): Promise<void>;
  stats(): FeedStats;
  /** Stops consuming; what was received but not yet acknowledged is delivered again by the transport. */
  close(): Promise<void>;
}

/** Counters a message feed keeps from its sink's outcomes. */
export function countOutcomes(stats: Pick<FeedStats, 'applied' | 'duplicates' | 'deadLetters'>, outcomes: readonly Outcome[]): void {
  for (const o of outcomes) {
    if (o === 'applied' || o === 'ignored') stats.applied++;
    else if (o === 'duplicate') stats.duplicates++;
    else stats.deadLetters++;
  }
}

/** What a feed is given besides its config. */
export interface FeedContext {
  /** The mirrored source's name. */
  source: string;
  /** Where a message feed hands what it receives. */
  sink: ChangeSink;
  logger: Logger;
  /** For `poll`: the mirror it refreshes from the live source (src/feeds/mirror.ts). */
  mirror: MirrorControl;
}
