/**
 * The resilience wrapper on a scripted in-memory connector (no database): deadline, circuit
 * breaker (closed -> open -> half-open -> closed), bulkhead, retry of a lost connection, the
 * health registry it feeds, the words a client sees, and the config keys. The same behaviour
 * against a real MariaDB behind a TCP proxy is in mariadb-faults.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { Entity, RecordOf, StockRecord } from '../../src/domain/records.js';
import { MAX_FUTURE_SKEW_MS, stockProblem, costProblem } from '../../src/domain/validation.js';
import { silentLogger } from '../../src/logger.js';
import type { Connector, ReadOptions } from '../../src/sources/connector.js';
import { SourceHealthRegistry } from '../../src/sources/health.js';
import { describeSourceFailure, resilienceSettings, SourceError, withResilience, type ResilienceSettings } from '../../src/sources/resilience.js';

type Step = (o: ReadOptions) => Promise<unknown[]>;

/** A connector whose every fetch runs the next scripted step (or the default one). */
function scripted(defaultStep: Step = async () => []) {
  const steps: Step[] = [];
  const calls: ReadOptions[] = [];
  const c: Connector = {
    name: 'wms',
    kind: 'fake',
    entities: new Set<Entity>(['stock']),
    async fetch<E extends Entity>(_e: E, _codes: readonly string[], _m?: unknown, o: ReadOptions = {}): Promise<RecordOf[E][]> {
      calls.push(o);
      return (await (steps.shift() ?? defaultStep)(o)) as RecordOf[E][];
    },
    async ping() {},
    async close() {},
  };
  return { c, steps, calls };
}

const never: Step = () => new Promise(() => {});
const fail =
  (code: string, message = code): Step =>
  async () => {
    throw Object.assign(new Error(message), { code });
  };
const after =
  (ms: number, value: unknown[] = []): Step =>
  () =>
    new Promise((r) => setTimeout(() => r(value), ms));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SETTINGS: ResilienceSettings = { timeoutMs: 200, breaker: { failureThreshold: 2, resetAfterMs: 300 }, maxConcurrent: 4, maxQueue: 4, retries: 1 };

let unhandled = 0;
const onUnhandled = () => unhandled++;
beforeEach(() => {
  unhandled = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await sleep(20);
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toBe(0);
});

function wrap(c: Connector, s: Partial<ResilienceSettings> = {}) {
  const health = new SourceHealthRegistry();
  const r = withResilience(c, { ...SETTINGS, ...s }, { health, logger: silentLogger, random: () => 0.5 });
  return { r, health: () => health.get('wms')! };
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t = performance.now();
  try {
    const value = await run();
    return { ms: performance.now() - t, value };
  } catch (error) {
    return { ms: performance.now() - t, error };
  }
}

describe('deadline', () => {
  it('answers "timed out" at the deadline, tells the connector, and never leaks the late rejection', async () => {
    let lateReject: ((e: Error) => void) | undefined;
    const { c, steps, calls } = scripted();
    steps.push(
      async () => [],
      () => new Promise((_, reject) => (lateReject = reject)),
    );
    const { r, health } = wrap(c);
    await r.fetch('stock', ['A']);

    const t = await timed(() => r.fetch('stock', ['A']));

    expect(t.error).toBeInstanceOf(SourceError);
    expect(t.error).toMatchObject({ kind: 'timeout', reason: 'timed out after 200 ms', source: 'wms' });
    expect(t.ms).toBeGreaterThanOrEqual(195);
    expect(t.ms).toBeLessThan(1_000);
    expect(calls[1]!.deadline).toBeGreaterThan(Date.now() - 1000);
    expect(calls[1]!.signal?.aborted).toBe(true);
    // the abandoned read fails later (its statement killed): handled, not an unhandled rejection
    lateReject!(new Error('Defined query timeout of 200ms exceeded'));
    // one failure after a success: DEGRADED (the breaker opens at the second)
    expect(health()).toMatchObject({ status: 'DEGRADED', breaker: 'CLOSED', errorCount: 1, successCount: 1, lastError: 'timed out after 200 ms' });
  });
});

