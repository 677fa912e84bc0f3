/**
 * The same demo written into MariaDB (four databases, mysql2): the gateway must give exactly
 * the answers it gives over the SQLite files generated from the same seed and instant.
 * MariaDB at 127.0.0.1:3306 is required: when it is unreachable this file fails.
 */
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlConnection } from '../../src/db/knex.js';
import { MARIADB_URL, startDemoApp, statements, type DemoApp } from '../helpers/demo-app.js';

const prefix = `ig_test_e2e_${process.pid}_${Date.now().toString(36)}`;
const Q = `query A($skus: [ID!]!) { availability(skus: $skus) {
  sku available onHand committed safetyStock flags
  byLocation { location { id } onHand committed available counted flags provenance { source stale fallback rule } }
} }`;
const skus = Array.from({ length: 300 }, (_, i) => `SKU-${String(i + 1).padStart(6, '0')}`);

let maria: DemoApp;
let lite: DemoApp;

beforeAll(async () => {
  [maria, lite] = await Promise.all([startDemoApp({ skus: 300, mysql: { prefix } }), startDemoApp({ skus: 300 })]);
});

afterAll(async () => {
  await Promise.all([maria?.close(), lite?.close()]);
  const db = knexFactory({ client: 'mysql2', connection: mysqlConnection(MARIADB_URL) });
  try {
    for (const s of ['erp', 'wms', 'shop', 'tpl']) await db.raw(`drop database if exists ??`, [`${prefix}_${s}`]);
  } finally {
    await db.destroy();
  }
});

describe('MariaDB sources', () => {
  it('give the same availability as the SQLite sources, SKU by SKU', async () => {
    const [m, l] = await Promise.all([maria.gql<{ availability: unknown[] }>(Q, { skus }), lite.gql<{ availability: unknown[] }>(Q, { skus })]);
    expect(m.body.errors).toBeUndefined();
    expect(m.body.data!.availability).toHaveLength(300);
    expect(m.body.data).toEqual(l.body.data);
  });

  it('give the same items, names and exact costs', async () => {
    const q = '{ inventoryItems(first: 120) { nodes { sku name unitCost { amount currency source } } } }';
    const [m, l] = await Promise.all([maria.gql(q), lite.gql(q)]);
    expect(m.body.errors).toBeUndefined();
    expect(m.body.data).toEqual(l.body.data);
  });

  it('cost one statement per source per entity for 300 SKUs', async () => {
    const r = await maria.gql(Q, { skus });
    const counts = statements(r.headers);
    expect([...counts.keys()].sort()).toEqual(['erp/stock', 'tpl/stock', 'wms/stock']);
    for (const n of counts.values()) expect(n).toBe(1);
  });

  it('treat an injection string as an unknown SKU', async () => {
    const r = await maria.gql<{ availability: Array<{ flags: string[] }> }>(Q, { skus: ["x' OR 1=1 --", 'SKU-000001"; DROP TABLE bin_stock; --'] });
    expect(r.body.data!.availability.map((a) => a.flags)).toEqual([['UNKNOWN_SKU'], ['UNKNOWN_SKU']]);
    const again = await maria.gql<{ availability: Array<{ byLocation: unknown[] }> }>(Q, { skus: ['SKU-000001'] });
    expect(again.body.data!.availability[0]!.byLocation.length).toBeGreaterThan(0);
  });
});
