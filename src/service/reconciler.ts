/**
 * Reconciliation's reads: for a batch of canonical SKUs, every stock source's records and
 * movements (one statement per source per entity per ~1,000 codes, as for availability), put
 * side by side per (sku, location) and compared by the rules in src/domain/reconciliation.ts;
 * and orphan detection, a page of a source's codes at a time.
 */
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';
import type { Connector, StatementMeter } from '../sources/connector.js';
import { unmappedLocationAnomaly, type NewAnomaly } from '../domain/anomalies.js';
import type { Location, LocationIndex } from '../domain/locations.js';
import type { Candidate, PrecedenceStrategy } from '../domain/precedence.js';
import type { MovementRecord, StockRecord } from '../domain/records.js';
import type { CanonicalSku } from '../domain/skus.js';
import { MAX_REFERENCES, MovementKinds } from '../domain/movements.js';
import { compareLine, describeExplanations, type Gap, type MovementFigure, type RawFigure, type ReconciliationLine } from '../domain/reconciliation.js';

export interface SourcePolicyLike {
  maxAgeSeconds: number | undefined;
  skuCodes: 'mapped' | 'canonical';
  /** A channel's view (`channelView`): what it promises, not a count; left out of reconciliation. */
  channelView?: { channel: string };
}

export interface ReconciliationDeps {
  connectors: ReadonlyMap<string, Connector>;
  settings: ReadonlyMap<string, SourcePolicyLike>;
  locations: LocationIndex;
  precedence: PrecedenceStrategy;
  logger: Logger;
  now?: () => Date;
  /** What each movement kind means and which systems it explains (the config's `movementKinds`); the built-in kinds when unset. */
  movementKinds?: MovementKinds;
}

/** The failure of one source during a reconciliation: its figures are missing, the answer is incomplete. */
export interface ReconciliationFailure {
  source: string;
  error: unknown;
}

export interface BatchResult {
  lines: ReconciliationLine[];
  gaps: Gap[];
  failures: ReconciliationFailure[];
  /** DISCREPANCY lines past tolerance, stale sources and unmapped locations, ready for the anomaly store. */
  anomalies: NewAnomaly[];
}

export type Reconciler = ReturnType<typeof createReconciler>;

