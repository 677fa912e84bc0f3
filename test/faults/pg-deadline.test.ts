/**
 * A PostgreSQL source's statement that runs past its deadline is cancelled in the database
 * (pg_cancel_backend from a separate connection, as knex does for `timeout(..., { cancel })`),
 * not merely abandoned, and its pooled connection serves the next read. The stock mapping
 * sleeps for as long as a control table says, so the test makes it slow at will.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlSourceSchema } from '../../src/config/schema.js';
import { createSqlConnector } from '../../src/sources/sql.js';
import { createPostgresDatabase, type TestDatabase } from '../helpers/databases.js';

let t: TestDatabase;

const SLEEPY = `select b.item_code as sku, b.wh as location, b.qty as "onHand", 0 as committed, null::timestamp as "asOf"
  from bins b cross join (select pg_sleep((select seconds from fault_control))) z`;

/** The source's statements running on the server now, seen from the helper's own session. */
async function running(): Promise<number> {
  const r = (await t.db.raw(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'active' and query like '%fault_control%' and pid <> pg_backend_pid()",
  )) as {
    rows: { n: number }[];
  };
  return r.rows[0]!.n;
}

async function eventuallyNone(withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while ((await running()) > 0) {
    if (Date.now() > until) throw new Error(`the statement still runs after ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  t = await createPostgresDatabase();
  await t.exec('create table bins (item_code varchar(64) not null, wh varchar(32) not null, qty integer not null)');
  await t.exec('create table fault_control (seconds double precision not null)');
  await t.db('bins').insert([{ item_code: 'A-1', wh: 'EAST', qty: 3 }]);
  await t.db('fault_control').insert({ seconds: 0 });
});

afterAll(async () => {
  await t?.cleanup();
});

describe('a pg statement past its deadline', () => {
  it('is cancelled in the database, and its connection reads again', async () => {
    const c = createSqlConnector(
      'odoo',
      sqlSourceSchema.parse({ kind: 'sql', client: 'pg', connection: t.connection, timeoutMs: 300, pool: 1, stock: { query: SLEEPY } }),
    );
    try {
      await t.db('fault_control').update({ seconds: 10 });
      await expect(c.fetch('stock', ['A-1'])).rejects.toThrow(/timeout/i);
      // without the cancel it would sleep 10 s more
      await eventuallyNone(3_000);
      expect(c.poolStats!()).toMatchObject({ used: 0, pendingAcquires: 0 });

      await t.db('fault_control').update({ seconds: 0 });
      const records = await c.fetch('stock', ['A-1']);
      expect(records.map(({ code, location, onHand }) => ({ code, location, onHand }))).toEqual([{ code: 'A-1', location: 'EAST', onHand: 3 }]);
    } finally {
      await c.close();
    }
  });
});