describe('circuit breaker', () => {
  it('opens after failureThreshold failures in a row, fails fast without asking the source, and closes after a good trial', async () => {
    const { c, steps, calls } = scripted();
    steps.push(fail('ECONNREFUSED'), fail('ECONNREFUSED'));
    const { r, health } = wrap(c);

    await expect(r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: 'connection refused' });
    expect(r.breakerState()).toBe('CLOSED');
    await expect(r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: 'connection refused' });
    expect(r.breakerState()).toBe('OPEN');
    expect(health()).toMatchObject({ status: 'DOWN', breaker: 'OPEN', consecutiveFailures: 2 });

    const fast = await timed(() => r.fetch('stock', ['A']));
    expect(fast.error).toMatchObject({ kind: 'circuit-open', reason: 'circuit open after repeated failures' });
    // fast: well inside the 200 ms deadline a call to the source would have waited for
    expect(fast.ms).toBeLessThan(150);
    expect(calls).toHaveLength(2);
    expect(health()).toMatchObject({ rejectedCount: 1, errorCount: 2 });

    await sleep(320);
    const trial = await timed(() => r.fetch('stock', ['A']));
    expect(trial.value).toEqual([]);
    expect(r.breakerState()).toBe('CLOSED');
    expect(health()).toMatchObject({ status: 'UP', consecutiveFailures: 0, successCount: 1 });
  });

  it('re-opens when the trial fails, and fails the others fast while the trial runs', async () => {
    const { c, steps, calls } = scripted();
    steps.push(fail('ECONNREFUSED'), fail('ECONNREFUSED'), after(400, []));
    const { r } = wrap(c, { timeoutMs: 2_000 });
    await r.fetch('stock', ['A']).catch(() => {});
    await r.fetch('stock', ['A']).catch(() => {});
    await sleep(320);

    const trial = r.fetch('stock', ['A']);
    expect(r.breakerState()).toBe('HALF_OPEN');
    const other = await timed(() => r.fetch('stock', ['B']));
    expect(other.error).toMatchObject({ kind: 'circuit-open', reason: 'circuit open (a trial read is in progress)' });
    // answered while the 400 ms trial is still running
    expect(other.ms).toBeLessThan(200);
    await trial;
    expect(r.breakerState()).toBe('CLOSED');
    expect(calls).toHaveLength(3);

    // and a failed trial re-opens it at once
    steps.push(fail('ECONNREFUSED'), fail('ECONNREFUSED'), fail('ECONNREFUSED'));
    await r.fetch('stock', ['A']).catch(() => {});
    await r.fetch('stock', ['A']).catch(() => {});
    await sleep(320);
    await expect(r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: 'connection refused' });
    expect(r.breakerState()).toBe('OPEN');
  });

  it('stays open when a read let through before it opened answers late', async () => {
    const { c, steps } = scripted();
    steps.push(after(100, []), fail('ECONNREFUSED'), fail('ECONNREFUSED'));
    const { r } = wrap(c, { timeoutMs: 1_000 });
    const slow = r.fetch('stock', ['A']);
    await r.fetch('stock', ['B']).catch(() => {});
    await r.fetch('stock', ['C']).catch(() => {});
    expect(r.breakerState()).toBe('OPEN');
    await expect(slow).resolves.toEqual([]);
    // only a trial's answer closes it
    expect(r.breakerState()).toBe('OPEN');
  });

  it('counts a timeout as a failure', async () => {
    const { c } = scripted(never);
    const { r } = wrap(c, { timeoutMs: 50 });
    await r.fetch('stock', ['A']).catch(() => {});
    await r.fetch('stock', ['A']).catch(() => {});
    expect(r.breakerState()).toBe('OPEN');
  });
});

