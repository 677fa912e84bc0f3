/**
 * SQLite connections keep their prepared statements (src/db/knex.ts): the same text reuses the
 * compiled statement, the bound is kept, and answers stay right across bindings and schema
 * changes. Counts and identities only; what it saves is measured by `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { Knex } from 'knex';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKnex } from '../../src/db/knex.js';

let dir: string;
let db: Knex;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-stmt-'));
  db = createKnex({ client: 'better-sqlite3', connection: join(dir, 'x.sqlite'), statementCache: 2 });
  await db.schema.createTable('stock', (t) => {
    t.string('sku');
    t.integer('qty');
  });
  await db('stock').insert([
    { sku: 'A', qty: 1 },
    { sku: 'B', qty: 2 },
    { sku: 'C', qty: 3 },
  ]);
});
afterEach(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function connection(): Promise<Database> {
  const conn = (await db.client.acquireConnection()) as Database;
  await db.client.releaseConnection(conn);
  return conn;
}

describe('prepared statements per SQLite connection', () => {
  it('reuses the statement of the same text, with each call its own bindings', async () => {
    const conn = await connection();
    expect(conn.prepare('select qty from stock where sku = ?')).toBe(conn.prepare('select qty from stock where sku = ?'));
    expect(await db('stock').where({ sku: 'A' }).select('qty')).toEqual([{ qty: 1 }]);
    expect(await db('stock').where({ sku: 'B' }).select('qty')).toEqual([{ qty: 2 }]);
    expect(await db('stock').whereIn('sku', ['A', 'C']).orderBy('sku').select('qty')).toEqual([{ qty: 1 }, { qty: 3 }]);
  });

  it('keeps at most statementCache of them, the least recently used going first', async () => {
    const conn = await connection();
    const one = conn.prepare('select 1');
    const two = conn.prepare('select 2');
    expect(conn.prepare('select 1')).toBe(one);
    conn.prepare('select 3'); // "select 2" was the least recently used: it goes
    expect(conn.prepare('select 1')).toBe(one);
    const twoAgain = conn.prepare('select 2');
    expect(twoAgain).not.toBe(two);
    expect(twoAgain.get()).toEqual({ 2: 2 });
  });

  it('answers from the current schema after it changes under a kept statement', async () => {
    expect(await db('stock').where({ sku: 'A' }).select('*')).toEqual([{ sku: 'A', qty: 1 }]);
    await db.schema.alterTable('stock', (t) => t.string('bin').defaultTo('R1'));
    expect(await db('stock').where({ sku: 'A' }).select('*')).toEqual([{ sku: 'A', qty: 1, bin: 'R1' }]);
  });
});
