/** Every resolver, typed against schema/ by the generated types. */
import type { Resolvers } from '../src/generated/graphql.js';
import { Anomaly, AnomalyConnection, anomalyQuery } from './anomalies.js';
import { Query } from './query.js';
import {
  anomalyMutation,
  Movement,
  OrphanCodeConnection,
  Reconciliation,
  ReconciliationLineConnection,
  ReconciliationRun,
  ReconciliationRunConnection,
  reconciliationQuery,
} from './reconciliation.js';
import { Reservation, ReservationConnection, ReservationLine, reservationMutation, reservationQuery } from './reservations.js';
import { routingQuery } from './routing.js';
import { sweepQuery } from './sweep.js';
import { DateTime, Decimal } from './scalars.js';
import { Availability, InventoryItem, InventoryItemConnection, Location, Source, StockLevel } from './types.js';

export const resolvers: Resolvers = {
  Query: { ...Query, ...anomalyQuery, ...routingQuery, ...reconciliationQuery, ...reservationQuery, ...sweepQuery },
  Mutation: { ...anomalyMutation, ...reservationMutation },
  Reservation,
  ReservationLine,
  ReservationConnection,
  Movement,
  Anomaly,
  AnomalyConnection,
  Reconciliation,
  OrphanCodeConnection,
  ReconciliationRun,
  ReconciliationRunConnection,
  ReconciliationLineConnection,
  InventoryItem,
  InventoryItemConnection,
  Availability,
  StockLevel,
  Location,
  Source,
  DateTime,
  Decimal,
};
