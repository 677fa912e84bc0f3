/**
 * The servers under test, each a child process (so the load generator never shares their
 * event loop): the gateway through its own CLI (`start --config --port`, execution settings by
 * environment, its config optionally rewritten, e.g. every source mirrored), the floor
 * (bench/floor-server.ts) or the in-memory limit (bench/limit-server.ts). Their memory and CPU
 * time are read from /proc: the process and its descendants. Start-up is measured too: the time
 * from spawning to ready (for a mirrored gateway: its mirrors loaded), and the RSS then and at
 * its highest on the way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import buildIfStale from '../../test/helpers/build.js';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_API_KEY } from './dataset.js';
import { waitForMirrors, type MirrorState } from './mirror.js';
import type { Carrier } from './scenarios.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** How one server under test is started. */
export interface Target {
  /** Short name used in the results (`floor`, `gateway`, `graphql-js+cc`, ...). */
  name: string;
  kind: 'floor' | 'limit' | 'gateway';
  /** Environment for the gateway: INVENTORY_GRAPH_EXECUTOR, INVENTORY_GRAPH_CACHE_CONTROL, read by the demo config through `${VAR:-default}`. */
  env?: Record<string, string>;
  /** The gateway's config rewritten (e.g. `mirroredConfig`): written beside the dataset's as `inventory-graph.<name>.yaml`. */
  configure?: (yaml: string) => string;
  /** A gateway with mirrored sources: ready once /status.json shows them loaded, not only /readyz. */
  mirrored?: boolean;
  /** How long it may take to be ready, in ms (default 120,000; loading a 1M-SKU dataset into memory takes longer). */
  startTimeoutMs?: number;
  /** How the load sends the scenarios: by trusted-document id (default), or as query text. */
  carrier?: Carrier;
  /** Options for node itself, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** In words, for the results. */
  description: string;
}

export interface Running {
  url: string;
  pid: number;
  /** Resident memory of the process and its descendants, in MiB. */
  rssMiB(): number;
  /** CPU time (user + system) the process and its descendants have used, in ms. */
  cpuMs(): number;
  stop(): Promise<void>;
  /** What it printed on stderr (kept for failures). */
  stderr(): string;
  /** Seconds from spawn to ready (for a mirrored gateway: mirrors loaded); RSS in MiB when ready, and the highest seen while starting (sampled every 200 ms). */
  startSeconds: number;
  startRssMiB: number;
  startPeakRssMiB: number;
  /** A mirrored gateway's mirrors when it was ready; null when /status.json showed none. */
  mirrors?: MirrorState[] | null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startTarget(t: Target, datasetConfig: string, timeoutMs = t.startTimeoutMs ?? 120_000): Promise<Running> {
  // the gateway runs the compiled dist/: rebuilt first when a source is newer than the last build
  // (as vitest's global setup does), or a bench measures code that is no longer there
  if (t.kind === 'gateway') buildIfStale();
  const port = await freePort();
  let configPath = datasetConfig;
  if (t.configure !== undefined) {
    // beside the dataset's: relative paths in it (the 3PL's files) stay right
    configPath = join(dirname(datasetConfig), `inventory-graph.${t.name}.yaml`);
    writeFileSync(configPath, t.configure(readFileSync(datasetConfig, 'utf8')));
  }
  const args = [
    ...(t.nodeArgs ?? []),
    ...(t.kind === 'gateway'
      ? [join(ROOT, 'bin', 'inventory-graph.mjs'), 'start', '--config', configPath, '--port', String(port), '--host', '127.0.0.1']
      : ['--import', 'tsx', join(ROOT, 'bench', `${t.kind}-server.ts`), '--config', configPath, '--port', String(port)]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error', ...t.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString('utf8')).slice(-20_000);
    // BENCH_SERVER_LOG=1: the servers' stderr as it comes (a long load's progress), each line under its target's name
    if (process.env.BENCH_SERVER_LOG === '1') process.stderr.write(d.toString('utf8').replace(/^(?=.)/gm, `[${t.name}] `));
  });
  child.stdout?.resume();
  const url = `http://127.0.0.1:${port}/graphql`;
  const started = Date.now();
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, treeRss(child.pid as number));
  }, 200);
  let mirrors: MirrorState[] | null | undefined;
  try {
    // ready when it answers HTTP (the gateway's /readyz, the hand-written servers' anything)
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${t.name} exited with ${child.exitCode} while starting:\n${err}`);
      if (Date.now() - started > timeoutMs) {
        child.kill('SIGKILL');
        throw new Error(`${t.name} did not start within ${timeoutMs} ms:\n${err}`);
      }
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => t.kind !== 'gateway' || r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (t.mirrored === true) {
      mirrors = await waitForMirrors(
        `http://127.0.0.1:${port}`,
        { authorization: `Bearer ${BENCH_API_KEY}` },
        { timeoutMs: Math.max(0, timeoutMs - (Date.now() - started)) },
      ).catch((e: unknown) => {
        child.kill('SIGKILL');
        throw new Error(`${t.name}: ${(e as Error).message}\n${err}`);
      });
    }
  } finally {
    clearInterval(sampler);
  }
  const startSeconds = (Date.now() - started) / 1000;
  const startRssMiB = treeRss(child.pid as number);
  return {
    url,
    pid: child.pid as number,
    startSeconds,
    startRssMiB,
    startPeakRssMiB: Math.max(peak, startRssMiB),
    ...(mirrors !== undefined ? { mirrors } : {}),
    rssMiB: () => treeRss(child.pid as number),
    cpuMs: () => treeCpu(child.pid as number),
    stderr: () => err,
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** The pids of `pid` and its descendants, except tsx's esbuild service (a helper, not the server). */
function tree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    if (out.includes(p)) return;
    out.push(p);
    try {
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      for (const c of children === '' ? [] : children.split(/\s+/)) {
        if (!readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('esbuild')) walk(Number(c));
      }
    } catch {
      // gone
    }
  };
  walk(pid);
  return out;
}

/** VmRSS of `pid` and its descendants, in MiB (Linux /proc; 0 elsewhere). */
export function treeRss(pid: number): number {
  let kib = 0;
  for (const p of tree(pid)) {
    try {
      kib += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

/** utime + stime of `pid` and its descendants, in ms (/proc/PID/stat fields 14 and 15, at 100 ticks a second). */
export function treeCpu(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

/** Waits (at most 30 s) until no source of the server has its breaker open or half-open, by its /readyz. */
export async function untilBreakersClose(server: Running): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const ready = await fetch(server.url.replace(/\/graphql$/, '/readyz')).then(
      (r) => r.text(),
      () => '',
    );
    if (!/"breaker":"(OPEN|HALF_OPEN)"/.test(ready)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The gateway's event-loop delay since its previous scrape (prom-client's default metrics on
 * /metrics, whose histogram is reset by each scrape): p50, p99 and max in ms; NaN when not shown.
 * Scrape once to start a measurement, once to end it.
 */
export async function eventLoopDelay(server: Running, headers: Record<string, string>): Promise<number[]> {
  const text = await fetch(server.url.replace(/\/graphql$/, '/metrics'), { headers }).then(
    (r) => r.text(),
    () => '',
  );
  return ['p50', 'p99', 'max'].map((q) => 1000 * Number(new RegExp(`^nodejs_eventloop_lag_${q}_seconds (\\S+)`, 'm').exec(text)?.[1] ?? NaN));
}