describe('bulkhead', () => {
  it('runs at most maxConcurrent reads, queues maxQueue, refuses the rest at once without counting them against the source', async () => {
    const { c } = scripted(after(400));
    const { r, health } = wrap(c, { maxConcurrent: 1, maxQueue: 1, timeoutMs: 2_000, breaker: { failureThreshold: 1, resetAfterMs: 1000 } });

    const first = r.fetch('stock', ['A']);
    const second = r.fetch('stock', ['B']);
    expect(health()).toMatchObject({ inFlight: 1, queued: 1 });
    const third = await timed(() => r.fetch('stock', ['C']));

    expect(third.error).toMatchObject({ kind: 'shed', reason: 'load shed: too many reads waiting for it' });
    // refused while the first (400 ms) read still holds the only slot
    expect(third.ms).toBeLessThan(200);
    await expect(first).resolves.toEqual([]);
    await expect(second).resolves.toEqual([]);
    expect(r.breakerState()).toBe('CLOSED');
    expect(health()).toMatchObject({ inFlight: 0, queued: 0, shedCount: 1, rejectedCount: 0, errorCount: 0 });
  });

  it('gives a queued read the same deadline: waiting then, it is load shed (not timed out) and never runs late', async () => {
    const { c, calls } = scripted(after(150));
    const { r, health } = wrap(c, { maxConcurrent: 1, maxQueue: 4, timeoutMs: 100, breaker: { failureThreshold: 1, resetAfterMs: 1000 } });

    const [running, queued] = await Promise.all([timed(() => r.fetch('stock', ['A'])), timed(() => r.fetch('stock', ['B']))]);

    expect(running.error).toMatchObject({ kind: 'timeout', reason: 'timed out after 100 ms' });
    expect(queued.error).toMatchObject({ kind: 'shed', reason: 'load shed: too busy to start it in time' });
    await sleep(200);
    // the queued read's deadline passed before a slot was free: it was never started
    expect(calls).toHaveLength(1);
    // only the read the source failed counts against it
    expect(health()).toMatchObject({ errorCount: 1, shedCount: 1 });
  });

  it('sheds a queued read whose turn comes with less of its deadline left than the last answer took, without starting it', async () => {
    const { c, calls } = scripted(after(300));
    const { r, health } = wrap(c, { maxConcurrent: 1, maxQueue: 4, timeoutMs: 500, breaker: { failureThreshold: 1, resetAfterMs: 1000 } });
    // the source's pace: one answer, alone
    await r.fetch('stock', ['A']);

    // the second waits for the first; its turn comes with about 200 ms left, less than the 300 ms an answer takes
    const [first, second] = await Promise.all([timed(() => r.fetch('stock', ['B'])), timed(() => r.fetch('stock', ['C']))]);

    expect(first.value).toEqual([]);
    expect(second.error).toMatchObject({ kind: 'shed', reason: 'load shed: too busy to start it in time' });
    expect(calls).toHaveLength(2);
    expect(r.breakerState()).toBe('CLOSED');
    expect(health()).toMatchObject({ successCount: 2, errorCount: 0, shedCount: 1, inFlight: 0, queued: 0 });
  });

  it("sheds a read still waiting in its connector's own queue (a connection pool) at its deadline", async () => {
    const { c, steps } = scripted();
    // a connector whose statement waits for a pooled connection that never comes
    steps.push((o) => {
      o.queued?.();
      return new Promise(() => {});
    }, never);
    const { r, health } = wrap(c, { timeoutMs: 100, breaker: { failureThreshold: 1, resetAfterMs: 1000 } });

    await expect(r.fetch('stock', ['A'])).rejects.toMatchObject({ kind: 'shed', reason: 'load shed: too busy to start it in time' });
    expect(r.breakerState()).toBe('CLOSED');
    // one that waits for the source itself times out, and counts
    await expect(r.fetch('stock', ['A'])).rejects.toMatchObject({ kind: 'timeout' });
    expect(r.breakerState()).toBe('OPEN');
    expect(health()).toMatchObject({ shedCount: 1, errorCount: 1 });
  });

  it('frees the place of a queued read at its deadline, while the slot stays taken', async () => {
    const { c, calls } = scripted(never);
    const { r, health } = wrap(c, { maxConcurrent: 1, maxQueue: 1, timeoutMs: 100, breaker: { failureThreshold: 10, resetAfterMs: 1000 } });
    const first = timed(() => r.fetch('stock', ['A']));
    const queued = timed(() => r.fetch('stock', ['B']));
    expect(health()).toMatchObject({ inFlight: 1, queued: 1 });
    expect((await queued).error).toMatchObject({ kind: 'shed' });
    expect((await first).error).toMatchObject({ kind: 'timeout' });
    // the first read never settles and keeps its slot; the queue has room again
    expect(health()).toMatchObject({ inFlight: 1, queued: 0 });
    expect((await timed(() => r.fetch('stock', ['C']))).error).toMatchObject({ kind: 'shed' });
    expect(calls).toHaveLength(1);
  });

  it('passes the slot on past a read shed while waiting: it starts nothing when its turn comes', async () => {
    const { c, steps, calls } = scripted();
    // the first read holds the only slot past its own deadline and past the queued read's
    steps.push(after(400), async () => [{ code: 'C' }]);
    const { r, health } = wrap(c, { maxConcurrent: 1, maxQueue: 1, timeoutMs: 300, breaker: { failureThreshold: 10, resetAfterMs: 1000 } });
    const first = timed(() => r.fetch('stock', ['A']));
    const shed = timed(() => r.fetch('stock', ['B']));
    expect((await shed).error).toMatchObject({ kind: 'shed' });
    // its place is free again: the next read waits behind what is left of the shed one
    const next = timed(() => r.fetch('stock', ['C']));
    expect(health()).toMatchObject({ inFlight: 1, queued: 1 });
    expect((await first).error).toMatchObject({ kind: 'timeout' });
    expect((await next).value).toEqual([{ code: 'C' }]);
    // the source saw the first read and the last, never the shed one
    expect(calls).toHaveLength(2);
    expect(health()).toMatchObject({ inFlight: 0, queued: 0, shedCount: 1, errorCount: 1, successCount: 1 });
  });
});

