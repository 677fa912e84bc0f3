/**
 * One entity's mapping that does not match its database costs that entity only: the demo ERP's
 * `cost` names a table the database lacks ("tabItem Price"); its stock still answers, the breaker
 * stays closed however often cost is asked, the GraphQL error names the source and the entity,
 * and /status, /status.json and the start-up log show the ERP DEGRADED with `cost` and the reason.
 * The real gateway over HTTP, on SQLite files and on MariaDB databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoApp, type DemoApp, dropDemoDatabases } from '../helpers/demo-app.js';

const breakCost = (y: string) => y.replace('cost: { table: item_cost,', 'cost: { table: "tabItem Price",');

const Q = `{ inventoryItem(sku: "SKU-000001") {
  sku unitCost { amount }
  availability { byLocation { location { id } onHand provenance { source } } }
} }`;

interface Answer {
  inventoryItem: {
    sku: string;
    unitCost: null | { amount: string };
    availability: { byLocation: Array<{ location: { id: string }; onHand: number; provenance: { source: string | null } }> };
  };
}

interface StatusJson {
  sources: Array<{
    name: string;
    status: string;
    breaker: string;
    problem: string | null;
    failingEntities: Array<{ entity: string; reason: string; since: string }>;
  }>;
}

const prefix = `ig_test_entity_${process.pid}_${Date.now().toString(36)}`;

for (const backend of ['sqlite', 'mariadb'] as const) {
  describe(`a source whose cost mapping names a missing table (${backend})`, () => {
    let demo: DemoApp;
    const log: string[] = [];
    beforeAll(async () => {
      demo = await startDemoApp({
        skus: 50,
        editConfig: breakCost,
        log: (line) => void log.push(line),
        logLevel: 'info',
        ...(backend === 'mariadb' ? { mysql: { prefix } } : {}),
      });
    });
    afterAll(async () => {
      await demo?.close();
      if (backend !== 'mariadb') return;
      await dropDemoDatabases(prefix);
    });

    it('logs one line per source and entity at start-up, the failing one with its reason', () => {
      const lines = log.map((l) => JSON.parse(l) as { level: string; msg: string; source?: string; entity?: string; ok?: boolean; reason?: string });
      const checks = lines.filter((l) => l.msg.startsWith('source check: '));
      expect(checks.find((l) => l.source === 'erp' && l.entity === 'cost')).toMatchObject({
        level: 'warn',
        msg: 'source check: erp cost FAILED table "tabItem Price" does not exist',
        ok: false,
        reason: 'table "tabItem Price" does not exist',
      });
      expect(checks.find((l) => l.source === 'erp' && l.entity === 'stock')).toMatchObject({ level: 'info', ok: true });
      expect(checks.find((l) => l.source === 'erp' && l.entity === 'stock')?.msg).toMatch(/^source check: erp stock ok \d+ codes$/);
      // every other mapping of every source answered
      expect(checks.filter((l) => l.ok === false)).toHaveLength(1);
    });

    it('answers stock from the ERP and names the ERP and cost in the error, read after read, with the breaker closed', async () => {
      // more reads than open the breaker (5 failures in a row)
      for (let i = 0; i < 7; i++) {
        const r = await demo.gql<Answer>(Q);
        expect(r.status).toBe(200);
        expect(r.body.errors).toEqual([
          {
            message: 'Source "erp" cost: table "tabItem Price" does not exist; its cost figures are missing or fell back to the next source.',
            extensions: { code: 'SOURCE_UNAVAILABLE', source: 'erp', entity: 'cost' },
          },
        ]);
        const item = r.body.data!.inventoryItem;
        expect(item.unitCost).toBeNull();
        // the store only the ERP knows still has its figure from the ERP's stock
        const nyc = item.availability.byLocation.find((l) => l.location.id === 'STORE-NYC')!;
        expect(nyc.provenance.source).toBe('erp');
        expect(r.text).not.toMatch(/select|sqlite|mysql:|\/tmp/i);
      }
    });

    it('shows the ERP DEGRADED on /status.json and /status, naming cost and the reason, its breaker closed', async () => {
      const origin = new URL(demo.url).origin;
      const json = (await (await fetch(`${origin}/status.json`, { headers: { 'x-api-key': demo.keys.analyst } })).json()) as StatusJson;
      const erp = json.sources.find((s) => s.name === 'erp')!;
      expect(erp).toMatchObject({
        status: 'DEGRADED',
        breaker: 'CLOSED',
        problem: 'cost: table "tabItem Price" does not exist',
        failingEntities: [{ entity: 'cost', reason: 'table "tabItem Price" does not exist' }],
      });
      for (const s of json.sources.filter((x) => x.name !== 'erp')) expect(s.failingEntities).toEqual([]);

      const html = await (await fetch(`${origin}/status`, { headers: { 'x-api-key': demo.keys.analyst } })).text();
      const row = /<tr data-source="erp">[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
      expect(row).toContain('DEGRADED');
      expect(row).toContain('cost: table &#34;tabItem Price&#34; does not exist');
    });

    it('shows the same on the GraphQL sources query', async () => {
      const r = await demo.gql<{ sources: Array<{ name: string; status: string; problem: string | null }> }>('{ sources { name status problem } }');
      expect(r.body.data!.sources.find((s) => s.name === 'erp')).toEqual({
        name: 'erp',
        status: 'DEGRADED',
        problem: 'cost: table "tabItem Price" does not exist',
      });
    });
  });
}
