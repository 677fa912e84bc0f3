/** Field resolvers, only where a domain object and its GraphQL type differ. */
import { syncOf } from '../src/feeds/status.js';
import type { InventoryItemConnectionResolvers, InventoryItemResolvers, LocationResolvers, SourceResolvers } from '../src/generated/graphql.js';

export const InventoryItem: InventoryItemResolvers = {
  name: (item, _, ctx) => ctx.inventory.name(item),
  unitCost: (item, _, ctx) => ctx.inventory.unitCost(item),
  availability: async (item, a, ctx) => (await ctx.inventory.availability([item.sku], a))[0]!,
};

export const InventoryItemConnection: InventoryItemConnectionResolvers = {
  nodes: (page) => page.skus,
  edges: (page) => page.skus.map((node) => ({ cursor: node.sku, node })),
  pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.skus.at(-1)?.sku ?? null }),
};

export const Location: LocationResolvers = {
  codes: (l) => Object.entries(l.codes).map(([system, code]) => ({ system, code })),
};

export const Source: SourceResolvers = {
  sync: async (s, _, ctx) => syncOf(s.name, await ctx.mirrors()),
};
