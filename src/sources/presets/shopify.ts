/**
 * The Shopify preset (`preset: shopify`): the Admin GraphQL API's `inventoryItems`, filtered by
 * SKU with Shopify's search syntax (`sku:"A-1" OR sku:"B-2"`), each item's `inventoryLevels` one
 * record per location, its `quantities` named `on_hand` and `committed`:
 *
 *   inventoryItems(first: 100, after: $cursor, query: $query) {
 *     edges { node { sku inventoryLevels(first: 50) { edges { node {
 *       location { id name } updatedAt quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } } }
 *     pageInfo { hasNextPage endCursor } }
 *
 * Locations are Shopify location GIDs (`gid://shopify/Location/1`); cost is the item's `unitCost`.
 * Needs `auth: { header: X-Shopify-Access-Token, value: ${SHOPIFY_TOKEN} }` and
 * `presetOptions.shop` (the `<shop>.myshopify.com` name) or a `baseUrl`; `presetOptions.apiVersion`
 * picks the Admin API version (default 2025-10).
 */
import { z } from 'zod';
import type { Preset } from './types.js';

export const SHOPIFY_STOCK_QUERY = `query Stock($first: Int!, $cursor: String, $query: String) {
  inventoryItems(first: $first, after: $cursor, query: $query) {
    edges { node { sku inventoryLevels(first: 50) { edges { node {
      location { id name } updatedAt
      quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const SHOPIFY_COST_QUERY = `query Cost($first: Int!, $cursor: String, $query: String) {
  inventoryItems(first: $first, after: $cursor, query: $query) {
    edges { node { sku unitCost { amount currencyCode } variant { displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The same request for every entity: SKUs in the search string, 100 items a page. */
function request(path: string, graphql: string) {
  return {
    path,
    graphql,
    variables: { first: 100 },
    codes: { variable: 'query', format: 'sku:{quoted}', join: ' OR ' },
    codesPerRequest: 50,
    pagination: {
      kind: 'cursor',
      from: 'data.inventoryItems.pageInfo.endCursor',
      hasNext: 'data.inventoryItems.pageInfo.hasNextPage',
      variable: 'cursor',
      maxPages: 100,
    },
    records: 'data.inventoryItems.edges[*].node',
  };
}

export const shopify: Preset = {
  name: 'shopify',
  kind: 'http',
  describe: 'Shopify Admin GraphQL API (2025-10): inventoryItems, inventoryLevels and quantities on_hand / committed per location',
  options: z.strictObject({
    shop: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'the shop name of <shop>.myshopify.com')
      .optional(),
    apiVersion: z
      .string()
      .regex(/^\d{4}-\d{2}$|^unstable$/, 'an API version such as 2025-10')
      .default('2025-10'),
  }),
  defaults(_source, options) {
    const path = `/admin/api/${String(options.apiVersion)}/graphql.json`;
    return {
      ...(options.shop === undefined ? {} : { baseUrl: `https://${String(options.shop)}.myshopify.com` }),
      stock: {
        ...request(path, SHOPIFY_STOCK_QUERY),
        each: 'inventoryLevels.edges[*].node',
        fields: {
          sku: '^.sku',
          location: 'location.id',
          onHand: "quantities[?(@.name=='on_hand')].quantity",
          committed: "quantities[?(@.name=='committed')].quantity",
          asOf: 'updatedAt',
        },
      },
      cost: { ...request(path, SHOPIFY_COST_QUERY), fields: { sku: 'sku', unitCost: 'unitCost.amount', currency: 'unitCost.currencyCode' } },
      items: { ...request(path, SHOPIFY_COST_QUERY), fields: { sku: 'sku', name: 'variant.displayName' } },
    };
  },
};
