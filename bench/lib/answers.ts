/**
 * The hand-written servers' answers (bench/floor-server.ts, bench/limit-server.ts): the same
 * request parsing (`operationName` and `variables` of a /graphql body, never the query or its
 * trusted-document id), the same domain rules (precedence, availability, routing) and the same
 * JSON, field for field the selections of bench/lib/scenarios.ts, written with `JSON.stringify`.
 * What differs between the two servers is only where the records come from (`Reads`): the
 * floor asks the sources on every request, the limit holds them in memory.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../src/config/index.js';
import { stockLevel, summarize, unknownSku, type Availability, type Quantity, type SourcePolicy, type StockLevel } from '../../src/domain/availability.js';
import { LocationIndex, type Location } from '../../src/domain/locations.js';
import { DefaultPrecedenceStrategy, type Candidate } from '../../src/domain/precedence.js';
import type { Entity, RecordOf } from '../../src/domain/records.js';
import { routeOrder, type FulfillmentPlan, type RouteOrderRequest } from '../../src/domain/route-order.js';
import { DefaultRoutingPolicy } from '../../src/domain/routing.js';
import type { CanonicalSku } from '../../src/domain/skus.js';
import { stockProblem } from '../../src/domain/validation.js';
import type { NewAnomaly } from '../../src/store/index.js';

/** Where one request's records come from. */
export interface Reads {
  /** The known canonical SKUs among `skus`, with their aliases. */
  skus(skus: readonly string[]): Promise<Map<string, CanonicalSku>>;
  /** Per source, per canonical SKU: the source's records for that SKU's codes in it. */
  read<E extends Entity>(entity: E, sources: readonly string[], skus: readonly CanonicalSku[]): Promise<Map<string, Map<string, RecordOf[E][]>>>;
  /** Anomalies the request noticed (unmapped locations, negative on-hand). */
  anomalies(list: NewAnomaly[]): Promise<void>;
}

export interface RequestBody {
  operationName?: string;
  variables?: Record<string, unknown>;
}

/** The answers of the bench's three operations, from whatever `Reads` a request is given. */
export function createAnswers(config: Config): { answer(body: RequestBody, reads: Reads): Promise<unknown> } {
  const locations = new LocationIndex(config.locations);
  const precedence = new DefaultPrecedenceStrategy(config.precedence);
  const policy = new DefaultRoutingPolicy({ exhaustiveLimit: config.routing.exhaustiveLimit });
  const policyOf = (source: string): SourcePolicy => {
    const s = config.sources[source];
    return s === undefined ? { maxAgeSeconds: undefined, stalePolicy: 'count' } : { maxAgeSeconds: s.maxAgeSeconds, stalePolicy: s.stalePolicy };
  };

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

  async function availability(io: Reads, skus: readonly string[], channel: string | null, known?: Map<string, CanonicalSku>): Promise<Availability[]> {
    const chosen = locations.select(null, channel);
    if (skus.length === 0) return [];
    const canon = known ?? (await io.skus([...new Set(skus)]));
    const sources = precedence.order('quantity').filter((s) => chosen.some((l) => l.codes[s] !== undefined));
    const records = await io.read('stock', sources, [...canon.values()]);
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
    if (anomalies.length > 0) await io.anomalies(anomalies);
    return skus.map((s) => answers.get(s) ?? unknownSku(s));
  }

  /** inventoryItem: the SKU map, then name, cost and availability at once. */
  async function item(io: Reads, sku: string) {
    const found = (await io.skus([sku])).get(sku);
    if (found === undefined) return null;
    const one = new Map([[sku, found]]);
    const [names, costs, avail] = await Promise.all([
      io.read('items', precedence.order('name'), [found]),
      io.read('cost', precedence.order('cost'), [found]),
      availability(io, [sku], null, one),
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
    const a = avail[0] as Availability;
    return {
      sku: found.sku,
      name: name?.value.name ?? found.name,
      aliases: found.aliases.map((x) => ({ system: x.system, code: x.code })),
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

  function route(io: Reads, order: RouteOrderRequest): Promise<FulfillmentPlan> {
    return routeOrder(order, {
      locations,
      availability: (skus) => availability(io, skus, null),
      policy,
      maxLines: config.routing.maxLines,
      useStaleStock: config.routing.useStaleStock,
    });
  }

  return {
    async answer(body, io) {
      const v = body.variables ?? {};
      switch (body.operationName) {
        case 'BenchAvailability':
          return { availability: (await availability(io, v.skus as string[], (v.channel as string | undefined) ?? null)).map(availabilityJson) };
        case 'BenchItem':
          return { inventoryItem: await item(io, v.sku as string) };
        case 'BenchRoute':
          return { routeOrder: routeJson(await route(io, v.order as RouteOrderRequest)) };
        default:
          throw new Error(`this server knows no operation ${String(body.operationName)}`);
      }
    },
  };
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

/** One request as the HTTP layer hands it to a server: answer it, and say which source statements it cost. */
export type Handler = (body: RequestBody) => Promise<{ data: unknown; statements: ReadonlyMap<string, number> }>;

/**
 * node:http around a handler: reads the body, `JSON.parse`, the handler, `JSON.stringify`, with
 * the `x-source-statements` header the gateway sends. Prints `listening <url>` on stdout when
 * ready; on SIGTERM closes and runs `onStop`, then exits.
 */
export function serveAnswers(handler: Handler, o: { host: string; port: number; onStop: () => Promise<void> }): Server {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let status = 200;
    let out: string;
    let counts = '';
    try {
      const r = await handler(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RequestBody);
      out = JSON.stringify({ data: r.data });
      counts = [...r.statements].map(([k, n]) => `${k}=${n}`).join(', ');
    } catch (e) {
      status = 500;
      out = JSON.stringify({ errors: [{ message: (e as Error).message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-source-statements': counts === '' ? 'none' : counts });
    res.end(out);
  }

  const server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 30_000;
  server.listen(o.port, o.host, () => {
    const a = server.address() as AddressInfo;
    process.stdout.write(`listening http://${a.address}:${a.port}/graphql\n`);
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void o.onStop().then(() => process.exit(0));
  });
  return server;
}
