/**
 * Connections that cost the server without asking anything, over real sockets: more than
 * `server.maxConnections` held open, a connection that never sends a request, headers
 * dribbled (slowloris), a body dribbled, and an idle keep-alive connection. Each must be
 * refused or closed by the server; the bounds below are generous waits for an event, not
 * measurements.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { closedWithin, graphqlRequest, openConnection, type RawConnection } from '../helpers/raw-http.js';

const CAP = 20;
/** Far below Node's own defaults (60 s for headers, 300 s for a request), far above the small values configured here. */
const BOUND_MS = 20_000;

let capped: DemoApp;
let timed: DemoApp;
const opened: RawConnection[] = [];
beforeAll(async () => {
  [capped, timed] = await Promise.all([
    // held connections send nothing: the header timeout must not free slots while the test runs
    startDemoApp({
      skus: 30,
      editConfig: (y) => y.replace(/^server:\n/m, `server:\n  maxConnections: ${CAP}\n  headersTimeoutMs: 300000\n  requestTimeoutMs: 300000\n`),
    }),
    startDemoApp({
      skus: 30,
      editConfig: (y) => y.replace(/^server:\n/m, 'server:\n  keepAliveTimeoutMs: 1000\n  headersTimeoutMs: 1500\n  requestTimeoutMs: 2500\n'),
    }),
  ]);
});
afterAll(async () => {
  for (const c of opened) c.socket.destroy();
  await Promise.all([capped?.close(), timed?.close()]);
});

const portOf = (d: DemoApp) => (d.app.http.address() as AddressInfo).port;
const connections = (d: DemoApp) => new Promise<number>((resolve, reject) => d.app.http.getConnections((e, n) => (e ? reject(e) : resolve(n))));

async function open(d: DemoApp, n: number): Promise<RawConnection[]> {
  const cs = await Promise.all(Array.from({ length: n }, () => openConnection(portOf(d))));
  opened.push(...cs);
  return cs;
}

/** Polls until `check` passes, or throws its last error after `ms`. */
async function eventually(check: () => Promise<void>, ms = BOUND_MS): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Writes `piece` every 100 ms until the connection ends (a slow client). */
function dribble(c: RawConnection, piece: string): void {
  const timer = setInterval(() => (c.ended ? clearInterval(timer) : c.write(piece)), 100);
  void c.closed.then(() => clearInterval(timer));
}

describe('server.maxConnections', () => {
  it('closes connections beyond the cap at once, and serves again when one is freed', async () => {
    expect(await connections(capped)).toBe(0);
    const held = await open(capped, CAP);
    await eventually(async () => expect(await connections(capped)).toBe(CAP));

    const extra = await open(capped, 10);
    const outcomes = await Promise.all(extra.map((c) => closedWithin(c, BOUND_MS)));
    expect({ outcomes, open: await connections(capped) }).toEqual({ outcomes: Array(10).fill('closed'), open: CAP });
    expect(extra.map((c) => c.received)).toEqual(Array(10).fill(''));

    // the held ones are still served, and a freed slot takes a new connection
    const first = held[0]!;
    first.write(graphqlRequest(capped.keys.admin, '{ __typename }'));
    expect((await first.response())?.status).toBe(200);
    first.socket.destroy();
    await eventually(async () => expect(await connections(capped)).toBe(CAP - 1));
    const [late] = await open(capped, 1);
    late!.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect((await late!.response())?.status).toBe(200);
    for (const c of held) c.socket.destroy();
  });
});

describe('timeouts', () => {
  it('advertises and applies server.keepAliveTimeoutMs: an idle keep-alive connection is closed by the server', async () => {
    const [c] = await open(timed, 1);
    c!.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const r = await c!.response();
    expect(r?.status).toBe(200);
    expect(r?.headers.connection).toBe('keep-alive');
    expect(r?.headers['keep-alive']).toBe('timeout=1');
    expect(await closedWithin(c!, BOUND_MS)).toBe('closed');
    expect(c!.error).toBeUndefined();
  });

  it('closes a connection that never sends a request after server.headersTimeoutMs (408)', async () => {
    const [c] = await open(timed, 1);
    expect(await closedWithin(c!, BOUND_MS)).toBe('closed');
    expect(c!.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose headers are dribbled (slowloris) after server.headersTimeoutMs (408)', async () => {
    const [c] = await open(timed, 1);
    c!.write(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${timed.keys.admin}\r\n`);
    dribble(c!, 'x-slow: y\r\n');
    expect(await closedWithin(c!, BOUND_MS)).toBe('closed');
    expect(c!.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose body is dribbled after server.requestTimeoutMs (408), and serves the next client', async () => {
    const [c] = await open(timed, 1);
    c!.write(
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nx-api-key: ${timed.keys.admin}\r\nContent-Length: 100000\r\n\r\n{"query":"`,
    );
    dribble(c!, ' ');
    expect(await closedWithin(c!, BOUND_MS)).toBe('closed');
    expect(c!.received).toMatch(/^HTTP\/1\.1 408 /);

    const [next] = await open(timed, 1);
    next!.write(graphqlRequest(timed.keys.admin, '{ __typename }'));
    expect((await next!.response())?.status).toBe(200);
  });
});
