/**
 * A request's source reads (src/sources/loaders.ts) on a real SQLite source: the codes asked of
 * a (source, entity) in one tick become one statement, a code asked again in the same request
 * costs none (its answer, or its batch's failure, is reused), and a new reader (a new request)
 * asks again. Counted by the connector's statement meter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlSourceSchema } from '../../src/config/schema.js';
import { createKnex } from '../../src/db/knex.js';
import { countingMeter, type Connector } from '../../src/sources/connector.js';
import { createSourceReader } from '../../src/sources/loaders.js';
import { createSqlConnector } from '../../src/sources/sql.js';

let dir: string;
let connectors: Map<string, Connector>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-reader-'));
  const file = join(dir, 'wms.sqlite');
  const db = createKnex({ client: 'better-sqlite3', connection: file });
  await db.schema.createTable('bins', (t) => {
    t.string('item_code');
    t.string('wh');
    t.integer('qty');
  });
  await db('bins').insert([
    { item_code: 'A', wh: 'EAST', qty: 1 },
    { item_code: 'A', wh: 'WEST', qty: 2 },
    { item_code: 'B', wh: 'EAST', qty: 3 },
    { item_code: 'C', wh: 'EAST', qty: 4 },
  ]);
  await db.destroy();
  const source = (stock: object) => sqlSourceSchema.parse({ kind: 'sql', client: 'better-sqlite3', connection: file, stock });
  connectors = new Map([
    ['wms', createSqlConnector('wms', source({ table: 'bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } }))],
    // its table does not exist: every read fails
    ['broken', createSqlConnector('broken', source({ table: 'no_such_table', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } }))],
  ]);
});

afterAll(async () => {
  await Promise.all([...connectors.values()].map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

const codesOf = (m: ReadonlyMap<string, readonly { code: string; location: string }[]>, code: string) =>
  m
    .get(code)
    ?.map((r) => `${r.code}@${r.location}`)
    .sort();

describe('a request’s source reads', () => {
  it('batch the codes asked in one tick into one statement, and give each caller its codes’ records', async () => {
    const statements = new Map<string, number>();
    const reader = createSourceReader(connectors, countingMeter(statements));
    const [ab, bc] = await Promise.all([reader.read('wms', 'stock', ['A', 'B']), reader.read('wms', 'stock', ['B', 'C', 'Z'])]);
    expect(statements).toEqual(new Map([['wms/stock', 1]]));
    expect(codesOf(ab, 'A')).toEqual(['A@EAST', 'A@WEST']);
    expect(codesOf(ab, 'B')).toEqual(['B@EAST']);
    expect(codesOf(bc, 'C')).toEqual(['C@EAST']);
    // a code the source does not have: no records
    expect(bc.get('Z')).toBeUndefined();
  });

  it('ask a code once per request: again later costs nothing, new codes cost one statement', async () => {
    const statements = new Map<string, number>();
    const reader = createSourceReader(connectors, countingMeter(statements));
    await reader.read('wms', 'stock', ['A', 'Z']);
    const again = await reader.read('wms', 'stock', ['A', 'Z']);
    expect(codesOf(again, 'A')).toEqual(['A@EAST', 'A@WEST']);
    expect(statements.get('wms/stock')).toBe(1);
    const more = await reader.read('wms', 'stock', ['A', 'C']);
    expect(codesOf(more, 'C')).toEqual(['C@EAST']);
    expect(statements.get('wms/stock')).toBe(2);
    // a new request asks again
    await createSourceReader(connectors, countingMeter(statements)).read('wms', 'stock', ['A']);
    expect(statements.get('wms/stock')).toBe(3);
  });

  it('fail every caller of a failed batch with the source’s error, and do not ask the failing source again in the request', async () => {
    const statements = new Map<string, number>();
    const reader = createSourceReader(connectors, countingMeter(statements));
    const both = await Promise.allSettled([reader.read('broken', 'stock', ['A']), reader.read('broken', 'stock', ['B'])]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const [first, second] = both as PromiseRejectedResult[];
    expect(first!.reason).toBeInstanceOf(Error);
    expect(second!.reason).toBe(first!.reason);
    await expect(reader.read('broken', 'stock', ['A', 'B'])).rejects.toBe(first!.reason);
    expect(statements).toEqual(new Map([['broken/stock', 1]]));
  });
});
