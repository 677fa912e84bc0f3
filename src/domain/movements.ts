/**
 * Movement kinds: what a movement a source reports means when systems are compared
 * (src/domain/reconciliation.ts). Four are built in; the config's top-level `movementKinds`
 * overrides them and declares more:
 *
 *   movementKinds:
 *     pickedNotInvoiced: { explains: [erp] }        # the shop copies the WMS: picks do not explain it
 *     pick: { effect: lower, explains: [erp] }
 *
 * - `effect`: what the movement does to the figure of the system that reports it, against a
 *   system it explains. `lower`: that system has already taken the units out (picked, shipped
 *   into transit) or not yet put them in (received, not put away), so its on-hand is lower by
 *   the quantity. `higher`: it has already applied what the other has not (a cycle count posted
 *   there and not yet in the ERP: quantity counted minus book, so higher by it, or lower when
 *   negative).
 * - `explains`: the systems (source names) whose difference with the reporting system the
 *   movement explains; unset, every other system. A web platform that copies the WMS does not
 *   lag by picks the way an ERP does: picks the WMS records explain the ERP's higher figure, not
 *   the shop's.
 *
 * Use `new MovementKinds(config.movementKinds)`; `contribution` gives the units a movement
 * accounts for between its system and another. Pure.
 */

export type MovementEffect = 'lower' | 'higher';

export interface MovementKindRule {
  effect: MovementEffect;
  /** Source names; null: every other system. */
  explains: readonly string[] | null;
}

/** The kinds every config has (each may be overridden). */
export const BUILT_IN_MOVEMENT_KINDS: Readonly<Record<string, MovementKindRule>> = {
  /** The WMS has deducted it at pick; the ERP deducts at invoice. */
  pickedNotInvoiced: { effect: 'lower', explains: null },
  /** Shipped from this location, not yet received at the next. */
  inTransit: { effect: 'lower', explains: null },
  /** Received, not yet put away (not yet in bin stock). */
  receivedNotPutAway: { effect: 'lower', explains: null },
  /** Counted (and adjusted) in the system that reports it, not yet posted to the others: counted minus book. */
  countNotPosted: { effect: 'higher', explains: null },
  /**
   * Picked in the warehouse, not yet deducted by the system that reports it (an ERP's open pick
   * list, before its delivery note): that system's figure is higher by it than a WMS that deducts at pick.
   */
  pickedNotDelivered: { effect: 'higher', explains: null },
};

/** What a config declares for one kind; a built-in kind keeps what is not given, a new one is `lower` by default. */
export interface DeclaredMovementKind {
  effect?: MovementEffect | undefined;
  explains?: readonly string[] | undefined;
}

/** The first references of a movement shown per line (with how many there are in all). */
export const MAX_REFERENCES = 10;

export class MovementKinds {
  private readonly rules = new Map<string, MovementKindRule>();

  constructor(declared: Readonly<Record<string, DeclaredMovementKind>> = {}) {
    for (const [k, r] of Object.entries(BUILT_IN_MOVEMENT_KINDS)) this.rules.set(k, r);
    for (const [k, d] of Object.entries(declared)) {
      const base = this.rules.get(k);
      this.rules.set(k, { effect: d.effect ?? base?.effect ?? 'lower', explains: d.explains ?? base?.explains ?? null });
    }
  }

  /** Every kind's name: the built-in ones first, then the declared ones. */
  get names(): string[] {
    return [...this.rules.keys()];
  }

  get(kind: string): MovementKindRule | undefined {
    return this.rules.get(kind);
  }

  /**
   * The units a movement of `kind` reported by one system accounts for in `other`'s figure minus
   * that system's: its quantity (`lower`), minus it (`higher`), or 0 when the kind does not
   * explain `other` (or is unknown).
   */
  contribution(kind: string, quantity: number, other: string): number {
    const r = this.rules.get(kind);
    if (r === undefined || (r.explains !== null && !r.explains.includes(other))) return 0;
    return r.effect === 'lower' ? quantity : -quantity;
  }
}
