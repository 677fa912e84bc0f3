/**
 * Starts the real gateway over HTTP on a fresh demo (SQLite files, or MariaDB databases),
 * on 127.0.0.1 with an ephemeral port, and gives tests a small GraphQL client.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { parseDocument } from 'yaml';
import { generateDemo, type DemoFacts } from '../../src/cli/demo-data.js';
import { prepareDemo } from '../../src/cli/start.js';
import { loadConfig } from '../../src/config/index.js';
import { mysqlConnection } from '../../src/db/knex.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App, type AppOptions } from '../../src/server/app.js';
import type { Role } from '../../src/server/auth.js';

export const MARIADB_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
/** A fixed instant for generated data, so two backends hold the same figures. */
export const DEMO_NOW = new Date(Date.now() - 5 * 60_000);

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: { data?: T | null; errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }> };
  text: string;
}

export interface DemoApp {
  app: App;
  /** One API key per role; `gql` sends the admin key unless a header says otherwise. */
  keys: Record<Role, string>;
  url: string;
  dir: string;
  facts: DemoFacts;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GqlResult<T>>;
  close(): Promise<void>;
}

export interface DemoAppOptions {
  skus?: number;
  /**
   * Keep the demo's mirrored sources (the WMS by poll, the 3PL by amqp). Off by default: most
   * suites are about reading sources live (faults, statements, limits); test/feeds covers mirrors.
   */
  mirrors?: boolean;
  /**
   * Keep the demo's `events` section (an amqp sink to the shared exchange inventory-graph.events).
   * Off by default: test/events covers events, with sinks of its own (test/events/helpers.ts).
   */
  events?: boolean;
  /**
   * Keep the sweep (`sweep.intervalSeconds`, every 900 s from 10 s after start). Off by default:
   * most suites count statements and anomalies a request makes; test/sweep covers the sweep.
   */
  sweep?: boolean;
  mysql?: { prefix: string };
  /** Edits the generated YAML before the app loads it (e.g. to break a source). */
  editConfig?: (yaml: string) => string;
  /** Silence logs unless LOG_LEVEL is set. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Config keys set in the generated YAML, after `editConfig`: `{ server: { executor: 'graphql-js' } }`. */
  override?: Partial<Record<'server' | 'log' | 'auth' | 'routing' | 'anomalies' | 'defaults' | 'reservations' | 'store', Record<string, unknown>>>;
  /** Receives every log line (JSON, at `logLevel`, default warn) instead of stderr. */
  log?: (line: string) => void;
  /** The gateway's clock (`createApp`'s `now`): tests move it to expire holds and keys without sleeping. Default: the real time. */
  now?: () => Date;
  /** Runs on the generated demo before the app starts (e.g. to add a table to a source system's file). */
  prepare?: (dir: string) => void | Promise<void>;
  /** Turns `telemetry.tracing` on, its spans going to `exporter` (an InMemorySpanExporter) instead of OTLP. */
  tracing?: AppOptions['tracing'];
}

