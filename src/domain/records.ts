/**
 * What sources say, in the sources' own vocabulary: SKU codes and location codes as each
 * system spells them. Connectors produce these; the SKU map and the location table turn them
 * into canonical terms before precedence is applied.
 */

/** One source's stock for one of its SKU codes at one of its location codes, bins already summed. */
export interface StockRecord {
  code: string;
  location: string;
  onHand: number;
  committed: number;
  /** When the figure was true: the source's own timestamp, or the moment it was read. */
  asOf: Date;
}

/** A unit cost as the source stores it: `amount` is a decimal string, never a float. */
export interface CostRecord {
  code: string;
  amount: string;
  currency: string;
}

export interface ItemRecord {
  code: string;
  name: string;
}

export type Entity = 'stock' | 'cost' | 'items';

export interface RecordOf {
  stock: StockRecord;
  cost: CostRecord;
  items: ItemRecord;
}
