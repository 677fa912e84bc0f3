/**
 * The SKU map: canonical SKUs and, per source system, the codes that mean them. A canonical
 * SKU may have several codes in one system (their stock is added up); a (system, code) pair
 * means exactly one canonical SKU. Every lookup is batched: one statement per ~1,000 SKUs.
 */
import type { Knex } from 'knex';
import type { Alias, CanonicalSku, SkuPage } from '../domain/skus.js';
import type { AliasOrigin, ExistingAlias } from '../domain/sku-matching.js';

export type { Alias, CanonicalSku, SkuPage };

export interface ImportResult {
  skus: number;
  aliases: number;
}

const CHUNK = 1000;
/** Rows per multi-row INSERT: knex writes them as one compound SELECT on SQLite, which allows 500 terms. */
const INSERT_ROWS = 400;

export function createSkuMapStore(db: Knex) {
  return {
    /** The known SKUs among `skus`, with their aliases; unknown ones are absent from the map. */
    async findMany(skus: readonly string[]): Promise<Map<string, CanonicalSku>> {
      const found = new Map<string, CanonicalSku>();
      for (let i = 0; i < skus.length; i += CHUNK) {
        const rows: { sku: string; name: string | null; system: string | null; code: string | null }[] = await db('skus as s')
          .leftJoin('sku_aliases as a', 'a.sku', 's.sku')
          .whereIn('s.sku', skus.slice(i, i + CHUNK) as string[])
          .select('s.sku', 's.name', 'a.system', 'a.code')
          .orderBy([{ column: 's.sku' }, { column: 'a.system' }, { column: 'a.code' }]);
        for (const r of rows) {
          let c = found.get(r.sku);
          if (c === undefined) found.set(r.sku, (c = { sku: r.sku, name: r.name, aliases: [] }));
          if (r.system !== null && r.code !== null) c.aliases.push({ system: r.system, code: r.code });
        }
      }
      return found;
    },

    /** The canonical SKU a system's code means, or null when the map does not know it. */
    async resolve(system: string, code: string): Promise<string | null> {
      const row: { sku: string } | undefined = await db('sku_aliases').where({ system, code }).first('sku');
      return row?.sku ?? null;
    },

    /** The canonical SKU of each of `codes` in `system` that the map knows. */
    async resolveMany(system: string, codes: readonly string[]): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      for (let i = 0; i < codes.length; i += CHUNK) {
        const rows: { code: string; sku: string }[] = await db('sku_aliases')
          .where({ system })
          .whereIn('code', codes.slice(i, i + CHUNK) as string[])
          .select('code', 'sku');
        for (const r of rows) out.set(r.code, r.sku);
      }
      return out;
    },

    /** Which of `skus` are canonical SKUs. */
    async existing(skus: readonly string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (let i = 0; i < skus.length; i += CHUNK) {
        const rows: { sku: string }[] = await db('skus')
          .whereIn('sku', skus.slice(i, i + CHUNK) as string[])
          .select('sku');
        for (const r of rows) out.add(r.sku);
      }
      return out;
    },

    /** The catalogue in SKU order, `first` at a time, after the SKU `after` (exclusive). */
    async page(first: number, after: string | null): Promise<SkuPage> {
      const q = db('skus')
        .select('sku')
        .orderBy('sku')
        .limit(first + 1);
      if (after !== null) q.where('sku', '>', after);
      const rows: { sku: string }[] = await q;
      const page = rows.slice(0, first).map((r) => r.sku);
      return { skus: [...(await this.findMany(page)).values()], hasNextPage: rows.length > first };
    },

    async count(): Promise<number> {
      const row = (await db('skus').count({ n: '*' }).first()) as { n: number | string } | undefined;
      return Number(row?.n ?? 0);
    },

    /**
     * Adds or updates canonical SKUs and their codes, all or nothing. A (system, code) pair
     * that already means another SKU is moved to the SKU given here.
     */
    async import(entries: readonly CanonicalSku[]): Promise<ImportResult> {
      const named = entries.filter((e) => e.name !== null).map((e) => ({ sku: e.sku, name: e.name }));
      const unnamed = entries.filter((e) => e.name === null).map((e) => ({ sku: e.sku }));
      const aliases = entries.flatMap((e) => e.aliases.map((a) => ({ system: a.system, code: a.code, sku: e.sku, origin: 'import' })));
      await db.transaction(async (trx) => {
        for (const rows of chunks(named)) await trx('skus').insert(rows).onConflict('sku').merge(['name']);
        for (const rows of chunks(unnamed)) await trx('skus').insert(rows).onConflict('sku').ignore();
        // an imported alias is hand-written: matching (skuMap.match) never changes it after this
        for (const rows of chunks(aliases)) await trx('sku_aliases').insert(rows).onConflict(['system', 'code']).merge(['sku', 'origin']);
      });
      return { skus: entries.length, aliases: aliases.length };
    },

    /**
     * Every alias of `system` with a code after `after` (exclusive) up to `upTo` (inclusive), in
     * the store's byte order; null: unbounded. How matching (src/service/sku-matching.ts) reads
     * what the map holds for the codes it has just matched, a range at a time.
     */
    async aliasesInRange(system: string, after: string | null, upTo: string | null): Promise<ExistingAlias[]> {
      const q = db('sku_aliases').where({ system }).select('code', 'sku', 'origin');
      if (after !== null) q.where('code', '>', after);
      if (upTo !== null) q.where('code', '<=', upTo);
      const rows: { code: string; sku: string; origin: string }[] = await q;
      return rows.map((r) => ({ code: r.code, sku: r.sku, origin: r.origin === 'match' ? 'match' : 'import' }));
    },

    /**
     * Writes matched aliases of `system` in one transaction: `deletes` removes matched aliases
     * only, `upserts` adds aliases (and their SKUs, when new) where the code has none, so a
     * hand-written alias, even one written meanwhile, is never overwritten or removed.
     */
    async applyMatches(system: string, upserts: readonly { code: string; sku: string }[], deletes: readonly string[]): Promise<void> {
      if (upserts.length === 0 && deletes.length === 0) return;
      const origin: AliasOrigin = 'match';
      await db.transaction(async (trx) => {
        for (let i = 0; i < deletes.length; i += CHUNK) {
          await trx('sku_aliases')
            .where({ system, origin })
            .whereIn('code', deletes.slice(i, i + CHUNK) as string[])
            .delete();
        }
        const skus = [...new Set(upserts.map((u) => u.sku))].map((sku) => ({ sku }));
        for (const rows of chunks(skus)) await trx('skus').insert(rows).onConflict('sku').ignore();
        const rows = upserts.map((u) => ({ system, code: u.code, sku: u.sku, origin }));
        for (const part of chunks(rows)) await trx('sku_aliases').insert(part).onConflict(['system', 'code']).ignore();
      });
    },
  };
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += INSERT_ROWS) yield rows.slice(i, i + INSERT_ROWS);
}

export type SkuMapStore = ReturnType<typeof createSkuMapStore>;
