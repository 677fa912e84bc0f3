/**
 * New anomalies reach a webhook off the query path: a local receiver on 127.0.0.1 fails the
 * first attempts, the queue retries with backoff, and a query never waits for it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAnomalyWebhook } from '../../src/events/anomaly-webhook.js';
import { silentLogger } from '../../src/logger.js';
import type { Anomaly } from '../../src/store/index.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

interface Hit {
  id: string | undefined;
  key: string | undefined;
  body: { event: string; anomaly: Record<string, unknown> };
  status: number;
}

/** A receiver that answers each delivery with `plan(attempt)`: a status, or 'hang'. */
async function receiver(plan: (attempt: number, id: string) => number | 'hang') {
  const hits: Hit[] = [];
  const attempts = new Map<string, number>();
  const read = (req: IncomingMessage) =>
    new Promise<string>((r) => {
      let t = '';
      req.on('data', (c: Buffer) => (t += c.toString()));
      req.on('end', () => r(t));
    });
  const server: Server = createServer(async (req, res) => {
    const body = JSON.parse(await read(req)) as Hit['body'];
    const id = String(body.anomaly.id);
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    const answer = plan(n, id);
    hits.push({ id, key: req.headers['idempotency-key'] as string | undefined, body, status: answer === 'hang' ? 0 : answer });
    if (answer === 'hang') return; // never answers: the sender's timeout must fire
    res.writeHead(answer).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    hits,
    delivered: () => hits.filter((h) => h.status >= 200 && h.status < 300),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const anomaly = (id: number): Anomaly => ({
  id: String(id),
  kind: 'DISCREPANCY',
  sku: `SKU-${id}`,
  location: 'DC-EAST',
  source: 'erp',
  code: null,
  detail: 'x',
  status: 'OPEN',
  firstSeen: new Date('2026-01-01T00:00:00Z'),
  lastSeen: new Date('2026-01-01T00:00:00Z'),
  occurrences: 1,
  acknowledgedAt: null,
  acknowledgeNote: null,
  resolvedAt: null,
  resolutionNote: null,
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the webhook queue', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('retries failures and timeouts with backoff until delivered, with one idempotency key', async () => {
    const r = await receiver((n) => (n === 1 ? 503 : n === 2 ? 'hang' : 200));
    open.push(r);
    const w = createAnomalyWebhook({ url: r.url, timeoutMs: 200, maxAttempts: 5, queueSize: 10, logger: silentLogger, baseDelayMs: 20 });
    open.push(w);

    w.notify([anomaly(1)]);
    // the receiver has answered 200, and the sender has read that answer
    await until(() => r.delivered().length === 1 && w.stats().sent === 1);

    expect(r.hits.map((h) => h.status)).toEqual([503, 0, 200]);
    expect(new Set(r.hits.map((h) => h.key))).toEqual(new Set(['anomaly-1']));
    expect(r.hits[2]?.body).toEqual({
      event: 'anomaly.opened',
      anomaly: expect.objectContaining({ id: '1', kind: 'DISCREPANCY', sku: 'SKU-1', firstSeen: '2026-01-01T00:00:00.000Z' }),
    });
    expect(w.stats()).toMatchObject({ sent: 1, failed: 0, attempts: 3 });
  });

  it('gives up after maxAttempts, and at once on a 4xx refusal', async () => {
    const r = await receiver((_n, id) => (id === '1' ? 500 : 400));
    open.push(r);
    const w = createAnomalyWebhook({ url: r.url, timeoutMs: 500, maxAttempts: 3, queueSize: 10, logger: silentLogger, baseDelayMs: 5 });
    open.push(w);
    w.notify([anomaly(1), anomaly(2)]);
    await w.drain(5_000);
    expect(r.hits.map((h) => [h.id, h.status])).toEqual([
      ['1', 500],
      ['1', 500],
      ['1', 500],
      ['2', 400],
    ]);
    expect(w.stats()).toMatchObject({ sent: 0, failed: 2 });
  });

  it('is bounded: past queueSize the oldest waiting anomaly is dropped, and notify never waits', async () => {
    const r = await receiver(() => 'hang');
    open.push(r);
    const w = createAnomalyWebhook({ url: r.url, timeoutMs: 10_000, maxAttempts: 1, queueSize: 3, logger: silentLogger });
    open.push(w);
    // notify hands over and returns: nothing to await, whatever the receiver does
    expect(w.notify(Array.from({ length: 10 }, (_, i) => anomaly(i + 1)))).toBeUndefined();
    await until(() => r.hits.length === 1);
    // ten arrive at once into a queue of three: #1..#7 are dropped, #8 is in flight, #9 and #10 wait
    expect(r.hits[0]?.id).toBe('8');
    expect(w.stats()).toMatchObject({ pending: 2, dropped: 7 });
  });
});

describe('the gateway with a webhook configured', () => {
  let demo: DemoApp;
  let r: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    r = await receiver((n) => (n <= 2 ? 503 : 200));
    demo = await startDemoApp({ skus: 120, editConfig: (y) => `${y}\nanomalies:\n  webhook: { url: "${r.url}", timeoutMs: 1000, maxAttempts: 4 }\n` });
  });
  afterAll(async () => {
    await demo?.close();
    await r?.close();
  });

  it('sends a new anomaly after the query has answered, retried past the receiver’s failures', async () => {
    const sku = demo.facts.negativeWms[0]!;
    const res = await demo.gql<{ availability: { flags: string[] }[] }>(`{ availability(skus: ["${sku}"]) { flags } }`);
    expect(res.body.data!.availability[0]!.flags).toContain('NEGATIVE_ON_HAND');
    // the answer is there; the delivery needs two backoffs (about 0.5 s and 1 s) first
    expect(r.delivered()).toHaveLength(0);

    await until(() => r.delivered().length === 1);
    const mine = r.hits.filter((h) => h.body.anomaly.sku === sku);
    expect(mine.map((h) => h.status)).toEqual([503, 503, 200]);
    expect(mine[2]!.body.anomaly).toMatchObject({ kind: 'NEGATIVE_ON_HAND', location: 'DC-EAST', source: 'wms', status: 'OPEN' });
    // seen again: not new, not sent again
    await demo.gql(`{ availability(skus: ["${sku}"]) { flags } }`);
    await new Promise((x) => setTimeout(x, 200));
    expect(r.hits.filter((h) => h.body.anomaly.sku === sku)).toHaveLength(3);
  });
});
