/**
 * The canonical SKU: the one code a retailer's systems all mean, with each system's own codes
 * for it (aliases). A system may hold several codes for one canonical SKU (their stock is added
 * up); one (system, code) pair means exactly one canonical SKU. Entity types only.
 */
export interface Alias {
  system: string;
  code: string;
}

export interface CanonicalSku {
  sku: string;
  name: string | null;
  aliases: Alias[];
}

export interface SkuPage {
  skus: CanonicalSku[];
  hasNextPage: boolean;
}
