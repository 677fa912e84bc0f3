/**
 * The floor: what the gateway's answers cost without GraphQL. A plain node:http handler that
 * takes the same request bodies as /graphql (it reads `operationName` and `variables`, never
 * the query or its trusted-document id), issues exactly the same statements through the same modules (the store's
 * SKU map lookup, each source's connector `fetch`, the anomaly upsert), applies the same
 * domain rules (precedence, availability, routing) and writes the same JSON with
 * `JSON.stringify`. No Apollo, no graphql-js, no DataLoader, no per-source resilience wrapper.
 *
 *   node --import tsx bench/floor-server.ts --config FILE [--port N]
 *
 * Prints `listening <url>` on stdout when ready; stops on SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { stockLevel, summarize, unknownSku, type Availability, type Quantity, type SourcePolicy, type StockLevel } from '../src/domain/availability.js';
import { LocationIndex, type Location } from '../src/domain/locations.js';
import { DefaultPrecedenceStrategy, type Candidate } from '../src/domain/precedence.js';
import type { Entity, RecordOf } from '../src/domain/records.js';
import { routeOrder, type FulfillmentPlan, type RouteOrderRequest } from '../src/domain/route-order.js';
import { DefaultRoutingPolicy } from '../src/domain/routing.js';
import { stockProblem } from '../src/domain/validation.js';
import { createConnector } from '../src/sources/registry.js';
import type { Connector, StatementMeter } from '../src/sources/connector.js';
import { openStore, type CanonicalSku, type NewAnomaly } from '../src/store/index.js';

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
  const locations = new LocationIndex(config.locations);
  const precedence = new DefaultPrecedenceStrategy(config.precedence);
  const policy = new DefaultRoutingPolicy({ exhaustiveLimit: config.routing.exhaustiveLimit });
  const policyOf = (source: string): SourcePolicy => {
    const s = config.sources[source];
    return s === undefined ? { maxAgeSeconds: undefined, stalePolicy: 'count' } : { maxAgeSeconds: s.maxAgeSeconds, stalePolicy: s.stalePolicy };
  };
  const canonicalCodes = new Set(
    Object.entries(config.sources)
      .filter(([, s]) => s.skuCodes === 'canonical')
      .map(([n]) => n),
  );

  /** One request's I/O: its statement counts (for the same `x-source-statements` header) and anomalies. */
  class Request implements StatementMeter {
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

    async skus(skus: readonly string[]): Promise<Map<string, CanonicalSku>> {
      return store.skus.findMany([...new Set(skus)]);
    }

    async availability(skus: readonly string[], channel: string | null, known?: Map<string, CanonicalSku>): Promise<Availability[]> {
      const chosen = locations.select(null, channel);
      if (skus.length === 0) return [];
      const canon = known ?? (await this.skus(skus));
      const sources = precedence.order('quantity').filter((s) => chosen.some((l) => l.codes[s] !== undefined));
      const records = await this.read('stock', sources, [...canon.values()]);
      const anomalies: NewAnomaly[] = [];
      const at = new Date();
      const answers = new Map<string, Availability>();
      for (const sku of canon.values()) {
        const perSource = new Map<string, Map<string, Quantity>>();
        for (const source of sources) perSource.set(source, byLocation(source, records.get(source)?.get(sku.sku) ?? [], anomalies, at));
        const levels: StockLevel[] = [];
        for (const location of chosen) {
          const candidates: Candidate<Quantity>[] = sources
            .filter((s) => location.codes[s] !== undefined)
            .map((source) => {
              const v = perSource.get(source)?.get(location.id);
              return v === undefined ? { source, status: 'missing' } : { source, status: 'found', value: v };
            });
          const level = stockLevel(location, precedence.decide('quantity', candidates), policyOf, at);
          if (level === undefined) continue;
          levels.push(level);
          if (level.flags.includes('NEGATIVE_ON_HAND')) {
            anomalies.push({
              kind: 'NEGATIVE_ON_HAND',
              sku: sku.sku,
              location: location.id,
              source: level.provenance.source,
              detail: `${level.provenance.source ?? '?'} reports onHand ${level.onHand} for ${sku.sku} at ${location.id}`,
            });
          }
        }
        answers.set(sku.sku, summarize(sku.sku, levels));
      }
      if (anomalies.length > 0) await store.anomalies.record(anomalies);
      return skus.map((s) => answers.get(s) ?? unknownSku(s));
    }

    /** inventoryItem: the SKU map, then name, cost and availability at once (6 source statements). */
    async item(sku: string) {
      const item = (await this.skus([sku])).get(sku);
      if (item === undefined) return null;
      const one = new Map([[sku, item]]);
      const [names, costs, availability] = await Promise.all([
        this.read('items', precedence.order('name'), [item]),
        this.read('cost', precedence.order('cost'), [item]),
        this.availability([sku], null, one),
      ]);
      const first = <T>(field: 'name' | 'cost', m: Map<string, Map<string, T[]>>) =>
        precedence.decide<T>(
          field,
          precedence.order(field).map((source): Candidate<T> => {
            const r = m.get(source)?.get(sku)?.[0];
            return r === undefined ? { source, status: 'missing' } : { source, status: 'found', value: r };
          }),
        ).winner;
      const name = first('name', names);
      const cost = first('cost', costs);
      const a = availability[0] as Availability;
      return {
        sku: item.sku,
        name: name?.value.name ?? item.name,
        aliases: item.aliases.map((x) => ({ system: x.system, code: x.code })),
        unitCost: cost === undefined ? null : { amount: cost.value.amount, currency: cost.value.currency, source: cost.source },
        availability: {
          available: a.available,
          onHand: a.onHand,
          committed: a.committed,
          flags: a.flags,
          byLocation: a.byLocation.map((l) => ({
            location: { id: l.location.id, name: l.location.name },
            onHand: l.onHand,
            committed: l.committed,
            available: l.available,
            counted: l.counted,
            flags: l.flags,
            provenance: provenance(l),
          })),
        },
      };
    }

    async route(order: RouteOrderRequest): Promise<FulfillmentPlan> {
      return routeOrder(order, {
        locations,
        availability: (skus) => this.availability(skus, null),
        policy,
        maxLines: config.routing.maxLines,
        useStaleStock: config.routing.useStaleStock,
      });
    }
  }

  function byLocation(source: string, recs: readonly RecordOf['stock'][], anomalies: NewAnomaly[], at: Date): Map<string, Quantity> {
    const m = new Map<string, Quantity>();
    for (const r of recs) {
      const location = locations.fromSourceCode(source, r.location);
      if (location === undefined) {
        anomalies.push({
          kind: 'UNMAPPED_LOCATION',
          sku: null,
          location: r.location,
          source,
          detail: `${source} reports stock at location code "${r.location}", which no configured location maps`,
        });
        continue;
      }
      if (stockProblem(r, at) !== undefined) continue;
      const q = m.get(location.id);
      if (q === undefined) m.set(location.id, { onHand: r.onHand, committed: r.committed, asOf: r.asOf });
      else m.set(location.id, { onHand: q.onHand + r.onHand, committed: q.committed + r.committed, asOf: r.asOf < q.asOf ? r.asOf : q.asOf });
    }
    return m;
  }

  const provenance = (l: StockLevel) => ({
    source: l.provenance.source,
    asOf: l.provenance.asOf === null ? null : l.provenance.asOf.toISOString(),
    stale: l.provenance.stale,
    fallback: l.provenance.fallback,
    rule: l.provenance.rule,
  });

  /** The Availability selection of bench/lib/scenarios.ts, field for field. */
  const availabilityJson = (a: Availability) => ({
    sku: a.sku,
    available: a.available,
    onHand: a.onHand,
    committed: a.committed,
    safetyStock: a.safetyStock,
    flags: a.flags,
    byLocation: a.byLocation.map((l) => ({
      location: { id: l.location.id },
      onHand: l.onHand,
      committed: l.committed,
      safetyStock: l.safetyStock,
      available: l.available,
      counted: l.counted,
      flags: l.flags,
      provenance: provenance(l),
    })),
  });

  /** The Route selection of bench/lib/scenarios.ts. */
  const routeJson = (p: FulfillmentPlan) => ({
    complete: p.complete,
    strategy: p.strategy,
    method: p.method,
    shipments: p.shipments.map((s) => ({
      location: { id: (s.location as Location).id },
      lines: s.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
      distanceKm: s.distanceKm ?? null,
    })),
    unfulfilled: p.unfulfilled.map((u) => ({ sku: u.sku, quantity: u.quantity, reason: u.reason, detail: u.detail })),
    trace: p.trace.map((t) => ({
      location: { id: t.location.id },
      used: t.used,
      rank: t.rank,
      distanceKm: t.distanceKm,
      reasons: t.reasons,
      detail: t.detail,
    })),
  });

  async function answer(body: { operationName?: string; variables?: Record<string, unknown> }, r: Request): Promise<unknown> {
    const v = body.variables ?? {};
    switch (body.operationName) {
      case 'BenchAvailability':
        return { availability: (await r.availability(v.skus as string[], (v.channel as string | undefined) ?? null)).map(availabilityJson) };
      case 'BenchItem':
        return { inventoryItem: await r.item(v.sku as string) };
      case 'BenchRoute':
        return { routeOrder: routeJson(await r.route(v.order as RouteOrderRequest)) };
      default:
        throw new Error(`the floor knows no operation ${String(body.operationName)}`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r = new Request();
    let status = 200;
    let out: string;
    try {
      const data = await answer(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { operationName?: string; variables?: Record<string, unknown> }, r);
      out = JSON.stringify({ data });
    } catch (e) {
      status = 500;
      out = JSON.stringify({ errors: [{ message: (e as Error).message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
    const counts = [...r.statements].map(([k, n]) => `${k}=${n}`).join(', ');
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-source-statements': counts === '' ? 'none' : counts });
    res.end(out);
  }

  const server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 30_000;
  server.listen(Number(values.port), values.host, () => {
    const a = server.address() as AddressInfo;
    process.stdout.write(`listening http://${a.address}:${a.port}/graphql\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void Promise.all([...connectors.values()].map((c) => c.close()))
      .then(() => store.close())
      .then(() => process.exit(0));
  });
}
