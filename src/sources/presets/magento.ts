/**
 * Magento 2.3+ with Multi-Source Inventory (Magento Open Source / Adobe Commerce, MariaDB/MySQL):
 * stock per source (`inventory_source_item`: source_code × sku, quantity, status) of enabled
 * sources; committed from the stock's reservations (`inventory_reservation`, negative while an
 * order is not shipped, compensated to 0 by shipment or cancellation), counted at the stock's
 * first source by priority (`inventory_source_stock_link`); names and cost from the product EAV
 * tables (`catalog_product_entity` + `_varchar` `name`, `_decimal` `cost`, store 0) in the base
 * currency; sales orders' increment ids as the orders reservations are handed over to.
 */
import { z } from 'zod';
import { mysqlName, oneLine } from './sql-text.js';
import type { Preset } from './types.js';

const options = z.strictObject({
  tablePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_]*$/, 'must be letters, digits and _')
    .default('')
    .describe('The table prefix chosen at install (`db-prefix` in app/etc/env.php). Default none.'),
  entityColumn: z
    .enum(['entity_id', 'row_id'])
    .default('entity_id')
    .describe('How EAV value rows point at a product: `entity_id` (Magento Open Source) or `row_id` (Adobe Commerce, content staging).'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
    .default('USD')
    .describe('The cost currency when `core_config_data` sets no base currency (`currency/options/base`).'),
});

export const magento: Preset = {
  name: 'magento',
  kind: 'sql',
  describe: 'Magento 2.3+ MSI (MariaDB/MySQL): inventory_source_item, inventory_reservation, inventory_source_stock_link, catalog_product_entity (EAV)',
  options: options as unknown as z.ZodType<Record<string, unknown>>,
  defaults(_source, raw) {
    const o = raw as z.output<typeof options>;
    const t = (name: string) => mysqlName(`${o.tablePrefix}${name}`);
    const eav = (type: 'varchar' | 'decimal', code: string, alias: string) =>
      `join ${t(`catalog_product_entity_${type}`)} ${alias} on ${alias}.${o.entityColumn} = e.${o.entityColumn} and ${alias}.store_id = 0
        and ${alias}.attribute_id = (select a.attribute_id from ${t('eav_attribute')} a join ${t('eav_entity_type')} et on et.entity_type_id = a.entity_type_id
          where et.entity_type_code = 'catalog_product' and a.attribute_code = '${code}')`;
    return {
      kind: 'sql',
      stock: {
        // a stock's reservations (negative: ordered, not shipped) land at its first source by priority;
        // a source item keeps no time of change: asOf is the time of the read
        query: oneLine(`select si.sku as sku, si.source_code as location, si.quantity as onHand,
            greatest(0, -coalesce((select sum(r.quantity) from ${t('inventory_reservation')} r
              join ${t('inventory_source_stock_link')} sl on sl.stock_id = r.stock_id and sl.source_code = si.source_code
              where r.sku = si.sku
                and sl.priority = (select min(sl2.priority) from ${t('inventory_source_stock_link')} sl2 where sl2.stock_id = r.stock_id)), 0)) as committed,
            null as asOf
          from ${t('inventory_source_item')} si join ${t('inventory_source')} s on s.source_code = si.source_code and s.enabled = 1`),
      },
      items: { query: oneLine(`select e.sku as sku, v.value as name from ${t('catalog_product_entity')} e ${eav('varchar', 'name', 'v')}`) },
      cost: {
        query: oneLine(`select e.sku as sku, d.value as unitCost,
            coalesce((select c.value from ${t('core_config_data')} c where c.path = 'currency/options/base' and c.scope = 'default' and c.scope_id = 0), '${o.currency}') as currency
          from ${t('catalog_product_entity')} e ${eav('decimal', 'cost', 'd')}
          where d.value is not null`),
      },
      // an order placed in Magento is a reservation of its stock: a hold confirmed under its increment id is handed over
      orders: { table: `${o.tablePrefix}sales_order`, columns: { reference: 'increment_id' } },
    };
  },
};
