/**
 * The race at the start of a graceful stop, over raw sockets: clients hold idle keep-alive
 * connections, the stop begins (in process, and by SIGTERM to the command), and each client
 * at once sends one more request on its connection, as a client that does not know yet would.
 *
 * For each such request exactly two outcomes are acceptable:
 * - a complete response carrying `connection: close` (the request was served);
 * - the connection was seen closed before the request was written (the client knows nothing
 *   was sent, and may retry elsewhere).
 * Anything else after the request was written is the failure: a reset (ECONNRESET, EPIPE),
 * or the connection closing without a complete response (a Node client's "socket hang up").
 * The race is run many times, as it does not lose every time.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/server/app.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';
import { graphqlRequest, openConnection, type RawConnection } from '../helpers/raw-http.js';
import { servingUrl } from '../helpers/serving.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');
const QUERY = '{ availability(skus: ["SKU-000001"]) { sku available } }';
const ANSWERED = 'answered with connection: close';
const CLOSED_FIRST = 'closed before the request was written';

let demo: DemoApp;
let file: string;
/** The same, with a longer drain window: a busy machine may take a while between the child's log line and the client's writes. */
let childFile: string;
beforeAll(async () => {
  demo = await startDemoApp({ skus: 30 });
  file = join(demo.dir, 'inventory-graph.yaml');
  childFile = join(demo.dir, 'child.yaml');
  writeFileSync(childFile, readFileSync(file, 'utf8').replace(/^server:\n/m, 'server:\n  drainIdleMs: 2000\n'));
});
afterAll(async () => {
  await demo?.close();
});

/** K connections, each made idle keep-alive by one answered request. */
async function idleConnections(port: number, k: number): Promise<RawConnection[]> {
  const cs = await Promise.all(Array.from({ length: k }, () => openConnection(port)));
  await Promise.all(
    cs.map(async (c) => {
      c.write(graphqlRequest(demo.keys.admin, QUERY));
      const r = await c.response();
      expect(r?.status).toBe(200);
      expect(r?.headers.connection).toBe('keep-alive');
    }),
  );
  return cs;
}

/** Sends one more request on `c` unless it is already seen closed, and says how it went. */
async function oneMore(c: RawConnection): Promise<string> {
  if (c.ended) return CLOSED_FIRST;
  c.write(graphqlRequest(demo.keys.admin, QUERY));
  const r = await c.response();
  if (r === undefined) return `failed after the request was written: ${c.error ?? 'closed without an answer'} (${c.received.length} bytes received in all)`;
  if (r.status !== 200 || r.headers.connection !== 'close') return `answered ${r.status} with connection: ${r.headers.connection}`;
  return ANSWERED;
}

const unacceptable = (outcomes: string[]) => outcomes.filter((o) => o !== ANSWERED && o !== CLOSED_FIRST);

describe('graceful stop: requests on idle keep-alive connections', () => {
  // a generous bound: before the fix each stop also ran out its whole 5 s grace (a request read on a destroyed socket never finished)
  it('in process, 20 rounds: each request sent as the stop begins is answered, never reset; the one in flight finishes', async () => {
    const failures: string[] = [];
    const counts = { [ANSWERED]: 0, [CLOSED_FIRST]: 0 } as Record<string, number>;
    for (let round = 0; round < 20; round++) {
      const app = await createApp(loadConfig(file), { logger: createLogger('silent') });
      const port = Number(new URL(await app.listen(0, '127.0.0.1')).port);
      const idle = await idleConnections(port, 8);
      // a request in flight: its body arrives in two parts, the second after the stop began
      const busy = await openConnection(port);
      const full = graphqlRequest(demo.keys.admin, QUERY);
      const cut = full.length - 10;
      busy.write(full.slice(0, cut));
      await new Promise((r) => setTimeout(r, 20));

      const closing = app.close({ graceMs: 5_000 });
      const outcomes = await Promise.all([...idle.map(oneMore), (async () => (busy.write(full.slice(cut)), oneMore(busy)))()]);
      await closing;

      for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
      failures.push(...unacceptable(outcomes).map((o) => `round ${round}: ${o}`));
      for (const c of [...idle, busy]) c.socket.destroy();
    }
    expect(failures).toEqual([]);
    expect(counts[ANSWERED]).toBeGreaterThan(0);
  }, 180_000);

  it('by SIGTERM to the command, 3 rounds: each request sent as the stop begins is answered, a quiet connection closes cleanly, exit 0', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, [BIN, 'start', '--config', childFile, '--port', '0'], {
        env: { ...process.env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stopping: () => void = () => {};
      const stopBegan = new Promise<void>((resolve) => (stopping = resolve));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('shutting down')) stopping();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const url = await servingUrl(child.stdout, exited, { stderr: () => stderr });
        const [quiet, ...idle] = await idleConnections(Number(new URL(url).port), 17);
        child.kill('SIGTERM');
        await stopBegan; // the command logs it as it begins the stop
        const outcomes = await Promise.all(idle.map(oneMore));
        failures.push(...unacceptable(outcomes).map((o) => `round ${round}: ${o}`));
        // a connection that stays idle is closed by the server, cleanly: no reset, nothing but its first answer
        await quiet!.closed;
        expect({ error: quiet!.error, answers: quiet!.received.match(/HTTP\/1\.1 /g)?.length }).toEqual({ error: undefined, answers: 1 });
        expect(await exited).toBe(0);
        for (const c of idle) c.socket.destroy();
      } finally {
        child.kill('SIGKILL');
      }
    }
    expect(failures).toEqual([]);
  });
});
