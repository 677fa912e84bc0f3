/**
 * The floor: what the gateway's answers cost without GraphQL. A plain node:http handler that
 * takes the same request bodies as /graphql (it reads `operationName` and `variables`, never
 * the query or its trusted-document id), issues exactly the same statements through the same modules (the store's
 * SKU map lookup, each source's connector `fetch`, the anomaly upsert), applies the same
 * domain rules (precedence, availability, routing) and writes the same JSON with
 * `JSON.stringify` (bench/lib/answers.ts, shared with the in-memory limit, bench/limit-server.ts).
 * No Apollo, no graphql-js, no DataLoader, no per-source resilience wrapper.
 *
 *   node --import tsx bench/floor-server.ts --config FILE [--port N]
 *
 * Prints `listening <url>` on stdout when ready; stops on SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import type { Entity, RecordOf } from '../src/domain/records.js';
import { createConnector } from '../src/sources/registry.js';
import type { Connector, StatementMeter } from '../src/sources/connector.js';
import { openStore, type CanonicalSku, type NewAnomaly } from '../src/store/index.js';
import { createAnswers, serveAnswers, type Reads } from './lib/answers.js';

const { values } = parseArgs({
  options: { config: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
if (values.config === undefined) throw new Error('--config FILE is required');
await serve(values.config);

async function serve(configPath: string): Promise<void> {
  const config = loadConfig(configPath);
  const store = await openStore(config.store);
  const connectors = new Map<string, Connector>(Object.entries(config.sources).map(([name, s]) => [name, createConnector(name, s)]));
  // as the gateway does at start-up: every source answers once (a file source loads its snapshot)
  await Promise.all([...connectors.values()].map((c) => c.ping()));
  const answers = createAnswers(config);
  const canonicalCodes = new Set(
    Object.entries(config.sources)
      .filter(([, s]) => s.skuCodes === 'canonical')
      .map(([n]) => n),
  );

  /** One request's I/O: its statement counts (for the same `x-source-statements` header) and anomalies. */
  class Request implements StatementMeter, Reads {
    readonly statements = new Map<string, number>();
    statement(source: string, entity: Entity): void {
      const k = `${source}/${entity}`;
      this.statements.set(k, (this.statements.get(k) ?? 0) + 1);
    }

    codesFor(source: string, sku: CanonicalSku): string[] {
      if (canonicalCodes.has(source)) return [sku.sku];
      return sku.aliases.filter((a) => a.system === source).map((a) => a.code);
    }

    /** Each source's records per canonical SKU: one fetch per source, all sources at once. */
    async read<E extends Entity>(entity: E, sources: readonly string[], skus: readonly CanonicalSku[]): Promise<Map<string, Map<string, RecordOf[E][]>>> {
      const out = new Map<string, Map<string, RecordOf[E][]>>();
      await Promise.all(
        sources.map(async (source) => {
          const codes = [...new Set(skus.flatMap((s) => this.codesFor(source, s)))];
          const records = codes.length === 0 ? [] : await (connectors.get(source) as Connector).fetch(entity, codes, this);
          const byCode = new Map<string, RecordOf[E][]>();
          for (const r of records) {
            const list = byCode.get(r.code);
            if (list === undefined) byCode.set(r.code, [r]);
            else list.push(r);
          }
          const bySku = new Map<string, RecordOf[E][]>();
          for (const sku of skus)
            bySku.set(
              sku.sku,
              this.codesFor(source, sku).flatMap((c) => byCode.get(c) ?? []),
            );
          out.set(source, bySku);
        }),
      );
      return out;
    }

    skus(skus: readonly string[]): Promise<Map<string, CanonicalSku>> {
      return store.skus.findMany(skus);
    }

    async anomalies(list: NewAnomaly[]): Promise<void> {
      await store.anomalies.record(list);
    }
  }

  serveAnswers(
    async (body) => {
      const r = new Request();
      return { data: await answers.answer(body, r), statements: r.statements };
    },
    {
      host: values.host as string,
      port: Number(values.port),
      onStop: () => Promise.all([...connectors.values()].map((c) => c.close())).then(() => store.close()),
    },
  );
}
