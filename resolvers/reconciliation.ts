/** Reconciliation, orphan codes, reconcile runs and the anomaly workflow: each maps its arguments to one domain call. */
import type { MovementResolvers, MutationResolvers, QueryResolvers } from '../src/generated/graphql.js';
import { selects } from './selection.js';

export const reconciliationQuery: QueryResolvers = {
  reconciliation: (_, a, ctx) => ctx.reconciliation.reconciliation(a.skus, a.locationIds, a.tolerance ?? 0),
  orphanCodes: (_, a, ctx, info) =>
    ctx.reconciliation.orphanCodes(a.source, a.first ?? 100, a.after ?? null, selects(info, 'orphans.onHand') || selects(info, 'orphans.locations')),
  reconciliationRuns: (_, a, ctx) => ctx.reconciliation.runs(a.first ?? 20),
};

export const anomalyMutation: MutationResolvers = {
  acknowledgeAnomaly: (_, a, ctx) => ctx.anomalyWorkflow.acknowledge(a.id, a.note, ctx.principal.name),
  resolveAnomaly: (_, a, ctx) => ctx.anomalyWorkflow.resolve(a.id, a.note, ctx.principal.name),
};

const KIND: Readonly<Record<string, 'PICKED_NOT_INVOICED' | 'IN_TRANSIT' | 'RECEIVED_NOT_PUT_AWAY' | 'COUNT_NOT_POSTED' | 'PICKED_NOT_DELIVERED'>> = {
  pickedNotInvoiced: 'PICKED_NOT_INVOICED',
  inTransit: 'IN_TRANSIT',
  receivedNotPutAway: 'RECEIVED_NOT_PUT_AWAY',
  countNotPosted: 'COUNT_NOT_POSTED',
  pickedNotDelivered: 'PICKED_NOT_DELIVERED',
};

export const Movement: MovementResolvers = {
  kind: (m) => KIND[m.kind] ?? 'OTHER',
  kindName: (m) => m.kind,
};
