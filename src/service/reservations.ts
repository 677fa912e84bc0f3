/**
 * Reservations as the API sees them: reserve, confirm, release, extend, list, and routeOrder's
 * reserve step. The rules are in src/domain/reservations.ts, the transactions in
 * src/store/reservation-store.ts; this is the orchestration.
 *
 * A reserve: the request is checked (BAD_USER_INPUT naming every problem), its idempotency key
 * looked up (the same key and input: the first result, replayed; another input:
 * IDEMPOTENCY_CONFLICT), availability read once for its SKUs through the request's
 * InventoryService (the same precedence-resolved figures storefronts get, holds subtracted),
 * lines without a location placed by the routing strategy, and then, in one store transaction
 * with the (sku, location) rows locked, what is held there now is read again and each piece
 * takes what is free. When a routed piece finds less than planned (another checkout took it in
 * between), nothing is held and the request is planned again with fresh holds, up to three
 * times. A store that is busy (SQLite: another process writing; MySQL: a deadlock or a lock wait
 * timeout) is retried a few times too, then STORE_BUSY.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ReservationsConfig } from '../config/index.js';
import { BadUserInputError, InvalidReservationStateError, IdempotencyConflictError, ReservationNotFoundError, StoreBusyError } from '../errors.js';
import type { Availability, StockLevel } from '../domain/availability.js';
import type { Location, LocationIndex } from '../domain/locations.js';
import {
  allocate,
  checkReserveInput,
  checkTtl,
  MAX_IDEMPOTENCY_KEY,
  MAX_REFERENCE,
  pairKey,
  statusAt,
  type Piece,
  type Reservation,
  type ReservationStatus,
  type ReserveInput,
  type ReserveRequest,
  type Shortfall,
} from '../domain/reservations.js';
import { notPromisable, routeOrder, type FulfillmentPlan, type RouteOrderRequest } from '../domain/route-order.js';
import type { RoutingPolicy } from '../domain/routing.js';
import { checkPageSize, MAX_LIST_PAGE } from '../domain/validation.js';
import { errorFields, type Logger } from '../logger.js';
import type { Connector } from '../sources/connector.js';
import { isStoreBusy, type Store } from '../store/index.js';
import type { ReservationRow } from '../store/reservation-store.js';
import type { InventoryService } from './inventory-service.js';

/** Plans per reserve: the first, and again after another checkout took a routed piece's units. */
const ATTEMPTS = 3;
/** Tries of one store transaction that found the store busy, with a pause between. */
const BUSY_TRIES = 6;

export interface ReserveResult {
  reservation: Reservation | null;
  shortfalls: Shortfall[];
  replayed: boolean;
}

export interface RoutedOrder {
  plan: FulfillmentPlan;
  reservation: Reservation | null;
  replayed: boolean;
}

export interface ReservationPage {
  reservations: Reservation[];
  hasNextPage: boolean;
  /** Reservations matching the list's `sku` and `status` over every page; null when it was not asked for. */
  totalCount: number | null;
}

export interface ReservationDeps {
  store: Store;
  locations: LocationIndex;
  config: ReservationsConfig;
  routing: { policy: RoutingPolicy; maxLines: number; useStaleStock: boolean };
  now?: () => Date;
}

type RequestInventory = ReturnType<InventoryService>;

/** Whether a store error is worth another try: SQLite busy, a MySQL deadlock or lock wait timeout. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return isStoreBusy(e) || code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}

async function retryBusy<T>(run: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (i >= BUSY_TRIES) throw new StoreBusyError();
      await new Promise((r) => setTimeout(r, 5 * 2 ** i * (0.5 + Math.random())));
    }
  }
}

/** sha256 of the request as checked (defaults resolved), so that equal requests have equal fingerprints. */
function fingerprint(kind: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([kind, body]))
    .digest('hex');
}

/** `res_` + 20 characters of base64url (15 random bytes). */
function newId(): string {
  return `res_${randomBytes(15).toString('base64url')}`;
}

