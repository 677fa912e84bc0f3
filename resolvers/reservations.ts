/** Reservations: each root field maps its arguments to one reservation service call. */
import type {
  MutationResolvers,
  QueryResolvers,
  ReservationConnectionResolvers,
  ReservationLineResolvers,
  ReservationResolvers,
} from '../src/generated/graphql.js';
import { selects } from './selection.js';

export const reservationQuery: Pick<QueryResolvers, 'reservation' | 'reservations'> = {
  reservation: (_, a, ctx) => ctx.reservations.get(a.id),
  reservations: (_, a, ctx, info) =>
    ctx.reservations.list({ sku: a.sku ?? null, status: a.status ?? null, first: a.first ?? 50, after: a.after ?? null, count: selects(info, 'totalCount') }),
};

export const reservationMutation: Pick<MutationResolvers, 'reserve' | 'confirmReservation' | 'releaseReservation' | 'extendReservation' | 'routeOrder'> = {
  reserve: (_, a, ctx) => ctx.reservations.reserve(a.input),
  confirmReservation: (_, a, ctx) => ctx.reservations.confirm(a.id, a.reference),
  releaseReservation: (_, a, ctx) => ctx.reservations.release(a.id),
  extendReservation: (_, a, ctx) => ctx.reservations.extend(a.id, a.ttlSeconds),
  routeOrder: (_, a, ctx) =>
    ctx.reservations.routeOrder(a.order, {
      reserve: a.reserve ?? true,
      idempotencyKey: a.idempotencyKey ?? null,
      ttlSeconds: a.ttlSeconds ?? null,
      reference: a.reference ?? null,
    }),
};

export const Reservation: ReservationResolvers = {
  counting: (r) => r.countsUntil !== null,
};

export const ReservationLine: ReservationLineResolvers = {
  line: (l) => l.requestLine,
};

export const ReservationConnection: ReservationConnectionResolvers = {
  nodes: (page) => page.reservations,
  edges: (page) => page.reservations.map((node) => ({ cursor: node.id, node })),
  pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.reservations.at(-1)?.id ?? null }),
};
