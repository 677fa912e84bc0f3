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

/** A page of `inventoryItems`: the catalogue's, or a filtered scan's. */
export interface ItemPage extends SkuPage {
  /** Where the next page starts (`after`); null when the page is empty and nothing was read. */
  endCursor: string | null;
  /** SKUs matching over every page when known (see `InventoryItemConnection.totalCount`), else null. */
  totalCount: number | null;
  /** SKUs whose availability was read for this page: 0 without a filter. */
  scanned: number;
}
