/**
 * Anomalies as the API sees them: the filtered, paged list, one by id, and the workflow.
 *
 * The list refuses with a clear BAD_USER_INPUT what would otherwise answer an empty page that
 * looks right: `first` outside 1..1000, an `after` this API never gave (cursors are anomaly ids),
 * a location id the config does not know or a source name it does not know (a typo such as
 * "wsm" would match nothing); the message names the bad value and the known ones.
 *
 * The workflow: acknowledge and resolve with a note, each recording the API key's name that made
 * the step (`acknowledgedBy`, `resolvedBy`), refused with a clear BAD_USER_INPUT for an unknown
 * id, a bad note or a step the anomaly's status does not allow (OPEN -> ACKNOWLEDGED -> RESOLVED,
 * or OPEN -> RESOLVED), and with STORE_BUSY at once when another writer holds the store's lock
 * (the store does not wait for it).
 */
import { BadUserInputError, StoreBusyError } from '../errors.js';
import type { AnomalyFilter, AnomalyPage } from '../domain/anomalies.js';
import type { Location, LocationIndex } from '../domain/locations.js';
import { checkPageSize, MAX_LIST_PAGE } from '../domain/validation.js';
import { AnomalyTransitionError } from '../store/anomaly-store.js';
import { isStoreBusy, type Anomaly, type Store } from '../store/index.js';

const MAX_NOTE = 1000;

/** The most values one filter list may hold (each is a bound parameter of the store's statement). */
export const MAX_FILTER_VALUES = 1000;

export interface AnomalyApiDeps {
  /** Where the `location` column's canonical ids are looked up (and filter ids checked). */
  locations: LocationIndex;
  /** The configured source names, in config order: what `filter.sources` may name. */
  sources: readonly string[];
}

const quoted = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');

export function createAnomalyWorkflow(store: Pick<Store, 'anomalies'>, deps: AnomalyApiDeps) {
  async function step(run: () => Promise<Anomaly>): Promise<Anomaly> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof AnomalyTransitionError) {
        throw new BadUserInputError(e.message, { argumentName: 'id', reason: e.reason, anomalyId: e.id, ...(e.status ? { status: e.status } : {}) });
      }
      if (isStoreBusy(e)) throw new StoreBusyError();
      throw e;
    }
  }
  function note(v: string | null | undefined, required: boolean): string | null {
    const n = v?.trim() ?? '';
    if (required && n === '') throw new BadUserInputError('A resolution needs a note saying what was done.', { argumentName: 'note' });
    if (n.length > MAX_NOTE) throw new BadUserInputError(`The note is ${n.length} characters; at most ${MAX_NOTE}.`, { argumentName: 'note' });
    return n === '' ? null : n;
  }
  /** The filter as given, each list checked: not too long, and every location id and source name known. */
  function checkFilter(filter: AnomalyFilter): AnomalyFilter {
    for (const [name, values] of Object.entries(filter) as [string, readonly string[] | null | undefined][]) {
      if (values !== null && values !== undefined && values.length > MAX_FILTER_VALUES) {
        throw new BadUserInputError(`\`filter.${name}\` has ${values.length} values; at most ${MAX_FILTER_VALUES}.`, { argumentName: `filter.${name}` });
      }
    }
    const unknownLocations = (filter.locations ?? []).filter((id) => deps.locations.get(id) === undefined);
    if (unknownLocations.length > 0) {
      throw new BadUserInputError(
        `Unknown location id${unknownLocations.length > 1 ? 's' : ''} in filter.locations: ${quoted(unknownLocations)}. Known: ${deps.locations.all.map((l) => l.id).join(', ')}.`,
        { argumentName: 'filter.locations', invalid: unknownLocations },
      );
    }
    const unknownSources = (filter.sources ?? []).filter((s) => !deps.sources.includes(s));
    if (unknownSources.length > 0) {
      throw new BadUserInputError(
        `Unknown source${unknownSources.length > 1 ? 's' : ''} in filter.sources: ${quoted(unknownSources)}. Known: ${deps.sources.join(', ')}.`,
        { argumentName: 'filter.sources', invalid: unknownSources },
      );
    }
    return filter;
  }
  /** The stored `location` as a configured location: never for UNMAPPED_LOCATION, whose column holds the source's own code. */
  function configured(a: Anomaly): Location | null {
    if (a.location === null || a.kind === 'UNMAPPED_LOCATION') return null;
    return deps.locations.get(a.location) ?? null;
  }
  return {
    /** A page of anomalies, newest first, matching every list of `filter`; `after` is a cursor (an anomaly id) a page gave. */
    async list(filter: AnomalyFilter | null | undefined, first: number, after: string | null | undefined): Promise<AnomalyPage> {
      const size = checkPageSize(first, MAX_LIST_PAGE);
      if (after !== null && after !== undefined && !/^\d{1,15}$/.test(after)) {
        throw new BadUserInputError(`\`after\` is not a cursor this API gave (an anomaly id): ${JSON.stringify(after)}.`, { argumentName: 'after' });
      }
      return store.anomalies.list(checkFilter(filter ?? {}), size, after ?? null);
    },

    /** One anomaly by id; null when there is none. */
    get: (id: string): Promise<Anomaly | null> => store.anomalies.get(id),

    /** The configured location the anomaly is about; null when it is about none, or none maps its code (see `locationCode`). */
    location: (a: Anomaly): Location | null => configured(a),

    /**
     * The stored location value no configured location is: the source's own code of an
     * UNMAPPED_LOCATION, or the id of a location since removed from the config.
     */
    locationCode: (a: Anomaly): string | null => (a.location !== null && configured(a) === null ? a.location : null),

    /** OPEN -> ACKNOWLEDGED, recorded as made by the API key named `by`. */
    acknowledge: (id: string, n: string | null | undefined, by: string) => {
      const text = note(n, false);
      return step(() => store.anomalies.acknowledge(id, text, by));
    },

    /** OPEN or ACKNOWLEDGED -> RESOLVED, recorded as made by the API key named `by`. */
    resolve: (id: string, n: string | null | undefined, by: string) => {
      const text = note(n, true);
      return step(() => store.anomalies.resolve(id, text, by));
    },
  };
}

export type AnomalyWorkflow = ReturnType<typeof createAnomalyWorkflow>;
