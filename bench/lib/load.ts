/**
 * One measurement: autocannon (programmatic) against a running server for a fixed time at a
 * fixed number of connections, every request a fresh body from the scenario's seeded
 * generator. Latency percentiles come from each response's own time (autocannon's histogram
 * rounds to whole milliseconds); errors are transport errors, timeouts, non-2xx answers and
 * 200s whose body carries GraphQL `errors`; statements per request are read from each
 * response's `x-source-statements` header; memory is the server's RSS, sampled every 250 ms.
 */
import autocannon from 'autocannon';
import type { GraphQLBody } from './scenarios.js';
import { median } from './micro.js';

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  connections: number;
  /** Seconds. */
  duration: number;
  /** The next request's body (a scenario's, or any JSON object: a mutation with its variables). */
  next: () => GraphQLBody | Record<string, unknown>;
  rssMiB: () => number;
  /** The server's CPU time so far, in ms (for CPU per request). */
  cpuMs?: () => number;
  /** Sees every answer (HTTP status and body), e.g. to count what a mutation did. */
  inspect?: (status: number, body: string) => void;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  errors: number;
  /** The first error seen, for the log. */
  firstError?: string;
  statements: number;
  rssMaxMiB: number;
  bytesPerResponse: number;
  /** Server CPU (all its processes) per answered request, in ms: less sensitive to the machine's other load than req/s. */
  cpuMsPerRequest: number;
}

/** Sum of the counts in `erp/stock=1, wms/stock=1`. */
export function statementCount(header: string | undefined): number {
  if (header === undefined || header === 'none') return 0;
  let n = 0;
  for (const part of header.split(',')) n += Number(part.split('=')[1] ?? 0);
  return n;
}

export async function measure(o: LoadOptions): Promise<LoadResult> {
  const times: number[] = [];
  let statements = 0;
  let answered = 0;
  let graphqlErrors = 0;
  let firstError: string | undefined;
  let rssMax = o.rssMiB();
  const cpu0 = o.cpuMs?.() ?? 0;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, o.rssMiB());
  }, 250);

  let finish: (e: Error | null, r: autocannon.Result) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (e, r) => (e ? reject(e) : resolve(r));
  });
  const instance = autocannon(
    {
      url: o.url,
      method: 'POST',
      connections: o.connections,
      duration: o.duration,
      timeout: 30,
      headers: { 'content-type': 'application/json', ...o.headers },
      requests: [
        {
          setupRequest: (req) => ({ ...req, body: JSON.stringify(o.next()) }),
          onResponse: (status, body, _context, headers) => {
            answered++;
            o.inspect?.(status, body);
            const h = headers?.['x-source-statements'];
            statements += statementCount(Array.isArray(h) ? h[0] : h);
            if (status === 200 && body.includes('"errors":[')) {
              graphqlErrors++;
              firstError ??= body.slice(body.indexOf('"errors":['), body.indexOf('"errors":[') + 400);
            } else if (status !== 200) {
              firstError ??= `HTTP ${status}: ${body.slice(0, 400)}`;
            }
          },
        },
      ],
    },
    (e, r) => finish(e, r),
  );
  instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  const result = await done;
  clearInterval(sampler);
  const cpu = (o.cpuMs?.() ?? 0) - cpu0;
  rssMax = Math.max(rssMax, o.rssMiB());

  times.sort((a, b) => a - b);
  const pct = (p: number) => (times.length === 0 ? Number.NaN : (times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] as number));
  const transport = result.errors + result.timeouts;
  // a cell without a single answer is a failed measurement, not a fast one
  if (times.length === 0) firstError ??= `no response within ${o.duration} s`;
  if (transport > 0) firstError ??= `${result.errors} transport errors, ${result.timeouts} timeouts`;
  const requests = times.length;
  return {
    requests,
    rps: requests / o.duration,
    p50: pct(50),
    p99: pct(99),
    mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    errors: transport + result.non2xx + graphqlErrors + (times.length === 0 ? 1 : 0),
    firstError,
    statements: answered === 0 ? 0 : statements / answered,
    rssMaxMiB: rssMax,
    bytesPerResponse: result.throughput.total / Math.max(1, result.requests.total),
    cpuMsPerRequest: answered === 0 ? Number.NaN : cpu / answered,
  };
}

/** One cell from its rounds: medians of the rates, latencies and CPU; errors and requests added up; the largest RSS. */
export function combineRounds(runs: readonly LoadResult[]): LoadResult {
  const first = runs.find((r) => r.firstError !== undefined)?.firstError;
  return {
    requests: runs.reduce((n, r) => n + r.requests, 0),
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    mean: median(runs.map((r) => r.mean)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    ...(first !== undefined ? { firstError: first } : {}),
    statements: median(runs.map((r) => r.statements)),
    rssMaxMiB: Math.max(0, ...runs.map((r) => r.rssMaxMiB)),
    bytesPerResponse: median(runs.map((r) => r.bytesPerResponse)),
    cpuMsPerRequest: median(runs.map((r) => r.cpuMsPerRequest)),
  };
}
