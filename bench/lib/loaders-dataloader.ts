/**
 * The per-request DataLoaders the service read sources through before "Source reads: one promise
 * per batch instead of DataLoader's one per key" (a5d5e14): src/sources/loaders.ts as of a5d5e14^,
 * with the service's step from `loadMany`'s per-code results to records per code. Kept only as
 * bench/loader-overhead.ts's contender; copied as it was.
 */
import DataLoader from 'dataloader';
import type { Entity, RecordOf } from '../../src/domain/records.js';
import type { Connector, StatementMeter } from '../../src/sources/connector.js';

export type SourceLoader<E extends Entity> = DataLoader<string, RecordOf[E][]>;

export function createSourceLoaders(connectors: ReadonlyMap<string, Connector>, meter: StatementMeter) {
  const loaders = new Map<string, DataLoader<string, unknown[]>>();
  return function loader<E extends Entity>(source: string, entity: E): SourceLoader<E> {
    const key = `${source}/${entity}`;
    let l = loaders.get(key);
    if (l === undefined) {
      const connector = connectors.get(source);
      if (connector === undefined) throw new Error(`no connector named "${source}"`);
      l = new DataLoader<string, unknown[]>(async (codes) => {
        const byCode = new Map<string, RecordOf[E][]>();
        for (const r of await connector.fetch(entity, codes, meter)) {
          const list = byCode.get(r.code);
          if (list === undefined) byCode.set(r.code, [r]);
          else list.push(r);
        }
        // DataLoader needs one entry per key, in key order: a code without records gets []
        return codes.map((c) => byCode.get(c) ?? []);
      });
      loaders.set(key, l);
    }
    return l as SourceLoader<E>;
  };
}

/** What the service did with a loader (src/domain/inventory-service.ts `read`, as of a5d5e14^): the results by code. */
export async function resultsByCode<E extends Entity>(l: SourceLoader<E>, codes: readonly string[]): Promise<Map<string, RecordOf[E][] | Error | undefined>> {
  const results = codes.length === 0 ? [] : await l.loadMany(codes);
  return new Map(codes.map((c, i) => [c, results[i]]));
}
