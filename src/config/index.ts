/**
 * Loads `inventory-graph.yaml` once at start-up: YAML, then `${VAR}` / `${VAR:-default}`
 * interpolation, then the schema, then the cross-field rules. Every problem is collected and
 * reported together, each naming its key path, in the way Vendure's bootstrap fails once with
 * the whole list. Nothing else in the code base reads the config file or `process.env` for it.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { core } from 'zod';
import { MovementKinds } from '../domain/movements.js';
import { applyPresets } from '../sources/presets/index.js';
import { knownKeys, nearestKey, yamlProblems } from './known-keys.js';
import { configSchema, fileFormat, type ParsedConfig } from './schema.js';

export type { SqlSourceConfig, StockMapping, CostMapping, ItemsMapping, LocationConfig } from './schema.js';
export type {
  CsvSourceConfig,
  HttpSourceConfig,
  SourceConfig,
  MovementMapping,
  AnomaliesConfig,
  SyncConfig,
  FeedConfig,
  OrdersMapping,
  ReservationsConfig,
} from './schema.js';
export type { EventsConfig, EventSinkConfig, IdentifierMapping, SkuMapConfig, MovementKindConfig } from './schema.js';

/** A validated configuration: relative paths resolved, defaults applied. */
export type Config = Readonly<ParsedConfig & { locations: Array<ParsedConfig['locations'][number] & { safetyStock: number }> }>;

/** Thrown with every problem of a config file; `problems` are `key.path: message` lines. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** The config file to read: the one given (`--config FILE`) wins, then INVENTORY_GRAPH_CONFIG, then ./inventory-graph.yaml. */
export function configFile(given: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(given ?? env.INVENTORY_GRAPH_CONFIG ?? 'inventory-graph.yaml');
}

/** configFile for a command line's `--config FILE` or `--config=FILE`. */
export function configPath(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const i = argv.indexOf('--config');
  return configFile(i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--config='))?.slice('--config='.length), env);
}

/** The `server` section of a config that has none: every default (port 4000 on 127.0.0.1). */
export function serverDefaults(): Config['server'] {
  return configSchema.shape.server.parse(undefined);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`]);
  }
  return parseConfig(text, file, env);
}

/** Parses config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = {}): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) throw new ConfigError(file, yamlProblems(doc.errors, text, lines));
  const problems: string[] = [];
  const raw = applyPresets(interpolate(doc.toJS() ?? {}, [], env, problems), problems);
  const envProblemPaths = new Set(problems.map((p) => p.slice(0, p.indexOf(':'))));
  const parsed = configSchema.safeParse(raw, { error: describeIssue });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // an unset variable already explains why the value is empty
      if (!envProblemPaths.has(keyPath(issue.path))) problems.push(formatIssue(issue, raw));
    }
  }
  // the cross-field rules run on the raw tree too, so a file with both kinds of mistakes gets one full list
  problems.push(...crossCheck(parsed.success ? parsed.data : (raw as Loose)));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);
  return finish(parsed.data, dirname(file));
}

/** Replaces `${VAR}` and `${VAR:-default}` inside every string value. */
function interpolate(value: unknown, path: (string | number)[], env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${keyPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, problems)]));
  }
  return value;
}

function describeIssue(issue: core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required';
  return undefined;
}

function formatIssue(issue: core.$ZodIssue, raw: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    // the keys the object there knows (a source's by its kind): the nearest one is likely what was meant
    const known = knownKeys(configSchema, issue.path, raw);
    return issue.keys
      .map((k) => {
        const near = nearestKey(k, known);
        return `${keyPath([...issue.path, k] as (string | number)[])}: unknown key${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
      })
      .join('\n  - ');
  }
  return `${keyPath(issue.path as (string | number)[])}: ${issue.message}`;
}