describe('retry', () => {
  it('retries a read once after a lost connection', async () => {
    const { c, steps, calls } = scripted();
    steps.push(fail('PROTOCOL_CONNECTION_LOST', 'Connection lost: The server closed the connection.'), async () => [{ code: 'A' }]);
    const { r, health } = wrap(c);

    await expect(r.fetch('stock', ['A'])).resolves.toEqual([{ code: 'A' }]);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.deadline).toBe(calls[0]!.deadline);
    expect(health()).toMatchObject({ errorCount: 0, successCount: 1 });
  });

  it('retries once only, and never other errors', async () => {
    const reset = fail('ECONNRESET');
    const a = scripted();
    a.steps.push(reset, reset, async () => []);
    await expect(wrap(a.c).r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: 'connection lost' });
    expect(a.calls).toHaveLength(2);

    const b = scripted();
    b.steps.push(fail('ER_NO_SUCH_TABLE'), async () => []);
    await expect(wrap(b.c).r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: 'its mapping does not match the database (see the server log)' });
    expect(b.calls).toHaveLength(1);

    const none = scripted();
    none.steps.push(reset, async () => []);
    await expect(wrap(none.c, { retries: 0 }).r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: 'connection lost' });
    expect(none.calls).toHaveLength(1);
  });

  it('does not retry when less than a quarter of the deadline is left', async () => {
    const { c, steps, calls } = scripted();
    steps.push(() => sleep(800).then(() => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))));
    const { r } = wrap(c, { timeoutMs: 1_000 });

    // (on a very busy machine the pause may overrun the deadline itself: then it is a timeout, and still no retry)
    await expect(r.fetch('stock', ['A'])).rejects.toMatchObject({ reason: expect.stringMatching(/^(connection lost|timed out after 1000 ms)$/) });
    expect(calls).toHaveLength(1);
  });
});

