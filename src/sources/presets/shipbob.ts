/**
 * The ShipBob preset (`preset: shipbob`): ShipBob's inventory API, `GET /2.0/inventory-level/locations`,
 * which lists every inventory item with its quantities per fulfillment center:
 *
 *   { "items": [ { "inventory_id": 1, "sku": "A-1", "name": "...",
 *                  "locations": [ { "location_id": 10, "name": "Cicero (IL)", "on_hand_quantity": 9,
 *                                   "committed_quantity": 2, "fulfillable_quantity": 7, ... } ] } ],
 *     "first": "...", "prev": null, "next": "/2.0/inventory-level/locations?Cursor=...", "last": "..." }
 *
 * Pages follow the answer's `next` link until it is empty. The API cannot filter by exact SKU (its
 * `SearchBy` is a partial match), so a read lists the account and keeps the codes asked; a large
 * account is better mirrored (`sync.mode: mirror`). Locations are ShipBob's `location_id`s;
 * `committed` is `committed_quantity`, so onHand − committed is ShipBob's fulfillable quantity.
 * Needs `auth: { bearer: ${SHIPBOB_TOKEN} }` (a personal access token); `presetOptions.channelId`
 * adds the `shipbob_channel_id` header, `presetOptions.sandbox: true` the sandbox API.
 */
import { z } from 'zod';
import type { Preset } from './types.js';

const LISTING = {
  path: '/2.0/inventory-level/locations',
  params: { PageSize: 250 },
  pagination: { kind: 'next', from: 'next', maxPages: 400 },
  records: 'items[*]',
};

export const shipbob: Preset = {
  name: 'shipbob',
  kind: 'http',
  describe: 'ShipBob inventory API 2.0 (GET /2.0/inventory-level/locations), quantities per fulfillment center',
  options: z.strictObject({
    channelId: z.union([z.string().min(1), z.number()]).optional(),
    sandbox: z.boolean().default(false),
  }),
  defaults(_source, options) {
    return {
      baseUrl: options.sandbox === true ? 'https://sandbox-api.shipbob.com' : 'https://api.shipbob.com',
      ...(options.channelId === undefined ? {} : { headers: { shipbob_channel_id: String(options.channelId as string | number) } }),
      stock: {
        ...LISTING,
        each: 'locations[*]',
        fields: { sku: '^.sku', location: 'location_id', onHand: 'on_hand_quantity', committed: 'committed_quantity' },
      },
      items: { ...LISTING, fields: { sku: 'sku', name: 'name' } },
    };
  },
};