function keyPath(path: readonly (string | number | symbol)[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The config as it may be before the schema passed: every key possibly missing. */
type Loose = {
  store?: { client?: unknown; connection?: unknown };
  sources?: Record<string, LooseSource | undefined>;
  locations?: unknown;
  movementKinds?: unknown;
  precedence?: Partial<Record<'quantity' | 'cost' | 'name', unknown>>;
  server?: { maxSkusPerQuery?: unknown; headersTimeoutMs?: unknown; requestTimeoutMs?: unknown };
  routing?: { maxLines?: unknown };
  reservations?: {
    defaultTtlSeconds?: unknown;
    maxTtlSeconds?: unknown;
    maxLines?: unknown;
    keepSeconds?: unknown;
    idempotencyWindowSeconds?: unknown;
    confirmedHoldSeconds?: unknown;
  };
  skuMap?: { catalogue?: unknown; match?: unknown };
};
/** Any kind of source, every key possibly missing. */
type LooseSource = {
  kind?: unknown;
  path?: unknown;
  format?: unknown;
  sync?: { mode?: unknown; feeds?: unknown; maxLagSeconds?: unknown };
  client?: unknown;
  connection?: unknown;
  stock?: unknown;
  cost?: { currency?: unknown; columns?: { currency?: unknown } };
  items?: unknown;
  movements?: unknown;
  identifiers?: unknown;
  channelView?: { channel?: unknown };
};
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** Rules that span several keys: each reference must name something that exists. */
function crossCheck(c: Loose): string[] {
  const problems: string[] = [];
  const sources = c.sources !== null && typeof c.sources === 'object' ? c.sources : {};
  const entityOf = { quantity: 'stock', cost: 'cost', name: 'items' } as const;
  for (const [field, entity] of Object.entries(entityOf) as [keyof typeof entityOf, 'stock' | 'cost' | 'items'][]) {
    const seen = new Set<string>();
    list<string>(c.precedence?.[field]).forEach((s, i) => {
      const at = `precedence.${field}[${i}]`;
      if (seen.has(s)) problems.push(`${at}: source "${s}" is listed twice`);
      seen.add(s);
      const src = sources[s];
      if (src === undefined) problems.push(`${at}: unknown source "${s}" (known: ${Object.keys(sources).join(', ')})`);
      else if (src[entity] === undefined) problems.push(`${at}: source "${s}" maps no \`${entity}\``);
      else if (field === 'quantity' && src.channelView != null) {
        problems.push(`${at}: source "${s}" is a channel's view (\`channelView\`), never authoritative; remove it from precedence.quantity`);
      }
    });
  }
  problems.push(...checkChannelViews(sources, c.locations));
  for (const [s, src] of Object.entries(sources)) {
    if (src === null || typeof src !== 'object') continue;
    if (src.client === 'mysql2' && typeof src.connection === 'string' && src.connection !== '' && !/^mysql:\/\//.test(src.connection)) {
      problems.push(`sources.${s}.connection: mysql2 needs a URL such as mysql://user:pass@127.0.0.1:3306/db`);
    }
    if (src.client === 'pg' && typeof src.connection === 'string' && src.connection !== '' && !/^postgres(ql)?:\/\//.test(src.connection)) {
      problems.push(`sources.${s}.connection: pg needs a URL such as postgres://user:pass@127.0.0.1:5432/db`);
    }
    if (src.cost !== undefined && src.cost.currency === undefined && src.cost.columns !== undefined && src.cost.columns.currency === undefined) {
      problems.push(`sources.${s}.cost: needs \`columns.currency\` or a fixed \`currency\``);
    }
    if (src.movements !== undefined && src.stock === undefined) {
      problems.push(`sources.${s}.movements: needs \`stock\` on the same source (movements explain that source's figures)`);
    }
    problems.push(...checkSync(s, src));
    if (src.kind === 'csv') problems.push(...checkFileFormat(s, src));
    if (src.stock === undefined && src.cost === undefined && src.items === undefined && src.movements === undefined) {
      problems.push(`sources.${s}: maps nothing (add \`stock\`, \`cost\` or \`items\`)`);
    }
  }
  problems.push(...checkSkuMap(c, sources));
  if (c.store?.client === 'mysql2' && typeof c.store.connection === 'string' && !/^mysql:\/\//.test(c.store.connection)) {
    problems.push('store.connection: mysql2 needs a URL such as mysql://user:pass@127.0.0.1:3306/db');
  }
  const maxSkus = typeof c.server?.maxSkusPerQuery === 'number' ? c.server.maxSkusPerQuery : 500;
  if (typeof c.routing?.maxLines === 'number' && c.routing.maxLines > maxSkus) {
    problems.push(`routing.maxLines: ${c.routing.maxLines} exceeds server.maxSkusPerQuery (${maxSkus}); an order is read in one availability call`);
  }
  const {
    defaultTtlSeconds = 900,
    maxTtlSeconds = 14_400,
    maxLines: maxReserveLines = 100,
    keepSeconds = 2_592_000,
    idempotencyWindowSeconds = 86_400,
    confirmedHoldSeconds = 3_600,
  } = c.reservations ?? {};
  if (typeof keepSeconds === 'number' && typeof confirmedHoldSeconds === 'number' && keepSeconds < confirmedHoldSeconds) {
    problems.push(
      `reservations.keepSeconds: ${keepSeconds} is less than reservations.confirmedHoldSeconds (${confirmedHoldSeconds}); a confirmed hold must not be deleted while it counts`,
    );
  }
  if (typeof keepSeconds === 'number' && typeof idempotencyWindowSeconds === 'number' && keepSeconds < idempotencyWindowSeconds) {
    problems.push(
      `reservations.keepSeconds: ${keepSeconds} is less than reservations.idempotencyWindowSeconds (${idempotencyWindowSeconds}); a replayed key must still find its reservation`,
    );
  }
  if (typeof defaultTtlSeconds === 'number' && typeof maxTtlSeconds === 'number' && defaultTtlSeconds > maxTtlSeconds) {
    problems.push(`reservations.defaultTtlSeconds: ${defaultTtlSeconds} exceeds reservations.maxTtlSeconds (${maxTtlSeconds})`);
  }
  if (typeof maxReserveLines === 'number' && maxReserveLines > maxSkus) {
    problems.push(`reservations.maxLines: ${maxReserveLines} exceeds server.maxSkusPerQuery (${maxSkus}); a reservation is read in one availability call`);
  }
  const { headersTimeoutMs = 10_000, requestTimeoutMs = 30_000 } = c.server ?? {};
  if (typeof headersTimeoutMs === 'number' && typeof requestTimeoutMs === 'number' && headersTimeoutMs > requestTimeoutMs) {
    problems.push(
      `server.requestTimeoutMs: ${requestTimeoutMs} is less than server.headersTimeoutMs (${headersTimeoutMs}); the headers are part of the request`,
    );
  }
  problems.push(...checkMovementKinds(c, sources));
  const ids = new Map<string, number>();
  const codes = new Map<string, string>();
  list<Partial<ParsedConfig['locations'][number]> | null>(c.locations).forEach((l, i) => {
    if (l === null || typeof l !== 'object' || typeof l.id !== 'string') return;
    if (ids.has(l.id)) problems.push(`locations[${i}].id: "${l.id}" is also locations[${ids.get(l.id)}]`);
    ids.set(l.id, i);
    for (const [s, code] of Object.entries(l.codes ?? {})) {
      if (sources[s] === undefined) problems.push(`locations[${i}].codes.${s}: unknown source "${s}"`);
      const key = `${s}\u0000${code}`;
      const other = codes.get(key);
      if (other !== undefined) problems.push(`locations[${i}].codes.${s}: code "${code}" is already location ${other}`);
      codes.set(key, l.id);
    }
    if ((l.latitude === undefined) !== (l.longitude === undefined)) {
      problems.push(`locations[${i}]: latitude and longitude go together`);
    }
  });
  return problems;
}

function finish(c: ParsedConfig, baseDir: string): Config {
  const file = (client: string, conn: string) => (client === 'better-sqlite3' && conn !== ':memory:' && !isAbsolute(conn) ? resolve(baseDir, conn) : conn);
  return Object.freeze({
    ...c,
    store: { ...c.store, connection: file(c.store.client, c.store.connection) },
    sources: Object.fromEntries(
      Object.entries(c.sources).map(([k, s]) => [
        k,
        s.kind === 'csv'
          ? { ...s, path: isAbsolute(s.path) ? s.path : resolve(baseDir, s.path) }
          : s.kind === 'sql'
            ? { ...s, connection: file(s.client, s.connection) }
            : s,
      ]),
    ),
    locations: c.locations.map((l) => ({ ...l, safetyStock: l.safetyStock ?? c.defaults.safetyStock })),
  });
}

/** A `channelView` reads the source's `stock`, for a channel some location serves (when locations name channels at all). */
function checkChannelViews(sources: Record<string, LooseSource | undefined>, locations: unknown): string[] {
  const problems: string[] = [];
  const channels = new Set(list<{ channels?: unknown } | null>(locations).flatMap((l) => list<string>(l?.channels)));
  for (const [s, src] of Object.entries(sources)) {
    const view = src?.channelView;
    if (view === null || view === undefined || typeof view !== 'object') continue;
    if (src?.stock === undefined) problems.push(`sources.${s}.channelView: needs \`stock\` on the same source (the figure the channel promises)`);
    if (typeof view.channel === 'string' && channels.size > 0 && !channels.has(view.channel)) {
      problems.push(`sources.${s}.channelView.channel: unknown channel "${view.channel}" (known: ${[...channels].join(', ')})`);
    }
  }
  return problems;
}

/** Movement kinds: each mapping's fixed `kind` is built in or declared, each `explains` names sources. */
function checkMovementKinds(c: Loose, sources: Record<string, LooseSource | undefined>): string[] {
  const problems: string[] = [];
  const declared = c.movementKinds !== null && typeof c.movementKinds === 'object' ? (c.movementKinds as Record<string, { explains?: unknown } | null>) : {};
  for (const [k, d] of Object.entries(declared)) {
    list<unknown>(d?.explains).forEach((s, i) => {
      if (typeof s === 'string' && sources[s] === undefined)
        problems.push(`movementKinds.${k}.explains[${i}]: unknown source "${s}" (known: ${Object.keys(sources).join(', ')})`);
    });
  }
  const known = new MovementKinds(Object.fromEntries(Object.keys(declared).map((k) => [k, {}]))).names;
  for (const [s, src] of Object.entries(sources)) {
    if (src === null || typeof src !== 'object' || src.movements === undefined) continue;
    const many = Array.isArray(src.movements);
    list<{ kind?: unknown } | null>(many ? src.movements : [src.movements]).forEach((m, i) => {
      if (typeof m?.kind === 'string' && !known.includes(m.kind))
        problems.push(
          `sources.${s}.movements${many ? `[${i}]` : ''}.kind: unknown movement kind "${m.kind}" (known: ${known.join(', ')}; declare it in \`movementKinds\`)`,
        );
    });
  }
  return problems;
}

/** A file source's mapping for its format: `columns` for csv and jsonl, `records` + `fields` for json (which has no movements). */
function checkFileFormat(s: string, src: LooseSource): string[] {
  const stock = (src.stock ?? {}) as { columns?: unknown; fields?: unknown };
  if (typeof src.path !== 'string') return [];
  const json = fileFormat(src.path, src.format as 'csv' | 'jsonl' | 'json' | undefined) === 'json';
  if (json && stock.columns !== undefined) return [`sources.${s}.stock: a \`json\` file is mapped by \`records\` + \`fields\`, not \`columns\``];
  if (!json && stock.fields !== undefined) return [`sources.${s}.stock: a csv or jsonl file is mapped by \`columns\`; \`fields\` are for \`format: json\``];
  if (json && src.movements !== undefined) return [`sources.${s}.movements: not read from \`json\` files (csv and jsonl only)`];
  return [];
}

/** A `sync` block that the schema alone cannot judge: feeds on a live source, poll on a file source, two webhooks. */
function checkSync(s: string, src: LooseSource): string[] {
  const problems: string[] = [];
  const feeds = list<{ kind?: unknown }>(src.sync?.feeds);
  const mirror = src.sync?.mode === 'mirror';
  if (!mirror && feeds.length > 0) problems.push(`sources.${s}.sync.feeds: feeds keep a mirror current; set \`sync.mode: mirror\` or remove them`);
  if (!mirror && src.sync?.maxLagSeconds !== undefined) problems.push(`sources.${s}.sync.maxLagSeconds: applies to \`sync.mode: mirror\` only`);
  feeds.forEach((f, i) => {
    if (f?.kind === 'poll' && src.kind !== 'sql')
      problems.push(`sources.${s}.sync.feeds[${i}]: \`poll\` reads a SQL source; a file source is read again when a newer file arrives`);
    if (f?.kind === 'poll' && src.kind === 'sql' && src.stock === undefined)
      problems.push(`sources.${s}.sync.feeds[${i}]: \`poll\` needs the source's \`stock\` mapping`);
  });
  const kinds = feeds.map((f) => f?.kind);
  for (const k of ['poll', 'webhook'])
    if (kinds.filter((x) => x === k).length > 1) problems.push(`sources.${s}.sync.feeds: at most one \`${k}\` feed per source`);
  return problems;
}

/**
 * `skuMap`: the catalogue and every rule's system must be configured sources, the catalogue is
 * not matched onto itself, and a named identifier is mapped by the catalogue and every system.
 */
function checkSkuMap(c: Loose, sources: Record<string, LooseSource | undefined>): string[] {
  const problems: string[] = [];
  const known = Object.keys(sources).join(', ');
  const catalogue = typeof c.skuMap?.catalogue === 'string' ? c.skuMap.catalogue : undefined;
  const maps = (s: string, identifier: string) => {
    const ids = sources[s]?.identifiers;
    return ids !== null && typeof ids === 'object' && Object.hasOwn(ids, identifier);
  };
  for (const [s, src] of Object.entries(sources)) {
    const ids = src?.identifiers;
    if (ids !== null && typeof ids === 'object' && Object.hasOwn(ids, 'code'))
      problems.push(
        `sources.${s}.identifiers.code: \`code\` is reserved (a skuMap rule \`identifier: code\` matches the systems' own item codes); choose another name`,
      );
  }
  if (catalogue !== undefined && sources[catalogue] === undefined) problems.push(`skuMap.catalogue: unknown source "${catalogue}" (known: ${known})`);
  const rules = list<{ identifier?: unknown; systems?: unknown } | null>(c.skuMap?.match);
  if (rules.length > 0 && catalogue === undefined) problems.push('skuMap.catalogue: required with `match` rules (the system the others are matched onto)');
  rules.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || typeof r.identifier !== 'string') return;
    const at = `skuMap.match[${i}]`;
    const identifier = r.identifier;
    const named = identifier !== 'code';
    if (named && catalogue !== undefined && sources[catalogue] !== undefined && !maps(catalogue, identifier))
      problems.push(`${at}.identifier: the catalogue "${catalogue}" maps no identifier "${identifier}" (add sources.${catalogue}.identifiers.${identifier})`);
    const seen = new Set<string>();
    list<unknown>(r.systems).forEach((s, j) => {
      if (typeof s !== 'string') return;
      const sat = `${at}.systems[${j}]`;
      if (seen.has(s)) problems.push(`${sat}: "${s}" is listed twice`);
      seen.add(s);
      if (sources[s] === undefined) problems.push(`${sat}: unknown source "${s}" (known: ${known})`);
      else if (s === catalogue) problems.push(`${sat}: "${s}" is the catalogue, which the other systems are matched onto`);
      else if (named && !maps(s, identifier))
        problems.push(`${sat}: source "${s}" maps no identifier "${identifier}" (add sources.${s}.identifiers.${identifier})`);
    });
  });
  return problems;
}
