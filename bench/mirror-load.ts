/**
 * Initial load of a mirrored gateway (issue #15): the time from spawning `inventory-graph start`
 * with every source mirrored (`sync.mode: mirror`, no feeds) to /status.json showing every
 * mirror loaded, and its RSS (process and children, from /proc) at its highest on the way, when
 * loaded, and 10 s later. On the 1,000,000 SKU x 10 location dataset the ERP alone holds
 * 10,000,000 stock records (and the WMS 13.9 M bin rows, summed per warehouse); goal ≤ 60 s and
 * ≤ 1 GB. `--with-limit` loads the hand-written in-memory server (bench/limit-server.ts) the same
 * way, one after the other, for comparison.
 *
 *   npx tsx bench/mirror-load.ts [--with-limit] [--timeout S (1200)] [--skus N] [--locations N] [--mysql URL] [--prefix P] [--label TEXT] [--no-record]
 *
 * A server not loaded within --timeout seconds is stopped and recorded as not loaded, with its
 * mirrors' states as /status.json last showed them.
 *
 * Appends its section to bench/RESULTS.md and a line to bench/results.jsonl (unless --no-record).
 * Timings are never asserted anywhere.
 */
import { appendFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDataset, warmDataset } from './lib/dataset.js';
import { mirroredConfig } from './lib/mirror.js';
import { startTarget, type Target } from './lib/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface LoadFigures {
  target: string;
  /** Seconds to loaded; NaN when it was not loaded within the timeout (then `failure` says how it stood). */
  seconds: number;
  failure?: string;
  peakRssMiB: number;
  readyRssMiB: number;
  laterRssMiB: number;
  /** The mirrors as /status.json showed them when loaded (null: it showed none). */
  mirrors: string | null;
  /** The server's last log lines about loading. */
  logTail: string;
}

