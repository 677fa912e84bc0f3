/** Reconciliation, orphan codes, reconcile runs and the anomaly workflow: each maps its arguments to one domain call. */
import type {
  MovementResolvers,
  MutationResolvers,
  OrphanCodeConnectionResolvers,
  QueryResolvers,
  ReconciliationLineConnectionResolvers,
  ReconciliationResolvers,
  ReconciliationRunConnectionResolvers,
  ReconciliationRunResolvers,
  ReconciliationRunStatus,
} from '../src/generated/graphql.js';
import { selects } from './selection.js';

export const reconciliationQuery: QueryResolvers = {
  reconciliation: (_, a, ctx) => ctx.reconciliation.reconciliation({ ...a, tolerance: a.tolerance ?? 0, first: a.first ?? 100 }),
  orphanCodes: (_, a, ctx, info) =>
    ctx.reconciliation.orphanCodes(
      a.source,
      a.first ?? 100,
      a.after ?? null,
      ['edges.node.onHand', 'edges.node.locations', 'nodes.onHand', 'nodes.locations'].some((p) => selects(info, p)),
      selects(info, 'totalCount'),
    ),
  reconciliationRuns: (_, a, ctx) => ctx.reconciliation.runs(a.first ?? 20, a.after ?? null),
  reconciliationRun: (_, a, ctx) => ctx.reconciliation.run(a.id),
};

export const Reconciliation: ReconciliationResolvers = {
  pageInfo: (r) => ({ hasNextPage: r.hasNextPage, endCursor: r.endCursor }),
};

export const OrphanCodeConnection: OrphanCodeConnectionResolvers = {
  nodes: (p) => p.orphans,
  edges: (p) => p.orphans.map((node) => ({ cursor: node.code, node })),
  pageInfo: (p) => ({ hasNextPage: p.hasNextPage, endCursor: p.endCursor }),
};

export const ReconciliationRun: ReconciliationRunResolvers = {
  // the store and the files keep `running`, `completed`, `failed`
  status: (r) => r.status.toUpperCase() as ReconciliationRunStatus,
  findings: (r, a, ctx) => ctx.reconciliation.findings(r, a.filter, a.first ?? 100, a.after ?? null),
};

export const ReconciliationRunConnection: ReconciliationRunConnectionResolvers = {
  nodes: (p) => p.runs,
  edges: (p) => p.runs.map((node) => ({ cursor: node.id, node })),
  pageInfo: (p) => ({ hasNextPage: p.hasNextPage, endCursor: p.endCursor }),
};

export const ReconciliationLineConnection: ReconciliationLineConnectionResolvers = {
  nodes: (p) => p.lines,
  edges: (p) => p.lines.map((node, i) => ({ cursor: p.cursors[i] as string, node })),
  pageInfo: (p) => ({ hasNextPage: p.hasNextPage, endCursor: p.endCursor }),
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
