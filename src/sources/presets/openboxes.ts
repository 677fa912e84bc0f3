/**
 * OpenBoxes (0.8 and later, on MariaDB/MySQL): stock from `product_availability`, the table
 * OpenBoxes refreshes from its transactions, one row per facility × product × lot × bin,
 * summed per facility (`location.name`, or its `location_number`); committed is what picklists
 * have allocated plus what sits in hold bins; names, product codes and UPCs from `product`;
 * cost from `product.price_per_unit`; requisitions as the orders reservations are handed over to.
 */
import { z } from 'zod';
import { oneLine } from './sql-text.js';
import type { Preset } from './types.js';

const options = z.strictObject({
  locationCodes: z
    .enum(['name', 'number'])
    .default('name')
    .describe('`name`: a facility is known by its name ("Main Warehouse"); `number`: by its location number.'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
    .default('USD')
    .describe('The currency of `price_per_unit` (OpenBoxes’s `openboxes.locale.defaultCurrencyCode`).'),
});

export const openboxes: Preset = {
  name: 'openboxes',
  kind: 'sql',
  describe: 'OpenBoxes 0.8+ (MariaDB/MySQL): product_availability, location, product, requisition',
  options: options as unknown as z.ZodType<Record<string, unknown>>,
  defaults(_source, raw) {
    const o = raw as z.output<typeof options>;
    const location = o.locationCodes === 'name' ? 'l.name' : 'l.location_number';
    return {
      kind: 'sql',
      stock: {
        // allocated: picked or to be picked on picklists; on hold: in bins marked hold (quarantine)
        query: oneLine(`select pa.product_code as sku, ${location} as location, pa.quantity_on_hand as onHand,
            pa.quantity_allocated + pa.quantity_on_hold as committed, pa.last_updated as asOf
          from product_availability pa join location l on l.id = pa.location_id`),
      },
      items: { table: 'product', columns: { sku: 'product_code', name: 'name' } },
      cost: {
        query: 'select p.product_code as sku, p.price_per_unit as unitCost from product p where p.price_per_unit is not null',
        currency: o.currency,
      },
      identifiers: {
        upc: { query: "select p.product_code as sku, p.upc as value from product p where p.upc is not null and p.upc <> ''" },
        ndc: { query: "select p.product_code as sku, p.ndc as value from product p where p.ndc is not null and p.ndc <> ''" },
      },
      // a requisition (stock movement) that is picked or later: its picklist's allocation is in quantity_allocated
      orders: { table: 'requisition', columns: { reference: 'request_number' } },
    };
  },
};
