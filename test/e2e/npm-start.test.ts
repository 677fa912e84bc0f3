/**
 * `npm start` as a process supervisor or a terminal stops it: SIGTERM to npm's own process stops
 * the server too (its port closes, no node process is left serving), and a terminal's Ctrl-C,
 * which reaches the server twice (from the terminal, and forwarded by npm), is one graceful stop.
 */
import { spawn } from 'node:child_process';
import { request, Agent } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { servingUrl } from '../helpers/serving.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ig-npm-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `pid` and every process below it, from /proc. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** `npm run -s start` on a demo in a temp dir and a free port; resolves once it serves. */
async function npmStart(o: { detached?: boolean } = {}) {
  const npm = spawn('npm', ['run', '-s', 'start', '--', '--dir', join(dir, 'demo'), '--skus', '50', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.detached === true,
  });
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  let stderr = '';
  npm.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await servingUrl(npm.stdout, exited, { stderr: () => stderr });
  return { npm, exited, port: Number(new URL(url).port), log: () => stderr };
}

describe('npm start', () => {
  it('stops the server when npm gets SIGTERM', async () => {
    const { npm, exited, port } = await npmStart();
    let below: number[] = [];
    try {
      below = descendants(npm.pid as number);
      expect(below.length).toBeGreaterThan(0);
      expect(await portOpen(port)).toBe(true);

      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await portOpen(port)).toBe(false);
      expect(below.filter(alive)).toEqual([]);
    } finally {
      for (const pid of [npm.pid as number, ...below]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);

  it("stops gracefully, once, on a terminal's Ctrl-C (SIGINT to npm's process group)", async () => {
    const { npm, exited, port, log } = await npmStart({ detached: true });
    const below = descendants(npm.pid as number);
    try {
      // an idle keep-alive connection makes the stop last drainIdleMs (1 s): the second SIGINT arrives during it
      const agent = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) =>
        request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject)
          .end(),
      );
      process.kill(-(npm.pid as number), 'SIGINT');
      expect(await exited).toBe(0);
      agent.destroy();
      expect(log().match(/shutting down/g)).toHaveLength(1);
      expect(log()).not.toContain('second signal');
      expect(log()).toContain('"msg":"stopped"');
      expect(await portOpen(port)).toBe(false);
    } finally {
      for (const pid of [npm.pid as number, ...below]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