export async function startDemoApp(o: DemoAppOptions = {}): Promise<DemoApp> {
  const dir = mkdtempSync(join(tmpdir(), 'ig-e2e-'));
  const { facts } = await generateDemo({
    dir,
    skus: o.skus ?? 400,
    now: DEMO_NOW,
    ...(o.mysql ? { mysqlUrl: MARIADB_URL, databasePrefix: o.mysql.prefix } : {}),
  });
  const file = join(dir, 'inventory-graph.yaml');
  // edits see the file as generated (comments and layout); then the mirrors go unless asked for
  if (o.editConfig) writeFileSync(file, o.editConfig(readFileSync(file, 'utf8')));
  if (o.mirrors !== true) writeFileSync(file, liveOnly(readFileSync(file, 'utf8')));
  if (o.events !== true) writeFileSync(file, withoutEvents(readFileSync(file, 'utf8')));
  if (o.sweep !== true) writeFileSync(file, withoutSweep(readFileSync(file, 'utf8')));
  if (o.override) writeFileSync(file, withOverride(readFileSync(file, 'utf8'), o.override));
  if (o.tracing) {
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.setIn(['telemetry', 'tracing', 'enabled'], true);
    writeFileSync(file, doc.toString());
  }
  await o.prepare?.(dir);
  const { keys } = await prepareDemo(dir, { generate: false });
  const config = loadConfig(file);
  const logger =
    o.log === undefined ? createLogger((process.env.LOG_LEVEL as 'info' | undefined) ?? o.logLevel ?? 'silent') : createLogger(o.logLevel ?? 'warn', o.log);
  const app = await createApp(config, { logger, configPath: file, ...(o.now ? { now: o.now } : {}), ...(o.tracing ? { tracing: o.tracing } : {}) });
  const url = await app.listen(0, '127.0.0.1');
  return {
    app,
    url,
    dir,
    facts,
    keys,
    async gql(query, variables, headers) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': keys.admin, ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
    },
    // the demo's files (SQLite sources, 3PL files, store) go with the app: a suite run leaves no temp dirs
    close: () => app.close().finally(() => rmSync(dir, { recursive: true, force: true })),
  };
}

/** Drops the MariaDB databases of a demo generated with `mysql: { prefix }` (its four source systems). */
export async function dropDemoDatabases(prefix: string): Promise<void> {
  const db = knexFactory({ client: 'mysql2', connection: mysqlConnection(MARIADB_URL), pool: { min: 0, max: 2 } });
  try {
    for (const s of ['erp', 'wms', 'shop', 'tpl']) await db.raw('drop database if exists ??', [`${prefix}_${s}`]);
  } finally {
    await db.destroy();
  }
}

/** The demo config with its WMS mirrored by a poll feed the test drives itself (`pollNow`, loaded once at start) and its 3PL read live. */
export function wmsMirroredByPoll(yaml: string): string {
  const doc = parseDocument(yaml);
  doc.setIn(
    ['sources', 'wms', 'sync'],
    doc.createNode({
      mode: 'mirror',
      feeds: [{ kind: 'poll', changedSince: 'updated_at', intervalSeconds: 3600, overlapSeconds: 2, fullResyncSeconds: 0 }],
    }),
  );
  doc.deleteIn(['sources', 'tpl', 'sync']);
  return doc.toString();
}

/** The demo config with the sweep off (`sweep.intervalSeconds: 0`): it runs only when a test calls it. */
export function withoutSweep(yaml: string): string {
  const doc = parseDocument(yaml);
  doc.setIn(['sweep', 'intervalSeconds'], 0);
  return doc.toString();
}

/** The demo config with every source read live (each source's `sync` block removed). */
export function liveOnly(yaml: string): string {
  const doc = parseDocument(yaml);
  const sources = doc.get('sources') as { items: { key: unknown }[] } | undefined;
  for (const item of sources?.items ?? []) doc.deleteIn(['sources', String((item.key as { value?: unknown }).value ?? item.key), 'sync']);
  return doc.toString();
}

/** `yaml` without its `events` section (no sink: nothing is written or sent). */
export function withoutEvents(yaml: string): string {
  const doc = parseDocument(yaml);
  doc.delete('events');
  return doc.toString();
}

/** `yaml` with each `section.key` of `override` set (a section is created if missing). */
export function withOverride(yaml: string, override: NonNullable<DemoAppOptions['override']>): string {
  const doc = parseDocument(yaml);
  for (const [section, keys] of Object.entries(override)) {
    for (const [key, value] of Object.entries(keys ?? {})) doc.setIn([section, key], value);
  }
  return doc.toString();
}

/** `x-source-statements: erp/stock=1, wms/stock=1` as a map. */
export function statements(headers: Headers): Map<string, number> {
  const h = headers.get('x-source-statements') ?? '';
  return new Map(
    h === 'none' || h === ''
      ? []
      : h.split(', ').map((p) => {
          const [k, v] = p.split('=');
          return [k as string, Number(v)];
        }),
  );
}
