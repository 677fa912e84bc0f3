/** Field resolvers, only where a domain object and its GraphQL type differ. */
import { syncOf } from '../src/feeds/status.js';
import type {
  AvailabilityResolvers,
  InventoryItemConnectionResolvers,
  InventoryItemResolvers,
  LocationResolvers,
  SourceKind,
  SourceResolvers,
  StalePolicy,
  StockLevelResolvers,
} from '../src/generated/graphql.js';
import type { StalePolicy as DomainStalePolicy } from '../src/domain/availability.js';
import { selects } from './selection.js';

export const InventoryItem: InventoryItemResolvers = {
  // a router's representation (`_entities`, schema/federation.graphql): the SKU it names, or null
  __resolveReference: (representation, ctx) => ctx.inventory.reference(representation),
  name: (item, _, ctx) => ctx.inventory.name(item),
  unitCost: (item, _, ctx) => ctx.inventory.unitCost(item),
  costs: (item, _, ctx) => ctx.inventory.costs(item),
  costComparison: (item, _, ctx) => ctx.inventory.costComparison(item),
  availability: async (item, a, ctx, info) => (await ctx.inventory.availability([item.sku], { ...a, views: selects(info, 'channelViews') }))[0]!,
};

export const Availability: AvailabilityResolvers = {
  channelViews: (a) => a.channelViews ?? [],
  value: (a, _, ctx) => ctx.inventory.value(a),
};

export const StockLevel: StockLevelResolvers = {
  value: (level, _, ctx) => ctx.inventory.levelValue(level),
};

export const InventoryItemConnection: InventoryItemConnectionResolvers = {
  nodes: (page) => page.skus,
  edges: (page) => page.skus.map((node) => ({ cursor: node.sku, node })),
  pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.endCursor }),
};

export const Location: LocationResolvers = {
  codes: (l) => Object.entries(l.codes).map(([system, code]) => ({ system, code })),
};

/** The config's stale policies (`sources.X.stalePolicy`) as the API's enum. */
const STALE_POLICY: Record<DomainStalePolicy, StalePolicy> = { count: 'COUNT', exclude: 'EXCLUDE', onHandOnly: 'ON_HAND_ONLY' };

export const Source: SourceResolvers = {
  // the config's `kind: sql | csv | http`, upper-cased as the enum's values
  kind: (s) => s.kind.toUpperCase() as SourceKind,
  stalePolicy: (s) => STALE_POLICY[s.stalePolicy as DomainStalePolicy],
  sync: async (s, _, ctx) => syncOf(s.name, await ctx.mirrors()),
};
