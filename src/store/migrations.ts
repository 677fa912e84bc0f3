/**
 * The gateway's own tables, as knex migrations kept in code (no migration folder to ship or
 * find at run time). The same migrations run on SQLite and MySQL/MariaDB.
 */
import type { Knex } from 'knex';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/**
 * On MySQL/MariaDB, SKUs and codes compare exactly (case and trailing spaces count), as they
 * do on SQLite: the default collations would make `sku-001` overwrite `SKU-001`.
 */
async function exactCollation(db: Knex): Promise<string | undefined> {
  if (db.client.config.client !== 'mysql2') return undefined;
  const [rows] = (await db.raw('select version() as v')) as [Array<{ v: string }>];
  return /mariadb/i.test(rows[0]?.v ?? '') ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

/** Applies the exact collation (see `exactCollation`) to a table being created; nothing on SQLite. */
async function exactTables(db: Knex): Promise<(t: Knex.CreateTableBuilder) => void> {
  const collation = await exactCollation(db);
  return (t) => {
    if (collation === undefined) return;
    t.charset('utf8mb4');
    t.collate(collation);
  };
}

const migrations: Record<string, Migration> = {
  '0001_sku_map': {
    async up(db) {
      const exact = await exactTables(db);
      await db.schema.createTable('skus', (t) => {
        exact(t);
        t.string('sku', 191).primary();
        t.string('name', 512).nullable();
        t.timestamp('created_at').notNullable().defaultTo(db.fn.now());
      });
      await db.schema.createTable('sku_aliases', (t) => {
        exact(t);
        t.string('system', 64).notNullable();
        t.string('code', 191).notNullable();
        t.string('sku', 191).notNullable().references('sku').inTable('skus').onDelete('CASCADE');
        t.primary(['system', 'code']);
        t.index(['sku']);
      });
    },
    async down(db) {
      await db.schema.dropTable('sku_aliases');
      await db.schema.dropTable('skus');
    },
  },
  '0002_anomalies': {
    async up(db) {
      await db.schema.createTable('anomalies', (t) => {
        t.increments('id').primary();
        t.string('kind', 64).notNullable();
        t.string('sku', 191).nullable();
        t.string('location', 191).nullable();
        t.string('source', 64).nullable();
        t.string('detail', 1024).notNullable();
        t.string('status', 16).notNullable().defaultTo('OPEN');
        // equal to the dedupe key while the anomaly is open, NULL once resolved: one open row per key
        t.string('open_key', 255).nullable().unique();
        t.timestamp('first_seen').notNullable();
        t.timestamp('last_seen').notNullable();
        t.integer('occurrences').notNullable().defaultTo(1);
        t.index(['status', 'id']);
      });
    },
    async down(db) {
      await db.schema.dropTable('anomalies');
    },
  },
  '0003_anomaly_workflow': {
    async up(db) {
      await db.schema.alterTable('anomalies', (t) => {
        // the source's own code, for anomalies about a code rather than a canonical SKU (orphans)
        t.string('code', 191).nullable();
        t.timestamp('acknowledged_at').nullable();
        t.string('acknowledge_note', 1024).nullable();
        t.timestamp('resolved_at').nullable();
        t.string('resolution_note', 1024).nullable();
      });
    },
    async down(db) {
      await db.schema.alterTable('anomalies', (t) => {
        t.dropColumn('code');
        t.dropColumn('acknowledged_at');
        t.dropColumn('acknowledge_note');
        t.dropColumn('resolved_at');
        t.dropColumn('resolution_note');
      });
    },
  },
  '0004_reconciliation_runs': {
    async up(db) {
      await db.schema.createTable('reconciliation_runs', (t) => {
        t.increments('id').primary();
        t.timestamp('started_at').notNullable();
        t.timestamp('finished_at').nullable();
        // running | completed | failed
        t.string('status', 16).notNullable();
        t.integer('tolerance').notNullable();
        t.integer('skus').notNullable().defaultTo(0);
        t.integer('lines').notNullable().defaultTo(0);
        t.integer('matched').notNullable().defaultTo(0);
        t.integer('explained').notNullable().defaultTo(0);
        t.integer('within_tolerance').notNullable().defaultTo(0);
        t.integer('discrepancies').notNullable().defaultTo(0);
        t.integer('orphans').notNullable().defaultTo(0);
        t.integer('gaps').notNullable().defaultTo(0);
        // sums of |variance|, |explained| and |unexplained| over the lines, in units
        t.bigInteger('abs_variance').notNullable().defaultTo(0);
        t.bigInteger('abs_explained').notNullable().defaultTo(0);
        t.bigInteger('abs_unexplained').notNullable().defaultTo(0);
        t.string('out_dir', 1024).nullable();
        t.string('error', 1024).nullable();
        t.index(['started_at']);
      });
    },
    async down(db) {
      await db.schema.dropTable('reconciliation_runs');
    },
  },
  '0005_feeds': {
    async up(db) {
      const exact = await exactTables(db);
      // every change a message feed applied, kept for the dedupe window: its id is applied once,
      // across restarts, and the changes are replayed over each full load of the mirror
      await db.schema.createTable('feed_changes', (t) => {
        exact(t);
        t.bigIncrements('seq').primary();
        t.string('source', 64).notNullable();
        t.string('message_id', 191).notNullable();
        t.string('feed', 32).notNullable();
        t.string('op', 8).notNullable();
        t.string('code', 191).notNullable();
        t.string('location', 191).notNullable();
        t.bigInteger('on_hand').notNullable();
        t.bigInteger('committed').nullable();
        // epoch ms
        t.bigInteger('event_time').notNullable();
        t.bigInteger('received_at').notNullable();
        t.unique(['source', 'message_id']);
        t.index(['source', 'event_time']);
        t.index(['received_at']);
      });
      // messages a feed could not apply, with the reason; `feeds dlq replay` asks for them again
      await db.schema.createTable('feed_dead_letters', (t) => {
        exact(t);
        t.bigIncrements('id').primary();
        t.string('source', 64).notNullable();
        t.string('feed', 32).notNullable();
        t.string('message_id', 191).nullable();
        t.string('transport_id', 191).nullable();
        t.text('body').notNullable();
        t.string('reason', 2048).notNullable();
        t.integer('attempts').notNullable().defaultTo(1);
        t.bigInteger('received_at').notNullable();
        t.bigInteger('replay_requested_at').nullable();
        t.index(['source', 'replay_requested_at']);
      });
    },
    async down(db) {
      await db.schema.dropTable('feed_dead_letters');
      await db.schema.dropTable('feed_changes');
    },
  },
  '0006_reservations': {
    async up(db) {
      const exact = await exactTables(db);
      // one row per hold; times are epoch ms (the gateway's clock, as every instance compares them)
      await db.schema.createTable('reservations', (t) => {
        exact(t);
        t.string('id', 40).primary();
        // the API key's name that made it: idempotency keys are scoped by it
        t.string('owner', 64).notNullable();
        // ACTIVE | CONFIRMED | RELEASED | EXPIRED
        t.string('status', 16).notNullable();
        t.string('channel', 64).nullable();
        t.string('reference', 191).nullable();
        t.bigInteger('created_at').notNullable();
        t.bigInteger('expires_at').notNullable();
        t.bigInteger('confirmed_at').nullable();
        // RELEASED or EXPIRED: when
        t.bigInteger('ended_at').nullable();
        // CONFIRMED: when its order was seen in a source, and which one
        t.bigInteger('handed_over_at').nullable();
        t.string('handed_over_by', 64).nullable();
        t.index(['status', 'expires_at']);
        t.index(['created_at', 'id']);
        // pruning: reservations ended (or confirmed) longer ago than `reservations.keepSeconds`
        t.index(['ended_at']);
        t.index(['status', 'confirmed_at']);
      });
      // the units held: `counts_until` is the instant the line stops counting against availability
      // (ACTIVE: its expiry; CONFIRMED: its hand-over or `confirmedHoldSeconds`; else 0)
      await db.schema.createTable('reservation_lines', (t) => {
        exact(t);
        t.string('reservation_id', 40).notNullable().references('id').inTable('reservations').onDelete('CASCADE');
        t.integer('line_no').notNullable();
        // the request's line this part holds (a routed line may be held at several locations)
        t.integer('request_line').notNullable();
        t.string('sku', 191).notNullable();
        t.string('location', 191).notNullable();
        t.integer('quantity').notNullable();
        t.bigInteger('counts_until').notNullable();
        t.primary(['reservation_id', 'line_no']);
        // availability's read of what is held (sku IN ..., counts_until > now): a range per SKU that
        // skips ended holds, and covering (location and quantity in the index, no row lookups)
        t.index(['sku', 'counts_until', 'location', 'quantity']);
        // what counts now, in all: /status and /metrics
        t.index(['counts_until']);
      });
      // idempotency keys per owner, kept for `reservations.idempotencyWindowSeconds`
      await db.schema.createTable('reservation_keys', (t) => {
        exact(t);
        t.string('owner', 64).notNullable();
        t.string('idempotency_key', 255).notNullable();
        // sha256 of the request as normalized: the same key with another body is refused
        t.string('request_hash', 64).notNullable();
        t.string('reservation_id', 40).notNullable();
        // the answer given the first time (JSON), replayed for the same key and body
        // a routed plan with its trace can pass MySQL's 64 KB TEXT
        t.text('result', 'mediumtext').notNullable();
        t.bigInteger('created_at').notNullable();
        t.bigInteger('expires_at').notNullable();
        t.primary(['owner', 'idempotency_key']);
        t.index(['expires_at']);
      });
      // one row per (sku, location) ever reserved: a reserve locks its rows (MySQL: SELECT ... FOR
      // UPDATE) so that two instances never both promise the same last unit
      await db.schema.createTable('reservation_locks', (t) => {
        exact(t);
        t.string('sku', 191).notNullable();
        t.string('location', 191).notNullable();
        t.primary(['sku', 'location']);
      });
    },
    async down(db) {
      await db.schema.dropTable('reservation_locks');
      await db.schema.dropTable('reservation_keys');
      await db.schema.dropTable('reservation_lines');
      await db.schema.dropTable('reservations');
    },
  },
  '0007_events': {
    async up(db) {
      const exact = await exactTables(db);
      // the outbox: every event, written in the transaction of the change that causes it
      await db.schema.createTable('events', (t) => {
        exact(t);
        t.bigIncrements('seq').primary();
        t.string('id', 40).notNullable().unique();
        t.string('type', 40).notNullable();
        t.string('sku', 191).nullable();
        t.string('channel', 64).nullable();
        t.string('ordering_key', 191).notNullable();
        t.bigInteger('occurred_at').notNullable();
        t.text('body', 'mediumtext').notNullable();
        t.index(['occurred_at']);
        t.index(['sku', 'seq']);
      });
      // one row per (sink, event) not yet delivered: pending, or dead after its last attempt
      await db.schema.createTable('event_deliveries', (t) => {
        exact(t);
        t.string('sink', 64).notNullable();
        t.bigInteger('seq').notNullable();
        t.string('ordering_key', 191).notNullable();
        t.string('status', 8).notNullable();
        t.integer('attempts').notNullable().defaultTo(0);
        t.string('last_error', 1024).nullable();
        t.bigInteger('failed_at').nullable();
        t.primary(['sink', 'seq']);
        t.index(['sink', 'status', 'seq']);
      });
      // the last figure (or state) published per subject: what a recompute is compared with
      await db.schema.createTable('event_baselines', (t) => {
        exact(t);
        t.string('scope', 16).notNullable();
        t.string('subject', 191).notNullable();
        t.string('channel', 64).notNullable();
        t.string('band', 8).notNullable();
        t.text('figure').notNullable();
        t.bigInteger('updated_at').notNullable();
        t.primary(['scope', 'subject', 'channel']);
      });
      // codes whose availability must be recomputed: written with the change (feed, reservation),
      // deleted with the events it caused, so a crash in between leaves them to be done again
      await db.schema.createTable('event_triggers', (t) => {
        exact(t);
        t.string('source', 64).notNullable();
        t.string('code', 191).notNullable();
        t.string('token', 40).notNullable();
        t.bigInteger('created_at').notNullable();
        t.primary(['source', 'code']);
        t.index(['created_at']);
      });
      // a resolved anomaly keeps its dedupe key here: the same condition again is `reopened`
      await db.schema.alterTable('anomalies', (t) => {
        t.string('closed_key', 255).nullable();
        t.index(['closed_key']);
      });
    },
    async down(db) {
      await db.schema.alterTable('anomalies', (t) => {
        t.dropIndex(['closed_key']);
        t.dropColumn('closed_key');
      });
      await db.schema.dropTable('event_triggers');
      await db.schema.dropTable('event_baselines');
      await db.schema.dropTable('event_deliveries');
      await db.schema.dropTable('events');
    },
  },
  '0008_sku_match': {
    async up(db) {
      // where an alias came from: `import` (written by hand, CSV import) or `match` (derived by
      // skuMap.match, src/service/sku-matching.ts), which never overwrites or removes an `import` one
      await db.schema.alterTable('sku_aliases', (t) => {
        t.string('origin', 8).notNullable().defaultTo('import');
      });
    },
    async down(db) {
      await db.schema.alterTable('sku_aliases', (t) => {
        t.dropColumn('origin');
      });
    },
  },
  '0009_anomaly_actors': {
    async up(db) {
      // who made each workflow step: an API key's name, or `sweep` when the condition cleared
      await db.schema.alterTable('anomalies', (t) => {
        t.string('acknowledged_by', 128).nullable();
        t.string('resolved_by', 128).nullable();
        t.index(['kind', 'status']);
      });
    },
    async down(db) {
      await db.schema.alterTable('anomalies', (t) => {
        t.dropIndex(['kind', 'status']);
        t.dropColumn('acknowledged_by');
        t.dropColumn('resolved_by');
      });
    },
  },
  '0010_reconciliation_findings': {
    async up(db) {
      const exact = await exactTables(db);
      // a reconcile run's lines that were not MATCH (`ReconciliationRun.findings`), for the last
      // `reconcile.keepRuns` runs; `seq` is the line's place in the run (SKU then location order)
      // and the findings' cursor
      await db.schema.createTable('reconciliation_findings', (t) => {
        exact(t);
        t.integer('run_id').notNullable();
        t.integer('seq').notNullable();
        t.string('sku', 191).notNullable();
        t.string('location', 191).notNullable();
        // EXPLAINED | WITHIN_TOLERANCE | DISCREPANCY
        t.string('status', 16).notNullable();
        t.string('authoritative', 64).notNullable();
        t.bigInteger('quantity').notNullable();
        t.bigInteger('variance').notNullable();
        t.bigInteger('explained').notNullable();
        t.bigInteger('unexplained').notNullable();
        t.string('worst_source', 64).nullable();
        t.text('explanation').nullable();
        t.string('rule', 512).notNullable();
        // JSON: every system's figure (SystemQuantity) and the worst comparison's explanations;
        // a line of many systems with their documents can pass MySQL's 64 KB TEXT
        t.text('systems', 'mediumtext').notNullable();
        t.text('explanations', 'mediumtext').notNullable();
        t.primary(['run_id', 'seq']);
        t.index(['run_id', 'status']);
        t.index(['run_id', 'sku']);
      });
    },
    async down(db) {
      await db.schema.dropTable('reconciliation_findings');
    },
  },
  '0011_leases': {
    async up(db) {
      const exact = await exactTables(db);
      // one row per job that only one instance may run at a time (the events publisher, the sweep,
      // the SKU matcher: src/service/leases.ts); `holder` keeps it until `expires_at` (epoch ms)
      // unless it renews, compare-and-set on (holder, expires_at)
      await db.schema.createTable('leases', (t) => {
        exact(t);
        t.string('name', 64).primary();
        t.string('holder', 191).notNullable();
        t.bigInteger('expires_at').notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('leases');
    },
  },
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name] as Migration,
};
