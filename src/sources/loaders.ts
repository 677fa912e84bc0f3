/**
 * One DataLoader per (source, entity), made fresh for every request: all the codes a request
 * asks of a source in one tick become one `fetch`, so a page of 500 SKUs costs one statement
 * per source per entity, not 500. Nothing is cached across requests.
 */
import DataLoader from 'dataloader';
import type { Entity, RecordOf } from '../domain/records.js';
import type { Connector, StatementMeter } from './connector.js';

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
