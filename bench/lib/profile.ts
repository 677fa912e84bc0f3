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

export interface CpuProfile {
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

/**
 * `window`: only the samples taken between `fromMs` and `toMs` after the profile started (e.g. the
 * measured part of a run, not the start-up before it).
 */
export function summarise(p: CpuProfile, window?: { fromMs: number; toMs: number }): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = 0;
  // each sample's time is the delta to the next one (V8's convention: timeDeltas[i] precedes samples[i])
  for (let i = 0; i < p.samples.length; i++) {
    at += (p.timeDeltas[i] ?? 0) / 1000;
    if (window !== undefined && (at < window.fromMs || at > window.toMs)) continue;
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

/**
 * Self time by the outermost frame of the gateway's own code (dist/src, dist/resolvers) on each
 * sample's stack: which of its entry points the time was spent under (a request's handler, the
 * recompute, the publisher, a feed). After an `await` the stack starts at the async function that
 * resumed, so a continuation counts under that function. Samples with no gateway frame (socket
 * reads, drivers' callbacks, GC) are grouped by area (`areaOf`).
 */
export function entries(p: CpuProfile, window?: { fromMs: number; toMs: number }): Array<{ entry: string; ms: number }> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = /\/dist\/(src|resolvers)\//;
  const entryOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = entryOf.get(id);
    if (known !== undefined) return known;
    let outer: ProfileNode | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n !== undefined && own.test(n.callFrame.url)) outer = n;
    }
    const leaf = byId.get(id) as ProfileNode;
    const e =
      outer === undefined
        ? `(no gateway frame) ${areaOf(leaf.callFrame.url, leaf.callFrame.functionName)}`
        : `${outer.callFrame.functionName || '(anonymous)'} ${outer.callFrame.url.replace(/^.*\/dist\//, '')}:${outer.callFrame.lineNumber + 1}`;
    entryOf.set(id, e);
    return e;
  };
  const out = new Map<string, number>();
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += (p.timeDeltas[i] ?? 0) / 1000;
    if (window !== undefined && (at < window.fromMs || at > window.toMs)) continue;
    const id = p.samples[i] as number;
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const e = classify(id);
    out.set(e, (out.get(e) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return [...out.entries()].sort((a, b) => b[1] - a[1]).map(([entry, ms]) => ({ entry, ms }));
}

export function entriesText(list: ReadonlyArray<{ entry: string; ms: number }>, top = 20): string {
  const busy = list.reduce((s, e) => s + e.ms, 0);
  return list
    .slice(0, top)
    .map((e) => `  ${((100 * e.ms) / Math.max(1, busy)).toFixed(1).padStart(5)} %  ${(e.ms / 1000).toFixed(2).padStart(6)} s  ${e.entry}`)
    .join('\n');
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
