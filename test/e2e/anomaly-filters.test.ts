/**
 * `anomalies(filter, first, after)` and `anomaly(id)` over real HTTP against the demo gateway,
 * its store on SQLite and on MariaDB: every filter alone and combined gives exactly the rows the
 * store holds that match (read straight from the table), paged newest first with no duplicate or
 * gap until `hasNextPage` is false, in two store statements a page; bad `first`, `after`, location
 * ids and source names are BAD_USER_INPUT naming the value; analysts read, storefronts do not;
 * acknowledge and resolve record the key's name; `location` is a Location where the config maps
 * it and `locationCode` holds the source's own code where it does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { NewAnomaly } from '../../src/domain/anomalies.js';
import { ANOMALY_KINDS } from '../../src/domain/anomalies.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';
import { startDemoApp, type DemoApp } from '../helpers/demo-app.js';

const PAGE = `query P($filter: AnomalyFilter, $first: Int, $after: String) {
  anomalies(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id } }
    nodes { id kind sku source status location { id } locationCode }
  }
}`;

interface Node {
  id: string;
  kind: string;
  sku: string | null;
  source: string | null;
  status: string;
  location: { id: string } | null;
  locationCode: string | null;
}
interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: { id: string } }[];
  nodes: Node[];
}

interface Filter {
  kinds?: string[];
  statuses?: string[];
  skus?: string[];
  sources?: string[];
  locations?: string[];
}

interface Row {
  id: number | string;
  kind: string;
  sku: string | null;
  source: string | null;
  location: string | null;
  status: string;
}

const SOURCES = ['wms', 'erp', 'tpl'] as const;
const LOCATIONS = ['DC-EAST', 'DC-CENTRAL', 'STORE-NYC'] as const;
const sku = (i: number) => `SKU-${String(i).padStart(6, '0')}`;

/** A spread of anomalies as the gateway records them: every filter has something to keep and something to leave. */
function seeded(): NewAnomaly[] {
  const out: NewAnomaly[] = [];
  for (let i = 1; i <= 12; i++) {
    const source = SOURCES[i % 3]!;
    const location = LOCATIONS[i % 3]!;
    out.push({ kind: 'NEGATIVE_ON_HAND', sku: sku(i), location, source, detail: `${source} reports onHand -${i} for ${sku(i)} at ${location}` });
    out.push({ kind: 'DISCREPANCY', sku: sku(i), location: LOCATIONS[(i + 1) % 3]!, source: SOURCES[(i + 1) % 3]!, detail: `discrepancy ${i}` });
    out.push({ kind: 'ORPHAN_CODE', sku: null, location: null, source, code: `ORPHAN-${i}`, detail: `orphan ${i}` });
    out.push({ kind: 'COST_MISMATCH', sku: sku(i), location: null, source: 'erp', detail: `cost ${i}` });
  }
  for (const source of SOURCES) out.push({ kind: 'STALE_SOURCE', sku: null, location: null, source, detail: `${source} is stale` });
  out.push({ kind: 'UNMAPPED_LOCATION', sku: null, location: 'ZZ-NOWHERE', source: 'tpl', detail: 'tpl reports stock at location code "ZZ-NOWHERE"' });
  // a source's own code that happens to spell a canonical id: still not that location
  out.push({ kind: 'UNMAPPED_LOCATION', sku: null, location: 'DC-EAST', source: 'tpl', detail: 'tpl reports stock at location code "DC-EAST"' });
  return out;
}

/** What the filter keeps of the table's rows, newest first: the oracle the API must match. */
function expected(rows: readonly Row[], f: Filter): string[] {
  const keeps = (values: string[] | undefined, v: string | null) => values === undefined || values.length === 0 || (v !== null && values.includes(v));
  return rows
    .filter((r) => (ANOMALY_KINDS as readonly string[]).includes(r.kind))
    .filter((r) => keeps(f.kinds, r.kind) && keeps(f.statuses, r.status) && keeps(f.skus, r.sku) && keeps(f.sources, r.source))
    .filter((r) => f.locations === undefined || f.locations.length === 0 || (r.kind !== 'UNMAPPED_LOCATION' && keeps(f.locations, r.location)))
    .map((r) => String(r.id))
    .sort((a, b) => Number(b) - Number(a));
}

