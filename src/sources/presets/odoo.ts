/**
 * Odoo (v14 to v17, on PostgreSQL: `client: pg`): stock from `stock_quant` (product × location ×
 * lot × package) at internal locations, summed per warehouse (`stock_warehouse.code`, "WH") or
 * per location (`stock_location.complete_name`, "WH/Stock"); the product's Internal Reference
 * (`default_code`) is the code; names from `product_template.name`, a jsonb of translations since
 * Odoo 16 and a varchar before (both read); barcodes and vendor product codes as identifiers;
 * confirmed sale orders as the orders reservations are handed over to. Odoo keeps the cost as a
 * company-dependent float property, so the preset maps no cost (docs/presets.md).
 */
import { z } from 'zod';
import { oneLine } from './sql-text.js';
import type { Preset } from './types.js';

const options = z.strictObject({
  locationCodes: z
    .enum(['warehouse', 'location'])
    .default('warehouse')
    .describe(
      '`warehouse`: quants summed per warehouse, known by its short code ("WH"); `location`: per internal location, by its full name ("WH/Stock/Shelf 1").',
    ),
  lang: z
    .string()
    .regex(/^[a-z]{2,3}(_[A-Z]{2})?(@[a-z]+)?$/, 'must be an Odoo language code such as en_US')
    .default('en_US')
    .describe('The translation of product names to read (Odoo 16+); the en_US text when it has none.'),
});

/** A product name as text, whether `product_template.name` is jsonb (Odoo 16+) or varchar (before). */
export function nameText(column: string, lang: string): string {
  const j = `to_jsonb(${column})`;
  return `case when jsonb_typeof(${j}) = 'object' then coalesce(${j} ->> '${lang}', ${j} ->> 'en_US') else ${j} #>> '{}' end`;
}

export const odoo: Preset = {
  name: 'odoo',
  kind: 'sql',
  describe: 'Odoo 14–17 (PostgreSQL): stock_quant, stock_location, stock_warehouse, product_product, product_template, product_supplierinfo, sale_order',
  options: options as unknown as z.ZodType<Record<string, unknown>>,
  defaults(_source, raw) {
    const o = raw as z.output<typeof options>;
    const location = o.locationCodes === 'warehouse' ? 'wh.code' : 'l.complete_name';
    const warehouseJoin = o.locationCodes === 'warehouse' ? 'join stock_warehouse wh on wh.id = l.warehouse_id' : '';
    return {
      kind: 'sql',
      client: 'pg',
      stock: {
        // only internal locations hold stock of the company's own; customers, vendors, transit and virtual ones do not
        query: oneLine(`select pp.default_code as sku, ${location} as location, q.quantity as "onHand",
            q.reserved_quantity as committed, q.write_date as "asOf"
          from stock_quant q
          join stock_location l on l.id = q.location_id and l.usage = 'internal'
          ${warehouseJoin}
          join product_product pp on pp.id = q.product_id
          where pp.default_code is not null`),
      },
      items: {
        query: oneLine(`select pp.default_code as sku, ${nameText('pt.name', o.lang)} as name
          from product_product pp join product_template pt on pt.id = pp.product_tmpl_id
          where pp.default_code is not null`),
      },
      identifiers: {
        barcode: {
          query:
            "select pp.default_code as sku, pp.barcode as value from product_product pp where pp.default_code is not null and pp.barcode is not null and pp.barcode <> ''",
        },
        supplierPart: {
          // a vendor line of a variant, or of a template (then every variant of it)
          query: oneLine(`select pp.default_code as sku, si.product_code as value
            from product_supplierinfo si
            join product_product pp on pp.id = si.product_id or (si.product_id is null and pp.product_tmpl_id = si.product_tmpl_id)
            where pp.default_code is not null and si.product_code is not null and si.product_code <> ''`),
        },
      },
      // a confirmed sale order reserves its goods on its delivery (stock_quant.reserved_quantity)
      orders: { table: 'sale_order', columns: { reference: 'name' }, where: { state: ['sale', 'done'] } },
    };
  },
};
