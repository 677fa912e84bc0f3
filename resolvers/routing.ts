/** Order routing: the OMS's question, answered by the request's InventoryService. */
import type { QueryResolvers } from '../src/generated/graphql.js';

export const routingQuery: Pick<QueryResolvers, 'routeOrder'> = {
  routeOrder: (_, a, ctx) => ctx.inventory.routeOrder(a.order),
};
