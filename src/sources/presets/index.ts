/**
 * The presets by name, and how a source that names one is expanded before the config schema
 * sees it (src/config/index.ts calls `applyPresets`). A new preset is its module and one entry
 * in `PRESETS`.
 *
 * Overriding: the user's keys are laid over the preset's defaults, object by object (a scalar
 * or a list the user gives replaces the preset's). A mapping (`stock`, `cost`, `items`,
 * `orders`, each of `identifiers`) that the user gives with its own `table` or `query` replaces
 * the preset's mapping whole, since a table and a query exclude each other; `movements` given
 * by the user replace the preset's list.
 */
import { erpnext } from './erpnext.js';
import { magento } from './magento.js';
import { odoo } from './odoo.js';
import { openboxes } from './openboxes.js';
import type { Preset } from './types.js';
// API presets (kind: http)
import { shipbob } from './shipbob.js';
import { shopify } from './shopify.js';
import { woocommerce } from './woocommerce.js';

export type { Preset } from './types.js';

export const PRESETS: Readonly<Record<string, Preset>> = {
  erpnext,
  odoo,
  openboxes,
  magento,
  woocommerce,
  // API presets (kind: http)
  shipbob,
  shopify,
};

/** Keys whose value is a whole mapping: given with `table` or `query`, the user's replaces the preset's. */
const MAPPINGS = new Set(['stock', 'cost', 'items', 'orders']);

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether a mapping the user wrote says where its rows come from (so it replaces the preset's). */
const replacesMapping = (v: unknown) => isPlain(v) && (v.table !== undefined || v.query !== undefined);

/** `over` laid over `base`: objects merged key by key, anything else replaced. */
export function overlay(base: unknown, over: unknown, key?: string, parent?: string): unknown {
  if (over === undefined) return base;
  if (!isPlain(base) || !isPlain(over)) return over;
  if (key !== undefined && (MAPPINGS.has(key) || parent === 'identifiers') && replacesMapping(over)) return over;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = overlay(base[k], v, k, key);
  return out;
}

/**
 * Expands every source of a raw config that names a `preset`, in place of the source as written.
 * Problems (an unknown preset, bad `presetOptions`) are added to `problems` as `key.path: message`
 * lines, and such a source is left as written.
 */
export function applyPresets(raw: unknown, problems: string[]): unknown {
  if (!isPlain(raw) || !isPlain(raw.sources)) return raw;
  const sources: Plain = {};
  for (const [name, source] of Object.entries(raw.sources)) {
    sources[name] = isPlain(source) && source.preset !== undefined ? expand(name, source, problems) : source;
  }
  return { ...raw, sources };
}

function expand(name: string, source: Plain, problems: string[]): Plain {
  const at = `sources.${name}`;
  const presetName = source.preset;
  const preset = typeof presetName === 'string' ? PRESETS[presetName] : undefined;
  if (preset === undefined) {
    problems.push(`${at}.preset: unknown preset ${JSON.stringify(presetName)} (known: ${Object.keys(PRESETS).join(', ')})`);
    return source;
  }
  if (source.kind !== undefined && source.kind !== preset.kind) {
    problems.push(`${at}.kind: preset "${preset.name}" builds a \`${preset.kind}\` source, not \`${String(source.kind)}\``);
    return source;
  }
  let options: Plain = {};
  if (preset.options !== undefined) {
    const parsed = preset.options.safeParse(source.presetOptions ?? {});
    if (!parsed.success) {
      for (const i of parsed.error.issues) problems.push(`${at}.presetOptions${i.path.map((p) => `.${String(p)}`).join('')}: ${i.message}`);
      return source;
    }
    options = parsed.data;
  } else if (source.presetOptions !== undefined) {
    problems.push(`${at}.presetOptions: preset "${preset.name}" takes no options`);
    return source;
  }
  const defaults = { kind: preset.kind, ...preset.defaults(source, options) };
  return overlay(defaults, source) as Plain;
}
