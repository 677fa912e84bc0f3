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
  /** Canonical SKUs in the import. */
  skus: number;
  /** Of them, new to the map. */
  newSkus: number;
  /** Aliases in the import. */
  aliases: number;
  /** Of them: new to the map; moved from another SKU to the one given; already there, unchanged. */
  added: number;
  moved: number;
  unchanged: number;
  /** Aliases of the replaced systems that the import lacks, removed (`replace`). */
  removed: number;
}

/** A code removed from the map, and the SKU it meant. */
export interface RemovedAlias extends Alias {
  sku: string;
}

const CHUNK = 1000;
/** Rows per multi-row INSERT: knex writes them as one compound SELECT on SQLite, which allows 500 terms. */
const INSERT_ROWS = 400;

export function createSkuMapStore(db: Knex) {
  return {
    /** The known SKUs among `skus`, with their aliases; unknown ones are absent from the map. */
    findMany(skus: readonly string[]): Promise<Map<string, CanonicalSku>> {
      return findIn(db, skus);
    },

    /** The canonical SKU a system's code means, or null when the map does not know it. */
    async resolve(system: string, code: string): Promise<string | null> {
      const row: { sku: string } | undefined = await db('sku_aliases').where({ system, code }).first('sku');
      return row?.sku ?? null;
    },

    /** The canonical SKU of each of `codes` in `system` that the map knows. */
    resolveMany(system: string, codes: readonly string[]): Promise<Map<string, string>> {
      return skusOf(db, system, codes);
    },

    /** Which of `skus` are canonical SKUs. */
    existing(skus: readonly string[]): Promise<Set<string>> {
      return existingIn(db, skus);
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
     * Adds or updates canonical SKUs and their codes, all or nothing (one transaction). A
     * (system, code) pair that already means another SKU is moved to the SKU given here; a name
     * given replaces the SKU's name, none keeps it. Codes the import lacks are kept, except those
     * of the systems in `replace`: for them the import is the whole list, and the rest are
     * removed. Canonical SKUs the import lacks are always kept.
     */
    async import(entries: readonly CanonicalSku[], o: { replace?: readonly string[] } = {}): Promise<ImportResult> {
      const named = entries.filter((e) => e.name !== null).map((e) => ({ sku: e.sku, name: e.name }));
      const unnamed = entries.filter((e) => e.name === null).map((e) => ({ sku: e.sku }));
      const aliases = entries.flatMap((e) => e.aliases.map((a) => ({ system: a.system, code: a.code, sku: e.sku, origin: 'import' })));
      const result: ImportResult = { skus: entries.length, newSkus: 0, aliases: aliases.length, added: 0, moved: 0, unchanged: 0, removed: 0 };
      await db.transaction(async (trx) => {
        result.newSkus =
          entries.length -
          (
            await existingIn(
              trx,
              entries.map((e) => e.sku),
            )
          ).size;
        const bySystem = new Map<string, { code: string; sku: string }[]>();
        for (const a of aliases) (bySystem.get(a.system) ?? bySystem.set(a.system, []).get(a.system))?.push(a);
        for (const [system, list] of bySystem) {
          const before = await skusOf(
            trx,
            system,
            list.map((a) => a.code),
          );
          for (const a of list) {
            const was = before.get(a.code);
            if (was === undefined) result.added++;
            else if (was === a.sku) result.unchanged++;
            else result.moved++;
          }
        }
        for (const system of o.replace ?? []) {
          const keep = new Set((bySystem.get(system) ?? []).map((a) => a.code));
          const rows: { code: string }[] = await trx('sku_aliases').where({ system }).select('code');
          const gone = rows.map((r) => r.code).filter((c) => !keep.has(c));
          for (let i = 0; i < gone.length; i += CHUNK)
            await trx('sku_aliases')
              .where({ system })
              .whereIn('code', gone.slice(i, i + CHUNK))
              .delete();
          result.removed += gone.length;
        }
        for (const rows of chunks(named)) await trx('skus').insert(rows).onConflict('sku').merge(['name']);
        for (const rows of chunks(unnamed)) await trx('skus').insert(rows).onConflict('sku').ignore();
        // an imported alias is hand-written: matching (skuMap.match) never changes it after this
        for (const rows of chunks(aliases)) await trx('sku_aliases').insert(rows).onConflict(['system', 'code']).merge(['sku', 'origin']);
      });
      return result;
    },

    /**
     * Removes codes from the map, all or nothing: when one of them is not in the map, nothing is
     * removed and the unknown ones are returned. The SKUs they meant stay (with their other codes).
     */
    async removeAliases(codes: readonly Alias[]): Promise<{ removed: RemovedAlias[]; unknown: Alias[] }> {
      return db.transaction(async (trx) => {
        const removed: RemovedAlias[] = [];
        const unknown: Alias[] = [];
        const bySystem = new Map<string, string[]>();
        for (const a of codes) (bySystem.get(a.system) ?? bySystem.set(a.system, []).get(a.system))?.push(a.code);
        const found = new Map<string, Map<string, string>>();
        for (const [system, list] of bySystem) found.set(system, await skusOf(trx, system, list));
        for (const a of codes) {
          const sku = found.get(a.system)?.get(a.code);
          if (sku === undefined) unknown.push(a);
          else removed.push({ ...a, sku });
        }
        if (unknown.length > 0) return { removed: [], unknown };
        for (const [system, list] of bySystem)
          for (let i = 0; i < list.length; i += CHUNK)
            await trx('sku_aliases')
              .where({ system })
              .whereIn('code', list.slice(i, i + CHUNK))
              .delete();
        return { removed, unknown };
      });
    },

    /**
     * Removes canonical SKUs and every code of theirs, all or nothing: when one is not in the map,
     * nothing is removed and the unknown ones are returned.
     */
    removeSkus(skus: readonly string[]): Promise<{ removed: CanonicalSku[]; unknown: string[] }> {
      return db.transaction(async (trx) => {
        const found = await findIn(trx, skus);
        const unknown = skus.filter((s) => !found.has(s));
        if (unknown.length > 0) return { removed: [], unknown };
        for (let i = 0; i < skus.length; i += CHUNK) {
          await trx('sku_aliases')
            .whereIn('sku', skus.slice(i, i + CHUNK))
            .delete();
          await trx('skus')
            .whereIn('sku', skus.slice(i, i + CHUNK))
            .delete();
        }
        return { removed: [...found.values()], unknown };
      });
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

/** The known SKUs among `skus`, with their aliases. */
async function findIn(db: Knex, skus: readonly string[]): Promise<Map<string, CanonicalSku>> {
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
}

/** The SKU each of `codes` of `system` means now, for those the map has. */
async function skusOf(db: Knex, system: string, codes: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < codes.length; i += CHUNK) {
    const rows: { code: string; sku: string }[] = await db('sku_aliases')
      .where({ system })
      .whereIn('code', codes.slice(i, i + CHUNK) as string[])
      .select('code', 'sku');
    for (const r of rows) out.set(r.code, r.sku);
  }
  return out;
}

/** Which of `skus` the map has. */
async function existingIn(db: Knex, skus: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < skus.length; i += CHUNK) {
    const rows: { sku: string }[] = await db('skus')
      .whereIn('sku', skus.slice(i, i + CHUNK) as string[])
      .select('sku');
    for (const r of rows) out.add(r.sku);
  }
  return out;
}

function* chunks<T>(rows: readonly T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += INSERT_ROWS) yield rows.slice(i, i + INSERT_ROWS);
}

export type SkuMapStore = ReturnType<typeof createSkuMapStore>;
