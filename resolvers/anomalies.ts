/** Anomalies: the filtered, paged list and one by id, each mapping its arguments to one anomaly service call. */
import type { AnomalyConnectionResolvers, AnomalyResolvers, QueryResolvers } from '../src/generated/graphql.js';

export const anomalyQuery: Pick<QueryResolvers, 'anomalies' | 'anomaly'> = {
  anomalies: (_, a, ctx) => ctx.anomalyWorkflow.list(a.filter, a.first, a.after),
  anomaly: (_, a, ctx) => ctx.anomalyWorkflow.get(a.id),
};

export const AnomalyConnection: AnomalyConnectionResolvers = {
  nodes: (page) => page.anomalies,
  edges: (page) => page.anomalies.map((node) => ({ cursor: node.id, node })),
  pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.endCursor }),
};

export const Anomaly: AnomalyResolvers = {
  location: (a, _, ctx) => ctx.anomalyWorkflow.location(a),
  locationCode: (a, _, ctx) => ctx.anomalyWorkflow.locationCode(a),
};
