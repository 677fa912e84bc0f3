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
  /**
   * Set by a file source that serves an older snapshot because its newest file was rejected
   * (half-written or malformed): the figure is the last good one, not the newest sent.
   */
  snapshotFallback?: boolean;
  /**
   * Set by a file source (`keepMissingDays`) when its newest file has no row for this (code,
   * location): the name of the older file the row is carried from, with that file's asOf.
   */
  carriedFrom?: string;
  /**
   * Set by a mirrored source (sync.mode: mirror): when the mirror was last known to be caught up
   * with the source. A figure whose mirror has not been caught up for longer than the source's
   * `maxLagSeconds` is STALE, whatever its asOf.
   */
  heardAt?: Date;
  /**
   * Why the source's record cannot be used (a quantity that is not a whole number, an
   * unparseable asOf, ...), in words for an operator; the figures are then meaningless. The
   * domain drops such a record for its (sku, location), falls back along the precedence list,
   * flags INVALID_SOURCE_DATA and records an anomaly (see src/domain/validation.ts).
   */
  invalid?: string;
}

/**
 * Units in flight that explain why systems disagree. A movement mapped on a source means, for
 * the built-in kinds: this source has already taken `quantity` units out of its on-hand at
 * `location` (picked but not invoiced, shipped into transit), or not yet put them in (received,
 * not put away), while a system that does not record the movement yet still counts them; or
 * (a cycle count not yet posted) it has already applied a count the others have not. What each
 * kind means, and which systems it explains, is src/domain/movements.ts. Rows for the same
 * (code, location, kind, reference) arrive summed.
 */
export interface MovementRecord {
  code: string;
  location: string;
  kind: MovementKind;
  quantity: number;
  asOf: Date;
  /** The document behind it (order, pick list, count number), when the mapping has a `reference` column. */
  reference?: string;
}

/** The built-in kinds (src/domain/movements.ts); the config's `movementKinds` declares more. */
export const MOVEMENT_KINDS = ['pickedNotInvoiced', 'inTransit', 'receivedNotPutAway', 'countNotPosted', 'pickedNotDelivered'] as const;
/** A built-in kind or one the config declares. */
export type MovementKind = string;

/** A unit cost as the source stores it: `amount` is a decimal string, never a float. */
export interface CostRecord {
  code: string;
  amount: string;
  currency: string;
  /** Why the amount cannot be used (not a decimal, ...): the cost falls back to the next source. */
  invalid?: string;
}

export interface ItemRecord {
  code: string;
  name: string;
}

export type Entity = 'stock' | 'cost' | 'items' | 'movements';

export interface RecordOf {
  stock: StockRecord;
  cost: CostRecord;
  items: ItemRecord;
  movements: MovementRecord;
}
