/**
 * Where a machine's CPU went over a measurement (Linux /proc): named processes' CPU time (with
 * their descendants, bench/lib/servers.ts `treeCpu`), this process's, and the whole machine's
 * busy time, so that what nobody measured (other work on the machine) shows as the rest.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { treeCpu } from './servers.js';

/** The first process whose command name (/proc/PID/comm) is one of `names`, or null. */
export function pidByName(...names: string[]): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${d}/comm`, 'utf8').trim())) return Number(d);
    } catch {
      // gone
    }
  }
  return null;
}

/** The machine's busy CPU time so far, all cores, in ms (/proc/stat: user, nice, system, irq, softirq, steal at 100 ticks a second). */
export function machineBusyMs(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) * 10;
}

export type CpuShares = Record<string, number>;

/**
 * Starts counting: `stop()` answers each named process's CPU over the time since, in cores (1 = one
 * core busy the whole time), with `bench` (this process), `machine` (all busy time) and `other`
 * (the machine's busy time nobody named accounts for).
 */
export function cpuMeter(pids: Record<string, number | null>): { stop(): CpuShares } {
  const read = () => {
    const own = process.cpuUsage();
    return {
      at: performance.now(),
      machine: machineBusyMs(),
      bench: (own.user + own.system) / 1000,
      ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === null ? 0 : treeCpu(pid)])),
    };
  };
  const before: Record<string, number> = read();
  return {
    stop() {
      const after: Record<string, number> = read();
      const wall = (after.at as number) - (before.at as number);
      const out: CpuShares = {};
      for (const k of Object.keys(after)) if (k !== 'at') out[k] = ((after[k] as number) - (before[k] as number)) / wall;
      out.other = (out.machine as number) - Object.entries(out).reduce((s, [k, v]) => (k === 'machine' ? s : s + v), 0);
      return out;
    },
  };
}
