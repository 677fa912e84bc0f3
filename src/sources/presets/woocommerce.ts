/**
 * WooCommerce (4.3 and later, on WordPress's MariaDB/MySQL): products and variations are
 * `wp_posts` rows (`product`, `product_variation`) with their facts in `wp_postmeta`: `_sku` is
 * the code, `_stock` the quantity when `_manage_stock` is `yes` (a product that does not manage
 * stock has no figure), `_global_unique_id` the GTIN/UPC/EAN/ISBN (WooCommerce 9.2+),
 * `_cogs_total_value` the cost (WooCommerce 9.5+ cost of goods); committed is what checkouts hold
 * in `wc_reserved_stock` until it expires. A shop is one location, named by `location`.
 */
import { z } from 'zod';
import { mysqlName, mysqlString, oneLine } from './sql-text.js';
import type { Preset } from './types.js';

const options = z.strictObject({
  tablePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_]*$/, 'must be letters, digits and _')
    .default('wp_')
    .describe('WordPress’s `$table_prefix` (wp-config.php). Default wp_.'),
  location: z.string().min(1).default('shop').describe('The code of the shop’s one location, as `locations[].codes` names it. Default shop.'),
});

export const woocommerce: Preset = {
  name: 'woocommerce',
  kind: 'sql',
  describe:
    'WooCommerce 4.3+ (MariaDB/MySQL): wp_posts, wp_postmeta (_sku, _stock, _manage_stock, _global_unique_id, _cogs_total_value), wc_reserved_stock, wp_options',
  options: options as unknown as z.ZodType<Record<string, unknown>>,
  defaults(_source, raw) {
    const o = raw as z.output<typeof options>;
    const t = (name: string) => mysqlName(`${o.tablePrefix}${name}`);
    /** The products and variations (not trashed or auto-drafts) with a SKU, and one more meta of each. */
    const products = (meta: string, alias: string) =>
      `from ${t('posts')} p
        join ${t('postmeta')} sku on sku.post_id = p.ID and sku.meta_key = '_sku' and sku.meta_value <> ''
        join ${t('postmeta')} ${alias} on ${alias}.post_id = p.ID and ${alias}.meta_key = '${meta}'
        where p.post_type in ('product', 'product_variation') and p.post_status not in ('trash', 'auto-draft')`;
    return {
      kind: 'sql',
      stock: {
        query: oneLine(`select sku.meta_value as sku, ${mysqlString(o.location)} as location, stock.meta_value as onHand,
            coalesce((select sum(r.stock_quantity) from ${t('wc_reserved_stock')} r where r.product_id = p.ID and r.expires > utc_timestamp()), 0) as committed,
            p.post_modified_gmt as asOf
          ${products('_stock', 'stock')}
            and exists (select 1 from ${t('postmeta')} m where m.post_id = p.ID and m.meta_key = '_manage_stock' and m.meta_value = 'yes')`),
      },
      items: {
        query: oneLine(`select sku.meta_value as sku, p.post_title as name
          from ${t('posts')} p join ${t('postmeta')} sku on sku.post_id = p.ID and sku.meta_key = '_sku' and sku.meta_value <> ''
          where p.post_type in ('product', 'product_variation') and p.post_status not in ('trash', 'auto-draft')`),
      },
      cost: {
        query: oneLine(`select sku.meta_value as sku, cogs.meta_value as unitCost,
            (select o.option_value from ${t('options')} o where o.option_name = 'woocommerce_currency') as currency
          ${products('_cogs_total_value', 'cogs')} and cogs.meta_value <> ''`),
      },
      identifiers: {
        barcode: {
          query: oneLine(`select sku.meta_value as sku, gtin.meta_value as value ${products('_global_unique_id', 'gtin')} and gtin.meta_value <> ''`),
        },
      },
    };
  },
};