export async function runMirrorLoad(o: {
  withLimit?: boolean;
  /** Seconds a server may take to load before it is recorded as not loaded (default 1,200). */
  timeoutSeconds?: number;
  skus?: number;
  locations?: number;
  mysqlUrl?: string;
  prefix?: string;
  label?: string;
  record?: boolean;
  command?: string;
  log?: (m: string) => void;
}): Promise<LoadFigures[]> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`));
  const mysqlUrl = o.mysqlUrl ?? 'mysql://root@127.0.0.1:3306/test';
  const prefix = o.prefix ?? 'ig_bench';
  const d = await ensureDataset({
    backend: 'mariadb',
    skus: o.skus ?? 1_000_000,
    locations: o.locations ?? 10,
    mysqlUrl,
    prefix,
    dir: join(HERE, 'out', `dataset-${prefix}`),
    log,
  });
  const db = await warmDataset(mysqlUrl, d.databases, log);
  const load0 = loadavg()[0] ?? 0;
  const timeoutMs = (o.timeoutSeconds ?? 1200) * 1000;
  const targets: Target[] = [
    {
      name: 'mirrored',
      kind: 'gateway',
      env: { INVENTORY_GRAPH_EXECUTOR: 'jit', INVENTORY_GRAPH_CACHE_CONTROL: 'off', LOG_LEVEL: 'info' },
      configure: (yaml) => mirroredConfig(yaml),
      mirrored: true,
      startTimeoutMs: timeoutMs,
      description: 'the gateway, every source mirrored, no feeds',
    },
    ...(o.withLimit === true ? [{ name: 'limit', kind: 'limit', startTimeoutMs: timeoutMs, description: 'bench/limit-server.ts' } satisfies Target] : []),
  ];
  const out: LoadFigures[] = [];
  for (const t of targets) {
    log(`starting ${t.name} (${t.description})`);
    let s: Awaited<ReturnType<typeof startTarget>>;
    try {
      s = await startTarget(t, d.configPath);
    } catch (e) {
      // not loaded in time (startTarget has killed it): how it stood is the result
      const failure = (e as Error).message.split('\n')[0] ?? String(e);
      out.push({
        target: t.name,
        seconds: Number.NaN,
        failure,
        peakRssMiB: Number.NaN,
        readyRssMiB: Number.NaN,
        laterRssMiB: Number.NaN,
        mirrors: null,
        logTail: '',
      });
      log(`${t.name}: ${failure}`);
      continue;
    }
    try {
      await new Promise((r) => setTimeout(r, 10_000));
      const f: LoadFigures = {
        target: t.name,
        seconds: s.startSeconds,
        peakRssMiB: s.startPeakRssMiB,
        readyRssMiB: s.startRssMiB,
        laterRssMiB: s.rssMiB(),
        mirrors: s.mirrors === undefined || s.mirrors === null ? null : s.mirrors.map((m) => m.detail).join(', '),
        logTail: s
          .stderr()
          .split('\n')
          .filter((l) => /load|mirror|limit:/i.test(l))
          .slice(-12)
          .join('\n'),
      };
      out.push(f);
      log(
        `${t.name}: loaded in ${f.seconds.toFixed(1)} s; RSS peak ${f.peakRssMiB.toFixed(0)} MiB, when loaded ${f.readyRssMiB.toFixed(0)} MiB, 10 s later ${f.laterRssMiB.toFixed(0)} MiB${f.mirrors === null ? '' : ` (${f.mirrors})`}`,
      );
    } finally {
      await s.stop();
    }
  }
  const sizes = Object.entries(d.sizes)
    .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
    .join(', ');
  const markdown = [
    `## Mirror initial load, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${o.label ? ` — ${o.label}` : ''}`,
    '',
    `- command: \`${o.command ?? 'npx tsx bench/mirror-load.ts'}\``,
    `- data: ${d.skus.toLocaleString('en-US')} canonical SKUs x ${d.locations} locations on MariaDB (+ the 3PL's CSV files); rows: ${sizes}; MariaDB data ${db.dataMiB} MiB, buffer pool ${db.poolMiB} MiB (warmed)`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; MariaDB and the server share the cores, other work on the machine not controlled (load average ${load0.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)})`,
    '- loaded: from spawning the server to /status.json showing every mirror loaded (the limit: to it listening); RSS of the process and its children, peak sampled every 200 ms; goal ≤ 60 s and ≤ 1 GB (1024 MiB)',
    '',
    '| target | load s | RSS peak MiB | RSS when loaded MiB | RSS 10 s later MiB | goal | mirrors |',
    '|---|---:|---:|---:|---:|---|---|',
    ...out.map((f) =>
      f.failure !== undefined
        ? `| ${f.target} | not loaded | - | - | - | NOT met | ${f.failure} |`
        : `| ${f.target} | ${f.seconds.toFixed(1)} | ${f.peakRssMiB.toFixed(0)} | ${f.readyRssMiB.toFixed(0)} | ${f.laterRssMiB.toFixed(0)} | ${f.seconds <= 60 && f.peakRssMiB <= 1024 ? 'met' : 'NOT met'} | ${f.mirrors ?? '-'} |`,
    ),
    '',
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  for (const f of out) if (f.logTail !== '') process.stderr.write(`${f.target} log:\n${f.logTail}\n`);
  if (o.record !== false) {
    appendFileSync(join(HERE, 'RESULTS.md'), `${markdown}\n`);
    appendFileSync(
      join(HERE, 'results.jsonl'),
      `${JSON.stringify({ at: new Date().toISOString(), kind: 'mirror-load', command: o.command ?? 'npx tsx bench/mirror-load.ts', label: o.label ?? null, dataset: d, results: out })}\n`,
    );
  }
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      'with-limit': { type: 'boolean' },
      timeout: { type: 'string' },
      skus: { type: 'string' },
      locations: { type: 'string' },
      mysql: { type: 'string' },
      prefix: { type: 'string' },
      label: { type: 'string' },
      'no-record': { type: 'boolean' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  await runMirrorLoad({
    withLimit: values['with-limit'],
    timeoutSeconds: num(values.timeout),
    skus: num(values.skus),
    locations: num(values.locations),
    mysqlUrl: values.mysql,
    prefix: values.prefix,
    label: values.label,
    record: values['no-record'] !== true,
    command: `npx tsx bench/mirror-load.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
  });
}
