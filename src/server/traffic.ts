/**
 * API traffic at a glance for /status: GraphQL requests per second over the last minute, their
 * 95th percentile latency, and the errors of their answers by `extensions.code` (over the last
 * minute and since start), fed by the same calls as /metrics (`Metrics.observeRequest`).
 *
 * Bounded memory whatever the load: one bucket per second for the last 60 seconds, each a count,
 * a latency histogram of fixed log-spaced bounds (each 25 % above the last, from 0.1 ms), and
 * the errors by code; the p95 is the upper bound of the bucket it falls in (at most 25 % over).
 */

/** Seconds the recent figures cover. */
export const TRAFFIC_WINDOW_SECONDS = 60;

const FIRST_BOUND_MS = 0.1;
const RATIO = 1.25;
/** 0.1 ms × 1.25^90 is about 5.2 × 10^7 ms: every realistic latency has its bucket; the last one takes the rest. */
const BUCKETS = 91;

const boundOf = (i: number) => FIRST_BOUND_MS * RATIO ** i;

function bucketOf(ms: number): number {
  if (!(ms > FIRST_BOUND_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / FIRST_BOUND_MS) / Math.log(RATIO)));
}

interface Second {
  at: number;
  requests: number;
  latency: number[];
  errors: Map<string, number>;
}

export interface TrafficView {
  windowSeconds: number;
  /** GraphQL requests answered over the window. */
  requests: number;
  /** `requests` over the window's seconds. */
  perSecond: number;
  /** The 95th percentile of their latency in ms (a bucket's upper bound); null without requests. */
  p95Ms: number | null;
  /** Errors in their answers by GraphQL code, over the window. */
  errorsByCode: Record<string, number>;
  /** Since this process started. */
  total: { requests: number; errorsByCode: Record<string, number> };
}

export interface TrafficTracker {
  /** One GraphQL request answered: its latency and its errors by (bounded) code. */
  record(durationMs: number, errors: Iterable<[string, number]>): void;
  view(): TrafficView;
}

export function createTrafficTracker(now: () => number = Date.now): TrafficTracker {
  const seconds: Second[] = [];
  let totalRequests = 0;
  const totalErrors = new Map<string, number>();

  /** The buckets still inside the window, oldest dropped. */
  function recent(at: number): Second[] {
    const from = at - TRAFFIC_WINDOW_SECONDS + 1;
    while (seconds.length > 0 && (seconds[0] as Second).at < from) seconds.shift();
    return seconds;
  }

  return {
    record(durationMs, errors) {
      const at = Math.floor(now() / 1000);
      const live = recent(at);
      let s = live.at(-1);
      if (s === undefined || s.at !== at) {
        s = { at, requests: 0, latency: new Array<number>(BUCKETS).fill(0), errors: new Map() };
        live.push(s);
      }
      s.requests++;
      (s.latency[bucketOf(durationMs)] as number)++;
      totalRequests++;
      for (const [code, n] of errors) {
        if (n <= 0) continue;
        s.errors.set(code, (s.errors.get(code) ?? 0) + n);
        totalErrors.set(code, (totalErrors.get(code) ?? 0) + n);
      }
    },
    view() {
      const live = recent(Math.floor(now() / 1000));
      const latency = new Array<number>(BUCKETS).fill(0);
      const errors = new Map<string, number>();
      let requests = 0;
      for (const s of live) {
        requests += s.requests;
        s.latency.forEach((n, i) => (latency[i] = (latency[i] as number) + n));
        for (const [code, n] of s.errors) errors.set(code, (errors.get(code) ?? 0) + n);
      }
      let p95Ms: number | null = null;
      if (requests > 0) {
        const rank = Math.ceil(requests * 0.95);
        let seen = 0;
        for (let i = 0; i < BUCKETS; i++) {
          seen += latency[i] as number;
          if (seen >= rank) {
            p95Ms = Math.round(boundOf(i) * 10) / 10;
            break;
          }
        }
      }
      const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
      return {
        windowSeconds: TRAFFIC_WINDOW_SECONDS,
        requests,
        perSecond: Math.round((requests / TRAFFIC_WINDOW_SECONDS) * 100) / 100,
        p95Ms,
        errorsByCode: sorted(errors),
        total: { requests: totalRequests, errorsByCode: sorted(totalErrors) },
      };
    },
  };
}
