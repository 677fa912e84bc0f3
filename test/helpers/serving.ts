/**
 * The command as users run it, from tests: `runCli` for a command that ends (its exit code and
 * output), `servingUrl` / `startGateway` for `start`, which waits for where it serves: the URL
 * of its "serving http://..." line on stdout, rejecting with everything it printed if the
 * process exits first.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

/** The command as users run it. */
export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'inventory-graph.mjs');

/** What a command that ended said: its exit code, stdout and stderr. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `inventory-graph ARGS` run to its end: `env` is added to this process's environment; a command
 * still running after `timeoutMs` (default 30 s: one that should stop at once but serves) is killed.
 */
export async function runCli(args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, ...o.env }, cwd: o.cwd, timeout: o.timeoutMs ?? 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

export interface ServingOptions {
  /** Whether the output so far is complete enough to go on (default: the serving line is there). */
  ready?: (stdout: string) => boolean;
  /** What the process printed on stderr so far, for the rejection's message. */
  stderr?: () => string;
}

export function servingUrl(stdout: Readable, exited: Promise<number | null>, o: ServingOptions = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving (http:\S+)/.exec(out);
      if (m && (o.ready?.(out) ?? true)) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${out}${o.stderr?.() ?? ''}`)));
  });
}

export interface GatewayChild {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/**
 * `inventory-graph start --config FILE` as a child process on an ephemeral loopback port;
 * resolves once it serves. It is in `children` until it exits (an afterAll SIGKILLs what is left).
 */
export async function startGateway(file: string, children: Set<ChildProcess>): Promise<GatewayChild> {
  const child = spawn(process.execPath, [BIN, 'start', '--config', file, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const url = await servingUrl(child.stdout as NonNullable<ChildProcess['stdout']>, exited, { stderr: () => stderr });
  return { child, url, exited };
}
