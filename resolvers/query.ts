/** Root fields: each maps its arguments to one InventoryService call. */
import type { QueryResolvers, Role } from '../src/generated/graphql.js';
import { selects } from './selection.js';

export const Query: QueryResolvers = {
  availability: (_, a, ctx, info) => ctx.inventory.availability(a.skus, { ...a, views: selects(info, 'channelViews') }),
  inventoryItem: (_, a, ctx) => ctx.inventory.item(a.sku),
  inventoryItems: (_, a, ctx, info) =>
    ctx.inventory.items({ first: a.first ?? 50, after: a.after ?? null, filter: a.filter ?? null, count: selects(info, 'totalCount') }),
  resolveSku: (_, a, ctx) => ctx.inventory.resolveSku(a.system, a.code),
  locations: (_, __, ctx) => ctx.inventory.locations(),
  sources: (_, __, ctx) => ctx.health.list(),
  viewer: (_, __, ctx) => ({ name: ctx.principal.name, role: ctx.principal.role.toUpperCase() as Role }),
};
