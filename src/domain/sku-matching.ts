/**
 * SKU matching by shared identifiers (`skuMap.match`, docs/sku-matching.md): the pure rules.
 * How an identifier value is compared (trimmed; GTIN/UPC/EAN digits left-padded to 14), the code
 * order every side of a match is walked in (Unicode code points: the byte order of UTF-8, as the
 * databases sort with a binary collation), what one system code's identifiers decide
 * (`decideMatch`: the first rule that matches wins, two SKUs in one rule are a conflict), and how
 * the matched aliases of a range of codes are reconciled with what the map holds (`planAliases`:
 * a hand-written alias always wins). The service (src/service/sku-matching.ts) does the I/O.
 */
import type { NewAnomaly } from './anomalies.js';

/** How a rule compares values: `auto` reads 8, 12, 13 or 14 digits as a GTIN; `text` compares trimmed text only. */
export type CompareMode = 'auto' | 'text';

/** Where an alias of the map came from: written by hand (CSV import) or derived by matching. */
export type AliasOrigin = 'import' | 'match';

/** The rule name that matches systems on their own item codes rather than on a mapped identifier. */
export const CODE_IDENTIFIER = 'code';

/**
 * The value as it is compared, or null when it says nothing (empty after trimming). GTIN-8, UPC-A
 * (12), EAN-13 and GTIN-14 are one number space: left-padded with zeros to 14 digits, a 12-digit
 * UPC equals its 13-digit EAN and its 14-digit GTIN. The check digit is not verified (a wrong one
 * simply matches nothing, or the same wrong one).
 */
export function normaliseIdentifier(raw: unknown, mode: CompareMode): string | null {
  if (raw === null || raw === undefined) return null;
  const text = (typeof raw === 'string' ? raw : String(raw)).trim();
  if (text === '') return null;
  if (mode === 'auto' && /^\d+$/.test(text) && GTIN_LENGTHS.has(text.length)) return text.padStart(14, '0');
  return text;
}

const GTIN_LENGTHS = new Set([8, 12, 13, 14]);

/**
 * Orders codes by Unicode code point, which is the byte order of their UTF-8 (what MySQL's
 * `binary` and SQLite's default collation sort by). JavaScript's own `<` compares UTF-16 units,
 * which puts characters past U+FFFF before U+E000..U+FFFF.
 */
export function compareCodes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // a surrogate (a code point past U+FFFF) sorts after every unit below it, and after U+E000..U+FFFF
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** A catalogue value found on two catalogue items: it matches nothing until one of them drops it. */
export const AMBIGUOUS = Symbol('ambiguous');

/** A catalogue value's index entry: the catalogue code that has it, or AMBIGUOUS. */
export type IndexEntry = string | typeof AMBIGUOUS;

/** A value two catalogue items share, as first seen. */
export interface CatalogueConflict {
  identifier: string;
  value: string;
  codes: [string, string];
}

/**
 * Adds one catalogue (code, value) to a rule's index. A value already held by another code whose
 * SKU is different (`sameSku` says whether two codes mean one SKU) becomes AMBIGUOUS, and the
 * conflict is returned the first time only.
 */
export function addToIndex(
  index: Map<string, IndexEntry>,
  identifier: string,
  value: string,
  code: string,
  sameSku: (a: string, b: string) => boolean,
): CatalogueConflict | null {
  const held = index.get(value);
  if (held === undefined) {
    index.set(value, code);
    return null;
  }
  if (held === AMBIGUOUS || held === code || sameSku(held, code)) return null;
  index.set(value, AMBIGUOUS);
  return { identifier, value, codes: [held, code] };
}

/** One rule as it applies to a system code: its name, and the code's values under it (normalised). */
export interface RuleValues {
  identifier: string;
  values: readonly string[];
}

/** Why a code matched what it matched: the rule, the value, the catalogue code that has it. */
export interface Evidence {
  identifier: string;
  value: string;
  catalogueCode: string;
  sku: string;
}

export type MatchOutcome =
  /** Every value of the first rule that found anything points at this one SKU. */
  | { kind: 'matched'; sku: string; evidence: Evidence }
  /** One rule's values point at two SKUs, or only at values two catalogue items share. */
  | { kind: 'conflict'; identifier: string; evidence: Evidence[]; ambiguous: string[] }
  /** The code has values under its rules and none is in the catalogue. */
  | { kind: 'unmatched'; values: RuleValues[] }
  /** The code has no value under any rule: matching says nothing about it. */
  | { kind: 'none' };

/**
 * What one system code's identifiers decide, rules in config order: the first rule under which
 * some value is found in the catalogue decides; if that rule's values lead to two SKUs, the code is
 * a conflict (no alias: a person decides, by a hand-written alias). Later rules are asked only
 * when earlier ones found nothing. A value two catalogue items share matches nothing; a code whose
 * only finds are such values is a conflict too (it could be either). `lookup(rule, value)` reads the
 * rule's catalogue index; `skuOf(code)` a catalogue code's SKU (undefined: the code has none).
 */
