/**
 * The gateway's own database (SQLite by default, MySQL/MariaDB supported): the SKU map and
 * the anomalies. Opening it runs the migrations, so a fresh file or schema is ready at once.
 */
import type { Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createKnex, type DbClient } from '../db/knex.js';
import { createAnomalyStore } from './anomaly-store.js';
import { migrationSource } from './migrations.js';
import { createSkuMapStore } from './sku-map-store.js';

export type { Alias, CanonicalSku, SkuMapStore, SkuPage } from './sku-map-store.js';
export type { Anomaly, AnomalyStatus, AnomalyStore, NewAnomaly } from './anomaly-store.js';

export interface Store {
  db: Knex;
  skus: ReturnType<typeof createSkuMapStore>;
  anomalies: ReturnType<typeof createAnomalyStore>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openStore(o: { client: DbClient; connection: string }): Promise<Store> {
  if (o.client === 'better-sqlite3' && o.connection !== ':memory:') mkdirSync(dirname(o.connection), { recursive: true });
  const db = createKnex({ client: o.client, connection: o.connection });
  try {
    if (o.client === 'better-sqlite3') await db.raw('pragma journal_mode = WAL');
    await db.migrate.latest({ migrationSource });
  } catch (e) {
    await db.destroy();
    throw e;
  }
  return {
    db,
    skus: createSkuMapStore(db),
    anomalies: createAnomalyStore(db),
    async ping() {
      await db.raw('select 1');
    },
    close: () => db.destroy(),
  };
}