for (const backend of BACKENDS) {
  describe(`anomalies on a ${backend.name} store`, () => {
    let db: TestDatabase;
    let demo: DemoApp;
    let rows: Row[];

    const page = async (filter: Filter, first: number, after: string | null, key?: string) => {
      const r = await demo.gql<{ anomalies: Page }>(PAGE, { filter, first, after }, key === undefined ? {} : { 'x-api-key': key });
      return r;
    };
    /** Every page of `filter`, `first` at a time, checking each page's own consistency on the way. */
    const pageThrough = async (filter: Filter, first: number) => {
      const ids: string[] = [];
      let after: string | null = null;
      for (let n = 0; n < 1000; n++) {
        const r = await page(filter, first, after);
        expect(r.body.errors, JSON.stringify(filter)).toBeUndefined();
        const p = r.body.data!.anomalies;
        expect(p.nodes.length).toBeLessThanOrEqual(first);
        expect(p.edges.map((e) => e.cursor)).toEqual(p.nodes.map((x) => x.id));
        expect(p.edges.map((e) => e.node.id)).toEqual(p.nodes.map((x) => x.id));
        expect(p.pageInfo.endCursor).toBe(p.nodes.at(-1)?.id ?? null);
        ids.push(...p.nodes.map((x) => x.id));
        if (!p.pageInfo.hasNextPage) return { ids, totalCount: p.totalCount, pages: n + 1 };
        expect(p.nodes).toHaveLength(first);
        after = p.pageInfo.endCursor;
      }
      throw new Error('no last page');
    };

    beforeAll(async () => {
      db = await backend.create();
      demo = await startDemoApp({
        skus: 60,
        override: { store: { client: db.client, connection: db.connection } },
        // nothing records anomalies behind the test's back: the table is what the test put there
        editConfig: (yaml) => {
          const doc = parseDocument(yaml);
          doc.setIn(['sweep', 'intervalSeconds'], 0);
          return doc.toString();
        },
      });
      const store = demo.app.store.anomalies;
      await store.record(seeded());
      const all = (await db.db('anomalies').orderBy('id')) as Row[];
      // statuses: every third acknowledged, every fifth resolved (some of those acknowledged first)
      for (const [i, r] of all.entries()) {
        if (i % 3 === 0) await store.acknowledge(String(r.id), 'on it', 'seed');
        if (i % 5 === 0) await store.resolve(String(r.id), 'done', 'seed');
      }
      rows = (await db.db('anomalies').select('id', 'kind', 'sku', 'source', 'location', 'status')) as Row[];
    }, 120_000);

    afterAll(async () => {
      await demo?.close();
      await db?.cleanup();
    });

    const FILTERS: Array<[string, Filter]> = [
      ['kinds', { kinds: ['NEGATIVE_ON_HAND'] }],
      ['two kinds', { kinds: ['ORPHAN_CODE', 'STALE_SOURCE'] }],
      ['statuses', { statuses: ['ACKNOWLEDGED'] }],
      ['two statuses', { statuses: ['OPEN', 'RESOLVED'] }],
      ['skus', { skus: [sku(3), sku(7)] }],
      ['sources', { sources: ['erp'] }],
      ['locations', { locations: ['DC-EAST'] }],
      ['two locations', { locations: ['DC-CENTRAL', 'STORE-NYC'] }],
      ['kinds and statuses', { kinds: ['NEGATIVE_ON_HAND', 'DISCREPANCY'], statuses: ['OPEN'] }],
      ['sources and locations', { sources: ['wms', 'tpl'], locations: ['DC-EAST', 'DC-CENTRAL'] }],
      [
        'all five',
        {
          kinds: ['NEGATIVE_ON_HAND', 'DISCREPANCY'],
          statuses: ['OPEN', 'ACKNOWLEDGED'],
          skus: [sku(1), sku(2), sku(4), sku(5)],
          sources: ['wms', 'erp'],
          locations: ['DC-EAST', 'DC-CENTRAL'],
        },
      ],
    ];

    it('lists every anomaly newest first, page by page, with no duplicate or gap, and counts them all', async () => {
      const all = expected(rows, {});
      expect(all.length).toBeGreaterThan(50);
      const got = await pageThrough({}, 7);
      expect(got.ids).toEqual(all);
      expect(got.totalCount).toBe(all.length);
      expect(got.pages).toBe(Math.ceil(all.length / 7));
      // empty lists do not narrow
      expect((await pageThrough({ kinds: [], statuses: [], skus: [], sources: [], locations: [] }, 1000)).ids).toEqual(all);
    });

    for (const [name, filter] of FILTERS) {
      it(`narrows by ${name}, paged through to the end`, async () => {
        const want = expected(rows, filter);
        // the filter keeps something and leaves something: the comparison can fail
        expect(want.length).toBeGreaterThan(0);
        expect(want.length).toBeLessThan(expected(rows, {}).length);
        const got = await pageThrough(filter, 4);
        expect(got.ids).toEqual(want);
        expect(got.totalCount).toBe(want.length);
      });
    }

    it('answers a page in two store statements, whatever the filter', async () => {
      const spy = backend.spyOnStatements();
      let r;
      try {
        r = await page(FILTERS.at(-1)![1], 2, null);
      } finally {
        spy.restore();
      }
      expect(r.body.errors).toBeUndefined();
      expect(spy.sql.filter((q) => /\banomalies\b/.test(q))).toHaveLength(2);
    });

    it('keeps a location filter to canonical ids: an UNMAPPED_LOCATION code spelled like one is not listed', async () => {
      const r = await page({ locations: ['DC-EAST'] }, 1000, null);
      const nodes = r.body.data!.anomalies.nodes;
      expect(nodes.length).toBeGreaterThan(0);
      expect(nodes.every((x) => x.location?.id === 'DC-EAST' && x.locationCode === null)).toBe(true);
    });

    it('gives Anomaly.location as a Location where the config maps it, locationCode where it does not', async () => {
      const nodes = (await page({}, 1000, null)).body.data!.anomalies.nodes;
      const unmapped = nodes.filter((x) => x.kind === 'UNMAPPED_LOCATION');
      expect(unmapped.map((x) => [x.location, x.locationCode]).sort()).toEqual([
        [null, 'DC-EAST'],
        [null, 'ZZ-NOWHERE'],
      ]);
      const negative = nodes.find((x) => x.kind === 'NEGATIVE_ON_HAND' && x.sku === sku(1))!;
      expect(negative).toMatchObject({ location: { id: LOCATIONS[1] }, locationCode: null });
      expect(nodes.find((x) => x.kind === 'STALE_SOURCE')).toMatchObject({ location: null, locationCode: null });

      const one = await demo.gql<{ anomaly: unknown }>('query O($id: ID!) { anomaly(id: $id) { id location { id name } locationCode } }', { id: negative.id });
      expect(one.body.data!.anomaly).toEqual({ id: negative.id, location: { id: 'DC-CENTRAL', name: 'Central distribution centre' }, locationCode: null });
    });

    it('refuses a bad first, after, location or source with BAD_USER_INPUT naming the value', async () => {
      const refused = async (filter: Filter, first: number, after: string | null, ...said: RegExp[]) => {
        const r = await page(filter, first, after);
        expect(r.body.data).toEqual({ anomalies: null });
        expect(r.body.errors).toHaveLength(1);
        expect(r.body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
        for (const s of said) expect(r.body.errors![0]!.message).toMatch(s);
        return r.body.errors![0]!;
      };
      await refused({}, 0, null, /`first` must be between 1 and 1000, got 0\./);
      await refused({}, 1001, null, /got 1001/);
      await refused({}, 5, 'bm90LWFuLWlk', /`after` is not a cursor this API gave .*"bm90LWFuLWlk"/);
      await refused({}, 5, '-3', /"-3"/);
      const loc = await refused(
        { locations: ['DC-EAST', 'DC-EASTT'] },
        5,
        null,
        /Unknown location id in filter\.locations: "DC-EASTT"\./,
        /Known: DC-EAST, DC-CENTRAL, /,
      );
      expect(loc.extensions).toMatchObject({ argumentName: 'filter.locations', invalid: ['DC-EASTT'] });
      const src = await refused({ sources: ['wsm', 'erp', 'pos'] }, 5, null, /Unknown sources in filter\.sources: "wsm", "pos"\. Known: erp, wms, shop, tpl\./);
      expect(src.extensions).toMatchObject({ argumentName: 'filter.sources', invalid: ['wsm', 'pos'] });
    });

    it('lets an analyst read and refuses a storefront with FORBIDDEN', async () => {
      const analyst = await page({ kinds: ['STALE_SOURCE'] }, 10, null, demo.keys.analyst);
      expect(analyst.body.errors).toBeUndefined();
      expect(analyst.body.data!.anomalies.totalCount).toBe(expected(rows, { kinds: ['STALE_SOURCE'] }).length);
      const id = analyst.body.data!.anomalies.nodes[0]!.id;
      expect((await demo.gql('query O($id: ID!) { anomaly(id: $id) { id } }', { id }, { 'x-api-key': demo.keys.analyst })).body.data).toEqual({
        anomaly: { id },
      });

      for (const q of [PAGE, 'query O($id: ID!) { anomaly(id: $id) { id } }']) {
        const r = await demo.gql(q, { id, filter: {}, first: 5 }, { 'x-api-key': demo.keys.storefront });
        expect(r.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(r.text).not.toContain(`"id":"${id}"`);
      }
    });

    it('records the key that acknowledged and resolved, read back by anomaly(id)', async () => {
      const ACK = 'mutation A($id: ID!) { acknowledgeAnomaly(id: $id, note: "counting") { id acknowledgedBy resolvedBy } }';
      const RESOLVE = 'mutation R($id: ID!) { resolveAnomaly(id: $id, note: "recounted") { id acknowledgedBy resolvedBy } }';
      const ONE = 'query O($id: ID!) { anomaly(id: $id) { id status acknowledgedBy acknowledgeNote resolvedBy resolutionNote } }';
      const open = (await page({ statuses: ['OPEN'], kinds: ['ORPHAN_CODE'] }, 2, null)).body.data!.anomalies.nodes;
      expect(open).toHaveLength(2);
      const [a, b] = open as [Node, Node];
      const name = (await demo.gql<{ viewer: { name: string } }>('{ viewer { name } }')).body.data!.viewer.name;
      expect(name).toBe('demo-admin');

      expect((await demo.gql(ACK, { id: a.id })).body).toEqual({ data: { acknowledgeAnomaly: { id: a.id, acknowledgedBy: name, resolvedBy: null } } });
      expect((await demo.gql(RESOLVE, { id: a.id })).body).toEqual({ data: { resolveAnomaly: { id: a.id, acknowledgedBy: name, resolvedBy: name } } });
      // straight from OPEN: nobody acknowledged it
      expect((await demo.gql(RESOLVE, { id: b.id })).body.data).toEqual({ resolveAnomaly: { id: b.id, acknowledgedBy: null, resolvedBy: name } });

      const read = await demo.gql<{ anomaly: unknown }>(ONE, { id: a.id }, { 'x-api-key': demo.keys.analyst });
      expect(read.body.data!.anomaly).toEqual({
        id: a.id,
        status: 'RESOLVED',
        acknowledgedBy: name,
        acknowledgeNote: 'counting',
        resolvedBy: name,
        resolutionNote: 'recounted',
      });
      const stored = (await db
        .db('anomalies')
        .where({ id: Number(a.id) })
        .first()) as { acknowledged_by: string; resolved_by: string };
      expect([stored.acknowledged_by, stored.resolved_by]).toEqual([name, name]);
      rows = (await db.db('anomalies').select('id', 'kind', 'sku', 'source', 'location', 'status')) as Row[];
    });

    it('answers anomaly(id) null for an id it does not have, or one that is no id', async () => {
      for (const id of ['999999999', 'abc', '-1']) {
        const r = await demo.gql('query O($id: ID!) { anomaly(id: $id) { id } }', { id });
        expect(r.body).toEqual({ data: { anomaly: null } });
      }
    });
  });
}
