/**
 * The gateway's own database (SQLite by default, MySQL/MariaDB supported): the SKU map and
 * the anomalies, the feeds' applied changes, the reservations. Opening it runs the migrations, so a fresh file or schema is ready at once.
 *
 * Options beside `client` and `connection`:
 * - `busyTimeoutMs` (SQLite): how long a statement waits for a lock another connection holds.
 *   better-sqlite3 waits by spinning on the main thread, freezing every request and timer, so
 *   the server passes 0: a write on a locked store fails at once (`isStoreBusy`), anomaly
 *   writes are retried by their queue, an analyst's mutation is refused with STORE_BUSY.
 *   Defaults to 5000 (better-sqlite3's own), right for a command that has nothing else to do.
 *   Opening waits up to 5000 either way: the migrations of instances starting together on one SQLite file take turns.
 * - `anomalyWrites`: the size of the anomaly write queue and its logger (src/store/anomaly-store.ts).
 */
import type { Knex } from 'knex';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { busyTimeout, createKnex, isSqliteBusy, type DbClient } from '../db/knex.js';
import { createAnomalyStore, type AnomalyWrites } from './anomaly-store.js';
import { createEventStore } from './event-store.js';
import { createFeedStore } from './feed-store.js';
import { createLeaseStore, type LeaseStore } from './lease-store.js';
import { migrationSource } from './migrations.js';
import { createReservationStore } from './reservation-store.js';
import { createSkuMapStore } from './sku-map-store.js';

export type { Alias, CanonicalSku, SkuMapStore, SkuPage } from './sku-map-store.js';
export type { Anomaly, AnomalyStatus, AnomalyStore, NewAnomaly } from './anomaly-store.js';
export type { DeadLetter, FeedStore, NewDeadLetter } from './feed-store.js';
export type { ReservationRow, ReservationStore } from './reservation-store.js';
export type { Baseline, DeadLetter as EventDeadLetter, Delivery, EventRoute, EventStore, SinkCounts, Trigger } from './event-store.js';

export interface Store {
  db: Knex;
  skus: ReturnType<typeof createSkuMapStore>;
  anomalies: ReturnType<typeof createAnomalyStore>;
  /** Applied feed changes (for dedupe and replay) and dead letters. */
  feeds: ReturnType<typeof createFeedStore>;
  /** Holds at checkout, their idempotency keys and lock rows. */
  reservations: ReturnType<typeof createReservationStore>;
  /** The events outbox, its deliveries, baselines and recompute marks (src/store/event-store.ts). */
  events: ReturnType<typeof createEventStore>;
  /** Which instance runs each one-at-a-time job (src/store/lease-store.ts). */
  leases: LeaseStore;
  ping(): Promise<void>;
  /** Stops the anomaly writer (what it has not written is logged as lost: flush first), then closes the pool. */
  close(): Promise<void>;
}

export interface StoreOptions {
  client: DbClient;
  connection: string;
  busyTimeoutMs?: number;
  anomalyWrites?: AnomalyWrites;
}

/** How long opening the store (journal mode, migrations) may wait for a lock, in ms. */
const OPEN_BUSY_TIMEOUT_MS = 5_000;

/** Whether `e` is the store refusing a statement because another connection holds its lock. */
export const isStoreBusy = isSqliteBusy;

export async function openStore(o: StoreOptions): Promise<Store> {
  const sqlite = o.client === 'better-sqlite3';
  if (sqlite && o.connection !== ':memory:') mkdirSync(dirname(o.connection), { recursive: true });
  const busyTimeoutMs = o.busyTimeoutMs ?? OPEN_BUSY_TIMEOUT_MS;
  const db = createKnex({ client: o.client, connection: o.connection, busyTimeoutMs });
  try {
    if (sqlite) await db.raw(`pragma ${busyTimeout(OPEN_BUSY_TIMEOUT_MS)}`);
    if (sqlite) await db.raw('pragma journal_mode = WAL');
    await db.migrate.latest({ migrationSource });
    if (sqlite) await db.raw(`pragma ${busyTimeout(busyTimeoutMs)}`);
  } catch (e) {
    await db.destroy();
    throw e;
  }
  const events = createEventStore(db);
  const anomalies = createAnomalyStore(db, Date.now, o.anomalyWrites, events);
  return {
    db,
    skus: createSkuMapStore(db),
    anomalies,
    feeds: createFeedStore(db),
    reservations: createReservationStore(db, events),
    events,
    leases: createLeaseStore(db),
    async ping() {
      await db.raw('select 1');
    },
    async close() {
      await anomalies.close();
      await db.destroy();
    },
  };
}
