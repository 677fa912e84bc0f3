/**
 * Reservations: units held at a location between checkout and order, so the last unit is never
 * promised twice. The rules, without I/O:
 *
 * - A hold counts against availability while `now < countsUntil`: an ACTIVE hold until it
 *   expires; a CONFIRMED hold until its order shows up in a source (the hand-over: the
 *   source's own committed figure counts the units now) or `confirmedHoldSeconds` after the
 *   confirmation, whichever comes first; a RELEASED or EXPIRED hold never. So an expired hold
 *   stops counting at its expiry, whether the sweeper has marked it EXPIRED yet or not.
 * - Per location: available = max(0, onHand − committed − reserved − safetyStock). A reserve
 *   may take at most what the location could promise before holds (`base`, the figure the
 *   availability rules give) minus what is held there now.
 * - Without `allowPartial` a request holds all its lines in full or nothing; with it, what can
 *   be held is, and each short line is reported.
 * - The same idempotency key with the same request answers the first result; with another
 *   request it is an IDEMPOTENCY_CONFLICT (the service compares the request's fingerprint).
 */
import { BadUserInputError } from '../errors.js';
import { inChannel, type Location, type LocationIndex } from './locations.js';
import { MAX_QUANTITY } from './validation.js';

export const RESERVATION_STATUSES = ['ACTIVE', 'CONFIRMED', 'RELEASED', 'EXPIRED'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

export interface ReservationLine {
  /** The request's line (0-based) this part holds; a routed line may be held at several locations. */
  requestLine: number;
  sku: string;
  location: Location;
  quantity: number;
}

export interface Reservation {
  id: string;
  /** As of now: an ACTIVE reservation past its expiry is EXPIRED, swept or not. */
  status: ReservationStatus;
  owner: string;
  channel: string | null;
  reference: string | null;
  lines: ReservationLine[];
  createdAt: Date;
  expiresAt: Date;
  confirmedAt: Date | null;
  /** RELEASED or EXPIRED: when. */
  endedAt: Date | null;
  /** CONFIRMED: when its order was seen in a source, and which source. */
  handedOverAt: Date | null;
  handedOverBy: string | null;
  /** Until when its lines count against availability; null when they no longer do. */
  countsUntil: Date | null;
}

export type ShortfallCode = 'INSUFFICIENT_STOCK';

/** A request line that could not be held in full. */
export interface Shortfall {
  line: number;
  sku: string;
  /** The location asked for, or null for a line the routing strategy placed. */
  locationId: string | null;
  requested: number;
  reserved: number;
  /** What could be held for it when the request was decided. */
  available: number;
  code: ShortfallCode;
  detail: string;
}

/** A reserve request as checked: every line with a known shape, the TTL resolved. */
export interface ReserveRequest {
  idempotencyKey: string;
  lines: Array<{ sku: string; quantity: number; locationId: string | null }>;
  channel: string | null;
  ttlSeconds: number;
  allowPartial: boolean;
  reference: string | null;
}

export interface ReserveInput {
  idempotencyKey: string;
  lines: ReadonlyArray<{ sku: string; quantity: number; locationId?: string | null }>;
  channel?: string | null;
  ttlSeconds?: number | null;
  allowPartial?: boolean | null;
  reference?: string | null;
}

export interface ReservationLimits {
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  maxLines: number;
}

/** The longest idempotency key (Stripe's limit) and reference kept. */
export const MAX_IDEMPOTENCY_KEY = 255;
export const MAX_REFERENCE = 191;
const MAX_SKU = 191;

/** A TTL asked by a caller, checked against the maximum; `what` names the argument in the message. */
export function checkTtl(ttlSeconds: number, max: number, what: string, problems: string[]): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) problems.push(`${what} must be a whole number of seconds, at least 1, got ${ttlSeconds}`);
  else if (ttlSeconds > max) problems.push(`${what} ${ttlSeconds} is over the maximum of ${max} (reservations.maxTtlSeconds)`);
}

/** A key or reference as given: printable, not blank, not too long. */
function checkText(v: string, what: string, max: number, problems: string[]): void {
  if (v.trim() === '') problems.push(`${what} must not be blank`);
  else if (v.length > max) problems.push(`${what} is ${v.length} characters long; at most ${max}`);
  else if (/\p{Cc}/u.test(v)) problems.push(`${what} contains a control character`);
}

/**
 * Checks a reserve request, naming every problem at once (BAD_USER_INPUT): a blank or long key,
 * no lines or too many, a quantity below 1 or absurd, an unknown location, one that is not
 * sellable or does not serve the channel, a channel no sellable location serves, a TTL over the maximum.
 */
