/**
 * Checks every mapping of every source against the real system, one line per source and entity:
 * what `inventory-graph config check --connect` prints and what start-up logs
 * (src/service/runtime.ts `pingSources`). Through the Connector interface only: a connector with
 * `probe` says per mapping what it holds or what is wrong (SQL: the mapping's statement with an
 * empty IN list, then its distinct codes; files: the newest file, its header, its rows); any
 * other kind is pinged, and its ping stands for each of its entities.
 *
 *   const lines = await probeSources(connectors.values());
 *   for (const l of formatProbeLines(lines)) console.log(l);   // erp    cost    FAILED  table "tabItem Price" does not exist
 */
import { MappingError, type Connector, type EntityProbe } from './connector.js';
import { describeSourceFailure, SourceError } from './resilience.js';

/** One mapping of one source, checked. */
export interface ProbeLine {
  source: string;
  entity: string;
  ok: boolean;
  /** Ok: what it holds (`412 codes`, `answers`); failed: what is wrong. */
  detail: string;
}

/** One source's lines: its probe, else its ping for each entity; a source that cannot be reached fails every entity with the reason. */
export async function probeSource(c: Connector): Promise<ProbeLine[]> {
  const line = (p: EntityProbe): ProbeLine => ({ source: c.name, entity: p.entity, ok: p.ok, detail: p.ok ? p.detail : p.reason });
  const every = (ok: boolean, detail: string) => [...c.entities].map((entity) => ({ source: c.name, entity, ok, detail }));
  try {
    if (c.probe !== undefined) return (await c.probe()).map(line);
    await c.ping();
    return every(true, 'answers');
  } catch (e) {
    const wrong = mappingErrorsOf(e);
    if (wrong.length > 0) {
      // a ping that found some mappings wrong: the others answered
      return [...c.entities].map((entity) => {
        const w = wrong.find((m) => m.entity === entity);
        return { source: c.name, entity, ok: w === undefined, detail: w === undefined ? 'answers' : w.reason };
      });
    }
    return every(false, reasonOf(e));
  }
}

/** Every source's lines, in the given (config) order; the sources are checked at the same time. */
export async function probeSources(connectors: Iterable<Connector>): Promise<ProbeLine[]> {
  return (await Promise.all([...connectors].map((c) => probeSource(c)))).flat();
}

/** The lines as printed: source, entity and `ok` / `FAILED` in aligned columns, then the detail. */
export function formatProbeLines(lines: readonly ProbeLine[]): string[] {
  const w = (f: (l: ProbeLine) => string) => Math.max(0, ...lines.map((l) => f(l).length));
  const source = w((l) => l.source);
  const entity = w((l) => l.entity);
  return lines.map((l) => `${l.source.padEnd(source)}  ${l.entity.padEnd(entity)}  ${(l.ok ? 'ok' : 'FAILED').padEnd(6)}  ${l.detail}`.trimEnd());
}

/** One line without padding, for a log message: `erp cost FAILED table "tabItem Price" does not exist`. */
export function probeLineText(l: ProbeLine): string {
  return `${l.source} ${l.entity} ${l.ok ? 'ok' : 'FAILED'} ${l.detail}`;
}

function mappingErrorsOf(e: unknown): MappingError[] {
  if (e instanceof MappingError) return e.all();
  if (e instanceof SourceError && e.cause instanceof MappingError) return e.cause.all();
  return [];
}

/**
 * Why a source could not be checked, in one line: the resilience layer's reason, a driver error
 * in its words (`connection refused`), else the error's own first line (a file source's says which
 * file and why), never a stack trace.
 */
function reasonOf(e: unknown): string {
  const described = describeSourceFailure(e);
  if (e instanceof SourceError || !described.endsWith('(see the server log)')) return described;
  const message = e instanceof Error ? e.message : String(e);
  return (message.split('\n')[0] ?? message).replace(/^source "[^"]*": /, '');
}