export function decideMatch(
  rules: readonly RuleValues[],
  lookup: (ruleIndex: number, value: string) => IndexEntry | undefined,
  skuOf: (catalogueCode: string) => string | undefined,
): MatchOutcome {
  let any = false;
  const ambiguous: { identifier: string; value: string }[] = [];
  for (const [i, rule] of rules.entries()) {
    const found: Evidence[] = [];
    for (const value of rule.values) {
      any = true;
      const hit = lookup(i, value);
      if (hit === AMBIGUOUS) ambiguous.push({ identifier: rule.identifier, value });
      if (hit === undefined || hit === AMBIGUOUS) continue;
      const sku = skuOf(hit);
      if (sku !== undefined) found.push({ identifier: rule.identifier, value, catalogueCode: hit, sku });
    }
    if (found.length === 0) continue;
    const skus = new Set(found.map((f) => f.sku));
    if (skus.size === 1) return { kind: 'matched', sku: found[0]!.sku, evidence: found[0]! };
    return { kind: 'conflict', identifier: rule.identifier, evidence: firstPerSku(found), ambiguous: [] };
  }
  if (ambiguous.length > 0) return { kind: 'conflict', identifier: ambiguous[0]!.identifier, evidence: [], ambiguous: ambiguous.map((a) => a.value) };
  return any ? { kind: 'unmatched', values: rules.filter((r) => r.values.length > 0) } : { kind: 'none' };
}

function firstPerSku(found: readonly Evidence[]): Evidence[] {
  const seen = new Map<string, Evidence>();
  for (const f of found) if (!seen.has(f.sku)) seen.set(f.sku, f);
  return [...seen.values()];
}

/** An alias of one system as the map holds it. */
export interface ExistingAlias {
  code: string;
  sku: string;
  origin: AliasOrigin;
}

export interface AliasPlan {
  /** Matched aliases to write (new, or a matched alias whose SKU changed). */
  upserts: { code: string; sku: string }[];
  /** Matched aliases to remove: their match is gone (or changed, and written again by `upserts`). */
  deletes: string[];
  /** Of `upserts`, those replacing a matched alias with another SKU (also in `deletes`). */
  changed: number;
  /** Matches the map already holds. */
  unchanged: number;
  /** Codes matching would have given a SKU, left to their hand-written alias. */
  handWritten: number;
}

/**
 * Reconciles the matched aliases of one system over a range of codes: `existing` is every alias
 * the map holds for codes in the range, `desired` every match found for codes in the range. A
 * hand-written alias (origin `import`) is never touched; a matched one is kept, changed, or
 * removed when its match is gone. Running the plan twice writes nothing the second time.
 */
export function planAliases(existing: readonly ExistingAlias[], desired: ReadonlyMap<string, string>): AliasPlan {
  const plan: AliasPlan = { upserts: [], deletes: [], changed: 0, unchanged: 0, handWritten: 0 };
  const held = new Map(existing.map((a) => [a.code, a]));
  for (const [code, sku] of desired) {
    const a = held.get(code);
    if (a === undefined) plan.upserts.push({ code, sku });
    else if (a.origin !== 'match') plan.handWritten++;
    else if (a.sku === sku) plan.unchanged++;
    else {
      plan.deletes.push(code);
      plan.upserts.push({ code, sku });
      plan.changed++;
    }
  }
  for (const a of existing) if (a.origin === 'match' && !desired.has(a.code)) plan.deletes.push(a.code);
  return plan;
}

/** Anomaly kinds matching records (docs/sku-matching.md). */
export const SKU_MATCH_CONFLICT = 'SKU_MATCH_CONFLICT';
export const UNMATCHED_CODE = 'UNMATCHED_CODE';

const quote = (s: string) => JSON.stringify(s);

/** Two catalogue items share one identifier value: it matches nothing. */
export function catalogueConflictAnomaly(catalogue: string, c: CatalogueConflict): NewAnomaly {
  return {
    kind: SKU_MATCH_CONFLICT,
    sku: null,
    location: null,
    source: catalogue,
    code: c.value,
    detail: `${catalogue} items ${quote(c.codes[0])} and ${quote(c.codes[1])} share ${c.identifier} ${quote(c.value)}: it matches no other system's code until one of them drops it`,
  };
}

/** A system code whose identifiers lead to two SKUs (or only to shared values): no alias is derived. */
export function codeConflictAnomaly(system: string, code: string, o: Extract<MatchOutcome, { kind: 'conflict' }>): NewAnomaly {
  const why =
    o.evidence.length > 0
      ? o.evidence.map((e) => `${o.identifier} ${quote(e.value)} is ${e.sku} (catalogue code ${quote(e.catalogueCode)})`).join(', ')
      : `its ${o.identifier} ${o.ambiguous.map(quote).join(', ')} ${o.ambiguous.length === 1 ? 'is' : 'are'} shared by two catalogue items`;
  return {
    kind: SKU_MATCH_CONFLICT,
    sku: null,
    location: null,
    source: system,
    code,
    detail: `${system} code ${quote(code)} matches more than one SKU: ${why}; no alias derived (write one by hand to decide)`,
  };
}

/** A system code with identifiers, none of which the catalogue has. */
export function unmatchedAnomaly(system: string, code: string, values: readonly RuleValues[]): NewAnomaly {
  const said = values.map((r) => `${r.identifier} ${r.values.slice(0, 5).map(quote).join(', ')}${r.values.length > 5 ? ', ...' : ''}`).join('; ');
  return {
    kind: UNMATCHED_CODE,
    sku: null,
    location: null,
    source: system,
    code,
    detail: `${system} code ${quote(code)} matches no catalogue item (${said})`,
  };
}
