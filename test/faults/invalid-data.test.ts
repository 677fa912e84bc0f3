/**
 * Garbage from a source (MariaDB demo): a quantity that is not a number, an absurd one, a
 * negative committed, an asOf in the future, a cost that is not a decimal. Each bad record
 * costs exactly its own (sku, location): it is dropped, precedence falls back to the next
 * source with the INVALID_SOURCE_DATA flag, the response carries one INVALID_SOURCE_DATA error
 * per source, an anomaly is recorded once, and everything else is answered as before. The
 * source itself stays UP: bad data is not an outage.
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKnex, client, dropDemoDatabases, startFaultDemo, unhandledRejections, wmsHealth, type Answer, type Client, type Level } from './fault-helpers.js';

const prefix = `ig_test_faults_data_${process.pid}_${Date.now().toString(36)}`;
const WMS_DB = `${prefix}_wms`;
const ERP_DB = `${prefix}_erp`;
const Q = `query A($skus: [ID!]!) { availability(skus: $skus) {
  sku available flags
  byLocation { location { id } onHand committed available counted flags provenance { source stale fallback rule } }
} }`;
// one SKU per kind of garbage, and one left alone
const BAD = { text: 'SKU-000003', absurd: 'SKU-000004', future: 'SKU-000005', negativeCommitted: 'SKU-000006' } as const;
const GOOD = 'SKU-000007';
const COST = 'SKU-000008';
const SKUS = [...Object.values(BAD), GOOD];

let demo: Awaited<ReturnType<typeof startFaultDemo>>;
let c: Client;
let admin: Knex;
let before: Map<string, Answer>;
/** The WMS bin changed for each bad SKU: its warehouse code, and the canonical location it maps to. */
const spoiled = new Map<string, string>();
const unhandled = unhandledRejections();

const LOCATION_OF: Record<string, string> = { EAST: 'DC-EAST', CENTRAL: 'DC-CENTRAL' };

async function wmsCode(sku: string): Promise<string> {
  const found = await demo.app.store.skus.findMany([sku]);
  return found.get(sku)!.aliases.find((a) => a.system === 'wms')!.code;
}

/** Spoils one bin of `sku` in the WMS with `set` and returns the canonical location it is at. */
async function spoil(sku: string, set: Record<string, unknown>): Promise<string> {
  const code = await wmsCode(sku);
  const [rows] = (await admin.raw('select bin_id, wh from ??.bin_stock where item_code = ? order by bin_id limit 1', [WMS_DB, code])) as [
    Array<{ bin_id: string; wh: string }>,
  ];
  const bin = rows[0]!;
  await admin.raw('update ??.bin_stock set ? where bin_id = ? and item_code = ?', [
    WMS_DB,
    admin.raw(
      Object.keys(set)
        .map(() => '?? = ?')
        .join(', '),
      Object.entries(set).flat() as Knex.RawBinding[],
    ),
    bin.bin_id,
    code,
  ]);
  const location = LOCATION_OF[bin.wh]!;
  spoiled.set(sku, location);
  return location;
}

beforeAll(async () => {
  admin = adminKnex();
  demo = await startFaultDemo({
    prefix,
    // this WMS also reports picked-not-shipped units as committed, so a negative one can be read
    editConfig: (y) =>
      y.replace(
        'columns: { sku: item_code, location: wh, onHand: qty, asOf: updated_at }',
        'columns: { sku: item_code, location: wh, onHand: qty, committed: picked_qty, asOf: updated_at }',
      ),
    // a legacy WMS that keeps quantities as text, and an ERP whose costs are text too
    beforeStart: async () => {
      await admin.raw('alter table ??.bin_stock modify qty varchar(24)', [WMS_DB]);
      await admin.raw('alter table ??.item_cost modify std_cost varchar(24)', [ERP_DB]);
    },
  });
  c = client(demo.app, demo.url, demo.keys.admin!);
  const r = await c.gql<{ availability: Answer[] }>(Q, { skus: SKUS });
  expect(r.body.errors).toBeUndefined();
  before = new Map(r.body.data!.availability.map((a) => [a.sku, a]));

  await spoil(BAD.text, { qty: 'abc' });
  await spoil(BAD.absurd, { qty: '2000000000' });
  await spoil(BAD.future, { updated_at: new Date(Date.now() + 86_400_000).toISOString().slice(0, 19).replace('T', ' ') });
  await spoil(BAD.negativeCommitted, { picked_qty: -5 });
  const erpCode = (await demo.app.store.skus.findMany([COST])).get(COST)!.aliases.find((a) => a.system === 'erp')!.code;
  await admin.raw('update ??.item_cost set std_cost = ? where item_no = ?', [ERP_DB, 'n/a', erpCode]);
});

afterAll(async () => {
  unhandled.stop();
  await demo?.close();
  await dropDemoDatabases(prefix);
  await admin?.destroy();
});

