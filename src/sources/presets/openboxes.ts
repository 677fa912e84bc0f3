/**
 * OpenBoxes (0.8 and later, on MariaDB/MySQL): stock from `product_availability`, the table
 * OpenBoxes refreshes from its transactions, one row per facility × product × lot × bin,
 * summed per facility (`location.name`, or its `location_number`); committed is what picklists
 * have allocated plus what sits in hold bins; names, product codes and UPCs from `product`;
 * cost from `product.price_per_unit`; picklists of stock movements not yet shipped as movements;
 * requisitions (stock movements) as the orders reservations are handed over to.
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
  describe: 'OpenBoxes 0.8+ (MariaDB/MySQL): product_availability, location, product, picklist_item, requisition',
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
      // the currency as a column of the query (validated above: three capitals)
      cost: {
        query: `select p.product_code as sku, p.price_per_unit as unitCost, '${o.currency}' as currency from product p where p.price_per_unit is not null`,
      },
      identifiers: {
        // `barcode` as in every preset, so one skuMap.match rule covers them all (UPC, EAN and GTIN compare as one number)
        barcode: { query: "select p.product_code as sku, p.upc as value from product p where p.upc is not null and p.upc <> ''" },
        ndc: { query: "select p.product_code as sku, p.ndc as value from product p where p.ndc is not null and p.ndc <> ''" },
      },
      // picked for an outbound stock movement not yet shipped: OpenBoxes takes it off hand only when the shipment is issued
      movements: [
        {
          kind: 'pickedNotDelivered',
          query:
            oneLine(`select p.product_code as sku, ${location} as location, pi.quantity_picked as quantity, pi.last_updated as asOf, r.request_number as reference
            from picklist_item pi
            join picklist pk on pk.id = pi.picklist_id
            join requisition r on r.id = pk.requisition_id and r.status in ('PICKING', 'PICKED', 'CHECKING')
            join inventory_item ii on ii.id = pi.inventory_item_id
            join product p on p.id = ii.product_id
            join location l on l.id = r.origin_id`),
        },
      ],
      // a stock movement (requisition) not cancelled: its picklist's allocation is in quantity_allocated, then its shipment in on hand
      orders: { query: "select r.request_number as reference from requisition r where r.status <> 'CANCELED'" },
    };
  },
};
