/**
 * `inventory-graph feeds dlq list|replay`: the dead-letter queue of the message feeds, in the
 * store (src/store/feed-store.ts). `list` shows each dead letter with its reason; `replay` marks
 * dead letters, and the running gateway re-drives the marked ones through their feed within a
 * second (src/feeds/sink.ts `redrive`), so the command needs no connection to the gateway.
 */
import { configFile, loadConfig } from '../config/index.js';
import { openStore } from '../store/index.js';
import { UsageError, type ParsedArgs } from './args.js';

/** A message's text for a terminal: control characters (escape sequences a sender could plant) shown as \\uXXXX. */
export function printable(s: string, max = 200): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function count(v: unknown, flag: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < 1 || n > max)
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got "${String(v)}"`);
  return n;
}

export async function feedsDlqCommand({ values, positionals: [action] }: ParsedArgs): Promise<number> {
  if (action !== 'list' && action !== 'replay') throw new UsageError(`ACTION must be list or replay, got "${action ?? ''}"`);
  const source = values.source as string | undefined;
  const ids =
    values.id === undefined
      ? undefined
      : String(values.id)
          .split(',')
          .map((s) => count(s.trim(), '--id', Number.MAX_SAFE_INTEGER) as number);
  if (action === 'replay' && values.all !== true && source === undefined && ids === undefined) throw new UsageError('replay needs --all, --source S or --id N');
  if (action === 'list' && (values.all !== undefined || ids !== undefined)) throw new UsageError('--all and --id go with replay');
  if (action === 'replay' && (values.limit !== undefined || values.after !== undefined || values.json !== undefined))
    throw new UsageError('--limit, --after and --json go with list');
  const limit = count(values.limit, '--limit', 10_000) ?? 100;
  const after = count(values.after, '--after', Number.MAX_SAFE_INTEGER);
  const config = loadConfig(configFile(values.config as string | undefined, process.env));
  if (source !== undefined && config.sources[source]?.sync.mode !== 'mirror') {
    const mirrored = Object.entries(config.sources)
      .filter(([, s]) => s.sync.mode === 'mirror')
      .map(([n]) => n);
    throw new UsageError(`--source "${source}" is not a mirrored source (mirrored: ${mirrored.join(', ') || 'none'})`);
  }
  const store = await openStore(config.store);
  try {
    if (action === 'replay') {
      const n = await store.feeds.deadLetters.requestReplay({ ...(source !== undefined ? { source } : {}), ...(ids !== undefined ? { ids } : {}) });
      process.stdout.write(
        `${n} dead letter${n === 1 ? '' : 's'} marked for replay; a running gateway applies them within a second (\`inventory-graph feeds dlq list\` shows any that fail again)\n`,
      );
      return 0;
    }
    const letters = await store.feeds.deadLetters.list({ ...(source !== undefined ? { source } : {}), ...(after !== undefined ? { after } : {}), limit });
    if (values.json === true) {
      for (const l of letters) process.stdout.write(`${JSON.stringify(l)}\n`);
      return 0;
    }
    if (letters.length === 0) {
      process.stdout.write('no dead letters\n');
      return 0;
    }
    for (const l of letters) {
      const marked = l.replayRequestedAt === null ? '' : ' (replay requested)';
      process.stdout.write(
        `#${l.id} ${l.source}/${l.feed} ${l.receivedAt.toISOString()} attempts ${l.attempts}${marked}\n  message ${printable(l.messageId ?? '(no id)')}: ${printable(l.reason, 2048)}\n  ${printable(l.body)}\n`,
      );
    }
    if (letters.length === limit) process.stdout.write(`(more after --after ${letters.at(-1)?.id})\n`);
    return 0;
  } finally {
    await store.close();
  }
}