describe('health registry', () => {
  it('keeps the last read: latency, the asOf range of its valid records, and the status', async () => {
    const rec = (asOf: string, invalid?: string): StockRecord => ({
      code: 'A',
      location: 'E',
      onHand: 1,
      committed: 0,
      asOf: new Date(asOf),
      ...(invalid ? { invalid } : {}),
    });
    const { c, steps } = scripted();
    steps.push(after(10, [rec('2026-01-02T00:00:00Z'), rec('2026-01-01T00:00:00Z'), rec('2030-01-01T00:00:00Z', 'bad'), rec('2026-01-03T00:00:00Z')]));
    const { r, health } = wrap(c);

    await r.fetch('stock', ['A']);

    const h = health();
    expect(h).toMatchObject({
      name: 'wms',
      kind: 'fake',
      status: 'UP',
      breaker: 'CLOSED',
      errorCount: 0,
      successCount: 1,
      lastError: null,
      timeoutMs: 200,
      failureThreshold: 2,
      pool: null,
    });
    expect(h.newestAsOf?.toISOString()).toBe('2026-01-03T00:00:00.000Z');
    expect(h.oldestAsOf?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(h.lastLatencyMs).toBeGreaterThanOrEqual(9);
    expect(h.lastSuccessAt).toBeInstanceOf(Date);
  });

  it('calls a slow source DEGRADED, and one that never answered DOWN', async () => {
    const slow = scripted(after(850));
    const s = wrap(slow.c, { timeoutMs: 1_000 });
    await s.r.fetch('stock', ['A']);
    expect(s.health().status).toBe('DEGRADED');

    const dead = scripted(fail('ECONNREFUSED'));
    const d = wrap(dead.c, { breaker: { failureThreshold: 5, resetAfterMs: 1000 } });
    await d.r.fetch('stock', ['A']).catch(() => {});
    expect(d.health()).toMatchObject({ status: 'DOWN', breaker: 'CLOSED', lastError: 'connection refused' });
  });
});

describe('words a client sees', () => {
  it('never include SQL, hosts or paths', () => {
    const cases: Array<[unknown, string]> = [
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }), 'connection refused'],
      [Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), 'timed out'],
      [Object.assign(new Error('Defined query timeout of 300ms exceeded when running query.'), { name: 'KnexTimeoutError' }), 'timed out'],
      [Object.assign(new Error('Connection was killed'), { code: 'ER_CONNECTION_KILLED' }), 'connection killed by the database'],
      [Object.assign(new Error('Query execution was interrupted'), { code: 'ER_QUERY_INTERRUPTED' }), 'query interrupted by the database'],
      [new Error("Can't add new command when connection is in closed state"), 'connection lost'],
      [
        Object.assign(new Error("Table 'wms.bin_stock' doesn't exist"), { code: 'ER_NO_SUCH_TABLE' }),
        'its mapping does not match the database (see the server log)',
      ],
      [new Error('select * from secret_table'), 'read failed (see the server log)'],
    ];
    for (const [e, words] of cases) expect(describeSourceFailure(e)).toBe(words);
    expect(describeSourceFailure(new Error('x'), 300)).toBe('read failed (see the server log)');
    expect(describeSourceFailure(Object.assign(new Error('t'), { code: 'ETIMEDOUT' }), 300)).toBe('timed out after 300 ms');
  });
});

