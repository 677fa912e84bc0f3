/**
 * The shape of `inventory-graph.yaml`, as zod schemas. This file is the single place where
 * a key, its type, its default and its description are defined; docs/configuration.md
 * carries the table generated from it (src/config/reference.ts).
 * Cross-field rules (a precedence list naming a source that does not exist, ...) live in
 * `index.ts` (crossCheck), so that every problem of a file is reported in one go.
 */
import { z } from 'zod';
import { isTimeZone } from '../db/values.js';
import { STALE_POLICIES } from '../domain/availability.js';
import { EVENT_TYPES, isTypePattern } from '../domain/events.js';
import { compileField, compileJsonMapping } from '../sources/json-records.js';

const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must start with a letter and use only letters, digits, _ and -');
const clientName = z.enum(['better-sqlite3', 'mysql2']);
/** A source may also be on PostgreSQL (Odoo); the gateway's own store may not. */
const sourceClientName = z.enum(['better-sqlite3', 'mysql2', 'pg']);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * A switch: true/false, or on/off, so that it can come from the environment through
 * interpolation, which always gives a string (`fastPath: ${INVENTORY_GRAPH_FAST_PATH:-on}`).
 */
const onOff = z
  .union([z.boolean(), z.enum(['on', 'off', 'true', 'false'])], { error: 'must be true or false (or on / off)' })
  .transform((v) => v === true || v === 'on' || v === 'true');

/** `where: { status: [A, B], deleted: 0 }`: equality or IN, values always bound. */
const where = z.record(z.string().min(1), z.union([scalar, z.array(scalar).min(1)]));

interface MappingShape {
  table?: string;
  columns?: object;
  where?: object;
  query?: string;
}

/** A mapping is a table with its columns (+ optional where), or a read-only query aliased to the canonical names. */
function checkMapping(m: MappingShape, ctx: z.RefinementCtx): void {
  if (m.table === undefined && m.query === undefined) {
    ctx.addIssue({ code: 'custom', message: 'needs either `table` (with `columns`) or `query`' });
  }
  if (m.table !== undefined && m.query !== undefined) {
    ctx.addIssue({ code: 'custom', message: '`table` and `query` exclude each other' });
  }
  if (m.table !== undefined && m.columns === undefined) {
    ctx.addIssue({ code: 'custom', path: ['columns'], message: 'required with `table`' });
  }
  if (m.query !== undefined && (m.columns !== undefined || m.where !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'a `query` aliases its columns itself; `columns` and `where` apply to `table` only' });
  }
  if (m.query !== undefined && !/^\s*(select|with)\b/i.test(m.query)) {
    ctx.addIssue({ code: 'custom', path: ['query'], message: 'must be a read-only SELECT (or WITH ... SELECT)' });
  }
  if (m.query !== undefined && m.query.replace(/;\s*$/, '').includes(';')) {
    ctx.addIssue({ code: 'custom', path: ['query'], message: 'must be a single statement' });
  }
}

const mappingBase = {
  table: z.string().min(1).optional(),
  where: where.optional(),
  query: z.string().min(1).optional(),
};

const column = z.string().min(1);

/** One role's operation limits; unset keys take the `default` role's, then the built-in defaults. */
const roleLimits = z
  .strictObject({
    maxDocumentBytes: z
      .number()
      .int()
      .positive()
      .max(1_048_576)
      .optional()
      .describe("Largest document, in bytes (a persisted query's stored text counts). Default 32768."),
    maxTokens: z
      .number()
      .int()
      .positive()
      .max(1_000_000)
      .optional()
      .describe("Most tokens in a document; the parser stops at the largest role's. Default 2000."),
    maxDepth: z.number().int().positive().max(1000).optional().describe('Most field levels: `{ viewer { role } }` is 2. Default 10.'),
    maxAliases: z.number().int().min(0).max(100_000).optional().describe('Most aliases, fragments expanded. Default 30.'),
    maxDirectives: z.number().int().min(0).max(100_000).optional().describe('Most directives, fragments expanded. Default 10.'),
    maxCost: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Largest cost estimate: each field 1 (or its @cost), a list's selection times its items (@listSize, @perLocation in schema/). Default 200000."),
    maxSkus: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Most SKUs in the whole operation (every @skus argument, aliases added up). Default `server.maxSkusPerQuery`.'),
    pointsPerMinute: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'Cost points a key may spend a minute, per process; shared by every instance when `cluster.redis` is set (docs/scaling.md); 0: no budget. Default 10000000.',
      ),
  })
  .optional();

export const stockMappingSchema = z
  .strictObject({
    ...mappingBase,
    columns: z.strictObject({ sku: column, location: column, onHand: column, committed: column.optional(), asOf: column.optional() }).optional(),
  })
  .superRefine(checkMapping);

export const costMappingSchema = z
  .strictObject({
    ...mappingBase,
    columns: z.strictObject({ sku: column, unitCost: column, currency: column.optional() }).optional(),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
      .optional()
      .describe('The currency of every cost when no `currency` column is mapped.'),
  })
  .superRefine(checkMapping);

export const itemsMappingSchema = z
  .strictObject({ ...mappingBase, columns: z.strictObject({ sku: column, name: column }).optional() })
  .superRefine(checkMapping);

/**
 * Orders this source has taken over (sales orders, allocations, picks), by the reference the
 * caller gave a reservation: a CONFIRMED reservation whose `reference` appears here is handed
 * over, and stops counting against availability (the source's own committed figure counts it
 * now). A `query` aliases its column `reference`.
 */
export const ordersMappingSchema = z.strictObject({ ...mappingBase, columns: z.strictObject({ reference: column }).optional() }).superRefine(checkMapping);

/** A movement kind: a built-in one (`pickedNotInvoiced`, `inTransit`, `receivedNotPutAway`, `countNotPosted`, `pickedNotDelivered`) or one `movementKinds` declares (checked in index.ts). */
const movementKind = name.describe('The kind of every row: a built-in kind or one declared in `movementKinds`.');

/** The columns of a movement mapping; `reference` is the document (order, pick list, count number) shown on reconciliation lines. */
const movementColumns = z.strictObject({
  sku: column,
  location: column,
  quantity: column,
  kind: column.optional(),
  asOf: column.optional(),
  reference: column.optional(),
});

/**
 * One movement mapping: in-flight quantities that explain differences between systems. The kind
 * is fixed (`kind: pickedNotInvoiced`) or read from a column (`columns.kind`, or a `kind` alias
 * in a `query`); `columns.reference` (or a `reference` alias) names each row's document.
 */
export const movementMappingSchema = z
  .strictObject({
    ...mappingBase,
    kind: movementKind.optional(),
    columns: movementColumns.optional(),
  })
  .superRefine(checkMapping)
  .superRefine((m, ctx) => {
    if (m.columns !== undefined && (m.kind === undefined) === (m.columns.kind === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of a fixed `kind` or a `columns.kind` column' });
    }
  });

/**
 * Identifiers a system keeps for its items besides its own code (barcodes, GTIN/UPC/EAN,
 * supplier part numbers), by name: `skuMap.match` rules derive the SKU map's aliases by
 * matching them across systems. A `query` aliases its columns `sku` (the system's own code) and
 * `value`; an item may have several values (one row each).
 */
export const identifierMappingSchema = z
  .strictObject({ ...mappingBase, columns: z.strictObject({ sku: column, value: column }).optional() })
  .superRefine(checkMapping);

/** `preset: erpnext` and its settings: what src/sources/presets/ expands before the schema runs. */
const presetKeys = {
  preset: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A known system (`erpnext`, `odoo`, `openboxes`, `magento`, `woocommerce`, `shipbob`, `shopify`) whose mappings this source takes; any key given here overrides the preset’s (docs/presets.md).',
    ),
  presetOptions: z.record(z.string(), z.unknown()).optional().describe('Settings of the preset (docs/presets.md lists each preset’s).'),
};

