/**
 * Canonical locations, each known by a different code in each system. This is where a
 * source's location code becomes a canonical location id, and where a channel or an id
 * filter picks the locations a question is about.
 */
import type { LocationConfig } from '../config/index.js';
import { BadUserInputError } from '../errors.js';

export interface Location {
  id: string;
  name: string;
  codes: Readonly<Record<string, string>>;
  latitude: number | null;
  longitude: number | null;
  priority: number;
  /** Null: every channel. */
  channels: readonly string[] | null;
  sellable: boolean;
  safetyStock: number;
}

export class LocationIndex {
  readonly all: readonly Location[];
  private readonly byId = new Map<string, Location>();
  private readonly byCode = new Map<string, Location>();

  constructor(configs: readonly (LocationConfig & { safetyStock: number })[]) {
    this.all = configs.map((c) => ({
      id: c.id,
      name: c.name ?? c.id,
      codes: c.codes,
      latitude: c.latitude ?? null,
      longitude: c.longitude ?? null,
      priority: c.priority,
      channels: c.channels ?? null,
      sellable: c.sellable,
      safetyStock: c.safetyStock,
    }));
    for (const l of this.all) {
      this.byId.set(l.id, l);
      for (const [source, code] of Object.entries(l.codes)) this.byCode.set(key(source, code), l);
    }
  }

  get(id: string): Location | undefined {
    return this.byId.get(id);
  }

  /** The canonical location a source means by `code`, if the config maps it. */
  fromSourceCode(source: string, code: string): Location | undefined {
    return this.byCode.get(key(source, code));
  }

  /**
   * The locations a question covers: the given ids (each must exist) or all, narrowed to a
   * channel when one is given. Throws BAD_USER_INPUT naming every unknown id.
   */
  select(ids: readonly string[] | null | undefined, channel: string | null | undefined): Location[] {
    let chosen: readonly Location[] = this.all;
    if (ids !== null && ids !== undefined) {
      const unknown = ids.filter((id) => !this.byId.has(id));
      if (unknown.length > 0) {
        throw new BadUserInputError(
          `Unknown location id${unknown.length > 1 ? 's' : ''}: ${unknown.map((u) => JSON.stringify(u)).join(', ')}. Known: ${this.all.map((l) => l.id).join(', ')}.`,
          { argumentName: 'locationIds', invalid: unknown },
        );
      }
      const wanted = new Set(ids);
      chosen = chosen.filter((l) => wanted.has(l.id));
    }
    if (channel !== null && channel !== undefined) chosen = chosen.filter((l) => inChannel(l, channel));
    return [...chosen];
  }
}

export function inChannel(l: Location, channel: string): boolean {
  return l.channels === null || l.channels.includes(channel);
}

const key = (source: string, code: string) => `${source}\u0000${code}`;
