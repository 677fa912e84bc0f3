/**
 * The shape of `inventory-graph.yaml`, as zod schemas. This file is the single place where
 * a key, its type and its default are defined; the README's config reference mirrors it.
 * Cross-field rules (a precedence list naming a source that does not exist, ...) live in
 * `validate.ts`, so that every problem of a file is reported in one go.
 */
import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must start with a letter and use only letters, digits, _ and -');
const clientName = z.enum(['better-sqlite3', 'mysql2']);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

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

export const stockMappingSchema = z
  .strictObject({
    ...mappingBase,
    columns: z
      .strictObject({ sku: column, location: column, onHand: column, committed: column.optional(), asOf: column.optional() })
      .optional(),
  })
  .superRefine(checkMapping);

export const costMappingSchema = z
  .strictObject({
    ...mappingBase,
    columns: z.strictObject({ sku: column, unitCost: column, currency: column.optional() }).optional(),
    /** The currency of every cost when no `currency` column is mapped. */
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD').optional(),
  })
  .superRefine(checkMapping);

export const itemsMappingSchema = z
  .strictObject({ ...mappingBase, columns: z.strictObject({ sku: column, name: column }).optional() })
  .superRefine(checkMapping);

export const sqlSourceSchema = z.strictObject({
  kind: z.literal('sql'),
  client: clientName,
  /** A file path for better-sqlite3 (relative to the config file), a mysql:// URL for mysql2. */
  connection: z.string().min(1),
  /** Deadline for one statement. Defaults to 2000. */
  timeoutMs: z.number().int().positive().max(600_000).default(2000),
  /** A record older than this is flagged STALE. Unset: never stale. */
  maxAgeSeconds: z.number().int().positive().optional(),
  /** Whether STALE stock still counts toward availability. Defaults to `count`. */
  stalePolicy: z.enum(['count', 'exclude']).default('count'),
  /** `mapped`: codes come from the SKU map; `canonical`: this system uses the canonical SKU itself. */
  skuCodes: z.enum(['mapped', 'canonical']).default('mapped'),
  /** Connection pool size. Defaults to 4 (1 for better-sqlite3, which is synchronous). */
  pool: z.number().int().positive().max(100).optional(),
  stock: stockMappingSchema.optional(),
  cost: costMappingSchema.optional(),
  items: itemsMappingSchema.optional(),
});

export const locationSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'use letters, digits and . _ : -'),
  name: z.string().min(1).optional(),
  /** The code of this location in each source system: `{ wms: EAST, erp: "East DC" }`. */
  codes: z.record(z.string(), z.union([z.string().min(1), z.number()]).transform(String)),
  latitude: z.number().min(-90).max(90).optional(),
  longitude: z.number().min(-180).max(180).optional(),
  /** Lower comes first in routing. Defaults to 100. */
  priority: z.number().int().default(100),
  /** Sales channels this location fulfils. Unset: every channel. */
  channels: z.array(z.string().min(1)).optional(),
  /** Whether stock here can be promised. Defaults to true. */
  sellable: z.boolean().default(true),
  /** Units held back from availability at this location. Defaults to `defaults.safetyStock`. */
  safetyStock: z.number().int().min(0).optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(4000),
      /** Most SKUs one `availability` call may ask for. Defaults to 500. */
      maxSkusPerQuery: z.number().int().positive().max(100_000).default(500),
      /** Serve the offline explorer at GET /graphql from a browser. Defaults to true. */
      explorer: z.boolean().default(true),
    })
    .prefault({}),
  store: z.strictObject({
    client: clientName,
    connection: z.string().min(1),
  }),
  sources: z.record(name, sqlSourceSchema).refine((s) => Object.keys(s).length > 0, 'at least one source is required'),
  locations: z.array(locationSchema).min(1),
  precedence: z.strictObject({
    quantity: z.array(z.string()).min(1),
    cost: z.array(z.string()).default([]),
    name: z.array(z.string()).default([]),
  }),
  routing: z
    .strictObject({
      /** Most lines one routeOrder may have. Defaults to 100. */
      maxLines: z.number().int().positive().max(10_000).default(100),
      /** Whether stock flagged STALE may be promised to an order. Defaults to false. */
      useStaleStock: z.boolean().default(false),
      /** Most location sets FEWEST_SHIPMENTS tries before turning greedy. Defaults to 20000. */
      exhaustiveLimit: z.number().int().positive().max(10_000_000).default(20_000),
    })
    .prefault({}),
  defaults: z
    .strictObject({
      safetyStock: z.number().int().min(0).default(0),
    })
    .prefault({}),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type SqlSourceConfig = z.output<typeof sqlSourceSchema>;
export type StockMapping = z.output<typeof stockMappingSchema>;
export type CostMapping = z.output<typeof costMappingSchema>;
export type ItemsMapping = z.output<typeof itemsMappingSchema>;
export type LocationConfig = z.output<typeof locationSchema>;
