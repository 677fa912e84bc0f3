/**
 * The gateway's own database (SQLite by default, MySQL/MariaDB supported): the SKU map and
 * the anomalies. Opening it runs the migrations, so a fresh file or schema is ready at once.
 *
 * Options beside `client` and `connection`:
 * - `anomalyWrites`: the size of the anomaly write queue and its logger (src/store/anomaly-store.ts).
 */
import type { Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createKnex, type DbClient } from '../db/knex.js';
import { createAnomalyStore, type AnomalyWrites } from './anomaly-store.js';
import { migrationSource } from './migrations.js';
import { createSkuMapStore } from './sku-map-store.js';

export type { Alias, CanonicalSku, SkuMapStore, SkuPage } from './sku-map-store.js';
export type { Anomaly, AnomalyStatus, AnomalyStore, NewAnomaly } from './anomaly-store.js';

export interface Store {
  db: Knex;
  skus: ReturnType<typeof createSkuMapStore>;
  anomalies: ReturnType<typeof createAnomalyStore>;
  ping(): Promise<void>;
  /** Stops the anomaly writer (what it has not written is logged as lost: flush first), then closes the pool. */
  close(): Promise<void>;
}

export interface StoreOptions {
  client: DbClient;
  connection: string;
  anomalyWrites?: AnomalyWrites;
}

export async function openStore(o: StoreOptions): Promise<Store> {
  const sqlite = o.client === 'better-sqlite3';
  if (sqlite && o.connection !== ':memory:') mkdirSync(dirname(o.connection), { recursive: true });
  const db = createKnex({ client: o.client, connection: o.connection });
  try {
    if (sqlite) await db.raw('pragma journal_mode = WAL');
    await db.migrate.latest({ migrationSource });
  } catch (e) {
    await db.destroy();
    throw e;
  }
  const anomalies = createAnomalyStore(db, Date.now, o.anomalyWrites);
  return {
    db,
    skus: createSkuMapStore(db),
    anomalies,
    async ping() {
      await db.raw('select 1');
    },
    async close() {
      await anomalies.close();
      await db.destroy();
    },
  };
}