export function createReconciler(deps: ReconciliationDeps) {
  const now = deps.now ?? (() => new Date());
  const kinds = deps.movementKinds ?? new MovementKinds();
  const stockSources = (): string[] => {
    const ordered = deps.precedence.order('quantity').filter((s) => deps.connectors.get(s)?.entities.has('stock'));
    const rest = [...deps.connectors.values()]
      .filter((c) => c.entities.has('stock') && !ordered.includes(c.name) && deps.settings.get(c.name)?.channelView === undefined)
      .map((c) => c.name);
    return [...ordered, ...rest];
  };

  function codesFor(source: string, sku: CanonicalSku): string[] {
    if (deps.settings.get(source)?.skuCodes === 'canonical') return [sku.sku];
    return sku.aliases.filter((a) => a.system === source).map((a) => a.code);
  }

  /**
   * Reconciles a batch of known SKUs at `locations`: one read per source per entity (chunked by
   * the connector), then pure comparison. A source that fails is reported in `failures` and
   * left out of the lines.
   */
  async function batch(skus: readonly CanonicalSku[], o: { locations: readonly Location[]; tolerance: number; meter?: StatementMeter }): Promise<BatchResult> {
    const sources = stockSources().filter((s) => o.locations.some((l) => l.codes[s] !== undefined));
    const failures: ReconciliationFailure[] = [];
    const anomalies: NewAnomaly[] = [];
    const stock = new Map<string, Map<string, StockRecord[]>>();
    const moves = new Map<string, Map<string, MovementRecord[]>>();
    await Promise.all(
      sources.map(async (source) => {
        const c = deps.connectors.get(source) as Connector;
        const codes = [...new Set(skus.flatMap((s) => codesFor(source, s)))];
        try {
          const [st, mv] = await Promise.all([
            codes.length === 0 ? [] : c.fetch('stock', codes, o.meter),
            codes.length === 0 || !c.entities.has('movements') ? [] : c.fetch('movements', codes, o.meter),
          ]);
          stock.set(source, group(st));
          moves.set(source, group(mv));
        } catch (error) {
          deps.logger.warn('source failed during reconciliation', { source, ...errorFields(error) });
          failures.push({ source, error });
        }
      }),
    );
    const live = sources.filter((s) => stock.has(s));
    const at = now();
    const lines: ReconciliationLine[] = [];
    const gaps: Gap[] = [];

    for (const sku of skus) {
      const holders = live.filter((s) => codesFor(s, sku).length > 0);
      if (stockSources().every((s) => codesFor(s, sku).length === 0)) {
        gaps.push({ sku: sku.sku, source: null, reason: 'NO_CODE', detail: `no stock source has a code for ${sku.sku} in the SKU map` });
      }
      // per source: canonical location id -> figure (records of all the SKU's codes summed)
      const perSource = new Map<string, Map<string, RawFigure>>();
      for (const source of holders) {
        const recs = codesFor(source, sku).flatMap((c) => stock.get(source)?.get(c) ?? []);
        if (recs.length === 0) {
          gaps.push({
            sku: sku.sku,
            source,
            reason: 'NO_RECORD',
            detail: `${source} has code ${codesFor(source, sku).join(', ')} for ${sku.sku} in the SKU map, and no stock record for it`,
          });
        }
        const m = new Map<string, RawFigure>();
        const maxAge = deps.settings.get(source)?.maxAgeSeconds;
        for (const r of recs) {
          const loc = deps.locations.fromSourceCode(source, r.location);
          if (loc === undefined) {
            anomalies.push(unmappedLocationAnomaly(source, r.location));
            continue;
          }
          const stale = maxAge !== undefined && at.getTime() - r.asOf.getTime() > maxAge * 1000;
          const f = m.get(loc.id);
          if (f === undefined) {
            m.set(loc.id, {
              source,
              onHand: r.onHand,
              committed: r.committed,
              asOf: r.asOf,
              stale,
              snapshotFallback: r.snapshotFallback === true,
              movements: [],
            });
          } else {
            f.onHand = (f.onHand ?? 0) + r.onHand;
            f.committed = (f.committed ?? 0) + r.committed;
            if (f.asOf === null || r.asOf < f.asOf) f.asOf = r.asOf;
            f.stale ||= stale;
            f.snapshotFallback ||= r.snapshotFallback === true;
          }
        }
        // per movement figure: its documents, with the oldest asOf each
        const documents = new Map<MovementFigure, Map<string, number>>();
        for (const mv of codesFor(source, sku).flatMap((c) => moves.get(source)?.get(c) ?? [])) {
          const loc = deps.locations.fromSourceCode(source, mv.location);
          if (loc === undefined) continue;
          let f = m.get(loc.id);
          if (f === undefined) m.set(loc.id, (f = { source, onHand: null, committed: null, asOf: null, stale: false, snapshotFallback: false, movements: [] }));
          let same = f.movements.find((x) => x.kind === mv.kind);
          if (same === undefined) f.movements.push((same = { kind: mv.kind, quantity: mv.quantity, asOf: mv.asOf, references: [], referenceCount: 0 }));
          else {
            same.quantity += mv.quantity;
            if (mv.asOf > same.asOf) same.asOf = mv.asOf;
          }
          if (mv.reference !== undefined) {
            let docs = documents.get(same);
            if (docs === undefined) documents.set(same, (docs = new Map()));
            const seen = docs.get(mv.reference);
            if (seen === undefined || mv.asOf.getTime() < seen) docs.set(mv.reference, mv.asOf.getTime());
          }
        }
        for (const [f, docs] of documents) {
          const sorted = [...docs].sort(([ra, ta], [rb, tb]) => ta - tb || (ra < rb ? -1 : ra > rb ? 1 : 0));
          f.references = sorted.slice(0, MAX_REFERENCES).map(([r]) => r);
          f.referenceCount = docs.size;
        }
        perSource.set(source, m);
      }

      for (const location of o.locations) {
        const here = holders.filter((s) => location.codes[s] !== undefined);
        if (!here.some((s) => perSource.get(s)?.get(location.id)?.onHand != null)) continue;
        const figures: RawFigure[] = here.map(
          (s) =>
            perSource.get(s)?.get(location.id) ?? {
              source: s,
              onHand: null,
              committed: null,
              asOf: null,
              stale: false,
              snapshotFallback: false,
              movements: [],
            },
        );
        const candidates: Candidate<RawFigure>[] = figures
          .filter((f) => deps.precedence.order('quantity').includes(f.source))
          .map((f) => (f.onHand === null ? { source: f.source, status: 'missing' } : { source: f.source, status: 'found', value: f }));
        const decision = deps.precedence.decide('quantity', candidates);
        const winner = decision.winner?.source ?? figures.find((f) => f.onHand !== null)?.source;
        const ai = figures.findIndex((f) => f.source === winner);
        const { systems, worst } = compareLine(figures, ai, o.tolerance, kinds);
        const w = worst < 0 ? undefined : systems[worst];
        const line: ReconciliationLine = {
          sku: sku.sku,
          location,
          authoritative: winner as string,
          quantity: (figures[ai] as RawFigure).onHand ?? 0,
          variance: w?.variance ?? 0,
          explained: w?.explained ?? 0,
          unexplained: w?.unexplained ?? 0,
          status: w?.status ?? 'MATCH',
          worstSource: w?.source ?? null,
          systems,
          rule: decision.rule,
          explanations: w?.explanations ?? [],
          explanation: describeExplanations(w?.explanations ?? []),
        };
        lines.push(line);
        for (const s of systems) {
          if (s.status !== 'DISCREPANCY') continue;
          anomalies.push({
            kind: 'DISCREPANCY',
            sku: sku.sku,
            location: location.id,
            source: s.source,
            detail:
              `${s.source} reports ${s.onHand ?? 0} for ${sku.sku} at ${location.id}, ${winner} (authoritative) ${line.quantity}: ` +
              `variance ${signed(s.variance)}, ${signed(s.explained)} explained by movements, ${signed(s.unexplained)} unexplained (tolerance ${o.tolerance})`,
          });
        }
      }
    }
    return { lines, gaps, failures, anomalies };
  }

  return { batch, stockSources, codesFor };
}

function group<R extends { code: string }>(records: readonly R[]): Map<string, R[]> {
  const m = new Map<string, R[]>();
  for (const r of records) {
    const l = m.get(r.code);
    if (l === undefined) m.set(r.code, [r]);
    else l.push(r);
  }
  return m;
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

/** Which of a page of a source's codes the SKU map knows (batched; see the reconciliation store). */
export type KnownCodes = (source: string, codes: readonly string[], canonical: boolean) => Promise<Set<string>>;

/**
 * One page of a source's codes and the orphans among them. `after` is the last code of the
 * previous page (null to start); `next` is null at the end.
 */
export async function orphanPage(
  connector: Connector,
  canonical: boolean,
  known: KnownCodes,
  after: string | null,
  pageSize: number,
  meter?: StatementMeter,
): Promise<{ scanned: number; orphans: string[]; next: string | null }> {
  if (connector.listCodes === undefined) throw new Error(`source "${connector.name}" cannot list its codes`);
  const codes = await connector.listCodes(after, pageSize, meter);
  const k = await known(connector.name, codes, canonical);
  return { scanned: codes.length, orphans: codes.filter((c) => !k.has(c)), next: codes.length < pageSize ? null : (codes.at(-1) ?? null) };
}