/** Units a location's figure lets a reservation take before holds: the rules routeOrder promises by. */
function beforeHolds(level: StockLevel | undefined, useStaleStock: boolean): number {
  return level === undefined || notPromisable(level, useStaleStock) !== undefined ? 0 : level.availableBeforeHolds;
}

/** A location the config no longer has, as a reservation made before still names it. */
function gone(id: string): Location {
  return { id, name: id, codes: {}, latitude: null, longitude: null, priority: 0, channels: null, sellable: false, safetyStock: 0 };
}

export function createReservationService(deps: ReservationDeps) {
  const clock = () => (deps.now ?? (() => new Date()))().getTime();
  const { store, locations, config } = deps;
  const limits = { defaultTtlSeconds: config.defaultTtlSeconds, maxTtlSeconds: config.maxTtlSeconds, maxLines: config.maxLines };

  function toReservation(r: ReservationRow, now: number): Reservation {
    const until = r.lines.reduce((m, l) => Math.max(m, l.countsUntil), 0);
    const status = statusAt(r.status, r.expiresAt, now);
    return {
      id: r.id,
      status,
      owner: r.owner,
      channel: r.channel,
      reference: r.reference,
      lines: r.lines.map((l) => ({ requestLine: l.requestLine, sku: l.sku, location: locations.get(l.location) ?? gone(l.location), quantity: l.quantity })),
      createdAt: new Date(r.createdAt),
      expiresAt: new Date(r.expiresAt),
      confirmedAt: r.confirmedAt === null ? null : new Date(r.confirmedAt),
      // an EXPIRED hold ended at its expiry, swept or not (the sweeper's row says when it was swept)
      endedAt: status === 'EXPIRED' ? new Date(r.expiresAt) : r.endedAt === null ? null : new Date(r.endedAt),
      handedOverAt: r.handedOverAt === null ? null : new Date(r.handedOverAt),
      handedOverBy: r.handedOverBy,
      countsUntil: until > now ? new Date(until) : null,
    };
  }

  async function load(id: string, now: number): Promise<Reservation | null> {
    const r = await store.reservations.get(id);
    return r === null ? null : toReservation(r, now);
  }

  /** The first answer for a key, or IDEMPOTENCY_CONFLICT when it came with another request. */
  function checkReplay(stored: { requestHash: string }, hash: string, key: string): void {
    if (stored.requestHash !== hash) throw new IdempotencyConflictError(key);
  }

  /**
   * Where each request line's units go: its own location, or the routing strategy's plan over
   * the figures as read (holds subtracted, and the request's own located lines too). Answers the
   * pieces and, for routed lines the plan could not fill, why.
   */
  async function place(req: ReserveRequest, answers: ReadonlyMap<string, Availability>, routing: ReservationDeps['routing']) {
    const pieces: Piece[] = [];
    const unplaced = new Map<number, string>();
    const fixed = new Map<string, number>();
    req.lines.forEach((l, i) => {
      if (l.locationId === null) return;
      pieces.push({ requestLine: i, sku: l.sku, location: l.locationId, quantity: l.quantity, routed: false });
      const k = pairKey(l.sku, l.locationId);
      fixed.set(k, (fixed.get(k) ?? 0) + l.quantity);
    });
    const routed = req.lines.map((l, i) => ({ ...l, i })).filter((l) => l.locationId === null);
    if (routed.length === 0) return { pieces, unplaced };
    // the figures the plan may use: what the request's own located lines take is not there for it
    const view = (sku: string): Availability => {
      const a = answers.get(sku) as Availability;
      return {
        ...a,
        byLocation: a.byLocation.map((lv) => {
          const own = fixed.get(pairKey(sku, lv.location.id)) ?? 0;
          return own === 0 ? lv : { ...lv, available: Math.max(0, lv.available - own) };
        }),
      };
    };
    const plan = await routeOrder(
      { lines: routed.map((l) => ({ sku: l.sku, quantity: l.quantity })), channel: req.channel, strategy: config.strategy, allowSplit: true },
      { locations, availability: async (skus) => skus.map(view), policy: routing.policy, maxLines: config.maxLines, useStaleStock: routing.useStaleStock },
    );
    // the plan merges lines of one SKU: its shipments are shared out among them in request order
    const left = new Map<string, Array<{ location: string; quantity: number }>>();
    for (const s of plan.shipments)
      for (const l of s.lines) (left.get(l.sku) ?? left.set(l.sku, []).get(l.sku))?.push({ location: s.location.id, quantity: l.quantity });
    for (const l of routed) {
      let want = l.quantity;
      for (const part of left.get(l.sku) ?? []) {
        if (want === 0) break;
        const q = Math.min(want, part.quantity);
        if (q === 0) continue;
        pieces.push({ requestLine: l.i, sku: l.sku, location: part.location, quantity: q, routed: true });
        part.quantity -= q;
        want -= q;
      }
      if (want > 0) unplaced.set(l.i, plan.unfulfilled.find((u) => u.sku === l.sku)?.detail ?? 'no eligible location can promise it');
    }
    // held lines in the request's order (stable: a routed line's locations in the plan's order)
    pieces.sort((a, b) => a.requestLine - b.requestLine);
    return { pieces, unplaced };
  }

  /** What each (sku, location) of the pieces could promise before holds, by the figures as read. */
  function baseOf(pieces: readonly Piece[], answers: ReadonlyMap<string, Availability>, useStaleStock: boolean): Map<string, number> {
    const base = new Map<string, number>();
    for (const p of pieces) {
      const level = answers.get(p.sku)?.byLocation.find((l) => l.location.id === p.location);
      base.set(pairKey(p.sku, p.location), beforeHolds(level, useStaleStock));
    }
    return base;
  }

  /** Reads availability for the request's SKUs; an unknown SKU is BAD_USER_INPUT naming its lines. */
  async function read(inventory: RequestInventory, lines: ReadonlyArray<{ sku: string }>, channel: string | null): Promise<Map<string, Availability>> {
    const skus = [...new Set(lines.map((l) => l.sku))];
    const answers = new Map((await inventory.availability(skus, { channel })).map((a) => [a.sku, a]));
    const unknown = lines.map((l, i) => ({ ...l, i })).filter((l) => answers.get(l.sku)?.known === false);
    if (unknown.length > 0) {
      const problems = unknown.map((l) => `lines[${l.i}]: unknown sku ${JSON.stringify(l.sku)} (not in the SKU map)`);
      throw new BadUserInputError(`Invalid reservation: ${problems.join('; ')}.`, { argumentName: 'input', problems, unknownSkus: unknown.map((l) => l.sku) });
    }
    return answers;
  }

  return function forRequest(inventory: RequestInventory, owner: string) {
    /**
     * The reserve loop shared by `reserve` and routeOrder's reserve step: `plan` places the request
     * (reading availability afresh each attempt), the store decides under its locks.
     */
    async function hold<T>(
      key: string,
      hash: string,
      req: Pick<ReserveRequest, 'lines' | 'allowPartial' | 'channel' | 'ttlSeconds' | 'reference'>,
      plan: (attempt: number) => Promise<{ pieces: Piece[]; base: Map<string, number>; unplaced: Map<number, string>; extra?: unknown }>,
      answer: (o: { id: string | null; shortfalls: Shortfall[]; extra: unknown }) => T,
    ): Promise<{ replay: string; id: string } | { answer: T; id: string | null }> {
      for (let attempt = 1; ; attempt++) {
        const placed = await plan(attempt);
        const now = clock();
        const pairs = placed.pieces.map((p) => ({ sku: p.sku, location: p.location }));
        type Decided = 'raced' | { id: string | null; result: T };
        const outcome = await retryBusy(() =>
          store.reservations.reserve<Decided>(owner, key, pairs, now, (held) => {
            const a = allocate(req, placed.pieces, placed.base, held, { lastAttempt: attempt >= ATTEMPTS, unplaced: placed.unplaced });
            if (a.raced && attempt < ATTEMPTS) return { write: null, answer: 'raced' };
            const lines = placed.pieces
              .map((p, j) => ({ requestLine: p.requestLine, sku: p.sku, location: p.location, quantity: a.taken[j] ?? 0 }))
              .filter((l) => l.quantity > 0);
            if (lines.length === 0) return { write: null, answer: { id: null, result: answer({ id: null, shortfalls: a.shortfalls, extra: placed.extra }) } };
            const id = newId();
            const result = answer({ id, shortfalls: a.shortfalls, extra: placed.extra });
            return {
              write: {
                id,
                owner,
                channel: req.channel,
                reference: req.reference,
                createdAt: now,
                expiresAt: now + req.ttlSeconds * 1000,
                lines,
                key: { idempotencyKey: key, requestHash: hash, result: JSON.stringify(result), expiresAt: now + config.idempotencyWindowSeconds * 1000 },
              },
              answer: { id, result },
            };
          }),
        );
        if (outcome.kind === 'existing') {
          checkReplay(outcome.key, hash, key);
          // the same key committed by a concurrent request first: its reservation, as a replay
          return { replay: outcome.key.result, id: outcome.key.reservationId };
        }
        if (outcome.answer === 'raced') {
          // another checkout took what the plan counted on: plan again with the holds as they are now
          inventory.forgetHolds();
          continue;
        }
        return { answer: outcome.answer.result, id: outcome.answer.id };
      }
    }

    return {
      async reserve(input: ReserveInput): Promise<ReserveResult> {
        const req = checkReserveInput(input, limits, locations);
        const hash = fingerprint('reserve', { ...req, idempotencyKey: undefined });
        const prior = await store.reservations.findKey(owner, req.idempotencyKey, clock());
        if (prior !== null) {
          checkReplay(prior, hash, req.idempotencyKey);
          return replayReserve(prior.result, prior.reservationId);
        }
        const out = await hold(
          req.idempotencyKey,
          hash,
          req,
          async () => {
            const answers = await read(inventory, req.lines, req.channel);
            const { pieces, unplaced } = await place(req, answers, deps.routing);
            // a line held at its own location that may take nothing there says why (a stale figure still shows stock)
            for (const p of pieces) {
              if (p.routed || unplaced.has(p.requestLine)) continue;
              const why = notPromisable(
                answers.get(p.sku)?.byLocation.find((l) => l.location.id === p.location),
                deps.routing.useStaleStock,
              );
              if (why !== undefined) unplaced.set(p.requestLine, why);
            }
            return { pieces, unplaced, base: baseOf(pieces, answers, deps.routing.useStaleStock) };
          },
          ({ shortfalls }) => ({ shortfalls }),
        );
        if ('replay' in out) return replayReserve(out.replay, out.id);
        const reservation = out.id === null ? null : await load(out.id, clock());
        return { reservation, shortfalls: out.answer.shortfalls, replayed: false };
      },

      /** Plans the order and, with `reserve`, holds the plan's shipments in the same step. */
      async routeOrder(
        order: RouteOrderRequest,
        o: { reserve: boolean; idempotencyKey: string | null; ttlSeconds: number | null; reference: string | null },
      ): Promise<RoutedOrder> {
        if (!o.reserve) return { plan: await inventory.routeOrder(order), reservation: null, replayed: false };
        const problems: string[] = [];
        const key = o.idempotencyKey ?? '';
        if (key.trim() === '') problems.push('idempotencyKey is required to reserve (or pass reserve: false)');
        else if (key.length > MAX_IDEMPOTENCY_KEY) problems.push(`idempotencyKey is ${key.length} characters long; at most ${MAX_IDEMPOTENCY_KEY}`);
        if (o.reference != null && (o.reference.trim() === '' || o.reference.length > MAX_REFERENCE))
          problems.push(`reference must be 1 to ${MAX_REFERENCE} characters`);
        const ttlSeconds = o.ttlSeconds ?? config.defaultTtlSeconds;
        checkTtl(ttlSeconds, config.maxTtlSeconds, 'ttlSeconds', problems);
        if (problems.length > 0) throw new BadUserInputError(`Invalid reservation: ${problems.join('; ')}.`, { argumentName: 'idempotencyKey', problems });
        const hash = fingerprint('routeOrder', { order, ttlSeconds, reference: o.reference });
        const prior = await store.reservations.findKey(owner, key, clock());
        if (prior !== null) {
          checkReplay(prior, hash, key);
          return replayRouted(prior.result, prior.reservationId);
        }
        // the plan is held as it is, all of it or nothing: each shipment line is one line of the hold
        const held = { lines: [] as ReserveRequest['lines'], allowPartial: false, channel: order.channel ?? null, ttlSeconds, reference: o.reference };
        const out = await hold(
          key,
          hash,
          held,
          async () => {
            let answers = new Map<string, Availability>();
            const plan = await routeOrder(order, {
              locations,
              availability: async (skus) => {
                const a = await inventory.availability(skus);
                answers = new Map(a.map((x) => [x.sku, x]));
                return a;
              },
              ...deps.routing,
            });
            const pieces: Piece[] = plan.shipments.flatMap((s) =>
              s.lines.map((l) => ({ requestLine: 0, sku: l.sku, location: s.location.id, quantity: l.quantity, routed: true })),
            );
            pieces.forEach((p, i) => (p.requestLine = i));
            held.lines = pieces.map((p) => ({ sku: p.sku, quantity: p.quantity, locationId: p.location }));
            return { pieces, unplaced: new Map(), base: baseOf(pieces, answers, deps.routing.useStaleStock), extra: plan };
          },
          ({ extra }) => ({ plan: serializePlan(extra as FulfillmentPlan) }),
        );
        if ('replay' in out) return replayRouted(out.replay, out.id);
        const reservation = out.id === null ? null : await load(out.id, clock());
        return { plan: deserializePlan((out.answer as { plan: StoredPlan }).plan), reservation, replayed: false };
      },

      async confirm(id: string, reference: string | null | undefined): Promise<Reservation> {
        if (reference != null && (reference.trim() === '' || reference.length > MAX_REFERENCE)) {
          throw new BadUserInputError(`reference must be 1 to ${MAX_REFERENCE} characters.`, { argumentName: 'reference' });
        }
        const ref = reference ?? null;
        const row = await retryBusy(() =>
          store.reservations.confirm(id, ref, clock, config.confirmedHoldSeconds * 1000, (r, now) => {
            const status = statusAt(r.status, r.expiresAt, now);
            if (status === 'CONFIRMED' && (ref === null || ref === r.reference)) return;
            if (status === 'CONFIRMED')
              throw new InvalidReservationStateError(id, `already CONFIRMED with reference ${JSON.stringify(r.reference)}`, 'confirmed', 'ACTIVE reservations');
            if (status !== 'ACTIVE') throw new InvalidReservationStateError(id, status, 'confirmed', 'ACTIVE reservations');
          }),
        );
        if (row === null) throw new ReservationNotFoundError(id);
        return toReservation(row, clock());
      },

      async release(id: string): Promise<Reservation> {
        const row = await retryBusy(() =>
          store.reservations.release(id, clock, (r, now) => {
            const status = statusAt(r.status, r.expiresAt, now);
            if (status !== 'ACTIVE' && status !== 'CONFIRMED')
              throw new InvalidReservationStateError(id, status, 'released', 'ACTIVE or CONFIRMED reservations');
          }),
        );
        if (row === null) throw new ReservationNotFoundError(id);
        return toReservation(row, clock());
      },

      async extend(id: string, ttlSeconds: number): Promise<Reservation> {
        const problems: string[] = [];
        checkTtl(ttlSeconds, config.maxTtlSeconds, 'ttlSeconds', problems);
        if (problems.length > 0) throw new BadUserInputError(`${problems.join('; ')}.`, { argumentName: 'ttlSeconds' });
        const row = await retryBusy(() =>
          store.reservations.extend(id, ttlSeconds * 1000, clock, (r, now) => {
            const status = statusAt(r.status, r.expiresAt, now);
            if (status !== 'ACTIVE') throw new InvalidReservationStateError(id, status, 'extended', 'ACTIVE reservations');
          }),
        );
        if (row === null) throw new ReservationNotFoundError(id);
        return toReservation(row, clock());
      },

      get: (id: string) => load(id, clock()),

      /** A page of reservations, newest first; `count`: with how many match over every page (one more store statement). */
      async list(o: { sku: string | null; status: ReservationStatus | null; first: number; after: string | null; count?: boolean }): Promise<ReservationPage> {
        const now = clock();
        const filter = { sku: o.sku, status: o.status, now };
        const [page, total] = await Promise.all([
          store.reservations.page({ ...filter, first: checkPageSize(o.first, MAX_LIST_PAGE), after: o.after }),
          o.count === true ? store.reservations.count(filter) : null,
        ]);
        if (page === null)
          throw new BadUserInputError(`\`after\` is not a reservation id this store has: ${JSON.stringify(o.after)}.`, { argumentName: 'after' });
        return { reservations: page.reservations.map((r) => toReservation(r, now)), hasNextPage: page.hasNextPage, totalCount: total };
      },
    };

    /** A key's first answer, with its reservation (every stored key has one) as it is now. */
    async function replayReserve(stored: string, id: string): Promise<ReserveResult> {
      const r = JSON.parse(stored) as { shortfalls: Shortfall[] };
      const reservation = await load(id, clock());
      return { reservation, shortfalls: r.shortfalls, replayed: true };
    }

    /** A key's first answer, with its reservation (every stored key has one) as it is now. */
    async function replayRouted(stored: string, id: string): Promise<RoutedOrder> {
      const r = JSON.parse(stored) as { plan: StoredPlan };
      const reservation = await load(id, clock());
      return { plan: deserializePlan(r.plan), reservation, replayed: true };
    }
  };

  /** A plan as stored with its key: locations by id. */
  function serializePlan(plan: FulfillmentPlan): StoredPlan {
    return JSON.parse(
      JSON.stringify(plan, (k, v: unknown) => (k === 'location' && v !== null && typeof v === 'object' ? (v as Location).id : v)),
    ) as StoredPlan;
  }

  function deserializePlan(p: StoredPlan): FulfillmentPlan {
    const at = (id: string) => locations.get(id) ?? gone(id);
    const plan = p as unknown as FulfillmentPlan;
    const id = (l: unknown) => at(l as string);
    return {
      ...plan,
      shipments: plan.shipments.map((s) => ({ ...s, location: id(s.location) })),
      trace: plan.trace.map((t) => ({ ...t, location: id(t.location) })),
    };
  }
}