describe('invalid records from a source', () => {
  it('are dropped for their (sku, location) only: fallback, flag, one error per source, HTTP 200', async () => {
    const r = await c.gql<{ availability: Answer[] }>(Q, { skus: SKUS });
    expect(r.status).toBe(200);
    const answers = new Map(r.body.data!.availability.map((a) => [a.sku, a]));

    for (const [sku, location] of spoiled) {
      const a = answers.get(sku)!;
      const level = a.byLocation.find((l) => l.location.id === location)!;
      expect(level.flags, `${sku} at ${location}`).toContain('INVALID_SOURCE_DATA');
      expect(level.provenance.source).not.toBe('wms');
      expect(level.provenance.rule).toMatch(/wms: invalid data/);
      if (level.provenance.source === 'erp') expect(level.flags).toContain('FALLBACK');
      expect(a.flags).toContain('INVALID_SOURCE_DATA');
      // every other location of that SKU is exactly as before
      for (const l of before.get(sku)!.byLocation)
        if (l.location.id !== location) expect(a.byLocation.find((x: Level) => x.location.id === l.location.id)).toEqual(l);
    }
    expect(answers.get(GOOD)).toEqual(before.get(GOOD));

    expect(r.body.errors).toHaveLength(1);
    const err = r.body.errors![0]!;
    expect(err.message).toBe('Source "wms" sent 4 invalid records; they were dropped and recorded as anomalies (INVALID_SOURCE_DATA).');
    expect(err.extensions).toMatchObject({ code: 'INVALID_SOURCE_DATA', source: 'wms', count: 4 });
    const reasons = new Map((err.extensions!.records as Array<{ sku: string; location: string; reason: string }>).map((x) => [x.sku, x]));
    expect(reasons.get(BAD.text)).toMatchObject({ location: spoiled.get(BAD.text), reason: expect.stringMatching(/quantity is not a number in 1 row/) });
    expect(reasons.get(BAD.absurd)?.reason).toMatch(/onHand \d+ is beyond/);
    expect(reasons.get(BAD.future)?.reason).toMatch(/asOf .* is in the future/);
    expect(reasons.get(BAD.negativeCommitted)?.reason).toMatch(/committed -\d+ is outside/);
    expect(r.text).not.toMatch(/select |bin_stock/i);
  });

  it('records one INVALID_SOURCE_DATA anomaly per (sku, location, source), however often it is read', async () => {
    await c.gql(Q, { skus: SKUS });
    await c.app.store.anomalies.flush();
    const r = await c.gql<{ anomalies: { nodes: Array<{ kind: string; sku: string; location: { id: string }; source: string; detail: string }> } }>(
      '{ anomalies(filter: { statuses: [OPEN], kinds: [INVALID_SOURCE_DATA] }, first: 500) { nodes { kind sku location { id } source detail } } }',
    );
    const invalid = r.body.data!.anomalies.nodes;
    expect(
      invalid
        .filter((a) => a.source === 'wms')
        .map((a) => `${a.sku}@${a.location.id}`)
        .sort(),
    ).toEqual([...spoiled].map(([s, l]) => `${s}@${l}`).sort());
    expect(invalid.find((a) => a.sku === BAD.text)!.detail).toMatch(
      /^wms sent an invalid stock record for SKU-000003 at DC-\w+ \(its code ".+" at "\w+"\): quantity is not a number/,
    );
  });

  it('a cost that is not a decimal: no cost (the ERP is the only cost source), an error naming the ERP, an anomaly', async () => {
    const r = await c.gql<{ inventoryItem: { unitCost: unknown } }>(`{ inventoryItem(sku: "${COST}") { sku unitCost { amount currency source } } }`);
    expect(r.status).toBe(200);
    expect(r.body.data!.inventoryItem.unitCost).toBeNull();
    expect(r.body.errors).toEqual([
      expect.objectContaining({
        extensions: {
          code: 'INVALID_SOURCE_DATA',
          source: 'erp',
          count: 1,
          records: [{ sku: COST, location: null, reason: 'unit cost is not a decimal: "n/a"' }],
        },
      }),
    ]);
    const other = await c.gql<{ inventoryItem: { unitCost: { amount: string } } }>(
      '{ inventoryItem(sku: "SKU-000009") { unitCost { amount currency source } } }',
    );
    expect(other.body.errors).toBeUndefined();
    expect(other.body.data!.inventoryItem.unitCost.amount).toMatch(/^\d+\.\d{4}$/);
  });

  it('never counts as a source failure: the WMS stays UP with its breaker closed', () => {
    expect(wmsHealth(demo.app)).toMatchObject({ status: 'UP', breaker: 'CLOSED', errorCount: 0 });
    expect(unhandled.count).toBe(0);
  });
});
