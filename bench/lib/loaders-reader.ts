/**
 * The per-request source reader of our own the service used from a5d5e14 ("Source reads: one
 * promise per batch instead of DataLoader's one per key") to the commit that went back to
 * DataLoader: src/sources/loaders.ts as of 946d3f3, kept only as bench/loader-overhead.ts's
 * contender against the DataLoader-based reader in src/. Copied as it was, except that it
 * imports the interface both implement from src/.
 *
 * All the codes a request asks of a (source, entity) within one tick become one `fetch`; a
 * code already asked in this request is not asked again (its batch's answer, or its failure,
 * is reused); one promise per batch where DataLoader's `loadMany` makes one per code.
 */
import type { Entity, RecordOf } from '../../src/domain/records.js';
import type { Connector, StatementMeter } from '../../src/sources/connector.js';
import type { RecordsByCode, SourceReader } from '../../src/sources/loaders.js';

interface Batch {
  codes: string[];
  promise: Promise<Map<string, unknown[]>>;
}

export function createHandWrittenReader(connectors: ReadonlyMap<string, Connector>, meter: StatementMeter): SourceReader {
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
