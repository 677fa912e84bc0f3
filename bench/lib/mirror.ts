/**
 * Mirrored sources in the bench (issue #15): the config of a gateway whose sources are read from
 * memory (`sync.mode: mirror`, src/config/schema.ts `syncSchema`), and the wait for its mirrors
 * to be loaded before anything is measured (a mirrored source may serve live reads until then).
 *
 * The wait reads `/status.json` (admin key): its `mirrors` (src/feeds/status.ts), interpreted in
 * one place, `mirrorStates`.
 */
import { parseDocument } from 'yaml';

/** One feed as the config takes it (`sync.feeds[]`), before defaults. */
export type FeedYaml =
  | { kind: 'poll'; changedSince: string; intervalSeconds?: number; overlapSeconds?: number; fullResyncSeconds?: number; batchSize?: number }
  | { kind: 'amqp'; url: string; queue: string; exchange?: string; routingKey?: string; prefetch?: number }
  | { kind: 'nats'; servers: string | string[]; stream: string; subject: string; durable: string; batch?: number }
  | { kind: 'webhook'; secret: string; toleranceSeconds?: number; maxBodyBytes?: number };

export interface MirrorOptions {
  /** Sources to mirror; default every source of the config. */
  sources?: readonly string[];
  /** Feeds per source (none: the start-up load only). */
  feeds?: Readonly<Record<string, readonly FeedYaml[]>>;
  maxLagSeconds?: number;
}

/** `yaml` (a gateway config) with a `sync` block on every source named (all by default): mirrored, with its feeds. */
export function mirroredConfig(yaml: string, o: MirrorOptions = {}): string {
  const doc = parseDocument(yaml);
  const sources = doc.get('sources') as { items?: { key: unknown }[] } | undefined;
  for (const item of sources?.items ?? []) {
    const name = String((item.key as { value?: unknown }).value ?? item.key);
    if (o.sources !== undefined && !o.sources.includes(name)) continue;
    const sync: Record<string, unknown> = { mode: 'mirror', feeds: [...(o.feeds?.[name] ?? [])] };
    if (o.maxLagSeconds !== undefined) sync.maxLagSeconds = o.maxLagSeconds;
    doc.setIn(['sources', name, 'sync'], doc.createNode(sync));
  }
  return doc.toString();
}

/** One mirrored source's state as /status.json shows it, as far as the bench needs it. */
export interface MirrorState {
  source: string;
  /** Loaded fully at least once (`state` no longer `loading`). */
  loaded: boolean;
  /** Records held (base and overlay). */
  records: number | null;
  /** The packed base's size as the gateway estimates it, in bytes. */
  memoryBytes: number | null;
  /** The last full load's duration, in ms. */
  loadMs: number | null;
  /** What the status said, in short, for the log. */
  detail: string;
}

/**
 * The mirrored sources' states from a /status.json body (its `mirrors`: src/feeds/status.ts
 * `MirrorView`, `state` one of `loading`, `current`, `lagging`), or null when it shows none (a
 * gateway without mirrors, or one from before /status.json showed them).
 */
export function mirrorStates(status: unknown): MirrorState[] | null {
  const mirrors = (status as { mirrors?: unknown } | null)?.mirrors;
  if (!Array.isArray(mirrors) || mirrors.length === 0) return null;
  return (mirrors as Record<string, unknown>[]).map((m) => {
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    const state = typeof m.state === 'string' ? m.state : 'unknown';
    const records = num(m.records);
    const memoryBytes = num(m.memoryBytes);
    const loadMs = num((m.lastLoad as { durationMs?: unknown } | null | undefined)?.durationMs);
    const error = typeof m.loadError === 'string' ? m.loadError : null;
    return {
      source: String(m.source),
      loaded: state !== 'loading' && state !== 'unknown',
      records,
      memoryBytes,
      loadMs,
      detail: `${String(m.source)} ${state}${records === null ? '' : `, ${records.toLocaleString('en-US')} records`}${memoryBytes === null ? '' : ` in ${(memoryBytes / 2 ** 20).toFixed(0)} MiB`}${loadMs === null ? '' : `, loaded in ${(loadMs / 1000).toFixed(1)} s`}${error === null ? '' : ` (load error: ${error})`}`,
    };
  });
}

/**
 * Waits until every mirrored source of the gateway at `base` (http://host:port) is loaded.
 * Resolves with the states, or with null when /status.json shows no mirror state at all (then
 * the caller only knows /readyz said ready: said in the log). Rejects after `timeoutMs`.
 */
export async function waitForMirrors(
  base: string,
  headers: Record<string, string>,
  o: { timeoutMs: number; log?: (m: string) => void; everyMs?: number },
): Promise<MirrorState[] | null> {
  const until = Date.now() + o.timeoutMs;
  let last = '';
  for (;;) {
    const body = await fetch(`${base}/status.json`, { headers }).then(
      (r) => (r.ok ? (r.json() as Promise<unknown>) : null),
      () => null,
    );
    const states = mirrorStates(body);
    // /status.json gives `mirrors: []` with a problem when it could not look at them in time (its
    // store's dead-letter count, 2 s): not "no mirrors", so not "loaded"
    const unseen = ((body as { problems?: unknown } | null)?.problems as unknown[] | undefined)?.some((p) => /mirrored sources/i.test(String(p))) === true;
    if (states === null && (body === null || unseen)) {
      if (Date.now() > until)
        throw new Error(`mirrors not loaded after ${o.timeoutMs} ms: /status.json ${body === null ? 'did not answer' : 'could not show them'}`);
      await new Promise((r) => setTimeout(r, o.everyMs ?? 500));
      continue;
    }
    if (states === null) {
      o.log?.(`/status.json shows no mirror state: taking /readyz as loaded`);
      return null;
    }
    if (states.every((s) => s.loaded)) return states;
    const now = states.map((s) => s.detail).join(', ');
    if (now !== last) o.log?.(`mirrors: ${now}`);
    last = now;
    if (Date.now() > until) throw new Error(`mirrors not loaded after ${o.timeoutMs} ms: ${now}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 500));
  }
}
