/**
 * Where a gateway's CPU went: a V8 CPU profile (`node --cpu-prof`, e.g. `bench/reservations.ts
 * --profile DIR`) summarised by self time per area of code (the gateway's own modules by
 * directory, each dependency by package, node's internals, GC, idle) and the heaviest functions.
 *
 *   npx tsx bench/lib/profile.ts bench/out/prof/mariadb-mirrored.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time the profile covers, and the time sampled not idle, in ms. */
  totalMs: number;
  busyMs: number;
  /** Self time per area, in ms, largest first. */
  areas: Array<{ area: string; ms: number }>;
  /** Self time per function, in ms, largest first. */
  functions: Array<{ fn: string; ms: number }>;
}

/** The area a frame's code belongs to: a package under node_modules, a directory of the gateway, node's internals, or V8's own. */
export function areaOf(url: string, fn: string): string {
  if (url === '') return fn === '(garbage collector)' ? 'GC' : fn === '(idle)' ? 'idle' : fn === '(program)' ? 'program (native, outside JS)' : `native ${fn}`;
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return (rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]) ?? url;
  }
  const dist = /\/dist\/(.+)\/[^/]+$/.exec(url);
  if (dist !== null) return `gateway ${dist[1]}`;
  return url.replace(/^file:\/\//, '');
}

export function summarise(p: CpuProfile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // each sample's time is the delta to the next one (V8's convention: timeDeltas[i] precedes samples[i])
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    total += ms;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') idle += ms;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const fn = `${functionName || '(anonymous)'} ${url === '' ? '' : `${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}`}`.trim();
    fns.set(fn, (fns.get(fn) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total,
    busyMs: total - idle,
    areas: sorted(areas).map(([area, ms]) => ({ area, ms })),
    functions: sorted(fns).map(([fn, ms]) => ({ fn, ms })),
  };
}

export function summaryText(s: ProfileSummary, top = 20): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(1, s.busyMs)).toFixed(1)} %`;
  return [
    `sampled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (shares below are of busy time)`,
    'by area (self time):',
    ...s.areas
      .filter((a) => a.area !== 'idle')
      .slice(0, top)
      .map((a) => `  ${pct(a.ms).padStart(7)}  ${(a.ms / 1000).toFixed(2).padStart(7)} s  ${a.area}`),
    `top ${top} areas above; top ${top} functions (self time):`,
    ...s.functions
      .filter((f) => !f.fn.startsWith('(idle)'))
      .slice(0, top)
      .map((f) => `  ${pct(f.ms).padStart(7)}  ${f.fn}`),
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true });
  for (const file of positionals) {
    process.stdout.write(`${file}\n${summaryText(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile), Number(values.top ?? 20))}\n\n`);
  }
}