/** `movements:` one mapping or a list of them (one per kind, typically). */
const movementsSchema = z.union([movementMappingSchema, z.array(movementMappingSchema).min(1)]).transform((m) => (Array.isArray(m) ? m : [m]));

/**
 * How a failing source is contained (src/sources/resilience.ts), for every kind of source: the
 * circuit breaker, and the bulkhead that bounds reads running and waiting.
 */
export const sourceResilience = {
  breaker: z
    .strictObject({
      failureThreshold: z.number().int().min(1).max(1000).default(5).describe('Failures in a row that open the breaker. Defaults to 5.'),
      resetAfterMs: z
        .number()
        .int()
        .min(100)
        .max(3_600_000)
        .default(10_000)
        .describe('How long the breaker stays open before one trial read, in ms. Defaults to 10000.'),
    })
    .prefault({}),
  maxConcurrent: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('Reads running against the source at once. Defaults to the pool size (4 for mysql2 and pg, 1 for better-sqlite3; 4 for files).'),
  maxQueue: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(64)
    .describe('Reads waiting for a slot; past that a read is load shed at once ("load shed: too many reads waiting for it"). Defaults to 64.'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(3)
    .default(1)
    .describe('Retries of a read whose connection was lost, while a quarter of the deadline is left. Defaults to 1.'),
  healthCheck: z
    .strictObject({
      intervalSeconds: z
        .number()
        .int()
        .min(0)
        .max(86_400)
        .default(30)
        .describe(
          'How often a background check asks the source whether it answers (one cheap statement, or one small request), so a source that came back shows UP without waiting for traffic, and one that went away shows DOWN. 0 turns it off. Defaults to 30.',
        ),
    })
    .prefault({})
    .describe('The background health check of the source (`/status`, `Source.lastCheckAt`).'),
};

/**
 * `channelView: { channel: web }`: this source is the channel's own view of what it may sell
 * (the web platform's salable quantity). Never authoritative (not allowed in
 * `precedence.quantity`); its stock is shown beside our ATP for the channel (docs/api.md).
 */
export const channelViewSchema = z
  .strictObject({
    channel: z.string().min(1).describe('The sales channel whose view this source is (a channel `locations[].channels` names).'),
  })
  .optional()
  .describe(
    "This source is a channel's own view (e.g. the web platform's salable quantity): its `stock` (Σ onHand − committed per SKU) is shown beside our ATP for the channel, flagged CHANNEL_OVERSTATES when it promises more; never in `precedence.quantity`.",
  );

/** `stalePolicy`, the same for every kind of source (the list is src/domain/availability.ts's). */
export const stalePolicySchema = z
  .enum(STALE_POLICIES)
  .default('count')
  .describe(
    'What a STALE figure does: `count` toward availability as any other, `exclude` (contributes 0), or `onHandOnly` (counts in on-hand totals, promises nothing: available 0 there, routing and reservations cannot take it). Defaults to `count`.',
  );

/** `timezone`, the same for every kind of source: how its timestamps without a zone are read (src/db/values.ts). */
export const timezoneSchema = z
  .string()
  .superRefine((v, ctx) => {
    if (!isTimeZone(v)) ctx.addIssue({ code: 'custom', message: `unknown time zone ${JSON.stringify(v)}: an IANA name such as Europe/Berlin, or UTC` });
  })
  .default('UTC')
  .describe(
    'The IANA time zone (`Europe/Berlin`) of the source’s timestamps that carry none: MySQL DATETIME, SQLite text, a file’s asOf values and the date in its name. Daylight saving time is applied; values with an offset (`Z`, `+02:00`) and epoch numbers keep theirs. Defaults to `UTC`.',
  );

/** Freshness and SKU-code settings every kind of source has. */
const sourceCommon = {
  channelView: channelViewSchema,
  ...sourceResilience,
  timeoutMs: z.number().int().positive().max(600_000).default(2000).describe('Deadline for one read. Defaults to 2000.'),
  maxAgeSeconds: z.number().int().positive().optional().describe('A record older than this is flagged STALE. Unset: never stale.'),
  stalePolicy: stalePolicySchema,
  timezone: timezoneSchema,
  skuCodes: z
    .enum(['mapped', 'canonical'])
    .default('mapped')
    .describe('`mapped`: codes come from the SKU map; `canonical`: this system uses the canonical SKU itself.'),
};

/**
 * Feeds that keep a mirrored source current (src/feeds/). `poll` reads the source itself for rows
 * changed since the last poll; the message feeds (`amqp`, `nats`, `webhook`) carry changes in the
 * message shape of docs/feeds.md, each applied once by its id and acknowledged only once durable.
 */
const pollFeedSchema = z.strictObject({
  kind: z.literal('poll'),
  changedSince: column.describe(
    "The stock mapping's change column (a column of `table`, or an alias of `query`), e.g. `updated_at`: rows with a newer value are read again every `intervalSeconds`.",
  ),
  intervalSeconds: z.number().min(0.05).max(86_400).default(5).describe('Seconds between two incremental reads. Defaults to 5.'),
  overlapSeconds: z
    .number()
    .min(0)
    .max(86_400)
    .default(5)
    .describe(
      'Each incremental read goes back this far before the newest change it saw, for clock skew and rows sharing a timestamp (re-read rows are applied again, harmlessly). Defaults to 5.',
    ),
  fullResyncSeconds: z
    .number()
    .int()
    .min(0)
    .max(604_800)
    .default(3600)
    .describe('Seconds between two full reads of the source, which also catch deleted rows; 0: only at start. Defaults to 3600.'),
  batchSize: z.number().int().min(1).max(100_000).default(5000).describe('Changed codes read per statement of an incremental read. Defaults to 5000.'),
});

const amqpFeedSchema = z.strictObject({
  kind: z.literal('amqp'),
  url: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .describe('The broker, e.g. `amqp://guest:guest@127.0.0.1:5672`.'),
  queue: z.string().min(1).describe('The durable queue the changes are consumed from (declared if missing).'),
  exchange: z.string().min(1).optional().describe('A topic exchange to bind `queue` to (declared if missing). Unset: the queue is fed directly.'),
  routingKey: z.string().min(1).default('#').describe('The binding key with `exchange`. Defaults to `#` (everything).'),
  prefetch: z.number().int().min(1).max(10_000).default(500).describe('Unacknowledged messages the broker sends ahead. Defaults to 500.'),
});

/** NATS server(s): one URL or a list (feeds and events sinks). */
const natsServers = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .describe('NATS server(s), e.g. `nats://127.0.0.1:4222`.');
/** A JetStream stream's name. */
const streamName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only');

const natsFeedSchema = z.strictObject({
  kind: z.literal('nats'),
  servers: natsServers,
  stream: streamName.describe('The JetStream stream (created over `subject` if missing).'),
  subject: z.string().min(1).describe('The subject the changes are published on, e.g. `inventory.3pl.>`.'),
  durable: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .describe('The durable consumer name: where this gateway left off survives its restart.'),
  batch: z.number().int().min(1).max(10_000).default(500).describe('Messages fetched at a time. Defaults to 500.'),
});

const webhookFeedSchema = z.strictObject({
  kind: z.literal('webhook'),
  secret: z
    .string()
    .min(16, 'must be at least 16 characters (a Standard Webhooks secret: `whsec_` and base64)')
    .describe(
      'The Standard Webhooks signing secret (`whsec_...`; from the environment: `${WMS_WEBHOOK_SECRET}`). `POST /ingest/<source>` checks every request with it.',
    ),
  toleranceSeconds: z.number().int().min(1).max(86_400).default(300).describe('How far `webhook-timestamp` may be from now, either way. Defaults to 300.'),
  maxBodyBytes: z.number().int().min(1024).max(16_777_216).default(1_048_576).describe('Largest request body. Defaults to 1048576.'),
});

export const feedSchema = z.discriminatedUnion('kind', [pollFeedSchema, amqpFeedSchema, natsFeedSchema, webhookFeedSchema]);

/** `sync:` how a source is read: live on every request (the default), or mirrored in memory and kept current by feeds. */
export const syncSchema = z
  .strictObject({
    mode: z.enum(['live', 'mirror']).default('live').describe('`live`: every request reads the source; `mirror`: requests read memory. Defaults to `live`.'),
    feeds: z.array(feedSchema).default([]).describe('What keeps a mirror current (none: the start-up load only, or for a file source its files).'),
    maxLagSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("When a feed has not been caught up for longer than this, the source's figures are flagged STALE (or read live, `onLag: live`). Unset: never."),
    onLag: z
      .enum(['stale', 'live'])
      .default('stale')
      .describe('What a lagging mirror does: flag its figures `stale`, or read the source `live` until caught up. Defaults to `stale`.'),
    dedupeWindowSeconds: z
      .number()
      .int()
      .min(60)
      .max(2_592_000)
      .default(86_400)
      .describe(
        'How long applied message ids are kept in the store (a redelivery within it is applied once, across restarts); the changes kept are replayed over each full load. Defaults to 86400.',
      ),
  })
  .prefault({});

/**
 * JSON mappings (API answers and nested JSON files): a JSON path (src/sources/json-path.ts), with
 * `^.` reading one level up (src/sources/json-records.ts). Checked when the config loads.
 */
const jsonPath = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    try {
      compileField(p);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** Where the records of a JSON document are, shared by `kind: http` mappings and `format: json` files. */
const jsonRecordsKeys = {
  records: jsonPath.describe('JSON path to the list of items in one page, e.g. `items[*]` or `data.inventoryItems.edges[*].node`.'),
  each: jsonPath
    .optional()
    .describe('JSON path, from an item, to a nested list: one record per element (e.g. `locations[*]`); a field then reads the item with `^.` (`^.sku`).'),
};

/** Checks what a JSON mapping's paths reach (a `^` too far up): the same compile as the connectors'. */
function checkJsonMapping(m: { records: string; each?: string | undefined; fields: Record<string, string | undefined> }, ctx: z.RefinementCtx): void {
  // a path that does not compile is already reported at its own key
  const paths = [m.records, m.each, ...Object.values(m.fields)].filter((p): p is string => p !== undefined);
  if (paths.some((p) => !compiles(p))) return;
  try {
    compileJsonMapping(m);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
}

const compiles = (p: string): boolean => {
  try {
    compileField(p);
    return true;
  } catch {
    return false;
  }
};

const stockFields = z
  .strictObject({ sku: jsonPath, location: jsonPath, onHand: jsonPath, committed: jsonPath.optional(), asOf: jsonPath.optional() })
  .describe('JSON paths, from each record, to the canonical fields.');

/** A file source's `format: json` stock mapping: records of each page by JSON path. */
const fileJsonStockMapping = {
  ...jsonRecordsKeys,
  fields: stockFields.optional(),
};

/** A file mapping: canonical names to the file's column names (CSV header, or JSON-lines keys). */
const fileStockMappingSchema = z
  .strictObject({
    columns: z.strictObject({ sku: column, location: column, onHand: column, committed: column.optional(), asOf: column.optional() }).optional(),
    ...fileJsonStockMapping,
    records: fileJsonStockMapping.records.optional(),
  })
  .superRefine((m, ctx) => {
    if ((m.columns === undefined) === (m.fields === undefined))
      ctx.addIssue({ code: 'custom', message: 'needs `columns` (csv, jsonl) or `records` + `fields` (json), not both' });
    if (m.fields !== undefined && m.records === undefined) ctx.addIssue({ code: 'custom', path: ['records'], message: 'required with `fields`' });
    if (m.columns !== undefined && (m.records !== undefined || m.each !== undefined))
      ctx.addIssue({ code: 'custom', message: '`records` and `each` go with `fields` (format json), not `columns`' });
    if (m.fields !== undefined && m.records !== undefined) checkJsonMapping({ records: m.records, each: m.each, fields: m.fields }, ctx);
  });
const fileMovementMappingSchema = z
  .strictObject({
    kind: movementKind.optional(),
    columns: movementColumns,
  })
  .superRefine((m, ctx) => {
    if ((m.kind === undefined) === (m.columns.kind === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of a fixed `kind` or a `columns.kind` column' });
    }
  });

/**
 * A source that sends files (a 3PL's daily inventory file): the newest file matching `path`
 * is the source's snapshot; a file that fails to parse never replaces the last good one.
 */
export const csvSourceSchema = z.strictObject({
  kind: z.literal('csv'),
  path: z
    .string()
    .min(1)
    .refine((p) => !/[*?[\]]/.test(p.replace(/[^/\\]*$/, '')), 'wildcards may appear in the file name only, not in directories')
    .describe('A file pattern relative to the config file; `*` and `?` may appear in the file name only. The newest matching file is the snapshot.'),
  format: z
    .enum(['csv', 'jsonl', 'json'])
    .optional()
    .describe(
      '`csv` (a header row, then one row per record), `jsonl` (one JSON object per line) or `json` (one API answer, or a list of them, mapped by `stock.records` / `each` / `fields`: docs/http-sources.md). Default: by extension (.jsonl/.ndjson: jsonl, .json: json).',
    ),
  delimiter: z.string().length(1).default(',').describe('CSV field delimiter. Defaults to `,`.'),
  checkIntervalMs: z
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(1000)
    .describe('How often, at most, the directory is looked at for a newer file, in ms. Defaults to 1000.'),
  maxFileBytes: z
    .number()
    .int()
    .positive()
    .max(68_719_476_736)
    .default(1_073_741_824)
    .describe(
      'A file larger than this, in bytes, is refused unread (the previous snapshot keeps serving). Defaults to 1073741824 (1 GiB): about 20 M rows of a typical 3PL file, so `maxRows` is the limit that usually applies; this one stops a runaway file before it is read at all.',
    ),
  maxRows: z
    .number()
    .int()
    .positive()
    .max(100_000_000)
    .default(10_000_000)
    .describe(
      'A file with more rows than this is refused (the previous snapshot keeps serving). Memory grows with rows: about 80 bytes a row held, about 280 bytes a row of peak RSS during a reload, when the old and the new snapshot are both in memory (bench/RESULTS-csv-load.md). Defaults to 10000000: twice the largest 3PL file seen (4.6 M rows), about 2.8 GB at a reload.',
    ),
  keepMissingDays: z
    .number()
    .int()
    .min(0)
    .max(366)
    .default(3)
    .describe(
      "How many days back an item (sku × location) missing from the newest file keeps its last known row: from the newest older file that has it, if that file is at most this many days older (by the date in the names, else the mtimes), with that file's asOf (so it goes STALE by `maxAgeSeconds`), flagged CARRIED_FORWARD and `provenance.carriedFrom` naming the file, instead of vanishing and letting a lower source stand in. The files of the window are read at start, so a restart answers as before it. Only rows missing from the newest file take memory. 0: the newest file alone is the snapshot. Defaults to 3 (a weekend). Trade-off: a 3PL that leaves items at zero out of its file (a missing row means none left) needs 0, or its last figure would be carried, and under `stalePolicy: count` counted, for that long.",
    ),
  ...sourceCommon,
  sync: syncSchema,
  stock: fileStockMappingSchema,
  movements: z
    .union([fileMovementMappingSchema, z.array(fileMovementMappingSchema).min(1)])
    .transform((m) => (Array.isArray(m) ? m : [m]))
    .optional(),
});

/** A file source's format: as configured, else by the path's extension. */
export function fileFormat(path: string, format: 'csv' | 'jsonl' | 'json' | undefined): 'csv' | 'jsonl' | 'json' {
  return format ?? (/\.(jsonl|ndjson)$/i.test(path) ? 'jsonl' : /\.json$/i.test(path) ? 'json' : 'csv');
}

export const sqlSourceSchema = z.strictObject({
  kind: z.literal('sql'),
  ...presetKeys,
  client: sourceClientName,
  connection: z.string().min(1).describe('A file path for better-sqlite3 (relative to the config file), a mysql:// URL for mysql2, a postgres:// URL for pg.'),
  timeoutMs: z.number().int().positive().max(600_000).default(2000).describe('Deadline for one statement. Defaults to 2000.'),
  maxAgeSeconds: z.number().int().positive().optional().describe('A record older than this is flagged STALE. Unset: never stale.'),
  stalePolicy: stalePolicySchema,
  timezone: timezoneSchema,
  skuCodes: z
    .enum(['mapped', 'canonical'])
    .default('mapped')
    .describe('`mapped`: codes come from the SKU map; `canonical`: this system uses the canonical SKU itself.'),
  pool: z.number().int().positive().max(100).optional().describe('Connection pool size. Defaults to 4 (1 for better-sqlite3, which is synchronous).'),
  channelView: channelViewSchema,
  ...sourceResilience,
  sync: syncSchema,
  stock: stockMappingSchema.optional(),
  cost: costMappingSchema.optional(),
  items: itemsMappingSchema.optional(),
  movements: movementsSchema
    .optional()
    .describe(
      'In-flight quantities (picked not invoiced, in transit, received not put away, counts not yet posted, kinds of `movementKinds`) that explain variance, with an optional `reference` column naming each document (docs/movements.md).',
    ),
  identifiers: z
    .record(name, identifierMappingSchema)
    .optional()
    .describe('Shared identifiers of this system’s items (barcode, GTIN, supplier part number), by name: what `skuMap.match` rules match on.'),
  orders: ordersMappingSchema
    .optional()
    .describe(
      'Orders this source has taken over, by reference: a CONFIRMED reservation whose `reference` appears here stops counting (docs/reservations.md). Map it on the system whose committed figure wins quantity.',
    ),
});

/** The request of one `kind: http` mapping, how codes are passed, and how pages follow each other. */
const httpRequestKeys = {
  method: z.enum(['GET', 'POST']).optional().describe('Defaults to GET, or POST with `graphql`.'),
  path: z.string().min(1).describe('The endpoint, resolved against `baseUrl` (`/2.0/inventory-level/locations`); it must stay on `baseUrl`’s origin.'),
  params: z
    .record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .default({})
    .describe('Fixed query-string parameters, e.g. `{ PageSize: 250 }`.'),
  graphql: z.string().min(1).optional().describe('A GraphQL document: the request is a POST of `{ query, variables }`.'),
  variables: z.record(z.string().min(1), z.unknown()).default({}).describe('Fixed GraphQL variables, e.g. `{ first: 100 }`.'),
  codes: z
    .strictObject({
      param: z.string().min(1).optional().describe('The query-string parameter that filters by code.'),
      variable: z.string().min(1).optional().describe('The GraphQL variable that filters by code.'),
      format: z
        .string()
        .min(1)
        .default('{code}')
        .refine((f) => /\{(code|quoted)\}/.test(f), 'must contain {code} or {quoted}')
        .describe('How one code is written: `{code}` the code, `{quoted}` the code in double quotes (Shopify: `sku:{quoted}`). Defaults to `{code}`.'),
      join: z
        .string()
        .optional()
        .describe('What joins the codes of one request (Shopify: `" OR "`). Defaults to `,`; a `variable` without `join` is given a list.'),
    })
    .optional()
    .describe('How the API filters by code. Unset: the whole listing is read and filtered here.'),
  codesPerRequest: z.number().int().min(1).max(10_000).default(50).describe('Codes per request when `codes` is set. Defaults to 50.'),
  pagination: z
    .discriminatedUnion('kind', [
      z.strictObject({
        kind: z.literal('cursor'),
        from: jsonPath.describe('JSON path, in an answer, to the next cursor (`data.inventoryItems.pageInfo.endCursor`).'),
        hasNext: jsonPath.optional().describe('JSON path to a has-next flag (`...pageInfo.hasNextPage`). Unset: a cursor present means more.'),
        param: z.string().min(1).optional().describe('The query-string parameter the cursor is sent in.'),
        variable: z.string().min(1).optional().describe('The GraphQL variable the cursor is sent in.'),
        maxPages: z.number().int().min(1).max(100_000).default(100).describe('Most pages of one read; more fails the read. Defaults to 100.'),
      }),
      z.strictObject({
        kind: z.literal('next'),
        from: jsonPath
          .optional()
          .describe('JSON path, in an answer, to the next page’s URL (absolute or relative). Unset: the `Link: <...>; rel="next"` header.'),
        maxPages: z.number().int().min(1).max(100_000).default(100).describe('Most pages of one read; more fails the read. Defaults to 100.'),
      }),
    ])
    .optional()
    .describe('How pages follow each other. Unset: one page.'),
  ...jsonRecordsKeys,
};

/** One request mapping's cross-key rules: a cursor or codes go where the request can carry them. */
function checkHttpMapping(m: z.output<z.ZodObject<typeof httpRequestKeys>> & { fields: Record<string, string | undefined> }, ctx: z.RefinementCtx): void {
  checkJsonMapping(m, ctx);
  const gql = m.graphql !== undefined;
  if (m.codes !== undefined && (m.codes.param === undefined) === (m.codes.variable === undefined))
    ctx.addIssue({ code: 'custom', path: ['codes'], message: 'needs exactly one of `param` (a query-string parameter) or `variable` (GraphQL)' });
  if (m.codes?.variable !== undefined && !gql) ctx.addIssue({ code: 'custom', path: ['codes', 'variable'], message: 'a GraphQL variable needs `graphql`' });
  const p = m.pagination;
  if (p?.kind === 'cursor' && (p.param === undefined) === (p.variable === undefined))
    ctx.addIssue({ code: 'custom', path: ['pagination'], message: 'a cursor needs exactly one of `param` (a query-string parameter) or `variable` (GraphQL)' });
  if (p?.kind === 'cursor' && p.variable !== undefined && !gql)
    ctx.addIssue({ code: 'custom', path: ['pagination', 'variable'], message: 'a GraphQL variable needs `graphql`' });
}

export const httpStockMappingSchema = z.strictObject({ ...httpRequestKeys, fields: stockFields }).superRefine(checkHttpMapping);
export const httpCostMappingSchema = z
  .strictObject({
    ...httpRequestKeys,
    fields: z.strictObject({ sku: jsonPath, unitCost: jsonPath, currency: jsonPath.optional() }),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
      .optional()
      .describe('The currency of every cost when no `currency` field is mapped.'),
  })
  .superRefine(checkHttpMapping)
  .superRefine((m, ctx) => {
    if (m.currency === undefined && m.fields.currency === undefined) ctx.addIssue({ code: 'custom', message: 'needs `fields.currency` or a fixed `currency`' });
  });
export const httpItemsMappingSchema = z
  .strictObject({ ...httpRequestKeys, fields: z.strictObject({ sku: jsonPath, name: jsonPath }) })
  .superRefine(checkHttpMapping);

/**
 * A source read over HTTP (`kind: http`): a REST or GraphQL API, each entity a request mapped by
 * JSON paths (src/sources/http.ts, docs/http-sources.md). Presets: `shipbob`, `shopify`.
 */
export const httpSourceSchema = z.strictObject({
  kind: z.literal('http'),
  ...presetKeys,
  baseUrl: z
    .url({ protocol: /^https?$/, error: (i) => (i.input === undefined ? 'required' : 'must be an http:// or https:// URL') })
    .describe('Where the API is, e.g. `https://api.shipbob.com`; every request (next-page links too) must stay on its origin.'),
  auth: z
    .strictObject({
      bearer: z.string().min(1).optional().describe('Sent as `Authorization: Bearer <token>`; from the environment: `"${SHIPBOB_TOKEN}"`.'),
      header: z
        .string()
        .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
        .optional()
        .describe('A header that carries the secret instead, e.g. `X-Shopify-Access-Token`, with `value`.'),
      value: z.string().min(1).optional().describe('The `header`’s value; from the environment: `"${SHOPIFY_TOKEN}"`.'),
    })
    .superRefine((a, ctx) => {
      if ((a.bearer === undefined) === (a.header === undefined)) ctx.addIssue({ code: 'custom', message: 'needs either `bearer`, or `header` with `value`' });
      if ((a.header === undefined) !== (a.value === undefined)) ctx.addIssue({ code: 'custom', message: '`header` and `value` go together' });
    })
    .optional()
    .describe('`{ bearer: "${TOKEN}" }` or `{ header: X-Shopify-Access-Token, value: "${TOKEN}" }`. Never logged.'),
  headers: z.record(z.string().min(1), z.string()).default({}).describe('Fixed headers sent with every request (e.g. `shipbob_channel_id`).'),
  maxResponseBytes: z
    .number()
    .int()
    .min(1024)
    .max(1_073_741_824)
    .default(10_485_760)
    .describe('A larger answer fails the read unread past this many bytes. Defaults to 10485760 (10 MiB).'),
  ...sourceCommon,
  sync: syncSchema,
  stock: httpStockMappingSchema.optional(),
  cost: httpCostMappingSchema.optional(),
  items: httpItemsMappingSchema.optional(),
});

/** A source is told apart by its `kind`. */
export const sourceSchema = z.discriminatedUnion('kind', [sqlSourceSchema, csvSourceSchema, httpSourceSchema]);

/** How anomalies are written to the store, and where new ones are sent, as JSON, off the query path. */
export const anomaliesSchema = z.strictObject({
  writeQueueSize: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000)
    .describe(
      'Distinct anomalies waiting to be written to the store at most (a request only queues them; a repeat merges with the one waiting). Past it the newest are dropped, counted and logged. Defaults to 10000.',
    ),
  webhook: z
    .strictObject({
      url: z
        .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
        .describe('An http(s) URL that receives one POST per new or reopened anomaly (the event body of docs/events.md).'),
      timeoutMs: z.number().int().positive().max(120_000).default(5000).describe('Deadline for one delivery attempt. Defaults to 5000.'),
      maxAttempts: z
        .number()
        .int()
        .min(1)
        .max(50)
        .default(5)
        .describe('Attempts per anomaly, the first included, with exponential backoff between them. Defaults to 5.'),
      queueSize: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .default(1000)
        .describe('No longer used: anomalies wait in the store’s outbox (docs/events.md). Accepted so older files still load.'),
    })
    .optional()
    .describe(
      'Deprecated: the same as an events sink `anomalies-webhook` of kind webhook for anomaly.opened and anomaly.reopened, unsigned (docs/events.md). Prefer `events.sinks`.',
    ),
});

/** What every kind of events sink shares: its filter and its retry policy (src/events/publisher.ts). */
const sinkBase = {
  filter: z
    .strictObject({
      types: z
        .array(z.string().refine(isTypePattern, { message: `a type (${EVENT_TYPES.join(', ')}) or a family such as \`anomaly.*\`` }))
        .min(1)
        .optional()
        .describe('Event types, or families as `anomaly.*`. Unset: every type.'),
      channels: z.array(z.string().min(1)).min(1).optional().describe('Channels; events with no channel (anomalies, sources) pass. Unset: every channel.'),
      skuPrefixes: z.array(z.string().min(1)).min(1).optional().describe('SKU prefixes; events with no SKU pass. Unset: every SKU.'),
      crossings: z
        .array(z.enum(['OUT_OF_STOCK', 'BACK_IN_STOCK', 'LOW_STOCK', 'NONE']))
        .min(1)
        .optional()
        .describe('For availability.changed: the crossings wanted (`NONE`: a change that crossed nothing, with `availability.everyChange`). Unset: all.'),
    })
    .prefault({})
    .describe('Which events this sink receives; the filter is applied when an event is written, so a new filter applies to new events.'),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(15)
    .describe(
      'Attempts at one event, the first included, before it becomes a dead letter (`inventory-graph events list --dead`, `events replay`). With the default backoff, 15 attempts span 20 to 40 minutes. Defaults to 15.',
    ),
  baseDelayMs: z
    .number()
    .int()
    .min(1)
    .max(3_600_000)
    .default(1000)
    .describe('The delay after a first failed attempt; it doubles per attempt, with jitter. Defaults to 1000.'),
  maxDelayMs: z.number().int().min(1).max(86_400_000).default(300_000).describe('The longest delay between two attempts. Defaults to 300000 (5 minutes).'),
  batchSize: z.number().int().min(1).max(10_000).default(200).describe('Events taken from the outbox at a time for this sink. Defaults to 200.'),
};

const webhookSinkSchema = z.strictObject({
  kind: z.literal('webhook'),
  ...sinkBase,
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).describe('Receives one POST per event, signed per Standard Webhooks.'),
  secret: z
    .string()
    .min(16, 'must be at least 16 characters (a Standard Webhooks secret: `whsec_` and base64)')
    .optional()
    .describe(
      'The Standard Webhooks signing secret (`whsec_...`; from the environment: `${EVENTS_WEBHOOK_SECRET}`): every POST carries `webhook-id`, `webhook-timestamp` and `webhook-signature`. Unset: unsigned (logged at start).',
    ),
  previousSecrets: z
    .array(z.string().min(16, 'must be at least 16 characters (a Standard Webhooks secret: `whsec_` and base64)'))
    .max(5)
    .default([])
    .describe(
      'Secrets being rotated out: each POST is also signed with these (`webhook-signature` lists one `v1,` signature per secret), so a receiver still on an old secret verifies while it moves to the new one.',
    ),
  timeoutMs: z.number().int().positive().max(120_000).default(5000).describe('Deadline for one POST. Defaults to 5000.'),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('POSTs in flight at once, each for other SKUs (one SKU’s events are sent one after the other, in order). Defaults to 4.'),
});

const amqpSinkSchema = z.strictObject({
  kind: z.literal('amqp'),
  ...sinkBase,
  url: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .describe('The broker, e.g. `amqp://guest:guest@127.0.0.1:5672`.'),
  exchange: z.string().min(1).describe('The durable topic exchange events are published to (declared if missing), with routing key `<type>.<channel>`.'),
});

const natsSinkSchema = z.strictObject({
  kind: z.literal('nats'),
  ...sinkBase,
  servers: natsServers,
  stream: streamName.describe('The JetStream stream (created over `<subjectPrefix>.>` if missing).'),
  subjectPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'words of letters, digits, _ and -, separated by dots')
    .default('inventory')
    .describe('Events are published on `<subjectPrefix>.<type>.<channel>`, e.g. `inventory.availability.changed.web`. Defaults to `inventory`.'),
});

export const eventSinkSchema = z.discriminatedUnion('kind', [webhookSinkSchema, amqpSinkSchema, natsSinkSchema]);

/** Events out (src/events/, docs/events.md): what is published, and where. */
export const eventsSchema = z.strictObject({
  sinks: z
    .record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a sink name: up to 64 letters, digits, _ and -'), eventSinkSchema)
    .default({})
    .describe('Where events go, by name. No sink: no event is written (and nothing costs anything).'),
  availability: z
    .strictObject({
      lowStock: z
        .strictObject({
          default: z.number().int().min(0).default(0).describe('The LOW_STOCK threshold (available at or below it, above 0); 0: no LOW_STOCK. Defaults to 0.'),
          channels: z.record(z.string().min(1), z.number().int().min(0)).default({}).describe('Per channel, instead of the default.'),
          skus: z.record(z.string().min(1), z.number().int().min(0)).default({}).describe('Per SKU, instead of its channel’s or the default.'),
        })
        .prefault({}),
      everyChange: z
        .boolean()
        .default(false)
        .describe('Publish availability.changed on every change of a figure, not only when it crosses a threshold. Defaults to false.'),
      channels: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe('The channels figures are published for. Unset: every channel a location names, or one figure over every location when none does.'),
      batchSize: z.number().int().min(1).max(10_000).default(500).describe('Touched SKUs recomputed at a time. Defaults to 500.'),
      retrySeconds: z
        .number()
        .min(0.1)
        .max(3_600)
        .default(30)
        .describe(
          'How old a recompute mark must be before it is taken again from the store: one put off because a source could not answer, or left by a crash or another process. Defaults to 30.',
        ),
      sweepIntervalSeconds: z
        .number()
        .min(0)
        .max(604_800)
        .default(0)
        .describe(
          'How often every SKU is recomputed against the last published figure, for live sources whose changes no feed reports. 0: never. Defaults to 0 (off).',
        ),
    })
    .prefault({}),
  sourceCheckSeconds: z
    .number()
    .min(0.1)
    .max(3_600)
    .default(5)
    .describe('How often each source’s state (up, down, stale) is compared with the last published one. Defaults to 5.'),
  pollIntervalMs: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(1000)
    .describe(
      'How often each sink reads the outbox for events this process was not told about (written by another process, replayed by `events replay`), and looks again at a paused sink’s clock. Defaults to 1000.',
    ),
  keepSeconds: z
    .number()
    .int()
    .min(60)
    .max(31_536_000)
    .default(604_800)
    .describe(
      'How long a delivered event stays in the outbox (for `events list`); undelivered ones and dead letters stay until delivered or replayed. Defaults to 604800 (7 days).',
    ),
});

/**
 * Holds at checkout (src/service/reservations.ts, docs/reservations.md): how long they last, how
 * long an idempotency key is kept, how often expired holds are swept.
 */
export const reservationsSchema = z.strictObject({
  defaultTtlSeconds: z.number().int().min(1).max(2_592_000).default(900).describe('How long a hold lasts when `ttlSeconds` is not given. Defaults to 900.'),
  maxTtlSeconds: z
    .number()
    .int()
    .min(1)
    .max(2_592_000)
    .default(14_400)
    .describe('The longest `ttlSeconds` a reserve or extend may ask; more is BAD_USER_INPUT. Defaults to 14400 (4 hours).'),
  confirmedHoldSeconds: z
    .number()
    .int()
    .min(0)
    .max(2_592_000)
    .default(3_600)
    .describe(
      'How long a CONFIRMED hold keeps counting when its order never shows up in a source (`sources.X.orders`); it stops at once when it does. Defaults to 3600.',
    ),
  idempotencyWindowSeconds: z
    .number()
    .int()
    .min(60)
    .max(2_592_000)
    .default(86_400)
    .describe('How long an idempotency key is kept: within it, the same key answers the first result; after it, the key is new. Defaults to 86400 (24 hours).'),
  sweepIntervalSeconds: z
    .number()
    .min(0.1)
    .max(3_600)
    .default(5)
    .describe(
      'How often expired holds are marked EXPIRED, confirmed holds are checked against the sources’ orders, and old keys are pruned. An expired hold never counts, swept or not. Defaults to 5.',
    ),
  keepSeconds: z
    .number()
    .int()
    .min(60)
    .max(31_536_000)
    .default(2_592_000)
    .describe(
      'How long a reservation is kept after it was released, expired or confirmed (history for analysts), before the sweeper deletes it. At least `idempotencyWindowSeconds`. Defaults to 2592000 (30 days).',
    ),
  maxLines: z.number().int().min(1).max(1_000).default(100).describe('Most lines one reservation may have. Defaults to 100.'),
  strategy: z
    .enum(['PRIORITY', 'DISTANCE', 'FEWEST_SHIPMENTS'])
    .default('FEWEST_SHIPMENTS')
    .describe('How lines without a `locationId` are placed (the routing strategies of `routeOrder`). Defaults to `FEWEST_SHIPMENTS`.'),
});

/** One `skuMap.match` rule: the identifier systems are matched on, and which systems. */
export const skuMatchRuleSchema = z.strictObject({
  identifier: z
    .string()
    .min(1)
    .describe('A name under `sources.<s>.identifiers` that the catalogue and every one of `systems` map (`barcode`), or `code`: each system’s own item code.'),
  systems: z.array(z.string().min(1)).min(1).describe('The systems whose codes get aliases matched onto the catalogue’s SKUs by this identifier.'),
  compare: z
    .enum(['auto', 'text'])
    .default('auto')
    .describe(
      '`auto`: values are trimmed, and 8, 12, 13 or 14 digits are read as one GTIN (a 12-digit UPC equals its 13-digit EAN and 14-digit GTIN); `text`: trimmed text only. Defaults to `auto`.',
    ),
});

/**
 * `skuMap:` how the SKU map is derived from the systems themselves (src/service/sku-matching.ts,
 * docs/sku-matching.md), beside the hand-written aliases of `skus import`, which always win.
 */
export const skuMapSchema = z.strictObject({
  catalogue: z.string().min(1).optional().describe('The system the others are matched onto (required with `match` rules): its items are the canonical SKUs.'),
  catalogueCodes: z
    .enum(['canonical', 'mapped'])
    .default('canonical')
    .describe(
      '`canonical`: each catalogue item code is a canonical SKU (matching creates the SKU and the catalogue’s alias, unless a hand-written alias maps the code); `mapped`: catalogue codes mean the SKU the map already gives them (a code without one is left out). Defaults to `canonical`.',
    ),
  match: z
    .array(skuMatchRuleSchema)
    .default([])
    .describe('Rules in order: a system code takes the SKU of the first rule under which one of its values is in the catalogue.'),
  intervalSeconds: z
    .number()
    .int()
    .min(0)
    .max(604_800)
    .default(3600)
    .describe('How often the server matches again (in the background, and once at start); 0: at start and by `skus match` only. Defaults to 3600.'),
  batchSize: z
    .number()
    .int()
    .min(100)
    .max(100_000)
    .default(5000)
    .describe('Identifier rows read per statement, and codes written per store transaction. Defaults to 5000.'),
});

/**
 * One movement kind (src/domain/movements.ts): which way it moves the reporting system's figure
 * and which systems' differences it explains. A built-in kind keeps what is not given.
 */
export const movementKindSchema = z.strictObject({
  effect: z
    .enum(['lower', 'higher'])
    .optional()
    .describe(
      'What the movement does to the figure of the system that reports it, against a system it explains: `lower` (picked, shipped, received not put away: its on-hand is lower by the quantity) or `higher` (a count it has applied and the other has not: counted minus book). Defaults to the built-in kind’s (`higher` for `countNotPosted` and `pickedNotDelivered`, else `lower`), `lower` for a new kind.',
    ),
  explains: z
    .array(name)
    .min(1)
    .optional()
    .describe(
      'The systems (source names) whose difference with the reporting system this kind explains, e.g. `[erp]`: a shop that copies the WMS does not lag by picks. Unset: every other system.',
    ),
});

export const locationSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'use letters, digits and . _ : -'),
  name: z.string().min(1).optional(),
  codes: z
    .record(z.string(), z.union([z.string().min(1), z.number()]).transform(String))
    .describe('The code of this location in each source system: `{ wms: EAST, erp: "East DC" }`.'),
  latitude: z.number().min(-90).max(90).optional(),
  longitude: z.number().min(-180).max(180).optional(),
  priority: z.number().int().default(100).describe('Lower comes first in routing. Defaults to 100.'),
  channels: z.array(z.string().min(1)).optional().describe('Sales channels this location fulfils. Unset: every channel.'),
  sellable: z.boolean().default(true).describe('Whether stock here can be promised. Defaults to true.'),
  safetyStock: z.number().int().min(0).optional().describe('Units held back from availability at this location. Defaults to `defaults.safetyStock`.'),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1').describe('The address to listen on. Defaults to 127.0.0.1 (this host only).'),
      port: z.number().int().min(0).max(65535).default(4000).describe('The port to listen on; 0 picks a free one. Defaults to 4000.'),
      maxSkusPerQuery: z.number().int().positive().max(100_000).default(500).describe('Most SKUs one `availability` call may ask for. Defaults to 500.'),
      maxScanSkus: z
        .number()
        .int()
        .positive()
        .max(10_000_000)
        .default(10_000)
        .describe(
          'Most SKUs one filtered `inventoryItems` call or one catalogue-wide `reconciliation` page reads before it answers what it found (the client goes on from `endCursor`). Each batch of `maxSkusPerQuery` SKUs costs one statement per live source per entity. Defaults to 10000; with mirrored sources it is a scan of memory and may be raised.',
        ),
      explorer: z.boolean().default(true).describe('Serve the offline explorer at GET /graphql from a browser. Defaults to true.'),
      shutdownGraceMs: z
        .number()
        .int()
        .min(0)
        .max(600_000)
        .default(10_000)
        .describe('On SIGTERM, how long requests in flight may take to finish before they are cut, in ms. Defaults to 10000.'),
      drainIdleMs: z
        .number()
        .int()
        .min(0)
        .max(600_000)
        .default(1_000)
        .describe(
          'On SIGTERM, how long idle keep-alive connections stay open so that a request already on its way is answered (with `connection: close`) rather than lost; then they are closed gracefully. At most `shutdownGraceMs`. Defaults to 1000.',
        ),
      keepAliveTimeoutMs: z
        .number()
        .int()
        .min(1)
        .max(3_600_000)
        .default(5_000)
        .describe(
          "How long a keep-alive connection may wait idle for its next request, in ms; advertised as `Keep-Alive: timeout=N`. Behind a load balancer that reuses connections, set it above the balancer's idle timeout. Defaults to 5000 (Node's own).",
        ),
      headersTimeoutMs: z
        .number()
        .int()
        .min(1)
        .max(600_000)
        .default(10_000)
        .describe("Time for a request's headers to arrive (a silent or slowloris connection gets 408 and is closed), in ms. Defaults to 10000."),
      requestTimeoutMs: z
        .number()
        .int()
        .min(1)
        .max(3_600_000)
        .default(30_000)
        .describe(
          'Time for a whole request, headers and body, to arrive (a body dribbled gets 408), in ms; it does not limit how long the answer takes. At least `headersTimeoutMs`. Defaults to 30000.',
        ),
      maxConnections: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .default(1_000)
        .describe('Most open client connections per process; one more is closed at once. Defaults to 1000.'),
      executor: z
        .enum(['jit', 'graphql-js'])
        .default('jit')
        .describe(
          "`jit`: operations are compiled once by graphql-jit and kept in a bounded cache; `graphql-js`: Apollo's own executor, a switch back without a release (`executor: ${INVENTORY_GRAPH_EXECUTOR:-jit}` lets the environment choose). Defaults to `jit`.",
        ),
      fastPath: onOff
        .prefault(true)
        .describe(
          "Trusted documents called by id are answered without Apollo's request pipeline, with the same answer. Applies with the `jit` executor and `cacheControl` off only. Defaults to true.",
        ),
      cacheControl: onOff
        .prefault(false)
        .describe(
          "Apollo's cache-control plugin, which runs a hook on every resolved field to compute `Cache-Control` from `@cacheControl` hints. No type has hints (every answer is live), so it is off by default; on, the fast path is off. Defaults to false.",
        ),
      loopbackStatus: onOff
        .prefault(false)
        .describe(
          '/status, /status.json and /metrics answer a request from this host itself without a key (loopback peer, loopback `Host`, no proxy header). Off, they need an analyst or admin key: behind a proxy on the same host every request looks local. Defaults to false.',
        ),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z
        .enum(['debug', 'info', 'warn', 'error', 'silent'])
        .optional()
        .describe(
          'The least severe log line written (JSON, to stderr). Unset: `info` for `start`, `warn` for `reconcile`; `level: ${LOG_LEVEL:-info}` lets the environment choose.',
        ),
    })
    .prefault({}),
  store: z.strictObject({
    client: clientName,
    connection: z.string().min(1),
  }),
  sources: z.record(name, sourceSchema).refine((s) => Object.keys(s).length > 0, 'at least one source is required'),
  locations: z.array(locationSchema).min(1),
  movementKinds: z
    .record(name, movementKindSchema)
    .default({})
    .describe(
      'Movement kinds by name, beside the built-in `pickedNotInvoiced`, `inTransit`, `receivedNotPutAway`, `countNotPosted` and `pickedNotDelivered` (a built-in name overrides that kind): `{ pick: { effect: lower, explains: [erp] } }` (docs/movements.md).',
    ),
  precedence: z.strictObject({
    quantity: z.array(z.string()).min(1),
    cost: z.array(z.string()).default([]),
    name: z.array(z.string()).default([]),
  }),
  auth: z
    .strictObject({
      keys: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[\w.:-]{1,64}$/, 'use up to 64 letters, digits and _ . : -'),
            role: z.enum(['storefront', 'oms', 'analyst', 'admin']),
            hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits> (inventory-graph keys create prints it)'),
          }),
        )
        .default([])
        .describe('API keys, as `inventory-graph keys create` prints them.'),
      open: z.boolean().default(false).describe('No key needed, every request is admin: local development only. Defaults to false.'),
    })
    .prefault({}),
  limits: z
    .strictObject({ default: roleLimits, storefront: roleLimits, oms: roleLimits, analyst: roleLimits, admin: roleLimits })
    .prefault({})
    .describe('Operation limits: `default` for every role, then per-role overrides (src/server/limits.ts).'),
  routing: z
    .strictObject({
      maxLines: z.number().int().positive().max(10_000).default(100).describe('Most lines one routeOrder may have. Defaults to 100.'),
      useStaleStock: z.boolean().default(false).describe('Whether stock flagged STALE may be promised to an order. Defaults to false.'),
      exhaustiveLimit: z
        .number()
        .int()
        .positive()
        .max(10_000_000)
        .default(20_000)
        .describe('Most location sets FEWEST_SHIPMENTS tries before turning greedy. Defaults to 20000.'),
    })
    .prefault({}),
  anomalies: anomaliesSchema.prefault({}),
  costs: z
    .strictObject({
      tolerancePercent: z
        .union([z.string(), z.number()])
        .transform(String)
        .refine((v) => /^\d+(\.\d+)?$/.test(v), 'must be a plain decimal of 0 or more, such as 1 or 0.5')
        .default('0')
        .describe(
          'How far, in percent of the reference cost (the one `precedence.cost` picks), another source’s unit cost may be before it is a COST_MISMATCH; exact decimal arithmetic. Defaults to 0 (any difference).',
        ),
    })
    .prefault({})
    .describe('Unit costs compared across the sources that map `cost` (`InventoryItem.costComparison`, docs/api.md).'),
  telemetry: z
    .strictObject({
      tracing: z
        .strictObject({
          enabled: z
            .boolean()
            .default(false)
            .describe('Record OpenTelemetry spans and export them over OTLP. Off: no span is made (no cost). Defaults to false.'),
          endpoint: z
            .string()
            .url()
            .default('http://127.0.0.1:4318/v1/traces')
            .describe('The OTLP/HTTP traces endpoint of the collector. Defaults to http://127.0.0.1:4318/v1/traces.'),
          headers: z
            .record(z.string(), z.string())
            .default({})
            .describe('Headers sent with every export (an API key of the collector, from `${VAR}`). Never logged.'),
          serviceName: z.string().min(1).default('inventory-graph').describe('`service.name` of the spans. Defaults to inventory-graph.'),
          sampleRatio: z
            .number()
            .min(0)
            .max(1)
            .default(1)
            .describe(
              'The share of traces recorded when the caller sent no sampling decision (`traceparent`); a parent’s decision is followed. Defaults to 1.',
            ),
        })
        .prefault({})
        .describe('Traces: the HTTP request, the operation, each source read, each mirror feed batch and each event delivery (docs/observability.md).'),
    })
    .prefault({})
    .describe('OpenTelemetry (docs/observability.md).'),
  cluster: z
    .strictObject({
      redis: z
        .string()
        .optional()
        .describe(
          'A Redis URL (`redis://127.0.0.1:6379/0`) shared by every instance: rate budgets per key and circuit-breaker trips are shared through it (leases are in the store, with Redis or without). Unset: each instance keeps its own (one instance). Redis down: each instance falls back to its own limits and says so on /status.',
        ),
      keyPrefix: z.string().min(1).default('inventory-graph:').describe('Prefix of every Redis key this deployment writes. Defaults to `inventory-graph:`.'),
      instanceId: z.string().min(1).optional().describe('This instance’s name on /status, in leases and in logs. Defaults to host name and process id.'),
      leaseSeconds: z
        .number()
        .int()
        .min(2)
        .max(3600)
        .default(15)
        .describe(
          'How long a lease (the one events publisher, the one sweep, the one SKU matcher at a time) is held without renewal before another instance takes it over. Defaults to 15.',
        ),
    })
    .prefault({})
    .describe('Several instances as one: what they share (docs/scaling.md).'),
  events: eventsSchema
    .prefault({})
    .describe('Events out: availability crossings, anomalies, reservations, sources, to webhooks, RabbitMQ and NATS (docs/events.md).'),
  reservations: reservationsSchema.prefault({}).describe('Holds at checkout: TTLs, idempotency window, sweeper (docs/reservations.md).'),
  sweep: z
    .strictObject({
      intervalSeconds: z
        .number()
        .int()
        .min(0)
        .max(604_800)
        .default(900)
        .describe(
          'How often the sweep reads the whole catalogue, every stock source’s codes and freshness, to record every negative on-hand, orphan code and stale source as an anomaly and resolve the ones that cleared (docs/anomalies.md). The first one starts `startAfterSeconds` after start. 0: only by `inventory-graph sweep`. Defaults to 900.',
        ),
      startAfterSeconds: z.number().int().min(0).max(86_400).default(10).describe('How long after start the first sweep begins. Defaults to 10.'),
      pauseMs: z
        .number()
        .int()
        .min(0)
        .max(60_000)
        .default(0)
        .describe('A pause between two batches of SKUs, in ms, to spread the load on live sources. Defaults to 0.'),
    })
    .prefault({})
    .describe('The sweep: anomalies found across the whole catalogue without anyone asking, and resolved when they clear (docs/anomalies.md).'),
  reconcile: z
    .strictObject({
      keepRuns: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(10)
        .describe(
          'The findings (lines that were not MATCH) of this many most recent `inventory-graph reconcile` runs are kept in the store, queryable as `ReconciliationRun.findings`; older runs keep their counts only. Defaults to 10.',
        ),
    })
    .prefault({})
    .describe('The reconcile job (`inventory-graph reconcile`, docs/reconciliation.md).'),
  skuMap: skuMapSchema
    .prefault({})
    .describe('SKU aliases derived by matching shared identifiers (barcode, GTIN, supplier part number) across systems (docs/sku-matching.md).'),
  defaults: z
    .strictObject({
      safetyStock: z.number().int().min(0).default(0),
    })
    .prefault({}),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type SqlSourceConfig = z.output<typeof sqlSourceSchema>;
export type CsvSourceConfig = z.output<typeof csvSourceSchema>;
export type HttpSourceConfig = z.output<typeof httpSourceSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type MovementMapping = z.output<typeof movementMappingSchema>;
export type MovementKindConfig = z.output<typeof movementKindSchema>;
export type OrdersMapping = z.output<typeof ordersMappingSchema>;
export type IdentifierMapping = z.output<typeof identifierMappingSchema>;
export type SkuMapConfig = z.output<typeof skuMapSchema>;
export type ReservationsConfig = z.output<typeof reservationsSchema>;
export type AnomaliesConfig = z.output<typeof anomaliesSchema>;
export type EventsConfig = z.output<typeof eventsSchema>;
export type EventSinkConfig = z.output<typeof eventSinkSchema>;
export type StockMapping = z.output<typeof stockMappingSchema>;
export type CostMapping = z.output<typeof costMappingSchema>;
export type ItemsMapping = z.output<typeof itemsMappingSchema>;
export type LocationConfig = z.output<typeof locationSchema>;
export type SyncConfig = z.output<typeof syncSchema>;
export type FeedConfig = z.output<typeof feedSchema>;
