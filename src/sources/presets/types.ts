/**
 * A preset: what inventory-graph knows of one real system's tables or API, so that
 * `preset: erpnext` plus a connection is a working source. A preset is a function from the
 * source as the user wrote it (after `${VAR}` interpolation, before the schema) to the source's
 * defaults: its `kind`, mappings (`stock`, `cost`, `items`, `movements`, `orders`,
 * `identifiers`), freshness settings. The user's own keys are then laid over those defaults by
 * `applyPreset` (src/sources/presets/index.ts): every preset field can be overridden.
 */
import type { z } from 'zod';

export interface Preset {
  /** What `preset:` says: `erpnext`, `odoo`, `openboxes`, `magento`, `woocommerce`, `shipbob`. */
  readonly name: string;
  /** The source kind the preset builds (`sql` or `http`). */
  readonly kind: 'sql' | 'http';
  /** One line for docs and `config check`: the system and version range the preset was built from. */
  readonly describe: string;
  /**
   * The preset's own settings, under the source's `presetOptions` key (an ERPNext company
   * abbreviation, a Magento stock id, ...), validated before `defaults` runs. Unset: none.
   */
  readonly options?: z.ZodType<Record<string, unknown>>;
  /**
   * The source's defaults, from the user's source (`connection`, `client`, `presetOptions`
   * parsed by `options`, ...). Plain YAML-shaped values: what the user could have written.
   */
  defaults(source: Readonly<Record<string, unknown>>, options: Readonly<Record<string, unknown>>): Record<string, unknown>;
}
