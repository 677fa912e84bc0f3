/**
 * Leases in the store (`leases`, migration 0011): the jobs only one instance of a fleet may run at
 * a time (the events publisher, the sweep, the SKU matcher) take one here, compare-and-set, so two
 * gateways sharing only the store never both run them (src/service/leases.ts keeps them renewed).
 *
 * Expiry is compared on the instances' clocks (epoch ms): keep them in sync (NTP) to well under
 * `cluster.leaseSeconds`.
 */
import type { Knex } from 'knex';

export interface LeaseRow {
  name: string;
  holder: string;
  expiresAt: number;
}

export function createLeaseStore(db: Knex) {
  return {
    /**
     * Takes lease `name` for `holder` until `now + ttlMs`, or renews it when `holder` has it: true
     * when it is now `holder`'s, false when another holder's lease has not expired.
     */
    async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
      // the row exists from the first try on, expired (0): the update below is the one compare-and-set,
      // and always changes the row (MySQL counts changed rows, not matched ones)
      await db('leases').insert({ name, holder: '', expires_at: 0 }).onConflict('name').ignore();
      const changed = await db('leases')
        .where({ name })
        .andWhere((q) => q.where({ holder }).orWhere('expires_at', '<=', now))
        .update({ holder, expires_at: now + ttlMs });
      return changed === 1;
    },
    /** Gives lease `name` up when `holder` has it (another instance takes it at its next try). */
    async release(name: string, holder: string): Promise<void> {
      await db('leases').where({ name, holder }).update({ expires_at: 0 });
    },
    /** Every lease and who holds it (expired ones included: `expiresAt` says). */
    async list(): Promise<LeaseRow[]> {
      const rows: { name: string; holder: string; expires_at: number | string }[] = await db('leases').select('name', 'holder', 'expires_at').orderBy('name');
      return rows.map((r) => ({ name: r.name, holder: r.holder, expiresAt: Number(r.expires_at) }));
    },
  };
}

export type LeaseStore = ReturnType<typeof createLeaseStore>;