type StoredPlan = Record<string, unknown>;

/**
 * The sweeper: every `reservations.sweepIntervalSeconds`, marks ACTIVE holds past their expiry
 * EXPIRED (they already stopped counting at their expiry), hands CONFIRMED holds over whose
 * reference shows up in a source's `orders`, prunes idempotency keys past their window, and
 * deletes reservations ended or confirmed longer than `keepSeconds` ago.
 * Every instance sweeps; each step is a conditional update, so two sweeping at once do no harm.
 */
export function createReservationSweeper(o: {
  store: Store;
  connectors: ReadonlyMap<string, Connector>;
  /** A mirrored source's heardAt (epoch ms): a reference seen live counts only once the mirror has caught up past the moment it was seen. */
  heardAt?: (source: string) => number | null;
  config: ReservationsConfig;
  logger: Logger;
  now?: () => Date;
}) {
  const clock = () => (o.now ?? (() => new Date()))().getTime();
  const BATCH = 1000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  /**
   * Per mirrored source, when this instance first saw each waiting reservation's order there (its
   * clock, after the lookup answered): the hand-over waits for a mirror read that started later,
   * so the mirror's committed figure has the order before the hold stops counting.
   */
  const sightings = new Map<string, Map<string, number>>();

  async function handOver(now: number): Promise<number> {
    const sources = [...o.connectors.values()].filter((c) => c.orderReferences !== undefined);
    if (sources.length === 0) return 0;
    const waiting = await o.store.reservations.awaitingHandOver(now, BATCH);
    if (waiting.length === 0) {
      sightings.clear();
      return 0;
    }
    const refs = [...new Set(waiting.map((w) => w.reference))];
    let n = 0;
    const done = new Set<string>();
    for (const c of sources) {
      let found: Set<string>;
      try {
        found = await (c.orderReferences as NonNullable<Connector['orderReferences']>)(refs);
      } catch (e) {
        o.logger.warn('could not look up orders for confirmed reservations', { source: c.name, ...errorFields(e) });
        continue;
      }
      const seenAt = clock();
      const heard = o.heardAt?.(c.name) ?? null;
      const seen = sightings.get(c.name) ?? new Map<string, number>();
      sightings.set(c.name, seen);
      // a sighting counts while the order stays in the source and the hold waits (the whole list: not only a batch of it)
      const waitingIds = new Set(waiting.map((w) => w.id));
      for (const w of waiting) if (!found.has(w.reference)) seen.delete(w.id);
      if (waiting.length < BATCH) for (const id of seen.keys()) if (!waitingIds.has(id)) seen.delete(id);
      const ids: string[] = [];
      for (const w of waiting) {
        if (done.has(w.id) || !found.has(w.reference)) continue;
        const first = seen.get(w.id) ?? seenAt;
        // a mirror last read before the order was seen would count it nowhere yet: wait for its next read
        if (heard !== null && heard <= first) {
          seen.set(w.id, first);
          continue;
        }
        ids.push(w.id);
      }
      for (const id of ids) {
        done.add(id);
        seen.delete(id);
      }
      n += await o.store.reservations.handOver(ids, c.name, clock());
    }
    return n;
  }

  /** Until when holds that stopped counting on their own were marked for the availability events. */
  let markedUntil = clock();

  async function sweep(): Promise<{ expired: number; handedOver: number; keysPruned: number; pruned: number }> {
    const now = clock();
    if (o.store.events.enabled()) {
      // a CONFIRMED hold past confirmedHoldSeconds stops counting without a transaction: its SKUs'
      // figures rose, so they are recomputed (expiry and hand-over mark theirs in their own transaction)
      const skus = await o.store.reservations.stoppedCounting(markedUntil, now);
      if (skus.length > 0) await o.store.events.trigger(o.store.db, '', skus, true);
      markedUntil = now;
    }
    const expired = await o.store.reservations.expire(now, BATCH);
    const handedOver = await handOver(now);
    const keysPruned = await o.store.reservations.pruneKeys(now, BATCH);
    const pruned = await o.store.reservations.prune(now - o.config.keepSeconds * 1000, BATCH);
    if (expired.length + handedOver + keysPruned + pruned > 0) o.logger.info('reservations swept', { expired: expired.length, handedOver, keysPruned, pruned });
    return { expired: expired.length, handedOver, keysPruned, pruned };
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = sweep()
        .then(() => undefined)
        .catch((e: unknown) => {
          if (!isTransient(e)) o.logger.warn('reservation sweep failed; trying again next interval', errorFields(e));
        })
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, o.config.sweepIntervalSeconds * 1000);
    timer.unref();
  }

  return {
    /** One sweep now (tests, and the CLI). */
    sweep,
    start(): void {
      stopped = false;
      if (timer === undefined) schedule();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

export type ReservationService = ReturnType<typeof createReservationService>;
export type ReservationSweeper = ReturnType<typeof createReservationSweeper>;
