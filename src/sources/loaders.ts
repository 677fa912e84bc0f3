/**
 * Batched source reads for one request, made fresh for every request: all the codes a request
 * asks of a (source, entity) within one tick become one `fetch`, so a page of 500 SKUs costs
 * one statement per source per entity, not 500; a code already asked in this request is not
 * asked again (its batch's answer, or its failure, is reused). Nothing is kept across requests.
 *
 * This is DataLoader's batching and per-request cache, for lists: a caller hands over all its
 * codes and gets one promise for them, where DataLoader's `loadMany` makes a promise per key
 * (1,500 for a 500-SKU page over three sources), which the harness showed as garbage-collector
 * time on large pages.
 */
import type { Entity, RecordOf } from '../domain/records.js';
import type { Connector, StatementMeter } from './connector.js';

/** A read's records by code: a code that was asked and has no records gets none (`get` is undefined). */
export type RecordsByCode<E extends Entity> = ReadonlyMap<string, RecordOf[E][]>;

export interface SourceReader {
  /** The records of `codes` in `source`; rejects with the source's error (one batch, one error). */
  read<E extends Entity>(source: string, entity: E, codes: readonly string[]): Promise<RecordsByCode<E>>;
}

interface Batch {
  codes: string[];
  promise: Promise<Map<string, unknown[]>>;
}

export function createSourceReader(connectors: ReadonlyMap<string, Connector>, meter: StatementMeter): SourceReader {
  /** Per `source/entity`: each code asked so far and the batch that reads it, and the batch still filling. */
  const asked = new Map<string, Map<string, Promise<Map<string, unknown[]>>>>();
  const filling = new Map<string, Batch>();

  function batchFor(key: string, source: string, entity: Entity): Batch {
    const open = filling.get(key);
    if (open !== undefined) return open;
    const connector = connectors.get(source);
    if (connector === undefined) throw new Error(`no connector named "${source}"`);
    const codes: string[] = [];
    // dispatched once the current wave of promise jobs has run, as DataLoader does, so reads
    // started by sibling resolvers in the same tick join this batch
    const promise = Promise.resolve()
      .then(() => new Promise<void>((resolve) => process.nextTick(resolve)))
      .then(async () => {
        filling.delete(key);
        const byCode = new Map<string, unknown[]>();
        for (const r of await connector.fetch(entity, codes, meter)) {
          const list = byCode.get(r.code);
          if (list === undefined) byCode.set(r.code, [r]);
          else list.push(r);
        }
        return byCode;
      });
    const batch = { codes, promise };
    filling.set(key, batch);
    return batch;
  }

  return {
    async read<E extends Entity>(source: string, entity: E, codes: readonly string[]): Promise<RecordsByCode<E>> {
      const key = `${source}/${entity}`;
      let seen = asked.get(key);
      if (seen === undefined) asked.set(key, (seen = new Map()));
      const waits = new Set<Promise<Map<string, unknown[]>>>();
      for (const code of codes) {
        let p = seen.get(code);
        if (p === undefined) {
          const batch = batchFor(key, source, entity);
          batch.codes.push(code);
          p = batch.promise;
          seen.set(code, p);
        }
        waits.add(p);
      }
      if (waits.size === 1) return (await waits.values().next().value) as RecordsByCode<E>;
      // codes from earlier batches too: only the asked ones, from whichever batch read them
      const maps = await Promise.all(waits);
      const out = new Map<string, RecordOf[E][]>();
      for (const code of codes) {
        for (const m of maps) {
          const recs = m.get(code);
          if (recs !== undefined) {
            out.set(code, recs as RecordOf[E][]);
            break;
          }
        }
      }
      return out;
    },
  };
}
