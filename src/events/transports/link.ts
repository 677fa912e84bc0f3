/**
 * The connection a broker transport (amqp, nats) publishes over, kept the same way for both:
 * opened by the first call that needs it (one attempt at a time, whoever asks), dropped when
 * lost (the next call opens another), never reopened once the transport closes. An outage is
 * logged once at warn, then at debug, until a call connects again ("reconnected" at info).
 */
import { errorText, within } from '../../feeds/message-feed.js';
import { errorFields, type Logger } from '../../logger.js';
import { bounded } from './common.js';

/** What a transport's connection carries besides its own handles. */
export interface Link {
  /** Lost or closed: not published on again. */
  dead: boolean;
  /** Why it was lost. */
  why: string | undefined;
}

export interface LinkKeeperOptions<L extends Link> {
  /** Opens a connection, ready to publish on (rejects when it cannot). */
  open(): Promise<L>;
  /** Lets go of a connection's handles (closing a closed one is harmless). */
  release(l: L): void;
  /** `events amqp transport`: how log lines name the transport. */
  what: string;
  /** The start of the reason a call fails with when the broker cannot be reached (`cannot reach NATS at ...`). */
  unreachable: string;
  where: Record<string, unknown>;
  logger: Logger;
}

export function createLinkKeeper<L extends Link>(o: LinkKeeperOptions<L>) {
  let link: L | undefined;
  let opening: Promise<L> | undefined;
  let down = false;
  let closing = false;

  function report(message: string, e: unknown): void {
    const fields = { ...o.where, ...errorFields(e) };
    if (down) o.logger.debug(`${o.what} ${message}`, fields);
    else o.logger.warn(`${o.what} ${message}`, fields);
    down = true;
  }

  /** Marks `l` dead (with why) and lets go of it; nothing else. */
  function drop(l: L, e: unknown): void {
    l.dead = true;
    l.why ??= errorText(e);
    if (link === l) link = undefined;
    o.release(l);
  }

  return {
    /** Whether `close` was called. */
    get closing(): boolean {
      return closing;
    },

    /** The live connection, or a new one. */
    current(): Promise<L> {
      if (link !== undefined && !link.dead) return Promise.resolve(link);
      opening ??= o.open().then(
        (l) => {
          opening = undefined;
          if (closing || l.dead) {
            drop(l, new Error('the transport closed'));
            throw new Error(closing ? 'the transport is closed' : `the connection closed at once: ${l.why ?? ''}`);
          }
          link = l;
          if (down) o.logger.info(`${o.what} reconnected`, o.where);
          down = false;
          return l;
        },
        (e: unknown) => {
          opening = undefined;
          throw e;
        },
      );
      opening.catch(() => undefined);
      return opening;
    },

    /**
     * The connection for one call, or the reason there is none: the transport is closed, the call
     * was aborted, or the broker cannot be reached (logged once per outage).
     */
    async forCall(signal: AbortSignal, timeoutMs: number): Promise<L | string> {
      if (closing) return 'the transport is closed';
      if (signal.aborted) return 'aborted (shutting down)';
      try {
        return await bounded(this.current(), timeoutMs, signal, 'connecting');
      } catch (e) {
        if (!closing && !signal.aborted) report('cannot connect', e);
        return `${o.unreachable}: ${errorText(e)}`;
      }
    },

    /** The connection `l` is gone (or given up on): dropped, and the outage logged unless closing. */
    lost(l: L, e: unknown, message: string): void {
      if (l.dead) return;
      drop(l, e);
      if (!closing) report(message, e);
    },

    /** Lets go of a connection `open` made but could not finish setting up. */
    drop,

    /** Logs a failure to reach the broker (once per outage at warn). */
    report,

    /** Stops: waits (bounded) for an opening in flight, and answers the live connection, marked dead, for the caller to close. */
    async close(timeoutMs: number): Promise<L | undefined> {
      closing = true;
      if (opening !== undefined) await within(opening, timeoutMs);
      const l = link;
      link = undefined;
      if (l === undefined || l.dead) return undefined;
      l.dead = true;
      l.why = 'the transport closed';
      return l;
    },
  };
}
