/**
 * Canonical locations, each known by a different code in each system. This is where a
 * source's location code becomes a canonical location id, and where a channel or an id
 * filter picks the locations a question is about.
 *
 * Channels: the names the config knows are every location's `channels` plus any other channel
 * list the config names (`events.availability.channels`, ...: the constructor's `channels`). A
 * channel asked for that is none of them is BAD_USER_INPUT naming the known ones (a typo such as
 * "wbe" would otherwise be answered by the locations that serve every channel alone, a smaller
 * figure that looks right). When no location declares `channels`, every location serves every
 * channel and any channel name is accepted (`knownChannels` is null).
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
  /** The channel names a question may ask for, in config order; null: any (no location declares `channels`). */
  readonly knownChannels: readonly string[] | null;
  private readonly byId = new Map<string, Location>();
  private readonly byCode = new Map<string, Location>();

  /** `channels`: channel names configured elsewhere than on locations (events, ...), known too. */
  constructor(configs: readonly (LocationConfig & { safetyStock: number })[], channels: readonly string[] = []) {
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
    const declared = this.all.some((l) => l.channels !== null);
    this.knownChannels = declared ? [...new Set([...this.all.flatMap((l) => l.channels ?? []), ...channels])] : null;
  }

  /** Why `channel` cannot be asked for (`unknown channel "wbe" (known: web, retail)`), or undefined when it can. */
  channelProblem(channel: string): string | undefined {
    if (this.knownChannels === null || this.knownChannels.includes(channel)) return undefined;
    return `unknown channel ${JSON.stringify(channel)} (known: ${this.knownChannels.join(', ')})`;
  }

  /** Throws BAD_USER_INPUT for a channel the config does not know (`argumentName` names the argument). */
  checkChannel(channel: string | null | undefined, argumentName = 'channel'): void {
    if (channel === null || channel === undefined) return;
    const problem = this.channelProblem(channel);
    if (problem !== undefined) {
      throw new BadUserInputError(`${problem.charAt(0).toUpperCase()}${problem.slice(1)}.`, {
        argumentName,
        invalid: channel,
        known: this.knownChannels,
      });
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
   * channel when one is given. Throws BAD_USER_INPUT naming every unknown id, or an unknown channel.
   */
  select(ids: readonly string[] | null | undefined, channel: string | null | undefined): Location[] {
    this.checkChannel(channel);
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
