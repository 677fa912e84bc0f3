/**
 * The filter of `inventoryItems(filter:)`: which catalogue SKUs a scan keeps, judged on their
 * availability as `availability(locationIds:)` answers it. A SKU is kept when every condition
 * given holds; an absent or empty list does not narrow. Pure: the scan itself (batches, cursor,
 * bounds) is the InventoryService's.
 */
import { BadUserInputError } from '../errors.js';
import type { Availability, Flag } from './availability.js';
import type { LocationIndex } from './locations.js';

/** As the API gives it (`InventoryItemFilter`). */
export interface ItemFilterInput {
  flags?: readonly Flag[] | null;
  sources?: readonly string[] | null;
  locations?: readonly string[] | null;
  availableBelow?: number | null;
}

/** A checked filter: null where the caller gave nothing (or an empty list). */
export interface ItemFilter {
  flags: ReadonlySet<Flag> | null;
  sources: ReadonlySet<string> | null;
  /** The looked-at locations (canonical ids); null: every configured location. */
  locations: readonly string[] | null;
  availableBelow: number | null;
}

/**
 * Checks the filter against the config: an unknown location id or source name is
 * BAD_USER_INPUT naming it and the known ones (a typo would otherwise match nothing, an empty
 * page that looks like an answer).
 */
export function checkItemFilter(f: ItemFilterInput, knownSources: readonly string[], locations: LocationIndex): ItemFilter {
  const list = <T>(v: readonly T[] | null | undefined): readonly T[] | null => (v === null || v === undefined || v.length === 0 ? null : v);
  const ids = list(f.locations);
  const unknownIds = (ids ?? []).filter((id) => locations.get(id) === undefined);
  if (unknownIds.length > 0) {
    throw new BadUserInputError(
      `Unknown location id${unknownIds.length > 1 ? 's' : ''} in filter.locations: ${unknownIds.map((u) => JSON.stringify(u)).join(', ')}. Known: ${locations.all.map((l) => l.id).join(', ')}.`,
      { argumentName: 'filter.locations', invalid: unknownIds },
    );
  }
  const sources = list(f.sources);
  const unknownSources = (sources ?? []).filter((s) => !knownSources.includes(s));
  if (unknownSources.length > 0) {
    throw new BadUserInputError(
      `Unknown source${unknownSources.length > 1 ? 's' : ''} in filter.sources: ${unknownSources.map((u) => JSON.stringify(u)).join(', ')}. Known: ${knownSources.join(', ')}.`,
      { argumentName: 'filter.sources', invalid: unknownSources, known: knownSources },
    );
  }
  const flags = list(f.flags);
  return {
    flags: flags === null ? null : new Set(flags),
    sources: sources === null ? null : new Set(sources),
    locations: ids === null ? null : [...new Set(ids)],
    availableBelow: f.availableBelow ?? null,
  };
}

/**
 * Whether `a` (read over the filter's locations) passes: flags raised at a looked-at location
 * or on the SKU (CHANNEL_OVERSTATES), a looked-at figure from one of the sources, and
 * `available` (the SKU's total over the counted looked-at locations, as `availability` answers
 * it) below the bound.
 */
export function matchesItemFilter(a: Availability, f: ItemFilter): boolean {
  if (f.flags !== null) {
    const flags = f.flags;
    if (!a.flags.some((x) => flags.has(x)) && !a.byLocation.some((l) => l.flags.some((x) => flags.has(x)))) return false;
  }
  if (f.sources !== null) {
    const sources = f.sources;
    if (!a.byLocation.some((l) => l.provenance.source !== null && sources.has(l.provenance.source))) return false;
  }
  if (f.availableBelow !== null && !(a.available < f.availableBelow)) return false;
  return true;
}
