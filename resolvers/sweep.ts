/** The sweep's status (src/service/sweep.ts): one service call. */
import type { QueryResolvers } from '../src/generated/graphql.js';

export const sweepQuery: QueryResolvers = {
  sweep: (_, __, ctx) => ctx.sweep.status(),
};