describe('record validation', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const ok: StockRecord = { code: 'A', location: 'E', onHand: 5, committed: 1, asOf: new Date('2026-06-01T11:00:00Z') };

  it('accepts a plausible record, negative on-hand included (that is NEGATIVE_ON_HAND, not invalid)', () => {
    expect(stockProblem(ok, now)).toBeUndefined();
    expect(stockProblem({ ...ok, onHand: -8 }, now)).toBeUndefined();
    expect(stockProblem({ ...ok, asOf: new Date(now.getTime() + MAX_FUTURE_SKEW_MS - 1000) }, now)).toBeUndefined();
  });

  it('refuses what no parser sees: NaN, fractions, absurd magnitudes, negative committed, a bad or future asOf', () => {
    expect(stockProblem({ ...ok, invalid: 'quantity is not a number in 1 row' }, now)).toBe('quantity is not a number in 1 row');
    expect(stockProblem({ ...ok, onHand: Number.NaN }, now)).toMatch(/onHand is not a whole number/);
    expect(stockProblem({ ...ok, onHand: 2.5 }, now)).toMatch(/onHand is not a whole number/);
    expect(stockProblem({ ...ok, onHand: 2_000_000_000 }, now)).toMatch(/beyond/);
    expect(stockProblem({ ...ok, onHand: -4_294_967_295 }, now)).toMatch(/beyond/);
    expect(stockProblem({ ...ok, committed: -1 }, now)).toMatch(/committed -1 is outside/);
    expect(stockProblem({ ...ok, asOf: new Date(Number.NaN) }, now)).toBe('asOf is not a valid instant');
    expect(stockProblem({ ...ok, asOf: new Date('2026-06-02T12:00:00Z') }, now)).toMatch(/in the future/);
    expect(costProblem({ code: 'A', amount: '-1.00', currency: 'USD' })).toMatch(/not a non-negative decimal/);
    expect(costProblem({ code: 'A', amount: '1.00', currency: '' })).toBe('unit cost has no currency');
    expect(costProblem({ code: 'A', amount: '1.00', currency: 'USD' })).toBeUndefined();
  });
});

describe('config', () => {
  const base = (source: string) => `
store: { client: better-sqlite3, connection: ./gw.sqlite }
sources:
  wms:
    kind: sql
    client: mysql2
    connection: mysql://root@127.0.0.1:3306/wms
${source}
    stock: { table: bins, columns: { sku: code, location: wh, onHand: qty } }
locations: [{ id: A, codes: { wms: A } }]
precedence: { quantity: [wms] }
`;

  it('has sane defaults: 5 failures open the breaker for 10 s, the pool size runs, 64 wait, one retry', () => {
    const wms = parseConfig(base(''), '/x/c.yaml').sources.wms!;
    expect(wms).toMatchObject({ timeoutMs: 2000, breaker: { failureThreshold: 5, resetAfterMs: 10_000 }, maxQueue: 64, retries: 1 });
    expect(resilienceSettings(wms)).toEqual({
      timeoutMs: 2000,
      breaker: { failureThreshold: 5, resetAfterMs: 10_000 },
      maxConcurrent: 4,
      maxQueue: 64,
      retries: 1,
    });
    const tuned = parseConfig(base('    pool: 8\n    maxConcurrent: 6\n    breaker: { failureThreshold: 3 }'), '/x/c.yaml').sources.wms!;
    expect(resilienceSettings(tuned)).toMatchObject({ maxConcurrent: 6, breaker: { failureThreshold: 3, resetAfterMs: 10_000 } });
  });

  it('refuses bad values, each named by its key', () => {
    expect(() =>
      parseConfig(
        base('    breaker: { failureThreshold: 0, resetAfterMs: 5, colour: red }\n    maxQueue: -1\n    maxConcurrent: 0\n    retries: 9'),
        '/x/c.yaml',
      ),
    ).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.stringMatching(/^sources\.wms\.breaker\.failureThreshold: /),
          expect.stringMatching(/^sources\.wms\.breaker\.resetAfterMs: /),
          'sources.wms.breaker.colour: unknown key',
          expect.stringMatching(/^sources\.wms\.maxQueue: /),
          expect.stringMatching(/^sources\.wms\.maxConcurrent: /),
          expect.stringMatching(/^sources\.wms\.retries: /),
        ]),
      }),
    );
  });
});
