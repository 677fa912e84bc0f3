/**
 * `inventory-graph start --workers N`: N cluster workers share the port, each a whole gateway;
 * SIGTERM to the primary stops them all and the primary exits 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', 'bin', 'inventory-graph.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ig-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('start --workers', () => {
  it('serves from 2 workers on one port and stops them all on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'start', '--demo', '--dir', dir, '--skus', '50', '--port', String(port), '--workers', '2'], {
      env: { ...process.env, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 300 && !out.includes('with 2 workers'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain(`serving http://127.0.0.1:${port}/graphql with 2 workers`);
      const key = /admin\s+(\S+)/.exec(out)?.[1] as string;
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({ query: '{ availability(skus: ["SKU-000001"]) { sku } }' }),
        });
        expect(await r.json()).toEqual({ data: { availability: [{ sku: 'SKU-000001' }] } });
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
