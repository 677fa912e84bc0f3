/**
 * ERPNext (Frappe, v13 to v15, on MariaDB): stock from `tabBin` (one row per item × warehouse,
 * kept by ERPNext from the stock ledger) or, with `stockFrom: ledger`, summed from
 * `tabStock Ledger Entry` without cancelled entries; names from `tabItem`; cost from one price
 * list's `tabItem Price`; barcodes and supplier part numbers as identifiers; picked-not-delivered
 * pick lists as movements; submitted Sales Orders as the orders reservations are handed over to.
 * Quantities are `decimal(21,9)`: 12.000000000 reads as 12, a fraction is refused as elsewhere.
 * docs/presets.md says what each figure means.
 */
import { z } from 'zod';
import { mysqlString, oneLine } from './sql-text.js';
import type { Preset } from './types.js';

const options = z.strictObject({
  company: z.string().min(1).optional().describe('Read only the warehouses of this company (`tabWarehouse.company`). Unset: every company.'),
  locationCodes: z
    .enum(['name', 'warehouseName'])
    .default('name')
    .describe(
      '`name`: a warehouse is known by its full name, "Stores - AC"; `warehouseName`: by its name without the company abbreviation, "Stores" (set `company` then, so two companies’ "Stores" are not summed).',
    ),
  priceList: z.string().min(1).default('Standard Buying').describe('The price list whose `tabItem Price` rates are the unit cost.'),
  stockFrom: z
    .enum(['bin', 'ledger'])
    .default('bin')
    .describe('`bin`: `tabBin` (actual and reserved quantities); `ledger`: on hand summed from the stock ledger (no committed figure).'),
});

export const erpnext: Preset = {
  name: 'erpnext',
  kind: 'sql',
  describe: 'ERPNext v13–v15 (MariaDB): tabBin, tabItem, tabItem Price, tabItem Barcode, tabItem Supplier, tabPick List, tabSales Order',
  options: options as unknown as z.ZodType<Record<string, unknown>>,
  defaults(_source, raw) {
    const o = raw as z.output<typeof options>;
    const location = o.locationCodes === 'name' ? 'w.name' : 'w.warehouse_name';
    const company = o.company === undefined ? '' : ` and w.company = ${mysqlString(o.company)}`;
    // a disabled item cannot be sold or moved in ERPNext: its stock is not read; group warehouses hold nothing
    const warehouse = `join \`tabWarehouse\` w on w.name = b.warehouse and w.is_group = 0${company}
      join \`tabItem\` i on i.name = b.item_code and i.disabled = 0`;
    const stock =
      o.stockFrom === 'bin'
        ? `select b.item_code as sku, ${location} as location, b.actual_qty as onHand,
             b.reserved_qty + b.reserved_qty_for_production + b.reserved_qty_for_sub_contract as committed, b.modified as asOf
           from \`tabBin\` b ${warehouse}`
        : `select b.item_code as sku, ${location} as location, b.actual_qty as onHand, 0 as committed, b.posting_date as asOf
           from \`tabStock Ledger Entry\` b ${warehouse}
           where b.is_cancelled = 0`;
    return {
      kind: 'sql',
      stock: { query: oneLine(stock) },
      items: { table: 'tabItem', columns: { sku: 'name', name: 'item_name' } },
      cost: {
        query: oneLine(`select p.item_code as sku, p.price_list_rate as unitCost, p.currency as currency
          from \`tabItem Price\` p
          where p.price_list = ${mysqlString(o.priceList)} and coalesce(p.customer, '') = '' and coalesce(p.supplier, '') = ''
            and coalesce(p.batch_no, '') = ''
            and (p.valid_from is null or p.valid_from <= utc_date()) and (p.valid_upto is null or p.valid_upto >= utc_date())`),
      },
      identifiers: {
        barcode: { table: 'tabItem Barcode', columns: { sku: 'parent', value: 'barcode' }, where: { parenttype: 'Item' } },
        supplierPart: {
          query: oneLine(`select s.parent as sku, s.supplier_part_no as value from \`tabItem Supplier\` s
            where s.parenttype = 'Item' and s.supplier_part_no is not null and s.supplier_part_no <> ''`),
        },
      },
      // picked on a submitted pick list whose delivery note is not made yet: the warehouse has
      // taken it off the shelf, ERPNext's actual_qty still counts it until the delivery note
      movements: [
        {
          kind: 'pickedNotDelivered',
          query: oneLine(`select pi.item_code as sku, ${location} as location, pi.picked_qty as quantity, pl.modified as asOf, pl.name as reference
            from \`tabPick List Item\` pi
            join \`tabPick List\` pl on pl.name = pi.parent and pl.docstatus = 1 and pl.status = 'Open'
            join \`tabWarehouse\` w on w.name = pi.warehouse${company}`),
        },
      ],
      // a submitted Sales Order is in tabBin.reserved_qty: a hold confirmed under its name is handed over
      orders: { table: 'tabSales Order', columns: { reference: 'name' }, where: { docstatus: 1 } },
    };
  },
};
