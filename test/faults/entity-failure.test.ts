/**
 * A mapping that does not match its source fails its entity only, through the real resilience
 * layer over the real SQL connector on SQLite and MariaDB: the breaker stays closed however often
 * the broken entity is read, the other entities are read, the health registry shows the source
 * DEGRADED naming the entity (DOWN when every entity fails), and the entity is cleared by its
 * first read that succeeds once the table exists. The start-up probe feeds the same registry.
 */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { sqlSourceSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { SourceHealthRegistry } from '../../src/sources/health.js';
import { probeSources } from '../../src/sources/probe.js';
import { resilienceSettings, SourceError, withResilience, type ResilientConnector } from '../../src/sources/resilience.js';
import { createSqlConnector } from '../../src/sources/sql.js';
import { BACKENDS, type TestDatabase } from '../helpers/databases.js';

for (const backend of BACKENDS) {
  describe(`an entity whose mapping fails, on ${backend.name}`, () => {
    let t: TestDatabase;
    let open: ResilientConnector[] = [];

    beforeAll(async () => {
      t = await backend.create();
      await t.exec('create table bins (item_code varchar(64) not null, wh varchar(32) not null, qty integer not null)');
      await t.exec('create table items (item_no varchar(64) not null, title varchar(255) not null)');
      await t.db('bins').insert([{ item_code: 'A-1', wh: 'EAST', qty: 5 }]);
      await t.db('items').insert([{ item_no: 'A-1', title: 'Widget' }]);
    });
    afterAll(async () => {
      await t?.cleanup();
    });
    afterEach(async () => {
      for (const c of open) await c.close();
      open = [];
      await t.exec('drop table if exists item_price');
    });

    function source(mappings: Record<string, unknown>) {
      const config = sqlSourceSchema.parse({
        kind: 'sql',
        client: backend.client,
        connection: t.connection,
        breaker: { failureThreshold: 2, resetAfterMs: 60_000 },
        ...mappings,
      });
      const health = new SourceHealthRegistry();
      const c = withResilience(createSqlConnector('erp', config), resilienceSettings(config), { health, logger: silentLogger });
      open.push(c);
      return { c, health };
    }

    const stock = { table: 'bins', columns: { sku: 'item_code', location: 'wh', onHand: 'qty' } };
    const cost = { table: 'item_price', columns: { sku: 'item_no', unitCost: 'price' }, currency: 'USD' };

    it('keeps the breaker closed and the other entity read, and names the entity on health', async () => {
      const { c, health } = source({ stock, cost });

      for (let i = 0; i < 5; i++) {
        const e = await c.fetch('cost', ['A-1']).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(SourceError);
        expect(e).toMatchObject({
          kind: 'mapping',
          entity: 'cost',
          reason: 'table "item_price" does not exist',
          message: 'source "erp" cost: table "item_price" does not exist',
        });
      }
      expect(c.breakerState()).toBe('CLOSED');
      expect(await c.fetch('stock', ['A-1'])).toMatchObject([{ code: 'A-1', onHand: 5 }]);
      expect(health.get('erp')).toMatchObject({
        status: 'DEGRADED',
        breaker: 'CLOSED',
        problem: 'cost: table "item_price" does not exist',
        failingEntities: [{ entity: 'cost', reason: 'table "item_price" does not exist' }],
        errorCount: 0,
      });

      // the table arrives: the next read of cost answers and clears it
      await t.exec('create table item_price (item_no varchar(64) not null, price decimal(12,4) not null)');
      await t.db('item_price').insert([{ item_no: 'A-1', price: '2.5000' }]);
      expect(await c.fetch('cost', ['A-1'])).toMatchObject([{ code: 'A-1', currency: 'USD' }]);
      expect(health.get('erp')).toMatchObject({ status: 'UP', problem: null, failingEntities: [] });
    });

    it('is DOWN when every entity it maps fails, though it answers', async () => {
      const { c, health } = source({ cost, items: { table: 'items', columns: { sku: 'item_no', name: 'no_such_column' } } });

      await expect(c.ping()).rejects.toThrow('source "erp" cost: table "item_price" does not exist');
      expect(health.get('erp')).toMatchObject({
        status: 'DOWN',
        breaker: 'CLOSED',
        failingEntities: [
          { entity: 'cost', reason: 'table "item_price" does not exist' },
          { entity: 'items', reason: 'column "no_such_column" does not exist' },
        ],
      });
    });

    it('records the start-up probe per entity on health', async () => {
      const { c, health } = source({ stock, cost });

      expect(await probeSources([c])).toEqual([
        { source: 'erp', entity: 'stock', ok: true, detail: '1 code' },
        { source: 'erp', entity: 'cost', ok: false, detail: 'table "item_price" does not exist' },
      ]);
      expect(health.get('erp')).toMatchObject({ status: 'DEGRADED', problem: 'cost: table "item_price" does not exist' });
      expect(health.get('erp')?.lastSuccessAt).toBeInstanceOf(Date);
    });

    it('fails every entity of a source that cannot be reached, as the source failing', async () => {
      const config = sqlSourceSchema.parse({ kind: 'sql', client: backend.client, connection: backend.unreachable(), stock, cost });
      const health = new SourceHealthRegistry();
      const c = withResilience(createSqlConnector('erp', config), resilienceSettings(config), { health, logger: silentLogger });
      open.push(c);

      const lines = await probeSources([c]);
      const reason = backend.client === 'mysql2' ? 'connection refused' : 'cannot open its database';
      expect(lines).toEqual([
        { source: 'erp', entity: 'stock', ok: false, detail: reason },
        { source: 'erp', entity: 'cost', ok: false, detail: reason },
      ]);
      expect(health.get('erp')).toMatchObject({ status: 'DOWN', lastError: reason, failingEntities: [] });
    });
  });
}