export function checkReserveInput(input: ReserveInput, limits: ReservationLimits, locations: LocationIndex): ReserveRequest {
  const problems: string[] = [];
  checkText(input.idempotencyKey, 'idempotencyKey', MAX_IDEMPOTENCY_KEY, problems);
  if (input.reference != null) checkText(input.reference, 'reference', MAX_REFERENCE, problems);
  const channel = input.channel ?? null;
  const unknownChannel = channel === null ? undefined : locations.channelProblem(channel);
  if (unknownChannel !== undefined) problems.push(unknownChannel);
  // a location that is not sellable (channels unset: every channel) can hold nothing for it
  else if (channel !== null && !locations.all.some((l) => l.sellable && inChannel(l, channel))) {
    problems.push(`channel ${JSON.stringify(channel)}: no sellable location serves it`);
  }
  if (input.lines.length === 0) problems.push('a reservation needs at least one line');
  if (input.lines.length > limits.maxLines) problems.push(`too many lines: ${input.lines.length}, at most ${limits.maxLines} (reservations.maxLines)`);
  else
    input.lines.forEach((l, i) => {
      const at = `lines[${i}]`;
      if (l.sku.trim() === '') problems.push(`${at}: empty sku`);
      else if (l.sku.length > MAX_SKU) problems.push(`${at}: sku is ${l.sku.length} characters long; at most ${MAX_SKU}`);
      if (!Number.isInteger(l.quantity) || l.quantity < 1) problems.push(`${at} (${l.sku}): quantity must be at least 1, got ${l.quantity}`);
      else if (l.quantity > MAX_QUANTITY) problems.push(`${at} (${l.sku}): quantity ${l.quantity} is over ${MAX_QUANTITY}`);
      if (l.locationId != null) {
        const loc = locations.get(l.locationId);
        if (loc === undefined) problems.push(`${at}: unknown locationId ${JSON.stringify(l.locationId)}`);
        else if (!loc.sellable) problems.push(`${at}: location ${loc.id} is not sellable`);
        else if (channel !== null && unknownChannel === undefined && !inChannel(loc, channel)) {
          problems.push(`${at}: location ${loc.id} does not serve channel ${channel} (serves ${(loc.channels ?? []).join(', ')})`);
        }
      }
    });
  const ttlSeconds = input.ttlSeconds ?? limits.defaultTtlSeconds;
  checkTtl(ttlSeconds, limits.maxTtlSeconds, 'ttlSeconds', problems);
  if (problems.length > 0) throw new BadUserInputError(`Invalid reservation: ${problems.join('; ')}.`, { argumentName: 'input', problems });
  return {
    idempotencyKey: input.idempotencyKey,
    lines: input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, locationId: l.locationId ?? null })),
    channel,
    ttlSeconds,
    allowPartial: input.allowPartial ?? false,
    reference: input.reference ?? null,
  };
}

/** One part of a request line to hold at one location: where the caller or the routing strategy put it. */
export interface Piece {
  requestLine: number;
  sku: string;
  location: string;
  quantity: number;
  /** Placed by the routing strategy (another location might still have it), not by the caller. */
  routed: boolean;
}

/** `sku` and `location` as one map key. */
export const pairKey = (sku: string, location: string) => `${sku}\u0000${location}`;

export interface Allocation {
  /** What each piece holds (same order as the pieces; 0: nothing). */
  taken: number[];
  shortfalls: Shortfall[];
  /**
   * A routed piece found less free than planned: someone reserved in between. The caller plans
   * again with fresh figures (nothing is held), unless this was its last attempt.
   */
  raced: boolean;
}

/**
 * Decides what a request holds, given what each (sku, location) could promise before holds
 * (`base`) and what is held there now (`held`): each piece takes what is free, in order. A
 * request line's shortfall is what it asked minus what its pieces took; without `allowPartial`
 * any shortfall means nothing is taken.
 */
export function allocate(
  request: Pick<ReserveRequest, 'lines' | 'allowPartial'>,
  pieces: readonly Piece[],
  base: ReadonlyMap<string, number>,
  held: ReadonlyMap<string, number>,
  o: { lastAttempt: boolean; unplaced?: ReadonlyMap<number, string> },
): Allocation {
  const used = new Map<string, number>();
  const free = (k: string) => Math.max(0, (base.get(k) ?? 0) - (held.get(k) ?? 0) - (used.get(k) ?? 0));
  let raced = false;
  const taken = pieces.map((p) => {
    const k = pairKey(p.sku, p.location);
    const t = Math.min(p.quantity, free(k));
    if (t < p.quantity && p.routed) raced = true;
    used.set(k, (used.get(k) ?? 0) + t);
    return t;
  });
  if (raced && !o.lastAttempt) return { taken: pieces.map(() => 0), shortfalls: [], raced };
  const shortfalls: Shortfall[] = [];
  request.lines.forEach((l, i) => {
    const got = pieces.reduce((n, p, j) => (p.requestLine === i ? n + (taken[j] ?? 0) : n), 0);
    if (got >= l.quantity) return;
    const where = l.locationId === null ? '' : ` at ${l.locationId}`;
    const why = o.unplaced?.get(i);
    shortfalls.push({
      line: i,
      sku: l.sku,
      locationId: l.locationId,
      requested: l.quantity,
      reserved: got,
      available: got,
      code: 'INSUFFICIENT_STOCK',
      detail: `lines[${i}] ${l.sku}${where}: ${l.quantity} requested, ${got} could be held${why === undefined ? '' : ` (${why})`}`,
    });
  });
  if (shortfalls.length > 0 && !request.allowPartial) {
    for (const s of shortfalls) s.reserved = 0;
    return { taken: pieces.map(() => 0), shortfalls, raced };
  }
  return { taken, shortfalls, raced };
}

/** The status as of `now`: an ACTIVE reservation past its expiry is EXPIRED, whether swept yet or not. */
export function statusAt(stored: ReservationStatus, expiresAt: number, now: number): ReservationStatus {
  return stored === 'ACTIVE' && expiresAt <= now ? 'EXPIRED' : stored;
}
