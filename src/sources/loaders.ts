/**
 * Batched source reads for one request, made fresh for every request: one DataLoader per
 * (source, entity), so all the codes a request asks of a source within one tick become one
 * `fetch` (a page of 500 SKUs costs one statement per source per entity, not 500), and a code
 * already asked in this request is not asked again: its answer, or its batch's failure, is
 * reused. Nothing is kept across requests.
 *
 * DataLoader's options, as it names them, and why each is left as it is or set:
 * - `batch` (default true) with `maxBatchSize` (default Infinity): every code asked in the tick
 *   goes to one fetch; the connector splits a long IN list itself (the SQL connector at about
 *   1,000 codes, src/sources/sql.ts), so the statement count is the connector's to decide;
 * - `batchScheduleFn` (default: after the current promise jobs, on process.nextTick): reads
 *   started by sibling resolvers in the same tick join one batch;
 * - `cache` (default true) with `cacheKeyFn` (default: the key itself; codes are strings) and
 *   `cacheMap` (default a Map): the per-request cache, dropped with the loader at the request's
 *   end;
 * - failures: the batch function answers every code of a failed fetch with the source's error
 *   instead of rejecting, because DataLoader forgets the keys of a rejected batch, and a later
 *   read in the same request would ask the failing source again (another statement, another
 *   wait for its deadline); an Error value per key is cached like an answer.
 *
 * From a5d5e14 to the commit that went back to DataLoader this was a reader of our own (one
 * promise per batch rather than one per code); it saved 0.27–0.46 µs per code, at most 7–9 % of
 * a SQLite read's CPU (500 codes) and 2–4 % of a MariaDB read's wall time, and nothing a whole
 * request showed (bench/loader-overhead.ts, bench/RESULTS-libraries.md).
 */
import DataLoader from 'dataloader';
import type { Entity, RecordOf } from '../domain/records.js';
import type { Connector, StatementMeter } from './connector.js';

/** A read's records by code: a code that was asked and has no records gets none (`get` is undefined). */
export type RecordsByCode<E extends Entity> = ReadonlyMap<string, RecordOf[E][]>;

export interface SourceReader {
  /** The records of `codes` in `source`; rejects with the source's error (one batch, one error). */
  read<E extends Entity>(source: string, entity: E, codes: readonly string[]): Promise<RecordsByCode<E>>;
}

export function createSourceReader(connectors: ReadonlyMap<string, Connector>, meter: StatementMeter): SourceReader {
  /** Per `source/entity`. */
  const loaders = new Map<string, DataLoader<string, unknown[]>>();

  function loaderFor(source: string, entity: Entity): DataLoader<string, unknown[]> {
    const key = `${source}/${entity}`;
    let l = loaders.get(key);
    if (l === undefined) {
      const connector = connectors.get(source);
      if (connector === undefined) throw new Error(`no connector named "${source}"`);
      l = new DataLoader<string, unknown[]>(async (codes) => {
        let records: readonly { code: string }[];
        try {
          records = await connector.fetch(entity, codes, meter);
        } catch (e) {
          const error = e instanceof Error ? e : new Error(String(e));
          return codes.map(() => error);
        }
        const byCode = new Map<string, unknown[]>();
        for (const r of records) {
          const list = byCode.get(r.code);
          if (list === undefined) byCode.set(r.code, [r]);
          else list.push(r);
        }
        // DataLoader needs one entry per key, in key order: a code without records gets []
        return codes.map((c) => byCode.get(c) ?? []);
      });
      loaders.set(key, l);
    }
    return l;
  }

  return {
    async read<E extends Entity>(source: string, entity: E, codes: readonly string[]): Promise<RecordsByCode<E>> {
      const results = await loaderFor(source, entity).loadMany(codes);
      const out = new Map<string, RecordOf[E][]>();
      for (let i = 0; i < codes.length; i++) {
        const r = results[i];
        if (r instanceof Error) throw r;
        if (r !== undefined && r.length > 0) out.set(codes[i] as string, r as RecordOf[E][]);
      }
      return out;
    },
  };
}
